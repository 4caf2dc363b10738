"""Publish/subscribe between the processes that serve one application.

``server.publish(topic, message)`` delivers to the connections of this
process at once (:func:`fastws.broadcast`), and hands the message to the
server's :class:`PubSub` backend, which carries it to the other processes
and hosts; each of them delivers it to its own subscribers. Two backends:

* :class:`LocalPubSub` (the default): nothing leaves the process.
* :class:`RedisPubSub`: Redis pub/sub (``pip install 'fastws[redis]'``, on
  redis-py's asyncio client). A process subscribes to a topic's Redis channel
  only while it has local subscribers to that topic, and ignores its own
  messages coming back (no double delivery). A lost Redis connection is
  retried with exponential back-off and logged; meanwhile local delivery
  goes on, and what could not be handed to Redis is counted
  (:attr:`PubSubStats.undelivered`) and reported when the link is back,
  never claimed as delivered.

The Redis payload format, for other Redis clients that publish to fastws
topics (channel ``channel_prefix + topic``): one tag byte, then the message.
Tag ``0x01``: UTF-8 text; ``0x02``: binary. fastws processes publish with
the tag's top bit set (``0x81``, ``0x82``) and 16 bytes of process id after
it, so that each can recognise its own messages.
"""

from __future__ import annotations

import abc
import asyncio
import collections
import dataclasses
import logging
import os
import random
from collections.abc import Callable, Coroutine
from typing import Any

from .escaping import escape

__all__ = ["LocalPubSub", "PubSub", "PubSubStats", "RedisPubSub", "decode_payload", "encode_payload"]

logger = logging.getLogger("fastws.pubsub")

Deliver = Callable[[str, "str | bytes"], object]

_TEXT, _BINARY, _ORIGIN = 0x01, 0x02, 0x80
_ID_SIZE = 16


def encode_payload(message: str | bytes, origin: bytes | None = None) -> bytes:
    """The Redis payload of a message (see the module doc).

    Args:
        message: ``str`` (text) or bytes-like (binary).
        origin: the publishing process's 16-byte id, or None.

    Raises:
        ValueError: ``origin`` is not 16 bytes.
    """
    if isinstance(message, str):
        tag, data = _TEXT, message.encode()
    else:
        tag, data = _BINARY, bytes(message)
    if origin is None:
        return bytes((tag,)) + data
    if len(origin) != _ID_SIZE:
        raise ValueError("origin must be 16 bytes")
    return bytes((tag | _ORIGIN,)) + origin + data


def decode_payload(payload: bytes) -> tuple[str | bytes, bytes | None]:
    """The message and the origin (or None) of a Redis payload.

    Raises:
        ValueError: the payload is empty, has an unknown tag, is too short
            for its origin, or carries text that is not UTF-8.
    """
    if not payload:
        raise ValueError("empty payload")
    tag = payload[0]
    origin = None
    start = 1
    if tag & _ORIGIN:
        if len(payload) < 1 + _ID_SIZE:
            raise ValueError("payload too short for its origin")
        origin = payload[1 : 1 + _ID_SIZE]
        start += _ID_SIZE
    kind = tag & ~_ORIGIN
    if kind == _TEXT:
        return payload[start:].decode(), origin
    if kind == _BINARY:
        return payload[start:], origin
    raise ValueError(f"unknown tag 0x{tag:02x}")


@dataclasses.dataclass
class PubSubStats:
    """What a backend did since it started.

    Attributes:
        published: messages handed to the broker.
        undelivered: messages that could not be handed to the broker (link
            down, or its outbox full): the other processes did not get them.
        received: messages received from other processes and delivered here.
        reconnects: times the link to the broker was established again.
    """

    published: int = 0
    undelivered: int = 0
    received: int = 0
    reconnects: int = 0


