"""The pure-Python codec twin.

Same names, signatures, results, exceptions and messages as the Cython twin
(``_codec.pyx``); ``_codec.pyi`` is the contract both satisfy. Each function
uses the fastest construct pure Python has: masking is one big-integer XOR,
UTF-8 validation is CPython's own decoder (written in C), frame parsing works
on one ``bytearray`` whose front is dropped in O(1).
"""

from __future__ import annotations

import operator
import os
import struct
import sys
from codecs import getincrementaldecoder
from typing import Any, Final, Literal

from .constants import MAX_CONTROL_PAYLOAD, Opcode
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

IMPLEMENTATION: Final[Literal["cython", "python"]] = "python"

_OPCODES: Final[dict[int, Opcode]] = {int(op): op for op in Opcode}
_pack_B2: Final = struct.Struct("!BB").pack
_pack_B2H: Final = struct.Struct("!BBH").pack
_pack_B2Q: Final = struct.Struct("!BBQ").pack
_unpack_H: Final = struct.Struct("!H").unpack_from
_unpack_Q: Final = struct.Struct("!Q").unpack_from


# -- buffers -----------------------------------------------------------------


def _view(data: Any) -> memoryview:
    """A flat byte view of a C-contiguous bytes-like object."""
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(
            f"a C-contiguous bytes-like object is required, not '{type(data).__name__}'"
        ) from None
    if not view.c_contiguous:
        raise TypeError(f"a C-contiguous bytes-like object is required, not '{type(data).__name__}'")
    if view.ndim != 1 or view.itemsize != 1:
        view = view.cast("B")
    return view


def _check_key(mask: Any) -> bytes:
    key = _view(mask)
    if key.nbytes != 4:
        raise ValueError(f"mask must be exactly 4 bytes, got {key.nbytes}")
    return key.tobytes()


# -- masking keys ------------------------------------------------------------

# RFC 6455 section 5.3: "The masking key needs to be unpredictable; thus, the
# masking key MUST be derived from a strong source of entropy". Every key
# comes from os.urandom, drawn 1024 keys (4 KiB) per call rather than one
# (a system call of about a microsecond per frame otherwise). Each key is
# handed out once: ``list.pop`` removes it atomically (under the GIL, and
# under the list's own lock on a free-threaded build). A thread that finds
# the pool empty fills a new list, takes its own key from it before
# publishing it, and only then replaces the global; when two threads refill
# at once, the keys left in the replaced list are dropped, never reused.
_KEY_POOL_BYTES: Final = 4096
_keys: list[bytes] = []


def _refill_keys() -> bytes:
    global _keys
    pool = os.urandom(_KEY_POOL_BYTES)
    # Reversed, so that pop() hands the keys out in the order of the buffer.
    keys = [pool[i : i + 4] for i in range(_KEY_POOL_BYTES - 4, -1, -4)]
    key = keys.pop()
    _keys = keys
    return key


def _mask_key() -> bytes:
    """A fresh 4-byte masking key, never handed out before (private).

    Returns:
        4 bytes from the key pool, filled by ``os.urandom``.
    """
    try:
        return _keys.pop()
    except IndexError:
        return _refill_keys()


def _drop_key_pool() -> None:
    """Forget the pooled keys (private; runs in the child after ``os.fork()``).

    A forked child starts with a copy of the parent's pool: if it drew from
    it, parent and child would send the same keys.
    """
    global _keys
    _keys = []


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_key_pool)


# -- masking -----------------------------------------------------------------


def _xor(data: Any, key: bytes, offset: int) -> bytes:
    """XOR ``data`` (bytes-like, flat) with ``key`` repeated from ``offset % 4``."""
    n = len(data)
    if n == 0:
        return b""
    rot = offset & 3
    if rot:
        key = key[rot:] + key[:rot]
    # One big-integer XOR: linear time, no Python-level loop over bytes.
    stream = key * (n >> 2) + key[: n & 3] if n & 3 else key * (n >> 2)
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")


