"""Receive-side flow control: the limits of one call, and the input held back.

A sans-IO protocol cannot stop the network, but it can stop *working*: the
caller (an I/O layer) tells it how much it may deliver and spend, and the
protocol holds back the input past that point, in order, until the caller
is ready for more. :class:`FlowControl` keeps that account for one
connection:

* the caller's queue: the payload sizes of the messages the protocol
  delivered and the caller has not taken yet (:attr:`FlowControl.queued`,
  which the caller sets to the number its queue still holds), bounded by
  ``max_queue`` (messages) and ``max_queue_bytes`` (payload bytes; a single
  larger message is still delivered into an empty queue);
* the work budget: bytes inflated or deflated by extensions since the
  caller last set :attr:`FlowControl.work` to 0, bounded by ``max_work``, so
  that one connection cannot hold an event loop for long;
* :meth:`FlowControl.pause`, for a caller whose answers filled its write
  buffer;
* the input held back: frames parsed but not processed (each costing its
  payload plus :data:`HELD_FRAME_OVERHEAD`), and raw bytes not parsed yet
  (costing their size).

The protocol decides what to hold and when to go on (``Protocol.resume``);
this module only keeps the account.
"""

from __future__ import annotations

import collections
from typing import Any

__all__ = ["HELD_FRAME_OVERHEAD", "FlowControl", "check_at_least_one"]

#: What a held frame costs beyond its payload, in bytes: the frame object
#: and a slot in the queue of held frames (88 bytes on 64-bit CPython, for
#: both codec twins) and its payload's ``bytes`` header (33), rounded up. A
#: peer that sends empty frames while messages are held makes each cost this.
HELD_FRAME_OVERHEAD = 128


def check_at_least_one(name: str, value: int | None) -> int | None:
    """Return an optional count limit, refusing values below 1.

    Raises:
        ValueError: ``value`` is less than 1.
    """
    if value is not None and value < 1:
        raise ValueError(f"{name} must be >= 1")
    return value


