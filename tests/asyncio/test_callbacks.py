"""The callback way of receiving: ``on_message`` and ``send_nowait``, over
real loopback sockets, plus the shared receive buffer of the transport.

Peers are fastws (both roles) and websockets' client, a real peer that
knows nothing about callbacks.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from fastws import ConnectionClosed, ConnectionClosedError, InvalidState
from fastws.asyncio import ServerConnection, connect, serve
from fastws.asyncio.connection import HOLD_LIMIT

OPTIONS = {"ping_interval": None, "compression": None}


class TestOnMessage:
    async def test_echo_server_with_a_websockets_client(
        self,
        port_of: Callable[[Any], int],
        echo_on_message: Callable[..., Any],
        check_echoes: Callable[[Any], Awaitable[None]],
    ) -> None:
        websockets = pytest.importorskip("websockets.asyncio.client")
        async with serve(echo_on_message, "127.0.0.1", 0, **OPTIONS) as server:
            async with websockets.connect(f"ws://127.0.0.1:{port_of(server)}/") as client:
                await check_echoes(client)

    async def test_a_burst_is_answered_in_order(
        self, port_of: Callable[[Any], int], echo_on_message: Callable[..., Any]
    ) -> None:
        async with serve(echo_on_message, "127.0.0.1", 0, **OPTIONS) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", **OPTIONS) as client:
                count = 2000
                for i in range(count):
                    client.protocol.send_binary(i.to_bytes(4, "big"))
                client._flush()
                for i in range(count):
                    assert await asyncio.wait_for(client.recv(), 5) == i.to_bytes(4, "big")

    async def test_client_side_callback_and_queued_messages_first(
        self, port_of: Callable[[Any], int]
    ) -> None:
        async def handler(ws: ServerConnection) -> None:
            for i in range(5):
                await ws.send(f"m{i}")
            await ws.wait_closed()

        async with serve(handler, "127.0.0.1", 0, **OPTIONS) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", **OPTIONS) as client:
                # Let the five messages arrive and queue up before the callback exists.
                for _ in range(100):
                    if len(client._queue) == 5:
                        break
                    await asyncio.sleep(0.01)
                assert len(client._queue) == 5
                got: list[object] = []
                client.on_message = got.append
                assert got == ["m0", "m1", "m2", "m3", "m4"]
                assert client.on_message == got.append

    async def test_recv_refuses_while_a_callback_is_set_and_works_after(
        self, port_of: Callable[[Any], int]
    ) -> None:
        async def handler(ws: ServerConnection) -> None:
            await ws.send("one")
            await ws.recv()  # wait for the client's go
            await ws.send("two")
            await ws.wait_closed()

        async with serve(handler, "127.0.0.1", 0, **OPTIONS) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", **OPTIONS) as client:
                got: list[object] = []
                client.on_message = got.append
                for _ in range(100):
                    if got:
                        break
                    await asyncio.sleep(0.01)
                assert got == ["one"]
                with pytest.raises(InvalidState, match="on_message"):
                    await client.recv()
                client.on_message = None
                await client.send("go")
                assert await asyncio.wait_for(client.recv(), 5) == "two"
                assert got == ["one"]

    async def test_only_plain_functions(
        self, port_of: Callable[[Any], int], echo_on_message: Callable[..., Any]
    ) -> None:
        async with serve(echo_on_message, "127.0.0.1", 0, **OPTIONS) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", **OPTIONS) as client:

                async def coroutine_function(message: object) -> None:
                    pass

                with pytest.raises(TypeError):
                    client.on_message = coroutine_function  # type: ignore[assignment]
                with pytest.raises(TypeError):
                    client.on_message = "not callable"  # type: ignore[assignment]
                assert client.on_message is None

    async def test_not_while_a_coroutine_waits_in_recv(
        self, port_of: Callable[[Any], int], echo_on_message: Callable[..., Any]
    ) -> None:
        async with serve(echo_on_message, "127.0.0.1", 0, **OPTIONS) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", **OPTIONS) as client:
                waiting = asyncio.create_task(client.recv())
                await asyncio.sleep(0.05)
                with pytest.raises(InvalidState, match="recv"):
                    client.on_message = print
                await client.send("hello")
                assert await asyncio.wait_for(waiting, 5) == "hello"

    async def test_an_exception_in_the_callback_closes_with_1011(
        self, caplog: pytest.LogCaptureFixture, port_of: Callable[[Any], int]
    ) -> None:
        caplog.set_level(logging.ERROR, logger="fastws")

        async def handler(ws: ServerConnection) -> None:
            def explode(message: object) -> None:
                raise ValueError(f"callback bug on {message!r}")

            ws.on_message = explode
            await ws.wait_closed()

        async with serve(handler, "127.0.0.1", 0, **OPTIONS) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", **OPTIONS) as client:
                await client.send("trigger")
                with pytest.raises(ConnectionClosedError) as caught:
                    await asyncio.wait_for(client.recv(), 5)
                assert caught.value.code == 1011
        assert any("callback bug on 'trigger'" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)

    async def test_a_peer_that_does_not_read_pauses_reading(
        self, port_of: Callable[[Any], int], echo_on_message: Callable[..., Any]
    ) -> None:
        connections: list[ServerConnection] = []
        write_limit = 65536

        async def handler(ws: ServerConnection) -> None:
            connections.append(ws)
            await echo_on_message(ws)

        async with serve(handler, "127.0.0.1", 0, write_limit=write_limit, **OPTIONS) as server:
            client = await connect(f"ws://127.0.0.1:{port_of(server)}/", max_queue=4, **OPTIONS)
            try:
                message = b"e" * 4096
                sent = 0

                async def produce() -> None:
                    nonlocal sent
                    for _ in range(20_000):  # 80 MiB: far more than any buffer
                        await client.send(message)
                        sent += 1

                producer = asyncio.create_task(produce())
                last, still = -1, 0
                for _ in range(200):
                    await asyncio.sleep(0.1)
                    still = still + 1 if sent == last else 0
                    if still >= 3 or producer.done():
                        break
                    last = sent
                # The client's send() waited at its own write buffer's mark
                # (32 KiB by default; CPython 3.12-3.13's writelines once
                # let it grow to the whole 80 MiB).
                assert client.transport.get_write_buffer_size() <= 4 * 65536
                assert not producer.done(), "everything went through: nothing pushed back"
                ws = connections[0]
                # The echoes stopped at the server's write buffer mark (plus
                # at most as much again, written at once, and one message):
                # delivery stopped, the input behind it waits at its wire
                # size, and the server stopped reading.
                assert ws.transport.get_write_buffer_size() <= 2 * write_limit + len(message) + 64
                assert ws._answers_paused or ws.protocol.paused
                assert ws._transport_paused
                assert ws.protocol.held_bytes <= HOLD_LIMIT + 4096
                producer.cancel()
            finally:
                client.transport.abort()
                await client.wait_closed()


class TestSendNowait:
    async def test_types_and_states(
        self, port_of: Callable[[Any], int], echo_on_message: Callable[..., Any]
    ) -> None:
        async with serve(echo_on_message, "127.0.0.1", 0, **OPTIONS) as server:
            client = await connect(f"ws://127.0.0.1:{port_of(server)}/", **OPTIONS)
            with pytest.raises(TypeError):
                client.send_nowait(42)  # type: ignore[arg-type]
            client.send_nowait(bytearray(b"ba"))
            client.send_nowait(memoryview(b"mv"))
            client.send_nowait("st")
            assert [await client.recv() for _ in range(3)] == [b"ba", b"mv", "st"]
            await client.close()
            with pytest.raises(ConnectionClosed):
                client.send_nowait("too late")

    async def test_not_inside_a_fragmented_message(
        self, port_of: Callable[[Any], int], echo_on_message: Callable[..., Any]
    ) -> None:
        async with serve(echo_on_message, "127.0.0.1", 0, **OPTIONS) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", **OPTIONS) as client:
                gate = asyncio.Event()

                async def fragments():  # type: ignore[no-untyped-def]
                    yield "a"
                    await gate.wait()
                    yield "b"

                sending = asyncio.create_task(client.send(fragments()))
                await asyncio.sleep(0.05)
                with pytest.raises(InvalidState, match="fragmented"):
                    client.send_nowait("interleaved")
                gate.set()
                await sending
                assert await asyncio.wait_for(client.recv(), 5) == "ab"

    async def test_drain(self, port_of: Callable[[Any], int], echo_on_message: Callable[..., Any]) -> None:
        async with serve(echo_on_message, "127.0.0.1", 0, **OPTIONS) as server:
            async with connect(f"ws://127.0.0.1:{port_of(server)}/", write_limit=16384, **OPTIONS) as client:
                for _ in range(64):
                    client.send_nowait(b"d" * 65536)
                await asyncio.wait_for(client.drain(), 10)
                assert client.transport.get_write_buffer_size() <= 16384
                for _ in range(64):
                    assert await asyncio.wait_for(client.recv(), 10) == b"d" * 65536


class TestSharedReadBuffer:
    async def test_many_connections_cut_at_random_points(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        # Every connection of the loop reads into one buffer: frames left
        # half-parsed by one connection must survive the reads of others.
        rng = random.Random(6455)

        async with serve(echo, "127.0.0.1", 0, **OPTIONS) as server:
            url = f"ws://127.0.0.1:{port_of(server)}/"
            clients = [await connect(url, **OPTIONS) for _ in range(8)]
            try:
                expected: list[list[bytes]] = [[] for _ in clients]
                for _ in range(40):
                    for index, client in enumerate(clients):
                        size = rng.choice([1, 7, 125, 126, 1000, 65536, 70_001])
                        payload = rng.randbytes(size)
                        expected[index].append(payload)
                        client.protocol.send_binary(payload)
                        data = b"".join(client.protocol.data_to_send())
                        # Write it in random pieces, interleaved with the others.
                        cuts = sorted(rng.sample(range(1, len(data)), min(3, len(data) - 1)))
                        for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
                            client.transport.write(data[start:end])
                            await asyncio.sleep(0)
                for index, client in enumerate(clients):
                    for payload in expected[index]:
                        assert await asyncio.wait_for(client.recv(), 10) == payload
            finally:
                for client in clients:
                    await client.close()
