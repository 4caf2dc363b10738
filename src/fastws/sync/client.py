"""The threaded WebSocket client: :func:`connect`, :func:`unix_connect` and :class:`ClientConnection`.

``ws = connect("ws://host/path")`` (or ``with connect(...) as ws:``) opens
the TCP (or TLS, for ``wss://``) connection, runs the opening handshake
within ``open_timeout`` in the calling thread and returns the open
connection; its background thread starts then.
"""

from __future__ import annotations

import socket
import ssl as ssl_module
import time
from collections.abc import Sequence
from typing import Any

from ..client import ClientProtocol
from ..exceptions import InvalidMessage
from ..extensions.permessage_deflate import ClientPerMessageDeflateFactory
from ..handshake import USER_AGENT
from ..headers import HeadersLike
from ..options import client_protocol_options, client_tls, connection_options
from ..protocol import State
from .connection import Connection
from .transport import Transport

__all__ = ["ClientConnection", "connect", "unix_connect"]

_CONNECTING = State.CONNECTING


class ClientConnection(Connection):
    """The client side of one WebSocket connection (what :func:`connect` returns).

    Besides the :class:`~fastws.sync.connection.Connection` API it has
    ``request`` (what was sent) and ``response`` (the server's 101 answer,
    with its ``headers``).
    """

    def _handshake_event(self, event: Any) -> None:
        # The only non-message event a client protocol emits: the validated
        # 101 response, after which the connection is open.
        self.response = event

    def _handshake(self, deadline: float | None) -> None:
        """Send the request and read the response, until ``deadline``.

        Raises:
            InvalidHandshake: the server refused or botched the handshake.
            TimeoutError: the deadline passed.
            OSError: the connection failed.
        """
        protocol: ClientProtocol = self.protocol  # type: ignore[assignment]
        request = protocol.connect()
        self.request = request
        protocol.send_request(request)
        with self._lock:
            self._outbox += protocol.data_to_send()
            self._flush(deadline)
            if self._outbox:
                raise TimeoutError("timed out while sending the opening handshake request")
            while self.response is None:
                exc = protocol.handshake_exc
                if exc is not None:
                    raise exc
                if self._aborted or protocol.state is not _CONNECTING:
                    error = InvalidMessage("connection closed during the opening handshake")
                    error.__cause__ = self._lost_exc
                    raise error
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError("timed out during the opening handshake")
                self._read_once(remaining, deadline)
        self._start_background(f"fastws-client-{self.remote_address}")


def connect(
    uri: str,
    *,
    ssl: ssl_module.SSLContext | bool | None = None,
    server_hostname: str | None = None,
    host: str | None = None,
    port: int | None = None,
    sock: socket.socket | None = None,
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
) -> ClientConnection:
    """Open a WebSocket connection; use the result directly or with ``with``.

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
        sock: an already connected socket to use instead (TCP or Unix).
        subprotocols: subprotocols to offer, in order of preference.
        origin: the Origin header to send.
        additional_headers: extra request headers (a mapping, pairs or
            :class:`fastws.headers.Headers`).
        user_agent_header: the User-Agent header; None sends none.
        open_timeout: seconds for the TCP/TLS connection and the opening
            handshake together; None waits forever.
        close_timeout: seconds the closing handshake may take.
        ping_interval: seconds between keepalive pings, sent by the
            connection's background thread (None: none).
        ping_timeout: seconds to wait for a keepalive pong before failing
            the connection with 1011 (None: forever).
        max_size: the largest message accepted, in bytes (1009 beyond it);
            None for no limit.
        max_queue: received messages waiting for ``recv()`` before delivery
            stops (an int, or a ``(high, low)`` tuple; None: no count limit);
            the input behind them waits, at its wire size, and reading
            stops once that passes 256 KiB.
        max_queue_bytes: payload bytes those messages may hold before
            delivery stops (a single larger message still enters an empty
            queue); None: no byte limit.
        write_limit: bytes of automatic answers waiting for a peer that
            does not read before reading stops.
        compression: ``"deflate"`` (the default) offers permessage-deflate
            (RFC 7692); a ``ClientPerMessageDeflateFactory`` offers it with
            its settings; None offers no compression.
        protocol_options: extra keyword arguments for
            :class:`fastws.client.ClientProtocol` (e.g. ``max_fragments``).

    Returns:
        The open connection.

    Raises:
        ValueError: a bad URI, ``ssl`` with ``ws://`` (or False with
            ``wss://``), an unknown ``compression``, or ``max_queue``,
            ``max_queue_bytes`` or ``write_limit`` out of range.
        TypeError: ``write_limit`` is not an int or a tuple of ints.
        InvalidHandshake: the server refused or botched the handshake.
        TimeoutError: the opening handshake took longer than ``open_timeout``.
        OSError: the TCP connection failed (``ssl.SSLError`` for TLS).
    """
    arguments = locals()
    protocol_kwargs = client_protocol_options(arguments)
    connection_kwargs = connection_options(arguments)
    uri_host, uri_port, context = client_tls(uri, ssl)
    protocol = ClientProtocol(uri, **protocol_kwargs)
    deadline = None if open_timeout is None else time.monotonic() + open_timeout
    if sock is None:
        sock = socket.create_connection(
            (host if host is not None else uri_host, port if port is not None else uri_port),
            timeout=open_timeout,
        )
    try:
        if context is not None:
            sock.settimeout(None if deadline is None else max(0.0, deadline - time.monotonic()))
            sock = context.wrap_socket(sock, server_hostname=server_hostname or uri_host)
        connection = ClientConnection(Transport(sock), protocol, **connection_kwargs)
        connection._handshake(deadline)
    except BaseException:
        sock.close()
        raise
    return connection


def unix_connect(path: str, uri: str = "ws://localhost/", **kwargs: Any) -> ClientConnection:
    """Open a WebSocket connection over a Unix socket.

    Args:
        path: the socket's path.
        uri: the URI of the request (its host goes in the Host header).
        **kwargs: the other arguments of :func:`connect`.

    Raises:
        the exceptions of :func:`connect`.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(kwargs.get("open_timeout", 10))
        sock.connect(path)
    except BaseException:
        sock.close()
        raise
    return connect(uri, sock=sock, **kwargs)
