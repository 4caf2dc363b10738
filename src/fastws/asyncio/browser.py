"""The browser-style API: :class:`WebSocket`, as the WHATWG WebSocket standard defines it.

For code that likes the browser's event model (or is ported from
JavaScript)::

    ws = WebSocket("ws://127.0.0.1:8765/", ["chat"])
    ws.onopen = lambda event: ws.send("hello")
    ws.onmessage = lambda event: print(event.data)
    ws.onclose = lambda event: print(event.code, event.reason, event.wasClean)
    await ws.wait_closed()

It runs on the same machinery as :func:`fastws.connect` and must be created
inside a running event loop. Where Python has no equivalent of a browser
type the choices are:

* ``binaryType`` is ``"bytes"`` (the default: binary messages arrive as
  ``bytes``) or ``"bytearray"``; the standard's ``"blob"`` and
  ``"arraybuffer"`` do not exist in Python. Assigning another value raises
  :class:`ValueError` (a browser would silently ignore it).
* The standard's DOMExceptions map to: ``InvalidStateError`` ->
  :class:`fastws.InvalidState`; ``InvalidAccessError`` ->
  :class:`fastws.InvalidAccessError`; ``SyntaxError`` ->
  :class:`fastws.SyntaxErr` (both in fastws's error tree, and both
  :class:`ValueError`, as a wrong argument value is one).
* The events have the standard's names: :class:`Event` (``open``,
  ``error``), :class:`MessageEvent` and :class:`CloseEvent`, exported from
  this module; ``fastws.Event`` is something else, the union of the sans-IO
  protocol's events.
* Listeners and ``on*`` handlers may be plain functions or coroutine
  functions; a coroutine is awaited before the next event is dispatched, so
  events stay in order (so a listener must not wait for a later event, such
  as ``await ws.wait_closed()`` in ``onmessage``). An exception in a listener is logged (a browser
  reports it to the console) and does not stop the dispatch.
* The send buffer has no limit (a browser closes the connection when its
  buffer is "full"); watch ``bufferedAmount`` to pace sends.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import urllib.parse
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from ..escaping import escape
from ..exceptions import ConnectionClosed, InvalidAccessError, InvalidState, SyntaxErr
from ..protocol import State
from .client import ClientConnection, connect

__all__ = [
    "CloseEvent",
    "Event",
    "InvalidAccessError",
    "MessageEvent",
    "SyntaxErr",
    "WebSocket",
]

_OPEN = State.OPEN

logger = logging.getLogger("fastws.browser")

# RFC 6455 section 4.1 / RFC 7230 token: what a subprotocol name may be.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class Event:
    """The standard's plain ``Event`` (``open``, ``error``).

    Attributes:
        type: the event's name.
        target: the :class:`WebSocket` that fired it.
    """

    __slots__ = ("target", "type")

    def __init__(self, type: str, target: WebSocket | None = None) -> None:
        self.type = type
        self.target = target

    def __repr__(self) -> str:
        return f"{type(self).__name__}(type={self.type!r})"


class MessageEvent(Event):
    """A ``message`` event.

    Attributes:
        data: ``str`` for a text message; ``bytes`` (or ``bytearray``,
            per ``binaryType``) for a binary message.
        origin: the origin of the URL the WebSocket connected to.
    """

    __slots__ = ("data", "origin")

    def __init__(self, data: Any, origin: str = "", target: WebSocket | None = None) -> None:
        super().__init__("message", target)
        self.data = data
        self.origin = origin

    def __repr__(self) -> str:
        return f"MessageEvent(data={self.data!r})"


class CloseEvent(Event):
    """A ``close`` event.

    Attributes:
        wasClean: whether the closing handshake completed before the TCP
            connection closed (also ``was_clean``).
        code: the close code the peer sent; 1005 if its close frame had
            none, 1006 if the connection closed without a close frame.
        reason: the close reason the peer sent.
    """

    __slots__ = ("code", "reason", "wasClean")

    def __init__(self, wasClean: bool, code: int, reason: str, target: WebSocket | None = None) -> None:
        super().__init__("close", target)
        self.wasClean = wasClean
        self.code = code
        self.reason = reason

    @property
    def was_clean(self) -> bool:
        """The same as ``wasClean``."""
        return self.wasClean

    def __repr__(self) -> str:
        return f"CloseEvent(wasClean={self.wasClean!r}, code={self.code!r}, reason={self.reason!r})"


Listener = Callable[[Any], Any]

_RUNNING: set[asyncio.Task[None]] = set()


class _HandlerSlot:
    """The place of an ``on*`` handler in its event's listener list.

    The standard puts an event handler into the listener list when it is
    first set, so its order relative to add_event_listener() calls is kept.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _handler_property(name: str) -> property:
    def get(self: WebSocket) -> Listener | None:
        return self._handlers.get(name)

    def set(self: WebSocket, value: Listener | None) -> None:
        if value is not None and not callable(value):
            raise TypeError(f"on{name} must be callable or None")
        listeners = self._listeners[name]
        slot = self._slots[name]
        if value is None:
            self._handlers.pop(name, None)
            if slot in listeners:
                listeners.remove(slot)
        else:
            if name not in self._handlers:
                listeners.append(slot)
            self._handlers[name] = value

    return property(get, set, doc=f"The ``{name}`` event handler (a callable or None).")


