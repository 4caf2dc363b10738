"""websockets with fastws' adapter: sans-IO and asyncio, every frame size, both directions.

websockets' sdist ships no tests, so these stand in for its suite: they drive
websockets' own sans-IO ``Protocol`` and its asyncio client and server with
the adapter installed, through every payload length encoding (RFC 6455
section 5.2: 7-bit, 16-bit and 64-bit lengths, and their edges) and through
reads cut at awkward places, and check every payload against what was sent
and every masked frame on the wire against RFC 6455 section 5.3 written out
(:func:`reference_mask`).
"""

from __future__ import annotations

import asyncio
import os
import struct

import pytest

websockets = pytest.importorskip("websockets")

from websockets.frames import Frame, Opcode  # noqa: E402
from websockets.protocol import Protocol, Side  # noqa: E402

import fastws.integrations.websockets as adapter  # noqa: E402

# RFC 6455 section 5.2: lengths up to 125 in 7 bits, 126..65535 in 16 bits,
# more in 64 bits; plus sizes around the masking kernels' word and vector widths.
SIZES = sorted(
    {
        0,
        1,
        2,
        3,
        4,
        5,
        7,
        8,
        9,
        15,
        16,
        17,
        31,
        32,
        33,
        63,
        64,
        65,
        124,
        125,
        126,
        127,
        128,
        255,
        256,
        1023,
        1024,
        1025,
        4096,
        65535,
        65536,
        65537,
        200_003,
    }
)
CHUNKS = [1, 3, 7, 1000]


@pytest.fixture(autouse=True)
def _installed() -> object:
    adapter.install()
    yield
    adapter.uninstall()


def reference_mask(data: bytes, key: bytes, offset: int = 0) -> bytes:
    """RFC 6455 section 5.3 written out: octet i XOR key[(i + offset) MOD 4]."""
    return bytes(b ^ key[(i + offset) % 4] for i, b in enumerate(data))


def payload(size: int) -> bytes:
    return os.urandom(size)


def unmask_wire(frame: bytes) -> tuple[int, bytes]:
    """Opcode and payload of one masked frame, unmasked by the RFC rule, not by any codec."""
    assert frame[1] & 0x80, "client frames must be masked (RFC 6455 section 5.3)"
    length = frame[1] & 0x7F
    pos = 2
    if length == 126:
        (length,) = struct.unpack("!H", frame[2:4])
        pos = 4
    elif length == 127:
        (length,) = struct.unpack("!Q", frame[2:10])
        pos = 10
    key = frame[pos : pos + 4]
    body = frame[pos + 4 : pos + 4 + length]
    assert len(body) == length
    return frame[0] & 0x0F, reference_mask(body, key)


def pair(max_size: int | None = None) -> tuple[Protocol, Protocol]:
    return Protocol(Side.CLIENT, max_size=max_size), Protocol(Side.SERVER, max_size=max_size)


def feed(receiver: Protocol, data: bytes, chunk: int) -> list[Frame]:
    for start in range(0, len(data), chunk):
        receiver.receive_data(data[start : start + chunk])
    return receiver.events_received()


class TestSansIOClientToServer:
    """RFC 6455 section 5.3: the client masks, the server unmasks (both through fastws)."""

    @pytest.mark.parametrize("size", SIZES)
    def test_binary(self, codec_spy, size: int) -> None:
        spy = codec_spy("websockets")
        client, server = pair()
        data = payload(size)
        client.send_binary(data)
        (wire,) = client.data_to_send()
        assert unmask_wire(wire) == (Opcode.BINARY, data)
        (frame,) = feed(server, wire, len(wire) or 1)
        assert frame.opcode is Opcode.BINARY and frame.data == data and frame.fin
        # One call to mask on send, one to unmask on receipt.
        assert spy.calls == 2 and spy.sizes == [size, size]

    @pytest.mark.parametrize("chunk", CHUNKS)
    @pytest.mark.parametrize("size", [0, 1, 5, 125, 126, 65536])
    def test_cut_reads(self, codec_spy, size: int, chunk: int) -> None:
        spy = codec_spy("websockets")
        client, server = pair()
        data = payload(size)
        client.send_binary(data)
        (frame,) = feed(server, b"".join(client.data_to_send()), chunk)
        assert frame.data == data
        assert spy.calls == 2

    @pytest.mark.parametrize("size", [1, 4, 125, 126, 70_000])
    def test_text_fragmented(self, size: int) -> None:
        client, server = pair()
        text = ("é€😀a" * size)[:size]
        encoded = text.encode()
        third = len(encoded) // 3
        client.send_text(encoded[:third], fin=False)
        client.send_continuation(encoded[third : 2 * third], fin=False)
        client.send_continuation(encoded[2 * third :], fin=True)
        frames = feed(server, b"".join(client.data_to_send()), 4093)
        assert [f.opcode for f in frames] == [Opcode.TEXT, Opcode.CONT, Opcode.CONT]
        assert b"".join(f.data for f in frames).decode() == text

    def test_control_frames(self) -> None:
        client, server = pair()
        client.send_ping(b"\x00\xffping")
        (frame,) = feed(server, b"".join(client.data_to_send()), 1)
        assert frame.opcode is Opcode.PING and frame.data == b"\x00\xffping"
        # The server answers the ping; the client reads the pong unmasked.
        (pong,) = feed(client, b"".join(server.data_to_send()), 1)
        assert pong.opcode is Opcode.PONG and pong.data == b"\x00\xffping"

    def test_oversized_refused_before_payload(self) -> None:
        client, server = pair(max_size=1000)
        client.send_binary(payload(1001))
        server.receive_data(b"".join(client.data_to_send()))
        assert server.close_expected()
        assert isinstance(server.parser_exc, websockets.exceptions.PayloadTooBig)


