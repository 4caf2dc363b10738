# cython: language_level=3, freethreading_compatible=True
"""The compiled (Cython) codec twin.

Same names, signatures, results, exceptions and messages as the pure twin
(``_codec_py.py``); ``_codec.pyi`` is the contract both satisfy. The hot
loops are C kernels in ``_simd/`` (masking and UTF-8 validation) chosen at
import time from what the CPU supports; ``FASTWS_SIMD`` (``generic``,
``sse2``, ``avx2``, ``avx512``) forces a lower level for tests and
benchmarks, and ``_SIMD`` names the masking kernel in use.
"""

cimport cython
from cpython.buffer cimport PyBUF_FULL_RO, PyBuffer_IsContiguous, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_Check, PyLong_CheckExact
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_INCREF, Py_XDECREF
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset

import operator
import os

from .constants import Opcode
from .exceptions import InvalidFrame, InvalidUTF8, PayloadTooBig

__all__ = [
    "IMPLEMENTATION",
    "Frame",
    "FrameParser",
    "Utf8Validator",
    "apply_mask",
    "apply_mask_inplace",
    "encode_frame",
    "encode_frame_header",
    "validate_utf8",
]

cdef extern from "fastws_simd.h" nogil:
    int fws_simd_init(const char *force)
    const char *fws_simd_mask_name()
    const char *fws_simd_utf8_name()
    const char *fws_simd_best_name()
    uint32_t fws_key(const uint8_t *key, size_t rot)
    void fws_utf8_state_reset(fws_utf8_state *st)

# The kernels, each run without the GIL from FWS_NOGIL_MIN bytes on (the
# caller holds the GIL and keeps the buffers alive and unmoved), and the
# masking key rotated for a stream offset: one definition of each, which
# the fast paths of fastpath.h share.
cdef extern from "glue.h":
    void fws_mask_maybe_nogil(uint8_t *dst, const uint8_t *src, Py_ssize_t n, uint32_t key)
    void fws_copy_maybe_nogil(uint8_t *dst, const uint8_t *src, Py_ssize_t n)
    int fws_utf8_valid_maybe_nogil(const uint8_t *s, Py_ssize_t n)
    int fws_utf8_feed_maybe_nogil(fws_utf8_state *st, const uint8_t *s, Py_ssize_t n)
    int fws_offset_key(const uint8_t *key, object offset, uint32_t *out) except -1

cdef extern from "fastpath.h":
    enum:
        FWS_FAST_APPLY_MASK
        FWS_FAST_APPLY_MASK_INPLACE
        FWS_FAST_VALIDATE_UTF8
    object fws_fast_wrap(int which, object slow, const char *name, const char *signature, object module_name)

cdef extern from "Python.h":
    int _PyBytes_Resize(PyObject **bytes, Py_ssize_t newsize) except -1

IMPLEMENTATION = "cython"

cdef enum:
    # A payload that arrives over several feeds is allocated whole up to this
    # size; beyond, it grows geometrically as bytes arrive, so that a header
    # announcing a huge length costs nothing until the bytes come.
    PAYLOAD_PREALLOC = 4194304


# -- SIMD kernel selection ---------------------------------------------------------


def _set_simd(level=None):
    """Choose the SIMD kernels (private: for tests and benchmarks).

    Args:
        level: ``"generic"``, ``"sse2"``, ``"neon"``, ``"avx2"``,
            ``"avx512"`` or None for the best the CPU supports; a level the
            CPU lacks is lowered to the best it has.

    Returns:
        The name of the masking kernel now in use.
    """
    global _SIMD
    cdef bytes name = (level or "").encode("ascii")
    fws_simd_init(name)
    _SIMD = fws_simd_mask_name().decode("ascii")
    return _SIMD


def _simd_info():
    """The kernels in use and the best level this CPU supports (private).

    Returns:
        A dict with keys ``mask``, ``utf8`` and ``best``.
    """
    return {
        "mask": fws_simd_mask_name().decode("ascii"),
        "utf8": fws_simd_utf8_name().decode("ascii"),
        "best": fws_simd_best_name().decode("ascii"),
    }


_SIMD = "generic"
_set_simd(os.environ.get("FASTWS_SIMD", "").strip().lower())


# -- buffers -------------------------------------------------------------------------

cdef struct _Buf:
    const uint8_t *ptr
    Py_ssize_t len
    bint held
    Py_buffer view


cdef inline bint _mv_c_contiguous(Py_buffer *view) noexcept:
    # memoryview.c_contiguous, as CPython's memoryview computes it.
    if view.suboffsets != NULL:
        return False
    if view.ndim == 0 or view.strides == NULL or view.shape == NULL:
        return True
    if view.ndim == 1:
        return view.shape[0] == 1 or view.strides[0] == view.itemsize
    return PyBuffer_IsContiguous(view, b'C')


