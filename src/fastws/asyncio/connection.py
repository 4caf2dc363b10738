"""The asyncio WebSocket connection shared by the client and the server: :class:`Connection`.

A :class:`Connection` is what an application holds: ``recv``/``async for``
or ``on_message`` to receive, ``send``/``send_nowait`` to send, ``ping``,
``close``. It runs on :class:`~fastws.asyncio.stream.Stream`, which drives
one sans-IO :class:`fastws.protocol.Protocol` over an asyncio transport and
bounds the memory and the work of every read (see its module doc).

Small messages that the application sends while more received messages are
waiting in the queue (an echo loop working through a burst) are written in
one ``transport.write`` at the end of the burst instead of one system call
each; a message sent when nothing else is pending is written immediately.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any

from ..exceptions import ConnectionClosed, InvalidState
from ..options import COALESCE_LIMIT
from ..protocol import State
from .stream import FAILURE_GRACE, HOLD_LIMIT, READ_BUFFER_SIZE, WORK_PER_TURN, Data, Stream

__all__ = ["FAILURE_GRACE", "HOLD_LIMIT", "READ_BUFFER_SIZE", "WORK_PER_TURN", "Connection", "Data"]

logger = logging.getLogger("fastws")

_BYTES_LIKE = (bytes, bytearray, memoryview)
#: What send() and send_nowait() take as one message (str: text).
_MESSAGE_TYPES = (str, *_BYTES_LIKE)
_OPEN = State.OPEN
_CONNECTING = State.CONNECTING


async def _until_done(future: asyncio.Future[None], loop: asyncio.AbstractEventLoop) -> None:
    """Wait for ``future``; cancelling the wait leaves it alone.

    What ``await asyncio.shield(future)`` does, with one future and one
    callback instead of two of each and the Python code between them.
    """
    if future.done():
        return
    waiter = loop.create_future()
    wake = functools.partial(_wake, waiter)
    future.add_done_callback(wake)
    try:
        await waiter
    finally:
        future.remove_done_callback(wake)


def _wake(waiter: asyncio.Future[None], _: object) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _check_plain_function(callback: object, name: str, instead: str) -> None:
    """Refuse what cannot be called back from a transport's callback: a non-callable, a coroutine function."""
    if not callable(callback) or inspect.iscoroutinefunction(callback):
        raise TypeError(f"{name} must be a plain function (or None); {instead}")


