"""The pings a connection has sent and not seen answered (RFC 6455 sections 5.5.2-5.5.3).

:class:`PingTracker` is the bookkeeping that every I/O layer's keepalive and
``ping()`` share, with no I/O and no clock of its own (the caller passes the
time): which pings wait for their pong, in the order they were sent, with
whatever the layer attaches to each (a future, an event, a timer or a
deadline); which of them a pong acknowledges; the last round-trip time.

Section 5.5.3 lets a peer answer only the most recent of several pings
("If an endpoint receives a Ping frame and has not yet sent Pong frame(s) in
response to previous Ping frame(s), the endpoint MAY elect to send a Pong
frame for only the most recently processed Ping frame"), so a pong
acknowledges its ping and every ping sent before it. A pong that answers no
waiting ping is unsolicited and ignored.
"""

from __future__ import annotations

import os
from typing import Any, Generic, TypeVar

__all__ = ["PingTracker"]

W = TypeVar("W")


class PingTracker(Generic[W]):
    """The pings of one connection that wait for their pong, oldest first.

    Not thread-safe: a threaded caller holds its connection's lock.

    Attributes:
        latency: seconds between the last acknowledged ping and its pong
            (0.0 until a pong arrives).
    """

    __slots__ = ("_waiting", "latency")

    def __init__(self) -> None:
        self._waiting: dict[bytes, tuple[W | None, float, Any]] = {}
        self.latency = 0.0

    def __contains__(self, payload: bytes) -> bool:
        return payload in self._waiting

    def __len__(self) -> int:
        return len(self._waiting)

    def fresh_payload(self) -> bytes:
        """Four random bytes that no waiting ping uses."""
        payload = os.urandom(4)
        while payload in self._waiting:
            payload = os.urandom(4)
        return payload

    def sent(self, payload: bytes, waiter: W | None, now: float, handle: Any = None) -> None:
        """Record a ping just sent.

        Args:
            payload: its payload; no waiting ping may have the same.
            waiter: what to complete when its pong arrives; None for a
                keepalive ping.
            now: the time it was sent, on the clock given to :meth:`pong`.
            handle: anything the caller needs back (a timer to cancel, a
                deadline), returned with the ping by :meth:`pong`,
                :meth:`pop` and :meth:`clear`.
        """
        self._waiting[payload] = (waiter, now, handle)

    def pong(self, payload: bytes, now: float) -> list[tuple[W | None, float, Any]]:
        """A pong arrived: take its ping and every ping sent before it.

        Args:
            payload: the pong's payload.
            now: the time it arrived.

        Returns:
            ``(waiter, round trip in seconds, handle)`` of each acknowledged
            ping, oldest first; empty for an unsolicited pong.
        """
        waiting = self._waiting
        if payload not in waiting:
            return []  # RFC 6455 section 5.5.3: an unsolicited pong is ignored
        done = []
        while waiting:
            key = next(iter(waiting))
            waiter, sent, handle = waiting.pop(key)
            done.append((waiter, now - sent, handle))
            if key == payload:
                self.latency = now - sent
                break
        return done

    def pop(self, payload: bytes) -> tuple[W | None, float, Any] | None:
        """Forget one waiting ping (its timeout expired); None if it is not waiting."""
        return self._waiting.pop(payload, None)

    def handles(self) -> list[Any]:
        """The handles of the waiting pings, oldest first."""
        return [handle for _, _, handle in self._waiting.values()]

    def clear(self) -> list[tuple[W | None, float, Any]]:
        """Forget every waiting ping (the connection closed); return them, oldest first."""
        pings = list(self._waiting.values())
        self._waiting.clear()
        return pings
