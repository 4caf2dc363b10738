"""Topics across processes through a real Redis (``fastws.pubsub.RedisPubSub``).

Two servers in this process, each with its own ``RedisPubSub`` (its own
Redis connections and process id), stand for two workers: what one
publishes must reach the other's subscribers once, through a redis-server
the fixture starts on a free loopback port. The payload format is checked
byte for byte against what redis-py's own client publishes and receives.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from fastws.asyncio import ServerConnection, connect, serve
from fastws.pubsub import LocalPubSub, RedisPubSub, decode_payload, encode_payload


class TestPayload:
    def test_format(self) -> None:
        assert encode_payload("héllo") == b"\x01h\xc3\xa9llo"
        assert encode_payload(b"\x00\xff") == b"\x02\x00\xff"
        origin = bytes(range(16))
        assert encode_payload("x", origin) == b"\x81" + origin + b"x"
        assert decode_payload(b"\x01h\xc3\xa9llo") == ("héllo", None)
        assert decode_payload(b"\x82" + origin + b"\x00") == (b"\x00", origin)

    @pytest.mark.parametrize("payload", [b"", b"\x03x", b"\x81short", b"\x01\xff"])
    def test_invalid(self, payload: bytes) -> None:
        with pytest.raises(ValueError):
            decode_payload(payload)
        with pytest.raises(ValueError):
            encode_payload("x", b"too short")


async def subscriber_handler(ws: ServerConnection) -> None:
    """Subscribe to the topic named by the path, then publish what is received."""
    ws.subscribe(ws.request.path.strip("/") if ws.request else "")
    async for message in ws:
        ws.server.publish(ws.request.path.strip("/"), message)  # type: ignore[union-attr]


async def wait_until(condition: Any, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def subscribed(pubsub: RedisPubSub, url: str, topic: str) -> None:
    """Wait until Redis has the channel subscribed (PUBSUB NUMSUB)."""
    import redis.asyncio as redis_asyncio

    client = redis_asyncio.from_url(url)
    try:
        channel = pubsub.channel_prefix + topic
        for _ in range(500):
            ((_, count),) = await client.pubsub_numsub(channel)
            if count:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"{channel} never subscribed")
    finally:
        await client.aclose()


def link_tasks() -> dict[str, int]:
    """How many RedisPubSub reader and writer tasks are running, by name."""
    counts: dict[str, int] = {}
    for task in asyncio.all_tasks():
        name = getattr(task.get_coro(), "__qualname__", "")
        if name.startswith("RedisPubSub._") and not task.done():
            key = name.rsplit(".", 1)[1]
            if key in ("_read", "_write"):
                counts[key] = counts.get(key, 0) + 1
    return counts


class TestRedis:
    async def test_publish_on_one_worker_reaches_the_other_once(
        self, redis_server: Any, port_of: Any
    ) -> None:
        a_pubsub, b_pubsub = RedisPubSub(redis_server.url), RedisPubSub(redis_server.url)
        async with (
            serve(subscriber_handler, "127.0.0.1", 0, pubsub=a_pubsub) as a,
            serve(subscriber_handler, "127.0.0.1", 0, pubsub=b_pubsub) as b,
        ):
            on_a = await connect(f"ws://127.0.0.1:{port_of(a)}/chat", ping_interval=None)
            on_b = await connect(f"ws://127.0.0.1:{port_of(b)}/chat", ping_interval=None)
            await subscribed(a_pubsub, redis_server.url, "chat")
            await wait_until(lambda: b_pubsub.connected and a_pubsub.connected)
            await subscribed(b_pubsub, redis_server.url, "chat")
            await on_a.send("from A")
            assert await asyncio.wait_for(on_a.recv(), 5) == "from A"  # locally, once
            assert await asyncio.wait_for(on_b.recv(), 5) == "from A"  # through Redis
            await on_b.send(b"\x00binary from B")
            assert await asyncio.wait_for(on_a.recv(), 5) == b"\x00binary from B"
            assert await asyncio.wait_for(on_b.recv(), 5) == b"\x00binary from B"
            # No double delivery: nothing else arrives.
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(on_a.recv(), 0.3)
            assert a_pubsub.stats.published >= 1 and b_pubsub.stats.received >= 1
            await on_a.close()
            await on_b.close()

    async def test_channels_follow_local_subscribers(self, redis_server: Any, port_of: Any) -> None:
        import redis.asyncio as redis_asyncio

        pubsub = RedisPubSub(redis_server.url, channel_prefix="app:")
        client = redis_asyncio.from_url(redis_server.url)
        try:
            async with serve(subscriber_handler, "127.0.0.1", 0, pubsub=pubsub) as server:
                ws = await connect(f"ws://127.0.0.1:{port_of(server)}/news", ping_interval=None)
                await subscribed(pubsub, redis_server.url, "news")
                # Other Redis clients publish with the documented tag byte.
                await client.publish("app:news", b"\x01from redis-cli")
                assert await asyncio.wait_for(ws.recv(), 5) == "from redis-cli"
                await ws.close()

                async def unsubscribed() -> bool:
                    ((_, count),) = await client.pubsub_numsub("app:news")
                    return bool(count == 0)

                for _ in range(500):
                    if await unsubscribed():
                        break
                    await asyncio.sleep(0.02)
                assert await unsubscribed()  # the last local subscriber left
        finally:
            await client.aclose()

    async def test_redis_restart(self, redis_server: Any, port_of: Any) -> None:
        a_pubsub = RedisPubSub(redis_server.url, retry_min=0.05, retry_max=0.2)
        b_pubsub = RedisPubSub(redis_server.url, retry_min=0.05, retry_max=0.2)
        async with (
            serve(subscriber_handler, "127.0.0.1", 0, pubsub=a_pubsub) as a,
            serve(subscriber_handler, "127.0.0.1", 0, pubsub=b_pubsub) as b,
        ):
            on_a = await connect(f"ws://127.0.0.1:{port_of(a)}/t", ping_interval=None)
            on_b = await connect(f"ws://127.0.0.1:{port_of(b)}/t", ping_interval=None)
            await subscribed(b_pubsub, redis_server.url, "t")
            await wait_until(lambda: a_pubsub.connected)
            redis_server.stop()
            await wait_until(lambda: not a_pubsub.connected)
            # Local delivery goes on; what could not reach Redis is counted.
            for i in range(3):
                await on_a.send(f"during {i}")
                assert await asyncio.wait_for(on_a.recv(), 5) == f"during {i}"
            assert a_pubsub.stats.undelivered == 3
            redis_server.start()
            await wait_until(lambda: a_pubsub.connected and b_pubsub.connected)
            await subscribed(b_pubsub, redis_server.url, "t")
            assert a_pubsub.stats.reconnects >= 1
            await on_a.send("after")
            assert await asyncio.wait_for(on_a.recv(), 5) == "after"
            assert await asyncio.wait_for(on_b.recv(), 10) == "after"
            # The dead links' readers and writers ended with them: one of each per live link.
            assert link_tasks() == {"_read": 2, "_write": 2}
            await on_a.close()
            await on_b.close()
        assert link_tasks() == {}

    async def test_a_slow_subscriber_does_not_grow_the_publisher(
        self, redis_server: Any, port_of: Any
    ) -> None:
        pubsub = RedisPubSub(redis_server.url)
        write_limit = 65536
        async with serve(
            subscriber_handler, "127.0.0.1", 0, pubsub=pubsub, compression=None, write_limit=write_limit
        ) as server:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
            writer.write(
                b"GET /feed HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            await wait_until(lambda: len(server.topics.subscribers("feed")) == 1)
            (ws,) = server.topics.subscribers("feed")
            skipped = 0
            for _ in range(2000):
                skipped += server.publish("feed", b"y" * 32768).skipped
                assert ws.transport.get_write_buffer_size() <= write_limit + 32768 + 16
                if skipped >= 5:
                    break
                await asyncio.sleep(0)
            assert skipped >= 5
            writer.close()


async def test_local_pubsub_is_the_default(port_of: Any) -> None:
    async with serve(subscriber_handler, "127.0.0.1", 0) as server:
        assert isinstance(server.topics.pubsub, LocalPubSub)
        ws = await connect(f"ws://127.0.0.1:{port_of(server)}/x", ping_interval=None)
        await ws.send("echo through the topic")
        assert await asyncio.wait_for(ws.recv(), 5) == "echo through the topic"
        await ws.close()
