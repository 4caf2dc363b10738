"""permessage-deflate through the asyncio layer, and interop with websockets and aiohttp.

Compression is on by default in ``serve`` and ``connect`` (as websockets
has it) and ``compression=None`` turns it off. Real peers over loopback,
with compression on in both roles: a fastws server against websockets and
aiohttp clients, a fastws client against websockets and aiohttp servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from fastws import ConnectionClosedError
from fastws.asyncio import ServerConnection, connect, serve
from fastws.extensions import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)

websockets = pytest.importorskip("websockets")
aiohttp = pytest.importorskip("aiohttp")
from aiohttp import WSMsgType, web  # noqa: E402
from websockets.asyncio.client import connect as ws_connect  # noqa: E402
from websockets.asyncio.server import serve as ws_serve  # noqa: E402

MAX = 4 * 2**20


def messages() -> list[str | bytes]:
    """Text and binary of many sizes, compressible and not."""
    rng = random.Random(7)
    out: list[str | bytes] = []
    for size in [0, 1, 31, 32, 125, 1000, 4096, 65536, 2**20]:
        record = {"id": 1, "name": "fastws", "tags": ["a", "b"], "text": "é日本"}
        text = json.dumps([record] * (size // 60 + 1))[:size]
        out.append(text)
        out.append(rng.randbytes(size))
        out.append(text.encode() * 2)
    return out


def deflate_of(protocol: Any) -> PerMessageDeflate:
    (ext,) = protocol.extensions
    assert isinstance(ext, PerMessageDeflate)
    return ext


class TestFastwsBothSides:
    async def test_default_on(self, port_of: Callable[[Any], int], echo: Callable[..., Any]) -> None:
        seen: list[Any] = []

        async def handler(ws: ServerConnection) -> None:
            seen.append(ws.request.headers.get("Sec-WebSocket-Extensions"))
            await echo(ws)

        async with serve(handler, "127.0.0.1", 0, max_size=MAX) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", max_size=MAX) as ws:
                assert ws.response.headers["Sec-WebSocket-Extensions"] == (
                    "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
                )
                ext = deflate_of(ws.protocol)
                assert (ext.remote_max_window_bits, ext.local_max_window_bits) == (12, 12)
                for message in messages():
                    await ws.send(message)
                    assert await ws.recv() == message
        assert seen == ["permessage-deflate; client_max_window_bits"]

    @pytest.mark.parametrize(("server_on", "client_on"), [(False, True), (True, False), (False, False)])
    async def test_off(
        self, server_on: bool, client_on: bool, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0, compression="deflate" if server_on else None) as server:
            async with connect(
                f"ws://127.0.0.1:{port_of(server)}/", compression="deflate" if client_on else None
            ) as ws:
                assert "Sec-WebSocket-Extensions" not in ws.response.headers
                assert ws.protocol.extensions == []
                await ws.send("hello " * 100)
                assert await ws.recv() == "hello " * 100

    async def test_configured_factories(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        server_factory = ServerPerMessageDeflateFactory(
            server_no_context_takeover=True, server_max_window_bits=9, min_size=0, level=1
        )
        client_factory = ClientPerMessageDeflateFactory(
            client_no_context_takeover=True, client_max_window_bits=8
        )
        async with serve(echo, "127.0.0.1", 0, compression=server_factory) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", compression=client_factory) as ws:
                assert ws.response.headers["Sec-WebSocket-Extensions"] == (
                    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                    "server_max_window_bits=9; client_max_window_bits=8"
                )
                for message in messages()[:20]:
                    await ws.send(message)
                    assert await ws.recv() == message

    async def test_unknown_compression_refused(self, echo: Callable[..., Any]) -> None:
        with pytest.raises(ValueError, match="compression"):
            connect("ws://127.0.0.1/", compression="gzip")
        with pytest.raises(ValueError, match="compression"):
            serve(echo, "127.0.0.1", 0, compression="br")

    async def test_bytes_on_the_wire_shrink(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        # A counting TCP relay between client and server: the client writes
        # far fewer bytes than the message holds.
        text = json.dumps([{"id": i, "name": "fastws", "ok": True} for i in range(2000)])
        upstream = 0

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, count: bool) -> None:
            nonlocal upstream
            with contextlib.suppress(ConnectionError):
                while data := await reader.read(65536):
                    if count:
                        upstream += len(data)
                    writer.write(data)
                    await writer.drain()
            writer.close()

        async with serve(echo, "127.0.0.1", 0, max_size=MAX) as server:
            target = port_of(server)

            async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
                await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))

            proxy = await asyncio.start_server(relay, "127.0.0.1", 0)
            async with proxy:
                async with connect(f"ws://127.0.0.1:{port_of(proxy)}/", max_size=MAX) as ws:
                    await ws.send(text)
                    assert await ws.recv() == text
                    # The handshake request is a few hundred bytes.
                    assert 0 < upstream < len(text) // 10

    async def test_bomb_closes_1009(self, port_of: Callable[[Any], int], echo: Callable[..., Any]) -> None:
        # A compliant client's 16 MiB of zeros (about 16 KiB compressed)
        # against a 1 MiB limit.
        async with serve(echo, "127.0.0.1", 0, max_size=2**20) as server:
            async with ws_connect(f"ws://127.0.0.1:{port_of(server)}/", max_size=None) as ws:
                await ws.send(bytes(16 * 2**20))
                with pytest.raises(websockets.ConnectionClosedError) as info:
                    await asyncio.wait_for(ws.recv(), 10)
                assert info.value.rcvd is not None and info.value.rcvd.code == 1009

    async def test_bomb_against_client(self, port_of: Callable[[Any], int]) -> None:
        async def sender(ws: Any) -> None:
            await ws.send(bytes(16 * 2**20))
            with contextlib.suppress(websockets.ConnectionClosed):
                await ws.recv()

        async with ws_serve(sender, "127.0.0.1", 0, max_size=None) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", max_size=2**20) as ws:
                with pytest.raises(ConnectionClosedError):
                    await asyncio.wait_for(ws.recv(), 10)
                assert ws.protocol.close_sent[0] == 1009


class TestWebsockets:
    """websockets negotiates permessage-deflate by default in both roles."""

    async def test_fastws_server_websockets_client(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0, max_size=MAX) as server:
            async with ws_connect(f"ws://127.0.0.1:{port_of(server)}/", max_size=MAX) as ws:
                assert ws.response.headers["Sec-WebSocket-Extensions"] == (
                    "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
                )
                assert [e.name for e in ws.protocol.extensions] == ["permessage-deflate"]
                for message in messages():
                    await ws.send(message)
                    assert await ws.recv() == message
                # Fragmented by websockets (an iterable message).
                await ws.send(["fragment " * 100, "two ", "three" * 1000])
                assert await ws.recv() == "fragment " * 100 + "two " + "three" * 1000

    async def test_fastws_client_websockets_server(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:

        async with ws_serve(echo, "127.0.0.1", 0, max_size=MAX) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", max_size=MAX) as ws:
                header = ws.response.headers["Sec-WebSocket-Extensions"]
                assert header.startswith("permessage-deflate")
                deflate_of(ws.protocol)
                for message in messages():
                    await ws.send(message)
                    assert await ws.recv() == message

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"server_no_context_takeover": True, "client_no_context_takeover": True},
            {"server_max_window_bits": 9, "client_max_window_bits": 10},
        ],
    )
    async def test_parameters_with_websockets_server(
        self, kwargs: dict[str, Any], port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory as WsFactory

        async with ws_serve(
            echo, "127.0.0.1", 0, max_size=MAX, compression=None, extensions=[WsFactory()]
        ) as server:
            async with connect(
                f"ws://127.0.0.1:{port_of(server)}/",
                max_size=MAX,
                compression=ClientPerMessageDeflateFactory(min_size=0, **kwargs),
            ) as ws:
                ext = deflate_of(ws.protocol)
                if "server_no_context_takeover" in kwargs:
                    assert ext.remote_no_context_takeover and ext.local_no_context_takeover
                else:
                    assert (ext.remote_max_window_bits, ext.local_max_window_bits) == (9, 10)
                for message in messages()[:21]:
                    await ws.send(message)
                    assert await ws.recv() == message


@contextlib.asynccontextmanager
async def aiohttp_server(
    handler: Callable[[web.WebSocketResponse], Awaitable[None]], **options: Any
) -> AsyncIterator[int]:
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
        yield int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    finally:
        await asyncio.wait_for(runner.cleanup(), 10)


class TestAiohttp:
    """aiohttp negotiates permessage-deflate with ``compress=True`` (its default)."""

    async def test_fastws_server_aiohttp_client(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0, max_size=MAX) as server:
            async with aiohttp.ClientSession() as session:
                url = f"ws://127.0.0.1:{port_of(server)}/"
                async with session.ws_connect(url, max_msg_size=MAX + 1, compress=15) as ws:
                    assert ws.compress, "aiohttp did not negotiate compression"
                    for message in messages():
                        if isinstance(message, str):
                            await ws.send_str(message)
                        else:
                            await ws.send_bytes(message)
                        reply = await asyncio.wait_for(ws.receive(), 10)
                        assert reply.type == (
                            WSMsgType.TEXT if isinstance(message, str) else WSMsgType.BINARY
                        )
                        assert reply.data == message

    async def test_fastws_client_aiohttp_server(self) -> None:
        async def echo(ws: web.WebSocketResponse) -> None:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await ws.send_str(message.data)
                elif message.type == WSMsgType.BINARY:
                    await ws.send_bytes(message.data)

        async with aiohttp_server(echo, compress=True, max_msg_size=MAX + 1) as port:
            async with connect(f"ws://127.0.0.1:{port}/", max_size=MAX) as ws:
                assert ws.response.headers["Sec-WebSocket-Extensions"].startswith("permessage-deflate")
                deflate_of(ws.protocol)
                for message in messages():
                    await ws.send(message)
                    assert await ws.recv() == message
