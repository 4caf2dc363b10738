"""wss://: TLS with a certificate made at test time (``cryptography``, or the ``openssl`` command)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from certificates import client_context, make_certificate, server_context
from fastws import ConnectionClosedError, ConnectionClosedOK
from fastws.asyncio import ServerConnection, connect, serve


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, valid for a day."""
    return make_certificate(tmp_path_factory.mktemp("tls"))


class TestWss:
    async def test_echo_over_tls(
        self, certificate: tuple[Path, Path], port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0, ssl=server_context(certificate), max_size=2**22) as server:
            url = f"wss://localhost:{port_of(server)}/"
            async with connect(url, ssl=client_context(certificate), max_size=2**22) as ws:
                assert ws.transport.get_extra_info("ssl_object") is not None
                await ws.send("secret")
                assert await ws.recv() == "secret"
                payload = bytes(range(256)) * 8192  # 2 MiB through TLS records
                await ws.send(payload)
                assert await asyncio.wait_for(ws.recv(), 10) == payload
            assert ws.close_code == 1000

    async def test_ip_address_in_certificate(
        self, certificate: tuple[Path, Path], port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0, ssl=server_context(certificate)) as server:
            async with connect(f"wss://127.0.0.1:{port_of(server)}/", ssl=client_context(certificate)) as ws:
                await ws.send(b"ip")
                assert await ws.recv() == b"ip"

    async def test_default_context_verifies_the_certificate(
        self, certificate: tuple[Path, Path], port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0, ssl=server_context(certificate)) as server:
            # The default context trusts the system's CAs only: a
            # self-signed certificate must be refused.
            with pytest.raises(ssl.SSLCertVerificationError):
                await connect(f"wss://localhost:{port_of(server)}/")

    async def test_host_name_is_checked(
        self, certificate: tuple[Path, Path], port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0, ssl=server_context(certificate)) as server:
            with pytest.raises(ssl.SSLCertVerificationError):
                await connect(
                    f"wss://localhost:{port_of(server)}/",
                    ssl=client_context(certificate),
                    server_hostname="other.example",
                )

    async def test_close_paths_over_tls(
        self, certificate: tuple[Path, Path], port_of: Callable[[Any], int]
    ) -> None:
        # TLS cannot half-close: the server closes the whole connection
        # after the closing handshake; both sides must still see it as clean.
        async def handler(ws: ServerConnection) -> None:
            message = await ws.recv()
            await ws.close(4100, f"got {message}")

        async with serve(handler, "127.0.0.1", 0, ssl=server_context(certificate)) as server:
            url = f"wss://localhost:{port_of(server)}/"
            async with connect(url, ssl=client_context(certificate)) as ws:
                await ws.send("x")
                with pytest.raises(ConnectionClosedError) as info:
                    await ws.recv()
                assert (info.value.code, info.value.reason) == (4100, "got x")
                await asyncio.wait_for(ws.wait_closed(), 5)

            ws = await connect(url, ssl=client_context(certificate))
            await ws.send("y")
            with pytest.raises(ConnectionClosedError):
                await ws.recv()

    async def test_client_close_over_tls(
        self, certificate: tuple[Path, Path], port_of: Callable[[Any], int]
    ) -> None:
        outcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        async def handler(ws: ServerConnection) -> None:
            try:
                await ws.recv()
            except Exception as exc:
                outcome.set_result(exc)

        async with serve(handler, "127.0.0.1", 0, ssl=server_context(certificate)) as server:
            ws = await connect(f"wss://localhost:{port_of(server)}/", ssl=client_context(certificate))
            await asyncio.wait_for(ws.close(), 5)
            assert ws.close_code == 1000
            assert isinstance(await asyncio.wait_for(outcome, 5), ConnectionClosedOK)

    async def test_websockets_client_over_tls(
        self, certificate: tuple[Path, Path], port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        ws_client = pytest.importorskip("websockets.asyncio.client")
        async with serve(echo, "127.0.0.1", 0, ssl=server_context(certificate)) as server:
            url = f"wss://localhost:{port_of(server)}/"
            async with ws_client.connect(url, ssl=client_context(certificate)) as ws:
                await ws.send("interop")
                assert await ws.recv() == "interop"

    async def test_ssl_context_requires_wss(self, certificate: tuple[Path, Path]) -> None:
        with pytest.raises(ValueError):
            connect("ws://localhost/", ssl=client_context(certificate))


class TestTlsShutdown:
    async def test_a_peer_that_never_ends_tls_is_cut_off_at_close_timeout(
        self, certificate: tuple[Path, Path], port_of: Callable[[Any], int]
    ) -> None:
        # After a clean closing handshake the server closes at once; over TLS
        # that close sends close_notify and waits for the peer's. A peer that
        # stops reading never answers it: close_timeout bounds the wait, as it
        # bounds every other wait for the peer's end.
        opened: list[ServerConnection] = []

        async def handler(ws: ServerConnection) -> None:
            opened.append(ws)
            async for message in ws:
                await ws.send(message)

        key = b"\x01\x02\x03\x04"
        close_1000 = b"\x88\x82" + key + bytes(b ^ key[i % 4] for i, b in enumerate(b"\x03\xe8"))
        request = (
            b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        server_context_ = server_context(certificate)
        async with serve(handler, "127.0.0.1", 0, ssl=server_context_, close_timeout=0.3) as server:
            reader, writer = await asyncio.open_connection(
                "localhost", port_of(server), ssl=client_context(certificate)
            )
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 101 ")
            (connection,) = opened
            writer.transport.pause_reading()  # close_notify will never be read, nor answered
            writer.write(close_1000)
            # asyncio's own TLS shutdown timeout is 30 s (none on Python 3.10).
            await asyncio.wait_for(connection.wait_closed(), 5)
            assert connection.protocol.close_rcvd is not None
            writer.transport.abort()
