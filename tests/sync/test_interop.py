"""fastws.sync against other implementations, over loopback.

The sync client against fastws', websockets' and aiohttp's asyncio servers;
the sync server against websockets', aiohttp's and fastws' asyncio clients:
every size class of the frame length (7, 16 and 64 bits) up to 16 MiB, text
and binary, fragments, pings both ways, every way of closing, and TLS.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from certificates import client_context, server_context
from fastws import ConnectionClosedError, ConnectionClosedOK
from fastws.sync import ServerConnection, connect, serve

BIG = 16 * 2**20
SIZES = [0, 1, 125, 126, 65535, 65536, 2**20, BIG]
SERVERS = ["fastws", "websockets", "aiohttp"]
CLIENTS = ["websockets", "aiohttp", "fastws"]


def payloads() -> list[str | bytes]:
    """A text and a binary message of every size."""
    pattern = bytes(range(256)) * (BIG // 256)
    messages: list[str | bytes] = []
    for size in SIZES:
        messages.append(pattern[:size])
        messages.append(("é" * (size // 2 + 1))[: max(0, size // 2)])
    return messages


class TestSyncClient:
    @pytest.mark.parametrize("peer", SERVERS)
    def test_every_size(self, peer: str, peer_server: Any) -> None:
        with peer_server(peer, max_size=BIG) as url, connect(url, max_size=BIG) as ws:
            for message in payloads():
                ws.send(message)
                assert ws.recv(30) == message
        assert ws.close_code == 1000

    @pytest.mark.parametrize("peer", SERVERS)
    def test_fragments(self, peer: str, peer_server: Any) -> None:
        with peer_server(peer) as url, connect(url) as ws:
            ws.send(["frag", "ment", "ed ", "téxt"])
            assert ws.recv(5) == "fragmented téxt"
            ws.send([b"\x00" * 1000, b"\x01" * 70000, b""])
            assert ws.recv(5) == b"\x00" * 1000 + b"\x01" * 70000

    @pytest.mark.parametrize("peer", SERVERS)
    def test_ping_pong(self, peer: str, peer_server: Any) -> None:
        with peer_server(peer) as url, connect(url) as ws:
            assert ws.ping(b"are you there").wait(5)
            assert ws.latency > 0
            ws.pong(b"unsolicited")
            ws.send("still open")
            assert ws.recv(5) == "still open"

    @pytest.mark.parametrize("peer", SERVERS)
    def test_client_closes(self, peer: str, peer_server: Any) -> None:
        with peer_server(peer) as url:
            ws = connect(url)
            ws.close(1000, "done")
            assert ws.close_code == 1000
            assert ws.wait_closed(0)

    @pytest.mark.parametrize("peer", SERVERS)
    def test_server_closes(self, peer: str, peer_server: Any) -> None:
        with peer_server(peer, behaviour="close") as url, connect(url) as ws:
            ws.send("x")
            with pytest.raises(ConnectionClosedError) as info:
                ws.recv(5)
            assert (info.value.code, info.value.reason) == (4000, "bye x")
            assert ws.wait_closed(5)

    @pytest.mark.parametrize("peer", SERVERS)
    def test_tls(self, peer: str, peer_server: Any, certificate: tuple[Path, Path]) -> None:
        with peer_server(peer, ssl=server_context(certificate), max_size=2**22) as url:
            with connect(url, ssl=client_context(certificate), max_size=2**22) as ws:
                payload = bytes(range(256)) * 16384  # 4 MiB through TLS records
                ws.send(payload)
                assert ws.recv(20) == payload
                ws.send("tls text")
                assert ws.recv(5) == "tls text"
            assert ws.close_code == 1000

    def test_peer_keepalive_is_answered_while_the_application_is_busy(self, loop: Any) -> None:
        """websockets pings every 0.1 s and drops a peer silent for 0.3 s: not us, busy as we are."""
        from websockets.asyncio.server import serve as ws_serve

        async def start() -> Any:
            async def handler(ws: Any) -> None:
                async for message in ws:
                    await ws.send(message)

            return await ws_serve(handler, "127.0.0.1", 0, ping_interval=0.1, ping_timeout=0.3)

        server = loop.run(start())
        try:
            url = f"ws://127.0.0.1:{next(iter(server.sockets)).getsockname()[1]}/"
            with connect(url) as ws:
                time.sleep(1.0)  # not in recv(): the background thread answers
                ws.send("alive")
                assert ws.recv(5) == "alive"
        finally:

            async def stop() -> None:
                server.close()
                await server.wait_closed()

            loop.run(stop())


async def _client_exchange(kind: str, url: str, messages: list[Any], ssl: Any = None) -> list[Any]:
    """Send each message with the ``kind`` asyncio client, receive its echo; close with 1000."""
    received: list[Any] = []
    if kind == "websockets":
        from websockets.asyncio.client import connect as ws_connect

        async with ws_connect(url, max_size=BIG, ssl=ssl) as ws:
            for message in messages:
                await ws.send(message)
                received.append(await ws.recv())
            pong = await ws.ping(b"ws ping")
            await asyncio.wait_for(pong, 5)
            await ws.send(["frag", "mented"])
            received.append(await ws.recv())
    elif kind == "aiohttp":
        import aiohttp

        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(
                url, max_msg_size=BIG + 1, ssl=ssl if ssl is not None else True
            ) as ws:
                for message in messages:
                    if isinstance(message, str):
                        await ws.send_str(message)
                    else:
                        await ws.send_bytes(message)
                    reply = await ws.receive(30)
                    received.append(reply.data)
                await ws.ping(b"aiohttp ping")
    else:
        from fastws.asyncio import connect as fastws_connect

        async with fastws_connect(url, max_size=BIG, ssl=ssl) as ws:
            for message in messages:
                await ws.send(message)
                received.append(await ws.recv())
            assert await asyncio.wait_for(await ws.ping(), 5) >= 0
            await ws.send(["frag", "mented"])
            received.append(await ws.recv())
    return received


async def _client_close_outcome(kind: str, url: str) -> tuple[int | None, str | None]:
    """Connect with ``kind``, send one message, wait for the server to close: (code, reason)."""
    if kind == "websockets":
        from websockets.asyncio.client import connect as ws_connect
        from websockets.exceptions import ConnectionClosed

        async with ws_connect(url) as ws:
            await ws.send("x")
            try:
                await asyncio.wait_for(ws.recv(), 5)
            except ConnectionClosed as exc:
                assert exc.rcvd is not None
                return exc.rcvd.code, exc.rcvd.reason
        raise AssertionError("the server did not close")
    if kind == "aiohttp":
        import aiohttp

        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(url) as ws:
                await ws.send_str("x")
                message = await ws.receive(5)
                assert message.type == aiohttp.WSMsgType.CLOSE, message
                return message.data, message.extra
    from fastws.asyncio import connect as fastws_connect

    ws = await fastws_connect(url)
    await ws.send("x")
    await asyncio.wait_for(ws.wait_closed(), 5)
    return ws.close_code, ws.close_reason


class TestSyncServer:
    @pytest.mark.parametrize("client", CLIENTS)
    def test_every_size_fragments_and_pings(self, client: str, sync_server: Any, loop: Any) -> None:
        if client != "fastws":
            pytest.importorskip(client)
        messages = payloads()
        with sync_server(max_size=BIG) as (_, url):
            received = loop.run(_client_exchange(client, url, messages), 120)
        expected = messages if client == "aiohttp" else [*messages, "fragmented"]
        assert received == expected

    @pytest.mark.parametrize("client", CLIENTS)
    @pytest.mark.parametrize(
        ("ending", "code", "reason"),
        [("return", 1000, ""), ("raise", 1011, "internal error"), ("close", 4000, "bye")],
    )
    def test_server_side_close_paths(
        self, client: str, ending: str, code: int, reason: str, sync_server: Any, loop: Any
    ) -> None:
        if client != "fastws":
            pytest.importorskip(client)

        def handler(ws: ServerConnection) -> None:
            ws.recv()
            if ending == "raise":
                raise RuntimeError("handler failure")
            if ending == "close":
                ws.close(4000, "bye")

        with sync_server(handler) as (_, url):
            assert loop.run(_client_close_outcome(client, url)) == (code, reason)

    @pytest.mark.parametrize("client", CLIENTS)
    def test_shutdown(self, client: str, running: Any, loop: Any) -> None:
        if client != "fastws":
            pytest.importorskip(client)
        started = threading.Event()

        def handler(ws: ServerConnection) -> None:
            ws.recv()
            started.set()
            for message in ws:
                ws.send(message)

        server = serve(handler, "127.0.0.1", 0, ping_interval=None)
        with running(server):
            url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}/"
            future = asyncio.run_coroutine_threadsafe(_client_close_outcome(client, url), loop.loop)
            assert started.wait(5)
            server.shutdown()
            assert future.result(5) == (1001, "server shutting down")

    @pytest.mark.parametrize("client", CLIENTS)
    def test_client_closes(self, client: str, sync_server: Any, loop: Any) -> None:
        if client != "fastws":
            pytest.importorskip(client)
        outcome: list[BaseException] = []

        def handler(ws: ServerConnection) -> None:
            try:
                while True:
                    ws.send(ws.recv())
            except BaseException as exc:
                outcome.append(exc)
                raise

        with sync_server(handler) as (_, url):
            assert loop.run(_client_exchange(client, url, ["x"]))[0] == "x"
            deadline = time.monotonic() + 5
            while not outcome and time.monotonic() < deadline:
                time.sleep(0.01)
        assert isinstance(outcome[0], ConnectionClosedOK) and outcome[0].code == 1000

    @pytest.mark.parametrize("client", CLIENTS)
    def test_tls(self, client: str, sync_server: Any, loop: Any, certificate: tuple[Path, Path]) -> None:
        if client != "fastws":
            pytest.importorskip(client)
        with sync_server(scheme="wss", ssl=server_context(certificate), max_size=2**22) as (_, url):
            messages: list[Any] = ["tls", bytes(range(256)) * 16384]
            received = loop.run(_client_exchange(client, url, messages, ssl=client_context(certificate)), 60)
        assert received[:2] == messages
