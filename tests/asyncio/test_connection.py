"""The shared asyncio connection: messages, fragments, pings, closing, keepalive.

Both ends are fastws connections on a connected socket pair, with sans-IO
protocols created OPEN, so these tests do not depend on the opening
handshake (test_server.py and test_client.py cover it).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from fastws import Close, ConnectionClosed, ConnectionClosedError, ConnectionClosedOK, InvalidState
from fastws.asyncio.connection import Connection
from fastws.protocol import Protocol, Side, State


@contextlib.asynccontextmanager
async def pair(
    server_options: dict[str, Any] | None = None,
    client_options: dict[str, Any] | None = None,
    server_protocol: dict[str, Any] | None = None,
    client_protocol: dict[str, Any] | None = None,
) -> AsyncIterator[tuple[Connection, Connection]]:
    """A server-side and a client-side Connection joined by a socket pair."""
    loop = asyncio.get_running_loop()
    a, b = socket.socketpair()
    opts = {"ping_interval": None}
    _, server = await loop.connect_accepted_socket(
        lambda: Connection(
            Protocol(Side.SERVER, **(server_protocol or {})), **{**opts, **(server_options or {})}
        ),
        a,
    )
    _, client = await loop.connect_accepted_socket(
        lambda: Connection(
            Protocol(Side.CLIENT, **(client_protocol or {})), **{**opts, **(client_options or {})}
        ),
        b,
    )
    try:
        yield server, client
    finally:
        for connection in (server, client):
            if not connection._lost:
                connection.transport.abort()
        await asyncio.wait_for(asyncio.gather(server.wait_closed(), client.wait_closed()), 5)


class TestMessages:
    """RFC 6455 section 5.6: text and binary data frames, both directions."""

    async def test_text_and_binary_both_ways(self) -> None:
        async with pair() as (server, client):
            await client.send("héllo")
            assert await server.recv() == "héllo"
            await server.send(b"\x00\xff")
            assert await client.recv() == b"\x00\xff"
            await client.send(bytearray(b"ba"))
            assert await server.recv() == b"ba"
            await client.send(memoryview(b"mv"))
            assert await server.recv() == b"mv"
            await server.send("")
            assert await client.recv() == ""

    async def test_repr_shows_class_and_state(self) -> None:
        async with pair() as (server, client):
            assert repr(server).startswith("<Connection OPEN remote=")
            await client.close()
            assert repr(client).startswith("<Connection LOST")

    async def test_order_is_kept_over_a_burst(self) -> None:
        async with pair(server_options={"max_queue": 4}) as (server, client):
            messages = [f"m{i}" * (i % 7) for i in range(500)]
            for message in messages:
                await client.send(message)
            received = [await server.recv() for _ in messages]
            assert received == messages

    async def test_echo_burst_coalesced_writes_arrive_intact(self) -> None:
        # The server echoes while more messages wait in its queue: its sends
        # are held back and written together; nothing may be lost or reordered.
        async with pair() as (server, client):

            async def echo() -> None:
                async for message in server:
                    await server.send(message)

            task = asyncio.create_task(echo())
            messages = [bytes([i % 256]) * (i % 100) for i in range(1000)]
            for message in messages:
                await client.send(message)
            echoed = [await client.recv() for _ in messages]
            assert echoed == messages
            await client.close()
            await asyncio.wait_for(task, 5)

    async def test_echo_burst_of_larger_messages(self) -> None:
        # Held messages past 64 KiB in all go out as a scatter/gather write.
        async with pair() as (server, client):

            async def echo() -> None:
                async for message in server:
                    await server.send(message)

            task = asyncio.create_task(echo())
            messages = [bytes([i % 256]) * (1000 + 37 * i) for i in range(300)]

            async def produce() -> None:
                # Sending ~2 MiB without reading would deadlock on
                # back-pressure (as with any bounded echo): read meanwhile.
                for message in messages:
                    await client.send(message)

            producer = asyncio.create_task(produce())
            echoed = [await client.recv() for _ in messages]
            await producer
            assert echoed == messages
            await client.close()
            await asyncio.wait_for(task, 5)

    async def test_held_message_is_flushed_without_another_send(self) -> None:
        async with pair() as (server, client):
            await client.send("a")
            await client.send("b")
            await asyncio.sleep(0.05)
            assert await server.recv() == "a"  # "b" still queued: the next send is held
            await server.send("reply")
            # No further send and no recv: the held reply must still go out.
            assert await asyncio.wait_for(client.recv(), 2) == "reply"

    async def test_async_iteration_ends_on_normal_close(self) -> None:
        async with pair() as (server, client):
            for i in range(3):
                await client.send(str(i))
            await client.close()
            assert [m async for m in server] == ["0", "1", "2"]

    async def test_async_iteration_raises_on_error_close(self) -> None:
        async with pair() as (server, client):
            await client.send("x")
            await client.close(4000, "custom")
            received = []
            with pytest.raises(ConnectionClosedError) as info:
                async for message in server:
                    received.append(message)
            assert received == ["x"]
            assert info.value.code == 4000
            assert info.value.reason == "custom"

    async def test_unsupported_message_types(self) -> None:
        async with pair() as (server, client):
            with pytest.raises(TypeError):
                await client.send({"a": 1})  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                await client.send(42)  # type: ignore[arg-type]
            await client.send("still open")
            assert await server.recv() == "still open"

    async def test_concurrent_recv_is_refused(self) -> None:
        async with pair() as (server, _client):
            first = asyncio.create_task(server.recv())
            await asyncio.sleep(0)
            with pytest.raises(InvalidState):
                await server.recv()
            first.cancel()

    async def test_cancelled_recv_loses_nothing(self) -> None:
        async with pair() as (server, client):
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(server.recv(), 0.05)
            await client.send("after")
            assert await asyncio.wait_for(server.recv(), 2) == "after"

    async def test_max_size_fails_with_1009(self) -> None:
        async with pair(server_protocol={"max_size": 100}) as (server, client):
            await client.send(b"x" * 101)
            with pytest.raises(ConnectionClosedError):
                await asyncio.wait_for(server.recv(), 5)
            with pytest.raises(ConnectionClosedError) as info:
                await asyncio.wait_for(client.recv(), 5)
            assert info.value.code == 1009


class TestFragments:
    """RFC 6455 section 5.4: a message sent as several frames."""

    async def test_sync_iterable_of_str(self) -> None:
        async with pair() as (server, client):
            await client.send(["frag", "men", "té"])
            assert await server.recv() == "fragmenté"

    async def test_async_iterable_of_bytes(self) -> None:
        async def fragments() -> AsyncIterator[bytes]:
            for chunk in (b"ab", b"", b"cd"):
                await asyncio.sleep(0)
                yield chunk

        async with pair() as (server, client):
            await client.send(fragments())
            assert await server.recv() == b"abcd"

    async def test_other_sends_wait_for_the_fragmented_message(self) -> None:
        gate = asyncio.Event()

        async def fragments() -> AsyncIterator[str]:
            yield "one-"
            await gate.wait()
            yield "two"

        async with pair() as (server, client):
            fragmented = asyncio.create_task(client.send(fragments()))
            await asyncio.sleep(0.01)
            single = asyncio.create_task(client.send("single"))
            await asyncio.sleep(0.01)
            assert not single.done()
            gate.set()
            await asyncio.wait_for(asyncio.gather(fragmented, single), 2)
            assert await server.recv() == "one-two"
            assert await server.recv() == "single"

    async def test_empty_iterable_sends_nothing(self) -> None:
        async with pair() as (server, client):
            await client.send([])
            await client.send("next")
            assert await server.recv() == "next"

    async def test_mixed_fragments_fail_the_connection_with_1011(self) -> None:
        async with pair() as (server, client):
            with pytest.raises(TypeError):
                await client.send(["text", b"bytes"])
            with pytest.raises(ConnectionClosedError) as info:
                await asyncio.wait_for(server.recv(), 5)
            assert info.value.code == 1011

    async def test_first_fragment_of_wrong_type(self) -> None:
        async with pair() as (server, client):
            with pytest.raises(TypeError):
                await client.send([1, 2])
            await client.send("fine")  # nothing was sent: the connection is intact
            assert await server.recv() == "fine"


class TestPingPong:
    """RFC 6455 section 5.5.2-5.5.3: pings, pongs and keepalive."""

    async def test_ping_waiter_gets_latency(self) -> None:
        async with pair() as (_server, client):
            waiter = await client.ping()
            latency = await asyncio.wait_for(waiter, 2)
            assert 0 <= latency < 2

    async def test_ping_with_payload_and_duplicate(self) -> None:
        async with pair() as (_server, client):
            waiter = await client.ping("abc")
            with pytest.raises(InvalidState):
                await client.ping(b"abc")
            await asyncio.wait_for(waiter, 2)
            await asyncio.wait_for(await client.ping(b"abc"), 2)

    async def test_pong_acknowledges_earlier_pings(self) -> None:
        async with pair(server_protocol={"auto_pong": False}) as (server, client):
            first = await client.ping(b"1")
            second = await client.ping(b"2")
            await asyncio.sleep(0.05)
            assert not first.done()
            await server.pong(b"2")
            await asyncio.wait_for(asyncio.gather(first, second), 2)

    async def test_unsolicited_pong_is_ignored(self) -> None:
        async with pair() as (server, client):
            await server.pong(b"heartbeat")
            await server.send("after")
            assert await client.recv() == "after"

    async def test_pending_ping_fails_when_connection_closes(self) -> None:
        async with pair(server_protocol={"auto_pong": False}) as (server, client):
            waiter = await client.ping()
            server.transport.abort()
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(waiter, 5)

    async def test_keepalive_answered_keeps_connection_open(self) -> None:
        async with pair(client_options={"ping_interval": 0.05, "ping_timeout": 5}) as (server, client):
            for _ in range(100):  # a few pings go back and forth
                await asyncio.sleep(0.05)
                if client.latency > 0:
                    break
            assert client.state is State.OPEN
            assert client.latency > 0
            await client.send("alive")
            assert await server.recv() == "alive"

    async def test_keepalive_timeout_fails_with_1011(self) -> None:
        options = {"ping_interval": 0.05, "ping_timeout": 0.1}
        async with pair(client_options=options, server_protocol={"auto_pong": False}) as (server, client):
            with pytest.raises(ConnectionClosedError) as info:
                await asyncio.wait_for(server.recv(), 5)
            assert info.value.code == 1011
            await asyncio.wait_for(client.wait_closed(), 5)
            assert client.protocol.close_sent == (1011, "keepalive ping timeout")


class TestOptions:
    async def test_queue_limits_validated(self) -> None:
        for bad in (0, (4, 4), (4, -1)):
            with pytest.raises(ValueError):
                Connection(Protocol(Side.SERVER), max_queue=bad)  # type: ignore[arg-type]

    async def test_custom_queue_marks(self) -> None:
        async with pair(server_options={"max_queue": (3, 1)}) as (server, client):
            for i in range(10):
                await client.send(str(i))
            for _ in range(100):
                if server._input_waiting:
                    break
                await asyncio.sleep(0.01)
            # Delivery stops exactly at the high-water mark; the rest waits.
            assert server._input_waiting
            assert len(server._queue) == 3
            received = []
            while server._input_waiting:
                received.append(await server.recv())
                # Delivery goes on exactly when the queue is down to the low mark (1).
                assert len(server._queue) in (2, 3) or not server._input_waiting
                assert (len(server._queue) == 2) == (len(received) % 2 == 1) or not server._input_waiting
            received += [await server.recv() for _ in range(10 - len(received))]
            assert received == [str(i) for i in range(10)]

    async def test_queue_bytes_limit(self) -> None:
        options = {"max_queue": None, "max_queue_bytes": 10_000}
        async with pair(server_options=options) as (server, client):
            for _ in range(10):
                await client.send(b"b" * 4000)
            for _ in range(100):
                if server._input_waiting:
                    break
                await asyncio.sleep(0.01)
            # 4000 + 4000 < 10,000 bytes, 12,000 >= it: three delivered.
            assert len(server._queue) == 3
            assert [len(await server.recv()) for _ in range(10)] == [4000] * 10
            assert not server._input_waiting

    async def test_unbounded_queue_never_pauses(self) -> None:
        async with pair(server_options={"max_queue": None, "max_queue_bytes": None}) as (server, client):
            for i in range(200):
                await client.send(str(i))
            await asyncio.sleep(0.1)
            assert not server._input_waiting and not server._transport_paused
            assert len(server._queue) == 200

    async def test_keepalive_spares_a_slow_application(self) -> None:
        # The client reads nothing, so its queue fills and delivery stops;
        # the server's pongs arrive behind the waiting messages, and are
        # still seen: a slow application is not a dead peer, no 1011.
        options = {"ping_interval": 0.05, "ping_timeout": 0.1, "max_queue": 2}
        async with pair(client_options=options) as (server, client):
            for _ in range(50):
                await server.send(b"x" * 1000)
            await asyncio.sleep(0.5)
            assert client._input_waiting
            assert client.state is State.OPEN
            assert client.latency > 0
            assert [len(await client.recv()) for _ in range(50)] == [1000] * 50


class TestClosing:
    """RFC 6455 section 7: the closing handshake and its outcomes."""

    async def test_close_codes_while_open_are_none(self) -> None:
        async with pair() as (server, client):
            assert server.close_code is None and server.close_reason is None
            await client.close()
            assert client.close_code == 1000
            with pytest.raises(ConnectionClosedOK):
                await server.recv()
            assert server.close_code == 1000 and server.close_reason == ""

    async def test_server_initiated_close(self) -> None:
        async with pair() as (server, client):
            await asyncio.wait_for(server.close(1001, "bye"), 5)
            with pytest.raises(ConnectionClosedOK) as info:
                await client.recv()
            assert (info.value.code, info.value.reason) == (1001, "bye")
            # The client echoed the code; the peer's frame came first.
            assert (info.value.rcvd, info.value.sent) == (Close(1001, "bye"), Close(1001, ""))
            assert info.value.rcvd_then_sent is True
            await asyncio.wait_for(client.wait_closed(), 5)

    async def test_a_cancelled_wait_leaves_the_connection_alone(self) -> None:
        async with pair() as (server, client):
            waits = [asyncio.ensure_future(client.wait_closed()) for _ in range(50)]
            await asyncio.sleep(0)
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
            assert all(wait.cancelled() for wait in waits)
            # Nothing of the cancelled waits stays behind, and the
            # connection is as open as it was.
            assert not client._closed._callbacks
            assert client.state is State.OPEN
            await client.send("still open")
            assert await server.recv() == "still open"
            # A close() cancelled while it waits for the peer goes on all the same.
            closing = asyncio.ensure_future(client.close(1000, "done"))
            waiting = asyncio.ensure_future(client.wait_closed())
            await asyncio.sleep(0)
            closing.cancel()
            with pytest.raises(asyncio.CancelledError):
                await closing
            with pytest.raises(ConnectionClosedOK):
                await server.recv()
            await asyncio.wait_for(waiting, 5)
            assert client.close_code == 1000
            assert not client._closed.cancelled()

    async def test_send_after_close_raises(self) -> None:
        async with pair() as (_server, client):
            await client.close()
            with pytest.raises(ConnectionClosedOK):
                await client.send("late")
            with pytest.raises(ConnectionClosedOK):
                await client.ping()

    async def test_close_twice_is_harmless(self) -> None:
        async with pair() as (_server, client):
            await asyncio.gather(client.close(), client.close(4001))
            assert client.protocol.close_sent == (1000, "")

    async def test_invalid_close_code_is_refused(self) -> None:
        async with pair() as (_server, client):
            with pytest.raises(ValueError):
                await client.close(1006)
            with pytest.raises(ValueError):
                await client.close(1000, "x" * 124)

    async def test_abrupt_drop_is_1006(self) -> None:
        async with pair() as (server, client):
            client.transport.abort()
            with pytest.raises(ConnectionClosedError) as info:
                await asyncio.wait_for(server.recv(), 5)
            assert info.value.code == 1006
            assert server.close_code == 1006

    async def test_protocol_error_from_peer_fails_with_1002_at_once(self) -> None:
        loop = asyncio.get_running_loop()
        a, b = socket.socketpair()
        _, server = await loop.connect_accepted_socket(
            lambda: Connection(Protocol(Side.SERVER), ping_interval=None, close_timeout=10), a
        )
        try:
            waiting = asyncio.create_task(server.recv())
            await asyncio.sleep(0)
            # RFC 6455 section 5.1: a server must fail the connection on an
            # unmasked frame. The raw peer stays silent afterwards: recv()
            # must not wait for it (nor for close_timeout).
            b.sendall(b"\x81\x02hi")
            with pytest.raises(ConnectionClosedError) as info:
                await asyncio.wait_for(waiting, 2)
            assert info.value.code == 1006  # no close frame was received
            assert info.value.rcvd is None and info.value.rcvd_then_sent is None
            assert info.value.sent is not None and info.value.sent.code == 1002
            b.setblocking(False)
            await asyncio.sleep(0.05)
            frame = b.recv(256)
            assert frame[0] == 0x88  # FIN + close
            assert frame[2:4] == (1002).to_bytes(2, "big")
        finally:
            server.transport.abort()
            b.close()

    async def test_messages_queued_before_close_are_delivered(self) -> None:
        async with pair() as (server, client):
            await client.send("a")
            await client.send("b")
            await client.close()
            assert await server.recv() == "a"
            assert await server.recv() == "b"
            with pytest.raises(ConnectionClosedOK):
                await server.recv()

    async def test_close_timeout_when_peer_is_silent(self) -> None:
        loop = asyncio.get_running_loop()
        a, b = socket.socketpair()
        _, client = await loop.connect_accepted_socket(
            lambda: Connection(Protocol(Side.CLIENT), ping_interval=None, close_timeout=0.2), a
        )
        try:
            start = loop.time()
            await asyncio.wait_for(client.close(), 5)  # b never answers
            assert 0.15 < loop.time() - start < 3
            assert client.close_code == 1006
        finally:
            b.close()