def apply_mask(data: Any, mask: Any, offset: int = 0) -> bytes:
    """XOR ``data`` with the 4-byte ``mask`` repeated, from ``mask[offset % 4]``.

    Raises:
        ValueError: ``mask`` is not exactly 4 bytes.
        TypeError: ``data`` or ``mask`` is not a C-contiguous bytes-like object.
    """
    if (
        type(data) is bytes
        and type(mask) is bytes
        and len(mask) == 4
        and type(offset) is int
        and not offset & 3
    ):
        # _xor inlined for bytes and an unrotated key, checked without a
        # memoryview: 2.5x faster at 8 B, 1.1x at 125 B (bench/test_bench_mask.py, pure rows).
        n = len(data)
        stream = mask * (n >> 2) + mask[: n & 3]
        return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")
    view = _view(data)
    key = _check_key(mask)
    offset = operator.index(offset)
    return _xor(view, key, offset)


def apply_mask_inplace(buffer: Any, mask: Any, offset: int = 0) -> None:
    """XOR a writable buffer in place with the 4-byte ``mask``.

    Raises:
        ValueError: ``mask`` is not exactly 4 bytes.
        TypeError: ``buffer`` is not a writable C-contiguous bytes-like object,
            or ``mask`` is not bytes-like.
    """
    view = _view(buffer)
    if view.readonly:
        raise TypeError(f"a writable bytes-like object is required, not '{type(buffer).__name__}'")
    key = _check_key(mask)
    offset = operator.index(offset)
    if view.nbytes:
        view[:] = _xor(view, key, offset)


# -- UTF-8 ---------------------------------------------------------------------

# RFC 3629 section 4: the range of the second byte of a sequence depends on the
# lead byte; every other continuation byte is 80..BF.
_SECOND_BYTE: Final[dict[int, tuple[int, int]]] = {
    0xE0: (0xA0, 0xBF),  # no overlong 3-byte forms
    0xED: (0x80, 0x9F),  # no surrogates U+D800..U+DFFF
    0xF0: (0x90, 0xBF),  # no overlong 4-byte forms
    0xF4: (0x80, 0x8F),  # nothing above U+10FFFF
}


def _valid_prefix(tail: bytes) -> bool:
    """Whether ``tail`` (1-3 bytes) can start a valid UTF-8 sequence."""
    lead = tail[0]
    if 0xC2 <= lead <= 0xDF:
        need = 2
    elif 0xE0 <= lead <= 0xEF:
        need = 3
    elif 0xF0 <= lead <= 0xF4:
        need = 4
    else:
        return False
    if len(tail) >= need:
        return False
    if len(tail) > 1:
        low, high = _SECOND_BYTE.get(lead, (0x80, 0xBF))
        if not low <= tail[1] <= high:
            return False
        for byte in tail[2:]:
            if not 0x80 <= byte <= 0xBF:
                return False
    return True


def validate_utf8(data: Any) -> bool:
    """Whether ``data`` is entirely valid UTF-8 (RFC 3629).

    Raises:
        TypeError: ``data`` is not a C-contiguous bytes-like object.
    """
    view = _view(data)
    try:
        str(view, "utf-8")
    except UnicodeDecodeError:
        return False
    return True


_Utf8Decoder = getincrementaldecoder("utf-8")


class Utf8Validator:
    """Incremental, fail-fast UTF-8 validation across fragments.

    CPython's incremental decoder does the work; the bytes of a sequence left
    open at the end of a feed are checked here, because the decoder accepts
    some prefixes that no continuation can complete (``ED A0``: a surrogate).
    """

    __slots__ = ("_decoder", "_valid")

    def __init__(self) -> None:
        self._decoder = _Utf8Decoder()
        self._valid = True

    def feed(self, data: Any) -> bool:
        """Add bytes; False as soon as what was seen cannot start valid UTF-8.

        Raises:
            TypeError: ``data`` is not a C-contiguous bytes-like object.
        """
        view = _view(data)
        if not self._valid:
            return False
        try:
            self._decoder.decode(view, False)
        except UnicodeDecodeError:
            self._valid = False
            return False
        tail = self._decoder.getstate()[0]
        if tail and not _valid_prefix(tail):
            self._valid = False
        return self._valid

    def finish(self) -> bool:
        """True when everything fed is valid and no sequence is left open."""
        return self._valid and not self._decoder.getstate()[0]

    def reset(self) -> None:
        """Forget everything fed so far."""
        self._decoder.reset()
        self._valid = True

    @property
    def valid(self) -> bool:
        """False once an invalid byte was seen (until :meth:`reset`)."""
        return self._valid

    @property
    def pending(self) -> int:
        """Bytes of an incomplete sequence held at the end (0-3)."""
        return len(self._decoder.getstate()[0]) if self._valid else 0


