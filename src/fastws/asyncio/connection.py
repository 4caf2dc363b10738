"""The asyncio glue shared by the client and the server: :class:`Connection`.

A :class:`Connection` is an :class:`asyncio.BufferedProtocol` wrapped around
one sans-IO :class:`fastws.protocol.Protocol`. The transport reads into one
buffer that the connections of a thread share, and the bytes go straight
from there to ``Protocol.receive_data`` (no stream reader in between, no
allocation per read); complete messages are queued for :meth:`Connection.recv`
(or handed to :attr:`Connection.on_message`), pongs wake the waiters of
:meth:`Connection.ping`, and whatever the protocol wants to send (automatic
pongs, the close echo) is written right away. Time lives here and only here:
keepalive (:mod:`fastws.asyncio.keepalive`), the close handshake timeout and
(in the subclasses) the opening handshake timeout.

Flow control bounds the work and the memory of every read, not only of the
queue (see :mod:`fastws.flow`):

* the protocol delivers messages only while the receive queue holds fewer
  than ``max_queue`` messages and ``max_queue_bytes`` bytes; the input past
  that point waits in the protocol, parsed (at most a slice ahead) or raw,
  costing its wire size. Reading goes on while that input costs less than
  :data:`HOLD_LIMIT` (so pongs behind it are still seen), then pauses, so
  the kernel's buffers fill and TCP pushes back on the peer. Taking messages
  down to the low-water mark delivers what waits and resumes reading;
* inflating and deflating (permessage-deflate) stop after
  :data:`WORK_PER_TURN` bytes in one callback, and go on at the next turn
  of the event loop, so one connection cannot hold the loop for long;
  ``send`` yields to the loop past the same budget;
* sending: the transport calls ``pause_writing`` when its write buffer
  grows above ``write_limit``; :meth:`Connection.send` then waits until
  ``resume_writing``. Automatic answers (pongs) and ``on_message`` answers
  that hold the buffer above its mark stop delivery and reading until it
  drains: a peer that sends and never reads cannot grow our memory.

Failing the connection waits for the application, briefly: the protocol
delivers the messages completed before a protocol error and keeps the
failure pending (``defer_failure``); this layer sends it once the application
has taken those messages and come back to :meth:`Connection.recv` (an echo
handler has then sent its answers), or after a short grace period. So a
peer that sends a valid message and a faulty frame in one write gets the
answer, then the close frame, then EOF, in the order it sent them.

Small messages that the application sends while more received messages are
waiting in the queue (an echo loop working through a burst) are written in
one ``transport.write`` at the end of the burst instead of one system call
each; a message sent when nothing else is pending is written immediately.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import sys
import threading
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..events import BinaryMessage, CloseReceived, Ping, Pong, TextMessage
from ..exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK, InvalidState
from ..protocol import State
from .keepalive import Pings

if TYPE_CHECKING:
    from ..http11 import Request, Response
    from ..protocol import Protocol

__all__ = ["FAILURE_GRACE", "HOLD_LIMIT", "READ_BUFFER_SIZE", "WORK_PER_TURN", "Connection", "Data"]

#: What :meth:`Connection.recv` returns: ``str`` for text, ``bytes`` for binary.
Data = str | bytes

#: RFC 6455 section 7.4.1: 1000 (normal closure) and 1001 (going away) end a
#: connection normally; 1005 is what a close frame without a code reports.
_OK_CLOSE_CODES = frozenset((1000, 1001, 1005))

#: Bytes of small messages held back while more received messages wait in the
#: queue; past this the held data is written at once.
_COALESCE_LIMIT = 65536

#: Longest wait, in seconds, for the application to take the messages that
#: arrived before a protocol error (see the module doc) before the failure is
#: sent anyway; ``close_timeout`` bounds it further when it is shorter. Those
#: messages are already in memory, so answering them takes no network round
#: trip, and a broken peer should not hold a connection for long.
FAILURE_GRACE = 1.0

#: Size of the buffer the transport reads into (asyncio reads at most as
#: much with ``recv`` too).
READ_BUFFER_SIZE = 262144

#: While delivery is stopped, reading goes on until the input waiting in the
#: protocol costs this many bytes (``Protocol.held_bytes``), then pauses.
HOLD_LIMIT = 262144

#: Below this much room under :data:`HOLD_LIMIT`, reading pauses.
_MIN_READ = 4096

#: Bytes that permessage-deflate may inflate or deflate for one connection in
#: one turn of the event loop before it yields (at a message boundary).
WORK_PER_TURN = 1 << 20

logger = logging.getLogger("fastws")

_BYTES_LIKE = (bytes, bytearray, memoryview)
_OPEN = State.OPEN

_read_buffers = threading.local()


def _read_buffer() -> memoryview:
    """The receive buffer shared by every connection of this thread.

    Every byte read is parsed, or copied where it has to be kept, by
    ``buffer_updated`` before the transport reads again, and an event loop
    runs one callback at a time in one thread, so one buffer per thread
    serves all connections: a read allocates nothing, unlike
    ``Protocol.data_received``, for which asyncio allocates a 256 KiB bytes
    object per read (with glibc, an mmap/munmap pair and a page fault).
    """
    try:
        return _read_buffers.view  # type: ignore[no-any-return]
    except AttributeError:
        view = _read_buffers.view = memoryview(bytearray(READ_BUFFER_SIZE))
        return view


def _queue_limits(max_queue: int | tuple[int, int | None] | None) -> tuple[int | None, int]:
    """Return the (high, low) water marks of the receive queue, in messages."""
    if max_queue is None:
        return None, 0
    if isinstance(max_queue, tuple):
        high, low = max_queue
    else:
        high, low = max_queue, None
    if high < 1:
        raise ValueError("max_queue must be at least 1")
    if low is None:
        low = high // 4
    if not 0 <= low < high:
        raise ValueError("the low-water mark of max_queue must be in [0, high)")
    return high, low


class Connection(asyncio.BufferedProtocol):
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
            limit on the count.
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

    def __init__(
        self,
        protocol: Protocol,
        *,
        ping_interval: float | None = 20,
        ping_timeout: float | None = 20,
        close_timeout: float | None = 10,
        max_queue: int | tuple[int, int | None] | None = 16,
        max_queue_bytes: int | None = 4 * 2**20,
        write_limit: int | tuple[int, int | None] = 32768,
    ) -> None:
        self.protocol = protocol
        self.close_timeout = close_timeout
        self._high, self._low = _queue_limits(max_queue)
        if self._high is None:
            self._low = sys.maxsize  # no count limit: only the bytes decide
        if max_queue_bytes is not None and max_queue_bytes < 1:
            raise ValueError("max_queue_bytes must be at least 1")
        self._low_bytes = None if max_queue_bytes is None else max_queue_bytes // 4
        flow = self._flow = protocol.flow
        flow.max_queue = self._high
        flow.max_queue_bytes = max_queue_bytes
        flow.max_work = WORK_PER_TURN
        self._counted = flow.limited
        protocol.defer_failure = True
        if isinstance(write_limit, tuple):
            self._write_high, self._write_low = write_limit
        else:
            self._write_high, self._write_low = write_limit, None
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self._addresses: tuple[Any, Any] = (None, None)
        #: The opening handshake's request and response (set by subclasses).
        self.request: Request | None = None
        self.response: Response | None = None
        #: Bytes handed to the transport so far (frames, handshake and all).
        self.bytes_sent = 0
        self._pings = Pings(self.loop, protocol, self._flush, self._fail, ping_interval, ping_timeout)

        # The thread's receive buffer (the event loop runs in this thread).
        self._read_view = _read_buffer()
        self._queue: collections.deque[Data] = collections.deque()
        self._recv_waiter: asyncio.Future[None] | None = None
        self._on_message: Callable[[Data], object] | None = None
        # True while a read dispatches its messages to on_message:
        # send_nowait() then leaves its frames in the protocol, written once
        # after the read (up to write_limit), counted in _dispatch_bytes.
        self._dispatching = False
        self._dispatch_bytes = 0
        # Whether input waits in the protocol (delivery stopped); whether the
        # transport's reading is paused (_input_waiting with no room left, or
        # answers over the write buffer's mark: _answers_paused); the handle
        # that goes on with input stopped by the work budget.
        self._input_waiting = False
        self._transport_paused = False
        self._answers_paused = False
        self._continue_handle: asyncio.Handle | None = None

        self._writing_paused = False
        self._drain_waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._coalesced = 0  # bytes of small messages held back (see module doc)
        self._flush_handle: asyncio.Handle | None = None
        self._eof_sent = False
        self._fragmented_send: asyncio.Future[None] | None = None
        self._close_handle: asyncio.TimerHandle | None = None
        # Set while a protocol failure is kept back for the application (see
        # the module doc); it sends the failure when the grace period ends.
        self._failure_handle: asyncio.TimerHandle | None = None

        self._lost = False
        self._lost_exc: BaseException | None = None
        self._closed: asyncio.Future[None] = self.loop.create_future()

    # -- public attributes ---------------------------------------------------------

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
    def local_address(self) -> Any:
        """The local socket address (``(host, port)`` for IPv4), or None.

        Still available after the connection closed.
        """
        return self._addresses[0]

    @property
    def remote_address(self) -> Any:
        """The peer's socket address (``(host, port)`` for IPv4), or None.

        Still available after the connection closed.
        """
        return self._addresses[1]

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

    def _ended(self) -> bool:
        protocol = self.protocol
        return protocol.close_rcvd is not None or self._lost or protocol.state is State.CLOSED

    def __repr__(self) -> str:
        state = "LOST" if self._lost else self.protocol.state.name
        return f"<{type(self).__name__} {state} remote={self.remote_address!r}>"

    # -- receiving -----------------------------------------------------------------

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
        return await self._recv_wait()

    def _take(self) -> Data:
        """Take the oldest queued message; go on with waiting input at the low-water mark."""
        queue = self._queue
        message = queue.popleft()
        if self._input_waiting and len(queue) <= self._low and self._below_low_bytes():
            self._resume_input()
        return message

    def _below_low_bytes(self) -> bool:
        """Whether the queued bytes are down to the low-water mark (a quarter of the limit)."""
        if self._low_bytes is None:
            return True
        self._flow.queued = len(self._queue)
        return self._flow.queued_bytes <= self._low_bytes

    async def _recv_wait(self) -> Data:
        """``recv`` when the queue is empty: wait for a message or the end."""
        queue = self._queue
        while True:
            if queue:
                return self._take()
            if self._input_waiting:
                # The peer's EOF (or our close) may wait behind input that
                # the protocol still holds: go on with it.
                self._resume_input()
                if queue:
                    continue
            if self._failure_handle is not None:
                # Every message that arrived before the protocol error has
                # been taken, and the application is back for more: the
                # answers it had to send are out; fail the connection now.
                self._send_failure()
            if self._ended() and not self._input_waiting:
                raise self._closed_exception()
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
        try:
            return await self._recv_wait()
        except ConnectionClosedOK:
            raise StopAsyncIteration from None

    @property
    def on_message(self) -> Callable[[Data], object] | None:
        """A function called with each message as soon as it is received.

        The callback way of receiving, instead of :meth:`recv`: the function
        runs inside the transport's read callback (no task switch per
        message), with ``str`` for text and ``bytes`` for binary messages,
        and typically answers with :meth:`send_nowait`::

            async def handler(ws):
                ws.on_message = ws.send_nowait      # an echo server
                await ws.wait_closed()

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
            if not callable(callback) or inspect.iscoroutinefunction(callback):
                raise TypeError("on_message must be a plain function (or None); use recv() to await")
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
        # From now on the protocol hands messages straight to the callback.
        self.protocol.on_message = self._on_message
        if self._input_waiting:
            self._resume_input()
        self._flush()

    def _call_on_message(self, callback: Callable[[Data], object], message: Data) -> bool:
        """Run ``on_message``; on an exception, fail the connection (1011).

        Returns:
            False if the callback raised.
        """
        try:
            callback(message)
        except Exception:
            self._on_message_failed()
            return False
        return True

    def _on_message_failed(self) -> None:
        """``on_message`` raised: log it, fail the connection with 1011."""
        logger.exception("error in on_message; failing the connection with 1011")
        self._on_message = None
        self.protocol.on_message = None
        self._queue.clear()
        if self.protocol.state is State.OPEN and not self._lost:
            self.protocol.fail(1011, "internal error")
            self._set_closing()

    # -- sending -------------------------------------------------------------------

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
        self._check_open()
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

    def _check_open(self) -> None:
        """Raise unless messages may be sent now (not for coroutines: see :meth:`_raise_closed`)."""
        if self.protocol.state is not _OPEN or self._lost:
            if self.protocol.state is State.CONNECTING and not self._lost:
                raise InvalidState("the opening handshake is not complete")
            raise self._closed_exception()

    def _send_message(self, message: Any) -> bool:
        """Queue ``str`` as a text message, bytes-like as binary; False otherwise."""
        kind = type(message)
        if kind is bytes or (kind is not str and isinstance(message, _BYTES_LIKE)):
            self.protocol.send_binary(message)
        elif isinstance(message, str):
            self.protocol.send_text(message)
        else:
            return False
        return True

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
        other messages wait until it is complete. Returns once the message is
        handed to the transport and its write buffer is below ``write_limit``.

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
        if self.protocol.state is not _OPEN or self._lost:
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
        # Hold small messages back while the application is working through a
        # burst of received ones; write at once otherwise.
        if self._queue:
            coalesced = self._coalesced + len(message)  # type: ignore[arg-type]
            self._coalesced = coalesced
            if coalesced < _COALESCE_LIMIT:
                if self._flush_handle is None:
                    self._flush_handle = self.loop.call_soon(self._flush)
                return
        self._flush()
        # _after_send(), inlined: awaiting it would cost a coroutine per message.
        if self._writing_paused:
            await self._drain()
        if self._flow.work >= WORK_PER_TURN:
            self._flow.work = 0
            await asyncio.sleep(0)

    async def _after_send(self) -> None:
        """Wait while the write buffer is over its mark; yield past the work budget."""
        if self._writing_paused:
            await self._drain()
        if self._flow.worked_out():
            # Compressing took this turn's budget: let other connections run.
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
            await self._after_send()
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
                if protocol.state is not State.OPEN or self._lost:
                    await self._raise_closed()
                protocol.send_continuation(fragment, fin=False)
                self._flush()
                await self._after_send()
            if protocol.state is not State.OPEN or self._lost:
                await self._raise_closed()
            protocol.send_continuation(b"", fin=True)
            self._flush()
            await self._after_send()
        except BaseException as exc:
            # A message that is half sent cannot be taken back: RFC 6455
            # section 7.1.7 lets an endpoint fail the connection, and 1011
            # says the fault is ours, not the peer's.
            if started and not isinstance(exc, ConnectionClosed) and protocol.state is State.OPEN:
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
        if self.protocol.state is not State.OPEN or self._lost:
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
        if self.protocol.state is not State.OPEN or self._lost:
            await self._raise_closed()
        self.protocol.send_pong(data.encode() if isinstance(data, str) else bytes(data))
        self._flush()

    # -- closing -------------------------------------------------------------------

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
        await asyncio.shield(self._closed)

    def _start_closing(self, code: int, reason: str) -> None:
        """Send a close frame now, if the connection is open (not a coroutine)."""
        if self._lost:
            return
        protocol = self.protocol
        if protocol.state is State.OPEN:
            protocol.send_close(code, reason)  # may raise ValueError: nothing changed then
            self._after_close_sent()
        elif protocol.state is State.CONNECTING:
            self.transport.close()
        else:
            self._set_closing()

    def _after_close_sent(self) -> None:
        """A close frame was queued: the protocol went through what it held; act on it."""
        events = self.protocol.events_received()
        if events:
            self._process_events(events)
        self._flush()
        self._set_closing()

    def _set_closing(self) -> None:
        """We sent a close frame: read on until the peer answers, within close_timeout."""
        self._input_waiting = self.protocol.paused
        self._update_reading()
        self._start_close_timer()

    async def wait_closed(self) -> None:
        """Wait until the TCP connection is closed."""
        await asyncio.shield(self._closed)

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection: close frame with ``code``, then close TCP."""
        if self._lost:
            return
        if self.protocol.state is State.OPEN:
            self.protocol.fail(code, reason)
            self._after_close_sent()
        else:
            self.transport.abort()

    def _start_close_timer(self) -> None:
        if self._close_handle is None and self.close_timeout is not None and not self._lost:
            self._close_handle = self.loop.call_later(self.close_timeout, self._close_timed_out)

    def _close_timed_out(self) -> None:
        # RFC 6455 section 7.1.1: the client "SHOULD wait for the server to
        # close the connection but MAY close the connection at any time
        # after sending and receiving a Close message"; a peer that does
        # neither in time is cut off.
        self._close_handle = None
        if not self._lost:
            self.transport.abort()

    def _closed_exception(self) -> ConnectionClosed:
        """The exception that says how the connection closed."""
        from ..frames import Close

        protocol = self.protocol
        rcvd = (
            None
            if protocol.close_rcvd is None
            else Close(protocol.close_rcvd.code, protocol.close_rcvd.reason)
        )
        sent = None if protocol.close_sent is None else Close(*protocol.close_sent)
        rcvd_then_sent = protocol.close_rcvd_then_sent if rcvd is not None and sent is not None else None
        # ConnectionClosedOK: the closing handshake completed, both frames
        # with 1000 or 1001.
        if (
            rcvd is not None
            and sent is not None
            and rcvd.code in _OK_CLOSE_CODES
            and sent.code in _OK_CLOSE_CODES
        ):
            exc: ConnectionClosed = ConnectionClosedOK(rcvd, sent, rcvd_then_sent)
        else:
            exc = ConnectionClosedError(rcvd, sent, rcvd_then_sent)
        cause = getattr(protocol, "error", None) or self._lost_exc
        if cause is not None:
            exc.__cause__ = cause
        return exc

    async def _raise_closed(self) -> None:
        """Raise ConnectionClosed, after the closing handshake if it is under way."""
        if self.protocol.state is State.CONNECTING and not self._lost:
            raise InvalidState("the opening handshake is not complete")
        if not self._lost:
            # Closing: the close code is known only once the handshake ends.
            self._start_close_timer()
            await asyncio.shield(self._closed)
        raise self._closed_exception()

    # -- writing -------------------------------------------------------------------

    def _flush(self) -> None:
        """Hand everything the protocol has to send to the transport."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._failure_handle is not None and not self.protocol.failure_pending:
            # The failure went out meanwhile (send_close, fail, EOF).
            self._failure_handle.cancel()
            self._failure_handle = None
        self._coalesced = 0
        chunks = self.protocol.data_to_send()
        if chunks and not self._lost:
            self._write(chunks)

    def _write(self, chunks: list[bytes]) -> None:
        """Write what ``Protocol.data_to_send()`` returned (b"" means EOF)."""
        transport = self.transport
        if len(chunks) == 1 and chunks[0]:
            data = chunks[0]
            self.bytes_sent += len(data)
            transport.write(data)
            return
        pending: list[bytes] = []
        for chunk in chunks:
            if chunk:
                pending.append(chunk)
                continue
            # b"": the protocol says the TCP connection must be closed now.
            if pending:
                self._write_many(pending)
                pending = []
            self._send_eof()
        if pending:
            self._write_many(pending)

    def _write_many(self, pending: list[bytes]) -> None:
        size = sum(map(len, pending))
        self.bytes_sent += size
        if size < _COALESCE_LIMIT:
            # Many small frames: one copy into one buffer is cheaper than
            # a long scatter/gather list.
            self.transport.write(b"".join(pending))
        else:
            # Large pieces: uvloop and asyncio 3.12+ send them with
            # writev/sendmsg, without joining them first.
            self.transport.writelines(pending)

    def _send_eof(self) -> None:
        if self._eof_sent:
            return
        self._eof_sent = True
        # The protocol is CLOSED (it failed the connection, or the closing
        # handshake is over): a waiting recv() must not wait for the peer.
        waiter = self._recv_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        transport = self.transport
        # Half-close when possible, so the peer's last bytes can still be
        # read; TLS cannot half-close, so close the whole connection.
        if transport.can_write_eof():
            transport.write_eof()
        else:
            transport.close()
        self._start_close_timer()

    async def _drain(self) -> None:
        """Wait until the transport's write buffer is below its low-water mark."""
        if self._lost:
            raise self._closed_exception()
        waiter = self.loop.create_future()
        self._drain_waiters.append(waiter)
        try:
            await waiter
        finally:
            try:
                self._drain_waiters.remove(waiter)
            except ValueError:
                pass
        if self._lost and self.protocol.close_rcvd is None:
            raise self._closed_exception()

    def pause_writing(self) -> None:  # asyncio.Protocol
        self._writing_paused = True

    def resume_writing(self) -> None:  # asyncio.Protocol
        self._writing_paused = False
        if self._answers_paused:
            self._answers_paused = False
            self._update_reading()
        if self._input_waiting and self._on_message is not None:
            self._resume_input()  # on_message's answers had filled the buffer
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- reading -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # asyncio.Protocol
        self.transport = transport  # type: ignore[assignment]
        # Read now: some transports (uvloop's) cannot tell once closed.
        self._addresses = (transport.get_extra_info("sockname"), transport.get_extra_info("peername"))
        transport.set_write_buffer_limits(self._write_high, self._write_low)  # type: ignore[attr-defined]
        if self.protocol.state is State.OPEN:
            # Created open (no opening handshake to wait for).
            self._start_keepalive()

    def _start_keepalive(self) -> None:
        if not self._lost:
            self._pings.start()

    def get_buffer(self, sizehint: int) -> memoryview:  # asyncio.BufferedProtocol
        view = self._read_view
        if not self._input_waiting:
            return view
        # Delivery stopped: read only what the protocol may keep waiting.
        room = HOLD_LIMIT - self.protocol.held_bytes
        return view[: max(room, _MIN_READ)]

    def data_received(self, data: bytes | bytearray | memoryview) -> None:
        """Process bytes received from elsewhere than the transport.

        They go through the read buffer, as the transport's reads do.
        """
        view = self._read_view
        size = len(view)
        data = memoryview(data).cast("B")
        for start in range(0, len(data), size):
            piece = data[start : start + size]
            view[: len(piece)] = piece
            self.buffer_updated(len(piece))

    def buffer_updated(self, nbytes: int) -> None:  # asyncio.BufferedProtocol
        # The protocol copies whatever it keeps: the buffer is free again
        # when this returns.
        protocol = self.protocol
        flow = self._flow
        if self._counted:
            flow.queued = len(self._queue)
        flow.work = 0
        if self._on_message is None:
            protocol.receive_data(self._read_view[:nbytes])
        else:
            self._dispatch(protocol.receive_data, self._read_view[:nbytes])
        self._after_input()

    def _dispatch(self, method: Callable[..., None], *args: Any) -> None:
        """Run a protocol input method that may call on_message."""
        self._dispatching = True
        try:
            method(*args)
        except Exception:
            self._on_message_failed()
        finally:
            self._dispatching = False
            self._dispatch_bytes = 0

    def _after_input(self) -> None:
        """Act on what the protocol made of new input: events, output, waiting input."""
        protocol = self.protocol
        events = protocol.events_received()
        if events:
            self._process_events(events)
        # From recv() (_take), small sends may be held back for a flush at
        # the end of this turn (see send()): leave the output to it.
        chunks = protocol.data_to_send() if self._flush_handle is None else None
        if chunks:
            if self._flush_handle is not None:
                self._flush_handle.cancel()
                self._flush_handle = None
            self._coalesced = 0
            if not self._lost:
                self._write(chunks)
                if self._writing_paused and not self._answers_paused:
                    # Automatic answers hold the write buffer above its mark:
                    # read no more until it drains.
                    self._answers_paused = True
        if protocol.error is not None and protocol.failure_pending and self._failure_handle is None:
            self._keep_failure_back()
        if protocol.paused:
            self._input_waiting = True
            if self._flow.worked_out() and self._continue_handle is None:
                self._continue_handle = self.loop.call_soon(self._continue_input)
            self._update_reading()
        elif self._input_waiting or self._transport_paused != self._answers_paused:
            self._input_waiting = False
            self._update_reading()
        # close_expected() is False while OPEN: skip the call on the hot path.
        if protocol.state is not _OPEN and protocol.close_expected():
            self._start_close_timer()

    def _continue_input(self) -> None:
        """Go on with input the work budget stopped, at the next turn of the loop."""
        self._continue_handle = None
        if self._input_waiting:
            self._resume_input()

    def _resume_input(self) -> None:
        """Let the protocol deliver what waits, within the limits."""
        protocol = self.protocol
        flow = self._flow
        if self._counted:
            flow.queued = len(self._queue)
        flow.work = 0
        if self._on_message is None:
            protocol.resume()
        else:
            self._dispatch(protocol.resume)
        self._after_input()

    def _update_reading(self) -> None:
        """Pause or resume the transport's reading, as the state requires."""
        if self._lost:
            return
        pause = self._answers_paused or (
            self._input_waiting and HOLD_LIMIT - self.protocol.held_bytes < _MIN_READ
        )
        if pause != self._transport_paused:
            self._transport_paused = pause
            if pause:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    def _process_events(self, events: list[Any]) -> None:
        queue = self._queue
        for event in events:
            kind = type(event)
            if kind is TextMessage or kind is BinaryMessage:
                callback = self._on_message
                if callback is None:
                    queue.append(event.data)
                else:
                    self._dispatching = True
                    try:
                        self._call_on_message(callback, event.data)
                    finally:
                        self._dispatching = False
            elif kind is Pong:
                self._pings.pong_received(event.data)
            elif kind is Ping or kind is CloseReceived:
                pass  # the protocol answers them by itself
            else:
                self._handshake_event(event)
        waiter = self._recv_waiter
        if waiter is not None and not waiter.done() and (queue or self.protocol.close_rcvd is not None):
            waiter.set_result(None)

    def _handshake_event(self, event: Any) -> None:
        """Handle a Request or Response event (the subclasses' business)."""

    def eof_received(self) -> None:  # asyncio.Protocol
        self.protocol.receive_eof()
        self._after_input()
        # Returning None lets the transport close itself: after the peer's
        # EOF the closing handshake is over or has failed, so there is
        # nothing left to write (and TLS cannot half-close anyway). Input
        # that waits in the protocol is still delivered to recv().

    def connection_lost(self, exc: Exception | None) -> None:  # asyncio.Protocol
        self._lost = True
        self._lost_exc = exc
        protocol = self.protocol
        if protocol.state is not State.CLOSED:
            try:
                protocol.receive_eof()
            except Exception:  # pragma: no cover - the protocol is already done
                pass
        if not protocol.paused:
            protocol.events_received()
            protocol.data_to_send()
        for handle in (self._close_handle, self._flush_handle, self._failure_handle, self._continue_handle):
            if handle is not None:
                handle.cancel()
        self._close_handle = self._flush_handle = self._failure_handle = None
        self._continue_handle = None
        self._pings.stop(self._closed_exception())
        if self._recv_waiter is not None and not self._recv_waiter.done():
            self._recv_waiter.set_result(None)
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        if not self._closed.done():
            self._closed.set_result(None)

    # -- failing after a grace period ---------------------------------------------------

    def _keep_failure_back(self) -> None:
        """The input broke the protocol: fail now, or once the application caught up."""
        if self._lost:
            return
        if not self._queue and (self._recv_waiter is not None or self._on_message is not None):
            # The application waits for a message, or took every message in
            # its callback and answered at once: nothing to wait for.
            self._send_failure(now=True)
            return
        grace = FAILURE_GRACE
        if self.close_timeout is not None and self.close_timeout < grace:
            grace = self.close_timeout
        self._failure_handle = self.loop.call_later(grace, self._send_failure)

    def _send_failure(self, now: bool = False) -> None:
        """Send the failure kept back: the close frame with its code, then EOF."""
        if self._failure_handle is None and not now:
            return
        if self._failure_handle is not None:
            self._failure_handle.cancel()
            self._failure_handle = None
        if self._lost:
            return
        self.protocol.commit_failure()
        self._flush()
        self._set_closing()
