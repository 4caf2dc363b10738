"""Fixtures shared by the asyncio tests: a server's port and the echo handlers.

They are fixtures that return functions, so that a test asks for what it
uses (``port_of``, ``echo``, ``echo_on_message``, ``on_both_loops``) and the
helpers exist in one place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

Handler = Callable[[Any], Awaitable[None]]


def _port_of(server: Any) -> int:
    return int(next(iter(server.sockets)).getsockname()[1])


async def _echo(ws: Any) -> None:
    async for message in ws:
        await ws.send(message)


async def _echo_on_message(ws: Any) -> None:
    ws.on_message = ws.send_nowait
    await ws.wait_closed()


def _on_both_loops(main: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(main(), 20))
    uvloop = pytest.importorskip("uvloop")
    uvloop.run(asyncio.wait_for(main(), 20))


@pytest.fixture
def on_both_loops() -> Callable[[Callable[[], Awaitable[None]]], None]:
    """``on_both_loops(main)``: run the coroutine function on asyncio's loop, then on uvloop's (20 s each at most)."""
    return _on_both_loops


async def _check_echoes(client: Any) -> None:
    messages = ["text é", b"\x00binary", "x" * 70_000, b"y" * 200_000, ""]
    for message in messages:
        await client.send(message)
    for message in messages:
        assert await asyncio.wait_for(client.recv(), 5) == message


@pytest.fixture
def check_echoes() -> Callable[[Any], Awaitable[None]]:
    """``await check_echoes(client)``: a burst of text and binary messages (empty, 70 kB, 200 kB) comes back in order."""
    return _check_echoes


@pytest.fixture
def port_of() -> Callable[[Any], int]:
    """``port_of(server)``: the TCP port of a listening server's first socket."""
    return _port_of


@pytest.fixture
def echo() -> Handler:
    """A server handler that sends every message back (``async for`` then ``send``)."""
    return _echo


@pytest.fixture
def echo_on_message() -> Handler:
    """A server handler that sends every message back from ``on_message`` (``send_nowait``)."""
    return _echo_on_message


@pytest.fixture
def redis_server() -> Any:
    """A real redis-server on a free loopback port, stopped afterwards (``.url``, ``.stop()``, ``.start()``)."""
    from redis_server import RedisServer, redis_or_skip

    server = RedisServer(redis_or_skip())
    server.start()
    try:
        yield server
    finally:
        server.close()
