"""The browser-style WebSocket (WHATWG WebSocket interface) against a fastws server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from fastws import InvalidState
from fastws.asyncio import ServerConnection, serve
from fastws.asyncio.browser import CloseEvent, InvalidAccessError, SyntaxErr, WebSocket


async def opened(ws: WebSocket) -> None:
    for _ in range(500):
        if ws.readyState != WebSocket.CONNECTING:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never opened")


class TestLifecycle:
    async def test_events_in_order(self, port_of: Callable[[Any], int], echo: Callable[..., Any]) -> None:
        log: list[Any] = []
        async with serve(echo, "127.0.0.1", 0) as server:
            ws = WebSocket(f"ws://127.0.0.1:{port_of(server)}/")
            assert ws.readyState == WebSocket.CONNECTING == 0
            assert ws.url == f"ws://127.0.0.1:{port_of(server)}/"

            def on_open(event: Any) -> None:
                log.append(("open", ws.readyState))
                ws.send("one")
                ws.send(b"two")

            def on_message(event: Any) -> None:
                log.append(("message", event.data))
                if len([e for e in log if e[0] == "message"]) == 2:
                    ws.close(1000, "done")
                    log.append(("state after close()", ws.readyState))

            ws.onopen = on_open
            ws.onmessage = on_message
            ws.onerror = lambda event: log.append(("error",))
            ws.onclose = lambda event: log.append(("close", event.code, event.reason, event.wasClean))
            event = await asyncio.wait_for(ws.wait_closed(), 5)
        assert log == [
            ("open", WebSocket.OPEN),
            ("message", "one"),
            ("message", b"two"),
            ("state after close()", WebSocket.CLOSING),
            ("close", 1000, "", True),
        ]
        assert isinstance(event, CloseEvent)
        assert ws.readyState == WebSocket.CLOSED == 3

    async def test_server_close_code_and_reason(self, port_of: Callable[[Any], int]) -> None:
        async def handler(ws: ServerConnection) -> None:
            await ws.close(4001, "kicked")

        async with serve(handler, "127.0.0.1", 0) as server:
            ws = WebSocket(f"ws://127.0.0.1:{port_of(server)}/")
            errors: list[Any] = []
            ws.onerror = errors.append
            event = await asyncio.wait_for(ws.wait_closed(), 5)
        assert (event.code, event.reason, event.wasClean, event.was_clean) == (4001, "kicked", True, True)
        assert errors == []

    async def test_connection_failure_fires_error_then_close_1006(
        self, port_of: Callable[[Any], int]
    ) -> None:
        async def handler(ws: ServerConnection) -> None:
            pass

        async with serve(handler, "127.0.0.1", 0, origins=["https://only.example"]) as server:
            ws = WebSocket(f"ws://127.0.0.1:{port_of(server)}/")
            log: list[str] = []
            ws.add_event_listener("error", lambda e: log.append(e.type))
            ws.add_event_listener("close", lambda e: log.append(f"close {e.code} {e.wasClean}"))
            ws.onopen = lambda e: log.append("open")
            await asyncio.wait_for(ws.wait_closed(), 5)
        assert log == ["error", "close 1006 False"]

    async def test_abrupt_drop_is_unclean(self, port_of: Callable[[Any], int]) -> None:
        async def handler(ws: ServerConnection) -> None:
            ws.transport.abort()

        async with serve(handler, "127.0.0.1", 0) as server:
            ws = WebSocket(f"ws://127.0.0.1:{port_of(server)}/")
            kinds: list[str] = []
            ws.onerror = lambda e: kinds.append("error")
            event = await asyncio.wait_for(ws.wait_closed(), 5)
        assert (event.code, event.wasClean) == (1006, False)
        assert kinds == ["error"]

    async def test_close_while_connecting(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0) as server:
            ws = WebSocket(f"ws://127.0.0.1:{port_of(server)}/")
            opened_flag: list[bool] = []
            ws.onopen = lambda e: opened_flag.append(True)
            ws.close()
            assert ws.readyState == WebSocket.CLOSING
            event = await asyncio.wait_for(ws.wait_closed(), 5)
        assert opened_flag == []
        assert (event.code, event.wasClean) == (1006, False)

    async def test_close_without_code_sends_empty_close(self, port_of: Callable[[Any], int]) -> None:
        seen: list[Any] = []

        async def handler(ws: ServerConnection) -> None:
            try:
                await ws.recv()
            except Exception:
                seen.append(ws.close_code)

        async with serve(handler, "127.0.0.1", 0) as server:
            ws = WebSocket(f"ws://127.0.0.1:{port_of(server)}/")
            ws.onopen = lambda e: ws.close()
            event = await asyncio.wait_for(ws.wait_closed(), 5)
            await asyncio.sleep(0.05)
        assert seen == [1005]
        assert event.code == 1005 and event.wasClean


class TestMethods:
    async def test_send_while_connecting_raises(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0) as server:
            ws = WebSocket(f"ws://127.0.0.1:{port_of(server)}/")
            with pytest.raises(InvalidState):
                ws.send("too early")
            ws.close()
            await asyncio.wait_for(ws.wait_closed(), 5)

    async def test_close_argument_checks(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0) as server:
            ws = WebSocket(f"ws://127.0.0.1:{port_of(server)}/")
            await opened(ws)
            for code in (999, 1001, 1005, 1006, 2999, 5000):
                with pytest.raises(InvalidAccessError):
                    ws.close(code)
            with pytest.raises(SyntaxErr):
                ws.close(1000, "é" * 62)  # 124 bytes
            assert ws.readyState == WebSocket.OPEN
            ws.close(4999, "x" * 123)
            event = await asyncio.wait_for(ws.wait_closed(), 5)
        assert event.code == 4999

    async def test_send_after_close_only_grows_buffered_amount(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0) as server:
            ws = WebSocket(f"ws://127.0.0.1:{port_of(server)}/")
            await opened(ws)
            ws.close()
            ws.send("héllo")  # 6 bytes in UTF-8
            ws.send(b"1234")
            assert ws.bufferedAmount == 10
            await asyncio.wait_for(ws.wait_closed(), 5)
            ws.send(b"x")
            assert ws.bufferedAmount == 11

    async def test_send_type_check(self, port_of: Callable[[Any], int], echo: Callable[..., Any]) -> None:
        async with serve(echo, "127.0.0.1", 0) as server:
            ws = WebSocket(f"ws://127.0.0.1:{port_of(server)}/")
            await opened(ws)
            with pytest.raises(TypeError):
                ws.send(12)  # type: ignore[arg-type]
            ws.close()
            await asyncio.wait_for(ws.wait_closed(), 5)

    async def test_buffered_amount_tracks_the_transport(self, port_of: Callable[[Any], int]) -> None:
        # The server reads nothing, so data piles up in the client's
        # transport buffer once the kernel's buffers are full; the amount
        # reported is exactly the payload still in the transport.
        release = asyncio.Event()

        async def handler(ws: ServerConnection) -> None:
            await release.wait()
            async for _ in ws:
                pass

        async with serve(handler, "127.0.0.1", 0, max_queue=1, max_size=None, compression=None) as server:
            ws = WebSocket(f"ws://127.0.0.1:{port_of(server)}/")
            await opened(ws)
            assert ws.bufferedAmount == 0
            chunk = b"z" * 65536
            for _ in range(200):  # 12.5 MiB: more than loopback buffers hold
                ws.send(chunk)
            amount = ws.bufferedAmount
            transport = ws._connection.transport  # type: ignore[union-attr]
            in_transport = transport.get_write_buffer_size()
            assert 0 < amount <= 200 * len(chunk)
            # Frame headers (2 + 8 + 4 bytes for 64 KiB payloads) are not counted.
            assert in_transport - 200 * 14 <= amount <= in_transport
            release.set()
            for _ in range(300):
                if ws.bufferedAmount == 0:
                    break
                await asyncio.sleep(0.02)
            assert ws.bufferedAmount == 0
            ws.close()
            await asyncio.wait_for(ws.wait_closed(), 5)

    async def test_protocol_and_extensions(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with serve(echo, "127.0.0.1", 0, subprotocols=["chat"]) as server:
            ws = WebSocket(f"ws://127.0.0.1:{port_of(server)}/", ["superchat", "chat"])
            assert ws.protocol == ""
            await opened(ws)
            assert ws.protocol == "chat"
            assert ws.extensions == "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
            ws.close()
            await asyncio.wait_for(ws.wait_closed(), 5)
        async with serve(echo, "127.0.0.1", 0, compression=None) as server:
            ws = WebSocket(f"ws://127.0.0.1:{port_of(server)}/")
            await opened(ws)
            assert ws.extensions == ""
            ws.close()
            await asyncio.wait_for(ws.wait_closed(), 5)

    async def test_binary_type(self, port_of: Callable[[Any], int], echo: Callable[..., Any]) -> None:
        async with serve(echo, "127.0.0.1", 0) as server:
            ws = WebSocket(f"ws://127.0.0.1:{port_of(server)}/")
            assert ws.binaryType == "bytes"
            with pytest.raises(ValueError):
                ws.binaryType = "blob"
            ws.binaryType = "bytearray"
            got: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            ws.onopen = lambda e: ws.send(b"raw")
            ws.onmessage = lambda e: got.done() or got.set_result(e.data)
            data = await asyncio.wait_for(got, 5)
            assert type(data) is bytearray and data == b"raw"
            ws.close()
            await asyncio.wait_for(ws.wait_closed(), 5)


class TestConstructor:
    async def test_url_checks(self) -> None:
        with pytest.raises(SyntaxErr):
            WebSocket("ftp://127.0.0.1/")
        with pytest.raises(SyntaxErr):
            WebSocket("ws://127.0.0.1/#frag")
        with pytest.raises(SyntaxErr):
            WebSocket("ws://127.0.0.1/", ["a", "a"])
        with pytest.raises(SyntaxErr):
            WebSocket("ws://127.0.0.1/", ["has space"])

    async def test_http_url_means_ws(self, port_of: Callable[[Any], int], echo: Callable[..., Any]) -> None:
        async with serve(echo, "127.0.0.1", 0) as server:
            ws = WebSocket(f"http://127.0.0.1:{port_of(server)}/path")
            assert ws.url == f"ws://127.0.0.1:{port_of(server)}/path"
            await opened(ws)
            assert ws.readyState == WebSocket.OPEN
            ws.close()
            await asyncio.wait_for(ws.wait_closed(), 5)

    def test_needs_a_running_loop(self) -> None:
        with pytest.raises(RuntimeError):
            WebSocket("ws://127.0.0.1:9/")


class TestListeners:
    async def test_listener_order_once_and_removal(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        log: list[str] = []

        async def async_listener(event: Any) -> None:
            await asyncio.sleep(0)
            log.append(f"async {event.data}")

        def first(event: Any) -> None:
            log.append(f"first {event.data}")

        def raising(event: Any) -> None:
            raise RuntimeError("listener bug: logged, dispatch goes on")

        async with serve(echo, "127.0.0.1", 0) as server:
            ws = WebSocket(f"ws://127.0.0.1:{port_of(server)}/")
            ws.add_event_listener("message", first)
            ws.add_event_listener("message", first)  # a duplicate is ignored
            ws.onmessage = lambda e: log.append(f"handler {e.data}")
            ws.add_event_listener("message", raising)
            ws.add_event_listener("message", async_listener)
            ws.add_event_listener("message", lambda e: log.append(f"once {e.data}"), once=True)
            ws.onopen = lambda e: (ws.send("a"), ws.send("b"))
            done = asyncio.get_running_loop().create_future()

            def on_b(event: Any) -> None:
                if event.data == "b" and not done.done():
                    done.set_result(None)

            ws.add_event_listener("message", on_b)
            await asyncio.wait_for(done, 5)
            ws.remove_event_listener("message", first)
            ws.onmessage = None
            ws.send("c")
            await asyncio.sleep(0.1)
            ws.close()
            await asyncio.wait_for(ws.wait_closed(), 5)
        assert log == [
            "first a",
            "handler a",
            "async a",
            "once a",
            "first b",
            "handler b",
            "async b",
            "async c",
        ]


class TestNames:
    def test_events_have_the_standards_names(self) -> None:
        import fastws
        import fastws.asyncio
        from fastws.asyncio import browser

        assert {"Event", "MessageEvent", "CloseEvent"} <= set(browser.__all__)
        assert issubclass(browser.MessageEvent, browser.Event)
        assert issubclass(browser.CloseEvent, browser.Event)
        # fastws.Event is the protocol's union of events, another thing.
        assert fastws.Event is not browser.Event
        assert "Event" not in fastws.asyncio.__all__
        with pytest.warns(DeprecationWarning, match="fastws.asyncio.browser.Event"):
            assert fastws.asyncio.Event is browser.Event
