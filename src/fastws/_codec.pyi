"""The typed contract that both codec twins satisfy.

``fastws._codec`` (Cython) and ``fastws._codec_py`` (pure Python) export
exactly these names, with these signatures, and behave identically: same
results, same exception types, same messages. ``fastws.codec`` picks one.

Error messages (both twins, word for word; ``{...}`` are decimal integers):

============================================  ==============  ==========================================================
condition                                     exception       message
============================================  ==============  ==========================================================
mask not exactly 4 bytes                      ValueError      ``mask must be exactly 4 bytes, got {n}``
data / mask not a C-contiguous buffer         TypeError       ``a C-contiguous bytes-like object is required, not '{type}'``
buffer for in-place masking read-only         TypeError       ``a writable bytes-like object is required, not '{type}'``
reserved opcode in a frame header             InvalidFrame    ``reserved opcode {opcode}``
control frame payload over 125 bytes          InvalidFrame    ``control frame too long: {length} bytes``
control frame with FIN clear                  InvalidFrame    ``fragmented control frame``
64-bit length with the top bit set            InvalidFrame    ``payload length has the most significant bit set``
require_mask=True and the frame unmasked      InvalidFrame    ``incorrect masking: expected a masked frame``
require_mask=False and the frame masked       InvalidFrame    ``incorrect masking: expected an unmasked frame``
payload over max_frame_size                   PayloadTooBig   ``frame of {length} bytes exceeds the limit of {limit} bytes``
data message over max_message_size            PayloadTooBig   ``message of at least {size} bytes exceeds the limit of {limit} bytes``
compressed message over max_compressed_size   PayloadTooBig   ``compressed message of at least {size} bytes exceeds the limit of {limit} bytes``
validate_utf8: invalid text payload byte      InvalidUTF8     ``invalid UTF-8 in a text message``
validate_utf8: text ends mid-sequence         InvalidUTF8     ``incomplete UTF-8 sequence at the end of a text message``
encode_frame*: opcode not a known opcode      ValueError      ``invalid opcode {opcode}``
encode_frame*: control frame, fin=False       ValueError      ``fragmented control frame``
encode_frame*: control payload too long       ValueError      ``control frame too long: {length} bytes``
encode_frame_header: length negative          ValueError      ``length must be >= 0``
encode_frame_header: length 2**63 or more     ValueError      ``length must be < 2**63``
negative limit (``max_*_size``)               ValueError      ``{name} must be >= 0``
feed_some: ``max_frames`` below 1             ValueError      ``max_frames must be >= 1``
feed_some: ``max_frames`` over sys.maxsize    OverflowError   ``Python int too large to convert to C ssize_t``
============================================  ==============  ==========================================================

``encode_frame*`` is :func:`encode_frame` and :func:`encode_frame_header`;
the latter checks the opcode, then the length, then the control-frame rules,
then the mask.

The header checks run in this order: on the first two bytes, opcode,
control-frame FIN, the 7-bit length of a control frame, masking; on the
extended length, its top bit, the frame size limit, the message size limit
(only for data frames: continuation, text, binary; the message size is the
sum of the payload lengths of a message's frames, counted from the last
text/binary frame on; a message whose first frame sets RSV1, compressed by
permessage-deflate, is held to ``max_compressed_size`` instead when that is
not None, so that deflate's expansion of incompressible data fits); the
masking key comes last. A header is judged as
soon as the bytes that decide a check have arrived, so an oversized length
is refused before any payload byte is buffered.

With ``validate_utf8=True`` the parser also validates text messages as
their bytes arrive (RFC 6455 section 8.1), across fragments and inside a
frame that arrives in pieces, so invalid UTF-8 is refused at the first
byte that proves it, before the rest of the frame arrives. A text message
whose first frame has any RSV bit set is not validated: an extension
(permessage-deflate) transformed its payload, and whoever undoes the
transformation validates the result. Control frames are never validated. ``offset`` may be any
integer; the mask starts at ``mask[offset % 4]``.
"""

from typing import Literal

from typing_extensions import Buffer

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

IMPLEMENTATION: Literal["cython", "python"]

def apply_mask(data: Buffer, mask: Buffer, offset: int = 0) -> bytes:
    """XOR ``data`` with the 4-byte ``mask`` repeated, from ``mask[offset % 4]``.

    Raises:
        ValueError: ``mask`` is not exactly 4 bytes.
        TypeError: ``data`` or ``mask`` is not a C-contiguous bytes-like object.
    """

def apply_mask_inplace(buffer: Buffer, mask: Buffer, offset: int = 0) -> None:
    """XOR a writable buffer in place; same rules as :func:`apply_mask`.

    Raises:
        ValueError: ``mask`` is not exactly 4 bytes.
        TypeError: ``buffer`` is not a writable C-contiguous bytes-like
            object, or ``mask`` is not bytes-like.
    """

def validate_utf8(data: Buffer) -> bool:
    """Whether ``data`` is entirely valid UTF-8 (RFC 3629).

    Raises:
        TypeError: ``data`` is not a C-contiguous bytes-like object.
    """

