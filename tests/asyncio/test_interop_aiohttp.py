"""Interoperability with aiohttp's real WebSocket client and server.

A fastws server against ``aiohttp.ClientSession.ws_connect``, and a fastws
client against an ``aiohttp.web.WebSocketResponse`` server, over loopback:
text, binary, 16 MiB messages, fragmented messages (aiohttp can receive
them, not send them), ping/pong, every close path, subprotocols.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

aiohttp = pytest.importorskip("aiohttp")
from aiohttp import WSMsgType, web  # noqa: E402

from fastws import ConnectionClosedError, ConnectionClosedOK  # noqa: E402
from fastws.asyncio import ServerConnection, connect, serve  # noqa: E402

BIG = 16 * 2**20
# aiohttp refuses a message of exactly max_msg_size bytes, hence BIG + 1 for it.


def big_payload() -> bytes:
    return bytes(range(256)) * (BIG // 256)


@contextlib.asynccontextmanager
async def aiohttp_server(
    handler: Callable[[web.WebSocketResponse], Awaitable[None]], **options: Any
) -> AsyncIterator[int]:
    """An aiohttp app whose only route runs ``handler`` on a prepared WebSocketResponse."""

    async def route(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(**options)
        await ws.prepare(request)
        await handler(ws)
        return ws

    app = web.Application()
    app.router.add_get("/", route)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield int(site._server.sockets[0].getsockname()[1])
    finally:
        await asyncio.wait_for(runner.cleanup(), 10)


async def aiohttp_echo(ws: web.WebSocketResponse) -> None:
    async for message in ws:
        if message.type == WSMsgType.TEXT:
            await ws.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await ws.send_bytes(message.data)


class TestFastwsServerAiohttpClient:
    async def test_text_binary_and_large(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0, max_size=BIG) as server:
            async with aiohttp.ClientSession() as session:
                url = f"ws://127.0.0.1:{port_of(server)}/"
                async with session.ws_connect(url, max_msg_size=BIG + 1) as ws:
                    await ws.send_str("héllo")
                    assert await ws.receive_str(timeout=5) == "héllo"
                    await ws.send_bytes(b"\x00\xff")
                    assert await ws.receive_bytes(timeout=5) == b"\x00\xff"
                    payload = big_payload()
                    await ws.send_bytes(payload)
                    assert await ws.receive_bytes(timeout=20) == payload

    async def test_fragmented_from_fastws(self, port_of: Callable[[Any], int]) -> None:
        async def handler(ws: ServerConnection) -> None:
            await ws.send([b"frag", b"mented"])
            await ws.send(["un", "i", "cødé"])
            await ws.wait_closed()

        async with serve(handler, "127.0.0.1", 0) as server:
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(f"ws://127.0.0.1:{port_of(server)}/") as ws:
                    assert await ws.receive_bytes(timeout=5) == b"fragmented"
                    assert await ws.receive_str(timeout=5) == "unicødé"

    async def test_ping_pong_both_ways(self, port_of: Callable[[Any], int]) -> None:
        async def handler(ws: ServerConnection) -> None:
            await asyncio.wait_for(await ws.ping(b"srv"), 5)
            await ws.send("pinged")
            await ws.wait_closed()

        async with serve(handler, "127.0.0.1", 0) as server:
            async with aiohttp.ClientSession() as session:
                url = f"ws://127.0.0.1:{port_of(server)}/"
                async with session.ws_connect(url, autoping=False) as ws:
                    message = await ws.receive(timeout=5)
                    assert (message.type, message.data) == (WSMsgType.PING, b"srv")
                    await ws.pong(message.data)
                    await ws.ping(b"cli")
                    message = await ws.receive(timeout=5)
                    assert (message.type, message.data) == (WSMsgType.PONG, b"cli")
                    assert await ws.receive_str(timeout=5) == "pinged"

    async def test_client_closes_cleanly(self, port_of: Callable[[Any], int]) -> None:
        outcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        async def handler(ws: ServerConnection) -> None:
            try:
                await ws.recv()
            except Exception as exc:
                outcome.set_result(exc)

        async with serve(handler, "127.0.0.1", 0) as server:
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(f"ws://127.0.0.1:{port_of(server)}/") as ws:
                    await ws.close(code=1000, message=b"client done")
            exc = await asyncio.wait_for(outcome, 5)
        assert isinstance(exc, ConnectionClosedOK)
        assert (exc.code, exc.reason) == (1000, "client done")

    async def test_server_closes_with_a_code(self, port_of: Callable[[Any], int]) -> None:
        async def handler(ws: ServerConnection) -> None:
            await ws.close(4002, "server says bye")

        async with serve(handler, "127.0.0.1", 0) as server:
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(f"ws://127.0.0.1:{port_of(server)}/") as ws:
                    message = await ws.receive(timeout=5)
                    assert message.type == WSMsgType.CLOSE
                    assert (message.data, message.extra) == (4002, "server says bye")
                    assert ws.close_code == 4002

    async def test_client_drops_tcp(self, port_of: Callable[[Any], int]) -> None:
        outcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        async def handler(ws: ServerConnection) -> None:
            try:
                await ws.recv()
            except Exception as exc:
                outcome.set_result(exc)

        async with serve(handler, "127.0.0.1", 0) as server:
            async with aiohttp.ClientSession() as session:
                ws = await session.ws_connect(f"ws://127.0.0.1:{port_of(server)}/")
                ws._writer.transport.abort()
                exc = await asyncio.wait_for(outcome, 5)
                await ws.close()
        assert isinstance(exc, ConnectionClosedError)
        assert exc.code == 1006

    async def test_server_drops_tcp(self, port_of: Callable[[Any], int]) -> None:
        async def handler(ws: ServerConnection) -> None:
            ws.transport.abort()

        async with serve(handler, "127.0.0.1", 0) as server:
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(f"ws://127.0.0.1:{port_of(server)}/") as ws:
                    message = await ws.receive(timeout=5)
                    assert message.type in (WSMsgType.CLOSED, WSMsgType.ERROR)

    async def test_subprotocol(self, port_of: Callable[[Any], int]) -> None:
        async def handler(ws: ServerConnection) -> None:
            await ws.send(str(ws.subprotocol))
            await ws.wait_closed()

        async with serve(handler, "127.0.0.1", 0, subprotocols=["mqtt", "wamp"]) as server:
            async with aiohttp.ClientSession() as session:
                url = f"ws://127.0.0.1:{port_of(server)}/"
                async with session.ws_connect(url, protocols=("wamp",)) as ws:
                    assert ws.protocol == "wamp"
                    assert await ws.receive_str(timeout=5) == "wamp"


class TestFastwsClientAiohttpServer:
    async def test_text_binary_and_large(self) -> None:
        async with aiohttp_server(aiohttp_echo, max_msg_size=BIG + 1) as port:
            async with connect(f"ws://127.0.0.1:{port}/", max_size=BIG) as ws:
                await ws.send("héllo")
                assert await ws.recv() == "héllo"
                await ws.send(b"\x01\x02")
                assert await ws.recv() == b"\x01\x02"
                payload = big_payload()
                await ws.send(payload)
                assert await asyncio.wait_for(ws.recv(), 20) == payload

    async def test_fragmented_to_aiohttp(self) -> None:
        async with aiohttp_server(aiohttp_echo) as port:
            async with connect(f"ws://127.0.0.1:{port}/") as ws:
                await ws.send(["a", "b", "c"])
                assert await ws.recv() == "abc"
                await ws.send([b"\x00", b"\x01"])
                assert await ws.recv() == b"\x00\x01"

    async def test_ping_pong_both_ways(self) -> None:
        async def handler(ws: web.WebSocketResponse) -> None:
            await ws.ping(b"srv")
            message = await ws.receive(timeout=5)
            assert (message.type, message.data) == (WSMsgType.PONG, b"srv")
            await ws.send_str("pong seen")
            await ws.receive(timeout=5)

        async with aiohttp_server(handler, autoping=False) as port:
            async with connect(f"ws://127.0.0.1:{port}/") as ws:
                assert await ws.recv() == "pong seen"

        async with aiohttp_server(aiohttp_echo) as port:
            async with connect(f"ws://127.0.0.1:{port}/") as ws:
                assert await asyncio.wait_for(await ws.ping(b"cli"), 5) >= 0

    async def test_client_closes_cleanly(self) -> None:
        outcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        async def handler(ws: web.WebSocketResponse) -> None:
            message = await ws.receive(timeout=5)
            outcome.set_result((message.type, message.data, message.extra))

        async with aiohttp_server(handler) as port:
            ws = await connect(f"ws://127.0.0.1:{port}/")
            await ws.close(4000, "bye")
            # aiohttp answers every close frame with 1000 rather than echoing its code.
            assert ws.close_code == 1000
            assert await asyncio.wait_for(outcome, 5) == (WSMsgType.CLOSE, 4000, "bye")

    async def test_server_closes_with_a_code(self) -> None:
        async def handler(ws: web.WebSocketResponse) -> None:
            await ws.close(code=4003, message=b"server bye")

        async with aiohttp_server(handler) as port:
            async with connect(f"ws://127.0.0.1:{port}/") as ws:
                with pytest.raises(ConnectionClosedError) as info:
                    await ws.recv()
                assert (info.value.code, info.value.reason) == (4003, "server bye")
                await asyncio.wait_for(ws.wait_closed(), 5)

    async def test_server_closes_normally(self) -> None:
        async def handler(ws: web.WebSocketResponse) -> None:
            await ws.close()

        async with aiohttp_server(handler) as port:
            async with connect(f"ws://127.0.0.1:{port}/") as ws:
                with pytest.raises(ConnectionClosedOK):
                    await ws.recv()
                assert ws.close_code == 1000

    async def test_server_drops_tcp(self) -> None:
        dropped = asyncio.Event()

        async def handler(ws: web.WebSocketResponse) -> None:
            ws._req.transport.abort()  # type: ignore[union-attr]
            dropped.set()

        async with aiohttp_server(handler) as port:
            async with connect(f"ws://127.0.0.1:{port}/") as ws:
                with pytest.raises(ConnectionClosedError) as info:
                    await ws.recv()
                assert info.value.code == 1006

    async def test_client_drops_tcp(self) -> None:
        outcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        async def handler(ws: web.WebSocketResponse) -> None:
            message = await ws.receive(timeout=5)
            outcome.set_result(message.type)

        async with aiohttp_server(handler) as port:
            ws = await connect(f"ws://127.0.0.1:{port}/")
            ws.transport.abort()
            assert await asyncio.wait_for(outcome, 5) in (WSMsgType.CLOSED, WSMsgType.ERROR, WSMsgType.CLOSE)

    async def test_subprotocol(self) -> None:
        async def handler(ws: web.WebSocketResponse) -> None:
            await ws.send_str(str(ws.ws_protocol))
            await ws.receive(timeout=5)

        async with aiohttp_server(handler, protocols=("x1", "x2")) as port:
            async with connect(f"ws://127.0.0.1:{port}/", subprotocols=["x2"]) as ws:
                assert ws.subprotocol == "x2"
                assert await ws.recv() == "x2"
