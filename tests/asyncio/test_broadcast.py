"""``fastws.broadcast`` and server topics, over loopback with real clients.

Clients are fastws's and websockets' (which decompress with their own zlib
code), so a frame encoded once for many connections is checked by peers that
did not produce it.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import tracemalloc
from typing import Any

import pytest
import websockets

import fastws
from fastws.asyncio import ServerConnection, broadcast, connect, serve
from fastws.asyncio import fanout as broadcast_module
from fastws.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from fastws.server import ServerProtocol

NO_CONTEXT = ServerPerMessageDeflateFactory(server_no_context_takeover=True)
TEXT = "a compressible message, " * 200  # 4.8 KB


async def open_clients(port: int, count: int, **kwargs: Any) -> list[Any]:
    return [await connect(f"ws://127.0.0.1:{port}/", ping_interval=None, **kwargs) for _ in range(count)]


class Collector:
    """A server that keeps its connections for the test to broadcast to."""

    def __init__(self) -> None:
        self.connections: list[ServerConnection] = []

    async def handler(self, ws: ServerConnection) -> None:
        self.connections.append(ws)
        await ws.wait_closed()

    async def wait_for(self, count: int) -> None:
        for _ in range(500):
            if len(self.connections) >= count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"only {len(self.connections)} of {count} connections arrived")


class TestBroadcast:
    async def test_every_open_connection_gets_text_and_binary(self, port_of: Any) -> None:
        collector = Collector()
        async with serve(collector.handler, "127.0.0.1", 0, compression=None) as server:
            clients = await open_clients(port_of(server), 5)
            await collector.wait_for(5)
            result = broadcast(collector.connections, "hello")
            assert result == fastws.BroadcastResult(sent=5, skipped=0, closed=0)
            assert broadcast(collector.connections, b"\x00\xff").sent == 5
            for client in clients:
                assert await asyncio.wait_for(client.recv(), 5) == "hello"
                assert await asyncio.wait_for(client.recv(), 5) == b"\x00\xff"
            # A closed connection is skipped.
            await clients[0].close()
            await asyncio.wait_for(collector.connections[0].wait_closed(), 5)
            assert broadcast(collector.connections, "again") == fastws.BroadcastResult(4, 1, 0)
            for client in clients[1:]:
                assert await asyncio.wait_for(client.recv(), 5) == "again"
                await client.close()

    async def test_one_compression_for_connections_without_context_takeover(
        self, port_of: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        calls = []
        original = broadcast_module.compress_message

        def counting(shared: Any, payload: bytes) -> Any:
            calls.append(len(payload))
            return original(shared, payload)

        monkeypatch.setattr(broadcast_module, "compress_message", counting)
        collector = Collector()
        async with serve(collector.handler, "127.0.0.1", 0, compression=NO_CONTEXT) as server:
            port = port_of(server)
            clients = await open_clients(port, 3)
            peers = [await websockets.connect(f"ws://127.0.0.1:{port}/") for _ in range(3)]
            await collector.wait_for(6)
            for ws in collector.connections:
                assert ws.protocol.extensions[0].local_no_context_takeover
            for _ in range(3):
                assert broadcast(collector.connections, TEXT).sent == 6
            assert calls == [len(TEXT)] * 3  # once per message, not per connection
            for client in clients:
                for _ in range(3):
                    assert await asyncio.wait_for(client.recv(), 5) == TEXT
            for peer in peers:
                for _ in range(3):
                    assert await asyncio.wait_for(peer.recv(), 5) == TEXT
                await peer.close()
            for client in clients:
                await client.close()

    async def test_context_takeover_compresses_per_connection(
        self, port_of: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        calls = []
        monkeypatch.setattr(broadcast_module, "compress_message", lambda *a: calls.append(a))
        collector = Collector()
        async with serve(collector.handler, "127.0.0.1", 0) as server:  # the default: takeover
            clients = await open_clients(port_of(server), 2)
            await collector.wait_for(2)
            for _ in range(3):  # each message against the connection's history
                assert broadcast(collector.connections, TEXT).sent == 2
            assert calls == []
            for client in clients:
                assert [await asyncio.wait_for(client.recv(), 5) for _ in range(3)] == [TEXT] * 3
                await client.close()

    async def test_client_connections_mask_their_own_frames(self, port_of: Any, echo: Any) -> None:
        async with serve(echo, "127.0.0.1", 0) as server:
            clients = await open_clients(port_of(server), 3)
            assert broadcast(clients, "to the server").sent == 3
            for client in clients:
                assert await asyncio.wait_for(client.recv(), 5) == "to the server"
                await client.close()

    async def test_a_connection_sending_fragments_is_skipped(self, port_of: Any) -> None:
        collector = Collector()
        async with serve(collector.handler, "127.0.0.1", 0) as server:
            client = (await open_clients(port_of(server), 1))[0]
            await collector.wait_for(1)
            ws = collector.connections[0]
            gate = asyncio.Event()

            async def fragments() -> Any:
                yield "part one, "
                await gate.wait()
                yield "part two"

            sending = asyncio.ensure_future(ws.send(fragments()))
            await asyncio.sleep(0.05)
            assert broadcast([ws], "not now") == fastws.BroadcastResult(0, 1, 0)
            gate.set()
            await sending
            assert await asyncio.wait_for(client.recv(), 5) == "part one, part two"
            await client.close()

    async def test_slow_readers_are_skipped_or_closed(self, port_of: Any) -> None:
        collector = Collector()
        write_limit = 65536
        message = b"x" * 32768
        async with serve(
            collector.handler, "127.0.0.1", 0, compression=None, write_limit=write_limit
        ) as server:
            # A peer that never reads.
            _reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
            writer.write(
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            await collector.wait_for(1)
            ws = collector.connections[0]
            skipped = 0
            for _ in range(2000):  # 64 MB offered: far more than the buffers hold
                result = broadcast([ws], message)
                skipped += result.skipped
                assert ws.transport.get_write_buffer_size() <= write_limit + len(message) + 16
                if skipped >= 10:
                    break
                await asyncio.sleep(0)
            assert skipped >= 10
            # Past max_backlog it is closed with 1013 instead.
            assert broadcast([ws], message, max_backlog=1024) == fastws.BroadcastResult(0, 0, 1)
            assert ws.protocol.close_sent == (1013, "too slow: try again later")
            writer.close()

    async def test_argument_checks(self) -> None:
        with pytest.raises(TypeError):
            broadcast([], 42)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            broadcast([], "x", max_backlog=-1)
        assert broadcast([], "nobody") == fastws.BroadcastResult(0, 0, 0)


class TestTopics:
    async def test_publish_reaches_subscribers_only(self, port_of: Any) -> None:
        async def handler(ws: ServerConnection) -> None:
            async for message in ws:
                command, _, topic = str(message).partition(" ")
                if command == "sub":
                    ws.subscribe(topic)
                elif command == "unsub":
                    ws.unsubscribe(topic)
                await ws.send(f"ok {sorted(ws.topics)}")

        async with serve(handler, "127.0.0.1", 0) as server:
            a, b = await open_clients(port_of(server), 2)
            await a.send("sub news")
            assert await a.recv() == "ok ['news']"
            await b.send("sub sport")
            assert await b.recv() == "ok ['sport']"
            assert server.publish("news", "extra!").sent == 1
            assert server.publish("weather", "rain").sent == 0
            assert await asyncio.wait_for(a.recv(), 5) == "extra!"
            await a.send("unsub news")
            assert await a.recv() == "ok []"
            assert server.publish("news", "gone").sent == 0
            assert len(server.topics) == 1
            await b.close()
            for _ in range(100):
                if not len(server.topics):
                    break
                await asyncio.sleep(0.01)
            assert len(server.topics) == 0  # closing left the topic
            await a.close()

    async def test_no_leak_over_loopback(self, port_of: Any) -> None:
        async def handler(ws: ServerConnection) -> None:
            ws.subscribe("room")
            ws.subscribe(f"own-{id(ws)}")
            await ws.wait_closed()

        async with serve(handler, "127.0.0.1", 0, compression=None) as server:
            port = port_of(server)

            async def cycles(count: int) -> None:
                for _ in range(count):
                    ws = await connect(f"ws://127.0.0.1:{port}/", ping_interval=None, compression=None)
                    await ws.close()
                for _ in range(200):
                    if not server.connections:
                        break
                    await asyncio.sleep(0.01)

            await cycles(200)  # warm-up: caches, free lists
            gc.collect()
            tracemalloc.start()
            try:
                # The first batch may still grow caches and hash tables (by
                # steps, more on some Python versions); a leak grows with
                # every cycle, so the second batch shows it.
                await cycles(1000)
                gc.collect()
                before = tracemalloc.get_traced_memory()[0]
                await cycles(2000)
                gc.collect()
                grown = tracemalloc.get_traced_memory()[0] - before
            finally:
                tracemalloc.stop()
            assert len(server.topics) == 0 and not server.topics.subscribers("room")
            # Under 16 bytes per connection: a topic entry or a set kept per
            # connection would take 100 bytes or more each.
            assert grown < 2000 * 16, grown

    async def test_no_leak_in_memory(self) -> None:
        server_state = fastws.Server(lambda ws: None)  # type: ignore[arg-type,return-value]

        class Transport(asyncio.Transport):
            def get_extra_info(self, name: str, default: Any = None) -> Any:
                return default

            def set_write_buffer_limits(self, high: Any = None, low: Any = None) -> None:
                pass

        def cycle() -> None:
            ws = ServerConnection(ServerProtocol(), server_state, ping_interval=None)
            ws.connection_made(Transport())
            ws.subscribe("room")
            ws.subscribe("other")
            ws.connection_lost(None)

        for _ in range(1000):
            cycle()
        await asyncio.sleep(0)
        gc.collect()
        # Memory blocks the allocator holds (tracemalloc would slow 100,000
        # cycles down threefold; the loopback test above uses it).
        before = sys.getallocatedblocks()
        for i in range(100_000):
            cycle()
            if i % 1000 == 0:
                # Let the loop run, as it does between real connections: it
                # purges the cancelled open-timeout timers.
                await asyncio.sleep(0)
        await asyncio.sleep(0)
        gc.collect()
        grown = sys.getallocatedblocks() - before
        assert len(server_state.topics) == 0
        # A leak of one object per cycle would be 100,000 blocks.
        assert grown < 10_000, grown
