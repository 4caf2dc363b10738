"""The asyncio WebSocket server: :func:`serve`, :class:`Server`, :class:`ServerConnection`.

``serve(handler, host, port)`` listens; for each TCP connection it runs the
opening handshake (bounded by ``open_timeout``, so a peer that sends its
request byte by byte, or never, is dropped), then calls ``await
handler(connection)`` in a task. When the handler returns the connection is
closed with 1000; when it raises, the error is logged and the connection is
closed with 1011; the server itself is never affected. A plain-function
handler is called instead at once, with no task: it sets callbacks
(``on_message``, ``on_close``) and the connection lives on them until either
side closes it. Shutting the server down closes every open connection with
1001 (going away) and waits for the handlers.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Generator, Sequence
from types import TracebackType
from typing import Any

from ..escaping import escape
from ..exceptions import ConnectionClosed, InvalidState
from ..extensions.permessage_deflate import ServerPerMessageDeflateFactory
from ..forwarded import TrustedProxies, client_address
from ..handshake import USER_AGENT
from ..http11 import Request, Response
from ..options import connection_options, server_protocol_options
from ..protocol import State
from ..pubsub import PubSub
from ..server import ServerProtocol
from .connection import Connection
from .fanout import BroadcastResult
from .topics import Topics

__all__ = ["Server", "ServerConnection", "serve"]

_CLOSED = State.CLOSED
_CONNECTING = State.CONNECTING
_OPEN = State.OPEN

logger = logging.getLogger("fastws.server")

# A coroutine function, or a plain function that sets callbacks (or returns
# something to await).
Handler = Callable[["ServerConnection"], Awaitable[Any] | None]
ProcessRequest = Callable[["ServerConnection", Request], Response | Awaitable[Response | None] | None]
ProcessResponse = Callable[
    ["ServerConnection", Request, Response], Response | Awaitable[Response | None] | None
]


class ServerConnection(Connection, asyncio.BufferedProtocol):
    """The server side of one WebSocket connection (the handler's argument).

    Besides the :class:`~fastws.asyncio.connection.Connection` API it has
    ``request`` (the client's opening handshake request, with ``path`` and
    ``headers``), ``response`` (what the server answered), ``server``, and
    topics: :meth:`subscribe`, :meth:`unsubscribe`, :attr:`topics` (see
    :meth:`Server.publish`).
    """

    __slots__ = ("_handshake_tasks", "_open_handle", "_topics", "handler_task", "server")

    def __init__(self, protocol: ServerProtocol, server: Server, **kwargs: Any) -> None:
        super().__init__(protocol, **kwargs)
        self.server = server
        # Made on first use: most connections never subscribe, nor run a
        # process_request coroutine, and an empty set costs 216 bytes.
        self._topics: set[str] | None = None
        self.handler_task: asyncio.Task[None] | None = None
        self._open_handle: asyncio.TimerHandle | None = None
        self._handshake_tasks: set[asyncio.Task[None]] | None = None

    def _keep(self, task: asyncio.Task[None]) -> None:
        # The event loop holds tasks weakly: keep a reference until done.
        tasks = self._handshake_tasks
        if tasks is None:
            tasks = self._handshake_tasks = set()
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def respond(self, status: int, text: str) -> Response:
        """Build an HTTP response that refuses the handshake (for ``process_request``).

        Args:
            status: the HTTP status code, e.g. 401 or 404.
            text: the body, sent as ``text/plain``.

        Returns:
            the response; return it from ``process_request`` to send it.
        """
        return self.protocol.reject(status, text)  # type: ignore[attr-defined,no-any-return]

    # -- opening handshake ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        server = self.server
        server.connections.add(self)
        if server.open_timeout is not None:
            self._open_handle = self.loop.call_later(server.open_timeout, self._open_timed_out)

    def _open_timed_out(self) -> None:
        self._open_handle = None
        if self.protocol.state is _CONNECTING and not self._lost:
            # The request did not arrive (or was not answered) in time: a
            # slow or idle peer must not hold a connection forever.
            logger.debug("opening handshake timed out; dropping %s", self.remote_address)
            self.transport.abort()

    def _after_handshake_input(self) -> None:
        protocol = self.protocol
        if protocol.state is _CLOSED and self._open_handle is not None:
            # A malformed request: the protocol queued its 4xx answer and
            # the end of the connection; nothing else will happen.
            exc = getattr(protocol, "handshake_exc", None)
            if exc is not None:
                # The message quotes what the client sent: escaped.
                logger.debug("opening handshake failed: %s", escape(str(exc)))
            self._open_handle.cancel()
            self._open_handle = None
            self._start_close_timer()

    def _handshake_event(self, event: Any) -> None:
        if isinstance(event, Request):
            self.request = event
            server = self.server
            if server.process_request is None and server.process_response is None:
                self._answer(event, None)
            else:
                self._keep(self.loop.create_task(self._process(event)))

    async def _process(self, request: Request) -> None:
        server = self.server
        try:
            response: Response | None = None
            if server.process_request is not None:
                result = server.process_request(self, request)
                response = await result if inspect.isawaitable(result) else result
            self._answer(request, response)
        except Exception:
            logger.error("process_request / process_response failed", exc_info=True)
            if not self._lost and self.protocol.state is _CONNECTING:
                self._send_response(self.protocol.reject(500, "Internal Server Error\n"))  # type: ignore[attr-defined]

    def _answer(self, request: Request, response: Response | None) -> None:
        if self._lost:
            return
        protocol: ServerProtocol = self.protocol  # type: ignore[assignment]
        if response is None:
            response = protocol.accept(request)
            hook = self.server.process_response
            if hook is not None:
                modified = hook(self, request, response)
                if inspect.isawaitable(modified):
                    # Keep the handshake on the fast path unless the hook
                    # actually needs to wait.
                    self._keep(self.loop.create_task(self._answer_later(modified, response)))
                    return
                if modified is not None:
                    response = modified
        self._send_response(response)

    async def _answer_later(self, modified: Awaitable[Response | None], response: Response) -> None:
        try:
            result = await modified
        except Exception:
            logger.error("process_response failed", exc_info=True)
            result = self.protocol.reject(500, "Internal Server Error\n")  # type: ignore[attr-defined]
        if not self._lost:
            self._send_response(result if result is not None else response)

    def _send_response(self, response: Response) -> None:
        protocol: ServerProtocol = self.protocol  # type: ignore[assignment]
        self.response = response
        protocol.send_response(response)
        # Frames the client sent before the 101 are parsed by send_response.
        events = protocol.events_received()
        if events:
            self._process_events(events)
        self._wake_recv()
        self._flush()
        if self._open_handle is not None:
            self._open_handle.cancel()
            self._open_handle = None
        if protocol.state is _OPEN:
            self._handshaking = False
            self._start_keepalive()
            self._start_handler()
        else:
            self._start_close_timer()

    def _start_handler(self) -> None:
        # A coroutine function's coroutine runs in a task. A plain function
        # sets callbacks and returns: the connection lives on without a task,
        # until either side closes it.
        try:
            result = self.server.handler(self)
        except Exception as exc:
            self._handler_failed(exc)
            return
        if result is not None and inspect.isawaitable(result):
            # A coroutine, or something else to await (returned by a
            # functools.partial of a coroutine function, a lambda...).
            self._run_in_task(result)

    def _run_in_task(self, awaitable: Awaitable[Any]) -> None:
        task = self.handler_task = self.loop.create_task(self._run_handler(awaitable))
        handler_tasks = self.server.handler_tasks
        handler_tasks.add(task)
        task.add_done_callback(handler_tasks.discard)

    def _handler_failed(self, exc: Exception) -> None:
        if isinstance(exc, ConnectionClosed):
            # The message quotes the peer's close reason: escaped.
            logger.debug("handler ended on a closed connection: %s", escape(str(exc)))
        else:
            # RFC 6455 section 7.4.1: 1011 "indicates that a server is
            # terminating the connection because it encountered an
            # unexpected condition that prevented it from fulfilling the
            # request".
            logger.error("connection handler failed", exc_info=exc)
            self._start_closing(1011, "internal error")

    async def _run_handler(self, awaitable: Awaitable[Any]) -> None:
        try:
            await awaitable
        except Exception as exc:
            self._handler_failed(exc)
        except asyncio.CancelledError:
            self._start_closing(1001, "going away")
            raise
        try:
            await self.close()
        except Exception:  # pragma: no cover - close() only waits
            logger.debug("error while closing", exc_info=True)

    def connection_lost(self, exc: Exception | None) -> None:
        # The server lets go first: on_close (run by the base class) finds
        # the connection gone from server.connections and its topics.
        if self._open_handle is not None:
            self._open_handle.cancel()
            self._open_handle = None
        self.server.connections.discard(self)
        topics, self._topics = self._topics, None
        if topics:
            for topic in topics:
                self.server.topics.unsubscribe(self, topic)
        super().connection_lost(exc)

    @property
    def client_address(self) -> Any:
        """The client's address: :attr:`~fastws.asyncio.stream.Stream.remote_address`, or, behind a trusted
        proxy (``serve(forwarded_allow_ips=...)``), what ``X-Forwarded-For``
        says (``(host, 0)``: see :mod:`fastws.forwarded`)."""
        trusted = self.server.forwarded_allow_ips
        if trusted is None or self.request is None:
            return self.remote_address
        return client_address(self.remote_address, self.request.headers, trusted)

    # -- topics ----------------------------------------------------------------------

    @property
    def topics(self) -> frozenset[str]:
        """The topics this connection is subscribed to."""
        return frozenset(self._topics or ())

    def subscribe(self, topic: str) -> None:
        """Receive what :meth:`Server.publish` publishes to ``topic``, until closed.

        Raises:
            InvalidState: the connection is closed.
        """
        if self._lost:
            raise InvalidState("a closed connection cannot subscribe")
        topics = self._topics
        if topics is None:
            topics = self._topics = set()
        if topic not in topics:
            topics.add(topic)
            self.server.topics.subscribe(self, topic)

    def unsubscribe(self, topic: str) -> None:
        """Stop receiving ``topic`` (nothing happens if not subscribed)."""
        topics = self._topics
        if topics and topic in topics:
            topics.discard(topic)
            self.server.topics.unsubscribe(self, topic)


class Server:
    """A listening WebSocket server; returned by :func:`serve`.

    Attributes:
        connections: the connections currently open (or opening).
        handler_tasks: the running handler tasks (a plain-function
            handler's connections have none).
        topics: the topics and their subscribers in this process, and the
            pub/sub backend (:class:`~fastws.asyncio.topics.Topics`).
    """

    def __init__(
        self,
        handler: Handler,
        *,
        process_request: ProcessRequest | None = None,
        process_response: ProcessResponse | None = None,
        open_timeout: float | None = 10,
        close_timeout: float | None = 10,
        pubsub: PubSub | None = None,
        max_backlog: int | None = None,
        forwarded_allow_ips: str | Sequence[str] | None = None,
    ) -> None:
        self.topics = Topics(pubsub, max_backlog=max_backlog)
        self.forwarded_allow_ips = (
            None if forwarded_allow_ips is None else TrustedProxies(forwarded_allow_ips)
        )
        self.handler = handler
        self.process_request = process_request
        self.process_response = process_response
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self.connections: set[ServerConnection] = set()
        self.handler_tasks: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None
        self._close_task: asyncio.Task[None] | None = None
        self._done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def publish(self, topic: str, message: str | bytes) -> BroadcastResult:
        """Send ``message`` to every connection subscribed to ``topic``, in every process.

        The subscribers of this process get it at once, through
        :func:`~fastws.asyncio.fanout.broadcast` (encoded, and compressed,
        once); the server's pub/sub backend (``serve(pubsub=...)``) carries
        it to the other processes.

        Returns:
            What happened to this process's subscribers.

        Raises:
            TypeError: ``message`` is neither ``str`` nor bytes-like.
        """
        return self.topics.publish(topic, message)

    @property
    def sockets(self) -> tuple[Any, ...]:
        """The listening sockets (``server.sockets[0].getsockname()`` gives the port)."""
        return tuple(self.server.sockets) if self.server is not None else ()

    def is_serving(self) -> bool:
        """Whether the server accepts new connections."""
        return self.server is not None and self.server.is_serving()

    async def start_serving(self) -> None:
        """Start accepting connections (already done unless ``start_serving=False``)."""
        assert self.server is not None
        await self.server.start_serving()

    def close(self, close_connections: bool = True) -> None:
        """Stop listening and close the server; returns at once.

        Args:
            close_connections: close every open connection with 1001 (going
                away) and wait for the handlers, bounded by ``close_timeout``
                (then remaining handlers are cancelled); when False, wait for
                the handlers to end by themselves, and for the connections
                of a plain-function handler to close.

        Use :meth:`wait_closed` to wait until it is done.
        """
        if self._close_task is None:
            self._close_task = asyncio.get_running_loop().create_task(self._close(close_connections))

    async def _close(self, close_connections: bool) -> None:
        try:
            if self.server is not None:
                self.server.close()
            # Let connections accepted in this loop iteration register.
            await asyncio.sleep(0)
            if close_connections:
                for connection in list(self.connections):
                    if connection.protocol.state is _CONNECTING:
                        connection.transport.abort()
                    else:
                        # RFC 6455 section 7.4.1: 1001 "indicates that an
                        # endpoint is 'going away', such as a server going down".
                        connection._start_closing(1001, "server shutting down")
                closing = [c._closed for c in list(self.connections) if not c._closed.done()]
                if closing:
                    await asyncio.wait(closing)
            tasks: list[asyncio.Future[None]] = [t for t in self.handler_tasks if not t.done()]
            if not close_connections:
                # A plain function's connections end when they close.
                tasks += [
                    c._closed
                    for c in list(self.connections)
                    if c.handler_task is None and c.protocol.state is not _CONNECTING and not c._closed.done()
                ]
            if tasks:
                timeout = self.close_timeout if close_connections else None
                _, pending = await asyncio.wait(tasks, timeout=timeout)
                for task in pending:
                    task.cancel()
                if pending:
                    await asyncio.wait(pending)
            if self.server is not None:
                await self.server.wait_closed()
            await self.topics.close()
        finally:
            if not self._done.done():
                self._done.set_result(None)

    async def wait_closed(self) -> None:
        """Wait until the server is closed and every handler has ended."""
        await asyncio.shield(self._done)

    async def serve_forever(self) -> None:
        """Wait until the server is closed; on cancellation, close it first.

        Raises:
            asyncio.CancelledError: the waiting task was cancelled (after
                the server closed).
        """
        try:
            await asyncio.shield(self._done)
        except asyncio.CancelledError:
            self.close()
            await self.wait_closed()
            raise

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
        await self.wait_closed()


class serve:
    """Start a WebSocket server; ``await`` it or use it with ``async with``.

    ``server = await serve(handler, "127.0.0.1", 8765)`` or
    ``async with serve(handler, "127.0.0.1", 8765) as server: ...``.

    Args:
        handler: ``async def handler(connection)``, run in a task for each
            connection once its opening handshake succeeded; the connection
            closes (1000) when it returns. Or a plain function,
            ``def handler(connection)``, called inside the read that
            completed the handshake, with no task: it sets the connection's
            callbacks (:attr:`~fastws.asyncio.connection.Connection.on_message`,
            :attr:`~fastws.asyncio.connection.Connection.on_close`) and
            returns, and the connection stays open until either side closes
            it (what it returns, if awaitable, is awaited as a coroutine
            handler's body). Either way, an exception closes the connection
            with 1011.
        host: the interface(s) to listen on (None: all).
        port: the TCP port (0: any free port; see ``server.sockets``).
        ssl: a server-side :class:`ssl.SSLContext` for ``wss://``.
        subprotocols: subprotocols the server supports, most preferred
            first; the server's most preferred one among those the client
            offers is chosen (none if there is none in common).
        select_subprotocol: ``select(request, offered) -> str | None``, a
            custom choice (see :class:`fastws.server.ServerProtocol`).
        origins: allowed values of the Origin header (None in the list
            allows requests without one); None allows every origin.
        max_size: the largest message accepted, in bytes (1009 beyond
            it); None for no limit.
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
        ping_interval: seconds between keepalive pings (None: none).
        ping_timeout: seconds to wait for a keepalive pong before failing
            the connection with 1011 (None: forever).
        open_timeout: seconds the opening handshake may take.
        close_timeout: seconds the closing handshake may take.
        compression: ``"deflate"`` (the default) accepts permessage-deflate
            (RFC 7692) with :class:`~fastws.extensions.ServerPerMessageDeflateFactory`'s
            defaults (12-bit windows, memLevel 5: about 50 KiB of zlib
            state per compressed connection); a
            ``ServerPerMessageDeflateFactory`` accepts it with its
            settings; None turns compression off.
        server_header: the Server header of responses; None sends none.
        process_request: ``(connection, request) -> Response | None``,
            sync or async: return a response (e.g. from
            ``connection.respond(401, "...")``) to refuse the handshake.
        process_response: ``(connection, request, response) -> Response |
            None``, sync or async: may replace the 101 response.
        pubsub: the backend that carries :meth:`Server.publish` to the other
            processes serving the application (e.g.
            :class:`fastws.pubsub.RedisPubSub`); None: this process only.
        forwarded_allow_ips: the proxies (addresses, networks, ``"*"``)
            whose ``X-Forwarded-For`` header gives a connection's
            :attr:`~ServerConnection.client_address`; None believes no one.
        max_backlog: :meth:`Server.publish` closes (1013) a subscriber whose
            write buffer holds more than this many bytes; None: it skips
            subscribers above their ``write_limit``.
        protocol_options: extra keyword arguments for each
            :class:`fastws.server.ServerProtocol` (e.g. ``max_fragments``).
        **kwargs: passed to :meth:`asyncio.loop.create_server` (``sock``,
            ``reuse_port``, ``backlog``, ``start_serving`` ...).

    Raises:
        ValueError: an unknown ``compression``, or ``max_queue``,
            ``max_queue_bytes`` or ``write_limit`` out of range.
        TypeError: ``write_limit`` is not an int or a tuple of ints.
        OSError: the address cannot be bound.
    """

    def __init__(
        self,
        handler: Handler,
        host: str | Sequence[str] | None = None,
        port: int | None = None,
        *,
        ssl: ssl_module.SSLContext | None = None,
        subprotocols: Sequence[str] | None = None,
        select_subprotocol: Callable[..., Any] | None = None,
        origins: Sequence[str | None] | None = None,
        max_size: int | None = 2**20,
        max_queue: int | tuple[int, int | None] | None = 128,
        max_queue_bytes: int | None = 4 * 2**20,
        write_limit: int | tuple[int, int | None] = 32768,
        ping_interval: float | None = 20,
        ping_timeout: float | None = 20,
        open_timeout: float | None = 10,
        close_timeout: float | None = 10,
        compression: str | ServerPerMessageDeflateFactory | None = "deflate",
        server_header: str | None = USER_AGENT,
        process_request: ProcessRequest | None = None,
        process_response: ProcessResponse | None = None,
        pubsub: PubSub | None = None,
        max_backlog: int | None = None,
        forwarded_allow_ips: str | Sequence[str] | None = None,
        protocol_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        arguments = locals()
        self._protocol_kwargs = server_protocol_options(arguments)
        self._handler = handler
        self._host = host
        self._port = port
        self._ssl = ssl
        self._connection_kwargs = connection_options(arguments)
        self._server_kwargs: dict[str, Any] = {
            "process_request": process_request,
            "process_response": process_response,
            "open_timeout": open_timeout,
            "close_timeout": close_timeout,
            "pubsub": pubsub,
            "max_backlog": max_backlog,
            "forwarded_allow_ips": forwarded_allow_ips,
        }
        self._kwargs = kwargs
        self._server: Server | None = None

    async def _create(self) -> Server:
        loop = asyncio.get_running_loop()
        server = Server(self._handler, **self._server_kwargs)
        protocol_kwargs = self._protocol_kwargs
        connection_kwargs = self._connection_kwargs

        def factory() -> ServerConnection:
            return ServerConnection(ServerProtocol(**protocol_kwargs), server, **connection_kwargs)

        await server.topics.start()
        try:
            server.server = await loop.create_server(
                factory, self._host, self._port, ssl=self._ssl, **self._kwargs
            )
        except BaseException:
            await server.topics.close()
            raise
        self._server = server
        return server

    def __await__(self) -> Generator[Any, None, Server]:
        return self._create().__await__()

    async def __aenter__(self) -> Server:
        return await self._create()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