class Utf8Validator:
    """Incremental, fail-fast UTF-8 validation across fragments."""

    def __init__(self) -> None: ...
    def feed(self, data: Buffer) -> bool:
        """Add bytes; False as soon as what was seen cannot start valid UTF-8.

        Once ``feed`` returned False, every later ``feed`` and ``finish``
        return False until :meth:`reset`.

        Raises:
            TypeError: ``data`` is not a C-contiguous bytes-like object.
        """
    def finish(self) -> bool:
        """True when everything fed is valid and no sequence is left open."""
    def reset(self) -> None:
        """Forget everything fed so far."""
    @property
    def valid(self) -> bool:
        """False once an invalid byte was seen (until :meth:`reset`)."""
    @property
    def pending(self) -> int:
        """Bytes of an incomplete sequence held at the end (0-3)."""

class Frame:
    """One WebSocket frame; the payload is unmasked."""

    fin: bool
    opcode: int
    payload: bytes
    rsv1: bool
    rsv2: bool
    rsv3: bool
    def __init__(
        self,
        opcode: int,
        payload: bytes = b"",
        fin: bool = True,
        rsv1: bool = False,
        rsv2: bool = False,
        rsv3: bool = False,
    ) -> None: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __repr__(self) -> str: ...

class FrameParser:
    """Streaming frame parser: bytes cut anywhere in, complete frames out.

    ``opcode`` on returned frames is a :class:`fastws.Opcode` member.
    """

    require_mask: bool | None
    max_frame_size: int | None
    max_message_size: int | None
    max_compressed_size: int | None
    validate_utf8: bool
    def __init__(
        self,
        *,
        require_mask: bool | None = None,
        max_frame_size: int | None = None,
        max_message_size: int | None = None,
        validate_utf8: bool = False,
        max_compressed_size: int | None = None,
    ) -> None: ...
    def feed(self, data: Buffer) -> list[Frame]:
        """Parse ``data`` (appended to what is buffered); return complete frames.

        Raises:
            InvalidFrame: a header breaks RFC 6455 section 5 (1002).
            PayloadTooBig: a frame or data message exceeds its limit (1009).
            InvalidUTF8: ``validate_utf8`` is on and a text message is not
                UTF-8 (1007).
            TypeError: ``data`` is not a C-contiguous bytes-like object.

        When an error is raised, the frames completed earlier in the same
        call are attached to the exception as ``exc.frames``. After an
        error the parser is broken: every later ``feed`` raises the same
        error again.
        """
    def feed_some(self, data: Buffer, max_frames: int) -> tuple[list[Frame], int]:
        """Parse ``data`` until ``max_frames`` frames are complete.

        Like :meth:`feed`, but stops at the frame boundary after
        ``max_frames`` frames and returns how many bytes of ``data`` it
        consumed (``len(data)`` when it did not stop early): the caller
        keeps the rest and feeds it later, unchanged. A caller that must
        not hold many frame objects at once (flow control) parses with it.

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
    @property
    def buffered(self) -> int:
        """Bytes received and held for the frame in progress."""
    def reset(self) -> None:
        """Drop any partial frame and any error; start from a clean state."""

def encode_frame(
    opcode: int,
    payload: Buffer,
    *,
    fin: bool = True,
    mask: Buffer | bool | None = None,
    rsv1: bool = False,
    rsv2: bool = False,
    rsv3: bool = False,
) -> bytes:
    """Serialize one frame with the shortest length encoding.

    ``mask``: None (unmasked, server to client), a 4-byte key, or True for a
    fresh random key, as :func:`_mask_key` draws it.

    Raises:
        ValueError: unknown opcode, control frame too long or not final,
            mask not 4 bytes.
        TypeError: ``payload`` or ``mask`` is not bytes-like.
    """

def encode_frame_header(
    opcode: int,
    length: int,
    *,
    fin: bool = True,
    mask: Buffer | None = None,
    rsv1: bool = False,
    rsv2: bool = False,
    rsv3: bool = False,
) -> bytes:
    """Serialize the header of a frame of ``length`` payload bytes, key included.

    The same header as :func:`encode_frame` writes before the payload; the
    caller sends the payload after it, masked with the same key
    (:func:`apply_mask`) when there is one, so that a large payload is never
    copied into the frame: ``transport.writelines([header, payload])``.
    ``mask`` is None or the 4-byte key itself (``True`` is not accepted: the
    caller needs the key to mask the payload).

    Raises:
        ValueError: unknown opcode, length negative or not under 2**63,
            control frame not final or too long, mask not 4 bytes.
        TypeError: ``opcode`` or ``length`` is not an integer, or ``mask``
            is not bytes-like.
    """

def _mask_key() -> bytes:
    """A fresh 4-byte masking key, never handed out before (private).

    RFC 6455 section 5.3: "the masking key MUST be derived from a strong
    source of entropy". Keys come from a pool filled by ``os.urandom`` (4 KiB,
    1024 keys, per call); each key is handed out once, also across threads,
    and a child process drops the pool it inherits from ``os.fork()``.

    Raises:
        OSError: ``os.urandom`` failed (no key is made up).
    """
