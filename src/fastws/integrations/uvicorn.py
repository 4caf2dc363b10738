"""fastws as uvicorn's WebSocket engine: :class:`WebSocketProtocol`.

uvicorn (the ASGI server that runs FastAPI and Starlette applications)
chooses its WebSocket implementation by class, and takes a third-party one
by import path::

    uvicorn app:app --ws fastws.integrations.uvicorn:WebSocketProtocol

or ``uvicorn.run(app, ws=WebSocketProtocol)``. Every WebSocket route of the
application is then served by fastws's sans-IO protocol and codec, with
nothing changed in the application.

It implements the ASGI WebSocket specification 2.4 as uvicorn's own classes
do (``uvicorn/protocols/websockets/websockets_sansio_impl.py``): the scope,
``websocket.connect`` / ``accept`` / ``receive`` / ``send`` / ``close`` /
``disconnect``, and the denial response extension
(``websocket.http.response.start`` / ``.body``), and honours uvicorn's
settings: ``ws_max_size``, ``ws_max_queue``, ``ws_ping_interval``,
``ws_ping_timeout``, ``ws_per_message_deflate``, ``root_path``, the
``server``/``date`` headers and ``headers`` (``server_state.default_headers``);
``proxy_headers`` wraps the application (uvicorn's ``ProxyHeadersMiddleware``),
so it applies to the scope as for the other classes.

Where it differs from uvicorn's classes, on purpose:

* the receive queue is bounded in bytes as well as in messages: uvicorn's
  defaults (``ws_max_queue=32``, ``ws_max_size=16 MiB``) would let a peer
  park 512 MiB per connection in an application that does not read;
  :attr:`WebSocketProtocol.max_queue_bytes` (4 MiB) stops delivery first,
  and the input behind it waits at its wire size, then in the kernel;
* reading is not paused after every message, only at those limits;
* a denial response without ``content-length`` whose body comes in
  several messages is streamed with chunked transfer coding (the whole
  body in one message gets a ``content-length``);
* a connection lost without a close frame is reported with 1006 (RFC 6455
  section 7.1.5), where uvicorn's classes say 1005 once the connection was
  accepted;
* on server shutdown the close frame (1012) waits for the peer's answer,
  within the close timeout, instead of cutting the connection at once.

The connection under a scope is a :class:`fastws.asyncio.Connection`:
:func:`connection_of` returns it, for :func:`fastws.broadcast`, topics,
``ping``/``latency``, and ``send``, which an application may use alongside
the ASGI calls (the ASGI callables are :meth:`WebSocketProtocol.asgi_receive`
and :meth:`WebSocketProtocol.asgi_send`).

Supported: uvicorn ``>=0.54,<0.56`` (:data:`SUPPORTED`; 0.54.0 and 0.55.0
tested, with uvicorn's own WebSocket tests of each); importing this module
with another version raises :class:`UnsupportedVersion`.
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus
from typing import Any, ClassVar
from urllib.parse import unquote

import uvicorn

from ..asyncio.connection import WORK_PER_TURN, Connection
from ..escaping import escape
from ..exceptions import ConnectionClosed, InvalidHandshake, InvalidHeader
from ..extensions.permessage_deflate import ServerPerMessageDeflateFactory
from ..handshake import check_request, response_for_exception
from ..headers import Headers
from ..http11 import Request
from ..protocol import State
from ..server import ServerProtocol
from ._common import UnsupportedVersion, parse_version

__all__ = ["SUPPORTED", "UnsupportedVersion", "WebSocketProtocol", "check_version", "connection_of"]

#: The uvicorn versions this module was written for and tested with:
#: ``(first supported, first unsupported)``.
SUPPORTED: tuple[tuple[int, ...], tuple[int, ...]] = ((0, 54), (0, 56))


def check_version(version: str | None = None) -> str:
    """Refuse a uvicorn outside :data:`SUPPORTED`.

    Args:
        version: the version to check; the installed uvicorn's by default.

    Returns:
        The version checked.

    Raises:
        UnsupportedVersion: the version is outside the supported range.
    """
    version = uvicorn.__version__ if version is None else version
    low, high = SUPPORTED
    try:
        number = parse_version(version)
    except ValueError:
        number = ()
    if not low <= number < high:
        raise UnsupportedVersion(
            f"fastws.integrations.uvicorn supports uvicorn>={'.'.join(map(str, low))},"
            f"<{'.'.join(map(str, high))}; uvicorn {version} is installed"
        )
    return version


check_version()

# After the version check: these are uvicorn's internals of that range.
from uvicorn.logging import TRACE_LOG_LEVEL  # noqa: E402
from uvicorn.protocols.utils import (  # noqa: E402
    ClientDisconnected,
    get_local_addr,
    get_remote_addr,
    is_ssl,
)

logger = logging.getLogger("uvicorn.error")

_OPEN = State.OPEN
_CLOSED = State.CLOSED
_CONNECTING = State.CONNECTING


def _lost() -> dict[str, Any]:
    """The disconnect event of a connection that ended without a close frame (a new dict)."""
    return {"type": "websocket.disconnect", "code": 1006}


_ERROR_BODY = b"Internal Server Error"


def connection_of(websocket: Any) -> Connection:
    """The fastws connection that serves an ASGI WebSocket.

    Args:
        websocket: a Starlette/FastAPI ``WebSocket``, or an ASGI scope.

    Returns:
        The connection, for :func:`fastws.broadcast`, topics, ``latency``...

    Raises:
        LookupError: the WebSocket is not served by :class:`WebSocketProtocol`.
    """
    scope = websocket if isinstance(websocket, dict) else websocket.scope
    try:
        connection = scope["extensions"]["fastws"]["connection"]
    except (KeyError, TypeError):
        raise LookupError("this WebSocket is not served by fastws.integrations.uvicorn") from None
    return connection  # type: ignore[no-any-return]


class _Finished(Exception):
    """Wakes a ``receive`` waiting while the application ends the connection itself."""


def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
    """An HTTP/1.1 response head."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    lines = [f"HTTP/1.1 {status} {phrase}\r\n"]
    lines += [f"{name}: {value}\r\n" for name, value in headers]
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")


