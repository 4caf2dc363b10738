"""The threaded WebSocket server: :func:`serve`, :func:`unix_serve`, :class:`Server`, :class:`ServerConnection`.

``server = serve(handler, host, port)`` listens; ``server.serve_forever()``
accepts connections until ``server.shutdown()`` (from another thread, or by
leaving ``with serve(...) as server:``). Each connection gets a thread of
its own, which runs the TLS handshake (for ``ssl=``) and the opening
handshake, bounded together by ``open_timeout`` (so a peer that sends its
request byte by byte, or never, is dropped), then calls
``handler(connection)``. When the handler returns the connection is closed
with 1000; when it raises, the error is logged and the connection is closed
with 1011; the server itself is never affected. ``shutdown()`` stops
accepting, closes every open connection with 1001 (going away) and waits for
the handlers, up to ``close_timeout``.

One thread per connection (plus the connection's background thread, see
:mod:`fastws.sync.stream`), not a pool: a WebSocket handler typically lives
as long as its connection, so a pool would have to be as large as the number
of connections anyway, and a connection never waits for a free worker. With
free-threaded CPython builds the handlers run in parallel.
"""

from __future__ import annotations

import errno
import logging
import os
import selectors
import socket
import ssl as ssl_module
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from ..exceptions import ConnectionClosed
from ..extensions.permessage_deflate import ServerPerMessageDeflateFactory
from ..forwarded import TrustedProxies, client_address
from ..handshake import USER_AGENT
from ..http11 import Request, Response
from ..options import connection_options, server_protocol_options
from ..protocol import State
from ..server import ServerProtocol
from .connection import Connection
from .transport import Transport

__all__ = ["Server", "ServerConnection", "serve", "unix_serve"]

_CONNECTING = State.CONNECTING
_OPEN = State.OPEN

logger = logging.getLogger("fastws.server")

Handler = Callable[["ServerConnection"], Any]
ProcessRequest = Callable[["ServerConnection", Request], "Response | None"]
ProcessResponse = Callable[["ServerConnection", Request, Response], "Response | None"]

#: After accept() fails for want of resources (too many open files), wait
#: this long before accepting again rather than failing in a loop.
_ACCEPT_BACKOFF = 0.1


