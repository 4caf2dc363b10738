"""The socket side of a threaded WebSocket connection: :class:`Stream`.

:class:`Stream` drives one sans-IO :class:`fastws.protocol.Protocol` over a
:class:`~fastws.sync.transport.Transport` for the threads of an application;
the application's API (``recv``, ``send``, ``close``, ...) is
:class:`~fastws.sync.connection.Connection`'s.

The thread model
----------------
Every connection has the application's threads, and one background thread
of its own. The socket is read by whichever of them needs input, one at a
time (the *read role*), and written by one thread at a time (the *write
role*); a read and a write may run at once.

* ``recv()`` reads the socket itself, in the calling thread, when no
  message is queued: a message costs no hand-over between threads (a
  reader thread that queues messages for the application would add a
  context switch and a wake-up to each; measured, that doubles the CPU
  time of a round trip).
* When the application has stayed away from ``recv()`` for
  :data:`TAKEOVER_DELAY` (it computes, or only sends), the background
  thread reads instead, so that pings are answered, pongs seen, the peer's
  close frame handled and the receive queue filled while the application is
  busy. As soon as the application waits in ``recv()``, the background
  thread hands the read role back after the read it is in.
* The background thread also keeps time: keepalive pings (and their
  timeout: 1011), the closing handshake's ``close_timeout`` (then the
  connection is aborted), and the grace given to an application before a
  protocol failure is sent (:data:`~fastws.options.FAILURE_GRACE`).

State shared by the threads is guarded by one lock per connection, never
held across a blocking system call; nothing relies on the GIL.

Writing
-------
``send()`` writes its frames itself and returns once the kernel has taken
them: a peer that does not read makes ``send()`` block (TCP pushes back),
and memory stays bounded. One exception, as in the asyncio layer: small
messages sent while received ones wait in the queue (an application
working through a burst, an echo) are held back, up to
:data:`~fastws.options.COALESCE_LIMIT` bytes, and written together when the
application comes back to ``recv()`` with the queue empty (or sends with
it empty, pings or closes); a system call per burst instead of one per
message. Should the application go away instead, the background thread
writes them when it takes over, within :data:`TAKEOVER_DELAY`. Frames the protocol produces by itself (pongs,
the close frame's echo, keepalive pings, a failure's close frame) go
through a small outbox, written by whichever thread holds the write role
next; while more than ``write_limit`` bytes of them wait (a peer that sends
pings and never reads), reading stops. Writes made by the background
thread and by closing are bounded in time, so a peer that stops reading
cannot stop the clocks.

Flow control
------------
As in the asyncio layer (:mod:`fastws.flow`): the protocol delivers
messages only while the receive queue holds fewer than ``max_queue``
messages and ``max_queue_bytes`` bytes; the input behind waits in the
protocol, at its wire size, and reading goes on until it costs
:data:`~fastws.options.HOLD_LIMIT` (so pongs are still seen), then stops,
and TCP pushes back on the peer. Taking messages down to the low-water
marks delivers what waits and lets reading resume. There is no work
budget (``max_work``): each connection has threads of its own, which the
operating system schedules, so inflating one connection's messages does
not hold up the others.

Failing
-------
A protocol error is sent (close frame, then EOF) once the application has
taken the messages that arrived before it and comes back to ``recv()``
(an echo has then answered them), or after the grace period, as in the
asyncio layer.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from ..events import CloseReceived, Ping, Pong
from ..exceptions import ConnectionClosed, InvalidState
from ..options import FAILURE_GRACE, HOLD_LIMIT, queue_marks
from ..pings import PingTracker
from ..protocol import State

if TYPE_CHECKING:
    from ..http11 import Request, Response
    from ..protocol import Protocol
    from .transport import Transport

__all__ = ["READ_SIZE", "TAKEOVER_DELAY", "Data", "Stream"]

#: What a connection delivers: ``str`` for text, ``bytes`` for binary.
Data = str | bytes

#: Most bytes read from the socket at a time.
READ_SIZE = 65536

#: Seconds the application may stay away from ``recv()`` before the
#: connection's background thread reads for it (see the module doc). While
#: the application waits in ``recv()`` the background thread sleeps; it
#: wakes at most once per this delay while the application works through
#: messages.
TAKEOVER_DELAY = 0.05

#: Longest wait of one write by the background thread, in seconds: it then
#: looks at its clocks again (the frames wait in the outbox).
_BACKGROUND_WRITE_WAIT = 1.0

#: Below this much room under HOLD_LIMIT, reading stops.
_MIN_READ = 4096

logger = logging.getLogger("fastws")

_OPEN = State.OPEN
_CLOSED = State.CLOSED
_CONNECTING = State.CONNECTING


class Stream:
    """The socket side of a connection; see :class:`~fastws.sync.connection.Connection`.

    Its constructor takes the arguments that ``Connection`` documents.
    """

    def __init__(
        self,
        transport: Transport,
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
        self.transport = transport
        self.close_timeout = close_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self._marks = queue_marks(max_queue, max_queue_bytes)
        # Checked once by serve() and connect() (options.write_marks).
        self._write_limit = write_limit[0] if isinstance(write_limit, tuple) else write_limit
        flow = self._flow = protocol.flow
        self._marks.apply(flow)
        flow.max_work = None  # threads of its own: see the module doc
        self._counted = flow.limited
        protocol.defer_failure = True

        self._lock = threading.Lock()
        # Application threads wait on _cond (for a message, the read or write
        # role, the end); _waiters counts them, so that nobody notifies in vain.
        self._cond = threading.Condition(self._lock)
        self._waiters = 0
        # The background thread waits on _bg_cond; _bg_sleeping says it waits
        # for a notification rather than for a time.
        self._bg_cond = threading.Condition(self._lock)
        self._bg_sleeping = False
        self._thread: threading.Thread | None = None

        #: The opening handshake's request and response (set by subclasses).
        self.request: Request | None = None
        self.response: Response | None = None

        self._queue: collections.deque[Data] = collections.deque()
        # The protocol hands messages straight into the queue (under the
        # lock, in receive_data): no event object per message.
        protocol.on_message = self._queue.append
        self._reading = False  # the read role
        self._writing = False  # the write role
        self._outbox: list[bytes] = []
        self._outbox_bytes = 0  # automatic answers in the outbox
        self._coalesced = 0  # bytes of messages in the outbox (see send())
        self._coalesced_at = 0.0  # when the first of them was
        self._input_waiting = False  # input held in the protocol (queue full)
        self._receiving = False  # an application thread waits in recv()
        self._left_recv = time.monotonic()  # when it last left
        self._fragmenting: int | None = None  # the thread sending a fragmented message

        # (event, set it when the connection closes) of each application ping;
        # keepalive pings have none, and their deadline as handle.
        self._pings: PingTracker[tuple[threading.Event, bool]] = PingTracker()
        self._next_ping: float | None = None
        self._close_deadline: float | None = None
        self._failure_deadline: float | None = None

        self._eof_rcvd = False  # the socket's EOF was read
        self._eof_sent = False  # our half was closed
        self._aborted = False  # the connection is lost (I/O error, abort)
        self._lost_exc: BaseException | None = None
        self._finished = False  # the socket is closed
        self._finished_event = threading.Event()

    # -- waiting -------------------------------------------------------------------

    def _notify(self) -> None:
        """Wake the application threads that wait (lock held)."""
        if self._waiters:
            self._cond.notify_all()

    def _wake_background(self) -> None:
        """Wake the background thread: its clocks or its reasons changed (lock held)."""
        self._bg_cond.notify()

    def _wait(self, timeout: float | None) -> None:
        """Wait for a notification (lock held), at most ``timeout`` seconds."""
        self._waiters += 1
        try:
            self._cond.wait(timeout)
        finally:
            self._waiters -= 1

    def _ended(self) -> bool:
        """Whether no message can come any more (lock held)."""
        protocol = self.protocol
        return protocol.close_rcvd is not None or self._aborted or protocol.state is _CLOSED

    def _not_open(self) -> bool:
        """Whether messages may not be sent now (lock held)."""
        return self.protocol.state is not _OPEN or self._aborted

    # -- reading ---------------------------------------------------------------------

    def _can_read(self) -> bool:
        """Whether a thread may take the read role now (lock held)."""
        if self._reading or self._eof_rcvd or self._aborted:
            return False
        if self.protocol.failure_pending or self._outbox_bytes > self._write_limit:
            # Nothing more counts until the failure is sent; answers wait
            # for a peer that does not read: read no more (see module doc).
            return False
        return not self._input_waiting or HOLD_LIMIT - self.protocol.held_bytes >= _MIN_READ

    def _read_once(self, timeout: float | None, write_deadline: float | None = None) -> bool:
        """Take the read role, read once, and act on what arrived.

        Called and returning with the lock held, when :meth:`_can_read`.

        Args:
            timeout: seconds to wait for data; None: as long as it takes.
            write_deadline: bound on writing the answers (None: none).

        Returns:
            False if nothing arrived within ``timeout``.
        """
        size = READ_SIZE
        if self._input_waiting:
            # Delivery stopped: read only what the protocol may keep waiting.
            size = min(READ_SIZE, max(HOLD_LIMIT - self.protocol.held_bytes, _MIN_READ))
        self._reading = True
        lock = self._lock
        lock.release()
        try:
            if timeout is None:
                data: bytes | None = self.transport.read(size)
            else:
                data = self.transport.recv(size, timeout)
        except OSError as exc:
            lock.acquire()
            self._reading = False
            self._abort(exc)
            return True
        except BaseException:
            lock.acquire()
            self._reading = False
            self._notify()
            raise
        lock.acquire()
        self._reading = False
        if data:
            if self._counted:
                self._flow.queued = len(self._queue)
            self.protocol.receive_data(data)
        elif data is None:
            self._notify()
            return False
        else:
            self._eof_rcvd = True
            self.protocol.receive_eof()
        self._after_input()
        if self._outbox:
            self._flush(write_deadline)
        if self._eof_rcvd:
            self._maybe_finish()
        return True

    def _after_input(self) -> None:
        """Act on what the protocol made of new input, or of a call (lock held)."""
        protocol = self.protocol
        events = protocol.events_received()
        if events:
            self._process_events(events)
        chunks = protocol.data_to_send()
        if chunks:
            self._outbox += chunks
            self._outbox_bytes += sum(map(len, chunks))
        if protocol.failure_pending and self._failure_deadline is None:
            grace = FAILURE_GRACE
            if self.close_timeout is not None and self.close_timeout < grace:
                grace = self.close_timeout
            self._failure_deadline = time.monotonic() + grace
            self._wake_background()
        self._input_waiting = protocol.paused
        if (
            protocol.state is not _OPEN
            and self._close_deadline is None
            and self.close_timeout is not None
            and protocol.close_expected()
        ):
            self._close_deadline = time.monotonic() + self.close_timeout
            self._wake_background()
        self._notify()

    def _process_events(self, events: list[Any]) -> None:
        for event in events:
            kind = type(event)
            if kind is Pong:
                for waiter, _, _ in self._pings.pong(event.data, time.perf_counter()):
                    if waiter is not None:
                        waiter[0].set()
            elif kind is Ping or kind is CloseReceived:
                pass  # the protocol answers them by itself
            else:
                self._handshake_event(event)

    def _handshake_event(self, event: Any) -> None:
        """Handle a Request or Response event (the subclasses' business)."""

    def _taken(self) -> None:
        """A message was taken while input waits (lock held): at the low-water mark, go on with it."""
        if self._marks.low_water(self._flow, len(self._queue)):
            self._resume_input()
            self._flush(self._close_deadline)

    def _resume_input(self) -> None:
        """Let the protocol deliver what waits, within the limits (lock held)."""
        if self._counted:
            self._flow.queued = len(self._queue)
        self.protocol.resume()
        self._after_input()
        # Reading may go on: the background thread reads while the
        # application is away.
        self._wake_background()

    def _recv(self, timeout: float | None) -> Data:
        """``recv`` when the queue is empty (lock held): read, or wait, for a message.

        Raises:
            ConnectionClosed: the connection closed and every message was taken.
            TimeoutError: no message within ``timeout``.
            InvalidState: another thread waits in ``recv()``.
        """
        if self._receiving:
            raise InvalidState("another thread is already waiting in recv()")
        deadline = None if timeout is None else time.monotonic() + timeout
        queue = self._queue
        protocol = self.protocol
        self._receiving = True
        tried = False
        try:
            while True:
                if queue:
                    message = queue.popleft()
                    if self._input_waiting:
                        self._taken()
                    return message
                if (
                    self._input_waiting
                    or self._outbox
                    or self._failure_deadline is not None
                    or self._aborted
                    or protocol.state is not _OPEN
                ):
                    if self._input_waiting:
                        # The peer's EOF (or our close) may wait behind input
                        # that the protocol still holds: go on with it.
                        self._resume_input()
                        if queue:
                            continue
                    if protocol.failure_pending:
                        # Every message that arrived before the protocol error
                        # has been taken, and the application is back for
                        # more: its answers are out; fail the connection now.
                        self._commit_failure()
                    if self._outbox and not self._writing:
                        self._flush(self._close_deadline)
                    if self._ended() and not self._input_waiting:
                        raise self._closed_exception()
                close_deadline = self._close_deadline
                if deadline is None and close_deadline is None:
                    remaining = None
                else:
                    now = time.monotonic()
                    if close_deadline is not None and now >= close_deadline:
                        self._abort(TimeoutError("the closing handshake timed out"))
                        continue
                    remaining = None if deadline is None else deadline - now
                    if remaining is not None and remaining <= 0 and tried:
                        raise TimeoutError("no message received within the timeout")
                    if close_deadline is not None:
                        left = close_deadline - now
                        remaining = left if remaining is None else min(remaining, left)
                    remaining = max(0.0, remaining)  # type: ignore[type-var]
                tried = True
                if self._can_read():
                    self._read_once(remaining, close_deadline)
                else:
                    self._wait(remaining)
        finally:
            self._receiving = False
            self._left_recv = time.monotonic()
            if self._bg_sleeping:
                self._bg_cond.notify()

    # -- writing ---------------------------------------------------------------------

    def _flush(self, deadline: float | None = None) -> None:
        """Write what the outbox holds, unless another thread writes (lock held at entry and exit).

        Args:
            deadline: a :func:`time.monotonic` time past which frames that
                could not be written stay in the outbox; None: wait as long
                as writing takes.
        """
        if self._outbox and not self._writing:
            self._writing = True
            self._write_outbox(deadline)

    def _write_outbox(self, deadline: float | None) -> None:
        """Holding the write role: write the outbox until it is empty, then release the role.

        The lock is held at entry and exit, released while writing.
        """
        lock = self._lock
        try:
            while self._outbox and not self._aborted:
                batch = self._outbox
                self._outbox = []
                self._outbox_bytes = self._coalesced = 0
                lock.release()
                try:
                    rest, eof = self._write_chunks(batch, deadline)
                except OSError as exc:
                    lock.acquire()
                    self._abort(exc)
                    break
                except BaseException:
                    lock.acquire()
                    raise
                lock.acquire()
                if eof:
                    self._eof_sent = True
                if rest:
                    self._outbox[:0] = rest
                    self._outbox_bytes += sum(map(len, rest))
                    break
        finally:
            self._writing = False
            self._notify()
            if self._bg_sleeping:
                self._bg_cond.notify()
            self._maybe_finish()

    def _written(self) -> None:
        """A message was written (lock held): release the write role; write what came meanwhile.

        Raises:
            ConnectionClosed: writing failed.
        """
        if self._outbox:
            self._write_outbox(None)  # still holding the role
        else:
            self._writing = False
            if self._waiters:
                self._cond.notify_all()
        if self._aborted:
            self._raise_closed()

    def _write_failed(self, exc: BaseException) -> None:
        """Writing a message raised (lock held): release the write role.

        Raises:
            ConnectionClosed: for an I/O error (the connection is lost).
        """
        self._writing = False
        self._notify()
        if isinstance(exc, OSError):
            self._abort(exc)
            self._raise_closed()
        self._maybe_finish()

    def _write_chunks(self, batch: list[bytes], deadline: float | None) -> tuple[list[bytes], bool]:
        """Write the protocol's chunks (``b""``: half-close); no lock held.

        Returns:
            The chunks not written because the deadline passed, and whether
            our half of the connection was closed.
        """
        transport = self.transport
        if deadline is None:
            # Frames up to EOF in one system call.
            try:
                end = batch.index(b"")
            except ValueError:
                end = len(batch)
            if end == 1:
                transport.write(batch[0])
            elif end:
                transport.writev(batch[:end])
            if end < len(batch):
                transport.send_eof()
                return [], True  # nothing follows EOF
            return [], False
        for index, chunk in enumerate(batch):
            if not chunk:
                transport.send_eof()
                return [], True
            written = transport.sendall(chunk, deadline)
            if written < len(chunk):
                rest = batch[index:]
                if written:
                    rest[0] = chunk[written:]
                return rest, False
        return [], False

    def _send_frames(self) -> None:
        """Write the frames the caller just queued in the protocol (lock held, write role free).

        Raises:
            ConnectionClosed: writing failed.
        """
        chunks = self.protocol.data_to_send()
        if self._outbox:
            chunks = self._outbox + chunks
            self._outbox = []
            self._outbox_bytes = self._coalesced = 0
        self._writing = True
        lock = self._lock
        lock.release()
        try:
            if len(chunks) == 1:
                self.transport.write(chunks[0])
            else:
                self._write_chunks(chunks, None)
        except BaseException as exc:
            lock.acquire()
            self._write_failed(exc)
            raise
        lock.acquire()
        self._written()

    def _wait_to_send(self) -> None:
        """Wait until this thread may write a message (lock held).

        Raises:
            ConnectionClosed: the connection is closed or closing.
            InvalidState: the opening handshake is not complete.
        """
        me = threading.get_ident()
        while self._writing or (self._fragmenting is not None and self._fragmenting != me):
            if self._not_open():
                break
            self._wait(None)
        if self._not_open():
            self._raise_closed()

    # -- closing and failing -------------------------------------------------------

    def _commit_failure(self) -> None:
        """Send the protocol failure kept back: close frame, then EOF (lock held)."""
        self._failure_deadline = None
        self.protocol.commit_failure()
        self._after_input()

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection: close frame with ``code``, then EOF (lock held)."""
        if self.protocol.state is _OPEN and not self._aborted:
            self.protocol.fail(code, reason)
            self._after_input()
        else:
            self._abort(None)

    def _abort(self, exc: BaseException | None) -> None:
        """The connection is lost, or cut off: shut the socket down (lock held)."""
        if self._aborted:
            self._maybe_finish()  # a role may have been released since
            return
        self._aborted = True
        if self._lost_exc is None:
            self._lost_exc = exc
        self.transport.abort()  # wakes a thread blocked on the socket
        self._outbox = []
        self._outbox_bytes = 0
        if self.protocol.state is not _CLOSED:
            self.protocol.receive_eof()
            self.protocol.events_received()
            self.protocol.data_to_send()
        self._notify()
        self._wake_background()
        self._maybe_finish()

    def _maybe_finish(self) -> None:
        """Close the socket once the connection is over and no thread uses it (lock held)."""
        if self._finished or self._reading or self._writing:
            return
        if not (self._aborted or (self._eof_rcvd and self._eof_sent)):
            return
        self._finished = True
        self.transport.close()
        for waiter, _, _ in self._pings.clear():
            if waiter is not None and waiter[1]:
                waiter[0].set()
        self._cond.notify_all()
        self._wake_background()
        self._finished_event.set()

    def _wait_finished(self, deadline: float | None = None) -> bool:
        """Read (or wait for the reader) until the socket is closed (lock held).

        The closing handshake's deadline applies: past it, the connection
        is aborted.

        Args:
            deadline: give up at this :func:`time.monotonic` time.

        Returns:
            Whether the socket is closed.
        """
        while not self._finished:
            self._maybe_finish()
            if self._finished:
                break
            now = time.monotonic()
            close_deadline = self._close_deadline
            if close_deadline is not None and now >= close_deadline and not self._aborted:
                self._abort(TimeoutError("the closing handshake timed out"))
                continue
            if deadline is not None and now >= deadline:
                return False
            if self._outbox and not self._writing and not self._aborted:
                self._flush(close_deadline)
                continue
            limits = [t - now for t in (deadline, close_deadline) if t is not None]
            timeout = max(0.0, min(limits)) if limits else None
            if self._can_read():
                self._read_once(timeout, close_deadline)
            else:
                self._wait(timeout)
        return True

    def _closed_exception(self) -> ConnectionClosed:
        """The exception that says how the connection closed (lock held)."""
        return self.protocol.closed_exception(self._lost_exc)

    def _raise_closed(self) -> None:
        """Raise ConnectionClosed once the closing handshake is over (lock held).

        Raises:
            ConnectionClosed: always, unless...
            InvalidState: the opening handshake is not complete.
        """
        if self.protocol.state is _CONNECTING and not self._aborted:
            raise InvalidState("the opening handshake is not complete")
        # Closing: the close code is known only once the handshake ends.
        self._wait_finished()
        raise self._closed_exception()

    # -- the background thread -----------------------------------------------------

    def _start_background(self, name: str) -> None:
        """Start the background thread, once the connection is open."""
        with self._lock:
            if self.ping_interval is not None:
                self._next_ping = time.monotonic() + self.ping_interval
        # A daemon thread: a connection left open must not keep the
        # interpreter from exiting.
        self._thread = threading.Thread(target=self._run_background, name=name, daemon=True)
        self._thread.start()

    def _run_background(self) -> None:
        lock = self._lock
        with lock:
            try:
                while not self._finished:
                    now = time.monotonic()
                    if self._run_timers(now):
                        continue
                    wake_at = self._next_timer()
                    if self._outbox and not self._writing and not self._aborted:
                        # Messages held back for the application (see send())
                        # wait a little for more; anything else goes now.
                        release = self._coalesced_at + TAKEOVER_DELAY
                        if not self._coalesced or self._outbox_bytes or now >= release:
                            self._flush(now + _BACKGROUND_WRITE_WAIT)
                            if self._outbox and not self._writing:
                                # Not writable in time: look at the clocks,
                                # then try again (each try waits).
                                continue
                        elif wake_at is None or release < wake_at:
                            wake_at = release
                    timeout = None if wake_at is None else max(0.0, wake_at - now)
                    if self._can_read() and not self._receiving:
                        if (
                            self.protocol.state is not _OPEN
                            or len(self._pings)  # a pong is awaited: see it at once
                            or now - self._left_recv >= TAKEOVER_DELAY
                        ):
                            if self._outbox and not self._writing:
                                self._flush(now + _BACKGROUND_WRITE_WAIT)
                                continue
                            self._read_once(timeout, now + _BACKGROUND_WRITE_WAIT)
                            continue
                        # The application was in recv() a moment ago: it
                        # will likely be back; look again after the delay.
                        delay = self._left_recv + TAKEOVER_DELAY - now
                        self._bg_cond.wait(delay if timeout is None else min(delay, timeout))
                        continue
                    # The application reads, or nothing may be read now:
                    # sleep until a clock or a notification.
                    self._bg_sleeping = True
                    try:
                        self._bg_cond.wait(timeout)
                    finally:
                        self._bg_sleeping = False
            except Exception as exc:  # pragma: no cover - a bug: do not leave the socket open
                logger.exception("error in the connection's background thread")
                self._abort(exc)

    def _next_timer(self) -> float | None:
        """The next time a clock needs the background thread (lock held)."""
        times = []
        if self._close_deadline is not None and not self._aborted:
            times.append(self._close_deadline)
        if self._failure_deadline is not None:
            times.append(self._failure_deadline)
        if self.protocol.state is _OPEN and not self._aborted:
            if self._next_ping is not None:
                times.append(self._next_ping)
            expiry = self._keepalive_expiry()
            if expiry is not None:
                times.append(expiry)
        return min(times) if times else None

    def _keepalive_expiry(self) -> float | None:
        """When the oldest unanswered keepalive ping times out (lock held)."""
        for handle in self._pings.handles():
            if handle is not None:
                return handle  # type: ignore[no-any-return]
        return None

    def _run_timers(self, now: float) -> bool:
        """Act on the clocks that are due (lock held); whether one was."""
        if self._close_deadline is not None and now >= self._close_deadline and not self._aborted:
            # RFC 6455 section 7.1.1: the client "SHOULD wait for the server to
            # close the connection but MAY close the connection at any time
            # after sending and receiving a Close message"; a peer that does
            # neither in time is cut off.
            logger.debug("closing handshake timed out; aborting the connection")
            self._abort(TimeoutError("the closing handshake timed out"))
            return True
        if self._failure_deadline is not None and now >= self._failure_deadline:
            self._failure_deadline = None
            if self.protocol.failure_pending:
                self._commit_failure()
                return True
        if self.protocol.state is not _OPEN or self._aborted:
            return False
        expiry = self._keepalive_expiry()
        if expiry is not None and now >= expiry:
            logger.debug("keepalive ping timed out; failing the connection with 1011")
            self._fail(1011, "keepalive ping timeout")
            return True
        if self._next_ping is not None and now >= self._next_ping:
            assert self.ping_interval is not None
            payload = self._pings.fresh_payload()
            self.protocol.send_ping(payload)
            expires = None if self.ping_timeout is None else now + self.ping_timeout
            self._pings.sent(payload, None, time.perf_counter(), expires)
            self._next_ping = now + self.ping_interval
            self._after_input()
            return True
        return False