class WebSocketProtocol(Connection, asyncio.BufferedProtocol):
    """uvicorn's WebSocket protocol class, on fastws (see the module doc).

    uvicorn creates one per upgraded connection; applications do not.

    Args:
        config: uvicorn's ``Config``.
        server_state: uvicorn's ``ServerState`` (connections, tasks, default
            headers).
        app_state: the lifespan state, copied into each scope.
        _loop: the event loop (the running one by default).

    Raises:
        UnsupportedVersion: the installed uvicorn is not supported.
    """

    __slots__ = (
        "_accepted",
        "_chunked",
        "_connect_delivered",
        "_denial",
        "_final",
        "app",
        "app_state",
        "asgi_version",
        "client",
        "config",
        "connections",
        "default_headers",
        "root_path",
        "scheme",
        "scope",
        "server",
        "tasks",
    )

    #: Payload bytes that received messages may hold while the application
    #: has not taken them: delivery stops above it (a larger message still
    #: enters an empty queue). uvicorn has no such setting; set it on a
    #: subclass, or None for no limit (then ``ws_max_queue`` messages of up
    #: to ``ws_max_size`` each).
    max_queue_bytes: ClassVar[int | None] = 4 * 2**20

    #: Seconds the closing handshake may take before the connection is cut
    #: (uvicorn's classes use 10 too).
    close_timeout_default: ClassVar[float] = 10.0

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        check_version()
        if not config.loaded:
            config.load()
        extensions = []
        if config.ws_per_message_deflate:
            # As uvicorn's websockets class: 12-bit windows, memLevel 5.
            extensions.append(
                ServerPerMessageDeflateFactory(server_max_window_bits=12, client_max_window_bits=12)
            )
        interval = config.ws_ping_interval
        super().__init__(
            ServerProtocol(extensions=extensions, max_size=config.ws_max_size, server_header=None),
            ping_interval=interval if interval else None,
            ping_timeout=config.ws_ping_timeout,
            close_timeout=self.close_timeout_default,
            max_queue=config.ws_max_queue,
            max_queue_bytes=self.max_queue_bytes,
        )
        if _loop is not None:
            self.loop = _loop
        self.config = config
        self.app = config.loaded_app
        self.root_path: str = config.root_path
        self.asgi_version: str = config.asgi_version
        self.app_state = app_state
        self.connections: set[Any] = server_state.connections
        self.tasks: set[asyncio.Task[None]] = server_state.tasks
        self.default_headers: list[tuple[bytes, bytes]] = server_state.default_headers
        self.server: Any = None
        self.client: Any = None
        self.scheme = "ws"
        self.scope: dict[str, Any] = {}
        self._connect_delivered = False
        # Whether the application answered the handshake (accept, close,
        # denial start), and the denial response under way: None, or the
        # status and headers until its first body message, then True.
        self._accepted = False
        self._denial: Any = None
        self._chunked = False
        # The disconnect event once the application ended the connection
        # itself (close, denial): every later receive() returns it.
        self._final: dict[str, Any] | None = None

    # -- uvicorn's compatibility surface ---------------------------------------

    @property
    def close_timer(self) -> asyncio.TimerHandle | None:
        """The timer that cuts the connection if the closing handshake does not end."""
        return None if self._eof_sent else self._close_handle

    @property
    def ping_timer(self) -> Any:
        """Whether keepalive runs: its timer, or None when disabled."""
        return self._pings._timer if self._pings.interval is not None else None

    # -- transport events --------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # asyncio.Protocol
        self.transport = transport  # type: ignore[assignment]
        self._addresses = (transport.get_extra_info("sockname"), transport.get_extra_info("peername"))
        set_limits = getattr(transport, "set_write_buffer_limits", None)
        if set_limits is not None:
            set_limits(self._write_high, self._write_low)
        self.connections.add(self)
        self.server = get_local_addr(transport)  # type: ignore[arg-type]
        self.client = get_remote_addr(transport)  # type: ignore[arg-type]
        self.scheme = "wss" if is_ssl(transport) else "ws"  # type: ignore[arg-type]
        if logger.level <= TRACE_LOG_LEVEL:
            logger.log(TRACE_LOG_LEVEL, "%sWebSocket connection made", self._prefix())

    def connection_lost(self, exc: Exception | None) -> None:  # asyncio.Protocol
        super().connection_lost(exc)
        self.connections.discard(self)
        if logger.level <= TRACE_LOG_LEVEL:
            logger.log(TRACE_LOG_LEVEL, "%sWebSocket connection lost", self._prefix())

    def _prefix(self) -> str:
        return f"{self.client[0]}:{self.client[1]} - " if self.client else ""

    def _end_tcp(self) -> bool:
        # The closing handshake is over (or failed): a server closes the TCP
        # connection first (RFC 6455 section 7.1.1), as uvicorn's classes do;
        # close() still sends what is buffered. The close timer aborts it if
        # that never drains.
        self.transport.close()
        return True

    def _close_timed_out(self) -> None:
        self._close_handle = None
        if not self._lost:
            abort = getattr(self.transport, "abort", None)
            (abort or self.transport.close)()

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: close with 1012 (service restart)."""
        self._pings.stop(lambda: ConnectionClosed(None, None))
        if self._lost:
            return
        if self.protocol.state is not _CONNECTING or self._denial is not None:
            if self.protocol.state is _OPEN and self._final is None:
                # RFC 6455 section 7.4.1 (IANA registry): 1012 "Service Restart".
                self._end({"type": "websocket.disconnect", "code": 1012})
                self._start_closing(1012, "")
                return
            if self._close_handle is not None:
                self._close_handle.cancel()
                self._close_handle = None
            self.transport.close()
            return
        self._send_500()
        self.transport.close()

    # -- the opening handshake -----------------------------------------------------

    def _handshake_event(self, event: Any) -> None:
        if not isinstance(event, Request):
            return
        self.request = event
        try:
            check_request(event)
        except InvalidHandshake as exc:
            # Not a valid WebSocket upgrade: answered here, as uvicorn's
            # classes do, without running the application, and in their
            # words for a missing header ("missing Sec-WebSocket-Key header").
            if isinstance(exc, InvalidHeader) and exc.detail == "missing":
                exc.args = (f"missing {exc.name} header",)
            self._accepted = True
            self._final = _lost()
            self.transport.write(response_for_exception(exc).serialize())
            self.transport.close()
            return
        raw_path, _, query = event.path.partition("?")
        root = self.root_path
        subprotocols: list[str] = []
        for value in event.headers.get_all("Sec-WebSocket-Protocol"):
            subprotocols.extend(token.strip() for token in value.split(",") if token.strip())
        self.scope = {
            "type": "websocket",
            "asgi": {"version": self.asgi_version, "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": self.scheme,
            "server": self.server,
            "client": self.client,
            "root_path": root,
            "path": root + unquote(raw_path),
            "raw_path": root.encode("ascii") + raw_path.encode("ascii"),
            "query_string": query.encode("ascii"),
            "headers": [
                (name.encode("latin-1"), value.encode("latin-1")) for name, value in event.headers.items()
            ],
            "subprotocols": subprotocols,
            "state": self.app_state.copy(),
            "extensions": {"websocket.http.response": {}, "fastws": {"connection": self}},
        }
        task = self.loop.create_task(self._run_asgi())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _log(self, outcome: str) -> None:
        scope = self.scope
        client = f"{scope['client'][0]}:{scope['client'][1]}" if scope.get("client") else ""
        target = scope["raw_path"].decode("latin-1")
        if scope["query_string"]:
            target += "?" + scope["query_string"].decode("latin-1")
        logger.info('%s - "WebSocket %s" %s', client, escape(target).replace('"', "%22"), outcome)

    async def _run_asgi(self) -> None:
        try:
            result = await self.app(self.scope, self.asgi_receive, self.asgi_send)
        except ClientDisconnected:
            pass
        except BaseException:
            logger.exception("Exception in ASGI application\n")
            self._send_500()
        else:
            if not self._accepted:
                logger.error("ASGI callable returned without completing handshake.")
                self._send_500()
            elif result is not None:
                logger.error("ASGI callable should return None, but returned '%s'.", result)
        # As uvicorn's classes: an application that returns without closing
        # drops the TCP connection (the client sees 1006); a closing
        # handshake under way ends by itself, within the close timeout.
        if not self._lost and self.protocol.state in (_OPEN, _CONNECTING):
            self.transport.close()

    def _send_500(self) -> None:
        if self._accepted or self._lost:
            return
        self._accepted = True
        self._denial = True
        headers = self._with_defaults(
            [("content-type", "text/plain; charset=utf-8"), ("connection", "close")], len(_ERROR_BODY)
        )
        self.transport.write(_head(500, headers) + _ERROR_BODY)
        self._end(_lost())

    def _with_defaults(self, headers: list[tuple[str, str]], length: int | None) -> list[tuple[str, str]]:
        """Add uvicorn's default headers (server, date) and a length, unless set."""
        names = {name.lower() for name, _ in headers}
        extra = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in self.default_headers
            if name.decode("latin-1").lower() not in names
        ]
        if length is not None and "content-length" not in names:
            headers = [*headers, ("content-length", str(length))]
        return extra + headers

    # -- ASGI ------------------------------------------------------------------------

    async def asgi_receive(self) -> dict[str, Any]:
        """The ASGI ``receive`` callable (``recv`` stays the connection's own)."""
        if not self._connect_delivered:
            self._connect_delivered = True
            return {"type": "websocket.connect"}
        if self._queue:
            return self._event(self._take())
        if self._final is not None:
            return self._final
        try:
            data = await self._recv_wait()
        except _Finished:
            assert self._final is not None
            return self._final
        return self._disconnect() if data is None else self._event(data)

    @staticmethod
    def _event(data: str | bytes) -> dict[str, Any]:
        if type(data) is str:
            return {"type": "websocket.receive", "text": data}
        return {"type": "websocket.receive", "bytes": data}

    def _disconnect(self) -> dict[str, Any]:
        protocol = self.protocol
        if protocol.close_rcvd is not None:
            code, reason = protocol.close_code, protocol.close_reason
        elif protocol.close_sent is not None and protocol.state is _CLOSED:
            code, reason = protocol.close_sent  # we failed the connection (1009, 1011...)
        else:
            return _lost()
        return {"type": "websocket.disconnect", "code": code, "reason": reason}

    def _end(self, event: dict[str, Any]) -> None:
        """The application (or the server) ended the connection: ``event`` is the disconnect."""
        self._final = event
        waiter = self._recv_waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(_Finished())

    async def asgi_send(self, message: Any) -> None:
        """The ASGI ``send`` callable (``send`` stays the connection's own).

        Raises:
            ClientDisconnected: the connection is closed (an ``OSError``).
            RuntimeError: a message out of order, or an invalid status.
        """
        if self._writing_paused or self._flow.work >= WORK_PER_TURN:
            # Wait while the write buffer is above its mark (uvicorn's
            # classes do too), and let other connections run once
            # compressing took this turn's budget.
            try:
                await self._pace()
            except ConnectionClosed:
                raise ClientDisconnected from None
        if self._lost:
            raise ClientDisconnected
        kind = message["type"]
        if self._final is None and self._accepted and self._denial is None:
            if kind == "websocket.send":
                # The ASGI message says which kind it is: no type checks.
                protocol = self.protocol
                if protocol.state is not _OPEN:
                    raise ClientDisconnected
                data = message.get("bytes")
                if data is not None:
                    protocol.send_binary(data)
                else:
                    data = message.get("text")
                    if data is None:
                        return
                    protocol.send_text(data)
                self._flush_or_hold(len(data))
            elif kind == "websocket.close":
                self._close(message.get("code", 1000), message.get("reason") or "")
            else:
                raise RuntimeError(
                    f"Expected ASGI message 'websocket.send' or 'websocket.close', but got '{kind}'."
                )
        elif not self._accepted:
            if kind == "websocket.accept":
                self._accept(message)
            elif kind == "websocket.close":
                self._accepted = True
                self._denial = True
                self._log("403")
                headers = self._with_defaults([("connection", "close")], 0)
                self.transport.write(_head(403, headers))
                self._end(_lost())
                self.transport.close()
            elif kind == "websocket.http.response.start":
                status = message["status"]
                if not 100 <= status < 600:
                    raise RuntimeError(f"Invalid HTTP status code '{status}' in response.")
                checked = Headers()
                for name, value in message.get("headers", []):
                    checked.add(name.decode("latin-1"), value.decode("latin-1"))  # ValueError if invalid
                self._log(str(status))
                self._accepted = True
                self._denial = (status, checked.items())
                if "content-length" in checked:
                    # The application gave the framing: the head goes now.
                    self.transport.write(self._denial_head(False, 0))
            else:
                raise RuntimeError(
                    "Expected ASGI message 'websocket.accept', 'websocket.close' "
                    f"or 'websocket.http.response.start' but got '{kind}'."
                )
        elif self._denial is not None and self._final is None:
            if kind != "websocket.http.response.body":
                raise RuntimeError(f"Expected ASGI message 'websocket.http.response.body' but got '{kind}'.")
            self._denial_body(message.get("body", b""), bool(message.get("more_body", False)))
        else:
            raise RuntimeError(f"Unexpected ASGI message '{kind}', after sending 'websocket.close'.")

    def _accept(self, message: Any) -> None:
        protocol: ServerProtocol = self.protocol  # type: ignore[assignment]
        request = self.request
        assert request is not None
        self._log("[accepted]")
        subprotocol = message.get("subprotocol")
        # The application chooses among the offered subprotocols (ValueError
        # for one the client did not offer: RFC 6455 section 4.2.2).
        protocol._select_subprotocol = lambda _request, _offered: subprotocol
        response = protocol.accept(request)
        if response.status != 101:  # pragma: no cover - check_request passed already
            raise RuntimeError(f"the opening handshake failed: {protocol.handshake_exc}")
        for name, value in self.default_headers + list(message.get("headers", [])):
            response.headers.add(name.decode("latin-1"), value.decode("latin-1"))
        self._accepted = True
        if self.transport.is_closing():
            return
        self.response = response
        protocol.send_response(response)
        self._handshaking = False
        events = protocol.events_received()
        if events:
            self._process_events(events)
        self._wake_recv()
        self._flush()
        if protocol.state is _OPEN:
            self._start_keepalive()

    def _close(self, code: int, reason: str) -> None:
        """``websocket.close`` on an accepted connection."""
        self._end({"type": "websocket.disconnect", "code": code, "reason": reason})
        if self.protocol.state is not _OPEN:
            return  # the peer closed first: the closing handshake is under way
        self._start_closing(code, reason)
        # Messages that arrive from now on are dropped, as uvicorn's classes
        # do: the application said it wants no more. The input held back
        # (the peer's close frame may be behind it) goes on.
        flow = self._flow
        self.protocol.on_message = _drop
        flow.max_queue = flow.max_queue_bytes = None
        self._counted = False
        if self._input_waiting:
            self._resume_input()

    def _denial_head(self, more: bool, size: int) -> bytes:
        """The denial response's head, once: with the app's framing, else
        ``content-length`` for a body in one message, else chunked."""
        status, headers = self._denial
        names = {name for name, _ in headers}
        if "connection" not in names:
            headers = [*headers, ("connection", "close")]
        length: int | None = None
        if "content-length" not in names:
            self._chunked = more
            if more:
                headers = [*headers, ("transfer-encoding", "chunked")]
            else:
                length = size
        self._denial = True
        return _head(status, self._with_defaults(headers, length))

    def _denial_body(self, body: bytes, more: bool) -> None:
        """Stream the denial response's body (the head goes with its first part)."""
        out = b""
        if self._denial is not True:
            out = self._denial_head(more, len(body))
        if self._chunked:
            if body:
                out += b"%x\r\n%s\r\n" % (len(body), body)
            if not more:
                out += b"0\r\n\r\n"
        else:
            out += body
        if out:
            self.transport.write(out)
        if not more:
            self._end(_lost())
            self.transport.close()


def _drop(message: str | bytes) -> None:
    """Where messages go once the application closed the connection."""
