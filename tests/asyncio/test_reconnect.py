"""``async for ws in fastws.connect(uri)``: reconnecting after a worker restarts."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from fastws.asyncio import ServerConnection, connect, serve
from fastws.exceptions import ConnectionClosed, InvalidStatus


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def hello(ws: ServerConnection) -> None:
    await ws.send(f"hello from {id(ws.server)}")
    await ws.wait_closed()


def fast(client: Any) -> Any:
    client.backoff_min, client.backoff_max = 0.02, 0.1
    return client


async def test_reconnects_after_a_restart_and_while_the_server_is_down() -> None:
    port = free_port()
    greetings: list[str] = []
    server = await serve(hello, "127.0.0.1", port)
    attempts = 0
    async for ws in fast(connect(f"ws://127.0.0.1:{port}/", ping_interval=None)):
        attempts += 1
        try:
            greetings.append(str(await asyncio.wait_for(ws.recv(), 5)))
            if len(greetings) == 1:
                # The worker restarts: down for a moment (connections are
                # refused meanwhile), then up again on the same port.
                server.close()
                await server.wait_closed()

                async def restart() -> None:
                    nonlocal server
                    await asyncio.sleep(0.3)
                    server = await serve(hello, "127.0.0.1", port)

                restarting = asyncio.ensure_future(restart())
                await asyncio.wait_for(ws.recv(), 5)  # raises: the server went away
            else:
                break
        except ConnectionClosed:
            continue
    await restarting
    assert ws.state.name == "OPEN"  # after break, the connection is the caller's
    await ws.close()
    assert len(greetings) == 2 and greetings[0] != greetings[1]
    server.close()
    await server.wait_closed()


async def test_a_refusal_for_good_is_raised() -> None:
    async def forbid(connection: ServerConnection, request: Any) -> Any:
        return connection.respond(403, "no")

    async with serve(hello, "127.0.0.1", 0, process_request=forbid) as server:
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(InvalidStatus) as info:
            async for _ in fast(connect(f"ws://127.0.0.1:{port}/")):
                pass
        assert info.value.status == 403


async def test_a_temporary_refusal_is_retried() -> None:
    refusals = 0

    async def busy_twice(connection: ServerConnection, request: Any) -> Any:
        nonlocal refusals
        if refusals < 2:
            refusals += 1
            return connection.respond(503, "busy")
        return None

    async with serve(hello, "127.0.0.1", 0, process_request=busy_twice) as server:
        port = server.sockets[0].getsockname()[1]
        async for ws in fast(connect(f"ws://127.0.0.1:{port}/", ping_interval=None)):
            assert str(await asyncio.wait_for(ws.recv(), 5)).startswith("hello")
            break
        assert refusals == 2
