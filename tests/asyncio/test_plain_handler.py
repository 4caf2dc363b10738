"""Connections without a task: ``serve()`` with a plain-function handler, and
``on_close``, over real loopback sockets.

The handler is called inside the read that completed the handshake; it sets
callbacks and returns, and the connection lives on them. Peers are
websockets' client (a real peer that knows nothing about callbacks), fastws'
client and raw sockets where the bytes matter.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from fastws import ConnectionClosed
from fastws.asyncio import ServerConnection, connect, serve
from fastws.protocol import State

OPTIONS = {"ping_interval": None, "compression": None}

REQUEST = (
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def _masked_text(text: str) -> bytes:
    """A client's one-frame text message, masked with the key 01 02 03 04 (short payloads only)."""
    key = b"\x01\x02\x03\x04"
    payload = text.encode()
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(500):  # bounded: 5 s
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in 5 s")


class TestPlainHandler:
    def test_echo_without_a_task_on_both_loops(
        self,
        port_of: Callable[[Any], int],
        on_both_loops: Callable[..., None],
        check_echoes: Callable[[Any], Awaitable[None]],
    ) -> None:
        websockets = pytest.importorskip("websockets.asyncio.client")
        opened: list[ServerConnection] = []

        def handler(ws: ServerConnection) -> None:
            opened.append(ws)
            ws.on_message = ws.send_nowait

        async def main() -> None:
            opened.clear()
            async with serve(handler, "127.0.0.1", 0, **OPTIONS) as server:
                async with websockets.connect(f"ws://127.0.0.1:{port_of(server)}/") as client:
                    await check_echoes(client)
                    (connection,) = opened
                    # The handler returned long ago; the connection lives on, with no task.
                    assert connection.state is State.OPEN
                    assert connection.handler_task is None
                    assert not server.handler_tasks
                await asyncio.wait_for(connection.wait_closed(), 5)
                assert connection.close_code == 1000
                assert connection not in server.connections

        on_both_loops(main)

    async def test_messages_that_came_with_the_request_are_delivered(
        self, port_of: Callable[[Any], int]
    ) -> None:
        # The request and two messages in one write: they are parsed before
        # the handler runs, queued, and delivered in order when it sets on_message.
        received: list[object] = []

        def handler(ws: ServerConnection) -> None:
            ws.on_message = received.append

        async with serve(handler, "127.0.0.1", 0, **OPTIONS) as server:
            _, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
            try:
                writer.write(REQUEST + _masked_text("first") + _masked_text("second"))
                await _until(lambda: len(received) == 2)
                assert received == ["first", "second"]
            finally:
                writer.close()

    async def test_the_handler_may_send_at_once(self, port_of: Callable[[Any], int]) -> None:
        def handler(ws: ServerConnection) -> None:
            ws.send_nowait("welcome")
            ws.on_message = ws.send_nowait

        async with serve(handler, "127.0.0.1", 0, **OPTIONS) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", **OPTIONS) as client:
                assert await asyncio.wait_for(client.recv(), 5) == "welcome"
                await client.send("echo")
                assert await asyncio.wait_for(client.recv(), 5) == "echo"

    async def test_an_exception_closes_with_1011(
        self, caplog: pytest.LogCaptureFixture, port_of: Callable[[Any], int]
    ) -> None:
        caplog.set_level(logging.ERROR, logger="fastws.server")

        def handler(ws: ServerConnection) -> None:
            raise ValueError("handler bug")

        async with serve(handler, "127.0.0.1", 0, **OPTIONS) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", **OPTIONS) as client:
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(client.recv(), 5)
                assert client.close_code == 1011
        assert any(
            r.exc_info and "handler bug" in str(r.exc_info[1])
            for r in caplog.records
            if r.name == "fastws.server"
        )

    async def test_an_awaitable_it_returns_is_awaited_as_a_handler(
        self, port_of: Callable[[Any], int]
    ) -> None:
        async def body(ws: ServerConnection, greeting: str) -> None:
            await ws.send(greeting)
            assert await ws.recv() == "bye"

        # Neither is a coroutine function, both return a coroutine.
        handlers = [lambda ws: body(ws, "from a lambda"), functools.partial(body, greeting="from a partial")]
        for handler, greeting in zip(handlers, ["from a lambda", "from a partial"], strict=True):
            async with serve(handler, "127.0.0.1", 0, **OPTIONS) as server:
                async with connect(f"ws://127.0.0.1:{port_of(server)}/", **OPTIONS) as client:
                    assert await asyncio.wait_for(client.recv(), 5) == greeting
                    await client.send("bye")
                    # The body returned: the server closes, as after a coroutine handler.
                    with pytest.raises(ConnectionClosed):
                        await asyncio.wait_for(client.recv(), 5)
                    assert client.close_code == 1000

    async def test_a_callback_closes_without_awaiting(self, port_of: Callable[[Any], int]) -> None:
        ended: list[tuple[int | None, str | None]] = []

        def handler(ws: ServerConnection) -> None:
            def received(message: object) -> None:
                if message == "quit":
                    ws.close_nowait(4001, "as asked")
                    ws.close_nowait(1000)  # already closing: nothing more
                else:
                    ws.send_nowait(message)  # type: ignore[arg-type]

            ws.on_message = received
            ws.on_close = lambda: ended.append((ws.close_code, ws.close_reason))

        async with serve(handler, "127.0.0.1", 0, **OPTIONS) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", **OPTIONS) as client:
                await client.send("one")
                assert await asyncio.wait_for(client.recv(), 5) == "one"
                await client.send("quit")
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(client.recv(), 5)
                assert (client.close_code, client.close_reason) == (4001, "as asked")
            await _until(lambda: bool(ended))
        # The server's close_code and close_reason are the client's answer's.
        assert ended == [(4001, "")]

    async def test_close_nowait_refuses_a_code_that_may_not_be_sent(
        self, port_of: Callable[[Any], int]
    ) -> None:
        async with serve(lambda ws: None, "127.0.0.1", 0, **OPTIONS) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", **OPTIONS) as client:
                for code, reason in ((999, ""), (1004, ""), (1006, ""), (5000, ""), (1000, "x" * 124)):
                    with pytest.raises(ValueError):
                        client.close_nowait(code, reason)
                # Nothing changed: the connection still works.
                assert client.state is State.OPEN
                await client.send("still open")

    async def test_shutdown_closes_with_1001(self, port_of: Callable[[Any], int]) -> None:
        def handler(ws: ServerConnection) -> None:
            ws.on_message = ws.send_nowait

        server = await serve(handler, "127.0.0.1", 0, **OPTIONS)
        async with connect(f"ws://127.0.0.1:{port_of(server)}/", **OPTIONS) as client:
            await client.send("ping")
            assert await asyncio.wait_for(client.recv(), 5) == "ping"
            server.close()
            await asyncio.wait_for(server.wait_closed(), 5)
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(client.recv(), 5)
            assert client.close_code == 1001
        assert not server.connections

    async def test_shutdown_without_closing_waits_for_the_connections(
        self, port_of: Callable[[Any], int]
    ) -> None:
        def handler(ws: ServerConnection) -> None:
            ws.on_message = ws.send_nowait

        server = await serve(handler, "127.0.0.1", 0, **OPTIONS)
        client = await connect(f"ws://127.0.0.1:{port_of(server)}/", **OPTIONS)
        try:
            await _until(lambda: any(c.state is State.OPEN for c in server.connections))
            server.close(close_connections=False)
            waiting = asyncio.ensure_future(server.wait_closed())
            await asyncio.sleep(0.2)
            # The connection still serves; the server waits for it.
            assert not waiting.done()
            await client.send("still here")
            assert await asyncio.wait_for(client.recv(), 5) == "still here"
        finally:
            await client.close()
        await asyncio.wait_for(waiting, 5)
        assert client.close_code == 1000