class ServerConnection(Connection):
    """The server side of one WebSocket connection (the handler's argument).

    Besides the :class:`~fastws.sync.connection.Connection` API it has
    ``request`` (the client's opening handshake request, with ``path`` and
    ``headers``), ``response`` (what the server answered), ``server`` and
    ``client_address``.
    """

    def __init__(self, transport: Transport, protocol: ServerProtocol, server: Server, **kwargs: Any) -> None:
        super().__init__(transport, protocol, **kwargs)
        self.server = server

    @property
    def client_address(self) -> Any:
        """The client's address: :attr:`~fastws.sync.connection.Connection.remote_address`, or, behind a trusted
        proxy (``serve(forwarded_allow_ips=...)``), what ``X-Forwarded-For``
        says (``(host, 0)``: see :mod:`fastws.forwarded`)."""
        trusted = self.server.forwarded_allow_ips
        if trusted is None or self.request is None:
            return self.remote_address
        return client_address(self.remote_address, self.request.headers, trusted)

    def respond(self, status: int, text: str) -> Response:
        """Build an HTTP response that refuses the handshake (for ``process_request``).

        Args:
            status: the HTTP status code, e.g. 401 or 404.
            text: the body, sent as ``text/plain``.

        Returns:
            the response; return it from ``process_request`` to send it.
        """
        return self.protocol.reject(status, text)  # type: ignore[attr-defined,no-any-return]

    def _handshake_event(self, event: Any) -> None:
        if isinstance(event, Request):
            self.request = event

    def _handshake(self, deadline: float | None) -> bool:
        """Read the request, answer it, and open the connection, until ``deadline``.

        Returns:
            Whether the connection is open (False: refused, failed or timed
            out; the socket is then closed).
        """
        protocol: ServerProtocol = self.protocol  # type: ignore[assignment]
        with self._lock:
            while self.request is None:
                if self._aborted or protocol.state is not _CONNECTING:
                    # A malformed request: the protocol answered it (4xx)
                    # and ends the connection.
                    if protocol.handshake_exc is not None:
                        logger.debug("opening handshake failed: %s", protocol.handshake_exc)
                    self._wait_finished()
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    # The request did not arrive in time: a slow or idle
                    # peer must not hold a connection (and a thread) forever.
                    logger.debug("opening handshake timed out; dropping %s", self.remote_address)
                    self._abort(TimeoutError("the opening handshake timed out"))
                    return False
                self._read_once(remaining, deadline)
        request = self.request
        server = self.server
        try:
            response = None
            if server.process_request is not None:
                response = server.process_request(self, request)
            if response is None:
                with self._lock:
                    response = protocol.accept(request)
                if server.process_response is not None:
                    modified = server.process_response(self, request, response)
                    if modified is not None:
                        response = modified
        except Exception:
            logger.error("process_request / process_response failed", exc_info=True)
            response = protocol.reject(500, "Internal Server Error\n")
        with self._lock:
            self.response = response
            protocol.send_response(response)
            # Frames the client sent before the 101 are parsed by send_response.
            self._after_input()
            self._flush(deadline)
            if self._outbox and protocol.state is _OPEN:
                self._abort(TimeoutError("the opening handshake timed out"))
            if protocol.state is not _OPEN or self._aborted:
                self._wait_finished()
                return False
        self._start_background(f"fastws-server-{self.remote_address}")
        return True

    def _run_handler(self) -> None:
        """Run the handler, then close the connection (1000, or 1011 if it raised)."""
        try:
            self.server.handler(self)
        except ConnectionClosed as exc:
            logger.debug("handler ended on a closed connection: %s", exc)
        except Exception:
            # RFC 6455 section 7.4.1: 1011 "indicates that a server is
            # terminating the connection because it encountered an
            # unexpected condition that prevented it from fulfilling the
            # request".
            logger.error("connection handler failed", exc_info=True)
            with self._lock:
                self._start_closing(1011, "internal error")
        self.close()

    def _going_away(self) -> None:
        """The server shuts down: close with 1001, without waiting (abort if not open yet)."""
        with self._lock:
            if self.protocol.state is _CONNECTING:
                self._abort(None)
            else:
                # RFC 6455 section 7.4.1: 1001 "indicates that an endpoint is
                # 'going away', such as a server going down".
                self._start_closing(1001, "server shutting down")


