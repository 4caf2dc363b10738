"""Finding 4: the request head was kept for the connection's lifetime.

A request with about 60 KiB of headers (within the limits) must cost an
idle connection its header strings plus at most 16 KiB, not the raw head,
the parser's buffers and a lookup index besides. Measured with tracemalloc
over real loopback connections, against the same server with small requests.
"""

from __future__ import annotations

import asyncio
import sys
import tracemalloc

from fastws.asyncio import ServerConnection, serve

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
BASE = (
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 13\r\n"
)
# 120 header lines of about 500 bytes: 60 KiB, under the 64 KiB head limit.
BIG = b"".join(b"X-Filler-%03d: %s\r\n" % (i, b"v" * 480) for i in range(120))
CONNECTIONS = 20


async def retained_per_connection(extra: bytes) -> tuple[float, list[ServerConnection]]:
    """Memory held per idle connection after its handshake, in bytes."""
    connections: list[ServerConnection] = []

    async def idle(ws: ServerConnection) -> None:
        connections.append(ws)
        await ws.wait_closed()

    async with serve(idle, "127.0.0.1", 0, ping_interval=None, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            writers = []
            for _ in range(CONNECTIONS):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(BASE + extra + b"\r\n")
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
                assert head.startswith(b"HTTP/1.1 101"), head
                writers.append(writer)
            for _ in range(100):
                if len(connections) == CONNECTIONS:
                    break
                await asyncio.sleep(0.01)
            held = (tracemalloc.get_traced_memory()[0] - before) / CONNECTIONS
        finally:
            tracemalloc.stop()
        # The request stays whole for the application.
        kept = list(connections)
        for writer in writers:
            writer.close()
    return held, kept


async def test_a_large_request_costs_its_headers_and_little_more() -> None:
    await retained_per_connection(b"")  # allocates what a thread keeps once (the read buffer)
    small, _ = await retained_per_connection(b"")
    large, connections = await retained_per_connection(BIG)
    headers = connections[0].request.headers
    assert len(headers) == 125 and headers["x-filler-007"] == "v" * 480
    # What the header strings themselves take (names and values).
    strings = sum(sys.getsizeof(name) + sys.getsizeof(value) for name, value in headers.raw_items())
    assert large - small <= strings + 16 * 1024, (large - small, strings)
