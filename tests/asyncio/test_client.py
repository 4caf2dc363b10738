"""fastws.connect: both forms, URIs, options, failures of the opening handshake."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import pytest

from fastws import ConnectionClosedOK, InvalidHandshake, InvalidMessage, InvalidStatus
from fastws.asyncio import ClientConnection, ServerConnection, connect, serve


async def raw_server(answer: bytes | None) -> tuple[asyncio.AbstractServer, int]:
    """A TCP server that reads the request head, then answers ``answer`` and
    closes (None: keeps silent, and the connection open)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            if answer is None:
                await asyncio.sleep(30)
            else:
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class TestConnect:
    async def test_await_form(self, port_of: Callable[[Any], int], echo: Callable[..., Any]) -> None:
        async with serve(echo, "127.0.0.1", 0) as server:
            ws = await connect(f"ws://127.0.0.1:{port_of(server)}/")
            assert isinstance(ws, ClientConnection)
            await ws.send("x")
            assert await ws.recv() == "x"
            await ws.close()
            assert ws.close_code == 1000

    async def test_context_manager_closes(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/") as ws:
                pass
            assert ws.close_code == 1000
            assert ws.remote_address == ("127.0.0.1", port_of(server))  # still known once closed
            with pytest.raises(ConnectionClosedOK):
                await ws.recv()

    @pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback here")
    async def test_ipv6_literal(self, port_of: Callable[[Any], int]) -> None:
        seen: list[Any] = []

        async def handler(ws: ServerConnection) -> None:
            assert ws.request is not None
            seen.append(ws.request.headers["Host"])
            await ws.send("v6")

        async with serve(handler, "::1", 0) as server:
            port = port_of(server)
            async with connect(f"ws://[::1]:{port}/") as ws:
                assert await ws.recv() == "v6"
                assert ws.remote_address[0] == "::1"
        assert seen == [f"[::1]:{port}"]

    async def test_host_and_port_override(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0) as server:
            async with connect("ws://example.invalid/", host="127.0.0.1", port=port_of(server)) as ws:
                await ws.send("via override")
                assert await ws.recv() == "via override"

    async def test_existing_socket(self, port_of: Callable[[Any], int], echo: Callable[..., Any]) -> None:
        async with serve(echo, "127.0.0.1", 0) as server:
            sock = socket.create_connection(("127.0.0.1", port_of(server)))
            async with connect("ws://127.0.0.1/", sock=sock) as ws:
                await ws.send(b"sock")
                assert await ws.recv() == b"sock"

    async def test_headers_origin_and_user_agent(self, port_of: Callable[[Any], int]) -> None:
        seen: dict[str, Any] = {}

        async def handler(ws: ServerConnection) -> None:
            assert ws.request is not None
            seen.update(
                origin=ws.request.headers.get("Origin"),
                token=ws.request.headers.get("X-Token"),
                ua=ws.request.headers.get("User-Agent"),
            )

        async with serve(handler, "127.0.0.1", 0) as server:
            url = f"ws://127.0.0.1:{port_of(server)}/"
            async with connect(
                url,
                origin="https://app.example",
                additional_headers=[("X-Token", "t1")],
                user_agent_header="probe/1.0",
            ) as ws:
                await ws.wait_closed()
            assert seen == {"origin": "https://app.example", "token": "t1", "ua": "probe/1.0"}
            async with connect(url, user_agent_header=None) as ws:
                await ws.wait_closed()
            assert seen["ua"] is None

    async def test_max_size_raised_allows_large_messages(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0, max_size=4 * 2**20) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", max_size=4 * 2**20) as ws:
                payload = bytes(range(256)) * (3 * 2**12)  # 3 MiB
                await ws.send(payload)
                assert await ws.recv() == payload


class TestFailures:
    def test_bad_uris_and_options(self) -> None:
        with pytest.raises(ValueError):
            connect("http://127.0.0.1/")
        with pytest.raises(ValueError):
            connect("ws://127.0.0.1/#fragment")
        with pytest.raises(ValueError):
            connect("ws://user:pw@127.0.0.1/")
        with pytest.raises(ValueError, match="ssl"):
            import ssl

            connect("ws://127.0.0.1/", ssl=ssl.create_default_context())
        with pytest.raises(ValueError, match="compression"):
            connect("ws://127.0.0.1/", compression="gzip")
        with pytest.raises(TypeError, match="write_limit"):
            connect("ws://127.0.0.1/", write_limit=1.5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="write_limit"):
            connect("ws://127.0.0.1/", write_limit=(10, 20))

    async def test_connection_refused(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # bound, not listening: refused
            with pytest.raises(OSError):
                await connect(f"ws://127.0.0.1:{port}/")

    async def test_open_timeout(self) -> None:
        server, port = await raw_server(None)
        try:
            start = asyncio.get_running_loop().time()
            with pytest.raises(asyncio.TimeoutError):
                await connect(f"ws://127.0.0.1:{port}/", open_timeout=0.2)
            assert asyncio.get_running_loop().time() - start < 3
        finally:
            server.close()

    async def test_non_101_answer(self) -> None:
        server, port = await raw_server(
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 3\r\nConnection: close\r\n\r\nno\n"
        )
        try:
            with pytest.raises(InvalidStatus) as info:
                await connect(f"ws://127.0.0.1:{port}/")
            assert info.value.status == 403
        finally:
            server.close()

    async def test_wrong_accept_key(self) -> None:
        server, port = await raw_server(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n"
        )
        try:
            with pytest.raises(InvalidHandshake, match=r"(?i)accept"):
                await connect(f"ws://127.0.0.1:{port}/")
        finally:
            server.close()

    async def test_server_closes_during_handshake(self) -> None:
        server, port = await raw_server(b"")
        try:
            with pytest.raises(InvalidMessage):
                await connect(f"ws://127.0.0.1:{port}/")
        finally:
            server.close()