cdef int _acquire_view(object obj, _Buf *b) except -1:
    """What the pure twin's ``memoryview(obj).cast('B')`` does, on a Py_buffer."""
    cdef int i
    try:
        PyObject_GetBuffer(obj, &b.view, PyBUF_FULL_RO)
    except TypeError:
        raise TypeError(
            f"a C-contiguous bytes-like object is required, not '{type(obj).__name__}'"
        ) from None
    b.held = True
    if not _mv_c_contiguous(&b.view):
        PyBuffer_Release(&b.view)
        b.held = False
        raise TypeError(f"a C-contiguous bytes-like object is required, not '{type(obj).__name__}'")
    if b.view.ndim != 1 and b.view.shape != NULL:
        for i in range(b.view.ndim):
            if b.view.shape[i] == 0:
                PyBuffer_Release(&b.view)
                b.held = False
                raise TypeError("memoryview: cannot cast view with zeros in shape or strides")
    b.ptr = <const uint8_t *>b.view.buf
    b.len = b.view.len
    return 0


cdef inline int _acquire(object obj, _Buf *b) except -1:
    if PyBytes_CheckExact(obj):
        # Immutable, and the caller holds a reference: no export needed.
        b.ptr = <const uint8_t *>PyBytes_AS_STRING(obj)
        b.len = PyBytes_GET_SIZE(obj)
        b.held = False
        return 0
    return _acquire_view(obj, b)


cdef inline void _release(_Buf *b) noexcept:
    if b.held:
        PyBuffer_Release(&b.view)
        b.held = False


cdef inline int _check_key(object mask, uint8_t *key) except -1:
    cdef _Buf b
    cdef Py_ssize_t n
    _acquire(mask, &b)
    n = b.len
    if n == 4:
        memcpy(key, b.ptr, 4)
    _release(&b)
    if n != 4:
        raise ValueError(f"mask must be exactly 4 bytes, got {n}")
    return 0


# -- masking keys ----------------------------------------------------------------------

# RFC 6455 section 5.3: "The masking key needs to be unpredictable; thus, the
# masking key MUST be derived from a strong source of entropy". Every key
# comes from os.urandom, drawn KEY_POOL bytes (1024 keys) per call rather
# than 4 (a system call of about a microsecond per frame otherwise).
#
# Each key is handed out once. Taking a key and refilling the pool run inside
# a critical section on _key_guard, whose body calls no Python and no C API
# (memcpy and integer arithmetic only), so it is never suspended: on a
# free-threaded build it excludes every other thread; with the GIL it is a
# no-op and the GIL, which this code never releases, does the same. os.urandom
# (which may release the GIL) runs outside it: a thread that finds the pool
# empty fetches fresh bytes, then installs them and takes its own key in one
# critical section. When two threads refill at once, the second install
# drops the keys left from the first; dropped keys are never handed out.
cdef enum:
    KEY_POOL = 4096

cdef uint8_t _key_pool[KEY_POOL]
cdef Py_ssize_t _key_pos = KEY_POOL     # next unused byte; KEY_POOL: empty
cdef object _key_guard = object()


cdef int _take_key(uint8_t *key) except -1:
    """Copy a fresh 4-byte masking key to ``key``."""
    global _key_pos
    cdef bint taken = False
    cdef bytes fresh
    with cython.critical_section(_key_guard):
        if _key_pos <= KEY_POOL - 4:
            memcpy(key, _key_pool + _key_pos, 4)
            _key_pos += 4
            taken = True
    if taken:
        return 0
    fresh = os.urandom(KEY_POOL)
    if PyBytes_GET_SIZE(fresh) != KEY_POOL:
        raise RuntimeError("os.urandom returned the wrong number of bytes")
    with cython.critical_section(_key_guard):
        memcpy(_key_pool, PyBytes_AS_STRING(fresh), KEY_POOL)
        memcpy(key, _key_pool, 4)
        _key_pos = 4
    return 0


def _mask_key():
    """A fresh 4-byte masking key, never handed out before (private).

    Returns:
        4 bytes from the key pool, filled by ``os.urandom``.
    """
    cdef uint8_t key[4]
    _take_key(key)
    return PyBytes_FromStringAndSize(<const char *>key, 4)


def _drop_key_pool():
    """Forget the pooled keys (private; runs in the child after ``os.fork()``).

    A forked child starts with a copy of the parent's pool: if it drew from
    it, parent and child would send the same keys. The child runs this alone
    (no other thread survives a fork), so it takes no lock; it replaces the
    guard, whose lock another thread of the parent may have held at the fork.
    """
    global _key_pos, _key_guard
    memset(_key_pool, 0, KEY_POOL)
    _key_pos = KEY_POOL
    _key_guard = object()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_key_pool)


# -- masking ---------------------------------------------------------------------------


