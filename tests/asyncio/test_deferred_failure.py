"""A protocol error fails the connection after the answers to earlier messages.

RFC 6455 section 7.1.7 (failing the connection) and section 5.2 (reserved
opcodes): a frame with opcode 3 makes the receiver fail the connection with
1002. Messages that arrived intact before it (issue "Strict where the RFC
leaves room") are still delivered, and the application's answers to them go
out before the close frame. These tests talk to ``fastws.serve`` and
``fastws.connect`` over loopback with raw sockets and frames written here by
hand, so that the order of the bytes on the wire is what is checked.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import os
import time
from collections.abc import Callable
from typing import Any

import pytest

import fastws
from conformance.wire import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameReader,
    build_frame,
    parse_close_payload,
)
from fastws.asyncio.connection import FAILURE_GRACE

#: A masked frame (a client's), or unmasked with ``mask=None``.
frame = functools.partial(build_frame, mask=b"\x37\xfa\x21\x3d")


def parse_frames(data: bytes, *, masked: bool) -> list[tuple[int, Any]]:
    """Split ``data`` into (opcode, payload) pairs; every frame must be final.

    A close frame's payload is given as its code (None if it has none).
    """
    reader = FrameReader()
    frames = reader.feed(data)
    assert reader.buffered == 0, "truncated frame"
    result: list[tuple[int, Any]] = []
    for wire_frame in frames:
        assert wire_frame.fin, "every frame here is final"
        assert wire_frame.masked == masked
        payload: Any = wire_frame.payload
        if wire_frame.opcode == OP_CLOSE:
            # Keep the code; the reason is free text, but must be UTF-8.
            payload, reason = parse_close_payload(payload)
            reason.decode()
        result.append((wire_frame.opcode, payload))
    return result


def close_frame(code: int) -> tuple[int, int]:
    return (OP_CLOSE, code)


class Peer:
    """A raw-socket WebSocket client: handshake, then bytes with timestamps."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.start = time.monotonic()

    @classmethod
    async def connect(cls, port: int) -> Peer:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101 "), head
        return cls(reader, writer)

    def send(self, data: bytes) -> None:
        self.start = time.monotonic()
        self.writer.write(data)

    async def read_until_eof(self, timeout: float = 5.0) -> tuple[bytes, float]:
        """Everything until EOF, and the seconds from the last send to EOF."""
        data = await asyncio.wait_for(self.reader.read(), timeout)
        return data, time.monotonic() - self.start

    async def read_some(self, size: int, timeout: float) -> bytes:
        return await asyncio.wait_for(self.reader.readexactly(size), timeout)

    def close(self) -> None:
        self.writer.close()


