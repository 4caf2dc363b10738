"""The floor of a WebSocket echo server written in Python: the least its code can do per read.

A plain ``asyncio.BufferedProtocol`` that answers the opening handshake
and then, for every complete masked frame a read brings, unmasks the
payload (``fastws.codec.apply_mask``) and writes it back in an unmasked
frame. It checks nothing (no opcode, no UTF-8, no limits; a close frame
is echoed like any other, then the connection closed) and is not a
WebSocket implementation: it is what two Python callbacks per read
(``get_buffer``, ``buffer_updated``) and the event loop's own work cost,
measured beside real servers by ``bench/echo_instructions.py --impls
python-floor`` (round trips, bursts, and whole connections with ``--mode
handshake``). A server whose per-read code runs in Python cannot go below
it.

``TaskFloorEcho`` (``--impls python-floor-task``) is the floor of the
``async for message in ws: await ws.send(message)`` style: the same
callbacks queue each payload and wake one task per connection, which awaits
a future for the next message and writes its echo. Besides the read
callbacks it pays only what any asyncio task that waits for a message
pays: a future made and resolved, a task step, the task's own frame. Per
connection, it is the floor of a server that runs a coroutine handler for
each connection: the task is made at ``connection_made`` and returns after
echoing the close frame.

Run: ``python bench/echo_floor.py asyncio|uvloop [task]`` prints ``PORT n``
once listening and serves until SIGTERM.
"""

from __future__ import annotations

import asyncio
import collections
import os
import sys

from echo_servers import announce_and_wait
from fastws.codec import apply_mask
from fastws.handshake import accept_key

__all__ = ["FLOOR", "FLOORS", "TASK_FLOOR", "FloorEcho", "TaskFloorEcho", "main", "server_arguments"]

#: The benchmark column of :class:`FloorEcho`: the floor of a server whose per-read code is Python.
FLOOR = "python-floor"
#: The column of :class:`TaskFloorEcho`: the same, echoing from a task (a coroutine handler's floor).
TASK_FLOOR = "python-floor-task"
FLOORS = (FLOOR, TASK_FLOOR)


class FloorEcho(asyncio.BufferedProtocol):
    """Unmask and echo every complete client frame; keep a partial one for the next read."""

    def __init__(self) -> None:
        self.view = memoryview(bytearray(65536))
        self.pending = b""
        self.open = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view

    def buffer_updated(self, nbytes: int) -> None:
        assert self.transport is not None
        data = self.pending + self.view[:nbytes] if self.pending else bytes(self.view[:nbytes])
        if not self.open:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.pending = data
                return
            key = data.split(b"Sec-WebSocket-Key: ", 1)[1].split(b"\r\n", 1)[0].decode()
            self.transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept_key(key).encode() + b"\r\n\r\n"
            )
            self.open = True
            data = data[end + 4 :]
        out: list[bytes] = []
        pos = 0
        size = len(data)
        # Each turn consumes one whole frame or stops: bounded by the read.
        while size - pos >= 6:
            length = data[pos + 1] & 0x7F
            start = pos + 2
            if length == 126:
                length = int.from_bytes(data[start : start + 2], "big")
                start += 2
            elif length == 127:
                length = int.from_bytes(data[start : start + 8], "big")
                start += 8
            end = start + 4 + length
            if end > size:
                break
            payload = apply_mask(data[start + 4 : end], data[start : start + 4])
            if length < 126:
                out.append(bytes((data[pos], length)))
            elif length < 65536:
                out.append(bytes((data[pos], 126)) + length.to_bytes(2, "big"))
            else:
                out.append(bytes((data[pos], 127)) + length.to_bytes(8, "big"))
            out.append(payload)
            pos = end
        self.pending = data[pos:]
        if out:
            self.received(out)

    def received(self, out: list[bytes]) -> None:
        """Echo the frames of one read: ``out`` holds a header, then its payload, for each."""
        assert self.transport is not None
        self.transport.write(b"".join(out))
        if out[-2][0] & 0x0F == 0x8:
            # A close frame, echoed: the closing handshake's answer. End TCP.
            self.transport.close()


class TaskFloorEcho(FloorEcho):
    """The frames of a read go to a task that awaits each message and echoes it."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: collections.deque[tuple[bytes, bytes]] = collections.deque()
        self.waiter: asyncio.Future[None] | None = None
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.task = asyncio.get_running_loop().create_task(self.echo())

    def connection_lost(self, exc: Exception | None) -> None:
        if self.task is not None:
            self.task.cancel()

    def received(self, out: list[bytes]) -> None:
        self.messages.extend(zip(out[::2], out[1::2], strict=True))
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def echo(self) -> None:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        messages = self.messages
        while True:  # until a close frame, or connection_lost cancels the task
            if not messages:
                self.waiter = loop.create_future()
                await self.waiter
                self.waiter = None
                continue
            header, payload = messages.popleft()
            self.transport.write(header + payload)
            if header[0] & 0x0F == 0x8:
                # A close frame, echoed: end TCP, and the task, as a handler returns.
                self.transport.close()
                return


async def _serve(protocol: type[FloorEcho]) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(protocol, "127.0.0.1", 0)
    await announce_and_wait(server.sockets)
    server.close()


def server_arguments(loop: str, task: bool = False) -> list[str]:
    """The command line, after the interpreter, that serves this floor on ``loop``."""
    return [os.path.abspath(__file__), loop, *(["task"] if task else [])]


def main(loop: str, task: bool = False) -> None:
    """Serve on ``loop`` (``asyncio`` or ``uvloop``) until SIGTERM; ``task``: echo from a task."""
    serving = _serve(TaskFloorEcho if task else FloorEcho)
    if loop == "uvloop":
        import uvloop

        uvloop.run(serving)
    else:
        asyncio.run(serving)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "asyncio", sys.argv[2:3] == ["task"])