@cython.boundscheck(False)
@cython.wraparound(False)
def apply_mask(data, mask, offset=0):
    """XOR ``data`` with the 4-byte ``mask`` repeated, from ``mask[offset % 4]``.

    RFC 6455 section 5.3: octet i of the transformed data is octet i of the
    original data XOR octet at index i modulo 4 of the masking key.

    Args:
        data: the bytes to mask or unmask (any C-contiguous bytes-like object).
        mask: the 4-byte masking key.
        offset: position of ``data[0]`` in the masked stream.

    Returns:
        The masked bytes.

    Raises:
        ValueError: ``mask`` is not exactly 4 bytes.
        TypeError: ``data`` or ``mask`` is not a C-contiguous bytes-like object.
    """
    cdef _Buf b
    cdef uint8_t key[4]
    cdef uint32_t k
    cdef object out
    _acquire(data, &b)
    try:
        _check_key(mask, key)
        fws_offset_key(key, offset, &k)
        out = PyBytes_FromStringAndSize(NULL, b.len)
        fws_mask_maybe_nogil(<uint8_t *>PyBytes_AS_STRING(out), b.ptr, b.len, k)
        return out
    finally:
        _release(&b)


@cython.boundscheck(False)
@cython.wraparound(False)
def apply_mask_inplace(buffer, mask, offset=0):
    """XOR a writable buffer in place with the 4-byte ``mask``.

    Args:
        buffer: a writable C-contiguous bytes-like object.
        mask: the 4-byte masking key.
        offset: position of ``buffer[0]`` in the masked stream.

    Raises:
        ValueError: ``mask`` is not exactly 4 bytes.
        TypeError: ``buffer`` is not a writable C-contiguous bytes-like
            object, or ``mask`` is not bytes-like.
    """
    cdef _Buf b
    cdef uint8_t key[4]
    cdef uint32_t k
    # Exported for the whole call: a bytearray cannot be resized meanwhile,
    # even while the kernel runs without the GIL.
    _acquire_view(buffer, &b)
    try:
        if b.view.readonly:
            raise TypeError(f"a writable bytes-like object is required, not '{type(buffer).__name__}'")
        _check_key(mask, key)
        fws_offset_key(key, offset, &k)
        fws_mask_maybe_nogil(<uint8_t *>b.ptr, b.ptr, b.len, k)
    finally:
        _release(&b)


# The per-call entry points: a vectorcall fast path for the common shape of
# call, everything else handled by the functions above (see fastpath.h).
apply_mask = fws_fast_wrap(FWS_FAST_APPLY_MASK, apply_mask, "apply_mask", "(data, mask, offset=0)", __name__)
apply_mask_inplace = fws_fast_wrap(
    FWS_FAST_APPLY_MASK_INPLACE,
    apply_mask_inplace,
    "apply_mask_inplace",
    "(buffer, mask, offset=0)",
    __name__,
)


# -- UTF-8 -------------------------------------------------------------------------------


def validate_utf8(data):
    """Whether ``data`` is entirely valid UTF-8 (RFC 3629).

    Args:
        data: a C-contiguous bytes-like object.

    Returns:
        True when every byte belongs to a complete, valid sequence.

    Raises:
        TypeError: ``data`` is not a C-contiguous bytes-like object.
    """
    cdef _Buf b
    cdef int ok
    _acquire(data, &b)
    ok = fws_utf8_valid_maybe_nogil(b.ptr, b.len)
    _release(&b)
    return ok != 0


validate_utf8 = fws_fast_wrap(FWS_FAST_VALIDATE_UTF8, validate_utf8, "validate_utf8", "(data)", __name__)


cdef class Utf8Validator:
    """Utf8Validator()
--

    Incremental, fail-fast UTF-8 validation across fragments.

    Complete sequences are checked by the SIMD kernel; the up to three bytes
    of a sequence left open at the end of a fragment are kept and checked as
    a prefix, so that bytes no continuation can complete (``ED A0``, a
    surrogate) fail at once.
    """

    cdef fws_utf8_state _state

    def __cinit__(self):
        fws_utf8_state_reset(&self._state)

    def __init__(self):
        fws_utf8_state_reset(&self._state)

    def feed(self, data):
        """Add bytes; False as soon as what was seen cannot start valid UTF-8.

        Args:
            data: the next fragment (a C-contiguous bytes-like object).

        Returns:
            Whether everything fed so far can still begin valid UTF-8.

        Raises:
            TypeError: ``data`` is not a C-contiguous bytes-like object.
        """
        cdef _Buf b
        cdef int ok
        _acquire(data, &b)
        if not self._state.valid:
            _release(&b)
            return False
        ok = fws_utf8_feed_maybe_nogil(&self._state, b.ptr, b.len)
        _release(&b)
        return ok != 0

    def finish(self):
        """True when everything fed is valid and no sequence is left open.

        Returns:
            Whether the bytes fed so far are complete, valid UTF-8.
        """
        return bool(self._state.valid) and self._state.pend_len == 0

    def reset(self):
        """Forget everything fed so far."""
        fws_utf8_state_reset(&self._state)

    @property
    def valid(self):
        """False once an invalid byte was seen (until :meth:`reset`)."""
        return bool(self._state.valid)

    @property
    def pending(self):
        """Bytes of an incomplete sequence held at the end (0-3)."""
        return self._state.pend_len if self._state.valid else 0


# -- frames --------------------------------------------------------------------------------

