"""Back-pressure both ways: a slow peer cannot make the other side buffer without bound.

Memory is judged by what the connection holds (its receive queue, the
parser's buffer, the transport's write buffer), not by RSS.
"""

from __future__ import annotations

import asyncio

from fastws.asyncio import ClientConnection, ServerConnection, connect, serve
from fastws.asyncio.connection import HOLD_LIMIT

MESSAGE = b"m" * 1024
TOTAL = 20_000  # 20 MiB offered by the fast side: far more than any bound below
MAX_QUEUE = 16
# Delivery stops at the high-water mark exactly; the input behind it waits
# in the protocol, and reading pauses once that costs HOLD_LIMIT (a read
# may bring up to 4 KiB more).
QUEUE_BOUND = MAX_QUEUE
HELD_BOUND = HOLD_LIMIT + 4096


async def wait_until_stalled(task: asyncio.Task[None], probe: object) -> None:
    """Wait until ``task`` stops making progress: its counter stays still
    for 0.3 s (three samples), or the task ends (then the caller's checks fail)."""
    last, still = -1, 0
    for _ in range(200):
        await asyncio.sleep(0.1)
        now = probe()  # type: ignore[operator]
        still = still + 1 if now == last else 0
        if still >= 3 or task.done():
            return
        last = now
    raise AssertionError("the sender never stalled: no back-pressure")


class TestSlowReader:
    async def test_server_queue_is_bounded_and_sender_waits(self) -> None:
        connections: list[ServerConnection] = []
        release = asyncio.Event()
        received: list[bytes] = []

        async def handler(ws: ServerConnection) -> None:
            connections.append(ws)
            await release.wait()  # a slow reader: reads nothing for a while
            for _ in range(TOTAL):
                received.append(await ws.recv())  # type: ignore[arg-type]

        # Uncompressed, so that the bytes on the wire are the bytes sent.
        async with serve(
            handler, "127.0.0.1", 0, max_queue=MAX_QUEUE, ping_interval=None, compression=None
        ) as server:
            port = server.sockets[0].getsockname()[1]
            async with connect(f"ws://127.0.0.1:{port}/", ping_interval=None, compression=None) as client:
                sent = 0

                async def produce() -> None:
                    nonlocal sent
                    for _ in range(TOTAL):
                        await client.send(MESSAGE)
                        sent += 1

                producer = asyncio.create_task(produce())
                await wait_until_stalled(producer, lambda: sent)
                assert not producer.done(), "all 20 MiB went through: nothing pushed back"
                ws = connections[0]
                assert ws._transport_paused
                assert len(ws._queue) <= QUEUE_BOUND
                assert ws.protocol.held_bytes <= HELD_BOUND
                # The client's own write buffer is bounded by its write_limit too.
                assert client.transport.get_write_buffer_size() <= 32768 + len(MESSAGE) + 16

                release.set()
                await asyncio.wait_for(producer, 20)
                for _ in range(200):
                    if len(received) == TOTAL:
                        break
                    await asyncio.sleep(0.05)
                assert len(received) == TOTAL
                assert all(m == MESSAGE for m in received)
                assert not ws._transport_paused

    async def test_server_send_waits_for_a_slow_client(self) -> None:
        progress = 0
        write_buffer_sizes: list[int] = []
        done = asyncio.Event()

        async def handler(ws: ServerConnection) -> None:
            nonlocal progress
            for _ in range(TOTAL):
                await ws.send(MESSAGE)
                write_buffer_sizes.append(ws.transport.get_write_buffer_size())
                progress += 1
            done.set()
            await ws.wait_closed()

        write_limit = 65536
        async with serve(
            handler, "127.0.0.1", 0, write_limit=write_limit, ping_interval=None, compression=None
        ) as server:
            port = server.sockets[0].getsockname()[1]
            client: ClientConnection = await connect(
                f"ws://127.0.0.1:{port}/", max_queue=MAX_QUEUE, ping_interval=None, compression=None
            )
            try:
                # The client reads nothing: its queue fills, it stops reading,
                # the kernel buffers fill, and the server must stop too.
                handler_task = next(iter(server.handler_tasks))
                await wait_until_stalled(handler_task, lambda: progress)
                assert progress < TOTAL
                assert not done.is_set()
                assert client._transport_paused
                assert len(client._queue) <= QUEUE_BOUND
                assert client.protocol.held_bytes <= HELD_BOUND
                # send() returns only while the buffer is under the high-water
                # mark plus the message that crossed it.
                assert max(write_buffer_sizes) <= write_limit + len(MESSAGE) + 16
                for _ in range(TOTAL):
                    assert await client.recv() == MESSAGE
                await asyncio.wait_for(done.wait(), 10)
            finally:
                await client.close()