class FlowControl:
    """The receive-side limits of one connection, and what is held back.

    Args:
        max_queue: most messages in the caller's queue; None: no limit.
        max_queue_bytes: most payload bytes in the caller's queue; None: no
            limit.
        max_work: most bytes the extensions may inflate or deflate between
            two resets of :attr:`work`; None: no limit.

    Raises:
        ValueError: a limit below 1.

    Attributes:
        work: bytes inflated or deflated by extensions since the caller last
            set it to 0.
        limited: whether delivered messages are counted (a queue limit is
            set); read only.
        paused: whether :meth:`pause` is in effect; read only.
        active: whether any limit is set, or :meth:`pause` is in effect;
            read only.
        held: what is held back, in order: frames, then possibly what ended
            the input (the protocol's business); None when nothing was held
            since the last :meth:`drop`.
        held_cost: what ``held`` costs, in bytes.
        unparsed: input received after the held frames and not parsed yet:
            it costs its size.
    """

    __slots__ = (
        "_max_queue",
        "_max_queue_bytes",
        "_max_work",
        "_queued_bytes",
        "_sizes",
        "active",
        "held",
        "held_cost",
        "limited",
        "paused",
        "unparsed",
        "work",
    )

    def __init__(
        self,
        *,
        max_queue: int | None = None,
        max_queue_bytes: int | None = None,
        max_work: int | None = None,
    ) -> None:
        self._max_queue = check_at_least_one("max_queue", max_queue)
        self._max_queue_bytes = check_at_least_one("max_queue_bytes", max_queue_bytes)
        self._max_work = check_at_least_one("max_work", max_work)
        self.work = 0
        self.paused = False
        # A list (at most max_queue entries, taken from the front): lighter
        # than a deque for the many connections that queue a few messages.
        self._sizes: list[int] = []
        self._queued_bytes = 0
        # Created when something is first held, dropped with it: an idle
        # connection does not carry an empty deque.
        self.held: collections.deque[Any] | None = None
        self.held_cost = 0
        self.unparsed = bytearray()
        self._update()

    def _update(self) -> None:
        # Cached: the protocol reads these on every call and message.
        self.limited = self._max_queue is not None or self._max_queue_bytes is not None
        self.active = self.limited or self._max_work is not None or self.paused

    @property
    def max_queue(self) -> int | None:
        """Most messages in the caller's queue (None: no limit).

        Raises:
            ValueError: on assignment, a value below 1.
        """
        return self._max_queue

    @max_queue.setter
    def max_queue(self, value: int | None) -> None:
        self._max_queue = check_at_least_one("max_queue", value)
        self._update()

    @property
    def max_queue_bytes(self) -> int | None:
        """Most payload bytes in the caller's queue (None: no limit).

        Raises:
            ValueError: on assignment, a value below 1.
        """
        return self._max_queue_bytes

    @max_queue_bytes.setter
    def max_queue_bytes(self, value: int | None) -> None:
        self._max_queue_bytes = check_at_least_one("max_queue_bytes", value)
        self._update()

    @property
    def max_work(self) -> int | None:
        """Most bytes inflated or deflated between two resets of ``work`` (None: no limit).

        Raises:
            ValueError: on assignment, a value below 1.
        """
        return self._max_work

    @max_work.setter
    def max_work(self, value: int | None) -> None:
        self._max_work = check_at_least_one("max_work", value)
        self._update()

    @property
    def queued(self) -> int:
        """Messages delivered that the caller has not taken yet.

        The caller sets it to the number of delivered messages its queue
        still holds (it takes the oldest first), typically before feeding
        more data and before resuming. Counted only while :attr:`limited`.

        Raises:
            ValueError: on assignment, a negative number, or more than were
                delivered.
        """
        return len(self._sizes)

    @queued.setter
    def queued(self, count: int) -> None:
        sizes = self._sizes
        taken = len(sizes) - count
        if taken <= 0:
            if taken == 0:
                return
            raise ValueError(f"queued must be in [0, {len(sizes)}], not {count}")
        if count < 0:
            raise ValueError(f"queued must be in [0, {len(sizes)}], not {count}")
        if count == 0:
            sizes.clear()
            self._queued_bytes = 0
            return
        self._queued_bytes -= sum(sizes[:taken])
        del sizes[:taken]

    @property
    def queued_bytes(self) -> int:
        """Payload bytes of the :attr:`queued` messages (UTF-8 bytes for text)."""
        return self._queued_bytes

    def pause(self) -> None:
        """Deliver nothing more until :meth:`unpause`."""
        self.paused = True
        self.active = True

    def unpause(self) -> None:
        """Undo :meth:`pause`."""
        self.paused = False
        self._update()

    def delivered(self, size: int) -> bool:
        """Count a message handed to the caller's queue; whether a limit now holds.

        Args:
            size: its payload size in bytes.
        """
        sizes = self._sizes
        sizes.append(size)
        queued_bytes = self._queued_bytes = self._queued_bytes + size
        max_queue = self._max_queue
        max_queue_bytes = self._max_queue_bytes
        max_work = self._max_work
        return (
            (max_queue is not None and len(sizes) >= max_queue)
            or (max_queue_bytes is not None and queued_bytes >= max_queue_bytes)
            or self.paused
            or (max_work is not None and self.work >= max_work)
        )

    def blocked(self) -> bool:
        """Whether delivering one more message would pass a limit."""
        # Asked before every read and after every on_message call: the
        # queue limits, unset there, are looked at last.
        max_work = self._max_work
        if self.paused or (max_work is not None and self.work >= max_work):
            return True
        if not self.limited:
            return False
        max_queue = self._max_queue
        max_queue_bytes = self._max_queue_bytes
        return (max_queue is not None and len(self._sizes) >= max_queue) or (
            max_queue_bytes is not None and self._queued_bytes >= max_queue_bytes
        )

    def worked_out(self) -> bool:
        """Whether the work budget is spent (``work`` reached ``max_work``)."""
        return self._max_work is not None and self.work >= self._max_work

    def hold_frame(self, frame: Any) -> None:
        """Hold a frame after what is held already."""
        if self.held is None:
            self.held = collections.deque()
        self.held.append(frame)
        self.held_cost += len(frame.payload) + HELD_FRAME_OVERHEAD

    def hold_end(self, item: Any) -> None:
        """Hold what ended the input (an error): it costs nothing."""
        if self.held is None:
            self.held = collections.deque()
        self.held.append(item)

    def pop_frame(self) -> Any:
        """Take the oldest held item back: a frame held by :meth:`hold_frame`."""
        assert self.held is not None
        frame = self.held.popleft()
        self.held_cost -= len(frame.payload) + HELD_FRAME_OVERHEAD
        return frame

    def pop_end(self) -> Any:
        """Take the oldest held item back: what :meth:`hold_end` held."""
        assert self.held is not None
        return self.held.popleft()

    def drop(self) -> None:
        """Forget everything held and unparsed (the connection failed or closed)."""
        self.held = None
        self.held_cost = 0
        self.unparsed.clear()