_OPCODES = {int(op): op for op in Opcode}
# Opcode members indexed by the 4-bit opcode; None marks a reserved opcode.
cdef tuple _OPCODE_TABLE = tuple([_OPCODES.get(i) for i in range(16)])
cdef object _EMPTY = b""


def _opcode_repr(opcode):
    member = _OPCODES.get(opcode)
    return f"Opcode.{member.name}" if member is not None else str(int(opcode))


def _payload_repr(payload):
    if len(payload) > 32:
        return f"<{len(payload)} bytes>"
    return repr(payload)


# no_gc: a frame holds bytes, ints and bools, which cannot form a cycle;
# a GC-tracked frame made the collector run every ~700 parsed frames.
@cython.no_gc
@cython.freelist(64)
cdef class Frame:
    """Frame(opcode, payload=b'', fin=True, rsv1=False, rsv2=False, rsv3=False)
--

    One WebSocket frame; the payload is unmasked.

    Attributes:
        opcode: the frame's opcode (an :class:`fastws.Opcode` on parsed frames).
        payload: the unmasked payload.
        fin: whether this is the final frame of a message.
        rsv1: the RSV1 bit (permessage-deflate's "compressed" flag).
        rsv2: the RSV2 bit.
        rsv3: the RSV3 bit.
    """

    # Its fields (fin, opcode, payload, rsv1-3) are declared in _codec.pxd.

    def __init__(self, opcode, payload=b"", fin=True, rsv1=False, rsv2=False, rsv3=False):
        self.opcode = opcode
        self.payload = payload
        self.fin = fin
        self.rsv1 = rsv1
        self.rsv2 = rsv2
        self.rsv3 = rsv3

    __hash__ = None

    def __eq__(self, other):
        if not isinstance(other, Frame):
            return NotImplemented
        return (
            self.opcode == other.opcode
            and self.payload == other.payload
            and bool(self.fin) == bool(other.fin)
            and bool(self.rsv1) == bool(other.rsv1)
            and bool(self.rsv2) == bool(other.rsv2)
            and bool(self.rsv3) == bool(other.rsv3)
        )

    def __repr__(self):
        flags = "".join(
            [f", {name}=True" for name in ("rsv1", "rsv2", "rsv3") if getattr(self, name)]
        )
        return (
            f"Frame({_opcode_repr(self.opcode)}, {_payload_repr(self.payload)}, "
            f"fin={bool(self.fin)}{flags})"
        )


cdef inline bint _limit_c(object value, uint64_t *out) noexcept:
    """Store a checked, non-negative limit; False when there is none to enforce."""
    cdef int overflow = 0
    cdef long long v
    if value is None:
        return False
    v = PyLong_AsLongLongAndOverflow(value, &overflow)
    if overflow:
        # Beyond 2**63: no payload length can reach it.
        return False
    out[0] = <uint64_t>v
    return True