class Connection(Stream):
    """One WebSocket connection on top of an asyncio transport.

    Applications get instances from :func:`fastws.connect` (client side) or as
    the argument of their :func:`fastws.serve` handler (server side); they do
    not create them.

    Args:
        protocol: the sans-IO protocol object that this connection drives.
        ping_interval: seconds between keepalive pings; None disables them.
        ping_timeout: seconds to wait for the pong of a keepalive ping before
            failing the connection with 1011; None waits forever.
        close_timeout: seconds to wait for the closing handshake and for the
            TCP connection to close before aborting it; None waits forever.
        max_queue: how many received messages may wait for :meth:`recv`
            before delivery stops: an int (high-water mark; delivery resumes
            at a quarter of it), a ``(high, low)`` tuple, or None for no
            limit on the count. 128 by default: the bytes are bounded by
            ``max_queue_bytes``, the count only bounds the cost of many tiny
            messages (about 100 bytes each), and a larger batch lets a busy
            connection work through a burst with fewer rounds.
        max_queue_bytes: how many payload bytes (UTF-8 bytes for text) the
            waiting messages may hold before delivery stops (a single larger
            message is still delivered into an empty queue); delivery
            resumes at a quarter of it. None: no limit on the bytes.
        write_limit: high-water mark of the transport's write buffer, in
            bytes: :meth:`send` waits while the buffer is above it; an int
            (the low-water mark is a quarter of it) or a ``(high, low)`` tuple.

    Raises:
        ValueError: an argument is out of range.
    """

    __slots__ = ()

    # -- public attributes ---------------------------------------------------

    @property
    def state(self) -> State:
        """The protocol state: CONNECTING, OPEN, CLOSING or CLOSED."""
        return self.protocol.state

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol negotiated in the opening handshake, if any."""
        return self.protocol.subprotocol

    @property
    def latency(self) -> float:
        """Seconds between the last answered ping (keepalive or user) and its pong."""
        return self._pings.latency

    @property
    def ping_interval(self) -> float | None:
        """Seconds between keepalive pings (None: no keepalive)."""
        return self._pings.interval

    @property
    def ping_timeout(self) -> float | None:
        """Seconds a keepalive ping may wait for its pong (None: forever)."""
        return self._pings.timeout

    @property
    def close_code(self) -> int | None:
        """The code of the peer's close frame; 1006 if the connection closed
        without one, 1005 if it had no code; None until either happens.
        """
        if not self._ended():
            return None
        return self.protocol.close_code

    @property
    def close_reason(self) -> str | None:
        """The reason of the peer's close frame; None until the connection closes."""
        if not self._ended():
            return None
        return self.protocol.close_reason

    def __repr__(self) -> str:
        state = "LOST" if self._lost else self.protocol.state.name
        return f"<{type(self).__name__} {state} remote={self.remote_address!r}>"

    # -- receiving -----------------------------------------------------------

    async def recv(self) -> Data:
        """Return the next message: ``str`` for text, ``bytes`` for binary.

        Cancelling ``recv`` loses no message: a message is taken off the
        queue only when it is returned.

        Raises:
            ConnectionClosedOK: the connection closed normally (1000, 1001)
                and every received message has been returned.
            ConnectionClosedError: the connection closed any other way.
            InvalidState: another coroutine is already waiting in ``recv``.
        """
        if self._queue:
            return self._take()
        message = await self._recv_wait()
        if message is None:
            raise self._closed_exception()
        return message

    def _take(self) -> Data:
        """Take the oldest queued message; go on with waiting input at the low-water mark."""
        queue = self._queue
        message = queue.popleft()
        if self._input_waiting and self._marks.low_water(self._flow, len(queue)):
            self._resume_input()
        return message

    async def _recv_wait(self) -> Data | None:
        """``recv`` when the queue is empty: wait for a message, or None at the end.

        None: the connection ended and every message was returned (the
        caller raises, or ends an iteration without making the exception).
        """
        while True:
            # self._queue, not a local: the first message makes the queue.
            if self._queue:
                return self._take()
            if self._input_waiting:
                # The peer's EOF (or our close) may wait behind input that
                # the protocol still holds: go on with it.
                self._resume_input()
                if self._queue:
                    continue
            if self._failure_handle is not None:
                # Every message that arrived before the protocol error has
                # been taken, and the application is back for more: the
                # answers it had to send are out; fail the connection now.
                self._send_failure()
            if self._ended() and not self._input_waiting:
                return None
            if self._recv_waiter is not None:
                raise InvalidState("another coroutine is already waiting for the next message")
            if self._on_message is not None:
                raise InvalidState("messages go to on_message: recv() has nothing to return")
            waiter = self.loop.create_future()
            self._recv_waiter = waiter
            try:
                await waiter
            finally:
                self._recv_waiter = None

    def __aiter__(self) -> AsyncIterator[Data]:
        return self

    async def __anext__(self) -> Data:
        """The next message; iteration ends when the connection closes normally.

        Raises:
            ConnectionClosedError: the connection closed with an error.
        """
        if self._queue:
            return self._take()
        message = await self._recv_wait()
        if message is not None:
            return message
        if self.protocol.closed_ok:
            raise StopAsyncIteration
        raise self._closed_exception()

    @property
    def on_message(self) -> Callable[[Data], object] | None:
        """A function called with each message as soon as it is received.

        The callback way of receiving, instead of :meth:`recv`: the function
        runs inside the transport's read callback (no task switch per
        message), with ``str`` for text and ``bytes`` for binary messages,
        and typically answers with :meth:`send_nowait`::

            def handler(ws):                    # serve(handler): no task
                ws.on_message = ws.send_nowait      # an echo server

        Assigning a function first delivers the messages already queued, in
        order; while one is set, :meth:`recv` raises :class:`InvalidState`.
        Assign None to go back to :meth:`recv`. The function must not
        block: it holds up every connection of the event loop. If it
        raises, the error is logged and the connection is failed with 1011
        (internal error).

        Flow control: nothing is queued, so ``max_queue`` does not apply;
        when what the callback sends fills the write buffer past its mark (a
        peer that sends but does not read), delivery stops until the buffer
        drains, then resumes with the next message.

        Raises:
            TypeError: the value is neither None nor a plain (not async)
                function.
            InvalidState: a coroutine is waiting in :meth:`recv`.
        """
        return self._on_message

    @on_message.setter
    def on_message(self, callback: Callable[[Data], object] | None) -> None:
        if callback is not None:
            _check_plain_function(callback, "on_message", "use recv() to await")
            if self._recv_waiter is not None and not self._recv_waiter.done():
                raise InvalidState("a coroutine is waiting in recv()")
        self._on_message = callback
        queue = self._queue
        if callback is not None and queue:
            # Messages that arrived before: deliver them now, in order, as
            # one dispatch (answers are written once, at the end).
            self._dispatching = True
            try:
                while queue and self._on_message is callback:
                    if not self._call_on_message(callback, queue.popleft()):
                        break
            finally:
                self._dispatching = False
                self._dispatch_bytes = 0
        # From now on the protocol hands messages straight to the callback
        # (or, with None, to the receive queue).
        self._route_messages()
        if self._input_waiting:
            self._resume_input()
        self._flush()

    @property
    def on_close(self) -> Callable[[], object] | None:
        """A function called with no arguments once the connection is closed.

        The callback way of learning the end, instead of awaiting
        :meth:`wait_closed`: it runs once, when the TCP connection is gone
        (:attr:`close_code` and :attr:`close_reason` are then final, and a
        server connection has left ``server.connections``). Set after the
        connection closed, it is called at the next turn of the event loop.
        If it raises, the error is logged. Assign None to cancel it.

        Raises:
            TypeError: the value is neither None nor a plain (not async)
                function.
        """
        return self._on_close

    @on_close.setter
    def on_close(self, callback: Callable[[], object] | None) -> None:
        if callback is not None:
            _check_plain_function(callback, "on_close", "await wait_closed() instead")
        self._on_close = callback
        if callback is not None and self._lost:
            self.loop.call_soon(self._call_on_close)

    # -- sending -------------------------------------------------------------

    def send_nowait(self, message: str | bytes | bytearray | memoryview) -> None:
        """Send a message without waiting: ``str`` as text, bytes-like as binary.

        For callbacks (:attr:`on_message`) and other code that cannot await.
        The message is handed to the transport at once, or, when called from
        ``on_message``, together with the other answers to the same read.
        It does not wait for the write buffer to drain: pace sends made
        outside ``on_message`` with :meth:`send` or :meth:`drain`.

        Raises:
            ConnectionClosed: the connection is closed or closing.
            InvalidState: a fragmented message is being sent.
            TypeError: ``message`` is neither ``str`` nor bytes-like.
        """
        if self._not_open():
            self._check_open()  # raises
        if self._fragmented_send is not None:
            raise InvalidState("a fragmented message is being sent")
        if not self._send_message(message):
            raise TypeError(f"message must be str or bytes-like, not {type(message).__name__}")
        if not self._dispatching:
            self._flush()
            return
        self._dispatch_bytes += len(message)
        if self._dispatch_bytes > self._write_high:
            # Answers to one read past the write buffer's mark: write them
            # now, and stop delivering if the transport cannot take more.
            self._dispatch_bytes = 0
            self._flush()
            if self._writing_paused:
                self.protocol.pause()

    def _not_open(self) -> bool:
        """Whether messages may not be sent now (closing, closed, or not open yet)."""
        return self.protocol.state is not _OPEN or self._lost

    def _check_open(self) -> None:
        """Raise unless messages may be sent now (for code that cannot await :meth:`_raise_closed`)."""
        if self._not_open():
            if self.protocol.state is _CONNECTING and not self._lost:
                raise InvalidState("the opening handshake is not complete")
            raise self._closed_exception()

    def _send_message(self, message: Any) -> bool:
        """Queue ``str`` as a text message, bytes-like as binary; False otherwise."""
        kind = type(message)
        if kind is bytes or kind is str or isinstance(message, _MESSAGE_TYPES):
            self.protocol._send_whole(message)
            return True
        return False

    async def drain(self) -> None:
        """Wait until the write buffer is below its high-water mark.

        Returns at once when it already is.

        Raises:
            ConnectionClosed: the connection was lost meanwhile.
        """
        if self._writing_paused:
            await self._drain()

    async def send(
        self,
        message: str | bytes | bytearray | memoryview | Iterable[Any] | AsyncIterable[Any],
    ) -> None:
        """Send a message: text for ``str``, binary for a bytes-like object.

        An iterable or async iterable of ``str`` (or of bytes-like objects) is
        sent as one fragmented text (binary) message, one frame per item;
        other messages wait until it is complete. While the transport's
        write buffer is above ``write_limit``, ``send`` waits for it to drain
        before it adds the message; the message itself may take the buffer
        past the mark (the bound is ``write_limit`` plus one message), so a
        large message is handed over at once, not after a wait of its own.

        Args:
            message: the message, or its fragments.

        Raises:
            ConnectionClosed: the connection is closed or closing.
            TypeError: ``message`` has an unsupported type, or the fragments
                mix text and binary (the connection is then failed with
                1011, since the message cannot be taken back).
        """
        while self._fragmented_send is not None:
            await asyncio.shield(self._fragmented_send)
        if self._writing_paused or self._flow.work >= WORK_PER_TURN:
            await self._pace()
        if self._not_open():
            await self._raise_closed()
        if not self._send_message(message):
            if isinstance(message, Mapping):
                raise TypeError("a dict is not a message: send str, bytes or an iterable of fragments")
            if isinstance(message, AsyncIterable):
                await self._send_fragments(message.__aiter__(), True)
            elif isinstance(message, Iterable):
                await self._send_fragments(iter(message), False)
            else:
                raise TypeError(
                    f"message must be str, bytes-like or an iterable, not {type(message).__name__}"
                )
            return
        self._flush_or_hold(len(message))  # type: ignore[arg-type]

    def _flush_or_hold(self, size: int) -> None:
        """After queuing a message of ``size``: write now, or hold it back.

        Small messages wait (until the end of this turn of the loop, or
        ``COALESCE_LIMIT`` bytes) while the application is working through
        a burst of received ones, so that its answers leave together.
        """
        if self._queue:
            coalesced = self._coalesced + size
            self._coalesced = coalesced
            if coalesced < COALESCE_LIMIT:
                self._flush_later()
                return
        self._flush()

    async def _pace(self) -> None:
        """Before adding to the write buffer: wait while it is above its mark,
        and yield to the loop once compressing took this turn's budget."""
        if self._writing_paused:
            await self._drain()
        if self._flow.worked_out():
            self._flow.work = 0
            await asyncio.sleep(0)

    async def _send_fragments(self, fragments: Any, is_async: bool) -> None:
        """Send the items of an (async) iterator as one fragmented message."""
        done = self.loop.create_future()
        self._fragmented_send = done
        protocol = self.protocol
        started = False
        try:
            try:
                first = await fragments.__anext__() if is_async else next(fragments)
            except (StopIteration, StopAsyncIteration):
                return  # an empty iterable sends nothing
            if isinstance(first, str):
                text = True
                protocol.send_text(first, fin=False)
            elif isinstance(first, _BYTES_LIKE):
                text = False
                protocol.send_binary(first, fin=False)
            else:
                raise TypeError(f"fragments must be str or bytes-like, not {type(first).__name__}")
            started = True
            self._flush()
            while True:
                try:
                    fragment = await fragments.__anext__() if is_async else next(fragments)
                except (StopIteration, StopAsyncIteration):
                    break
                if text and isinstance(fragment, str):
                    fragment = fragment.encode()
                elif text or not isinstance(fragment, _BYTES_LIKE):
                    kind = "str" if text else "bytes-like"
                    raise TypeError(
                        f"all fragments of a message must be {kind}, not {type(fragment).__name__}"
                    )
                await self._pace()
                if self._not_open():
                    await self._raise_closed()
                protocol.send_continuation(fragment, fin=False)
                self._flush()
            await self._pace()
            if self._not_open():
                await self._raise_closed()
            protocol.send_continuation(b"", fin=True)
            self._flush()
        except BaseException as exc:
            # A message that is half sent cannot be taken back: RFC 6455
            # section 7.1.7 lets an endpoint fail the connection, and 1011
            # says the fault is ours, not the peer's.
            if started and not isinstance(exc, ConnectionClosed) and protocol.state is _OPEN:
                self._fail(1011, "error while sending a fragmented message")
            raise
        finally:
            self._fragmented_send = None
            done.set_result(None)

    async def ping(self, data: str | bytes | None = None) -> Awaitable[float]:
        """Send a ping; return a waiter that completes when its pong arrives.

        ``pong_waiter = await ws.ping(); latency = await pong_waiter``. A pong
        also acknowledges every ping sent before the one it answers (RFC 6455
        section 5.5.3 allows a peer to answer only the most recent ping).

        Args:
            data: the ping's payload (``str`` is UTF-8 encoded, 125 bytes at
                most); None picks 4 random bytes.

        Returns:
            a future whose result is the round-trip time in seconds; it fails
            with :class:`ConnectionClosed` if the connection closes first.

        Raises:
            ConnectionClosed: the connection is closed or closing.
            InvalidState: a ping with the same payload is still unanswered.
        """
        if data is None:
            payload = self._pings.fresh_payload()
        else:
            payload = data.encode() if isinstance(data, str) else bytes(data)
            if payload in self._pings:
                raise InvalidState("a ping with the same payload is still waiting for its pong")
        if self._not_open():
            await self._raise_closed()
        self.protocol.send_ping(payload)
        waiter = self._pings.sent(payload)
        self._flush()
        return waiter

    async def pong(self, data: str | bytes = b"") -> None:
        """Send an unsolicited pong (RFC 6455 section 5.5.3: a heartbeat).

        Raises:
            ConnectionClosed: the connection is closed or closing.
        """
        if self._not_open():
            await self._raise_closed()
        self.protocol.send_pong(data.encode() if isinstance(data, str) else bytes(data))
        self._flush()

    # -- closing -------------------------------------------------------------

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake and wait until the connection is closed.

        Does nothing but wait if the connection is already closing. The wait
        is bounded by ``close_timeout``: past it the TCP connection is aborted.

        Args:
            code: the close code (1000, 1001, 1003, 1007-1014, 3000-4999).
            reason: the close reason (at most 123 bytes once UTF-8 encoded).

        Raises:
            ValueError: the code or reason may not be sent.
        """
        self._start_closing(code, reason)
        await _until_done(self._closed, self.loop)

    def close_nowait(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake and return at once: :meth:`close` for callbacks.

        The close frame is sent now; the end is reported by :attr:`on_close`
        (or :meth:`wait_closed`), within ``close_timeout`` as with
        :meth:`close`, whose arguments it takes and whose ``ValueError`` it
        raises. Does nothing if the connection is already closing.
        """
        self._start_closing(code, reason)

    def _start_closing(self, code: int, reason: str) -> None:
        """Send a close frame now, if the connection is open (not a coroutine)."""
        if self._lost:
            return
        protocol = self.protocol
        if protocol.state is _OPEN:
            protocol.send_close(code, reason)  # may raise ValueError: nothing changed then
            self._after_close_sent()
        elif protocol.state is _CONNECTING:
            self.transport.close()
        else:
            self._set_closing()

    async def wait_closed(self) -> None:
        """Wait until the TCP connection is closed."""
        await _until_done(self._closed, self.loop)

    def _closed_exception(self) -> ConnectionClosed:
        """The exception that says how the connection closed."""
        return self.protocol.closed_exception(self._lost_exc)

    async def _raise_closed(self) -> None:
        """Raise ConnectionClosed, after the closing handshake if it is under way."""
        if self.protocol.state is _CONNECTING and not self._lost:
            raise InvalidState("the opening handshake is not complete")
        if not self._lost:
            # Closing: the close code is known only once the handshake ends.
            self._start_close_timer()
            await _until_done(self._closed, self.loop)
        raise self._closed_exception()
