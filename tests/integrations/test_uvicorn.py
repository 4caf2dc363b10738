"""fastws.integrations.uvicorn: real uvicorn servers on loopback, real clients.

Every test starts a ``uvicorn.Server`` with ``ws=WebSocketProtocol`` on
127.0.0.1 (a free port) in the test's event loop, serving a FastAPI or
Starlette application or a bare ASGI one, and drives it with websockets'
and aiohttp's clients, raw sockets, or fastws's own sans-IO client. uvicorn's
own WebSocket tests run on the class too (``scripts/peer_suites.sh``); these
cover what they do not: 16 MiB messages, compression, the bounds of the
receive queue against a hostile peer, broadcast, the command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from typing import Any

import pytest

uvicorn = pytest.importorskip("uvicorn")
starlette = pytest.importorskip("starlette")
fastapi = pytest.importorskip("fastapi")
websockets = pytest.importorskip("websockets")
aiohttp = pytest.importorskip("aiohttp")

from fastapi import FastAPI, WebSocket, WebSocketDisconnect  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

import fastws  # noqa: E402
from fastws.asyncio.topics import Topics  # noqa: E402
from fastws.integrations import uvicorn as integration  # noqa: E402
from fastws.integrations.uvicorn import (  # noqa: E402
    UnsupportedVersion,
    WebSocketProtocol,
    check_version,
    connection_of,
)
from fastws.options import HOLD_LIMIT  # noqa: E402

MiB = 1 << 20


@contextlib.asynccontextmanager
async def running(app: Any, **settings: Any) -> AsyncIterator[tuple[Any, int]]:
    """A uvicorn server with fastws's class on 127.0.0.1; yields (server, port)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings.setdefault("lifespan", "off")
    config = uvicorn.Config(app, ws=WebSocketProtocol, log_config=None, **settings)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started, "uvicorn did not start"
        yield server, port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)
        sock.close()


def echo_app() -> FastAPI:
    """A FastAPI application: /echo sends every message back, and records what it saw."""
    app = FastAPI()
    app.state.seen = []

    @app.websocket("/echo")
    async def echo(websocket: WebSocket) -> None:
        app.state.seen.append(websocket.scope)
        offered = websocket.scope["subprotocols"]
        await websocket.accept(subprotocol=offered[-1] if offered else None)
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    app.state.seen.append(message)
                    return
                if message.get("text") is not None:
                    await websocket.send_text(message["text"])
                else:
                    await websocket.send_bytes(message["bytes"])
        except WebSocketDisconnect:  # pragma: no cover - receive() returned it first
            pass

    return app


