"""fastws.serve: handshake, handlers, errors, shutdown, timeouts (over loopback)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

from fastws import ConnectionClosedError, ConnectionClosedOK, InvalidStatus
from fastws.asyncio import ServerConnection, connect, serve
from fastws.protocol import State


async def read_http_head(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)


REQUEST = (
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


class TestServe:
    async def test_await_form_and_echo(self, port_of: Callable[[Any], int], echo: Callable[..., Any]) -> None:
        server = await serve(echo, "127.0.0.1", 0)
        try:
            assert server.is_serving()
            async with connect(f"ws://127.0.0.1:{port_of(server)}/path?q=1") as ws:
                await ws.send("hello")
                assert await ws.recv() == "hello"
                await ws.send(b"\x01\x02")
                assert await ws.recv() == b"\x01\x02"
        finally:
            server.close()
            await server.wait_closed()
        assert not server.is_serving()

    async def test_handler_sees_request_and_addresses(self, port_of: Callable[[Any], int]) -> None:
        seen: dict[str, Any] = {}

        async def handler(ws: ServerConnection) -> None:
            assert ws.request is not None and ws.response is not None
            seen["path"] = ws.request.path
            seen["ua"] = ws.request.headers.get("User-Agent")
            seen["status"] = ws.response.status
            seen["local"] = ws.local_address
            seen["remote"] = ws.remote_address
            await ws.send("done")

        async with serve(handler, "127.0.0.1", 0) as server:
            port = port_of(server)
            async with connect(f"ws://127.0.0.1:{port}/chat?room=1") as ws:
                assert await ws.recv() == "done"
                local = ws.local_address
                assert ws.remote_address == ("127.0.0.1", port)
        assert seen["path"] == "/chat?room=1"
        assert seen["ua"] and "fastws" in seen["ua"]
        assert seen["status"] == 101
        assert seen["local"] == ("127.0.0.1", port)
        assert seen["remote"] == local

    async def test_handler_return_closes_with_1000(self, port_of: Callable[[Any], int]) -> None:
        async def handler(ws: ServerConnection) -> None:
            await ws.send("bye")

        async with serve(handler, "127.0.0.1", 0) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/") as ws:
                assert await ws.recv() == "bye"
                with pytest.raises(ConnectionClosedOK):
                    await ws.recv()
                assert ws.close_code == 1000

    async def test_handler_error_closes_with_1011_and_is_logged(
        self, caplog: pytest.LogCaptureFixture, port_of: Callable[[Any], int]
    ) -> None:
        async def handler(ws: ServerConnection) -> None:
            if await ws.recv() == "boom":
                raise RuntimeError("handler bug")
            await ws.send("fine")

        caplog.set_level(logging.ERROR, logger="fastws.server")
        async with serve(handler, "127.0.0.1", 0) as server:
            url = f"ws://127.0.0.1:{port_of(server)}/"
            async with connect(url) as ws:
                await ws.send("boom")
                with pytest.raises(ConnectionClosedError) as info:
                    await ws.recv()
                assert info.value.code == 1011
            # The server is still up.
            async with connect(url) as ws:
                await ws.send("ok")
                assert await ws.recv() == "fine"
        assert any("handler bug" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)

    async def test_handler_ending_on_closed_connection_is_not_an_error(
        self, caplog: pytest.LogCaptureFixture, port_of: Callable[[Any], int]
    ) -> None:
        async def handler(ws: ServerConnection) -> None:
            while True:
                await ws.recv()

        caplog.set_level(logging.ERROR, logger="fastws.server")
        async with serve(handler, "127.0.0.1", 0) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/"):
                pass
            await asyncio.sleep(0.05)
        assert not caplog.records

    async def test_shutdown_closes_connections_with_1001(self, port_of: Callable[[Any], int]) -> None:
        finished = asyncio.Event()

        async def handler(ws: ServerConnection) -> None:
            try:
                async for _ in ws:
                    pass
            finally:
                finished.set()

        server = await serve(handler, "127.0.0.1", 0)
        clients = [await connect(f"ws://127.0.0.1:{port_of(server)}/") for _ in range(3)]
        server.close()
        for ws in clients:
            with pytest.raises(ConnectionClosedOK) as info:
                await asyncio.wait_for(ws.recv(), 5)
            assert info.value.code == 1001
        await asyncio.wait_for(server.wait_closed(), 5)
        assert finished.is_set()
        assert not server.connections and not server.handler_tasks

    async def test_shutdown_cancels_handlers_that_ignore_the_close(
        self, port_of: Callable[[Any], int]
    ) -> None:
        cancelled = asyncio.Event()

        async def handler(ws: ServerConnection) -> None:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        server = await serve(handler, "127.0.0.1", 0, close_timeout=0.2)
        ws = await connect(f"ws://127.0.0.1:{port_of(server)}/")
        server.close()
        await asyncio.wait_for(server.wait_closed(), 5)
        assert cancelled.is_set()
        with pytest.raises(ConnectionClosedOK):
            await ws.recv()

    async def test_serve_forever_returns_after_close(self, echo: Callable[..., Any]) -> None:
        server = await serve(echo, "127.0.0.1", 0)
        task = asyncio.create_task(server.serve_forever())
        await asyncio.sleep(0.01)
        assert not task.done()
        server.close()
        await asyncio.wait_for(task, 5)

    async def test_serve_forever_cancelled_closes_the_server(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        server = await serve(echo, "127.0.0.1", 0)
        ws = await connect(f"ws://127.0.0.1:{port_of(server)}/")
        task = asyncio.create_task(server.serve_forever())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        assert not server.is_serving()
        with pytest.raises(ConnectionClosedOK):
            await ws.recv()

    async def test_unknown_compression_is_refused(self, echo: Callable[..., Any]) -> None:
        with pytest.raises(ValueError, match="compression"):
            serve(echo, "127.0.0.1", 0, compression="gzip")

    async def test_bad_write_limit_fails_the_call(self, echo: Callable[..., Any]) -> None:
        # Not each connection's connection_made, later, where the loop only logs it.
        with pytest.raises(ValueError, match="write_limit"):
            serve(echo, "127.0.0.1", 0, write_limit=-1)
        with pytest.raises(TypeError, match="write_limit"):
            serve(echo, "127.0.0.1", 0, write_limit=(32768, "low"))
        with pytest.raises(ValueError, match="max_queue"):
            serve(echo, "127.0.0.1", 0, max_queue=0)


class TestHandshake:
    async def test_slow_handshake_is_dropped(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0, open_timeout=0.2) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
            writer.write(REQUEST[:20])  # a slowloris peer: never finishes
            start = asyncio.get_running_loop().time()
            assert await asyncio.wait_for(reader.read(), 5) == b""
            assert asyncio.get_running_loop().time() - start < 3
            writer.close()

    async def test_plain_http_request_gets_426(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        # RFC 9110 section 15.5.22: 426 Upgrade Required, with the Upgrade
        # header saying what to upgrade to.
        async with serve(echo, "127.0.0.1", 0) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # not an upgrade
            head = await read_http_head(reader)
            assert head.startswith(b"HTTP/1.1 426 Upgrade Required\r\n")
            assert b"\r\nUpgrade: websocket\r\n" in head
            writer.close()

    async def test_malformed_request_gets_400(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
            # RFC 9112 section 5.1: no whitespace between a field name and its colon.
            writer.write(b"GET / HTTP/1.1\r\nHost : x\r\n\r\n")
            head = await read_http_head(reader)
            assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n")
            writer.close()

    async def test_raw_handshake_accept_key(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        # RFC 6455 section 1.3's example key and accept value.
        async with serve(echo, "127.0.0.1", 0) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
            writer.write(REQUEST)
            head = await read_http_head(reader)
            assert head.startswith(b"HTTP/1.1 101 ")
            assert b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head
            writer.close()

    async def test_process_request_can_refuse(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        def process_request(ws: ServerConnection, request: Any) -> Any:
            if request.headers.get("Authorization") != "Bearer good":
                return ws.respond(401, "who are you?\n")
            return None

        async with serve(echo, "127.0.0.1", 0, process_request=process_request) as server:
            url = f"ws://127.0.0.1:{port_of(server)}/"
            with pytest.raises(InvalidStatus) as info:
                await connect(url)
            assert info.value.status == 401
            async with connect(url, additional_headers={"Authorization": "Bearer good"}) as ws:
                await ws.send("in")
                assert await ws.recv() == "in"

    async def test_async_process_request(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async def process_request(ws: ServerConnection, request: Any) -> Any:
            await asyncio.sleep(0.01)
            return ws.respond(404, "nothing here\n") if request.path != "/ok" else None

        async with serve(echo, "127.0.0.1", 0, process_request=process_request) as server:
            with pytest.raises(InvalidStatus) as info:
                await connect(f"ws://127.0.0.1:{port_of(server)}/nope")
            assert info.value.status == 404
            async with connect(f"ws://127.0.0.1:{port_of(server)}/ok") as ws:
                await ws.send("x")
                assert await ws.recv() == "x"

    async def test_process_response_adds_a_header(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        def process_response(ws: ServerConnection, request: Any, response: Any) -> None:
            response.headers["X-Test"] = "yes"

        async with serve(echo, "127.0.0.1", 0, process_response=process_response) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/") as ws:
                assert ws.response is not None
                assert ws.response.headers["X-Test"] == "yes"

    async def test_process_request_error_gives_500(
        self, caplog: pytest.LogCaptureFixture, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        def process_request(ws: ServerConnection, request: Any) -> Any:
            raise RuntimeError("hook bug")

        caplog.set_level(logging.CRITICAL, logger="fastws.server")
        async with serve(echo, "127.0.0.1", 0, process_request=process_request) as server:
            with pytest.raises(InvalidStatus) as info:
                await connect(f"ws://127.0.0.1:{port_of(server)}/")
            assert info.value.status == 500

    async def test_origin_refused_with_403(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0, origins=["https://good.example"]) as server:
            url = f"ws://127.0.0.1:{port_of(server)}/"
            with pytest.raises(InvalidStatus) as info:
                await connect(url, origin="https://evil.example")
            assert info.value.status == 403
            async with connect(url, origin="https://good.example") as ws:
                await ws.send("ok")
                assert await ws.recv() == "ok"

    async def test_subprotocol_negotiation(self, port_of: Callable[[Any], int]) -> None:
        async def handler(ws: ServerConnection) -> None:
            await ws.send(ws.subprotocol or "none")

        async with serve(handler, "127.0.0.1", 0, subprotocols=["chat.v2", "chat.v1"]) as server:
            url = f"ws://127.0.0.1:{port_of(server)}/"
            async with connect(url, subprotocols=["chat.v1", "chat.v2"]) as ws:
                assert ws.subprotocol == "chat.v2"
                assert await ws.recv() == "chat.v2"
            async with connect(url, subprotocols=["other"]) as ws:
                assert ws.subprotocol is None
                assert await ws.recv() == "none"

    async def test_frames_sent_right_after_the_request(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        # A client that does not wait for the 101 (RFC 6455 section 4.1 says
        # it must): the frame is still delivered once the server accepts.
        from fastws.codec import encode_frame

        async with serve(echo, "127.0.0.1", 0) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
            writer.write(REQUEST + encode_frame(1, b"early", mask=b"abcd"))
            await read_http_head(reader)
            frame = await asyncio.wait_for(reader.readexactly(7), 5)
            assert frame == b"\x81\x05early"
            writer.close()

    async def test_connection_state_after_handshake(self, port_of: Callable[[Any], int]) -> None:
        states: list[State] = []

        async def handler(ws: ServerConnection) -> None:
            states.append(ws.state)

        async with serve(handler, "127.0.0.1", 0) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/") as ws:
                with pytest.raises(ConnectionClosedOK):
                    await ws.recv()
        assert states == [State.OPEN]


class TestShutdownModes:
    async def test_close_without_closing_connections_waits_for_handlers(
        self, port_of: Callable[[Any], int]
    ) -> None:
        release = asyncio.Event()
        ended: list[str] = []

        async def handler(ws: ServerConnection) -> None:
            await release.wait()
            await ws.send("last words")
            ended.append("handler")

        server = await serve(handler, "127.0.0.1", 0)
        ws = await connect(f"ws://127.0.0.1:{port_of(server)}/")
        server.close(close_connections=False)
        closing = asyncio.create_task(server.wait_closed())
        await asyncio.sleep(0.05)
        assert not closing.done()  # the handler still runs, its connection is open
        assert not server.is_serving()
        release.set()
        assert await ws.recv() == "last words"
        await asyncio.wait_for(closing, 5)
        assert ended == ["handler"]
        with pytest.raises(ConnectionClosedOK):
            await ws.recv()

    async def test_shutdown_drops_connections_still_in_handshake(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        server = await serve(echo, "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
        writer.write(REQUEST[:30])
        await asyncio.sleep(0.05)
        server.close()
        await asyncio.wait_for(server.wait_closed(), 5)
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()


def test_echo_on_uvloop(port_of: Callable[[Any], int], echo: Callable[..., Any]) -> None:
    uvloop = pytest.importorskip("uvloop")

    async def main() -> None:
        async with serve(echo, "127.0.0.1", 0) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/") as ws:
                for message in ("text", b"binary", "x" * 100_000):
                    await ws.send(message)
                    assert await ws.recv() == message
                assert await asyncio.wait_for(await ws.ping(), 5) >= 0
            assert ws.close_code == 1000

    uvloop.run(asyncio.wait_for(main(), 20))


# -- the end of TCP after a clean closing handshake ------------------------------------

# A masked close frame with code 1000 (key 0x01020304).
_KEY = b"\x01\x02\x03\x04"
CLOSE_1000 = b"\x88\x82" + _KEY + bytes(b ^ _KEY[i % 4] for i, b in enumerate(b"\x03\xe8"))
SERVER_CLOSE_1000 = b"\x88\x02\x03\xe8"


class TestServerEndsTCP:
    """RFC 6455 section 5.5.1 and 7.1.1: after close frames went both ways, the
    server closes TCP at once, first, without waiting for the client's end;
    only a close frame that cannot be written yet is waited for (within
    ``close_timeout``)."""

    def test_client_initiated_close(
        self, port_of: Callable[[Any], int], on_both_loops: Callable[..., None]
    ) -> None:
        opened: list[ServerConnection] = []
        still_listed: list[bool] = []

        async def handler(ws: ServerConnection) -> None:
            opened.append(ws)
            async for message in ws:
                await ws.send(message)
            # The transport was closed before recv() woke: connection_lost ran
            # first, and the handler's end has nothing left to wait for.
            still_listed.append(ws in ws.server.connections)

        async def main() -> None:
            opened.clear()
            still_listed.clear()
            # close_timeout is long: the connection would last that long if the
            # server waited for the client's end of TCP.
            async with serve(handler, "127.0.0.1", 0, close_timeout=30) as server:
                reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
                writer.write(REQUEST)
                assert (await read_http_head(reader)).startswith(b"HTTP/1.1 101 ")
                writer.write(CLOSE_1000)
                # The server's close frame, then its FIN.
                assert await asyncio.wait_for(reader.read(), 5) == SERVER_CLOSE_1000
                (connection,) = opened
                # The client has not closed its side, and the connection is over.
                await asyncio.wait_for(connection.wait_closed(), 5)
                assert connection.close_code == 1000
                for _ in range(100):  # bounded: the handler ends right after
                    if still_listed:
                        break
                    await asyncio.sleep(0.01)
                assert still_listed == [False]
                assert not writer.is_closing()
                writer.close()

        on_both_loops(main)

    def test_server_initiated_close(
        self, port_of: Callable[[Any], int], on_both_loops: Callable[..., None]
    ) -> None:
        ended: list[Any] = []

        async def handler(ws: ServerConnection) -> None:
            await ws.close(1000)
            ended.append((ws.close_code, ws.state))

        async def main() -> None:
            ended.clear()
            async with serve(handler, "127.0.0.1", 0, close_timeout=30) as server:
                reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
                writer.write(REQUEST)
                assert (await read_http_head(reader)).startswith(b"HTTP/1.1 101 ")
                assert await asyncio.wait_for(reader.readexactly(4), 5) == SERVER_CLOSE_1000
                writer.write(CLOSE_1000)
                assert await asyncio.wait_for(reader.read(), 5) == b""
                for _ in range(100):  # bounded: the handler returns right after close()
                    if ended:
                        break
                    await asyncio.sleep(0.01)
                assert ended == [(1000, State.CLOSED)]
                writer.close()

        on_both_loops(main)

    def test_a_close_frame_stuck_behind_unread_data_is_waited_for_within_close_timeout(
        self, port_of: Callable[[Any], int], on_both_loops: Callable[..., None]
    ) -> None:
        async def handler(ws: ServerConnection) -> None:
            # More than the socket buffers hold: the client reads none of it.
            chunk = b"x" * 2**20
            try:
                for _ in range(64):
                    ws.send_nowait(chunk)
                    if ws.transport.get_write_buffer_size() > 4 * 2**20:
                        break
                await ws.wait_closed()
            except Exception:  # pragma: no cover - the connection may end under the sends
                pass

        async def main() -> None:
            async with serve(handler, "127.0.0.1", 0, close_timeout=0.3, write_limit=2**26) as server:
                reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
                writer.write(REQUEST)
                assert (await read_http_head(reader)).startswith(b"HTTP/1.1 101 ")
                for _ in range(100):  # bounded: until the handler has queued its data
                    connections = list(server.connections)
                    if connections and connections[0].transport.get_write_buffer_size() > 2**20:
                        break
                    await asyncio.sleep(0.01)
                (connection,) = connections
                writer.write(CLOSE_1000)
                # The close frame waits behind what the client does not read: close_timeout
                # ends the connection (abort), instead of a close that waits for ever.
                await asyncio.wait_for(connection.wait_closed(), 5)
                assert connection.protocol.close_rcvd is not None
                writer.transport.abort()

        on_both_loops(main)
