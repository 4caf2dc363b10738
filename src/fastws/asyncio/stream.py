"""The bytes side of an asyncio WebSocket connection: :class:`Stream`.

:class:`Stream` is the :class:`asyncio.BufferedProtocol` side of every
:class:`~fastws.asyncio.connection.Connection`: it feeds what the transport
reads to the sans-IO :class:`fastws.protocol.Protocol`, hands the messages
that come out to the receive queue (or to ``on_message``), writes what the
protocol has to send, and keeps time for the closing handshake and for
keepalive (:mod:`fastws.asyncio.keepalive`). The application's API (``recv``,
``send``, ``close``, ...) is :class:`~fastws.asyncio.connection.Connection`'s.

Reading: the transport reads into one buffer that the connections of a
thread share, and the bytes go straight from there to
``Protocol.receive_data`` (no stream reader in between, no allocation per
read).

Flow control bounds the work and the memory of every read, not only of the
queue (see :mod:`fastws.flow`):

* the protocol delivers messages only while the receive queue holds fewer
  than ``max_queue`` messages and ``max_queue_bytes`` bytes; the input past
  that point waits in the protocol, raw or parsed a batch ahead, costing
  its wire size. Reading goes on while that input costs less than
  :data:`HOLD_LIMIT` (so pongs behind it are still seen), then pauses, so
  the kernel's buffers fill and TCP pushes back on the peer. Taking messages
  down to the low-water mark delivers what waits and resumes reading;
* inflating and deflating (permessage-deflate) stop after
  :data:`WORK_PER_TURN` bytes in one callback, and go on at the next turn
  of the event loop, so one connection cannot hold the loop for long;
* writing: the transport calls ``pause_writing`` when its write buffer grows
  above ``write_limit``; automatic answers (pongs) and ``on_message``
  answers that hold the buffer above its mark stop delivery and reading
  until it drains: a peer that sends and never reads cannot grow our memory.

Failing the connection waits for the application, briefly: the protocol
delivers the messages completed before a protocol error and keeps the
failure pending (``defer_failure``); it is sent once the application has
taken those messages and come back to ``recv`` (an echo handler has then
sent its answers), or after :data:`FAILURE_GRACE`. So a peer that sends a
valid message and a faulty frame in one write gets the answer, then the
close frame, then EOF, in the order it sent them.

Ending TCP: a server whose closing handshake completed (close frames both
ways) closes the transport at once, with no half-close and no timer: the
peer sends nothing after its close frame, and the next event is
``connection_lost`` (a close frame that the transport still holds, behind
data the peer does not read, and a TLS shutdown are waited for within
``close_timeout``). In every other case (the client's side, a failed
connection) it half-closes, so the peer's last bytes can still be read,
and waits for the peer's end within ``close_timeout``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from ..events import BinaryMessage, CloseReceived, Ping, Pong, TextMessage
from ..options import COALESCE_LIMIT, FAILURE_GRACE, HOLD_LIMIT, queue_marks
from ..protocol import Side, State
from .keepalive import Pings

if TYPE_CHECKING:
    from ..exceptions import ConnectionClosed
    from ..http11 import Request, Response
    from ..protocol import Protocol

__all__ = ["FAILURE_GRACE", "HOLD_LIMIT", "READ_BUFFER_SIZE", "WORK_PER_TURN", "Data", "Stream"]

#: What a connection delivers: ``str`` for text, ``bytes`` for binary.
Data = str | bytes

#: Size of the buffer the transport reads into (asyncio reads at most as
#: much with ``recv`` too).
READ_BUFFER_SIZE = 262144

#: Below this much room under :data:`HOLD_LIMIT`, reading pauses.
_MIN_READ = 4096

#: Bytes that permessage-deflate may inflate or deflate for one connection in
#: one turn of the event loop before it yields (at a message boundary).
WORK_PER_TURN = 1 << 20

logger = logging.getLogger("fastws")

_OPEN = State.OPEN
_SERVER = Side.SERVER
_CLOSED = State.CLOSED
_CONNECTING = State.CONNECTING

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


# The queue of a connection that has received no message yet: empty, and
# never appended to (Stream._enqueue replaces it by a deque of its own).
_NO_QUEUE: collections.deque[Any] = cast("collections.deque[Any]", ())


class Stream:
    """The transport side of a connection; see :class:`~fastws.asyncio.connection.Connection`.

    Its constructor takes the arguments that ``Connection`` documents. It has
    the methods of an :class:`asyncio.BufferedProtocol`; the classes that
    transports are given (``ServerConnection``, ``ClientConnection``) are one.
    """

    # Slots, not a __dict__: an idle connection costs a few hundred bytes less.
    __slots__ = (
        "__weakref__",
        "_addresses",
        "_answers_paused",
        "_close_handle",
        "_closed",
        "_coalesced",
        "_continue_handle",
        "_counted",
        "_dispatch_bytes",
        "_dispatching",
        "_drain_waiters",
        "_eof_sent",
        "_failure_handle",
        "_flow",
        "_flush_handle",
        "_fragmented_send",
        "_handshaking",
        "_input_waiting",
        "_lost",
        "_lost_exc",
        "_marks",
        "_on_close",
        "_on_message",
        "_pings",
        "_queue",
        "_read_view",
        "_recv_waiter",
        "_tcp_closed",
        "_transport_paused",
        "_write_high",
        "_write_low",
        "_writing_paused",
        "bytes_sent",
        "close_timeout",
        "loop",
        "protocol",
        "request",
        "response",
        "transport",
    )

    def _closed_exception(self) -> ConnectionClosed:
        """The exception that says the connection is closed (the application side's)."""
        raise NotImplementedError

    def __init__(
        self,
        protocol: Protocol,
        *,
        ping_interval: float | None = 20,
        ping_timeout: float | None = 20,
        close_timeout: float | None = 10,
        max_queue: int | tuple[int, int | None] | None = 128,
        max_queue_bytes: int | None = 4 * 2**20,
        write_limit: int | tuple[int, int | None] = 32768,
    ) -> None:
        self.protocol = protocol
        self.close_timeout = close_timeout
        self._marks = queue_marks(max_queue, max_queue_bytes)
        self._flow = protocol.flow
        self._flow.max_work = WORK_PER_TURN
        protocol.defer_failure = True
        # Checked once by serve() and connect() (options.write_marks), not
        # for each connection: 2.1 k instructions per handshake.
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
        # No queue until the first message: an empty deque costs 760 bytes,
        # and most of a busy server's connections are idle (see _enqueue).
        self._queue: collections.deque[Data] = _NO_QUEUE
        self._recv_waiter: asyncio.Future[None] | None = None
        self._on_message: Callable[[Data], object] | None = None
        self._on_close: Callable[[], object] | None = None
        self._route_messages()
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
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._coalesced = 0  # bytes of small messages held back (see module doc)
        self._flush_handle: asyncio.Handle | None = None
        self._eof_sent = False
        # Whether the transport was closed with nothing left to write: its
        # connection_lost comes next, no timer is needed (see _end_tcp).
        self._tcp_closed = False
        self._fragmented_send: asyncio.Future[None] | None = None
        self._close_handle: asyncio.TimerHandle | None = None
        # Set while a protocol failure is kept back for the application (see
        # the module doc); it sends the failure when the grace period ends.
        self._failure_handle: asyncio.TimerHandle | None = None

        # Whether the opening handshake is in progress: reads then also go
        # through _after_handshake_input (the subclasses clear it).
        self._handshaking = protocol.state is _CONNECTING
        self._lost = False
        self._lost_exc: BaseException | None = None
        self._closed: asyncio.Future[None] = self.loop.create_future()

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

    def _ended(self) -> bool:
        protocol = self.protocol
        return protocol.close_rcvd is not None or self._lost or protocol.state is _CLOSED

    # -- reading -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # asyncio.Protocol
        self.transport = transport  # type: ignore[assignment]
        # Read now: some transports (uvloop's) cannot tell once closed.
        self._addresses = (transport.get_extra_info("sockname"), transport.get_extra_info("peername"))
        transport.set_write_buffer_limits(self._write_high, self._write_low)  # type: ignore[attr-defined]
        if self.protocol.state is _OPEN:
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
            self._dispatch(self._read_view[:nbytes])
        self._after_input()
        if self._handshaking:
            self._after_handshake_input()

    def _dispatch(self, data: Any) -> None:
        """Feed ``data`` to the protocol, or ``resume()`` it if None, where on_message may be called."""
        self._dispatching = True
        try:
            if data is None:
                self.protocol.resume()
            else:
                self.protocol.receive_data(data)
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
        # What goes out answers the peer's input (automatic pongs, the close
        # echo, on_message's answers): if it leaves the write buffer above
        # its mark, reading pauses until it drains.
        if self._flush_handle is None and self._flush() and self._writing_paused:
            self._answers_paused = True
        # Wake recv() after the flush: when that closed the transport, its
        # connection_lost runs first, and a handler that returns on the end
        # of the messages finds the connection closed (no wait in close()).
        if self._recv_waiter is not None:
            self._wake_recv()
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
            self._dispatch(None)
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

    def _route_messages(self) -> None:
        """Messages go into the receive queue, within its limits, or to ``on_message``.

        Either way the protocol hands them over itself (``Protocol.on_message``):
        no event object per message.
        """
        flow = self._flow
        callback = self._on_message
        if callback is None:
            queue = self._queue
            self.protocol.on_message = self._enqueue if queue is _NO_QUEUE else queue.append
            self._marks.apply(flow)
        else:
            # Nothing is queued: the write buffer paces on_message instead.
            if flow.limited:
                flow.queued = 0
            self.protocol.on_message = callback
            flow.max_queue = flow.max_queue_bytes = None
        self._counted = flow.limited

    def _enqueue(self, message: Data) -> None:
        """Queue the first message: make the queue, and hand its ``append`` to the protocol."""
        queue = self._queue
        if queue is _NO_QUEUE:
            queue = self._queue = collections.deque()
            if self._on_message is None:
                self.protocol.on_message = queue.append
        queue.append(message)

    def _process_events(self, events: list[Any]) -> None:
        for event in events:
            kind = type(event)
            if kind is TextMessage or kind is BinaryMessage:
                callback = self._on_message
                if callback is None:
                    self._enqueue(event.data)
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

    def _wake_recv(self) -> None:
        """Wake a coroutine waiting in ``recv`` if there is a message, or the end."""
        waiter = self._recv_waiter
        if waiter is not None and not waiter.done() and (self._queue or self.protocol.close_rcvd is not None):
            waiter.set_result(None)

    def _handshake_event(self, event: Any) -> None:
        """Handle a Request or Response event (the subclasses' business)."""

    def _after_handshake_input(self) -> None:
        """After each read while ``_handshaking`` (the subclasses' business)."""

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
        self._queue = _NO_QUEUE
        self._route_messages()
        if self.protocol.state is _OPEN and not self._lost:
            self.protocol.fail(1011, "internal error")
            self._set_closing()

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
        if protocol.state is not _CLOSED:
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
        self._pings.stop(self._closed_exception)
        if self._recv_waiter is not None and not self._recv_waiter.done():
            self._recv_waiter.set_result(None)
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        if not self._closed.done():
            self._closed.set_result(None)
        if not protocol.paused:
            # Nothing more can reach on_message (no input waits, and none
            # will arrive): the protocol lets go of this connection's bound
            # method, so that a closed connection is freed when the last
            # reference goes, not by the cycle collector.
            protocol.on_message = None
        self._call_on_close()

    def _call_on_close(self) -> None:
        """Run ``on_close`` once, if set; an exception is logged (the connection is already closed)."""
        callback, self._on_close = self._on_close, None
        if callback is not None:
            try:
                callback()
            except Exception:
                logger.exception("error in on_close")

    # -- writing -------------------------------------------------------------

    def _flush(self) -> bool:
        """Hand everything the protocol has to send to the transport; whether anything went."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._failure_handle is not None and not self.protocol.failure_pending:
            # The failure went out meanwhile (send_close, fail, EOF).
            self._failure_handle.cancel()
            self._failure_handle = None
        self._coalesced = 0
        # data_to_send() under defer_failure, which this stream always sets.
        chunks = self.protocol._take_output()
        if chunks and not self._lost:
            self._write(chunks)
            return True
        return False

    def _flush_later(self) -> None:
        """Flush at the end of this turn of the loop (once, however many sends ask)."""
        if self._flush_handle is None:
            self._flush_handle = self.loop.call_soon(self._flush)

    def _write_frame(self, frame: bytes) -> None:
        """Write a data frame encoded elsewhere (``broadcast``), after what is pending."""
        if self._flush_handle is not None or self._dispatching:
            self._flush()  # coalesced sends, or on_message's answers, go first
        self.bytes_sent += len(frame)
        self.transport.write(frame)

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
        if size < COALESCE_LIMIT:
            # Many small frames: one copy into one buffer is cheaper than
            # a long scatter/gather list.
            self.transport.write(b"".join(pending))
        else:
            # Large pieces: uvloop and asyncio 3.12+ send them with
            # writev/sendmsg, without joining them first.
            transport = self.transport
            transport.writelines(pending)
            # asyncio's selector transport of CPython 3.12 and 3.13 does
            # not check its high-water mark in writelines (only in write):
            # without this, pause_writing never comes and send() never
            # waits. The check does nothing when the mark was checked.
            check = getattr(transport, "_maybe_pause_protocol", None)
            if check is not None:
                check()

    def _send_eof(self) -> None:
        if self._eof_sent:
            return
        self._eof_sent = True
        wait = self._end_tcp()
        # The protocol is CLOSED (it failed the connection, or the closing
        # handshake is over): a waiting recv() must not wait for the peer
        # (woken after _end_tcp, for the reason _after_input gives).
        waiter = self._recv_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if wait:
            self._start_close_timer()

    def _end_tcp(self) -> bool:
        """End our side of the TCP connection, the protocol being CLOSED.

        Returns whether to wait for the peer's end (within ``close_timeout``).
        """
        transport = self.transport
        protocol = self.protocol
        if protocol.side is _SERVER and protocol.close_was_clean:
            # RFC 6455 section 5.5.1: "After both sending and receiving a
            # Close message, an endpoint considers the WebSocket connection
            # closed and MUST close the underlying TCP connection", the
            # server first (section 7.1.1). Nothing is left to read: the
            # peer sends nothing after its close frame. The transport
            # writes what it holds, then closes; it is waited for (within
            # close_timeout) only when it holds something, or runs a TLS
            # shutdown, which waits for the peer's close_notify.
            transport.close()
            if transport.get_write_buffer_size() or not transport.can_write_eof():
                return True
            self._tcp_closed = True
            return False
        # Otherwise half-close when possible, so the peer's last bytes can
        # still be read; TLS cannot half-close, so close the whole connection.
        if transport.can_write_eof():
            transport.write_eof()
        else:
            transport.close()
        return True

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

    # -- closing and failing -------------------------------------------------

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection: close frame with ``code``, then close TCP."""
        if self._lost:
            return
        if self.protocol.state is _OPEN:
            self.protocol.fail(code, reason)
            self._after_close_sent()
        else:
            self.transport.abort()

    def _after_close_sent(self) -> None:
        """A close frame was queued: the protocol went through what it held; act on it."""
        events = self.protocol.events_received()
        if events:
            self._process_events(events)
        self._wake_recv()
        self._flush()
        self._set_closing()

    def _set_closing(self) -> None:
        """We sent a close frame: read on until the peer answers, within close_timeout."""
        self._input_waiting = self.protocol.paused
        self._update_reading()
        self._start_close_timer()

    def _start_close_timer(self) -> None:
        if (
            self._close_handle is None
            and self.close_timeout is not None
            and not (self._lost or self._tcp_closed)
        ):
            self._close_handle = self.loop.call_later(self.close_timeout, self._close_timed_out)

    def _close_timed_out(self) -> None:
        # RFC 6455 section 7.1.1: the client "SHOULD wait for the server to
        # close the connection but MAY close the connection at any time
        # after sending and receiving a Close message"; a peer that does
        # neither in time is cut off.
        self._close_handle = None
        if not self._lost:
            self.transport.abort()

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