class TestEcho:
    """Messages both ways, with each client, under each of uvicorn's HTTP classes."""

    @pytest.mark.parametrize("http", ["h11", "httptools"])
    async def test_websockets_client_text_binary_and_scope(self, http: str) -> None:
        app = echo_app()
        async with running(app, http=http, root_path="/api") as (_, port):
            url = f"ws://127.0.0.1:{port}/echo?x=1&y=%20"
            async with connect(url, subprotocols=["a", "b"], compression=None) as ws:
                await ws.send("héllo")
                assert await ws.recv() == "héllo"
                await ws.send(b"\x00\xff" * 100)
                assert await ws.recv() == b"\x00\xff" * 100
                assert ws.subprotocol == "b"
                assert ws.response.headers["server"] == "uvicorn"
                assert "date" in ws.response.headers
                local = ws.local_address
        scope = app.state.seen[0]
        assert scope["type"] == "websocket"
        assert scope["asgi"]["spec_version"] == "2.4"
        assert scope["http_version"] == "1.1"
        assert scope["scheme"] == "ws"
        assert scope["server"] == ("127.0.0.1", port)
        assert scope["client"] == (local[0], local[1])
        assert scope["root_path"] == "/api"
        assert scope["path"] == "/api/echo"
        assert scope["raw_path"] == b"/api/echo"
        assert scope["query_string"] == b"x=1&y=%20"
        assert scope["subprotocols"] == ["a", "b"]
        assert (b"sec-websocket-protocol", b"a, b") in scope["headers"]
        assert all(name == name.lower() for name, _ in scope["headers"])
        assert "websocket.http.response" in scope["extensions"]
        assert scope["extensions"]["fastws"]["connection"].__class__ is WebSocketProtocol
        assert app.state.seen[1] == {"type": "websocket.disconnect", "code": 1000, "reason": ""}

    async def test_wss_over_uvicorn_tls(self, tmp_path: Any) -> None:
        from certificates import client_context, make_certificate

        cert, key = make_certificate(tmp_path)
        app = echo_app()
        async with running(app, ssl_certfile=str(cert), ssl_keyfile=str(key)) as (_, port):
            async with connect(f"wss://localhost:{port}/echo", ssl=client_context((cert, key))) as ws:
                await ws.send(b"over tls" * 10_000)
                assert await ws.recv() == b"over tls" * 10_000
        assert app.state.seen[0]["scheme"] == "wss"
        assert app.state.seen[1]["code"] == 1000

    @pytest.mark.parametrize("trusted", [True, False])
    async def test_proxy_headers_as_uvicorn_applies_them(self, trusted: bool) -> None:
        app = echo_app()
        allow = "127.0.0.1" if trusted else "10.9.9.9"
        async with running(app, proxy_headers=True, forwarded_allow_ips=allow) as (_, port):
            headers = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
            async with connect(f"ws://127.0.0.1:{port}/echo", additional_headers=headers) as ws:
                await ws.send("x")
                await ws.recv()
        scope = app.state.seen[0]
        if trusted:
            assert scope["client"] == ("203.0.113.7", 0)
            assert scope["scheme"] == "wss"
        else:
            assert scope["client"][0] == "127.0.0.1"
            assert scope["scheme"] == "ws"

    async def test_aiohttp_client_16_mib_both_ways(self) -> None:
        payload = bytes(range(256)) * (16 * MiB // 256)
        async with running(echo_app()) as (_, port), aiohttp.ClientSession() as session:
            async with session.ws_connect(f"ws://127.0.0.1:{port}/echo", max_msg_size=0) as ws:
                await ws.send_bytes(payload)
                reply = await ws.receive(timeout=20)
                assert reply.type is aiohttp.WSMsgType.BINARY
                assert reply.data == payload
                text = "ü" * (8 * MiB - 1)  # 16 MiB - 2 bytes of UTF-8
                await ws.send_str(text)
                reply = await ws.receive(timeout=20)
                assert reply.data == text

    @pytest.mark.parametrize("deflate", [True, False])
    async def test_permessage_deflate_negotiated_by_fastws(self, deflate: bool) -> None:
        async with running(echo_app(), ws_per_message_deflate=deflate) as (_, port):
            async with connect(f"ws://127.0.0.1:{port}/echo") as ws:
                header = ws.response.headers.get("sec-websocket-extensions")
                message = "compressible " * 10_000
                await ws.send(message)
                assert await ws.recv() == message
        if deflate:
            assert header == "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
        else:
            assert header is None


class TestClosing:
    """Close codes and reasons both ways, size limits, keepalive, shutdown."""

    async def test_codes_and_reasons_both_ways(self) -> None:
        events: list[Any] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            assert (await receive())["type"] == "websocket.connect"
            await send({"type": "websocket.accept"})
            message = await receive()
            if message.get("text") == "close me":
                await send({"type": "websocket.close", "code": 4001, "reason": "bye ✓"})
                events.append(await receive())
            else:
                events.append(message)

        async with running(app) as (_, port):
            async with connect(f"ws://127.0.0.1:{port}/") as ws:
                await ws.send("close me")
                with pytest.raises(websockets.ConnectionClosed):
                    await ws.recv()
                assert (ws.close_code, ws.close_reason) == (4001, "bye ✓")
            async with connect(f"ws://127.0.0.1:{port}/") as ws:
                await ws.close(4002, "later")
            for _ in range(200):
                if len(events) == 2:
                    break
                await asyncio.sleep(0.01)
        assert events == [
            {"type": "websocket.disconnect", "code": 4001, "reason": "bye ✓"},
            {"type": "websocket.disconnect", "code": 4002, "reason": "later"},
        ]

    async def test_message_over_ws_max_size_is_1009(self) -> None:
        events: list[Any] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            while True:
                message = await receive()
                events.append(message)
                if message["type"] == "websocket.disconnect":
                    return

        async with running(app, ws_max_size=1000) as (_, port):
            async with connect(f"ws://127.0.0.1:{port}/", compression=None) as ws:
                await ws.send(b"x" * 1000)  # at the limit: delivered
                with pytest.raises(websockets.ConnectionClosedError):
                    await ws.send(b"x" * 1001)
                    await ws.recv()
                assert ws.close_code == 1009
            for _ in range(200):
                if events and events[-1]["type"] == "websocket.disconnect":
                    break
                await asyncio.sleep(0.01)
        assert events[0] == {"type": "websocket.receive", "bytes": b"x" * 1000}
        assert events[-1]["type"] == "websocket.disconnect"
        assert events[-1]["code"] == 1009

    @pytest.mark.parametrize(
        ("frame", "code"),
        [
            (fastws.encode_frame(fastws.Opcode.TEXT, b"\xc3\x28", mask=True), 1007),  # invalid UTF-8
            (fastws.encode_frame(fastws.Opcode.TEXT, b"unmasked"), 1002),  # RFC 6455 section 5.1
            (fastws.encode_frame(fastws.Opcode.CONTINUATION, b"x", mask=True), 1002),  # nothing to continue
        ],
        ids=["invalid-utf8", "unmasked", "stray-continuation"],
    )
    async def test_protocol_violations_get_their_close_codes(self, frame: bytes, code: int) -> None:
        events: list[Any] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            events.append(await receive())

        async with running(app) as (_, port):
            reader, writer = await open_raw(port)
            try:
                writer.write(frame)
                frames = await read_frames(reader, until_close=True)
            finally:
                writer.close()
            for _ in range(200):
                if events:
                    break
                await asyncio.sleep(0.01)
        assert frames[-1].opcode == fastws.Opcode.CLOSE
        assert int.from_bytes(frames[-1].payload[:2], "big") == code
        assert events[0]["type"] == "websocket.disconnect"
        assert events[0]["code"] == code

    async def test_keepalive_ping_and_timeout(self) -> None:
        connections: list[Any] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            connections.append(connection_of(scope))
            while (await receive())["type"] != "websocket.disconnect":
                pass

        async with running(app, ws_ping_interval=0.1, ws_ping_timeout=0.3) as (_, port):
            async with connect(f"ws://127.0.0.1:{port}/", ping_interval=None):
                for _ in range(100):
                    if connections and connections[0].latency > 0:
                        break
                    await asyncio.sleep(0.02)
                assert connections[0].latency > 0  # the client answered our pings
            # A client that never reads gets no chance to answer: 1011.
            reader, writer = await open_raw(port)
            try:
                frames = await read_frames(reader, until_close=True)
            finally:
                writer.close()
            assert frames[-1].opcode == fastws.Opcode.CLOSE
            assert frames[-1].payload == (1011).to_bytes(2, "big") + b"keepalive ping timeout"

    async def test_graceful_shutdown_closes_every_connection_with_1012(self) -> None:
        events: list[Any] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            events.append(await receive())

        clients = []
        async with running(app) as (server, port):
            for _ in range(5):
                clients.append(await connect(f"ws://127.0.0.1:{port}/"))
            assert len(server.server_state.connections) == 5
        # running() left: uvicorn shut down, which waited for the connections.
        for ws in clients:
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            assert ws.close_code == 1012
            await ws.close()
        assert events == [{"type": "websocket.disconnect", "code": 1012}] * 5

    async def test_close_resumes_reading_paused_at_the_queue_limit(self) -> None:
        """The peer's close frame behind messages held at the limits still ends the handshake."""
        proceed = asyncio.Event()
        held: list[bool] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            await proceed.wait()  # never receives: the queue fills
            held.append(connection_of(scope)._input_waiting)
            await send({"type": "websocket.close", "code": 1000})

        async with running(app, ws_max_queue=2) as (_, port):
            async with connect(f"ws://127.0.0.1:{port}/", compression=None) as ws:
                for _ in range(20):
                    await ws.send(b"m" * 1000)
                await asyncio.sleep(0.2)
                proceed.set()
                with pytest.raises(websockets.ConnectionClosedOK):
                    await asyncio.wait_for(ws.recv(), 5)
                assert ws.close_code == 1000
        assert held == [True]


class TestDenial:
    """The denial response extension, and refusals before accept."""

    async def test_whole_body_gets_a_content_length(self) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await receive()
            await send(
                {"type": "websocket.http.response.start", "status": 401, "headers": [(b"x-why", b"token")]}
            )
            await send({"type": "websocket.http.response.body", "body": b"no entry"})

        async with running(app) as (_, port):
            head, body = await raw_request(port)
        assert head.startswith(b"HTTP/1.1 401 Unauthorized\r\n")
        assert b"\r\nx-why: token\r\n" in head
        assert b"\r\ncontent-length: 8\r\n" in head
        assert b"\r\nserver: uvicorn\r\n" in head
        assert body == b"no entry"

    async def test_streamed_body_is_chunked(self) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.http.response.start", "status": 404, "headers": []})
            for part in (b"not ", b"", b"here"):
                await send({"type": "websocket.http.response.body", "body": part, "more_body": True})
                await asyncio.sleep(0.01)
            await send({"type": "websocket.http.response.body", "body": b"!"})

        async with running(app) as (_, port):
            head, body = await raw_request(port)
        assert head.startswith(b"HTTP/1.1 404 Not Found\r\n")
        assert b"\r\ntransfer-encoding: chunked\r\n" in head
        assert b"content-length" not in head
        assert body == b"4\r\nnot \r\n4\r\nhere\r\n1\r\n!\r\n0\r\n\r\n"

    async def test_close_before_accept_is_403_and_error_is_500(self, caplog: Any) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await receive()
            if scope["path"] == "/forbidden":
                await send({"type": "websocket.close"})
            else:
                raise RuntimeError("boom")

        caplog.set_level(logging.INFO, "uvicorn.error")
        async with running(app) as (_, port):
            head, _ = await raw_request(port, "/forbidden?a=b")
            assert head.startswith(b"HTTP/1.1 403 Forbidden\r\n")
            head, body = await raw_request(port, "/broken")
            assert head.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
            assert body == b"Internal Server Error"
        messages = [record.getMessage() for record in caplog.records]
        assert any(re.fullmatch(r'127\.0\.0\.1:\d+ - "WebSocket /forbidden\?a=b" 403', m) for m in messages)
        assert any(m.startswith("Exception in ASGI application") for m in messages)

    async def test_not_a_websocket_upgrade_is_answered_without_the_app(self) -> None:
        called: list[bool] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            called.append(True)

        async with running(app) as (_, port):
            head, body = await raw_request(port, key=None)
        assert head.startswith(b"HTTP/1.1 400 ")
        assert b"missing Sec-WebSocket-Key header" in body
        assert called == []


class TestFastwsFeatures:
    """What the fastws connection under a scope gives an application."""

    async def test_broadcast_and_topics_over_uvicorn_connections(self) -> None:
        app = FastAPI()
        topics = Topics()
        joined = asyncio.Event()
        members: list[Any] = []

        @app.websocket("/room")
        async def room(websocket: WebSocket) -> None:
            await websocket.accept()
            connection = connection_of(websocket)
            members.append(connection)
            topics.subscribe(connection, "room")
            if len(members) == 3:
                joined.set()
            try:
                while True:
                    text = await websocket.receive_text()
                    await connection.send(f"only you: {text}")  # fastws's own send, alongside ASGI
                    fastws.broadcast(members, f"all: {text}")
                    topics.publish("room", f"topic: {text}")
            except WebSocketDisconnect:
                topics.unsubscribe(connection, "room")

        async with running(app) as (_, port):
            clients = [await connect(f"ws://127.0.0.1:{port}/room") for _ in range(3)]
            await asyncio.wait_for(joined.wait(), 5)
            await clients[0].send("hi")
            assert await asyncio.wait_for(clients[0].recv(), 5) == "only you: hi"
            for ws in clients:
                assert await asyncio.wait_for(ws.recv(), 5) == "all: hi"
                assert await asyncio.wait_for(ws.recv(), 5) == "topic: hi"
            for ws in clients:
                await ws.close()
        with pytest.raises(LookupError):
            connection_of({"type": "websocket", "extensions": {}})

    async def test_hostile_compressed_flood_is_bounded(self) -> None:
        """1 MiB messages that deflate to 1 KiB, to an application that does not read."""
        stop = asyncio.Event()
        state: dict[str, Any] = {}

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            state["connection"] = connection_of(scope)
            await stop.wait()
            count = 0
            while (message := await receive())["type"] == "websocket.receive":
                assert message["bytes"] == bytes(MiB)
                count += 1
            state["received"] = count

        sent = 64
        async with running(app) as (_, port):
            async with connect(f"ws://127.0.0.1:{port}/", max_size=None) as ws:
                for _ in range(sent):
                    await ws.send(bytes(MiB))
                connection = state["connection"]
                for _ in range(100):
                    await asyncio.sleep(0.02)
                    queued = list(connection._queue)
                    assert len(queued) <= 32  # ws_max_queue
                    assert sum(map(len, queued)) <= WebSocketProtocol.max_queue_bytes + MiB
                    assert connection.protocol.held_bytes <= HOLD_LIMIT + MiB
                assert connection._input_waiting  # delivery stopped at the limit
                stop.set()
                await ws.close()
            for _ in range(500):
                if "received" in state:
                    break
                await asyncio.sleep(0.01)
        assert state["received"] == sent


BROWSER_SCRIPT = """
(async () => {
  const ws = new WebSocket("ws://127.0.0.1:%(port)d/chat", ["chat.v1"]);
  ws.binaryType = "arraybuffer";
  const next = () => new Promise((resolve) =>
      ws.addEventListener("message", (e) => resolve(e.data), {once: true}));
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  const result = {protocol: ws.protocol, extensions: ws.extensions};
  ws.send("héllo");
  result.text = await next();
  const big = new Uint8Array(1 << 20);
  for (let i = 0; i < big.length; i++) big[i] = i %% 251;
  ws.send(big.buffer);
  result.big = await next();
  const closed = new Promise((resolve) => { ws.onclose = (e) =>
      resolve({code: e.code, reason: e.reason, wasClean: e.wasClean}); });
  ws.send("close please");
  result.close = await closed;
  return result;
})()
"""


@pytest.mark.timeout_s(90)
async def test_chromium_against_a_fastapi_app_under_uvicorn() -> None:
    from chromium_driver import DevTools, chromium, http_server, require_chromium

    require_chromium()
    app = FastAPI()

    @app.websocket("/chat")
    async def chat(websocket: WebSocket) -> None:
        await websocket.accept(subprotocol="chat.v1")
        while True:
            message = await websocket.receive()
            if message.get("text") == "close please":
                await websocket.close(4321, "bye from uvicorn")
                return
            if message.get("text") is not None:
                await websocket.send_text(f"echo: {message['text']}")
            else:
                data = message["bytes"]
                ok = all(b == i % 251 for i, b in enumerate(data))
                await websocket.send_text(f"{len(data)} bytes, pattern {'ok' if ok else 'WRONG'}")

    async with running(app) as (_, port), http_server() as http_port, chromium() as browser:
        devtools = DevTools(browser)
        page_url = f"http://127.0.0.1:{http_port}/index.html"
        session = await devtools.open_page(page_url)
        result = await devtools.evaluate(session, BROWSER_SCRIPT % {"port": port}, wait=True)
    assert result["protocol"] == "chat.v1"
    assert result["extensions"] == "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
    assert result["text"] == "echo: héllo"
    assert result["big"] == f"{1 << 20} bytes, pattern ok"
    assert result["close"] == {"code": 4321, "reason": "bye from uvicorn", "wasClean": True}


class TestVersionAndCommandLine:
    def test_versions_outside_the_range_are_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert check_version() == uvicorn.__version__
        for version in ("0.54.0", "0.55.0", "0.55.9"):
            assert check_version(version) == version
        for version in ("0.53.0", "0.56.0", "1.0", "dev"):
            with pytest.raises(UnsupportedVersion, match=r"uvicorn>=0\.54,<0\.56"):
                check_version(version)
        monkeypatch.setattr(integration.uvicorn, "__version__", "0.53.0")
        config = uvicorn.Config(echo_app(), ws=WebSocketProtocol, log_config=None)
        with pytest.raises(UnsupportedVersion):
            WebSocketProtocol(config, uvicorn.server.ServerState(), {})

    @pytest.mark.timeout_s(60)
    async def test_uvicorn_command_line(self, tmp_path: Any) -> None:
        (tmp_path / "chat.py").write_text(
            textwrap.dedent(
                """
                from starlette.applications import Starlette
                from starlette.routing import WebSocketRoute

                async def echo(websocket):
                    await websocket.accept()
                    async for text in websocket.iter_text():
                        engine = type(websocket.scope["extensions"]["fastws"]["connection"]).__module__
                        await websocket.send_text(f"{text} via {engine}")

                app = Starlette(routes=[WebSocketRoute("/ws", echo)])
                """
            )
        )
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        command = [sys.executable, "-m", "uvicorn", "chat:app", "--port", str(port)]
        command += ["--ws", "fastws.integrations.uvicorn:WebSocketProtocol"]
        process = subprocess.Popen(
            command, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)}, stderr=subprocess.PIPE
        )
        try:
            for _ in range(200):
                try:
                    async with connect(f"ws://127.0.0.1:{port}/ws") as ws:
                        await ws.send("hi")
                        reply = await ws.recv()
                    break
                except OSError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("the uvicorn command never served")
        finally:
            process.terminate()
            _, errors = await asyncio.to_thread(process.communicate, timeout=20)
        assert reply == "hi via fastws.integrations.uvicorn"
        assert b'"WebSocket /ws" [accepted]' in errors