class PubSub(abc.ABC):
    """A broker between processes: the interface ``fastws.serve(pubsub=...)`` takes.

    The server calls :meth:`start` once, :meth:`subscribe` when a topic gets
    its first local subscriber and :meth:`unsubscribe` when it loses its
    last, :meth:`publish` for each ``server.publish()`` (after delivering it
    locally), and :meth:`close` when it closes. The backend calls
    ``deliver(topic, message)`` for each message another process published.
    None of the methods but :meth:`start` and :meth:`close` may block.
    """

    def __init__(self) -> None:
        self.stats = PubSubStats()

    @abc.abstractmethod
    async def start(self, deliver: Deliver) -> None:
        """Start; ``deliver(topic, message)`` gets other processes' messages."""

    @abc.abstractmethod
    def subscribe(self, topic: str) -> None:
        """This process has subscribers to ``topic`` now."""

    @abc.abstractmethod
    def unsubscribe(self, topic: str) -> None:
        """This process has no subscribers to ``topic`` any more."""

    @abc.abstractmethod
    def publish(self, topic: str, message: str | bytes) -> None:
        """Hand a message for the other processes to the broker, without waiting."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop; nothing is delivered afterwards."""


class LocalPubSub(PubSub):
    """No broker: topics reach the connections of this process only (the default)."""

    async def start(self, deliver: Deliver) -> None:
        pass

    def subscribe(self, topic: str) -> None:
        pass

    def unsubscribe(self, topic: str) -> None:
        pass

    def publish(self, topic: str, message: str | bytes) -> None:
        pass

    async def close(self) -> None:
        pass


