"""Pings, pongs and keepalive for one asyncio connection (RFC 6455 section 5.5.2-5.5.3).

:class:`Pings` keeps the pings a connection has sent and not seen answered
(with :class:`fastws.pings.PingTracker`, the bookkeeping that the threading
layer shares): the application's (each with a future that gets the
round-trip time) and the keepalive's (sent every ``ping_interval``; if its
pong does not arrive within ``ping_timeout``, the connection fails with
1011). A pong acknowledges its ping and every ping sent before it (section
5.5.3 lets a peer answer only the most recent one).

The keepalive keeps running while the application is slow to read: the
protocol still parses control frames behind the messages it holds back (see
:mod:`fastws.flow`), so a live peer's pong is seen. A peer whose pong does
not come back in time is dropped, whatever the receive queue holds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..constants import State
from ..pings import PingTracker

if TYPE_CHECKING:
    from ..protocol import Protocol

__all__ = ["Pings"]

_OPEN = State.OPEN

logger = logging.getLogger("fastws")


def _inert(*args: object) -> None:
    """What the stopped keepalive holds instead of the connection's methods."""


class Pings:
    """The pings of one connection that wait for their pong, and the keepalive timer.

    Args:
        loop: the connection's event loop.
        protocol: the sans-IO protocol the pings are sent through.
        flush: writes what the protocol has to send.
        fail: fails the connection: ``fail(code, reason)``.
        interval: seconds between keepalive pings; None: no keepalive.
        timeout: seconds a keepalive ping may wait for its pong; None: forever.
    """

    __slots__ = (
        "_fail",
        "_flush",
        "_loop",
        "_protocol",
        "_stopped",
        "_timer",
        "_waiting",
        "interval",
        "timeout",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        protocol: Protocol,
        flush: Callable[[], object],
        fail: Callable[[int, str], None],
        interval: float | None,
        timeout: float | None,
    ) -> None:
        self._loop = loop
        self._protocol = protocol
        self._flush = flush
        self._fail = fail
        self.interval = interval
        self.timeout = timeout
        # Each waiting ping: its future (None for a keepalive ping), and the
        # handle of its timeout.
        self._waiting: PingTracker[asyncio.Future[float]] = PingTracker()
        self._timer: asyncio.TimerHandle | None = None
        self._stopped = False

    @property
    def latency(self) -> float:
        """Seconds between the last answered ping and its pong."""
        return self._waiting.latency

    def __contains__(self, payload: bytes) -> bool:
        return payload in self._waiting

    def fresh_payload(self) -> bytes:
        """Four random bytes that no waiting ping uses."""
        return self._waiting.fresh_payload()

    def sent(self, payload: bytes) -> asyncio.Future[float]:
        """Register an application ping just sent; return the future of its round trip."""
        waiter: asyncio.Future[float] = self._loop.create_future()
        # perf_counter, not loop.time(): uvloop's clock ticks in milliseconds.
        self._waiting.sent(payload, waiter, time.perf_counter())
        return waiter

    def start(self) -> None:
        """Start the keepalive (once the connection is open)."""
        if self.interval is not None and not self._stopped:
            self._timer = self._loop.call_later(self.interval, self._keepalive)

    def _keepalive(self) -> None:
        self._timer = None
        if self._stopped or self._protocol.state is not _OPEN:
            return
        payload = self.fresh_payload()
        self._protocol.send_ping(payload)
        handle = None
        if self.timeout is not None:
            handle = self._loop.call_later(self.timeout, self._expired, payload)
        self._waiting.sent(payload, None, time.perf_counter(), handle)
        self._flush()
        self._timer = self._loop.call_later(self.interval, self._keepalive)  # type: ignore[arg-type]

    def _expired(self, payload: bytes) -> None:
        if self._waiting.pop(payload) is None or self._stopped:
            return
        logger.debug("keepalive ping timed out; failing the connection with 1011")
        self._fail(1011, "keepalive ping timeout")

    def pong_received(self, payload: bytes) -> None:
        """A pong arrived: complete its ping and every ping sent before it."""
        for waiter, round_trip, handle in self._waiting.pong(payload, time.perf_counter()):
            if handle is not None:
                handle.cancel()
            if waiter is not None and not waiter.done():
                waiter.set_result(round_trip)

    def stop(self, closed: Callable[[], BaseException]) -> None:
        """The connection closed: stop the keepalive, fail every waiting ping.

        Args:
            closed: makes the exception the waiting pings fail with; called
                only when a ping waits (most connections close with none).
        """
        self._stopped = True
        # Nothing calls them once stopped; they are the connection's bound
        # methods, and a reference cycle would keep it until the collector runs.
        self._flush = self._fail = _inert
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        exc: BaseException | None = None
        for waiter, _, handle in self._waiting.clear():
            if handle is not None:
                handle.cancel()
            if waiter is not None and not waiter.done():
                if exc is None:
                    exc = closed()
                waiter.set_exception(exc)
                # Nobody may be awaiting it: cancel() on a done future does
                # nothing but keep asyncio from logging the exception.
                waiter.cancel()