class TestOnClose:
    async def test_called_once_after_the_end(self, port_of: Callable[[Any], int]) -> None:
        seen: list[tuple[int | None, str | None, bool, bool]] = []

        def handler(ws: ServerConnection) -> None:
            def closed() -> None:
                seen.append((ws.close_code, ws.close_reason, ws in ws.server.connections, ws._closed.done()))

            ws.on_close = closed

        async with serve(handler, "127.0.0.1", 0, **OPTIONS) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", **OPTIONS) as client:
                await client.close(4000, "done here")
            await _until(lambda: bool(seen))
            await asyncio.sleep(0.05)
            # The code and reason are final; the server let go of the connection.
            assert seen == [(4000, "done here", False, True)]

    async def test_client_side(self, port_of: Callable[[Any], int]) -> None:
        async def handler(ws: ServerConnection) -> None:
            await ws.recv()
            await ws.close(1001, "going")

        async with serve(handler, "127.0.0.1", 0, **OPTIONS) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", **OPTIONS) as client:
                codes: list[int | None] = []
                client.on_close = lambda: codes.append(client.close_code)
                await client.send("close please")
                await asyncio.wait_for(client.wait_closed(), 5)
                assert codes == [1001]

    async def test_set_after_the_end_runs_at_the_next_turn(self, port_of: Callable[[Any], int]) -> None:
        async with serve(lambda ws: None, "127.0.0.1", 0, **OPTIONS) as server:
            client = await connect(f"ws://127.0.0.1:{port_of(server)}/", **OPTIONS)
            await client.close()
            calls: list[str] = []
            client.on_close = lambda: calls.append("late")
            assert calls == []  # not from inside the assignment
            await _until(lambda: bool(calls))
            # Set then cleared before the next turn: not called.
            client.on_close = lambda: calls.append("cancelled")
            client.on_close = None
            await asyncio.sleep(0.05)
            assert calls == ["late"]

    async def test_an_exception_is_logged_and_nothing_else(
        self, caplog: pytest.LogCaptureFixture, port_of: Callable[[Any], int]
    ) -> None:
        caplog.set_level(logging.ERROR, logger="fastws")
        loop_errors: list[dict[str, Any]] = []
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: loop_errors.append(context))

        def broken() -> None:
            raise RuntimeError("on_close bug")

        def handler(ws: ServerConnection) -> None:
            ws.on_close = broken

        async with serve(handler, "127.0.0.1", 0, **OPTIONS) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", **OPTIONS) as client:
                client.on_close = broken
            await _until(lambda: not server.connections)
        messages = [
            r.getMessage() for r in caplog.records if r.exc_info and "on_close bug" in str(r.exc_info[1])
        ]
        assert messages == ["error in on_close", "error in on_close"]
        assert loop_errors == []

    async def test_only_plain_functions(self, port_of: Callable[[Any], int]) -> None:
        async def coroutine_function() -> None:
            pass

        async with serve(lambda ws: None, "127.0.0.1", 0, **OPTIONS) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", **OPTIONS) as client:
                for wrong in (coroutine_function, "not callable", 42):
                    with pytest.raises(TypeError, match="on_close must be a plain function"):
                        client.on_close = wrong  # type: ignore[assignment]
                assert client.on_close is None
                client.on_close = print
                assert client.on_close is print
                client.on_close = None  # cancelled: nothing is called at the end
