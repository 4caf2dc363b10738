"""Topics on a server: who subscribed to what, and publishing to them.

A :class:`Topics` registry belongs to one :class:`~fastws.asyncio.server.Server`.
``ws.subscribe(topic)`` adds a connection, ``ws.unsubscribe(topic)`` removes
it, and closing removes it from every topic (nothing is kept for a closed
connection). ``server.publish(topic, message)`` delivers to the subscribers
of this process through :func:`~fastws.asyncio.fanout.broadcast` (one
encoding, one compression per group of connections) and hands the message to
the server's :class:`~fastws.pubsub.PubSub` backend for the other processes;
what the backend brings from them is delivered the same way. The backend
subscribes to a topic only while this process has subscribers to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..pubsub import LocalPubSub, PubSub
from .fanout import BroadcastResult, broadcast

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["Topics"]


class Topics:
    """The topics of one server and their local subscribers.

    Args:
        pubsub: the backend shared with the other processes; None: this
            process only (:class:`~fastws.pubsub.LocalPubSub`).
        max_backlog: passed to :func:`broadcast` for every publication.
    """

    def __init__(self, pubsub: PubSub | None = None, *, max_backlog: int | None = None) -> None:
        self.pubsub: PubSub = pubsub if pubsub is not None else LocalPubSub()
        self.max_backlog = max_backlog
        self._subscribers: dict[str, dict[Connection, None]] = {}

    async def start(self) -> None:
        """Start the backend: from now on other processes' messages arrive."""
        await self.pubsub.start(self._deliver)

    async def close(self) -> None:
        """Stop the backend."""
        await self.pubsub.close()

    def subscribers(self, topic: str) -> list[Connection]:
        """The connections of this process subscribed to ``topic``."""
        return list(self._subscribers.get(topic, ()))

    def __len__(self) -> int:
        """The number of topics with subscribers in this process."""
        return len(self._subscribers)

    def subscribe(self, connection: Connection, topic: str) -> None:
        """Add ``connection`` to ``topic`` (nothing happens if it is there)."""
        subscribers = self._subscribers.get(topic)
        if subscribers is None:
            subscribers = self._subscribers[topic] = {}
            self.pubsub.subscribe(topic)
        subscribers[connection] = None

    def unsubscribe(self, connection: Connection, topic: str) -> None:
        """Remove ``connection`` from ``topic`` (nothing happens if it is not there)."""
        subscribers = self._subscribers.get(topic)
        if subscribers is None or subscribers.pop(connection, False) is False:
            return
        if not subscribers:
            del self._subscribers[topic]
            self.pubsub.unsubscribe(topic)

    def publish(self, topic: str, message: str | bytes) -> BroadcastResult:
        """Deliver to this process's subscribers now, and to the other processes' through the backend.

        Returns:
            What happened to this process's subscribers (see
            :class:`~fastws.asyncio.fanout.BroadcastResult`).

        Raises:
            TypeError: ``message`` is neither ``str`` nor bytes-like.
        """
        result = self._deliver(topic, message)
        self.pubsub.publish(topic, message if isinstance(message, str) else bytes(message))
        return result

    def _deliver(self, topic: str, message: str | bytes) -> BroadcastResult:
        subscribers = self._subscribers.get(topic)
        if not subscribers:
            if not isinstance(message, (str, bytes, bytearray, memoryview)):
                raise TypeError(f"message must be str or bytes-like, not {type(message).__name__}")
            return BroadcastResult(0, 0, 0)
        # A copy: a connection closed by broadcast (max_backlog) leaves the
        # topic while it runs.
        return broadcast(list(subscribers), message, max_backlog=self.max_backlog)
