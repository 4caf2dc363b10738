"""permessage-deflate (RFC 7692): negotiation in both roles, compression, bomb-proof decompression.

Negotiation
-----------
:class:`ClientPerMessageDeflateFactory` builds the client's offer and checks
the server's answer; :class:`ServerPerMessageDeflateFactory` judges each of
the client's offers (``fastws.handshake.negotiate_extensions`` gives it the
offers in the client's order, so the server accepts the first acceptable
one). Both parse the four parameters of RFC 7692 section 7.1 strictly: a
parameter repeated, an unknown parameter, a value on a
``*_no_context_takeover`` parameter, a ``server_max_window_bits`` without a
value, a window size with leading zeros, a sign, or out of 8-15 (section
7.1.2: "a decimal integer value without leading zeroes between 8 to 15,
inclusive") make the offer unacceptable: the server declines it (answers
without it; the handshake still succeeds), the client fails the handshake.

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
against an inflater set to 8 bits). We therefore accept
``server_max_window_bits=8`` (and echo 8), and honour a server's
``client_max_window_bits=8``. ISA-L does not have that property (it uses
its whole window), so the ``isal`` backend compresses with the standard
library's zlib when 8 bits are negotiated. Decompression has no such
problem: inflate accepts 8 bits, and an inflater with a window at least as
large as the sender's always decodes the stream.

Compression bombs
-----------------
The decompressed size counts against the protocol's ``max_size``:
:meth:`PerMessageDeflate.decode` asks zlib for at most one byte more than
what the message may still hold (``decompressobj.decompress(data,
max_length)``), so a 1 KiB frame that would inflate to gigabytes costs no
more memory than the limit before the connection fails with 1009.

Memory per connection (defaults)
--------------------------------
A deflate stream costs ``2**(wbits+2) + 2**(memLevel+9)`` bytes plus about
6 KiB, an inflate stream ``2**wbits`` plus about 7 KiB, for as long as
context takeover keeps them. zlib's defaults (15 bits, memLevel 8) cost
about 300 KiB per connection with both directions compressed. A server with
many connections is better served, as websockets argues and measures, by
12-bit windows and memLevel 5 (about 50 KiB of zlib state per connection)
at a small cost in ratio on chat-like JSON (messages of a few hundred bytes
to a few KiB find their repetitions within 4 KiB); so the server asks for
``server_max_window_bits=12``, and ``client_max_window_bits=12`` when the
client allows it (browsers do), and compresses with memLevel 5. The client
offers ``client_max_window_bits`` (so that the server may shrink the
client's window) and uses memLevel 5 too. On the benchmark's JSON
messages (``bench/test_bench_compression.py``), 12 bits/memLevel 5 send
2% more bytes than 15/8 at 1 KiB and 6% more at 64 KiB. The level stays
zlib's default (6, as websockets); level 1 costs about half the CPU at
64 KiB for 20% more bytes: pass ``level=1`` when CPU matters more than
bandwidth. Messages shorter than
``min_size`` (32 bytes by default) are sent uncompressed: deflate cannot
win much on them, and RFC 7692 section 6 lets any message go uncompressed
(RSV1 clear) in between compressed ones.

Backends
--------
``backend="zlib"`` (default, standard library), ``"zlib-ng"`` (the
``zlib-ng`` package: ``pip install fastws[zlib-ng]``) or ``"isal"`` (the
``isal`` package: ``pip install fastws[isal]``; compression levels 0-3, a
higher level is taken as 3), per factory, or for every factory created
afterwards with :func:`set_default_backend`. Every backend's stream is
standard deflate, so the peer need not know which one is used.
"""

from __future__ import annotations

import importlib
import re
import zlib
from collections.abc import Sequence
from types import ModuleType
from typing import Any, TypeVar

from ..codec import Frame
from ..constants import Opcode
from ..exceptions import NegotiationError, PayloadTooBig, ProtocolError
from ..handshake import ClientExtensionFactory, ExtensionParameter, ServerExtensionFactory
from .base import Extension

__all__ = [
    "BACKENDS",
    "ClientPerMessageDeflateFactory",
    "PerMessageDeflate",
    "ServerPerMessageDeflateFactory",
    "get_backend",
    "get_default_backend",
    "set_default_backend",
]

_NAME = "permessage-deflate"
_CONT = Opcode.CONTINUATION

# RFC 7692 section 7.2.1: the sender removes the 4 octets 0x00 0x00 0xff
# 0xff (an empty stored block, as a sync flush ends) from the tail of the
# compressed message; section 7.2.2: the receiver appends them back.
_TAIL = b"\x00\x00\xff\xff"

