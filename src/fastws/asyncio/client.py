"""The asyncio WebSocket client: :func:`connect` and :class:`ClientConnection`.

``ws = await connect("ws://host/path")`` or ``async with connect(...) as ws``
opens the TCP (or TLS, for ``wss://``) connection, runs the opening
handshake within ``open_timeout`` and returns the open connection.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl as ssl_module
from collections.abc import AsyncIterator, Generator, Sequence
from types import TracebackType
from typing import Any

from ..client import ClientProtocol
from ..constants import State
from ..escaping import escape
from ..exceptions import InvalidHandshake, InvalidMessage, InvalidStatus
from ..extensions.permessage_deflate import ClientPerMessageDeflateFactory
from ..handshake import USER_AGENT
from ..headers import HeadersLike
from ..options import client_protocol_options, client_tls, connection_options
from .connection import Connection

__all__ = ["BACKOFF_FACTOR", "BACKOFF_MAX", "BACKOFF_MIN", "ClientConnection", "connect"]

_CLOSED = State.CLOSED

logger = logging.getLogger("fastws.client")

#: ``async for ws in connect(...)`` waits this long after the first failed
#: attempt, then this many times longer after each, up to the maximum
#: (seconds, with jitter: between half and all of it), as websockets does.
BACKOFF_MIN = 1.0
#: How many times longer each wait is than the one before.
BACKOFF_FACTOR = 1.6
#: The longest wait between two attempts, in seconds.
BACKOFF_MAX = 60.0

#: HTTP statuses after which a server may accept a new attempt.
_RETRY_STATUSES = frozenset((408, 429, 500, 502, 503, 504))


class ClientConnection(Connection, asyncio.BufferedProtocol):
    """The client side of one WebSocket connection (what :func:`connect` returns).

    Besides the :class:`~fastws.asyncio.connection.Connection` API it has
    ``request`` (what was sent) and ``response`` (the server's 101 answer,
    with its ``headers``).
    """

    def __init__(self, protocol: ClientProtocol, **kwargs: Any) -> None:
        super().__init__(protocol, **kwargs)
        self._handshake: asyncio.Future[None] = self.loop.create_future()

    __slots__ = ("_handshake",)

    def _after_handshake_input(self) -> None:
        if not self._handshake.done():
            exc = getattr(self.protocol, "handshake_exc", None)
            if exc is not None:
                self._handshake.set_exception(exc)

    def _handshake_event(self, event: Any) -> None:
        # The only non-message event a client protocol emits: the validated
        # 101 response, after which the connection is open.
        # (The same read may also have brought frames, a close frame even,
        # so the state may already be past OPEN.)
        self.response = event
        if not self._handshake.done():
            self._handshaking = False
            self._handshake.set_result(None)
            self._start_keepalive()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if not self._handshake.done():
            error = getattr(self.protocol, "handshake_exc", None) or InvalidMessage(
                "connection closed during the opening handshake"
            )
            if exc is not None and error.__cause__ is None:
                error.__cause__ = exc
            self._handshake.set_exception(error)
            self._handshake.exception()  # retrieved: connect() may be gone


class connect:
    """Open a WebSocket connection; ``await`` it or use it with ``async with``.

    Args:
        uri: ``ws://host[:port]/path`` or ``wss://...``; IPv6 literals in
            brackets (``ws://[::1]:8765/``).
        ssl: an :class:`ssl.SSLContext` for ``wss://``; by default
            :func:`ssl.create_default_context`, which verifies the server's
            certificate and host name.
        server_hostname: the name to check the certificate against (default:
            the URI's host).
        host, port: connect here instead of the URI's host and port (the URI
            still gives the Host header and the TLS server name).
        sock: an already connected socket to use instead.
        subprotocols: subprotocols to offer, in order of preference.
        origin: the Origin header to send.
        additional_headers: extra request headers (a mapping, pairs or
            :class:`fastws.headers.Headers`).
        user_agent_header: the User-Agent header; None sends none.
        open_timeout: seconds for the TCP/TLS connection and the opening
            handshake together; None waits forever.
        close_timeout: seconds the closing handshake may take.
        ping_interval: seconds between keepalive pings (None: none).
        ping_timeout: seconds to wait for a keepalive pong before failing
            the connection with 1011 (None: forever).
        max_size: the largest message accepted, in bytes (1009 beyond it);
            None for no limit.
        max_queue: received messages waiting for ``recv()`` before delivery
            stops (an int, or a ``(high, low)`` tuple; None: no count limit);
            the input behind them waits, at its wire size, and reading
            pauses once that passes 256 KiB.
        max_queue_bytes: payload bytes those messages may hold before
            delivery stops (a single larger message still enters an empty
            queue); None: no byte limit. With ``max_size`` it bounds what a
            connection whose application does not read can cost: about
            ``max_queue_bytes + max_size`` plus 256 KiB of input.
        write_limit: the write buffer's high-water mark, in bytes.
        compression: ``"deflate"`` (the default) offers permessage-deflate
            (RFC 7692) with :class:`~fastws.extensions.ClientPerMessageDeflateFactory`'s
            defaults; a ``ClientPerMessageDeflateFactory`` offers it with
            its settings; None offers no compression.
        protocol_options: extra keyword arguments for
            :class:`fastws.client.ClientProtocol` (e.g. ``max_fragments``).
        **kwargs: passed to :meth:`asyncio.loop.create_connection`.

    Raises:
        ValueError: a bad URI, ``ssl`` with ``ws://`` (or False with
            ``wss://``), an unknown ``compression``, or ``max_queue``,
            ``max_queue_bytes`` or ``write_limit`` out of range.
        TypeError: ``write_limit`` is not an int or a tuple of ints.
        InvalidHandshake: the server refused or botched the handshake.
        TimeoutError: the opening handshake took longer than ``open_timeout``.
        OSError: the TCP connection failed.
    """

    def __init__(
        self,
        uri: str,
        *,
        ssl: ssl_module.SSLContext | bool | None = None,
        server_hostname: str | None = None,
        host: str | None = None,
        port: int | None = None,
        sock: Any = None,
        subprotocols: Sequence[str] | None = None,
        origin: str | None = None,
        additional_headers: HeadersLike | None = None,
        user_agent_header: str | None = USER_AGENT,
        open_timeout: float | None = 10,
        close_timeout: float | None = 10,
        ping_interval: float | None = 20,
        ping_timeout: float | None = 20,
        max_size: int | None = 2**20,
        max_queue: int | tuple[int, int | None] | None = 128,
        max_queue_bytes: int | None = 4 * 2**20,
        write_limit: int | tuple[int, int | None] = 32768,
        compression: str | ClientPerMessageDeflateFactory | None = "deflate",
        protocol_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        arguments = locals()
        self._protocol_kwargs = client_protocol_options(arguments)
        uri_host, uri_port, self._ssl = client_tls(uri, ssl)  # raises ValueError
        self.uri = uri
        self._server_hostname = server_hostname
        self._host = host if host is not None else uri_host
        self._port = port if port is not None else uri_port
        self._uri_host = uri_host
        self._sock = sock
        self._connection_kwargs = connection_options(arguments)
        self.open_timeout = open_timeout
        self.backoff_min = BACKOFF_MIN
        self.backoff_factor = BACKOFF_FACTOR
        self.backoff_max = BACKOFF_MAX
        self._kwargs = kwargs
        self.connection: ClientConnection | None = None

    def _make_protocol(self) -> ClientProtocol:
        return ClientProtocol(self.uri, **self._protocol_kwargs)

    async def _connect(self) -> ClientConnection:
        loop = asyncio.get_running_loop()
        protocol = self._make_protocol()
        connection_kwargs = self._connection_kwargs

        def factory() -> ClientConnection:
            return ClientConnection(protocol, **connection_kwargs)

        kwargs = dict(self._kwargs)
        if self._ssl is not None:
            kwargs["ssl"] = self._ssl
            kwargs["server_hostname"] = self._server_hostname or self._uri_host
        if self._sock is not None:
            transport, connection = await loop.create_connection(factory, sock=self._sock, **kwargs)
        else:
            transport, connection = await loop.create_connection(factory, self._host, self._port, **kwargs)
        try:
            request = protocol.connect()
            connection.request = request
            protocol.send_request(request)
            connection._flush()
            await asyncio.shield(connection._handshake)
        except BaseException:
            transport.abort()
            raise
        return connection

    async def _open(self) -> ClientConnection:
        if self.open_timeout is None:
            connection = await self._connect()
        else:
            connection = await asyncio.wait_for(self._connect(), self.open_timeout)
        self.connection = connection
        return connection

    def __await__(self) -> Generator[Any, None, ClientConnection]:
        return self._open().__await__()

    async def __aenter__(self) -> ClientConnection:
        return await self._open()

    async def __aiter__(self) -> AsyncIterator[ClientConnection]:
        """Connect, and connect again after the connection is lost, forever.

        ::

            async for ws in fastws.connect("wss://example.com/feed"):
                try:
                    async for message in ws:
                        ...
                except fastws.ConnectionClosed:
                    continue  # the server restarted: connect again

        A failed attempt (the server unreachable, the handshake timing out
        or refused with 408, 429 or 5xx) is retried after a delay that grows
        exponentially from :data:`BACKOFF_MIN` to :data:`BACKOFF_MAX` (the
        instance's ``backoff_min``, ``backoff_factor``, ``backoff_max``),
        with jitter, and logged; a successful connection resets it. A
        connection the loop's body leaves open is closed before the next
        attempt. After ``break``, the current connection is yours: close it
        (Python does not finish an ``async for`` generator on ``break``).

        Raises:
            InvalidHandshake: the server refused the handshake for good
                (any other status, a bad answer): retrying would not help.
            ValueError: an invalid option.
        """
        delay = self.backoff_min
        while True:
            try:
                connection = await self._open()
            except (OSError, asyncio.TimeoutError, InvalidHandshake) as exc:
                if isinstance(exc, InvalidHandshake) and not _retryable(exc):
                    raise
                wait = delay * (0.5 + random.random() / 2)
                logger.info(
                    "connecting to %s failed (%s); retrying in %.1f s", self.uri, escape(str(exc)), wait
                )
                await asyncio.sleep(wait)
                delay = min(delay * self.backoff_factor, self.backoff_max)
                continue
            delay = self.backoff_min
            try:
                yield connection
            finally:
                if connection.state is not _CLOSED:
                    await connection.close()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self.connection is not None
        await self.connection.close()


def _retryable(exc: InvalidHandshake) -> bool:
    """Whether a new attempt may succeed after this handshake failure."""
    if isinstance(exc, InvalidStatus):
        return exc.status in _RETRY_STATUSES
    return isinstance(exc, InvalidMessage)  # the connection was cut during the handshake