def _check_limit(name, value):
    if value is None:
        return None
    value = operator.index(value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0")
    return value


# A function, not a FrameParser method: a method's address goes into the
# class's vtable, so every copy the C compiler inlines counts as growth of
# this large module, and GCC can leave the per-frame call in _feed out of line.
cdef inline Frame _make_frame(uint8_t b0, object payload):
    """The frame whose first header byte is ``b0``."""
    cdef Frame frame = Frame.__new__(Frame)
    frame.opcode = _OPCODE_TABLE[b0 & 0x0F]
    frame.payload = payload
    frame.fin = True if b0 & 0x80 else False
    frame.rsv1 = True if b0 & 0x40 else False
    frame.rsv2 = True if b0 & 0x20 else False
    frame.rsv3 = True if b0 & 0x10 else False
    return frame


cdef class FrameParser:
    """FrameParser(*, require_mask=None, max_frame_size=None, max_message_size=None, validate_utf8=False, max_compressed_size=None)
--

    Streaming frame parser: bytes cut anywhere in, complete frames out.

    Headers are parsed on raw pointers; a payload is unmasked straight into
    the ``bytes`` object the frame will hold (one pass, one copy). A header
    split across feeds waits in a 14-byte array and is judged again, under
    the current limits, as each piece arrives; a payload split across feeds
    is filled in place as its pieces arrive. With ``validate_utf8``, text
    messages are validated as their bytes arrive, failing fast (RFC 6455
    section 8.1).
    """

    def __cinit__(self):
        self._require_mask_c = -1
        self._pbuf = NULL

    def __dealloc__(self):
        Py_XDECREF(self._pbuf)
        self._pbuf = NULL

    def __init__(self, *, require_mask=None, max_frame_size=None, max_message_size=None, validate_utf8=False,
                 max_compressed_size=None):
        self._check_idle()
        self.require_mask = require_mask
        self.max_frame_size = max_frame_size
        self.max_message_size = max_message_size
        self.max_compressed_size = max_compressed_size
        self.validate_utf8 = validate_utf8
        self._clear()
        self._message_size = 0
        self._compressed = False
        self._text = False
        fws_utf8_state_reset(&self._utf8)
        self._checked = 0
        self._error = None

    cdef int _check_idle(self) except -1:
        if self._busy:
            raise RuntimeError("FrameParser is being fed by another thread")
        return 0

    cdef void _clear(self) noexcept:
        self._hdr_len = 0
        self._in_payload = False
        self._have = 0
        self._cap = 0
        Py_XDECREF(self._pbuf)
        self._pbuf = NULL

    # Limits may change between calls (a protocol tightens them as it goes).
    @property
    def require_mask(self):
        return self._require_mask

    @require_mask.setter
    def require_mask(self, value):
        value = None if value is None else bool(value)
        self._require_mask = value
        self._require_mask_c = -1 if value is None else (1 if value else 0)

    @property
    def max_frame_size(self):
        return self._max_frame_size

    @max_frame_size.setter
    def max_frame_size(self, value):
        value = _check_limit("max_frame_size", value)
        self._max_frame_size = value
        self._has_max_frame = _limit_c(value, &self._max_frame)

    @property
    def max_message_size(self):
        return self._max_message_size

    @max_message_size.setter
    def max_message_size(self, value):
        value = _check_limit("max_message_size", value)
        self._max_message_size = value
        self._has_max_message = _limit_c(value, &self._max_message)

    @property
    def max_compressed_size(self):
        return self._max_compressed_size

    @max_compressed_size.setter
    def max_compressed_size(self, value):
        value = _check_limit("max_compressed_size", value)
        self._max_compressed_size = value
        self._has_max_compressed = _limit_c(value, &self._max_compressed)

    @property
    def validate_utf8(self):
        return self._validate_utf8

    @validate_utf8.setter
    def validate_utf8(self, value):
        self._validate_utf8 = bool(value)

    @property
    def buffered(self):
        """Bytes received and held for the frame in progress."""
        return self._have if self._in_payload else self._hdr_len

    def reset(self):
        """Drop any partial frame and any error; start from a clean state."""
        self._check_idle()
        self._clear()
        self._message_size = 0
        self._compressed = False
        self._text = False
        fws_utf8_state_reset(&self._utf8)
        self._checked = 0
        self._error = None

    def feed(self, data):
        """Parse ``data`` (appended to what is buffered); return complete frames.

        Args:
            data: the next bytes received (a C-contiguous bytes-like object).

        Returns:
            The frames completed by these bytes, in order.

        Raises:
            InvalidFrame: a header breaks RFC 6455 section 5 (1002).
            PayloadTooBig: a frame or data message exceeds its limit (1009).
            InvalidUTF8: ``validate_utf8`` is on and a text message is not
                UTF-8 (1007).
            TypeError: ``data`` is not a C-contiguous bytes-like object.

        When an error is raised, the frames completed earlier in the same
        call are attached to the exception as ``exc.frames``. After an error
        the parser is broken: every later ``feed`` raises the same error
        again.
        """
        cdef _Buf b
        _acquire(data, &b)
        try:
            if self._error is not None:
                error = self._error
                raise type(error)(*error.args)
            return self._feed_alone(b.ptr, b.len, -1)[0]
        finally:
            _release(&b)

    cpdef tuple feed_some(self, data, Py_ssize_t max_frames):
        """Parse ``data`` until ``max_frames`` frames are complete.

        Args:
            data: the next bytes received (a C-contiguous bytes-like object).
            max_frames: the most frames to return (at least 1).

        Returns:
            The frames and how many bytes of ``data`` were consumed; the
            caller keeps the rest and feeds it later, unchanged.

        Raises:
            InvalidFrame: a header breaks RFC 6455 section 5 (1002).
            PayloadTooBig: a frame or data message exceeds its limit (1009).
            InvalidUTF8: ``validate_utf8`` is on and a text message is not
                UTF-8 (1007).
            TypeError: ``data`` is not a C-contiguous bytes-like object, or
                ``max_frames`` is not an integer.
            OverflowError: ``max_frames`` is beyond a C ``Py_ssize_t``
                (``sys.maxsize``).
            ValueError: ``max_frames`` is below 1.
        """
        cdef _Buf b
        if max_frames < 1:
            raise ValueError("max_frames must be >= 1")
        _acquire(data, &b)
        try:
            if self._error is not None:
                error = self._error
                raise type(error)(*error.args)
            return self._feed_alone(b.ptr, b.len, max_frames)
        finally:
            _release(&b)

    cdef tuple _feed_alone(self, const uint8_t *p, Py_ssize_t n, Py_ssize_t max_frames):
        """``_feed``, with the parser marked busy until it returns.

        Kernels run without the GIL on large inputs: meanwhile, another
        thread that feeds or resets this parser gets a RuntimeError
        (``_check_idle``) instead of changing its state or freeing the
        payload being filled.
        """
        self._check_idle()
        self._busy = True
        try:
            return self._feed(p, n, max_frames)
        finally:
            self._busy = False

    @cython.boundscheck(False)
    @cython.wraparound(False)
    @cython.cdivision(True)
    cdef Py_ssize_t _parse_header(self, const uint8_t *p, Py_ssize_t n) except -1:
        """Judge the header at ``p``: its length, 0 while it is incomplete."""
        cdef uint8_t b0, b1
        cdef int code
        cdef bint fin, masked, compressed
        cdef uint64_t length, total = 0
        cdef Py_ssize_t start
        if n < 2:
            return 0
        b0 = p[0]
        b1 = p[1]
        fin = (b0 & 0x80) != 0
        code = b0 & 0x0F
        # RFC 6455 section 5.2: "If an unknown opcode is received, the
        # receiving endpoint MUST _Fail the WebSocket Connection_."
        if _OPCODE_TABLE[code] is None:
            raise InvalidFrame(f"reserved opcode {code}")
        length = b1 & 0x7F
        masked = (b1 & 0x80) != 0
        if code >= 8:
            # Section 5.5: "All control frames MUST have a payload length of
            # 125 bytes or less and MUST NOT be fragmented."
            if not fin:
                raise InvalidFrame("fragmented control frame")
            if length > 125:
                raise InvalidFrame(f"control frame too long: {length} bytes")
        # Section 5.1: a server MUST close on an unmasked frame, a client on a
        # masked one.
        if self._require_mask_c >= 0 and <int>masked != self._require_mask_c:
            if self._require_mask_c:
                raise InvalidFrame("incorrect masking: expected a masked frame")
            raise InvalidFrame("incorrect masking: expected an unmasked frame")
        start = 2
        if length == 126:
            if n < 4:
                return 0
            length = (<uint64_t>p[2] << 8) | p[3]
            start = 4
        elif length == 127:
            if n < 10:
                return 0
            length = (
                (<uint64_t>p[2] << 56) | (<uint64_t>p[3] << 48) | (<uint64_t>p[4] << 40)
                | (<uint64_t>p[5] << 32) | (<uint64_t>p[6] << 24) | (<uint64_t>p[7] << 16)
                | (<uint64_t>p[8] << 8) | <uint64_t>p[9]
            )
            # Section 5.2: "the most significant bit MUST be 0".
            if length >> 63:
                raise InvalidFrame("payload length has the most significant bit set")
            start = 10
        if self._has_max_frame and length > self._max_frame:
            raise PayloadTooBig(f"frame of {length} bytes exceeds the limit of {self._max_frame_size} bytes")
        if code < 8:
            total = length if code else self._message_size + length
            # A message whose first frame sets RSV1 is compressed
            # (permessage-deflate, RFC 7692 section 6): it may have its own,
            # larger, limit on the wire.
            compressed = (b0 & 0x40) != 0 if code else self._compressed
            if compressed and self._max_compressed_size is not None:
                if self._has_max_compressed and total > self._max_compressed:
                    raise PayloadTooBig(
                        f"compressed message of at least {total} bytes exceeds the limit of "
                        f"{self._max_compressed_size} bytes"
                    )
            elif self._has_max_message and total > self._max_message:
                raise PayloadTooBig(
                    f"message of at least {total} bytes exceeds the limit of {self._max_message_size} bytes"
                )
        if masked:
            if n - start < 4:
                return 0
            memcpy(self._key, p + start, 4)
            start += 4
        if code < 8:
            # The header is complete: the frame is accepted into the message.
            self._message_size = 0 if fin else total
            if code:
                self._compressed = (b0 & 0x40) != 0
                # A text message is validated unless an extension transformed
                # its payload (any RSV bit set on its first frame).
                self._text = code == 1 and self._validate_utf8 and not (b0 & 0x70)
                if self._text:
                    fws_utf8_state_reset(&self._utf8)
            self._checked = 0
        self._b0 = b0
        self._masked = masked
        self._length = length
        return start

    cdef int _check_text(self, const uint8_t *p, Py_ssize_t n, bint final) except -1:
        """Validate the next ``n`` unmasked bytes of the text message in progress."""
        cdef int ok
        self._checked += n
        ok = fws_utf8_feed_maybe_nogil(&self._utf8, p, n)
        # RFC 6455 section 8.1: "When an endpoint is to interpret a byte
        # stream as UTF-8 but finds that the byte stream is not, in fact, a
        # valid UTF-8 stream, that endpoint MUST _Fail the WebSocket
        # Connection_."
        if not ok:
            raise InvalidUTF8("invalid UTF-8 in a text message")
        if final:
            self._text = False
            if self._utf8.pend_len:
                raise InvalidUTF8("incomplete UTF-8 sequence at the end of a text message")
        return 0

    @cython.boundscheck(False)
    @cython.wraparound(False)
    @cython.cdivision(True)
    cdef tuple _feed(self, const uint8_t *p, Py_ssize_t n, Py_ssize_t max_frames):
        """Parse ``n`` bytes: (frames, bytes consumed); ``max_frames`` < 0: no limit."""
        cdef list frames = []
        cdef Py_ssize_t pos = 0, h, take, k, length, cap
        cdef object payload
        cdef uint8_t *dst
        try:
            while True:
                if max_frames >= 0 and len(frames) >= max_frames:
                    # At a frame boundary: the rest goes back to the caller.
                    break
                if not self._in_payload:
                    if self._hdr_len:
                        # The header began in an earlier feed: complete it in
                        # the side array and judge it again from its start.
                        take = min(14 - self._hdr_len, n - pos)
                        memcpy(self._hdr + self._hdr_len, p + pos, take)
                        h = self._parse_header(self._hdr, self._hdr_len + take)
                        if h == 0:
                            self._hdr_len += take
                            pos += take
                            break
                        pos += h - self._hdr_len
                        self._hdr_len = 0
                    else:
                        h = self._parse_header(p + pos, n - pos)
                        if h == 0:
                            self._hdr_len = n - pos
                            memcpy(self._hdr, p + pos, self._hdr_len)
                            pos = n
                            break
                        pos += h
                    length = <Py_ssize_t>self._length
                    if n - pos >= length:
                        # The whole payload is here: one pass, copy and unmask.
                        if not self._masked:
                            payload = PyBytes_FromStringAndSize(<const char *>(p + pos), length)
                        else:
                            payload = PyBytes_FromStringAndSize(NULL, length)
                            fws_mask_maybe_nogil(<uint8_t *>PyBytes_AS_STRING(payload), p + pos, length,
                                                 fws_key(self._key, 0))
                        if self._text and (self._b0 & 0x0F) < 8:
                            self._check_text(<const uint8_t *>PyBytes_AS_STRING(payload), length,
                                             (self._b0 & 0x80) != 0)
                            self._checked = 0
                        pos += length
                        frames.append(_make_frame(self._b0, payload))
                        continue
                    # The payload spans feeds: fill a bytes object as it comes.
                    cap = length if length <= PAYLOAD_PREALLOC else max(<Py_ssize_t>PAYLOAD_PREALLOC, n - pos)
                    payload = PyBytes_FromStringAndSize(NULL, cap)
                    Py_INCREF(payload)
                    self._pbuf = <PyObject *>payload
                    payload = None
                    self._cap = cap
                    self._have = 0
                    self._in_payload = True
                length = <Py_ssize_t>self._length
                k = min(length - self._have, n - pos)
                if self._have + k > self._cap:
                    cap = min(length, max(2 * self._cap, self._have + k))
                    _PyBytes_Resize(&self._pbuf, cap)
                    self._cap = cap
                if k:
                    dst = <uint8_t *>PyBytes_AS_STRING(<object>self._pbuf) + self._have
                    if self._masked:
                        fws_mask_maybe_nogil(dst, p + pos, k, fws_key(self._key, <size_t>self._have))
                    else:
                        fws_copy_maybe_nogil(dst, p + pos, k)
                    self._have += k
                    pos += k
                    if self._text and (self._b0 & 0x0F) < 8 and self._have < length:
                        # Fail fast: validate what has arrived, without
                        # waiting for the rest of the frame.
                        self._check_text(dst, k, False)
                if self._have < length:
                    break
                if self._text and (self._b0 & 0x0F) < 8:
                    self._check_text(<const uint8_t *>PyBytes_AS_STRING(<object>self._pbuf) + self._checked,
                                     length - self._checked, (self._b0 & 0x80) != 0)
                    self._checked = 0
                payload = <object>self._pbuf
                Py_DECREF(payload)
                self._pbuf = NULL
                self._in_payload = False
                self._have = 0
                self._cap = 0
                frames.append(_make_frame(self._b0, payload))
                payload = None
        except (InvalidFrame, InvalidUTF8, PayloadTooBig) as exc:
            exc.frames = frames
            self._error = exc
            self._clear()
            raise
        return frames, pos


# -- encoding ----------------------------------------------------------------------------------


cdef inline int _opcode(object opcode) except -1:
    """The opcode as a C int, or ValueError when it is not a known opcode."""
    cdef int overflow = 0
    cdef long long value
    # An int or an int subclass (an Opcode) is read as is, as operator.index
    # would (calling operator.index cost 5x the rest of a small encode_frame).
    cdef object code_obj = opcode if PyLong_Check(opcode) else operator.index(opcode)
    value = PyLong_AsLongLongAndOverflow(code_obj, &overflow)
    if not overflow and 0 <= value < 16 and _OPCODE_TABLE[value] is not None:
        return <int>value
    raise ValueError(f"invalid opcode {int(code_obj)}")


cdef inline uint8_t _first_byte(int code, object fin, object rsv1, object rsv2, object rsv3) except? 0:
    cdef uint8_t b0 = <uint8_t>code
    if fin:
        b0 |= 0x80
    if rsv1:
        b0 |= 0x40
    if rsv2:
        b0 |= 0x20
    if rsv3:
        b0 |= 0x10
    return b0


cdef inline Py_ssize_t _header_size(uint64_t length) noexcept:
    return 2 if length < 126 else (4 if length < 65536 else 10)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline void _write_header(uint8_t *dst, uint8_t b0, uint8_t maskbit, uint64_t length) noexcept:
    """The first two bytes and the shortest length encoding (section 5.2)."""
    cdef int i
    dst[0] = b0
    if length < 126:
        dst[1] = maskbit | <uint8_t>length
    elif length < 65536:
        dst[1] = maskbit | 126
        dst[2] = <uint8_t>(length >> 8)
        dst[3] = <uint8_t>length
    else:
        dst[1] = maskbit | 127
        for i in range(8):
            dst[2 + i] = <uint8_t>(length >> (56 - 8 * i))


@cython.boundscheck(False)
@cython.wraparound(False)
def encode_frame(opcode, payload, *, fin=True, mask=None, rsv1=False, rsv2=False, rsv3=False):
    """Serialize one frame with the shortest length encoding.

    Args:
        opcode: the frame's opcode.
        payload: the payload (a C-contiguous bytes-like object).
        fin: whether this is the final frame of a message.
        mask: None (unmasked, server to client), a 4-byte key, or True for a
            fresh random key (from a pool filled by ``os.urandom``).
        rsv1: the RSV1 bit.
        rsv2: the RSV2 bit.
        rsv3: the RSV3 bit.

    Returns:
        The frame as bytes.

    Raises:
        ValueError: unknown opcode, control frame not final or too long,
            mask not 4 bytes.
        TypeError: ``payload`` or ``mask`` is not bytes-like.
    """
    cdef _Buf b
    cdef int code = _opcode(opcode)
    cdef Py_ssize_t length, hlen
    cdef uint8_t key[4]
    cdef bint has_key
    cdef uint8_t b0
    cdef object out
    cdef uint8_t *dst
    _acquire(payload, &b)
    try:
        length = b.len
        if code >= 8:
            if not fin:
                raise ValueError("fragmented control frame")
            if length > 125:
                raise ValueError(f"control frame too long: {length} bytes")
        if mask is True:
            _take_key(key)
            has_key = True
        elif mask is None or mask is False:
            has_key = False
        else:
            _check_key(mask, key)
            has_key = True
        b0 = _first_byte(code, fin, rsv1, rsv2, rsv3)
        hlen = _header_size(<uint64_t>length)
        out = PyBytes_FromStringAndSize(NULL, hlen + (4 if has_key else 0) + length)
        dst = <uint8_t *>PyBytes_AS_STRING(out)
        _write_header(dst, b0, 0x80 if has_key else 0, <uint64_t>length)
        dst += hlen
        if has_key:
            memcpy(dst, key, 4)
            dst += 4
            fws_mask_maybe_nogil(dst, b.ptr, length, fws_key(key, 0))
        elif length:
            memcpy(dst, b.ptr, <size_t>length)
        return out
    finally:
        _release(&b)


def encode_frame_header(opcode, length, *, fin=True, mask=None, rsv1=False, rsv2=False, rsv3=False):
    """Serialize the header of a frame of ``length`` payload bytes, key included.

    The caller sends the payload after it, masked with the same key
    (:func:`apply_mask`) when there is one, so that a large payload is never
    copied into the frame: ``transport.writelines([header, payload])``.

    Args:
        opcode: the frame's opcode.
        length: the payload length in bytes.
        fin: whether this is the final frame of a message.
        mask: None (unmasked, server to client) or the 4-byte key that the
            caller masks the payload with.
        rsv1: the RSV1 bit.
        rsv2: the RSV2 bit.
        rsv3: the RSV3 bit.

    Returns:
        The header (2 to 14 bytes) as bytes.

    Raises:
        ValueError: unknown opcode, length negative or not under 2**63,
            control frame not final or too long, mask not 4 bytes.
        TypeError: ``opcode`` or ``length`` is not an integer, or ``mask``
            is not bytes-like.
    """
    cdef int code = _opcode(opcode)
    cdef int overflow = 0
    cdef long long value
    cdef uint64_t n
    cdef uint8_t[4] key = [0, 0, 0, 0]  # read only when has_key; zeroed for -Wmaybe-uninitialized
    cdef bint has_key = mask is not None
    cdef uint8_t b0
    cdef Py_ssize_t hlen
    cdef object out
    cdef uint8_t *dst
    if not PyLong_CheckExact(length):
        length = operator.index(length)
    value = PyLong_AsLongLongAndOverflow(length, &overflow)
    if overflow < 0 or (not overflow and value < 0):
        raise ValueError("length must be >= 0")
    # RFC 6455 section 5.2: the 64-bit length's "most significant bit MUST be 0".
    if overflow > 0:
        raise ValueError("length must be < 2**63")
    n = <uint64_t>value
    if code >= 8:
        if not fin:
            raise ValueError("fragmented control frame")
        if n > 125:
            raise ValueError(f"control frame too long: {n} bytes")
    if has_key:
        _check_key(mask, key)
    b0 = _first_byte(code, fin, rsv1, rsv2, rsv3)
    hlen = _header_size(n)
    out = PyBytes_FromStringAndSize(NULL, hlen + (4 if has_key else 0))
    dst = <uint8_t *>PyBytes_AS_STRING(out)
    _write_header(dst, b0, 0x80 if has_key else 0, n)
    if has_key:
        memcpy(dst + hlen, key, 4)
    return out
