"""Interoperability with the websockets library's real asyncio client and server.

A fastws server against a websockets client, and a fastws client against a
websockets server, over loopback: text, binary, 16 MiB messages, fragmented
messages, ping/pong, every close path and subprotocol negotiation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

websockets = pytest.importorskip("websockets")
from websockets.asyncio.client import connect as ws_connect  # noqa: E402
from websockets.asyncio.server import serve as ws_serve  # noqa: E402

from fastws import ConnectionClosedError, ConnectionClosedOK  # noqa: E402
from fastws.asyncio import ServerConnection, connect, serve  # noqa: E402

BIG = 16 * 2**20


def big_payload() -> bytes:
    return bytes(range(256)) * (BIG // 256)


async def websockets_echo(ws: Any) -> None:
    async for message in ws:
        await ws.send(message)


class TestFastwsServerWebsocketsClient:
    async def test_text_binary_and_large(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0, max_size=BIG) as server:
            async with ws_connect(f"ws://127.0.0.1:{port_of(server)}/", max_size=BIG) as ws:
                await ws.send("héllo wörld")
                assert await ws.recv() == "héllo wörld"
                await ws.send(b"\x00\x01\xfe\xff")
                assert await ws.recv() == b"\x00\x01\xfe\xff"
                payload = big_payload()
                await ws.send(payload)
                assert await asyncio.wait_for(ws.recv(), 20) == payload
                text = "ä" * (BIG // 2)
                await ws.send(text)
                assert await asyncio.wait_for(ws.recv(), 20) == text

    async def test_too_big_is_1009(self, port_of: Callable[[Any], int], echo: Callable[..., Any]) -> None:
        async with serve(echo, "127.0.0.1", 0, max_size=1000) as server:
            async with ws_connect(f"ws://127.0.0.1:{port_of(server)}/") as ws:
                await ws.send(b"x" * 1001)
                with pytest.raises(websockets.ConnectionClosedError) as info:
                    await ws.recv()
                assert info.value.rcvd is not None and info.value.rcvd.code == 1009

    async def test_fragmented_both_ways(self, port_of: Callable[[Any], int]) -> None:
        async def handler(ws: ServerConnection) -> None:
            message = await ws.recv()
            await ws.send([message[:3], message[3:], ""])

        async with serve(handler, "127.0.0.1", 0) as server:
            async with ws_connect(f"ws://127.0.0.1:{port_of(server)}/") as ws:
                await ws.send(["frag", "mented", " text"])
                assert await ws.recv() == "fragmented text"

    async def test_ping_pong_both_ways(self, port_of: Callable[[Any], int]) -> None:
        latencies: list[float] = []

        async def handler(ws: ServerConnection) -> None:
            waiter = await ws.ping(b"from-fastws")
            latencies.append(await asyncio.wait_for(waiter, 5))
            await ws.send("pinged")
            await ws.recv()

        async with serve(handler, "127.0.0.1", 0) as server:
            async with ws_connect(f"ws://127.0.0.1:{port_of(server)}/") as ws:
                pong = await ws.ping(b"from-websockets")
                await asyncio.wait_for(pong, 5)
                assert await ws.recv() == "pinged"
                await ws.send("done")
        assert len(latencies) == 1

    async def test_client_closes_cleanly(self, port_of: Callable[[Any], int]) -> None:
        outcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        async def handler(ws: ServerConnection) -> None:
            try:
                await ws.recv()
            except Exception as exc:
                outcome.set_result(exc)

        async with serve(handler, "127.0.0.1", 0) as server:
            async with ws_connect(f"ws://127.0.0.1:{port_of(server)}/") as ws:
                await ws.close(1000, "client done")
            exc = await asyncio.wait_for(outcome, 5)
        assert isinstance(exc, ConnectionClosedOK)
        assert (exc.code, exc.reason) == (1000, "client done")

    async def test_server_closes_with_a_code(self, port_of: Callable[[Any], int]) -> None:
        async def handler(ws: ServerConnection) -> None:
            await ws.close(4321, "custom reason")

        async with serve(handler, "127.0.0.1", 0) as server:
            async with ws_connect(f"ws://127.0.0.1:{port_of(server)}/") as ws:
                with pytest.raises(websockets.ConnectionClosedError) as info:
                    await ws.recv()
                assert info.value.rcvd is not None
                assert (info.value.rcvd.code, info.value.rcvd.reason) == (4321, "custom reason")
                await asyncio.wait_for(ws.wait_closed(), 5)

    async def test_client_drops_tcp(self, port_of: Callable[[Any], int]) -> None:
        outcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        async def handler(ws: ServerConnection) -> None:
            try:
                await ws.recv()
            except Exception as exc:
                outcome.set_result(exc)

        async with serve(handler, "127.0.0.1", 0) as server:
            ws = await ws_connect(f"ws://127.0.0.1:{port_of(server)}/")
            ws.transport.abort()
            exc = await asyncio.wait_for(outcome, 5)
        assert isinstance(exc, ConnectionClosedError)
        assert exc.code == 1006

    async def test_server_drops_tcp(self, port_of: Callable[[Any], int]) -> None:
        async def handler(ws: ServerConnection) -> None:
            ws.transport.abort()

        async with serve(handler, "127.0.0.1", 0) as server:
            async with ws_connect(f"ws://127.0.0.1:{port_of(server)}/") as ws:
                with pytest.raises(websockets.ConnectionClosedError) as info:
                    await ws.recv()
                assert info.value.rcvd is None  # 1006: no close frame

    async def test_subprotocol(self, port_of: Callable[[Any], int]) -> None:
        async def handler(ws: ServerConnection) -> None:
            await ws.send(str(ws.subprotocol))

        async with serve(handler, "127.0.0.1", 0, subprotocols=["v2", "v1"]) as server:
            async with ws_connect(f"ws://127.0.0.1:{port_of(server)}/", subprotocols=["v1", "v2"]) as ws:
                assert ws.subprotocol == "v2"
                assert await ws.recv() == "v2"


class TestFastwsClientWebsocketsServer:
    async def test_text_binary_and_large(self, port_of: Callable[[Any], int]) -> None:
        async with ws_serve(websockets_echo, "127.0.0.1", 0, max_size=BIG) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", max_size=BIG) as ws:
                await ws.send("héllo")
                assert await ws.recv() == "héllo"
                await ws.send(b"\xff\x00")
                assert await ws.recv() == b"\xff\x00"
                payload = big_payload()
                await ws.send(payload)
                assert await asyncio.wait_for(ws.recv(), 20) == payload

    async def test_too_big_is_1009(self, port_of: Callable[[Any], int]) -> None:
        async def handler(ws: Any) -> None:
            await ws.send(b"y" * 2000)
            await ws.wait_closed()

        async with ws_serve(handler, "127.0.0.1", 0) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", max_size=1000) as ws:
                with pytest.raises(ConnectionClosedError):
                    await ws.recv()
                assert ws.protocol.close_sent is not None and ws.protocol.close_sent[0] == 1009

    async def test_fragmented_both_ways(self, port_of: Callable[[Any], int]) -> None:
        async def handler(ws: Any) -> None:
            message = await ws.recv()
            await ws.send([message[:2], message[2:]])

        async def fragments() -> AsyncIterator[bytes]:
            for chunk in (b"ab", b"cd", b"ef"):
                yield chunk

        async with ws_serve(handler, "127.0.0.1", 0) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/") as ws:
                await ws.send(fragments())
                assert await ws.recv() == b"abcdef"

    async def test_ping_pong_both_ways(self, port_of: Callable[[Any], int]) -> None:
        async def handler(ws: Any) -> None:
            await asyncio.wait_for(await ws.ping(b"srv"), 5)
            await ws.send("pinged")
            await ws.wait_closed()

        async with ws_serve(handler, "127.0.0.1", 0) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/") as ws:
                latency = await asyncio.wait_for(await ws.ping(b"cli"), 5)
                assert latency >= 0
                assert await ws.recv() == "pinged"

    async def test_client_closes_cleanly(self, port_of: Callable[[Any], int]) -> None:
        outcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        async def handler(ws: Any) -> None:
            try:
                await ws.recv()
            except Exception as exc:
                outcome.set_result(exc)

        async with ws_serve(handler, "127.0.0.1", 0) as server:
            ws = await connect(f"ws://127.0.0.1:{port_of(server)}/")
            await ws.close(4000, "bye now")
            assert ws.close_code == 4000
            exc = await asyncio.wait_for(outcome, 5)
        assert isinstance(exc, websockets.ConnectionClosed)
        assert exc.rcvd is not None and (exc.rcvd.code, exc.rcvd.reason) == (4000, "bye now")

    async def test_server_closes_normally(self, port_of: Callable[[Any], int]) -> None:
        async def handler(ws: Any) -> None:
            await ws.close(1001, "restart")

        async with ws_serve(handler, "127.0.0.1", 0) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/") as ws:
                with pytest.raises(ConnectionClosedOK) as info:
                    await ws.recv()
                assert (info.value.code, info.value.reason) == (1001, "restart")
                await asyncio.wait_for(ws.wait_closed(), 5)
                assert ws.close_code == 1001

    async def test_server_drops_tcp(self, port_of: Callable[[Any], int]) -> None:
        async def handler(ws: Any) -> None:
            ws.transport.abort()

        async with ws_serve(handler, "127.0.0.1", 0) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/") as ws:
                with pytest.raises(ConnectionClosedError) as info:
                    await ws.recv()
                assert info.value.code == 1006
                assert ws.close_code == 1006

    async def test_client_drops_tcp(self, port_of: Callable[[Any], int]) -> None:
        outcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        async def handler(ws: Any) -> None:
            try:
                await ws.recv()
            except Exception as exc:
                outcome.set_result(exc)

        async with ws_serve(handler, "127.0.0.1", 0) as server:
            ws = await connect(f"ws://127.0.0.1:{port_of(server)}/")
            ws.transport.abort()
            exc = await asyncio.wait_for(outcome, 5)
        assert isinstance(exc, websockets.ConnectionClosedError)
        assert exc.rcvd is None

    async def test_subprotocol(self, port_of: Callable[[Any], int]) -> None:
        async def handler(ws: Any) -> None:
            await ws.send(str(ws.subprotocol))

        async with ws_serve(handler, "127.0.0.1", 0, subprotocols=["b", "a"]) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", subprotocols=["a"]) as ws:
                assert ws.subprotocol == "a"
                assert await ws.recv() == "a"
