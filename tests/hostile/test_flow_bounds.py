"""Work and memory per read, keepalive while paused, fairness: hostile peers with compression on.

Regression tests for what an attacker could do to a default ``fastws.serve``
or ``fastws.connect`` (permessage-deflate negotiated): queue hundreds of MiB
in one read with messages that inflate 1000x, stay connected forever once
reading paused, and hold the event loop for a second per read. Each peer is
a raw socket speaking bytes built here with zlib (RFC 7692 section 7.2.1),
not with the code under test. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import statistics
import time
import tracemalloc
import zlib
from typing import Any

import pytest

from fastws.asyncio import ServerConnection, connect, serve
from fastws.asyncio.connection import HOLD_LIMIT, WORK_PER_TURN
from fastws.codec import encode_frame

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MIB = 2**20
#: What the default limits allow one connection to hold: the queue's bytes,
#: one message past them, the input waiting in the protocol (and one read).
DEFAULT_QUEUE_BYTES = 4 * MIB
DEFAULT_MAX_SIZE = MIB


def deflate(data: bytes) -> bytes:
    """One message compressed on its own (no context takeover), trailer removed."""
    compressor = zlib.compressobj(wbits=-15)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4]


#: A message of 1 MiB of zeros: about 1 KiB on the wire.
BOMBLET = deflate(bytes(MIB))


def compressed_frames(count: int, *, mask: bool) -> bytes:
    key = b"\x11\x22\x33\x44" if mask else None
    return encode_frame(2, BOMBLET, mask=key, rsv1=True) * count


async def open_deflate_ws(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw client that negotiates permessage-deflate."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16))
    writer.write(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101"), head
    assert b"permessage-deflate" in head.lower()
    return reader, writer


async def wait_for(condition: Any, limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def settle(probe: Any, limit: float = 5.0) -> None:
    """Wait until ``probe()`` stops changing for 0.2 s."""
    last, still = object(), 0
    deadline = time.monotonic() + limit
    while still < 4 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        now = probe()
        still = still + 1 if now == last else 0
        last = now


class TestQueueBoundedPerRead:
    """Finding 1: the receive queue was bounded only after a whole read."""

    async def test_server_holds_the_limits_not_what_one_read_inflates_to(self) -> None:
        connections: list[ServerConnection] = []

        async def never_reads(ws: ServerConnection) -> None:
            connections.append(ws)
            await ws.wait_closed()

        async with serve(never_reads, "127.0.0.1", 0, ping_interval=None) as server:
            port = server.sockets[0].getsockname()[1]
            _reader, writer = await open_deflate_ws(port)
            tracemalloc.start()
            try:
                before, _ = tracemalloc.get_traced_memory()
                # 300 messages of 1 MiB in about 300 KiB: one or two reads.
                writer.write(compressed_frames(300, mask=True))
                await wait_for(lambda: connections and connections[0]._input_waiting)
                ws = connections[0]
                await settle(lambda: ws.protocol.held_bytes)
                grown = tracemalloc.get_traced_memory()[0] - before
            finally:
                tracemalloc.stop()
            queued = sum(map(len, ws._queue))
            assert len(ws._queue) <= 128
            assert queued <= DEFAULT_QUEUE_BYTES + DEFAULT_MAX_SIZE
            assert ws.protocol.held_bytes <= HOLD_LIMIT + 4096
            # Before: 60-250 MiB for such a connection.
            assert grown <= DEFAULT_QUEUE_BYTES + DEFAULT_MAX_SIZE + MIB, grown
            writer.close()

    async def test_client_holds_the_limits_against_a_malicious_server(self) -> None:
        async def malicious(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            key = next(
                line.split(b":", 1)[1].strip()
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")
            )
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
            writer.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: "
                + accept
                + b"\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
                + compressed_frames(300, mask=False)
            )
            await writer.drain()
            await asyncio.sleep(10)

        raw_server = await asyncio.start_server(malicious, "127.0.0.1", 0)
        port = raw_server.sockets[0].getsockname()[1]
        try:
            tracemalloc.start()
            try:
                before, _ = tracemalloc.get_traced_memory()
                ws = await connect(f"ws://127.0.0.1:{port}/", ping_interval=None)
                await wait_for(lambda: ws._input_waiting)
                await settle(lambda: ws.protocol.held_bytes)
                grown = tracemalloc.get_traced_memory()[0] - before
            finally:
                tracemalloc.stop()
            assert len(ws._queue) <= 128
            assert sum(map(len, ws._queue)) <= DEFAULT_QUEUE_BYTES + DEFAULT_MAX_SIZE
            assert grown <= DEFAULT_QUEUE_BYTES + DEFAULT_MAX_SIZE + MIB, grown
            # Nothing was lost: every message is there, in order, once taken.
            for _ in range(300):
                assert await asyncio.wait_for(ws.recv(), 5) == bytes(MIB)
            ws.transport.abort()
        finally:
            raw_server.close()


class TestKeepaliveWhilePaused:
    """Finding 2: keepalive stopped while reading was paused."""

    async def test_silent_peer_with_a_full_queue_is_dropped(self) -> None:
        async def push_only(ws: ServerConnection) -> None:
            await ws.wait_closed()

        options = {"ping_interval": 0.5, "ping_timeout": 0.5, "close_timeout": 1.0}
        async with serve(push_only, "127.0.0.1", 0, **options) as server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await open_deflate_ws(port)
            # Fill the queue and the input waiting behind it, then go silent:
            # no pong, nothing read.
            writer.write(compressed_frames(600, mask=True))
            start = time.monotonic()
            await wait_for(lambda: not server.connections, limit=8.0)
            # Dropped by the keepalive (interval + timeout, then the close
            # timeout, since it does not answer the close frame either), not
            # kept open by its full queue.
            assert time.monotonic() - start < 5.0
            data = await asyncio.wait_for(reader.read(), 5)
            # The frames it sent us: pings, then the close frame with 1011.
            close = data.rindex(b"\x88")
            assert data[close + 2 : close + 4] == (1011).to_bytes(2, "big")
            writer.close()


class TestFairness:
    """Finding 3: one connection's inflate work held the event loop for a second per read."""

    @pytest.mark.parametrize("style", ["on_message", "async for"])
    async def test_an_attacker_cannot_stall_the_loop(self, style: str) -> None:
        async def echo(ws: ServerConnection) -> None:
            if style == "on_message":
                ws.on_message = ws.send_nowait
                await ws.wait_closed()
            else:
                async for message in ws:
                    await ws.send(message)

        # 600 messages of 256 KiB of zeros, about 150 KiB on the wire: one
        # read holds 150 MiB of inflate work, and the echo as much deflate.
        message = deflate(bytes(256 * 1024))
        attack = encode_frame(2, message, mask=b"\x11\x22\x33\x44", rsv1=True) * 600
        async with serve(echo, "127.0.0.1", 0, ping_interval=None) as server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await open_deflate_ws(port)
            echoed = 0

            async def drain_echoes() -> None:
                nonlocal echoed
                while data := await reader.read(65536):
                    echoed += data.count(b"\xc2")  # a rough count of echoed frames

            draining = asyncio.ensure_future(drain_echoes())
            stalls: list[float] = []
            writer.write(attack)
            deadline = time.monotonic() + 20
            # How late the loop runs a 1 ms timer while the attack goes on.
            while time.monotonic() < deadline and len(stalls) < 2000:
                start = time.perf_counter()
                await asyncio.sleep(0.001)
                stalls.append(time.perf_counter() - start)
                if len(server.connections) == 1:
                    ws = next(iter(server.connections))
                    if (
                        not ws._input_waiting
                        and not ws._queue
                        and not ws.protocol.paused
                        and len(stalls) > 50
                    ):
                        break
            draining.cancel()
            writer.close()
        # One turn of the loop inflates (and deflates) about WORK_PER_TURN
        # bytes, a few milliseconds; before, one read took most of a second.
        assert WORK_PER_TURN <= 2 * MIB
        assert statistics.median(stalls) < 0.05, statistics.median(stalls)
        assert max(stalls) < 0.25, max(stalls)