class Server:
    """A listening WebSocket server; returned by :func:`serve`.

    Thread safety: :meth:`serve_forever` runs in one thread; :meth:`shutdown`
    may be called from any other (or from a handler).

    Attributes:
        socket: the listening socket (``server.socket.getsockname()`` gives
            the port).
        connections: the connections currently open (or opening).
    """

    def __init__(
        self,
        listener: socket.socket,
        handler: Handler,
        *,
        ssl: ssl_module.SSLContext | None = None,
        process_request: ProcessRequest | None = None,
        process_response: ProcessResponse | None = None,
        open_timeout: float | None = 10,
        close_timeout: float | None = 10,
        forwarded_allow_ips: str | Sequence[str] | None = None,
        protocol_kwargs: dict[str, Any] | None = None,
        connection_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.socket = listener
        self.handler = handler
        self.process_request = process_request
        self.process_response = process_response
        self.forwarded_allow_ips = (
            None if forwarded_allow_ips is None else TrustedProxies(forwarded_allow_ips)
        )
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self._ssl = ssl
        self._protocol_kwargs = dict(protocol_kwargs or {})
        self._connection_kwargs = dict(connection_kwargs or {})
        self.connections: set[ServerConnection] = set()
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._closing = False
        self._serving = False
        self._stopped = threading.Event()
        self._stopped.set()
        # serve_forever() waits on the listener and on this pair, which
        # shutdown() writes to: closing a socket does not wake select().
        self._wake_reader, self._wake_writer = socket.socketpair()
        listener.setblocking(False)

    def fileno(self) -> int:
        """The listening socket's file descriptor."""
        return self.socket.fileno()

    def serve_forever(self) -> None:
        """Accept connections until :meth:`shutdown`; each runs in a thread of its own.

        Raises:
            RuntimeError: it is already running, or the server was shut down.
        """
        with self._lock:
            if self._closing:
                raise RuntimeError("the server was shut down")
            if self._serving:
                raise RuntimeError("serve_forever() is already running")
            self._serving = True
            self._stopped.clear()
        selector = selectors.DefaultSelector()
        try:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake_reader, selectors.EVENT_READ)
            while True:
                ready = {key.fileobj for key, _ in selector.select()}
                with self._lock:
                    if self._closing:
                        return
                if self.socket in ready:
                    self._accept()
        finally:
            selector.close()
            with self._lock:
                self._serving = False
            self._stopped.set()

    def _accept(self) -> None:
        try:
            sock, address = self.socket.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return  # another thread or process took it; or it went away
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                logger.error("accept() failed: %s; waiting before accepting again", exc)
                time.sleep(_ACCEPT_BACKOFF)
                return
            raise
        sock.setblocking(True)
        thread = threading.Thread(
            target=self._handle, args=(sock,), name=f"fastws-handler-{address}", daemon=True
        )
        with self._lock:
            if self._closing:
                sock.close()
                return
            self._threads.add(thread)
        thread.start()

    def _handle(self, sock: socket.socket) -> None:
        """One connection's thread: handshakes, handler, closing."""
        connection: ServerConnection | None = None
        try:
            deadline = None if self.open_timeout is None else time.monotonic() + self.open_timeout
            if self._ssl is not None:
                sock.settimeout(self.open_timeout)
                sock = self._ssl.wrap_socket(sock, server_side=True)
            connection = ServerConnection(
                Transport(sock),
                ServerProtocol(**self._protocol_kwargs),
                self,
                **self._connection_kwargs,
            )
            with self._lock:
                if self._closing:
                    return
                self.connections.add(connection)
            if connection._handshake(deadline):
                connection._run_handler()
        except Exception as exc:
            # A failed TLS handshake, a peer gone before it began, ...
            logger.debug("connection failed before its handler ran: %s", exc)
        finally:
            if connection is None:
                sock.close()
            else:
                with connection._lock:
                    if not connection._finished:
                        connection._abort(None)
            with self._lock:
                if connection is not None:
                    self.connections.discard(connection)
                self._threads.discard(threading.current_thread())

    def shutdown(self, close_connections: bool = True) -> None:
        """Stop accepting connections; close the open ones; wait for the handlers.

        Args:
            close_connections: close every open connection with 1001 (going
                away) and wait for the handlers, up to ``close_timeout``
                (a handler that goes on regardless is left running in its
                thread: threads cannot be cancelled); when False, wait for
                the handlers to end by themselves.

        Idempotent; callable from any thread, a handler's included.
        """
        with self._lock:
            first = not self._closing
            self._closing = True
            serving = self._serving
        if first:
            try:
                self._wake_writer.send(b"x")
            except OSError:  # pragma: no cover - already closed
                pass
        if serving:
            self._stopped.wait(self.close_timeout)
        if first:
            self.socket.close()
            self._wake_reader.close()
            self._wake_writer.close()
        with self._lock:
            connections = list(self.connections)
            threads = [t for t in self._threads if t is not threading.current_thread()]
        if close_connections:
            for connection in connections:
                connection._going_away()
        deadline = None
        if close_connections and self.close_timeout is not None:
            deadline = time.monotonic() + self.close_timeout
        for thread in threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()