# -- raw clients ----------------------------------------------------------------------


async def open_raw(port: int, path: str = "/") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A client that completes the handshake with fastws's sans-IO client, then reads raw frames."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    client = fastws.ClientProtocol(f"ws://127.0.0.1:{port}{path}")
    client.send_request(client.connect())
    writer.write(b"".join(client.data_to_send()))
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101 "), head
    return reader, writer


async def read_frames(reader: asyncio.StreamReader, until_close: bool) -> list[Any]:
    """Frames from the server, until its close frame (bounded: 10 s, 100 frames)."""
    parser = fastws.FrameParser(require_mask=False)
    frames: list[Any] = []

    async def read() -> None:
        while len(frames) < 100:
            data = await reader.read(65536)
            if not data:
                return
            frames.extend(parser.feed(data))
            if until_close and frames and frames[-1].opcode == fastws.Opcode.CLOSE:
                return

    await asyncio.wait_for(read(), 10)
    return frames


async def raw_request(
    port: int, path: str = "/", key: str | None = "dGhlIHNhbXBsZSBub25jZQ=="
) -> tuple[bytes, bytes]:
    """Send an upgrade request; return the response's head and everything after it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade"]
    lines.append("Sec-WebSocket-Version: 13")
    if key is not None:
        lines.append(f"Sec-WebSocket-Key: {key}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    try:
        data = await asyncio.wait_for(reader.read(), 10)  # until the server closes
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head + b"\r\n", body
