"""Messages per second through the sans-IO protocol layer.

Bytes in, validated message events out: the same masked client-to-server
frames (ASCII text, UTF-8 validated and decoded to ``str``), fed in 64 KiB reads,
through fastws' server ``Protocol`` and the peers' equivalents:

* ``websockets``: ``websockets.protocol.Protocol(Side.SERVER)`` (its sans-IO
  core, already OPEN). It emits frames, not messages; its own asyncio layer
  decodes each text frame with ``bytes.decode()``, so the adapter does too.
* ``wsproto``: ``wsproto.connection.Connection(SERVER)`` (the post-handshake
  object ``WSConnection`` delegates to); messages counted on
  ``message_finished``.
* ``aiohttp``: the Cython ``aiohttp._websocket.reader_c.WebSocketReader``
  (message level, not sans-IO) with ``decode_text=True``, writing into its
  ``WebSocketDataQueue``; the queue limit is set high enough never to stall.

Each group (one message size) holds every implementation on the same bytes,
so the ratio of two times is the inverse ratio of their messages/s.
``extra_info`` holds the message count of one round and, after the run,
the messages/s of the fastest round.

Run::

    FASTWS_NO_EXTENSIONS=1 pytest bench/test_bench_protocol.py
    FASTWS_REQUIRE_EXTENSIONS=1 pytest bench/test_bench_protocol.py
"""

from __future__ import annotations

import asyncio
import random
import struct
from collections.abc import Callable
from typing import Any

import pytest

from fastws.codec import IMPLEMENTATION
from fastws.events import TextMessage
from fastws.protocol import Protocol, Side
from peers import AiohttpProtocolStub

CHUNK = 64 * 1024

#: (message size, message count): 10,000 small messages; 64 KiB messages
#: are fewer so that one round stays well under a second.
CASES = [(8, 10_000), (125, 10_000), (1024, 10_000), (65536, 500)]


def _masked_text_frame(payload: bytes, key: bytes) -> bytes:
    """One masked, final text frame (RFC 6455 section 5.2), built by hand."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x81, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x81, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
    stream = (key * (n // 4 + 1))[:n]
    masked = (
        bytes(a ^ b for a, b in zip(payload, stream, strict=True))
        if n < 256
        else (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")
    )
    return header + key + masked


def _stream(size: int, count: int) -> tuple[list[bytes], list[str]]:
    """The 64 KiB reads carrying ``count`` text messages of ``size`` bytes."""
    rng = random.Random(size)
    # ASCII, as JSON usually is: CPython decodes it on its fast path, so
    # the time measured is the protocol's, not the UTF-8 decoder's (which
    # every implementation calls the same way).
    alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789 {}:,"'
    texts = []
    frames = []
    for i in range(count):
        text = "".join(rng.choice(alphabet) for _ in range(size))
        data = text.encode()
        texts.append(text)
        frames.append(_masked_text_frame(data, struct.pack("!I", rng.getrandbits(32))))
        if i >= 63 and count > 64:
            # Repeat the first 64 messages: building 10,000 random ones
            # would dominate the suite's set-up time.
            break
    while len(frames) < count:
        frames.extend(frames[: count - len(frames)])
        texts.extend(texts[: count - len(texts)])
    data = b"".join(frames)
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)], texts


def _fastws(chunks: list[bytes]) -> Callable[[], list[str]]:
    def run() -> list[str]:
        protocol = Protocol(Side.SERVER)
        receive = protocol.receive_data
        for chunk in chunks:
            receive(chunk)
        return [event.data for event in protocol.events_received() if type(event) is TextMessage]

    return run


def _websockets(chunks: list[bytes]) -> Callable[[], list[str]]:
    websockets_protocol = pytest.importorskip("websockets.protocol")
    from websockets.frames import Opcode as WSOpcode

    def run() -> list[str]:
        protocol = websockets_protocol.Protocol(websockets_protocol.Side.SERVER, max_size=2**20)
        receive = protocol.receive_data
        for chunk in chunks:
            receive(chunk)
        text = WSOpcode.TEXT
        # Unfragmented frames only here, so a frame is a message.
        return [frame.data.decode() for frame in protocol.events_received() if frame.opcode is text]

    return run


def _wsproto(chunks: list[bytes]) -> Callable[[], list[str]]:
    connection = pytest.importorskip("wsproto.connection")
    from wsproto.events import TextMessage as WsprotoText

    def run() -> list[str]:
        conn = connection.Connection(connection.ConnectionType.SERVER)
        receive = conn.receive_data
        events = conn.events
        texts = []
        parts: list[str] = []
        for chunk in chunks:
            receive(chunk)
            for event in events():
                if type(event) is WsprotoText:
                    if event.message_finished and not parts:
                        texts.append(event.data)
                    else:
                        parts.append(event.data)
                        if event.message_finished:
                            texts.append("".join(parts))
                            parts = []
        return texts

    return run


def _aiohttp(chunks: list[bytes]) -> Callable[[], list[str]]:
    reader_c = pytest.importorskip("aiohttp._websocket.reader_c")
    loop = asyncio.new_event_loop()

    def run() -> list[str]:
        queue = reader_c.WebSocketDataQueue(AiohttpProtocolStub(), 2**30, loop=loop)
        reader = reader_c.WebSocketReader(queue, 2**20, compress=False, decode_text=True)
        feed = reader.feed_data
        for chunk in chunks:
            feed(chunk)
        return [message.data for message, _size in queue._buffer]

    return run


PEERS: dict[str, Callable[[list[bytes]], Callable[[], list[str]]]] = {
    f"fastws-{IMPLEMENTATION}": _fastws,
    "websockets": _websockets,
    "wsproto": _wsproto,
    "aiohttp-c": _aiohttp,
}

_STREAMS: dict[tuple[int, int], tuple[list[bytes], list[str]]] = {}


@pytest.mark.parametrize("peer", list(PEERS))
@pytest.mark.parametrize(("size", "count"), CASES, ids=[f"{s}B" for s, _ in CASES])
def test_receive_text_messages(benchmark: Any, peer: str, size: int, count: int) -> None:
    if (size, count) not in _STREAMS:
        _STREAMS[size, count] = _stream(size, count)
    chunks, texts = _STREAMS[size, count]
    run = PEERS[peer](chunks)
    # Check the result once, outside the timing: a broken adapter must not
    # post a fast time.
    assert run() == texts
    benchmark.group = f"protocol-receive-text-{size}B"
    benchmark.extra_info["messages"] = count
    benchmark.extra_info["bytes"] = sum(map(len, chunks))
    benchmark(run)
    stats = getattr(benchmark, "stats", None)
    if stats is not None:  # None with --benchmark-disable
        benchmark.extra_info["messages_per_second"] = round(count / stats.stats.min)
