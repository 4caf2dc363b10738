"""Memory per idle server connection, as a server with many peers holds it.

The peers are plain sockets in a child process, so that only the server's
side is measured: with tracemalloc, over real loopback connections, after
each handshake, with an ``async for`` echo handler waiting in every one.
The bound is the Python heap's part of the idle-connection target
(``bench/load.py`` measures RSS: 8 KiB without compression, 10 KiB with
it); the kernel's socket buffers are not in it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tracemalloc
from typing import Any

import pytest

from fastws.asyncio import ServerConnection, serve

CONNECTIONS = 200

# Bytes of Python heap per idle connection, by interpreter: the same objects
# take more room on CPython 3.10 (frames, dicts) and a little more on 3.12+
# than on 3.11. Measured: 3.10 8.4-8.6 / 9.1-9.2 KiB, 3.11 6.8 / 7.5 KiB,
# 3.13 7.6 KiB without compression; before idle connections stopped making
# their queue, sets and header index, 3.11 took 8.6 / 9.5 KiB.
if sys.version_info < (3, 11):
    BOUND = {None: 9.0 * 1024, "deflate": 10.0 * 1024}
elif sys.version_info < (3, 12):
    BOUND = {None: 7.5 * 1024, "deflate": 8.5 * 1024}
else:
    BOUND = {None: 8.25 * 1024, "deflate": 9.25 * 1024}

# The peers: CONNECTIONS handshakes on blocking sockets, then wait for a line.
PEERS = r"""
import socket, sys
port, count, offer = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
request = (
    b"GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    + (b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if offer == "deflate" else b"")
    + b"\r\n"
)
peers = []
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(request)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        assert chunk, "closed during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    peers.append(s)
print("open", flush=True)
sys.stdin.readline()
"""


async def held_per_connection(compression: str | None) -> tuple[float, list[ServerConnection]]:
    connections: list[ServerConnection] = []

    async def echo(ws: ServerConnection) -> None:
        connections.append(ws)
        async for message in ws:
            await ws.send(message)

    async with serve(
        echo, "127.0.0.1", 0, ping_interval=None, compression=compression, backlog=512
    ) as server:
        port = server.sockets[0].getsockname()[1]
        offer = "deflate" if compression else "none"
        spawned: list[Any] = []

        async def peers(count: int) -> Any:
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-c", PEERS, str(port), str(count), offer,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            )  # fmt: skip
            spawned.append(child)
            assert child.stdout is not None
            assert await asyncio.wait_for(child.stdout.readline(), 30) == b"open\n"
            return child

        async def settle(expected: int) -> None:
            for _ in range(500):
                if len(connections) == expected:
                    break
                await asyncio.sleep(0.01)
            assert len(connections) == expected
            await asyncio.sleep(0.05)  # every handler waiting in recv

        try:
            # A few first, so that what a process allocates once is not counted.
            await peers(5)
            await settle(5)
            tracemalloc.start()
            try:
                before = tracemalloc.get_traced_memory()[0]
                await peers(CONNECTIONS)
                await settle(5 + CONNECTIONS)
                held = (tracemalloc.get_traced_memory()[0] - before) / CONNECTIONS
            finally:
                tracemalloc.stop()
        finally:
            # The peers end in every case (their transports must not
            # outlive this event loop).
            for child in spawned:
                if child.returncode is None:
                    child.kill()
                await child.wait()
    return held, connections


@pytest.mark.timeout_s(60)
async def test_an_idle_connection_without_compression_holds_little() -> None:
    held, connections = await held_per_connection(None)
    assert connections[-1].request is not None and connections[-1].request.path == "/chat"
    assert held <= BOUND[None], held


@pytest.mark.timeout_s(60)
async def test_an_idle_connection_with_compression_negotiated_holds_little() -> None:
    held, connections = await held_per_connection("deflate")
    assert connections[-1].protocol.extensions, "permessage-deflate was not negotiated"
    assert held <= BOUND["deflate"], held