class TestSansIOServerToClient:
    """RFC 6455 section 5.1: the server sends unmasked frames; the client reads them."""

    @pytest.mark.parametrize("size", SIZES)
    def test_binary(self, codec_spy, size: int) -> None:
        spy = codec_spy("websockets")
        client, server = pair()
        data = payload(size)
        server.send_binary(data)
        (wire,) = server.data_to_send()
        assert not wire[1] & 0x80
        assert wire.endswith(data)
        (frame,) = feed(client, wire, 997)
        assert frame.data == data
        assert spy.calls == 0  # nothing is masked in this direction

    def test_masked_frame_from_server_refused(self) -> None:
        # RFC 6455 section 5.1: "A client MUST close a connection if it detects a masked frame."
        client, _ = pair()
        client.receive_data(bytes([0x82, 0x81]) + b"abcd" + b"x")
        assert isinstance(client.parser_exc, websockets.exceptions.ProtocolError)


class TestApplyMaskDropIn:
    def test_same_as_reference(self) -> None:
        for size in SIZES:
            data = payload(size)
            assert adapter.apply_mask(data, b"\x01\x82\x43\xf4") == reference_mask(data, b"\x01\x82\x43\xf4")

    def test_noncontiguous_memoryview_like_websockets(self) -> None:
        import websockets.utils

        data = memoryview(bytes(range(40)))[::2]
        assert adapter.apply_mask(data, b"abcd") == websockets.utils.apply_mask(data, b"abcd")
        assert adapter.apply_mask(data, b"abcd") == reference_mask(bytes(data), b"abcd")

    def test_bad_mask_is_websockets_error(self) -> None:
        original = adapter._original_apply_mask
        with pytest.raises(ValueError) as ours:
            adapter.apply_mask(b"data", b"abc")
        with pytest.raises(ValueError) as theirs:
            original(b"data", b"abc")
        assert str(ours.value) == str(theirs.value)


class TestHotPath:
    def test_frames_module_calls_fastws(self, codec_spy) -> None:
        import websockets.frames as frames

        assert frames.apply_mask is adapter.apply_mask
        spy = codec_spy("websockets")
        data = frames.Frame(Opcode.BINARY, b"hello").serialize(mask=True)
        assert spy.calls == 1 and data[1] & 0x80

    def test_uninstalled_does_not(self, codec_spy) -> None:
        spy = codec_spy("websockets")
        adapter.uninstall()
        client, server = pair()
        client.send_binary(b"x" * 100)
        feed(server, b"".join(client.data_to_send()), 100)
        assert spy.calls == 0


class TestAsyncio:
    """websockets' asyncio client and server over loopback, adapter installed on both ends."""

    @pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 1_000_003])
    def test_echo_both_directions(self, codec_spy, size: int) -> None:
        from websockets.asyncio.client import connect
        from websockets.asyncio.server import serve

        spy = codec_spy("websockets")

        async def echo(ws) -> None:
            async for message in ws:
                await ws.send(message)

        async def main() -> None:
            async with serve(echo, "127.0.0.1", 0, max_size=None, compression=None) as server:
                port = server.sockets[0].getsockname()[1]
                async with connect(f"ws://127.0.0.1:{port}", max_size=None, compression=None) as ws:
                    data = payload(size)
                    await ws.send(data)
                    assert await ws.recv() == data
                    text = ("ascii é 😀 " * (size // 10 + 1))[: max(size // 4, 1)]
                    await ws.send(text)
                    assert await ws.recv() == text

        asyncio.run(asyncio.wait_for(main(), timeout=30))
        # Client masking on send and server unmasking on receipt, for the
        # binary and the text message (plus close frames).
        assert spy.calls >= 4
        assert spy.sizes.count(size) >= 2

    def test_fragmented_send(self, codec_spy) -> None:
        from websockets.asyncio.client import connect
        from websockets.asyncio.server import serve

        spy = codec_spy("websockets")
        parts = [payload(n) for n in (1, 126, 65536, 3)]

        async def echo(ws) -> None:
            await ws.send(await ws.recv())

        async def main() -> None:
            async with serve(echo, "127.0.0.1", 0, max_size=None) as server:
                port = server.sockets[0].getsockname()[1]
                async with connect(f"ws://127.0.0.1:{port}", max_size=None) as ws:
                    await ws.send(iter(parts))
                    assert await ws.recv() == b"".join(parts)

        asyncio.run(asyncio.wait_for(main(), timeout=30))
        assert spy.calls >= 2 * len(parts)