class WebSocket:
    """A WebSocket client with the WHATWG (browser) interface.

    Args:
        url: ``ws://``, ``wss://``, ``http://`` or ``https://`` URL (the
            latter two mean ws and wss, as in browsers).
        protocols: one subprotocol name or a sequence of them to offer.
        **kwargs: passed to :func:`fastws.connect` (``ssl``, ``origin``,
            ``additional_headers``, ``max_size``, ``open_timeout`` ...).

    Raises:
        SyntaxErr: the URL is not a WebSocket URL, has a fragment, or the
            protocols are not distinct tokens.
        RuntimeError: there is no running event loop.
    """

    CONNECTING = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3

    onopen = _handler_property("open")
    onmessage = _handler_property("message")
    onerror = _handler_property("error")
    onclose = _handler_property("close")

    def __init__(self, url: str, protocols: str | Sequence[str] | None = None, **kwargs: Any) -> None:
        self._url, self._origin = self._parse_url(url)
        if protocols is None:
            protocols = []
        elif isinstance(protocols, str):
            protocols = [protocols]
        protocols = list(protocols)
        # WHATWG: "If any of the values in protocols occur more than once or
        # otherwise fail to match the requirements for elements that
        # comprise the value of Sec-WebSocket-Protocol ... throw a
        # SyntaxError".
        for name in protocols:
            if not isinstance(name, str) or _TOKEN.fullmatch(name) is None:
                raise SyntaxErr(f"invalid subprotocol name: {name!r}")
        if len(set(protocols)) != len(protocols):
            raise SyntaxErr("duplicate subprotocol names")
        self._listeners: dict[str, list[Any]] = {k: [] for k in ("open", "message", "error", "close")}
        self._handlers: dict[str, Listener] = {}
        self._slots = {k: _HandlerSlot(k) for k in self._listeners}
        self._ready_state = self.CONNECTING
        self._binary_type = "bytes"
        self._protocol = ""
        self._extensions = ""
        self._connection: ClientConnection | None = None
        # bufferedAmount bookkeeping: (end offset on the wire, payload size)
        # of each message not yet fully handed to the network.
        self._sent: deque[tuple[int, int]] = deque()
        self._buffered_after_close = 0
        self._close_event: CloseEvent | None = None
        self._close_requested: tuple[int | None, str] | None = None
        loop = asyncio.get_running_loop()
        self._done: asyncio.Future[CloseEvent] = loop.create_future()
        self._connect_task: asyncio.Future[ClientConnection] | None = None
        self._task = loop.create_task(self._run(protocols, kwargs))
        # The event loop holds tasks weakly; a WebSocket the caller does not
        # keep must still run to its end, as in a browser.
        _RUNNING.add(self._task)
        self._task.add_done_callback(_RUNNING.discard)

    @staticmethod
    def _parse_url(url: str) -> tuple[str, str]:
        try:
            parts = urllib.parse.urlsplit(url)
        except ValueError as exc:
            raise SyntaxErr(f"invalid URL: {url!r}") from exc
        scheme = parts.scheme.lower()
        scheme = {"http": "ws", "https": "wss"}.get(scheme, scheme)
        if scheme not in ("ws", "wss") or not parts.hostname:
            raise SyntaxErr(f"not a WebSocket URL: {url!r}")
        if parts.fragment or "#" in url:
            raise SyntaxErr(f"a WebSocket URL must not have a fragment: {url!r}")
        url = urllib.parse.urlunsplit((scheme, parts.netloc, parts.path or "/", parts.query, ""))
        origin = f"{'https' if scheme == 'wss' else 'http'}://{parts.netloc}"
        return url, origin

    # -- attributes ----------------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL, as resolved (http/https mapped to ws/wss)."""
        return self._url

    @property
    def readyState(self) -> int:
        """CONNECTING (0), OPEN (1), CLOSING (2) or CLOSED (3)."""
        return self._ready_state

    ready_state = readyState

    @property
    def protocol(self) -> str:
        """The subprotocol the server chose ("" if none or not yet open)."""
        return self._protocol

    @property
    def extensions(self) -> str:
        """The extensions the server chose ("" if none or not yet open)."""
        return self._extensions

    @property
    def binaryType(self) -> str:
        """How binary messages are delivered: ``"bytes"`` or ``"bytearray"``."""
        return self._binary_type

    @binaryType.setter
    def binaryType(self, value: str) -> None:
        if value not in ("bytes", "bytearray"):
            raise ValueError(f"binaryType must be 'bytes' or 'bytearray', not {value!r}")
        self._binary_type = value

    binary_type = binaryType

    @property
    def bufferedAmount(self) -> int:
        """Bytes of application data passed to :meth:`send` and not yet
        handed to the network (the kernel), per the standard: frame headers
        are not counted; data sent after closing is counted and never leaves.
        """
        amount = self._buffered_after_close
        connection = self._connection
        sent = self._sent
        if connection is None or not sent:
            return amount
        if connection._lost:
            # Nothing more will be transmitted.
            return amount + sum(size for _, size in sent)
        transmitted = connection.bytes_sent - connection.transport.get_write_buffer_size()
        while sent and sent[0][0] <= transmitted:
            sent.popleft()
        for end, size in sent:
            # The frame header goes out before the payload.
            untransmitted = end - transmitted
            amount += size if untransmitted >= size else untransmitted
        return amount

    buffered_amount = bufferedAmount

    # -- methods -------------------------------------------------------------------

    def send(self, data: str | bytes | bytearray | memoryview) -> None:
        """Send a message now (text for ``str``, binary for bytes-like).

        Args:
            data: the message.

        Raises:
            InvalidState: the connection is still CONNECTING (the standard's
                InvalidStateError).
            TypeError: ``data`` is not ``str`` or bytes-like.
        """
        if self._ready_state == self.CONNECTING:
            raise InvalidState("the WebSocket is still CONNECTING")
        if isinstance(data, str):
            payload: Any = data.encode()
            text = True
        elif isinstance(data, (bytes, bytearray, memoryview)):
            payload = data
            text = False
        else:
            raise TypeError(f"data must be str or bytes-like, not {type(data).__name__}")
        size = memoryview(payload).nbytes
        connection = self._connection
        if (
            self._ready_state != self.OPEN
            or connection is None
            or connection._lost
            or connection.protocol.state is not _OPEN
        ):
            # WHATWG: "If the WebSocket is closing or closed, increase
            # bufferedAmount by the number of bytes" and do nothing else.
            self._buffered_after_close += size
            return
        protocol = connection.protocol
        if text:
            protocol.send_text(payload)
        else:
            protocol.send_binary(payload)
        chunks = protocol.data_to_send()
        if connection._flush_handle is not None:
            connection._flush_handle.cancel()
            connection._flush_handle = None
        connection._write(chunks)
        self._sent.append((connection.bytes_sent, size))

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Start the closing handshake (or abandon the connection attempt).

        Args:
            code: 1000 or 3000-4999; None sends a close frame without a code.
            reason: at most 123 bytes once UTF-8 encoded.

        Raises:
            InvalidAccessError: ``code`` is neither 1000 nor in 3000-4999.
            SyntaxErr: ``reason`` is longer than 123 bytes in UTF-8.
        """
        # WHATWG close() steps 1-2.
        if code is not None and code != 1000 and not 3000 <= code <= 4999:
            raise InvalidAccessError(f"close code must be 1000 or in 3000-4999, not {code}")
        reason_bytes = (reason or "").encode()
        if len(reason_bytes) > 123:
            raise SyntaxErr(f"close reason is {len(reason_bytes)} bytes in UTF-8; at most 123 are allowed")
        if self._ready_state in (self.CLOSING, self.CLOSED):
            return
        self._ready_state = self.CLOSING
        if self._connection is None:
            # Still connecting: "fail the WebSocket connection".
            self._close_requested = (code, reason or "")
            if self._connect_task is not None:
                self._connect_task.cancel()
            return
        self._start_closing(code, reason or "")

    def _start_closing(self, code: int | None, reason: str) -> None:
        connection = self._connection
        assert connection is not None
        if code is None:
            # No status code: an empty close frame, which the peer reports as 1005.
            code = 1005 if not reason else 1000
        try:
            connection._start_closing(code, reason)
        except ValueError:
            # The protocol may refuse to send a frame without a code; 1000
            # means the same thing ("normal closure").
            connection._start_closing(1000, reason)

    def add_event_listener(self, type: str, listener: Listener, *, once: bool = False) -> None:
        """Add ``listener`` for ``type`` events (``open``, ``message``, ``error``, ``close``).

        Adding the same listener twice does nothing, as in the DOM.

        Args:
            type: the event name.
            listener: a function or coroutine function taking the event.
            once: remove the listener after its first call.
        """
        listeners = self._listeners.setdefault(type, [])
        for entry in listeners:
            if isinstance(entry, tuple) and entry[0] is listener:
                return
        listeners.append((listener, once))

    addEventListener = add_event_listener

    def remove_event_listener(self, type: str, listener: Listener) -> None:
        """Remove a listener added with :meth:`add_event_listener`."""
        listeners = self._listeners.get(type, [])
        for entry in listeners:
            if isinstance(entry, tuple) and entry[0] is listener:
                listeners.remove(entry)
                return

    removeEventListener = remove_event_listener

    async def wait_closed(self) -> CloseEvent:
        """Wait until the connection is CLOSED; return the close event.

        Not part of the standard: a convenience for scripts and tests.
        """
        return await asyncio.shield(self._done)

    # -- the connection task -------------------------------------------------------

    async def _dispatch(self, event: Event) -> None:
        for entry in list(self._listeners.get(event.type, ())):
            if isinstance(entry, _HandlerSlot):
                listener = self._handlers.get(entry.name)
                if listener is None:
                    continue
            else:
                listener, once = entry
                if once:
                    self.remove_event_listener(event.type, listener)
            try:
                result = listener(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.error("exception in a WebSocket %s listener", event.type, exc_info=True)

    async def _run(self, protocols: list[str], kwargs: dict[str, Any]) -> None:
        connection: ClientConnection | None = None
        if self._close_requested is None:
            self._connect_task = asyncio.ensure_future(
                connect(self._url, subprotocols=protocols or None, **kwargs)._open()
            )
            try:
                connection = await self._connect_task
            except asyncio.CancelledError:
                if self._close_requested is None:
                    raise  # this task itself was cancelled
            except Exception as exc:
                # The message may quote the server's answer: escaped.
                logger.debug("WebSocket connection to %s failed: %s", self._url, escape(str(exc)))
        if connection is None:
            await self._finish(None)
            return
        self._connection = connection
        try:
            if self._close_requested is not None:
                # close() was called while the handshake was completing:
                # "fail the WebSocket connection".
                connection.transport.abort()
                await connection.wait_closed()
                await self._finish(connection)
                return
            self._protocol = connection.subprotocol or ""
            # As a browser does: the Sec-WebSocket-Extensions value of the
            # server's answer, verbatim.
            response = getattr(connection, "response", None)
            self._extensions = (
                (response.headers.get("Sec-WebSocket-Extensions") or "") if response is not None else ""
            )
            self._ready_state = self.OPEN
            await self._dispatch(Event("open", self))
            origin = self._origin
            while True:
                try:
                    data = await connection.recv()
                except ConnectionClosed:
                    break
                # WHATWG: "If ready state is not OPEN (1), then return."
                if self._ready_state != self.OPEN:
                    continue
                if type(data) is not str and self._binary_type == "bytearray":
                    await self._dispatch(MessageEvent(bytearray(data), origin, self))  # type: ignore[arg-type]
                else:
                    await self._dispatch(MessageEvent(data, origin, self))
            if not connection._lost:
                # The peer's close arrived; the TCP connection follows.
                if self._ready_state == self.OPEN:
                    self._ready_state = self.CLOSING
                await connection.wait_closed()
        except asyncio.CancelledError:
            connection.transport.abort()
            raise
        await self._finish(connection)

    async def _finish(self, connection: ClientConnection | None) -> None:
        self._ready_state = self.CLOSED
        if connection is None:
            event = CloseEvent(False, 1006, "", self)
        else:
            protocol = connection.protocol
            clean = bool(getattr(protocol, "close_was_clean", False))
            rcvd = protocol.close_rcvd
            if rcvd is None:
                event = CloseEvent(clean, 1006, "", self)
            else:
                event = CloseEvent(clean, rcvd.code, rcvd.reason, self)
        self._close_event = event
        # WHATWG: if the connection was failed (not closed cleanly), fire
        # "error" before "close".
        if not event.wasClean:
            await self._dispatch(Event("error", self))
        await self._dispatch(event)
        if not self._done.done():
            self._done.set_result(event)

    def __repr__(self) -> str:
        states = ("CONNECTING", "OPEN", "CLOSING", "CLOSED")
        return f"<WebSocket {self._url} {states[self._ready_state]}>"
