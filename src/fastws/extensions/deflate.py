"""permessage-deflate's codec (RFC 7692 sections 6 and 7.2): compression, bomb-proof decompression.

:class:`PerMessageDeflate` is the negotiated extension, one per connection:
it compresses the data frames it is given and decompresses the ones it
receives. The negotiation that creates it lives in
:mod:`fastws.extensions.permessage_deflate`.

Window sizes of 8 bits
----------------------
zlib (and zlib-ng) refuse ``wbits=8`` for raw deflate streams: since zlib
1.2.9 a deflate window of 256 bytes is not available. RFC 7692 only forbids
a *larger* window than the one negotiated (section 7.1.2.1: the server
"MUST NOT use an LZ77 sliding window greater than" ``2**server_max_window_bits``
bytes; section 7.1.2.2 says the same of the client), and what a window size
constrains on the wire is how far back a match may point. zlib's deflate
never emits a match farther back than ``window - 262`` bytes (its
``MAX_DIST``: the window minus the longest lookahead), which is 250 bytes
for ``wbits=9``. So when 8 bits are negotiated for the side we compress, we
compress with ``wbits=9`` and every back-reference stays inside 256 bytes:
a peer inflating with a 256-byte window decodes it (the tests check it
against an inflater set to 8 bits). ISA-L does not have that property (it
uses its whole window), so the ``isal`` backend compresses with the
standard library's zlib when 8 bits are negotiated. Decompression has no
such problem: inflate accepts 8 bits, and an inflater with a window at
least as large as the sender's always decodes the stream.

Compression bombs
-----------------
The decompressed size counts against the protocol's ``max_size``:
:meth:`PerMessageDeflate.decode` asks zlib for at most one byte more than
what the message may still hold (``decompressobj.decompress(data,
max_length)``), so a 1 KiB frame that would inflate to gigabytes costs no
more memory than the limit before the connection fails with 1009.

Backends
--------
``backend="zlib"`` (default, standard library), ``"zlib-ng"`` (the
``zlib-ng`` package: ``pip install zlib-ng``) or ``"isal"`` (the
``isal`` package: ``pip install isal``; compression levels 0-3, a
higher level is taken as 3), per factory, or for every factory created
afterwards with :func:`set_default_backend`. Every backend's stream is
standard deflate, so the peer need not know which one is used.
"""

from __future__ import annotations

import importlib
import zlib
from types import ModuleType
from typing import Any

from ..codec import Frame
from ..constants import Opcode
from ..exceptions import PayloadTooBig, ProtocolError
from .base import Extension

__all__ = [
    "BACKENDS",
    "DEFAULT_MEM_LEVEL",
    "DEFAULT_MIN_SIZE",
    "PerMessageDeflate",
    "compress_message",
    "get_backend",
    "get_default_backend",
    "set_default_backend",
]

#: The extension token (RFC 7692 section 7).
NAME = "permessage-deflate"
_CONT = Opcode.CONTINUATION

# RFC 7692 section 7.2.1: the sender removes the 4 octets 0x00 0x00 0xff
# 0xff (an empty stored block, as a sync flush ends) from the tail of the
# compressed message; section 7.2.2: the receiver appends them back.
_TAIL = b"\x00\x00\xff\xff"

#: Bytes asked of the inflater per call when the message size is bounded:
#: a bomb then costs at most the limit plus this much (see decode()).
_STEP = 65536

#: Module names of the backends, by the name users pass.
BACKENDS: dict[str, str] = {
    "zlib": "zlib",
    "zlib-ng": "zlib_ng.zlib_ng",
    "isal": "isal.isal_zlib",
}

_default_backend = "zlib"

#: Defaults (fastws.extensions.permessage_deflate gives the reasons).
DEFAULT_MIN_SIZE = 32
#: zlib's memLevel for compressing: 5 keeps a connection's deflate state small.
DEFAULT_MEM_LEVEL = 5


def get_backend(name: str | None = None) -> ModuleType:
    """Import a deflate backend.

    Args:
        name: ``"zlib"``, ``"zlib-ng"`` or ``"isal"``; None for the default
            (see :func:`set_default_backend`).

    Returns:
        A module with the standard ``zlib`` interface (``compressobj``,
        ``decompressobj``, ``Z_SYNC_FLUSH``, ``error``).

    Raises:
        ValueError: an unknown name.
        ImportError: the backend's package is not installed.
    """
    if name is None:
        name = _default_backend
    try:
        module = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown deflate backend {name!r}; choose one of {sorted(BACKENDS)}") from None
    if module == "zlib":
        return zlib
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"the {name!r} deflate backend needs the {name!r} package: pip install {name}"
        ) from exc


def set_default_backend(name: str) -> None:
    """Choose the backend of the factories created from now on.

    Args:
        name: ``"zlib"``, ``"zlib-ng"`` or ``"isal"``.

    Raises:
        ValueError: an unknown name.
        ImportError: the backend's package is not installed (checked now,
            not at the first connection).
    """
    global _default_backend
    get_backend(name)
    _default_backend = name


def get_default_backend() -> str:
    """The name of the backend new factories use by default."""
    return _default_backend


