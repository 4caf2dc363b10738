"""permessage-deflate (RFC 7692): its negotiation in both roles.

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
What is negotiated becomes a :class:`PerMessageDeflate`
(:mod:`fastws.extensions.deflate`: compression, decompression, backends),
which this module re-exports. Both factories accept a window of 8 bits
(``server_max_window_bits=8`` is echoed, a server's
``client_max_window_bits=8`` honoured): the codec's docstring says how.

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
client's window) and uses memLevel 5 too. The level stays zlib's default
(6, as websockets); a lower one trades bytes for CPU. What the smaller
window costs in bytes and each level in CPU is measured by
``bench/test_bench_compression.py`` (figures in ``bench/README.md``).
Messages shorter than ``min_size`` (32 bytes by default) are sent
uncompressed: deflate cannot win much on them, and RFC 7692 section 6 lets
any message go uncompressed (RSV1 clear) in between compressed ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, TypeVar

from ..exceptions import NegotiationError
from .base import ClientExtensionFactory, Extension, ExtensionParameter, ServerExtensionFactory
from .deflate import (
    BACKENDS,
    DEFAULT_MEM_LEVEL,
    DEFAULT_MIN_SIZE,
    NAME,
    PerMessageDeflate,
    get_backend,
    get_default_backend,
    set_default_backend,
)

__all__ = [
    "BACKENDS",
    "ClientPerMessageDeflateFactory",
    "PerMessageDeflate",
    "ServerPerMessageDeflateFactory",
    "get_backend",
    "get_default_backend",
    "set_default_backend",
]

#: Window bits in the RFC's grammar: "a decimal integer value without
#: leading zeroes between 8 to 15, inclusive" (section 7.1.2.1 / 7.1.2.2).
_WINDOW_BITS_RE = re.compile(r"8|9|1[0-5]")

#: The window the server asks for, for itself and for the client (see
#: the module docstring).
DEFAULT_SERVER_WINDOW_BITS = 12


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
            raise NegotiationError(f"{NAME}: duplicate parameter {name}")
        if name in ("server_no_context_takeover", "client_no_context_takeover"):
            # Sections 7.1.1.1 / 7.1.1.2: "This extension parameter has no value."
            if value is not None:
                raise NegotiationError(f"{NAME}: {name} takes no value, got {value!r}")
            found[name] = None
        elif name in ("server_max_window_bits", "client_max_window_bits"):
            if value is None:
                # Section 7.1.2.2: a client may offer client_max_window_bits
                # without a value; everywhere else the value is required.
                if name == "client_max_window_bits" and not response:
                    found[name] = None
                    continue
                raise NegotiationError(f"{NAME}: {name} needs a value")
            if _WINDOW_BITS_RE.fullmatch(value) is None:
                raise NegotiationError(f"{NAME}: invalid {name} value {value!r}")
            found[name] = int(value)
        else:
            raise NegotiationError(f"{NAME}: unknown parameter {name}")
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
        self.backend = backend if backend is not None else get_default_backend()
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

    name = NAME

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
        if any(extension.name == NAME for extension in accepted):
            raise NegotiationError(f"{NAME} accepted twice")
        found = _parse_params(params, response=True)
        # Section 7.1.1.1: the server accepts an offer with
        # server_no_context_takeover by including it; it "MAY include [it]
        # [...] even if the extension negotiation offer [...] didn't".
        server_nct = "server_no_context_takeover" in found
        if self.server_no_context_takeover and not server_nct:
            raise NegotiationError(f"{NAME}: server_no_context_takeover was asked for, not granted")
        # Section 7.1.1.2: the server may include client_no_context_takeover
        # in any response; we then must not use context takeover.
        client_nct = self.client_no_context_takeover or "client_no_context_takeover" in found
        # Section 7.1.2.1: the server answers an offer of
        # server_max_window_bits "with the same or smaller value", and may
        # include the parameter even when it was not offered.
        server_bits = found.get("server_max_window_bits")
        if self.server_max_window_bits is not None:
            if server_bits is None:
                raise NegotiationError(f"{NAME}: server_max_window_bits was asked for, not granted")
            if server_bits > self.server_max_window_bits:
                raise NegotiationError(
                    f"{NAME}: server_max_window_bits={server_bits} exceeds the "
                    f"{self.server_max_window_bits} offered"
                )
        # Section 7.1.2.2: "If a received extension negotiation response
        # includes the client_max_window_bits extension parameter and the
        # corresponding offer didn't, the client MUST _Fail the WebSocket
        # Connection_"; a value larger than the one offered is invalid too.
        client_bits = found.get("client_max_window_bits")
        if client_bits is not None:
            if self.client_max_window_bits is None:
                raise NegotiationError(f"{NAME}: client_max_window_bits was not offered")
            if self.client_max_window_bits is not True and client_bits > self.client_max_window_bits:
                raise NegotiationError(
                    f"{NAME}: client_max_window_bits={client_bits} exceeds the "
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

    name = NAME

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
        if any(extension.name == NAME for extension in accepted):
            raise NegotiationError(f"{NAME} already accepted")
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
            raise NegotiationError(f"{NAME}: the client does not offer client_max_window_bits")
        return answer, self._extension(client_nct, server_nct, client_bits, server_bits)