def serve(
    handler: Handler,
    host: str | None = None,
    port: int | None = None,
    *,
    sock: socket.socket | None = None,
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
    forwarded_allow_ips: str | Sequence[str] | None = None,
    protocol_options: dict[str, Any] | None = None,
    backlog: int | None = None,
    reuse_port: bool = False,
) -> Server:
    """Listen for WebSocket connections; run ``server.serve_forever()`` to accept them.

    ``with serve(handler, "127.0.0.1", 8765) as server: server.serve_forever()``;
    ``server.shutdown()``, from another thread, ends it.

    Args:
        handler: ``handler(connection)``, called in the connection's thread
            once its opening handshake succeeded.
        host: the interface to listen on (None: all IPv4 interfaces).
        port: the TCP port (0 or None: any free port; see ``server.socket``).
        sock: a listening socket to use instead of ``host`` and ``port``.
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
            stops once that passes 256 KiB.
        max_queue_bytes: payload bytes those messages may hold before
            delivery stops; None: no byte limit.
        write_limit: bytes of automatic answers waiting for a peer that
            does not read before reading stops.
        ping_interval: seconds between keepalive pings (None: none).
        ping_timeout: seconds to wait for a keepalive pong before failing
            the connection with 1011 (None: forever).
        open_timeout: seconds the TLS and opening handshakes may take.
        close_timeout: seconds the closing handshake may take; also bounds
            the wait for handlers in :meth:`Server.shutdown`.
        compression: ``"deflate"`` (the default) accepts permessage-deflate
            (RFC 7692); a ``ServerPerMessageDeflateFactory`` accepts it with
            its settings; None turns compression off.
        server_header: the Server header of responses; None sends none.
        process_request: ``(connection, request) -> Response | None``,
            called in the connection's thread: return a response (e.g.
            from ``connection.respond(401, "...")``) to refuse the handshake.
        process_response: ``(connection, request, response) -> Response |
            None``: may replace the 101 response.
        forwarded_allow_ips: the proxies (addresses, networks, ``"*"``)
            whose ``X-Forwarded-For`` header gives a connection's
            :attr:`~ServerConnection.client_address`; None believes no one.
        protocol_options: extra keyword arguments for each
            :class:`fastws.server.ServerProtocol` (e.g. ``max_fragments``).
        backlog: the listen backlog (None: the system's default).
        reuse_port: set ``SO_REUSEPORT`` (several processes on one port).

    Returns:
        The server, listening.

    Raises:
        ValueError: an unknown ``compression``, or ``max_queue``,
            ``max_queue_bytes`` or ``write_limit`` out of range.
        TypeError: ``write_limit`` is not an int or a tuple of ints.
        OSError: the address cannot be bound.
    """
    arguments = locals()
    protocol_kwargs = server_protocol_options(arguments)
    connection_kwargs = connection_options(arguments)  # checked before the socket is made
    if sock is None:
        sock = socket.create_server((host or "", port or 0), backlog=backlog, reuse_port=reuse_port)
    return Server(
        sock,
        handler,
        ssl=ssl,
        process_request=process_request,
        process_response=process_response,
        open_timeout=open_timeout,
        close_timeout=close_timeout,
        forwarded_allow_ips=forwarded_allow_ips,
        protocol_kwargs=protocol_kwargs,
        connection_kwargs=connection_kwargs,
    )


def unix_serve(handler: Handler, path: str, **kwargs: Any) -> Server:
    """Listen for WebSocket connections on a Unix socket.

    Args:
        handler: as for :func:`serve`.
        path: the socket's path (a file left there by an earlier server is
            replaced).
        **kwargs: the other arguments of :func:`serve`.

    Raises:
        the exceptions of :func:`serve`.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if os.path.exists(path):
            os.unlink(path)
        sock.bind(path)
        sock.listen()
    except BaseException:
        sock.close()
        raise
    return serve(handler, sock=sock, **kwargs)