class TestServerAnswersBeforeFailing:
    """Section 7.1.7: the echo of a message sent before the error precedes the 1002."""

    async def test_echo_then_close_then_eof(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with fastws.serve(echo, "127.0.0.1", 0) as server:
            peer = await Peer.connect(port_of(server))
            # A valid text message and a reserved opcode (3), in ONE write.
            peer.send(frame(OP_TEXT, b"hello") + frame(3, b"x"))
            data, elapsed = await peer.read_until_eof()
            peer.close()
        assert parse_frames(data, masked=False) == [(OP_TEXT, b"hello"), close_frame(1002)]
        # Sent as soon as the handler came back for more, not after the grace.
        assert elapsed < FAILURE_GRACE / 2

    async def test_several_messages_all_echoed_in_order(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with fastws.serve(echo, "127.0.0.1", 0) as server:
            peer = await Peer.connect(port_of(server))
            peer.send(
                frame(OP_TEXT, b"one")
                + frame(OP_BINARY, b"\x00two")
                + frame(OP_TEXT, b"thr", fin=False)
                + frame(OP_CONT, b"ee")
                + frame(0xB)  # reserved control opcode
                + frame(OP_TEXT, b"after the error: never delivered")
            )
            data, _ = await peer.read_until_eof()
            peer.close()
        assert parse_frames(data, masked=False) == [
            (OP_TEXT, b"one"),
            (OP_BINARY, b"\x00two"),
            (OP_TEXT, b"three"),
            close_frame(1002),
        ]

    async def test_invalid_utf8_after_a_message_is_1007_after_the_echo(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with fastws.serve(echo, "127.0.0.1", 0) as server:
            peer = await Peer.connect(port_of(server))
            peer.send(frame(OP_TEXT, b"ok") + frame(OP_TEXT, b"\xce\xba\xff"))
            data, _ = await peer.read_until_eof()
            peer.close()
        assert parse_frames(data, masked=False) == [(OP_TEXT, b"ok"), close_frame(1007)]

    async def test_handler_waiting_in_recv_fails_at_once(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with fastws.serve(echo, "127.0.0.1", 0) as server:
            peer = await Peer.connect(port_of(server))
            await asyncio.sleep(0.05)  # the handler now waits in recv()
            peer.send(frame(3))
            data, elapsed = await peer.read_until_eof()
            peer.close()
        assert parse_frames(data, masked=False) == [close_frame(1002)]
        assert elapsed < FAILURE_GRACE / 2


class TestHandlerThatDoesNotRead:
    """A handler that never reads cannot keep a broken peer's connection open."""

    @pytest.mark.parametrize("close_timeout", [0.3, None])
    async def test_close_after_the_grace_period(
        self, close_timeout: float | None, port_of: Callable[[Any], int]
    ) -> None:
        release = asyncio.Event()

        async def idle(ws: Any) -> None:
            await release.wait()

        bound = FAILURE_GRACE if close_timeout is None else min(close_timeout, FAILURE_GRACE)
        async with fastws.serve(idle, "127.0.0.1", 0, close_timeout=close_timeout) as server:
            peer = await Peer.connect(port_of(server))
            peer.send(frame(OP_TEXT, b"hello") + frame(3, b"x"))
            data, elapsed = await peer.read_until_eof()
            release.set()
            peer.close()
        assert parse_frames(data, masked=False) == [close_frame(1002)]
        # Not before the grace period (the handler might still have answered),
        # and not much after it.
        assert bound * 0.8 <= elapsed < bound + 1.0

    async def test_ping_before_the_error_is_answered_at_once(self, port_of: Callable[[Any], int]) -> None:
        release = asyncio.Event()

        async def idle(ws: Any) -> None:
            await release.wait()

        async with fastws.serve(idle, "127.0.0.1", 0, close_timeout=0.5) as server:
            peer = await Peer.connect(port_of(server))
            peer.send(frame(OP_PING, b"are you there") + frame(OP_TEXT, b"hi") + frame(3))
            # The pong (2 + 13 bytes) arrives long before the failure.
            pong = await peer.read_some(15, timeout=0.3)
            assert time.monotonic() - peer.start < 0.3
            data, elapsed = await peer.read_until_eof()
            release.set()
            peer.close()
        assert parse_frames(pong, masked=False) == [(OP_PONG, b"are you there")]
        assert parse_frames(data, masked=False) == [close_frame(1002)]
        assert elapsed >= 0.4


class TestPingThenError:
    """Section 5.5.2: a ping before the error is answered, then the connection fails."""

    async def test_pong_echo_close(self, port_of: Callable[[Any], int], echo: Callable[..., Any]) -> None:
        async with fastws.serve(echo, "127.0.0.1", 0) as server:
            peer = await Peer.connect(port_of(server))
            peer.send(frame(OP_PING, b"p1") + frame(OP_TEXT, b"msg") + frame(OP_PING, b"p2") + frame(3))
            data, elapsed = await peer.read_until_eof()
            peer.close()
        assert parse_frames(data, masked=False) == [
            (OP_PONG, b"p1"),
            (OP_PONG, b"p2"),  # automatic pongs are written with the read
            (OP_TEXT, b"msg"),
            close_frame(1002),
        ]
        assert elapsed < FAILURE_GRACE / 2

    async def test_ping_then_error_alone(
        self, port_of: Callable[[Any], int], echo: Callable[..., Any]
    ) -> None:
        async with fastws.serve(echo, "127.0.0.1", 0) as server:
            peer = await Peer.connect(port_of(server))
            await asyncio.sleep(0.05)
            peer.send(frame(OP_PING, b"p") + frame(3))
            data, _ = await peer.read_until_eof()
            peer.close()
        assert parse_frames(data, masked=False) == [(OP_PONG, b"p"), close_frame(1002)]


class TestClientAnswersBeforeFailing:
    """The same on the client side: echo, then close 1002 (masked frames)."""

    async def test_client_echo_then_close(self) -> None:
        received: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

        async def raw_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            request = await reader.readuntil(b"\r\n\r\n")
            key = next(
                line.split(b":", 1)[1].strip()
                for line in request.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")
            )
            writer.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: "
                + fastws.accept_key(key.decode()).encode()
                + b"\r\n\r\n"
                + frame(OP_TEXT, b"hello", mask=None)
                + frame(4, mask=None)
            )
            # The client fails the connection: its close frame, then its EOF
            # once we close (section 7.1.1: the server closes TCP first).
            data = b""
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                chunk = await asyncio.wait_for(reader.read(4096), 5)
                if not chunk:
                    break
                data += chunk
                frames = parse_frames(data, masked=True) if len(data) >= 10 else []
                if frames and frames[-1][0] == OP_CLOSE:
                    break
            writer.close()
            received.set_result(data)

        server = await asyncio.start_server(raw_server, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            async with fastws.connect(f"ws://127.0.0.1:{port}/", compression=None) as ws:
                with pytest.raises(fastws.ConnectionClosedError):
                    async for message in ws:
                        await ws.send(message)
                assert ws.close_code == 1006  # no close frame came back
            data = await asyncio.wait_for(received, 5)
        assert parse_frames(data, masked=True) == [(OP_TEXT, b"hello"), close_frame(1002)]