class RedisPubSub(PubSub):
    """Topics shared by every process and host that uses the same Redis.

    Args:
        url: the Redis URL, e.g. ``redis://127.0.0.1:6379/0``.
        channel_prefix: prepended to a topic to name its Redis channel.
        max_outbox: messages waiting to be handed to Redis at most; past it
            (Redis slower than the application publishes) they are counted
            as undelivered.
        retry_min: first delay, in seconds, before reconnecting to Redis.
        retry_max: longest delay between two attempts.

    Raises:
        ImportError: redis-py is not installed (``pip install 'fastws[redis]'``).
    """

    def __init__(
        self,
        url: str,
        *,
        channel_prefix: str = "fastws:",
        max_outbox: int = 10_000,
        retry_min: float = 0.1,
        retry_max: float = 10.0,
    ) -> None:
        import redis.asyncio  # noqa: F401 - fail early if missing

        super().__init__()
        self.url = url
        self.channel_prefix = channel_prefix
        self.max_outbox = max_outbox
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.origin = os.urandom(_ID_SIZE)
        self.connected = False
        self._deliver: Deliver | None = None
        self._topics: set[str] = set()
        # (un)subscriptions to send, and messages to publish, in order.
        self._commands: collections.deque[tuple[str, str]] = collections.deque()
        self._outbox: collections.deque[tuple[str, bytes]] = collections.deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lost_since_report = 0

    def _channel(self, topic: str) -> str:
        return self.channel_prefix + topic

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._task = asyncio.get_running_loop().create_task(self._run())

    def subscribe(self, topic: str) -> None:
        self._topics.add(topic)
        self._commands.append(("subscribe", topic))
        self._wake.set()

    def unsubscribe(self, topic: str) -> None:
        self._topics.discard(topic)
        self._commands.append(("unsubscribe", topic))
        self._wake.set()

    def publish(self, topic: str, message: str | bytes) -> None:
        if not self.connected or len(self._outbox) >= self.max_outbox:
            self.stats.undelivered += 1
            self._lost_since_report += 1
            return
        self._outbox.append((self._channel(topic), encode_payload(message, self.origin)))
        self._wake.set()

    async def close(self) -> None:
        task = self._task
        self._task = None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    # -- the link to Redis -----------------------------------------------------------

    async def _run(self) -> None:
        import redis.asyncio as redis_asyncio
        from redis.exceptions import RedisError

        delay = self.retry_min
        first = True
        while True:
            client = redis_asyncio.from_url(self.url)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                # Subscribe to what has local subscribers now; what came
                # before the link was up is in that set already.
                self._commands.clear()
                channels = [self._channel(topic) for topic in self._topics]
                await client.ping()
                if channels:
                    await pubsub.subscribe(*channels)
                self.connected = True
                if not first:
                    self.stats.reconnects += 1
                    logger.warning("Redis pub/sub link is back (%s)", escape(self.url))
                self._report_lost()
                first = False
                delay = self.retry_min
                await _first_failure(self._read(pubsub), self._write(client, pubsub))
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                if self.connected or first:
                    logger.warning(
                        "Redis pub/sub link lost (%s): %s; retrying", escape(self.url), escape(str(exc))
                    )
                self.connected = False
                first = False
            finally:
                self.connected = False
                await _quietly(pubsub.aclose())
                await _quietly(client.aclose())
            # Exponential back-off with jitter, so that workers do not all
            # reconnect at once.
            await asyncio.sleep(delay * (0.5 + random.random() / 2))
            delay = min(delay * 2, self.retry_max)

    async def _read(self, pubsub: Any) -> None:
        prefix = len(self.channel_prefix)
        while True:
            if not pubsub.subscribed:
                await asyncio.sleep(0.05)  # nothing to read until the writer subscribes
                continue
            message = await pubsub.get_message(timeout=1.0)
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            topic = (channel.decode() if isinstance(channel, bytes) else channel)[prefix:]
            try:
                data, origin = decode_payload(message["data"])
            except (ValueError, UnicodeDecodeError) as exc:
                logger.warning("invalid message on %s: %s", escape(topic), escape(str(exc)))
                continue
            if origin == self.origin:
                continue  # our own, delivered locally already
            self.stats.received += 1
            if self._deliver is not None:
                self._deliver(topic, data)

    async def _write(self, client: Any, pubsub: Any) -> None:
        commands, outbox = self._commands, self._outbox
        while True:
            while commands:
                command, topic = commands.popleft()
                if command == "subscribe" and topic in self._topics:
                    await pubsub.subscribe(self._channel(topic))
                elif command == "unsubscribe" and topic not in self._topics:
                    await pubsub.unsubscribe(self._channel(topic))
            while outbox:
                item = outbox[0]
                await client.publish(*item)
                # Kept until Redis took it: a lost link counts it as undelivered.
                if outbox and outbox[0] is item:
                    outbox.popleft()
                self.stats.published += 1
            self._wake.clear()
            if not commands and not outbox:
                await self._wake.wait()

    def _report_lost(self) -> None:
        lost = self._lost_since_report + len(self._outbox)
        self.stats.undelivered += len(self._outbox)
        self._outbox.clear()
        self._lost_since_report = 0
        if lost:
            logger.warning(
                "%d message(s) published while Redis was unreachable were not delivered to other processes",
                lost,
            )


# _cancel_all: rounds of cancellation before a task is reported as stuck (5 s).
_CANCEL_ROUNDS = 100
_CANCEL_ROUND_S = 0.05


async def _first_failure(*coroutines: Coroutine[Any, Any, None]) -> None:
    """Run the coroutines as tasks until one fails; cancel and await the others.

    (``asyncio.gather`` would leave the others running after a failure: a
    reader and a writer of a dead link outliving it, beside the next link's.)
    """
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        await _cancel_all(tasks)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


async def _cancel_all(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the tasks and wait until each has ended.

    A task is cancelled again while it runs on: redis-py absorbs a
    cancellation that arrives inside some of its calls (its pub/sub
    teardown expects a canceller that repeats itself, as anyio's does).
    """
    pending = {task for task in tasks if not task.done()}
    for _ in range(_CANCEL_ROUNDS):
        if not pending:
            break
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=_CANCEL_ROUND_S)
    if pending:
        logger.error("%d Redis link task(s) did not end when cancelled", len(pending))
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: the first failure is raised by the caller


async def _quietly(closing: Any) -> None:
    try:
        await closing
    except Exception:
        logger.debug("error while closing the Redis link", exc_info=True)