class PerMessageDeflate(Extension):
    """A negotiated permessage-deflate extension: one per connection.

    ``remote_*`` parameters describe what the peer compresses (what we
    decompress), ``local_*`` what we compress.

    Args:
        remote_no_context_takeover: the peer resets its compressor after
            each message, so we reset our decompressor too.
        local_no_context_takeover: reset our compressor after each message.
        remote_max_window_bits: the peer's window (8-15): our inflate window.
        local_max_window_bits: our deflate window (8-15; see the module
            docstring for 8).
        level: compression level (-1 for the backend's default).
        mem_level: zlib memLevel (1-9).
        min_size: messages shorter than this are sent uncompressed.
        backend: a backend name (see :func:`get_backend`) or module.

    Raises:
        ValueError: a window size, level or memory level out of range.
    """

    name = NAME
    rsv1 = True

    __slots__ = (
        "_compressobj_args",
        "_decoder",
        "_decoding",
        "_deflate",
        "_encoder",
        "_encoding",
        "_inflate",
        "_zerror",
        "level",
        "local_max_window_bits",
        "local_no_context_takeover",
        "mem_level",
        "min_size",
        "remote_max_window_bits",
        "remote_no_context_takeover",
    )

    def __init__(
        self,
        remote_no_context_takeover: bool = False,
        local_no_context_takeover: bool = False,
        remote_max_window_bits: int = 15,
        local_max_window_bits: int = 15,
        *,
        level: int = -1,
        mem_level: int = DEFAULT_MEM_LEVEL,
        min_size: int = DEFAULT_MIN_SIZE,
        backend: str | ModuleType | None = None,
    ) -> None:
        for name, bits in (
            ("remote_max_window_bits", remote_max_window_bits),
            ("local_max_window_bits", local_max_window_bits),
        ):
            if not 8 <= bits <= 15:
                raise ValueError(f"{name} must be between 8 and 15, got {bits}")
        if not -1 <= level <= 9:
            raise ValueError(f"level must be between -1 and 9, got {level}")
        if not 1 <= mem_level <= 9:
            raise ValueError(f"mem_level must be between 1 and 9, got {mem_level}")
        self.remote_no_context_takeover = remote_no_context_takeover
        self.local_no_context_takeover = local_no_context_takeover
        self.remote_max_window_bits = remote_max_window_bits
        self.local_max_window_bits = local_max_window_bits
        self.level = level
        self.mem_level = mem_level
        self.min_size = min_size
        module = backend if isinstance(backend, ModuleType) else get_backend(backend)
        # Inflating is the same job for every backend; the standard
        # library's is used unless a faster one was chosen.
        self._inflate = module
        deflate = module
        wbits = local_max_window_bits
        if wbits == 8:
            # Module docstring: zlib's deflate with 9 bits never points
            # more than 250 bytes back, inside a 256-byte window; ISA-L
            # uses its whole window, so it cannot stand in for 8 bits.
            wbits = 9
            if getattr(module, "__name__", "").startswith("isal"):
                deflate = zlib
        if getattr(deflate, "__name__", "").startswith("isal"):
            # ISA-L has levels 0-3 (its default is 2).
            level = 2 if level == -1 else min(level, 3)
        self._deflate = deflate
        self._compressobj_args = (level, deflate.DEFLATED, -wbits, mem_level)
        self._zerror = module.error
        self._decoder: Any = None
        self._encoder: Any = None
        # Whether the message being received / sent is compressed (RFC
        # 7692 section 6: RSV1 on its first frame).
        self._decoding = False
        self._encoding = False

    def __repr__(self) -> str:
        return (
            f"PerMessageDeflate(remote_no_context_takeover={self.remote_no_context_takeover}, "
            f"local_no_context_takeover={self.local_no_context_takeover}, "
            f"remote_max_window_bits={self.remote_max_window_bits}, "
            f"local_max_window_bits={self.local_max_window_bits})"
        )

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        """Decompress an incoming data frame when its message is compressed.

        Args:
            frame: a text, binary or continuation frame.
            max_size: bytes the message may still hold once decompressed
                (None: no limit).

        Returns:
            The frame with its payload decompressed and RSV1 cleared, or
            the frame itself when its message is not compressed.

        Raises:
            ProtocolError: RSV1 on a continuation frame, or a payload that
                is not a valid deflate stream (1002).
            PayloadTooBig: the message would exceed ``max_size`` (1009).
        """
        if frame.opcode == _CONT:
            # RFC 7692 section 6.1: "A message compressed [...] has the
            # RSV1 bit set on the first frame"; RFC 6455 section 5.2 makes
            # any other meaning of RSV1 a failure: on a continuation frame
            # it is a protocol error.
            if frame.rsv1:
                raise ProtocolError("RSV1 set on a continuation frame")
            if not self._decoding:
                return frame
        else:
            if not frame.rsv1:
                # An uncompressed message between compressed ones (section 6).
                self._decoding = False
                return frame
            self._decoding = True
            # Section 7.1.1: without context takeover the peer starts each
            # message with an empty LZ77 window; a fresh inflater matches it.
            if self.remote_no_context_takeover or self._decoder is None:
                self._decoder = self._inflate.decompressobj(-self.remote_max_window_bits)
        decoder = self._decoder
        data = frame.payload
        if frame.fin:
            # Section 7.2.2: append 0x00 0x00 0xff 0xff to the payload of
            # the message's last frame before decompressing.
            data += _TAIL
        try:
            if max_size is None:
                out = decoder.decompress(data)
            else:
                out = self._decompress_bounded(decoder, data, max_size)
        except self._zerror as exc:
            raise ProtocolError(f"invalid deflate data: {exc}") from None
        if frame.fin:
            self._decoding = False
            if decoder.eof:
                # The peer ended the stream with a final block (section
                # 7.2.3.3 allows BFINAL=1); the next message starts a new one.
                self._decoder = None
        return Frame(frame.opcode, out, frame.fin)

    @staticmethod
    def _decompress_bounded(decoder: Any, data: bytes, max_size: int) -> bytes:
        """Inflate ``data``, never holding more than ``max_size`` + one step.

        Asking zlib for ``max_size + 1`` bytes at once would bound the
        output too, but CPython builds such an output in growing blocks and
        joins them at the end: twice the limit at the peak. Steps of
        ``_STEP`` bytes keep a bomb's cost to the limit plus one step; a
        legitimate message is joined once at the end, as before.

        Raises:
            PayloadTooBig: the output exceeds ``max_size``.
        """
        step = _STEP if max_size >= _STEP else max_size + 1
        out = decoder.decompress(data, step)
        if len(out) < step and not decoder.unconsumed_tail:
            # The common case: everything inflated in one call.
            return out  # type: ignore[no-any-return]
        chunks = [out]
        total = len(out)
        # Each round either adds ``step`` bytes (bounded by max_size + 1)
        # or finishes, so this ends; the count is a second bound.
        for _ in range(max_size // step + 2):
            if total > max_size:
                raise PayloadTooBig(
                    f"message of at least {total} bytes after decompression exceeds the limit"
                )
            request = min(step, max_size + 1 - total)
            piece = decoder.decompress(decoder.unconsumed_tail, request)
            chunks.append(piece)
            total += len(piece)
            if len(piece) < request and not decoder.unconsumed_tail:
                break
        else:
            raise PayloadTooBig(f"message of at least {total} bytes after decompression exceeds the limit")
        if total > max_size:
            raise PayloadTooBig(f"message of at least {total} bytes after decompression exceeds the limit")
        return b"".join(chunks)

    @property
    def shared_compression(self) -> tuple[Any, ...] | None:
        """What decides how a whole message is compressed, if it is the same for every connection.

        None with context takeover (each message is compressed against the
        ones before it, on this connection only); otherwise a hashable key:
        connections with equal keys compress any message to the same bytes,
        so that :func:`compress_message` may do it once for all of them
        (``fastws.broadcast``).
        """
        if not self.local_no_context_takeover:
            return None
        return (self._deflate, self._compressobj_args, self.min_size)

    def encode(self, frame: Frame) -> Frame:
        """Compress an outgoing data frame.

        A message whose first frame is final and shorter than ``min_size``
        goes out uncompressed.

        Args:
            frame: a text, binary or continuation frame.

        Returns:
            The compressed frame (RSV1 set on a message's first frame), or
            the frame itself for an uncompressed message.
        """
        if frame.opcode == _CONT:
            if not self._encoding:
                return frame
        else:
            if frame.fin and len(frame.payload) < self.min_size:
                self._encoding = False
                return frame
            self._encoding = True
            if self.local_no_context_takeover or self._encoder is None:
                self._encoder = self._deflate.compressobj(*self._compressobj_args)
        encoder = self._encoder
        # Section 7.2.1: compress, end with an empty stored block (a sync
        # flush does), and remove its 4 octets from the message's tail. A
        # frame that is not the last keeps them: the receiver only adds
        # them back at the end of the message.
        data = encoder.compress(frame.payload) + encoder.flush(self._deflate.Z_SYNC_FLUSH)
        if frame.fin:
            self._encoding = False
            if data.endswith(_TAIL):
                data = data[:-4]
        return Frame(frame.opcode, data, frame.fin, frame.opcode != _CONT)


def compress_message(shared: tuple[Any, ...], payload: bytes) -> bytes | None:
    """Compress a whole message as every connection with ``shared`` compression would.

    Args:
        shared: a :attr:`PerMessageDeflate.shared_compression` key.
        payload: the message (UTF-8 encoded text, or binary).

    Returns:
        The payload of its single frame, to send with RSV1 set (RFC 7692
        section 7.2.1: compressed, ending with an empty stored block whose
        four octets are removed); None when the message is shorter than the
        connections' ``min_size`` and goes uncompressed.
    """
    module, args, min_size = shared
    if len(payload) < min_size:
        return None
    encoder = module.compressobj(*args)
    data: bytes = encoder.compress(payload) + encoder.flush(module.Z_SYNC_FLUSH)
    return data[:-4] if data.endswith(_TAIL) else data