# -- frames --------------------------------------------------------------------


def _opcode_repr(opcode: int) -> str:
    member = _OPCODES.get(opcode)
    return f"Opcode.{member.name}" if member is not None else str(int(opcode))


def _payload_repr(payload: bytes) -> str:
    if len(payload) > 32:
        return f"<{len(payload)} bytes>"
    return repr(payload)


class Frame:
    """One WebSocket frame; the payload is unmasked.

    Frames compare equal when all six attributes do.

    Attributes:
        opcode: the frame's opcode, an :class:`~fastws.constants.Opcode`
            (a plain int when built by hand).
        payload: the application data, unmasked (and still compressed
            when ``rsv1`` says so).
        fin: whether this is the last frame of its message.
        rsv1: the first reserved bit (permessage-deflate: a compressed message).
        rsv2: the second reserved bit.
        rsv3: the third reserved bit.
    """

    __slots__ = ("fin", "opcode", "payload", "rsv1", "rsv2", "rsv3")
    __hash__ = None  # type: ignore[assignment]

    def __init__(
        self,
        opcode: int,
        payload: bytes = b"",
        fin: bool = True,
        rsv1: bool = False,
        rsv2: bool = False,
        rsv3: bool = False,
    ) -> None:
        self.opcode = opcode
        self.payload = payload
        self.fin = fin
        self.rsv1 = rsv1
        self.rsv2 = rsv2
        self.rsv3 = rsv3

    def __eq__(self, other: object) -> bool:
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

    def __repr__(self) -> str:
        flags = "".join(f", {name}=True" for name in ("rsv1", "rsv2", "rsv3") if getattr(self, name))
        return (
            f"Frame({_opcode_repr(self.opcode)}, {_payload_repr(self.payload)}, fin={bool(self.fin)}{flags})"
        )


