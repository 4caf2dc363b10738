"""wsproto with fastws' adapter: the masker, its key rotation, and the connection's hot path.

wsproto's own suite runs with the adapter through scripts/peer_suites.sh;
these tests prove that the replacement is on wsproto's receive and send
paths (the codec is called) and that it rotates the key across the pieces
of a frame exactly as RFC 6455 section 5.3 counts octets.
"""

from __future__ import annotations

import importlib.metadata
import os

import pytest

pytest.importorskip("wsproto")

import wsproto.frame_protocol as fp
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Request,
    TextMessage,
)

import fastws.integrations.wsproto as adapter
from fastws.integrations._common import parse_version

KEY = b"\x9a\x01\xfe\x37"
WSPROTO_1_2 = parse_version(importlib.metadata.version("wsproto")) < (1, 3)


def reference_mask(data: bytes, key: bytes, offset: int = 0) -> bytes:
    """RFC 6455 section 5.3 written out: octet i XOR key[(i + offset) MOD 4]."""
    return bytes(b ^ key[(i + offset) % 4] for i, b in enumerate(data))


@pytest.fixture(autouse=True)
def _installed() -> object:
    adapter.install()
    yield
    adapter.uninstall()


def handshake() -> tuple[WSConnection, WSConnection]:
    client, server = WSConnection(ConnectionType.CLIENT), WSConnection(ConnectionType.SERVER)
    server.receive_data(client.send(Request(host="localhost", target="/")))
    assert isinstance(next(server.events()), Request)
    client.receive_data(server.send(AcceptConnection()))
    assert isinstance(next(client.events()), AcceptConnection)
    return client, server


def deliver(receiver: WSConnection, data: bytes, chunk: int) -> list[object]:
    events: list[object] = []
    for start in range(0, len(data), chunk):
        receiver.receive_data(data[start : start + chunk])
        events.extend(receiver.events())
    return events


class TestMasker:
    @pytest.mark.parametrize("cuts", [[0], [1], [3], [4], [5], [1, 1, 1, 1, 1], [7, 2, 64, 1, 125]])
    def test_rotation_across_pieces(self, cuts: list[int]) -> None:
        data = os.urandom(sum(cuts) + 37)
        masker = fp.XorMaskerSimple(KEY)
        assert isinstance(masker, adapter.XorMasker)
        out = b""
        start = 0
        for n in [*cuts, len(data) - sum(cuts)]:
            out += masker.process(data[start : start + n])
            start += n
        assert out == reference_mask(data, KEY)

    def test_input_untouched_and_type(self) -> None:
        data = bytearray(b"payload bytes")
        result = fp.XorMaskerSimple(KEY).process(data)
        assert data == bytearray(b"payload bytes")
        # wsproto 1.3 returns a new bytearray, 1.2 bytes (and an empty input as is).
        assert type(result) is (bytes if WSPROTO_1_2 else bytearray)
        assert result == reference_mask(b"payload bytes", KEY)
        empty = b""
        assert fp.XorMaskerSimple(KEY).process(empty) == b""
        assert (fp.XorMaskerSimple(KEY).process(empty) is empty) is WSPROTO_1_2

    def test_rotated_key_as_wsproto_keeps_it(self) -> None:
        masker = adapter.XorMasker(b"1234")
        masker.process(b"abcde")
        assert masker._masking_key == b"2341"


class TestConnection:
    @pytest.mark.parametrize(
        ("size", "chunk"),
        [
            (size, chunk)
            for size in (0, 1, 5, 125, 126, 1024, 65535, 65536, 100_001)
            for chunk in (1 << 30, 1000)
        ]
        + [(size, 7) for size in (1, 5, 125, 126, 1024)],
    )
    def test_client_to_server(self, codec_spy, size: int, chunk: int) -> None:
        spy = codec_spy("wsproto")
        client, server = handshake()
        data = os.urandom(size)
        wire = client.send(BytesMessage(data=data))
        events = deliver(server, wire, chunk)
        assert b"".join(e.data for e in events) == data
        if size:
            assert spy.calls >= 2  # client masks once, server unmasks per piece

    @pytest.mark.parametrize("size", [1, 126, 65536])
    def test_server_to_client(self, codec_spy, size: int) -> None:
        spy = codec_spy("wsproto")
        client, server = handshake()
        text = ("é😀x" * size)[:size]
        events = deliver(client, server.send(TextMessage(data=text)), 4096)
        assert "".join(e.data for e in events) == text
        assert spy.calls == 0  # servers do not mask (RFC 6455 section 5.1)

    def test_close(self) -> None:
        client, server = handshake()
        events = deliver(server, client.send(CloseConnection(code=1000, reason="bye é")), 3)
        assert isinstance(events[0], CloseConnection) and events[0].reason == "bye é"


def test_uninstalled_uses_wsproto(codec_spy) -> None:
    spy = codec_spy("wsproto")
    adapter.uninstall()
    assert fp.XorMaskerSimple.__module__ == "wsproto.frame_protocol"
    client, server = handshake()
    deliver(server, client.send(BytesMessage(data=b"abc" * 100)), 1 << 30)
    assert spy.calls == 0