#: Window bits in the RFC's grammar: "a decimal integer value without
#: leading zeroes between 8 to 15, inclusive" (section 7.1.2.1 / 7.1.2.2).
_WINDOW_BITS_RE = re.compile(r"8|9|1[0-5]")

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

#: Defaults; see the module docstring for the reasons.
DEFAULT_MIN_SIZE = 32
DEFAULT_MEM_LEVEL = 5
DEFAULT_SERVER_WINDOW_BITS = 12


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
            f"the {name!r} deflate backend needs the {name!r} package: pip install fastws[{name}]"
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

    name = _NAME
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


# -- negotiation -------------------------------------------------------------------


def _parse_params(params: Sequence[ExtensionParameter], *, response: bool) -> dict[str, Any]:
    """Check permessage-deflate parameters (RFC 7692 section 7.1).

    Returns:
        ``{name: value}``: None for the ``*_no_context_takeover`` flags and
        for a ``client_max_window_bits`` offer without value, else an int.

    Raises:
        NegotiationError: a repeated, unknown or malformed parameter.
    """
    found: dict[str, Any] = {}
    for name, value in params:
        # Section 7.1: "A server MUST decline an extension negotiation
        # offer for this extension if [...] the negotiation offer contains
        # an extension parameter not defined for use in an offer / the
        # negotiation offer has an extension parameter with an invalid
        # value / the negotiation offer has multiple extension parameters
        # with the same name." The client treats a response the same way.
        if name in found:
            raise NegotiationError(f"{_NAME}: duplicate parameter {name}")
        if name in ("server_no_context_takeover", "client_no_context_takeover"):
            # Sections 7.1.1.1 / 7.1.1.2: "This extension parameter has no value."
            if value is not None:
                raise NegotiationError(f"{_NAME}: {name} takes no value, got {value!r}")
            found[name] = None
        elif name in ("server_max_window_bits", "client_max_window_bits"):
            if value is None:
                # Section 7.1.2.2: a client may offer client_max_window_bits
                # without a value; everywhere else the value is required.
                if name == "client_max_window_bits" and not response:
                    found[name] = None
                    continue
                raise NegotiationError(f"{_NAME}: {name} needs a value")
            if _WINDOW_BITS_RE.fullmatch(value) is None:
                raise NegotiationError(f"{_NAME}: invalid {name} value {value!r}")
            found[name] = int(value)
        else:
            raise NegotiationError(f"{_NAME}: unknown parameter {name}")
    return found


def _check_bits(name: str, value: int | bool | None) -> None:
    if value is not None and not isinstance(value, bool) and not 8 <= value <= 15:
        raise ValueError(f"{name} must be between 8 and 15, got {value}")


_F = TypeVar("_F", bound="_FactorySettings")


class _FactorySettings:
    """The compression settings both factories hand to what they negotiate."""

    level: int
    mem_level: int
    min_size: int
    backend: str

    @classmethod
    def _from_option(cls: type[_F], compression: object) -> _F | None:
        """Resolve the asyncio API's ``compression`` option to a factory.

        Args:
            compression: ``"deflate"`` (a factory with the defaults), a
                factory of this class (used as it is) or None (no
                compression).

        Returns:
            The factory, or None.

        Raises:
            ValueError: anything else.
        """
        if compression == "deflate":
            return cls()
        if compression is None or isinstance(compression, cls):
            return compression
        raise ValueError(f"unsupported compression: {compression!r} (use 'deflate' or None)")

    def _set_settings(self, level: int, mem_level: int, min_size: int, backend: str | None) -> None:
        """Store the settings; fail now on an unknown or missing backend.

        Args:
            level, mem_level, min_size, backend: see :class:`PerMessageDeflate`
                (None: the default backend, see :func:`set_default_backend`).

        Raises:
            ValueError: ``backend`` is not a known backend name.
            ImportError: the backend's module is not installed.
        """
        self.level = level
        self.mem_level = mem_level
        self.min_size = min_size
        self.backend = backend if backend is not None else _default_backend
        get_backend(self.backend)

    def _extension(
        self,
        remote_no_context_takeover: bool,
        local_no_context_takeover: bool,
        remote_max_window_bits: int | None,
        local_max_window_bits: int | None,
    ) -> PerMessageDeflate:
        """Build the negotiated extension with these settings.

        Args:
            remote_no_context_takeover, local_no_context_takeover,
            remote_max_window_bits, local_max_window_bits: as negotiated,
                from this side's point of view; a window size left out of
                the negotiation (None) is 15, the RFC's default.

        Returns:
            The extension for this connection.
        """
        return PerMessageDeflate(
            remote_no_context_takeover,
            local_no_context_takeover,
            remote_max_window_bits or 15,
            local_max_window_bits or 15,
            level=self.level,
            mem_level=self.mem_level,
            min_size=self.min_size,
            backend=self.backend,
        )


