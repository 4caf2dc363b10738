"""A closed connection is freed when its last reference goes, not by the cycle collector.

A server that opens and closes many connections would otherwise leave
each one, its protocol, parser, writer and handshake messages, for the
collector to find: more collections, and memory that waits for them. The
connections here run with the collector off; once both ends are closed,
nothing of them may be left.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fastws import ConnectionClosedError
from fastws.asyncio import connect, serve


@pytest.fixture
def no_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _watch(watched: list[tuple[int, type]], ws: Any) -> None:
    # The protocol takes no weak reference: each object is known by its id and type.
    watched += ((id(ws), type(ws)), (id(ws.protocol), type(ws.protocol)))


def _alive(watched: list[tuple[int, type]]) -> list[str]:
    """The watched objects that still exist (the collector tracks all of them)."""
    ids = dict(watched)
    return [type(o).__name__ for o in gc.get_objects() if ids.get(id(o)) is type(o)]


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


@pytest.mark.usefixtures("no_collector")
@pytest.mark.parametrize("compression", [None, "deflate"])
@pytest.mark.parametrize("ping_interval", [None, 20.0])
async def test_closed_connections_are_freed_without_the_collector(
    port_of: Callable[[Any], int], compression: str | None, ping_interval: float | None
) -> None:
    watched: list[tuple[int, type]] = []

    async def echo(ws: Any) -> None:
        _watch(watched, ws)
        async for message in ws:
            await ws.send(message)

    async with serve(echo, "127.0.0.1", 0, compression=compression, ping_interval=ping_interval) as server:
        url = f"ws://127.0.0.1:{port_of(server)}/"
        for closer in ("client", "server"):
            async with connect(url, compression=compression, ping_interval=ping_interval) as ws:
                _watch(watched, ws)
                await ws.send("hello")
                assert await ws.recv() == "hello"
                await ws.send(b"\x00" * 3000)
                assert await ws.recv() == b"\x00" * 3000
                if closer == "server":
                    for connection in list(server.connections):
                        await connection.close(1001)
                    del connection
                    assert ws.close_code == 1001
            del ws
        await _until(lambda: not server.connections and not server.handler_tasks)
    await asyncio.sleep(0)
    assert len(watched) == 8
    assert _alive(watched) == []


@pytest.mark.usefixtures("no_collector")
async def test_a_connection_failed_by_the_peer_is_freed_without_the_collector(
    port_of: Callable[[Any], int],
) -> None:
    watched: list[tuple[int, type]] = []
    ended: list[int] = []

    async def handler(ws: Any) -> None:
        _watch(watched, ws)
        try:
            async for _ in ws:
                pass
        except ConnectionClosedError as exc:
            ended.append(exc.sent.code)  # not exc: its traceback holds ws

    async with serve(handler, "127.0.0.1", 0, ping_interval=None) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
        writer.write(
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        # An unmasked frame from a client: the server fails the connection (1002).
        writer.write(b"\x81\x02hi")
        assert (await asyncio.wait_for(reader.read(), 5))[:1] == b"\x88"
        writer.close()
        await _until(lambda: not server.connections and not server.handler_tasks)
    await asyncio.sleep(0)
    assert ended == [1002]
    assert len(watched) == 2
    assert _alive(watched) == []


@pytest.mark.usefixtures("no_collector")
@pytest.mark.parametrize("closer", ["client", "server"])
async def test_a_plain_handler_connection_and_its_on_close_are_freed_without_the_collector(
    port_of: Callable[[Any], int], closer: str
) -> None:
    # No task holds the connection; its on_close closure refers to it (a
    # cycle), and is let go once it has run.
    watched: list[tuple[int, type]] = []
    codes: list[int | None] = []

    def handler(ws: Any) -> None:
        _watch(watched, ws)
        ws.on_close = lambda: codes.append(ws.close_code)
        if closer == "server":
            ws.send_nowait("bye")
            ws.close_nowait(1001)

    async with serve(handler, "127.0.0.1", 0, ping_interval=None) as server:
        async with connect(f"ws://127.0.0.1:{port_of(server)}/", ping_interval=None) as ws:
            if closer == "server":
                assert await ws.recv() == "bye"
                await asyncio.wait_for(ws.wait_closed(), 5)
        del ws
        await _until(lambda: not server.connections and bool(codes))
    await asyncio.sleep(0)
    assert codes == [1000 if closer == "client" else 1001]
    assert len(watched) == 2
    assert _alive(watched) == []