def _check_limit(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    value = operator.index(value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0")
    return value


class FrameParser:
    """Streaming frame parser: bytes cut anywhere in, complete frames out."""

    __slots__ = (
        "_buf",
        "_checked",
        "_compressed",
        "_error",
        "_header",
        "_max_compressed_size",
        "_max_frame_size",
        "_max_message_size",
        "_message_size",
        "_require_mask",
        "_text",
        "_utf8",
        "_validate_utf8",
    )

    def __init__(
        self,
        *,
        require_mask: bool | None = None,
        max_frame_size: int | None = None,
        max_message_size: int | None = None,
        validate_utf8: bool = False,
        max_compressed_size: int | None = None,
    ) -> None:
        self._require_mask = None if require_mask is None else bool(require_mask)
        self._max_frame_size = _check_limit("max_frame_size", max_frame_size)
        self._max_message_size = _check_limit("max_message_size", max_message_size)
        self._max_compressed_size = _check_limit("max_compressed_size", max_compressed_size)
        self._validate_utf8 = bool(validate_utf8)
        self._buf = bytearray()
        # Header of the frame whose payload is awaited:
        # (fin, rsv1, rsv2, rsv3, opcode, mask key or None, length).
        self._header: tuple[bool, bool, bool, bool, Opcode, bytes | None, int] | None = None
        # Payload bytes of the data message in progress, headers included so
        # far, and whether its first frame set RSV1 (compressed).
        self._message_size = 0
        self._compressed = False
        # Whether the data message in progress is text to validate, the
        # validator that follows it, and how many payload bytes of the frame
        # in progress it has already seen.
        self._text = False
        self._utf8 = Utf8Validator()
        self._checked = 0
        self._error: Exception | None = None

    # Limits may change between calls (a protocol tightens them as it goes).
    @property
    def require_mask(self) -> bool | None:
        return self._require_mask

    @require_mask.setter
    def require_mask(self, value: bool | None) -> None:
        self._require_mask = None if value is None else bool(value)

    @property
    def max_frame_size(self) -> int | None:
        return self._max_frame_size

    @max_frame_size.setter
    def max_frame_size(self, value: int | None) -> None:
        self._max_frame_size = _check_limit("max_frame_size", value)

    @property
    def max_message_size(self) -> int | None:
        return self._max_message_size

    @max_message_size.setter
    def max_message_size(self, value: int | None) -> None:
        self._max_message_size = _check_limit("max_message_size", value)

    @property
    def max_compressed_size(self) -> int | None:
        return self._max_compressed_size

    @max_compressed_size.setter
    def max_compressed_size(self, value: int | None) -> None:
        self._max_compressed_size = _check_limit("max_compressed_size", value)

    @property
    def validate_utf8(self) -> bool:
        return self._validate_utf8

    @validate_utf8.setter
    def validate_utf8(self, value: bool) -> None:
        self._validate_utf8 = bool(value)

    @property
    def buffered(self) -> int:
        """Bytes received and held for the frame in progress."""
        return len(self._buf)

    def reset(self) -> None:
        """Drop any partial frame and any error; start from a clean state."""
        self._buf = bytearray()
        self._header = None
        self._message_size = 0
        self._compressed = False
        self._text = False
        self._utf8.reset()
        self._checked = 0
        self._error = None

    def feed(self, data: Any) -> list[Frame]:
        """Parse ``data`` (appended to what is buffered); return complete frames.

        Raises:
            InvalidFrame: a header breaks RFC 6455 section 5 (1002).
            PayloadTooBig: a frame or data message exceeds its limit (1009).
            TypeError: ``data`` is not a C-contiguous bytes-like object.
        """
        return self._feed(_view(data), None)[0]

    def feed_some(self, data: Any, max_frames: int) -> tuple[list[Frame], int]:
        """Parse ``data`` until ``max_frames`` frames are complete.

        Returns:
            The frames (at most ``max_frames``) and how many bytes of
            ``data`` were consumed; the caller keeps the rest and feeds it
            later, unchanged.

        Raises:
            InvalidFrame: a header breaks RFC 6455 section 5 (1002).
            PayloadTooBig: a frame or data message exceeds its limit (1009).
            TypeError: ``data`` is not a C-contiguous bytes-like object, or
                ``max_frames`` is not an integer.
            OverflowError: ``max_frames`` is beyond a C ``Py_ssize_t``
                (``sys.maxsize``).
            ValueError: ``max_frames`` is below 1.
        """
        max_frames = operator.index(max_frames)  # as the compiled twin's C integer takes it
        if not -sys.maxsize - 1 <= max_frames <= sys.maxsize:
            raise OverflowError("Python int too large to convert to C ssize_t")
        if max_frames < 1:
            raise ValueError("max_frames must be >= 1")
        return self._feed(_view(data), max_frames)

    def _feed(self, view: memoryview, max_frames: int | None) -> tuple[list[Frame], int]:
        if self._error is not None:
            error = self._error
            raise type(error)(*error.args)
        buf = self._buf
        held = len(buf)
        buf += view
        frames: list[Frame] = []
        size = len(buf)
        pos = 0
        header = self._header
        try:
            while max_frames is None or len(frames) < max_frames:
                if header is None:
                    header, pos = self._parse_header(buf, pos, size)
                    if header is None:
                        break
                fin, rsv1, rsv2, rsv3, opcode, key, length = header
                text = self._text and opcode < 8
                if size - pos < length:
                    if text and size - pos > self._checked:
                        # Fail fast: validate the part of the payload that
                        # has arrived, without waiting for the whole frame.
                        self._check_text(buf[pos + self._checked : size], key, False)
                    break
                if key is None:
                    payload = bytes(buf[pos : pos + length])
                else:
                    payload = _xor(buf[pos : pos + length], key, 0)
                if text:
                    if key is None:
                        self._check_text(memoryview(payload)[self._checked :], None, fin)
                    else:
                        self._check_text(buf[pos + self._checked : pos + length], key, fin)
                    self._checked = 0
                pos += length
                frame = Frame(opcode, payload, fin, rsv1, rsv2, rsv3)
                frames.append(frame)
                header = None
        except (InvalidFrame, InvalidUTF8, PayloadTooBig) as exc:
            exc.frames = frames
            self._error = exc
            self._header = None
            del buf[:]
            raise
        self._header = header
        consumed = len(view)
        if header is None and pos < size and max_frames is not None and len(frames) >= max_frames:
            # Stopped at a frame boundary: the rest of ``data`` goes back.
            consumed = pos - held
            del buf[pos:]
        del buf[:pos]
        return frames, consumed

    def _check_text(self, chunk: Any, key: bytes | None, final: bool) -> None:
        """Validate more bytes of the text message in progress.

        ``chunk`` is still masked with ``key`` when ``key`` is not None; it
        starts ``self._checked`` bytes into the frame's payload.
        """
        if key is not None:
            chunk = _xor(chunk, key, self._checked)
        self._checked += len(chunk)
        utf8 = self._utf8
        # RFC 6455 section 8.1: "When an endpoint is to interpret a byte
        # stream as UTF-8 but finds that the byte stream is not, in fact, a
        # valid UTF-8 stream, that endpoint MUST _Fail the WebSocket
        # Connection_."
        if not utf8.feed(chunk):
            raise InvalidUTF8("invalid UTF-8 in a text message")
        if final:
            self._text = False
            if not utf8.finish():
                raise InvalidUTF8("incomplete UTF-8 sequence at the end of a text message")

    def _parse_header(
        self, buf: bytearray, pos: int, size: int
    ) -> tuple[tuple[bool, bool, bool, bool, Opcode, bytes | None, int] | None, int]:
        """Parse the header at ``pos``; (None, pos) when it is incomplete."""
        if size - pos < 2:
            return None, pos
        b0 = buf[pos]
        b1 = buf[pos + 1]
        fin = bool(b0 & 0x80)
        code = b0 & 0x0F
        opcode = _OPCODES.get(code)
        # RFC 6455 section 5.2: "If an unknown opcode is received, the
        # receiving endpoint MUST _Fail the WebSocket Connection_."
        if opcode is None:
            raise InvalidFrame(f"reserved opcode {code}")
        length = b1 & 0x7F
        masked = bool(b1 & 0x80)
        if code >= 8:
            # Section 5.5: "All control frames MUST have a payload length of
            # 125 bytes or less and MUST NOT be fragmented."
            if not fin:
                raise InvalidFrame("fragmented control frame")
            if length > MAX_CONTROL_PAYLOAD:
                raise InvalidFrame(f"control frame too long: {length} bytes")
        # Section 5.1: a server MUST close on an unmasked frame, a client on a
        # masked one.
        if self._require_mask is not None and masked != self._require_mask:
            if self._require_mask:
                raise InvalidFrame("incorrect masking: expected a masked frame")
            raise InvalidFrame("incorrect masking: expected an unmasked frame")
        start = pos + 2
        if length == 126:
            if size - start < 2:
                return None, pos
            (length,) = _unpack_H(buf, start)
            start += 2
        elif length == 127:
            if size - start < 8:
                return None, pos
            (length,) = _unpack_Q(buf, start)
            # Section 5.2: "the most significant bit MUST be 0".
            if length >> 63:
                raise InvalidFrame("payload length has the most significant bit set")
            start += 8
        limit = self._max_frame_size
        if limit is not None and length > limit:
            raise PayloadTooBig(f"frame of {length} bytes exceeds the limit of {limit} bytes")
        if code < 8:
            total = length if code else self._message_size + length
            # A message whose first frame sets RSV1 is compressed
            # (permessage-deflate, RFC 7692 section 6): it may have its own,
            # larger, limit on the wire.
            compressed = bool(b0 & 0x40) if code else self._compressed
            if compressed and self._max_compressed_size is not None:
                limit = self._max_compressed_size
                if total > limit:
                    raise PayloadTooBig(
                        f"compressed message of at least {total} bytes exceeds the limit of {limit} bytes"
                    )
            else:
                limit = self._max_message_size
                if limit is not None and total > limit:
                    raise PayloadTooBig(
                        f"message of at least {total} bytes exceeds the limit of {limit} bytes"
                    )
        if masked:
            if size - start < 4:
                return None, pos
            key: bytes | None = bytes(buf[start : start + 4])
            start += 4
        else:
            key = None
        if code < 8:
            # The header is complete: the frame is accepted into the message.
            self._message_size = 0 if fin else total
            if code:
                self._compressed = bool(b0 & 0x40)
                # A text message is validated unless an extension transformed
                # its payload (any RSV bit set on its first frame).
                self._text = code == 1 and self._validate_utf8 and not (b0 & 0x70)
                if self._text:
                    self._utf8.reset()
            self._checked = 0
        return (
            (fin, bool(b0 & 0x40), bool(b0 & 0x20), bool(b0 & 0x10), opcode, key, length),
            start,
        )


# -- encoding --------------------------------------------------------------------


def encode_frame(
    opcode: int,
    payload: Any,
    *,
    fin: bool = True,
    mask: Any = None,
    rsv1: bool = False,
    rsv2: bool = False,
    rsv3: bool = False,
) -> bytes:
    """Serialize one frame with the shortest length encoding.

    Raises:
        ValueError: unknown opcode, control frame not final or too long,
            mask not 4 bytes.
        TypeError: ``payload`` or ``mask`` is not bytes-like.
    """
    code = operator.index(opcode)
    if code not in _OPCODES:
        raise ValueError(f"invalid opcode {code}")
    view = _view(payload)
    length = view.nbytes
    if code >= 8:
        if not fin:
            raise ValueError("fragmented control frame")
        if length > MAX_CONTROL_PAYLOAD:
            raise ValueError(f"control frame too long: {length} bytes")
    if mask is True:
        key: bytes | None = _mask_key()
    elif mask is None or mask is False:
        key = None
    else:
        key = _check_key(mask)
    b0 = code | (0x80 if fin else 0) | (0x40 if rsv1 else 0) | (0x20 if rsv2 else 0) | (0x10 if rsv3 else 0)
    maskbit = 0x80 if key is not None else 0
    if length < 126:
        header = _pack_B2(b0, maskbit | length)
    elif length < 65536:
        header = _pack_B2H(b0, maskbit | 126, length)
    else:
        header = _pack_B2Q(b0, maskbit | 127, length)
    if key is None:
        return header + view
    return header + key + _xor(view, key, 0)


def encode_frame_header(
    opcode: int,
    length: int,
    *,
    fin: bool = True,
    mask: Any = None,
    rsv1: bool = False,
    rsv2: bool = False,
    rsv3: bool = False,
) -> bytes:
    """Serialize the header of a frame of ``length`` payload bytes, key included.

    The caller sends the payload after it, masked with the same key
    (:func:`apply_mask`) when there is one, so that a large payload is never
    copied into the frame.

    Raises:
        ValueError: unknown opcode, length negative or not under 2**63,
            control frame not final or too long, mask not 4 bytes.
        TypeError: ``opcode`` or ``length`` is not an integer, or ``mask``
            is not bytes-like.
    """
    code = operator.index(opcode)
    if code not in _OPCODES:
        raise ValueError(f"invalid opcode {code}")
    length = operator.index(length)
    if length < 0:
        raise ValueError("length must be >= 0")
    # RFC 6455 section 5.2: the 64-bit length's "most significant bit MUST be 0".
    if length >> 63:
        raise ValueError("length must be < 2**63")
    if code >= 8:
        if not fin:
            raise ValueError("fragmented control frame")
        if length > MAX_CONTROL_PAYLOAD:
            raise ValueError(f"control frame too long: {length} bytes")
    key = None if mask is None else _check_key(mask)
    b0 = code | (0x80 if fin else 0) | (0x40 if rsv1 else 0) | (0x20 if rsv2 else 0) | (0x10 if rsv3 else 0)
    maskbit = 0x80 if key is not None else 0
    if length < 126:
        header = _pack_B2(b0, maskbit | length)
    elif length < 65536:
        header = _pack_B2H(b0, maskbit | 126, length)
    else:
        header = _pack_B2Q(b0, maskbit | 127, length)
    if key is None:
        return header
    return header + key