class ClientPerMessageDeflateFactory(_FactorySettings, ClientExtensionFactory):
    """The client's permessage-deflate offer and its check of the answer.

    Args:
        server_no_context_takeover: ask the server to reset its compressor
            after each message.
        client_no_context_takeover: announce that we reset ours.
        server_max_window_bits: ask the server to use at most this window
            (8-15); None to leave it free.
        client_max_window_bits: True offers the parameter without a value
            (the server may then pick our window), 8-15 announces our
            largest window, None leaves the parameter out.
        level, mem_level, min_size, backend: see :class:`PerMessageDeflate`.

    Raises:
        ValueError: a window size out of range.
    """

    name = _NAME

    def __init__(
        self,
        server_no_context_takeover: bool = False,
        client_no_context_takeover: bool = False,
        server_max_window_bits: int | None = None,
        client_max_window_bits: int | bool | None = True,
        *,
        level: int = -1,
        mem_level: int = DEFAULT_MEM_LEVEL,
        min_size: int = DEFAULT_MIN_SIZE,
        backend: str | None = None,
    ) -> None:
        _check_bits("server_max_window_bits", server_max_window_bits)
        _check_bits("client_max_window_bits", client_max_window_bits)
        self.server_no_context_takeover = server_no_context_takeover
        self.client_no_context_takeover = client_no_context_takeover
        self.server_max_window_bits = server_max_window_bits
        self.client_max_window_bits = None if client_max_window_bits is False else client_max_window_bits
        self._set_settings(level, mem_level, min_size, backend)

    def get_request_params(self) -> list[ExtensionParameter]:
        """The parameters of the offer, in the RFC's order."""
        params: list[ExtensionParameter] = []
        if self.server_no_context_takeover:
            params.append(("server_no_context_takeover", None))
        if self.client_no_context_takeover:
            params.append(("client_no_context_takeover", None))
        if self.server_max_window_bits is not None:
            params.append(("server_max_window_bits", str(self.server_max_window_bits)))
        if self.client_max_window_bits is True:
            params.append(("client_max_window_bits", None))
        elif self.client_max_window_bits is not None:
            params.append(("client_max_window_bits", str(self.client_max_window_bits)))
        return params

    def process_response_params(
        self, params: Sequence[ExtensionParameter], accepted: Sequence[Extension]
    ) -> PerMessageDeflate:
        """Accept the server's answer to our offer.

        Args:
            params: the parameters of the server's permessage-deflate answer.
            accepted: extensions already accepted from the same response.

        Returns:
            The negotiated extension.

        Raises:
            NegotiationError: the answer is malformed, repeats the
                extension, or does not match what we offered.
        """
        if any(extension.name == _NAME for extension in accepted):
            raise NegotiationError(f"{_NAME} accepted twice")
        found = _parse_params(params, response=True)
        # Section 7.1.1.1: the server accepts an offer with
        # server_no_context_takeover by including it; it "MAY include [it]
        # [...] even if the extension negotiation offer [...] didn't".
        server_nct = "server_no_context_takeover" in found
        if self.server_no_context_takeover and not server_nct:
            raise NegotiationError(f"{_NAME}: server_no_context_takeover was asked for, not granted")
        # Section 7.1.1.2: the server may include client_no_context_takeover
        # in any response; we then must not use context takeover.
        client_nct = self.client_no_context_takeover or "client_no_context_takeover" in found
        # Section 7.1.2.1: the server answers an offer of
        # server_max_window_bits "with the same or smaller value", and may
        # include the parameter even when it was not offered.
        server_bits = found.get("server_max_window_bits")
        if self.server_max_window_bits is not None:
            if server_bits is None:
                raise NegotiationError(f"{_NAME}: server_max_window_bits was asked for, not granted")
            if server_bits > self.server_max_window_bits:
                raise NegotiationError(
                    f"{_NAME}: server_max_window_bits={server_bits} exceeds the "
                    f"{self.server_max_window_bits} offered"
                )
        # Section 7.1.2.2: "If a received extension negotiation response
        # includes the client_max_window_bits extension parameter and the
        # corresponding offer didn't, the client MUST _Fail the WebSocket
        # Connection_"; a value larger than the one offered is invalid too.
        client_bits = found.get("client_max_window_bits")
        if client_bits is not None:
            if self.client_max_window_bits is None:
                raise NegotiationError(f"{_NAME}: client_max_window_bits was not offered")
            if self.client_max_window_bits is not True and client_bits > self.client_max_window_bits:
                raise NegotiationError(
                    f"{_NAME}: client_max_window_bits={client_bits} exceeds the "
                    f"{self.client_max_window_bits} offered"
                )
        elif isinstance(self.client_max_window_bits, int) and self.client_max_window_bits is not True:
            client_bits = self.client_max_window_bits
        return self._extension(server_nct, client_nct, server_bits, client_bits)


