"""The threaded WebSocket connection shared by the client and the server: :class:`Connection`.

A :class:`Connection` is what an application holds: ``recv``, iteration,
``send``, ``ping``, ``close``. It runs on
:class:`~fastws.sync.stream.Stream`, which drives one sans-IO
:class:`fastws.protocol.Protocol` over a socket (see its module doc for the
thread model, the flow control and the bounds).

Thread safety: every method may be called from any thread.

* ``send`` from several threads at once sends whole messages, one after
  the other, never frames of two messages interleaved (a fragmented
  message holds the others back until its last fragment);
* one thread may wait in ``recv`` (or iterate) while others send, ping or
  close; a second thread calling ``recv`` meanwhile gets
  :class:`~fastws.InvalidState`;
* ``close`` from any thread ends a ``recv`` waiting in another with
  :class:`~fastws.ConnectionClosedOK`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any

from ..exceptions import ConnectionClosed, ConnectionClosedOK, InvalidState
from ..options import COALESCE_LIMIT
from ..protocol import State
from .stream import Data, Stream

__all__ = ["Connection", "Data"]

_BYTES_LIKE = (bytes, bytearray, memoryview)
_OPEN = State.OPEN
_CONNECTING = State.CONNECTING


class Connection(Stream):
    """One WebSocket connection on a socket, for threads.

    Applications get instances from :func:`fastws.sync.connect` (client side)
    or as the argument of their :func:`fastws.sync.serve` handler (server
    side); they do not create them.

    Args:
        transport: the socket, wrapped (:class:`~fastws.sync.transport.Transport`).
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
        write_limit: bytes of automatic answers (pongs, the close frame's
            echo) that may wait to be written while the peer does not read,
            before reading stops; an int, or a ``(high, low)`` tuple of
            which the high mark counts. :meth:`send` itself waits for the
            kernel to take its message.

    Raises:
        ValueError: an argument is out of range.
    """

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
    def local_address(self) -> Any:
        """The local socket address (``(host, port)`` for IPv4); still known once closed."""
        return self.transport.local_address

    @property
    def remote_address(self) -> Any:
        """The peer's socket address (``(host, port)`` for IPv4); still known once closed."""
        return self.transport.remote_address

    @property
    def latency(self) -> float:
        """Seconds between the last answered ping (keepalive or :meth:`ping`) and its pong."""
        with self._lock:
            return self._pings.latency

    @property
    def close_code(self) -> int | None:
        """The code of the peer's close frame; 1006 if the connection closed
        without one, 1005 if it had no code; None until either happens.
        """
        with self._lock:
            if not self._ended():
                return None
            return self.protocol.close_code

    @property
    def close_reason(self) -> str | None:
        """The reason of the peer's close frame; None until the connection closes."""
        with self._lock:
            if not self._ended():
                return None
            return self.protocol.close_reason

    def __repr__(self) -> str:
        state = "LOST" if self._aborted else self.protocol.state.name
        return f"<{type(self).__name__} {state} remote={self.remote_address!r}>"

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- receiving -----------------------------------------------------------

    def recv(self, timeout: float | None = None) -> Data:
        """Return the next message: ``str`` for text, ``bytes`` for binary.

        Args:
            timeout: seconds to wait at most; None waits as long as it
                takes; 0 returns a message only if one has arrived.

        Raises:
            ConnectionClosedOK: the connection closed normally (1000, 1001)
                and every received message has been returned.
            ConnectionClosedError: the connection closed any other way.
            TimeoutError: no message arrived within ``timeout`` (none is
                lost: the next call may return it).
            InvalidState: another thread is already waiting in ``recv``.
        """
        with self._lock:
            queue = self._queue
            if queue:
                message = queue.popleft()
                if self._input_waiting:
                    self._taken()
                return message
            return self._recv(timeout)

    def __iter__(self) -> Iterator[Data]:
        """The messages, one by one; iteration ends when the connection closes normally.

        Raises:
            ConnectionClosedError: the connection closed with an error.
        """
        recv = self.recv
        try:
            while True:
                yield recv()
        except ConnectionClosedOK:
            return

    # -- sending -------------------------------------------------------------

    def send(self, message: str | bytes | bytearray | memoryview | Iterable[Any]) -> None:
        """Send a message: text for ``str``, binary for a bytes-like object.

        An iterable of ``str`` (or of bytes-like objects) is sent as one
        fragmented text (binary) message, one frame per item; other threads'
        messages wait until it is complete. Returns once the kernel has taken
        the message: while the peer does not read, it waits. Small messages
        sent while received ones wait in the queue (an echo working through
        a burst) are written together, when the application comes back to
        ``recv()`` for more, or sends when the queue is empty.

        Args:
            message: the message, or its fragments.

        Raises:
            ConnectionClosed: the connection is closed or closing (raised
                once the closing handshake is over).
            TypeError: ``message`` has an unsupported type, or the fragments
                mix text and binary (the connection is then failed with
                1011, since the message cannot be taken back).
            InvalidState: the opening handshake is not complete.
        """
        kind = type(message)
        if kind is bytes or kind is str or isinstance(message, _BYTES_LIKE):
            # _send_frames(), inlined: this is the hot path.
            lock = self._lock
            with lock:
                if self._writing or self._fragmenting is not None or self._not_open():
                    self._wait_to_send()
                protocol = self.protocol
                if kind is str:
                    protocol.send_text(message)  # type: ignore[arg-type]
                else:
                    protocol.send_binary(message)  # type: ignore[arg-type]
                chunks = protocol.data_to_send()
                if self._queue and not self._reading:
                    # The application works through received messages and
                    # will be back in recv(): small messages wait to be
                    # written together (see fastws.sync.stream).
                    coalesced = self._coalesced + len(message)  # type: ignore[arg-type]
                    if coalesced < COALESCE_LIMIT:
                        if not self._coalesced:
                            # Should the application go away, the background
                            # thread writes them after TAKEOVER_DELAY.
                            self._coalesced_at = time.monotonic()
                            if self._bg_sleeping:
                                self._bg_cond.notify()
                        self._outbox += chunks
                        self._coalesced = coalesced
                        return
                if self._outbox:
                    chunks = self._outbox + chunks
                    self._outbox = []
                    self._outbox_bytes = self._coalesced = 0
                self._writing = True
            try:
                if len(chunks) == 1:
                    self.transport.write(chunks[0])
                else:
                    self.transport.writev(chunks)
            except BaseException as exc:
                with lock:
                    self._write_failed(exc)
                raise
            with lock:
                if self._outbox or self._waiters or self._aborted:
                    self._written()
                else:
                    self._writing = False
            return
        if isinstance(message, str):  # a subclass of str
            self.send(str(message))
            return
        if isinstance(message, Mapping):
            raise TypeError("a dict is not a message: send str, bytes or an iterable of fragments")
        if not isinstance(message, Iterable):
            raise TypeError(f"message must be str, bytes-like or an iterable, not {kind.__name__}")
        self._send_fragments(iter(message))

    def _send_fragments(self, fragments: Iterator[Any]) -> None:
        """Send the items of an iterator as one fragmented message."""
        try:
            first = next(fragments)
        except StopIteration:
            return  # an empty iterable sends nothing
        if isinstance(first, str):
            text = True
        elif isinstance(first, _BYTES_LIKE):
            text = False
        else:
            raise TypeError(f"fragments must be str or bytes-like, not {type(first).__name__}")
        me = threading.get_ident()
        protocol = self.protocol
        with self._lock:
            if self._fragmenting == me:
                raise InvalidState("this thread is already sending a fragmented message")
            self._wait_to_send()
            self._fragmenting = me
            try:
                if text:
                    protocol.send_text(first, fin=False)
                else:
                    protocol.send_binary(first, fin=False)
                self._send_frames()
            except BaseException:
                self._fragmenting = None
                self._notify()
                raise
        try:
            for fragment in fragments:
                if text and isinstance(fragment, str):
                    fragment = fragment.encode()
                elif text or not isinstance(fragment, _BYTES_LIKE):
                    kind = "str" if text else "bytes-like"
                    raise TypeError(
                        f"all fragments of a message must be {kind}, not {type(fragment).__name__}"
                    )
                with self._lock:
                    self._wait_to_send()
                    protocol.send_continuation(fragment, fin=False)
                    self._send_frames()
            with self._lock:
                self._wait_to_send()
                protocol.send_continuation(b"", fin=True)
                self._send_frames()
        except BaseException as exc:
            # A message that is half sent cannot be taken back: RFC 6455
            # section 7.1.7 lets an endpoint fail the connection, and 1011
            # says the fault is ours, not the peer's.
            with self._lock:
                if not isinstance(exc, ConnectionClosed) and protocol.state is _OPEN:
                    self._fail(1011, "error while sending a fragmented message")
                    self._flush(self._close_deadline)
            raise
        finally:
            with self._lock:
                self._fragmenting = None
                self._notify()

    def ping(self, data: str | bytes | None = None, *, ack_on_close: bool = False) -> threading.Event:
        """Send a ping; return an event that is set when its pong arrives.

        ``ws.ping().wait(5)`` waits up to 5 s for the pong; :attr:`latency`
        then holds the round-trip time. A pong also acknowledges every ping
        sent before the one it answers (RFC 6455 section 5.5.3 allows a peer
        to answer only the most recent ping).

        Args:
            data: the ping's payload (``str`` is UTF-8 encoded, 125 bytes at
                most); None picks 4 random bytes.
            ack_on_close: set the event also when the connection closes
                before the pong arrives (check :attr:`state` then).

        Returns:
            A :class:`threading.Event`.

        Raises:
            ConnectionClosed: the connection is closed or closing.
            InvalidState: a ping with the same payload is still unanswered.
            ValueError: the payload is longer than 125 bytes.
        """
        with self._lock:
            if data is None:
                payload = self._pings.fresh_payload()
            else:
                payload = data.encode() if isinstance(data, str) else bytes(data)
                if payload in self._pings:
                    raise InvalidState("a ping with the same payload is still waiting for its pong")
            if self._not_open():
                self._raise_closed()
            self.protocol.send_ping(payload)
            event = threading.Event()
            self._pings.sent(payload, (event, ack_on_close), time.perf_counter())
            self._outbox += self.protocol.data_to_send()
            self._flush(self._close_deadline)
            # Unless the application reads, the background thread reads the
            # pong as soon as it arrives.
            self._wake_background()
        return event

    def pong(self, data: str | bytes = b"") -> None:
        """Send an unsolicited pong (RFC 6455 section 5.5.3: a heartbeat).

        Raises:
            ConnectionClosed: the connection is closed or closing.
            ValueError: the payload is longer than 125 bytes.
        """
        with self._lock:
            if self._not_open():
                self._raise_closed()
            self.protocol.send_pong(data.encode() if isinstance(data, str) else bytes(data))
            self._outbox += self.protocol.data_to_send()
            self._flush(self._close_deadline)

    # -- closing -------------------------------------------------------------

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake and wait until the connection is closed.

        Only waits if the connection is already closing. The wait is bounded
        by ``close_timeout``: past it the TCP connection is aborted.

        Args:
            code: the close code (1000, 1001, 1003, 1007-1014, 3000-4999).
            reason: the close reason (at most 123 bytes once UTF-8 encoded).

        Raises:
            ValueError: the code or reason may not be sent.
        """
        with self._lock:
            self._start_closing(code, reason)
            self._wait_finished()

    def _start_closing(self, code: int, reason: str) -> None:
        """Send a close frame now, if the connection is open (lock held)."""
        protocol = self.protocol
        if self._aborted:
            return
        if protocol.state is _OPEN:
            protocol.send_close(code, reason)  # may raise ValueError: nothing changed then
            self._after_input()
            self._flush(self._close_deadline)
        elif protocol.state is _CONNECTING:
            self._abort(None)

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until the TCP connection is closed.

        Args:
            timeout: seconds to wait at most; None: as long as it takes.

        Returns:
            Whether it is closed.
        """
        return self._finished_event.wait(timeout)