class ServerPerMessageDeflateFactory(_FactorySettings, ServerExtensionFactory):
    """The server's judgement of the client's permessage-deflate offers.

    Args:
        server_no_context_takeover: reset our compressor after each message
            (and say so), whatever the client asked.
        client_no_context_takeover: ask the client to reset its compressor.
        server_max_window_bits: the largest window we compress with (8-15),
            announced in every answer; None for 15 unless the client asks
            for less. Default 12 (module docstring).
        client_max_window_bits: the window we ask the client to use when it
            offers ``client_max_window_bits`` (8-15); None to leave it the
            client's. Default 12.
        require_client_max_window_bits: decline offers that do not let us
            choose the client's window (for a hard bound on memory).
        level, mem_level, min_size, backend: see :class:`PerMessageDeflate`.

    Raises:
        ValueError: a window size out of range, or
            ``require_client_max_window_bits`` without
            ``client_max_window_bits``.
    """

    name = _NAME

    def __init__(
        self,
        server_no_context_takeover: bool = False,
        client_no_context_takeover: bool = False,
        server_max_window_bits: int | None = DEFAULT_SERVER_WINDOW_BITS,
        client_max_window_bits: int | None = DEFAULT_SERVER_WINDOW_BITS,
        require_client_max_window_bits: bool = False,
        *,
        level: int = -1,
        mem_level: int = DEFAULT_MEM_LEVEL,
        min_size: int = DEFAULT_MIN_SIZE,
        backend: str | None = None,
    ) -> None:
        _check_bits("server_max_window_bits", server_max_window_bits)
        _check_bits("client_max_window_bits", client_max_window_bits)
        if require_client_max_window_bits and client_max_window_bits is None:
            raise ValueError("require_client_max_window_bits needs client_max_window_bits")
        self.server_no_context_takeover = server_no_context_takeover
        self.client_no_context_takeover = client_no_context_takeover
        self.server_max_window_bits = server_max_window_bits
        self.client_max_window_bits = client_max_window_bits
        self.require_client_max_window_bits = require_client_max_window_bits
        self._set_settings(level, mem_level, min_size, backend)

    def process_request_params(
        self, params: Sequence[ExtensionParameter], accepted: Sequence[Extension]
    ) -> tuple[list[ExtensionParameter], PerMessageDeflate]:
        """Accept one offer, or decline it.

        Args:
            params: the parameters of the offer.
            accepted: extensions already accepted (a second
                permessage-deflate offer is declined: the first acceptable
                one was chosen).

        Returns:
            The answer's parameters and the negotiated extension.

        Raises:
            NegotiationError: the offer is declined.
        """
        if any(extension.name == _NAME for extension in accepted):
            raise NegotiationError(f"{_NAME} already accepted")
        found = _parse_params(params, response=False)
        answer: list[ExtensionParameter] = []
        # Section 7.1.1.1: accept server_no_context_takeover by including it.
        server_nct = self.server_no_context_takeover or "server_no_context_takeover" in found
        if server_nct:
            answer.append(("server_no_context_takeover", None))
        # Section 7.1.1.2: the offer's client_no_context_takeover is a
        # promise by the client; the server may also ask for it.
        client_nct = self.client_no_context_takeover or "client_no_context_takeover" in found
        if client_nct:
            answer.append(("client_no_context_takeover", None))
        # Section 7.1.2.1: accept server_max_window_bits by including it
        # "with the same or smaller value as the offer"; the server may
        # include it even when it was not offered.
        server_bits: int | None = found.get("server_max_window_bits")
        if self.server_max_window_bits is not None and (
            server_bits is None or self.server_max_window_bits < server_bits
        ):
            server_bits = self.server_max_window_bits
        if server_bits is not None and ("server_max_window_bits" in found or server_bits < 15):
            answer.append(("server_max_window_bits", str(server_bits)))
        # Section 7.1.2.2: the server may answer client_max_window_bits
        # only when it was offered, with a value no larger than the
        # offer's; without one in the answer the client keeps the window
        # it announced (or 15).
        client_bits: int | None = None
        if "client_max_window_bits" in found:
            offered = found["client_max_window_bits"]
            client_bits = offered
            if self.client_max_window_bits is not None and (
                offered is None or self.client_max_window_bits < offered
            ):
                client_bits = self.client_max_window_bits
            if client_bits is not None:
                answer.append(("client_max_window_bits", str(client_bits)))
        elif self.require_client_max_window_bits:
            raise NegotiationError(f"{_NAME}: the client does not offer client_max_window_bits")
        return answer, self._extension(client_nct, server_nct, client_bits, server_bits)
