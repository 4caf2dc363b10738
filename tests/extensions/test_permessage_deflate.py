"""permessage-deflate (RFC 7692): negotiation, framing, context takeover, limits, backends.

Everything above the codec binds the twin chosen at import time, so CI runs
this file under both ``FASTWS_NO_EXTENSIONS=1`` and
``FASTWS_REQUIRE_EXTENSIONS=1``.
"""

from __future__ import annotations

import base64
import itertools
import random
import tracemalloc
import zlib
from typing import Any

import pytest

from fastws.client import ClientProtocol
from fastws.codec import Frame, FrameParser, encode_frame
from fastws.events import BinaryMessage, CloseReceived, Ping, TextMessage
from fastws.exceptions import NegotiationError, PayloadTooBig, ProtocolError
from fastws.extensions import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
    get_default_backend,
    set_default_backend,
)
from fastws.extensions.permessage_deflate import get_backend
from fastws.handshake import accept_key
from fastws.protocol import Protocol, Side, State
from fastws.server import ServerProtocol

KEY = "dGhlIHNhbXBsZSBub25jZQ=="


# -- helpers -----------------------------------------------------------------------


def server_answer(offer: str | None, **factory_kwargs: Any) -> tuple[str | None, ServerProtocol]:
    """Feed a request offering ``offer`` to a server; its Sec-WebSocket-Extensions answer."""
    server = ServerProtocol(extensions=[ServerPerMessageDeflateFactory(**factory_kwargs)])
    lines = [
        "GET /chat HTTP/1.1",
        "Host: example.com",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {KEY}",
        "Sec-WebSocket-Version: 13",
    ]
    if offer is not None:
        lines.append(f"Sec-WebSocket-Extensions: {offer}")
    server.receive_data(("\r\n".join(lines) + "\r\n\r\n").encode())
    (request,) = server.events_received()
    response = server.accept(request)
    assert response.status == 101
    server.send_response(response)
    server.data_to_send()
    assert server.state is State.OPEN
    values = response.headers.get_all("Sec-WebSocket-Extensions")
    assert len(values) <= 1
    return (values[0] if values else None), server


def client_with_answer(answer: str | None, *factories: ClientPerMessageDeflateFactory) -> ClientProtocol:
    """A client whose offer is answered with ``answer``."""
    client = ClientProtocol("ws://example.com/chat", extensions=list(factories) or None)
    request = client.connect()
    client.send_request(request)
    client.data_to_send()
    lines = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Accept: {accept_key(request.headers['Sec-WebSocket-Key'])}",
    ]
    if answer is not None:
        lines.append(f"Sec-WebSocket-Extensions: {answer}")
    client.receive_data(("\r\n".join(lines) + "\r\n\r\n").encode())
    return client


def params_of(ext: PerMessageDeflate) -> tuple[bool, bool, int, int]:
    return (
        ext.remote_no_context_takeover,
        ext.local_no_context_takeover,
        ext.remote_max_window_bits,
        ext.local_max_window_bits,
    )


def pair(
    client_ext: PerMessageDeflate | None = None, server_ext: PerMessageDeflate | None = None, **kwargs: Any
) -> tuple[Protocol, Protocol]:
    client = Protocol(Side.CLIENT, extensions=[client_ext or PerMessageDeflate(min_size=0)], **kwargs)
    server = Protocol(Side.SERVER, extensions=[server_ext or PerMessageDeflate(min_size=0)], **kwargs)
    return client, server


def feed(receiver: Protocol, chunks: list[bytes], rng: random.Random | None = None) -> list[Any]:
    data = b"".join(chunks)
    if rng is None:
        receiver.receive_data(data)
    else:
        start = 0
        for _ in range(10_000):
            if start >= len(data):
                break
            step = rng.randint(1, max(1, min(len(data) - start, 700)))
            receiver.receive_data(data[start : start + step])
            start += step
        assert start >= len(data)
    return receiver.events_received()


def frames_of(chunks: list[bytes], *, masked: bool) -> list[Frame]:
    parser = FrameParser(require_mask=masked)
    return parser.feed(b"".join(c for c in chunks if c))


def sent_close_code(p: Protocol) -> int:
    """The code of the close frame ``p`` sends now (followed by EOF)."""
    out = p.data_to_send()
    assert out[-1] == b""
    frames = frames_of(out, masked=p.side is Side.CLIENT)
    assert frames[-1].opcode == 0x8
    return int.from_bytes(frames[-1].payload[:2], "big")


def deflate_raw(data: bytes, wbits: int = 15) -> bytes:
    """A reference compressor, independent of the code under test."""
    c = zlib.compressobj(9, zlib.DEFLATED, -wbits)
    return c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)


# -- negotiation: server ------------------------------------------------------------


class TestServerNegotiation:
    """RFC 7692 section 7.1: the server's answer to each offer (exact header values)."""

    @pytest.mark.parametrize(
        ("offer", "answer"),
        [
            # Defaults: 12-bit server window announced; the client's window
            # is chosen only when the client offers client_max_window_bits.
            ("permessage-deflate", "permessage-deflate; server_max_window_bits=12"),
            (
                "permessage-deflate; client_max_window_bits",
                "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
            ),
            (
                "permessage-deflate; client_max_window_bits=10",
                "permessage-deflate; server_max_window_bits=12; client_max_window_bits=10",
            ),
            (
                "permessage-deflate; client_max_window_bits=15",
                "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
            ),
            (
                "permessage-deflate; server_max_window_bits=10",
                "permessage-deflate; server_max_window_bits=10",
            ),
            (
                "permessage-deflate; server_max_window_bits=15",
                "permessage-deflate; server_max_window_bits=12",
            ),
            (
                "permessage-deflate; server_max_window_bits=8",
                "permessage-deflate; server_max_window_bits=8",
            ),
            (
                "permessage-deflate; server_no_context_takeover",
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=12",
            ),
            (
                "permessage-deflate; client_no_context_takeover",
                "permessage-deflate; client_no_context_takeover; server_max_window_bits=12",
            ),
            (
                'permessage-deflate; server_max_window_bits="9"',
                "permessage-deflate; server_max_window_bits=9",
            ),
            (
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                "server_max_window_bits=11; client_max_window_bits=9",
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                "server_max_window_bits=11; client_max_window_bits=9",
            ),
            # Other extensions are left out; only permessage-deflate is answered.
            ("x-webkit-deflate-frame, permessage-deflate", "permessage-deflate; server_max_window_bits=12"),
            # No offer, no answer.
            (None, None),
            ("x-unknown", None),
        ],
    )
    def test_default_server(self, offer: str | None, answer: str | None) -> None:
        assert server_answer(offer)[0] == answer

    @pytest.mark.parametrize(
        "offer",
        [
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
            "permessage-deflate; x-unknown",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; client_no_context_takeover=true",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; client_max_window_bits=09",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; client_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; client_max_window_bits=0",
            "permessage-deflate; server_max_window_bits=+9",
            "permessage-deflate; server_max_window_bits=abc",
        ],
    )
    def test_invalid_offer_declined(self, offer: str) -> None:
        answer, server = server_answer(offer)
        assert answer is None
        assert server.extensions == []

    @pytest.mark.parametrize(
        ("offer", "answer"),
        [
            # The first acceptable offer wins; later ones are not answered.
            (
                "permessage-deflate; server_max_window_bits=10, permessage-deflate",
                "permessage-deflate; server_max_window_bits=10",
            ),
            (
                "permessage-deflate; server_max_window_bits=16, permessage-deflate; client_max_window_bits",
                "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
            ),
            (
                "permessage-deflate; x-bad, permessage-deflate; server_no_context_takeover, permessage-deflate",
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=12",
            ),
        ],
    )
    def test_several_offers(self, offer: str, answer: str) -> None:
        got, server = server_answer(offer)
        assert got == answer
        assert len(server.extensions) == 1

    def test_several_header_fields(self) -> None:
        server = ServerProtocol(extensions=[ServerPerMessageDeflateFactory()])
        server.receive_data(
            (
                "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=99\r\n"
                "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9\r\n\r\n"
            ).encode()
        )
        (request,) = server.events_received()
        response = server.accept(request)
        assert response.headers["Sec-WebSocket-Extensions"] == "permessage-deflate; server_max_window_bits=9"

    @pytest.mark.parametrize(
        ("kwargs", "offer", "answer"),
        [
            (
                {"server_max_window_bits": None, "client_max_window_bits": None},
                "permessage-deflate; client_max_window_bits",
                "permessage-deflate",
            ),
            (
                {"server_max_window_bits": None, "client_max_window_bits": None},
                "permessage-deflate; server_max_window_bits=15",
                "permessage-deflate; server_max_window_bits=15",
            ),
            (
                {"server_max_window_bits": 15, "client_max_window_bits": None},
                "permessage-deflate; client_max_window_bits=11",
                "permessage-deflate; client_max_window_bits=11",
            ),
            (
                {"server_no_context_takeover": True, "client_no_context_takeover": True},
                "permessage-deflate",
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                "server_max_window_bits=12",
            ),
            (
                {"server_max_window_bits": 9, "client_max_window_bits": 8},
                "permessage-deflate; client_max_window_bits",
                "permessage-deflate; server_max_window_bits=9; client_max_window_bits=8",
            ),
        ],
    )
    def test_configured_server(self, kwargs: dict[str, Any], offer: str, answer: str) -> None:
        assert server_answer(offer, **kwargs)[0] == answer

    def test_require_client_max_window_bits(self) -> None:
        assert server_answer("permessage-deflate", require_client_max_window_bits=True)[0] is None
        assert (
            server_answer("permessage-deflate; client_max_window_bits", require_client_max_window_bits=True)[
                0
            ]
            == "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
        )

    def test_negotiated_parameters(self) -> None:
        _, server = server_answer(
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits"
        )
        (ext,) = server.extensions
        assert isinstance(ext, PerMessageDeflate)
        # remote = the client; local = the server.
        assert params_of(ext) == (True, False, 12, 10)

    def test_bad_factory_arguments(self) -> None:
        with pytest.raises(ValueError):
            ServerPerMessageDeflateFactory(server_max_window_bits=16)
        with pytest.raises(ValueError):
            ServerPerMessageDeflateFactory(client_max_window_bits=7)
        with pytest.raises(ValueError):
            ServerPerMessageDeflateFactory(client_max_window_bits=None, require_client_max_window_bits=True)
        with pytest.raises(ValueError):
            ServerPerMessageDeflateFactory(backend="no-such-backend")


# -- negotiation: client ------------------------------------------------------------


class TestClientNegotiation:
    """RFC 7692 section 7.1: the client's offer and its checks of the answer."""

    @pytest.mark.parametrize(
        ("kwargs", "offer"),
        [
            ({}, "permessage-deflate; client_max_window_bits"),
            ({"client_max_window_bits": None}, "permessage-deflate"),
            ({"client_max_window_bits": 10}, "permessage-deflate; client_max_window_bits=10"),
            (
                {
                    "server_no_context_takeover": True,
                    "client_no_context_takeover": True,
                    "server_max_window_bits": 9,
                    "client_max_window_bits": 8,
                },
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                "server_max_window_bits=9; client_max_window_bits=8",
            ),
        ],
    )
    def test_offer(self, kwargs: dict[str, Any], offer: str) -> None:
        client = ClientProtocol("ws://example.com/", extensions=[ClientPerMessageDeflateFactory(**kwargs)])
        assert client.connect().headers["Sec-WebSocket-Extensions"] == offer

    def test_several_offers(self) -> None:
        client = ClientProtocol(
            "ws://example.com/",
            extensions=[
                ClientPerMessageDeflateFactory(server_max_window_bits=10, client_max_window_bits=10),
                ClientPerMessageDeflateFactory(),
            ],
        )
        assert client.connect().headers["Sec-WebSocket-Extensions"] == (
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits=10, "
            "permessage-deflate; client_max_window_bits"
        )

    @pytest.mark.parametrize(
        ("kwargs", "answer", "expected"),
        [
            ({}, None, None),
            ({}, "permessage-deflate", (False, False, 15, 15)),
            ({}, "permessage-deflate; server_no_context_takeover", (True, False, 15, 15)),
            ({}, "permessage-deflate; client_no_context_takeover", (False, True, 15, 15)),
            ({}, "permessage-deflate; server_max_window_bits=12", (False, False, 12, 15)),
            ({}, "permessage-deflate; client_max_window_bits=9", (False, False, 15, 9)),
            (
                {},
                "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
                (False, False, 12, 12),
            ),
            ({}, "permessage-deflate; client_max_window_bits=8", (False, False, 15, 8)),
            ({"client_max_window_bits": 10}, "permessage-deflate", (False, False, 15, 10)),
            (
                {"client_max_window_bits": 10},
                "permessage-deflate; client_max_window_bits=9",
                (False, False, 15, 9),
            ),
            (
                {"server_max_window_bits": 10},
                "permessage-deflate; server_max_window_bits=10",
                (False, False, 10, 15),
            ),
            (
                {"server_max_window_bits": 10},
                "permessage-deflate; server_max_window_bits=8",
                (False, False, 8, 15),
            ),
            (
                {"server_no_context_takeover": True},
                "permessage-deflate; server_no_context_takeover",
                (True, False, 15, 15),
            ),
            ({"client_no_context_takeover": True}, "permessage-deflate", (False, True, 15, 15)),
        ],
    )
    def test_accepted(self, kwargs: dict[str, Any], answer: str | None, expected: Any) -> None:
        client = client_with_answer(answer, ClientPerMessageDeflateFactory(**kwargs))
        assert client.handshake_exc is None
        assert client.state is State.OPEN
        if expected is None:
            assert client.extensions == []
        else:
            (ext,) = client.extensions
            assert params_of(ext) == expected  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("kwargs", "answer"),
        [
            ({}, "x-unknown"),
            ({}, "permessage-deflate, permessage-deflate"),
            ({}, "permessage-deflate; x-foo"),
            ({}, "permessage-deflate; server_no_context_takeover; server_no_context_takeover"),
            ({}, "permessage-deflate; server_no_context_takeover=1"),
            ({}, "permessage-deflate; client_no_context_takeover=1"),
            ({}, "permessage-deflate; server_max_window_bits"),
            ({}, "permessage-deflate; client_max_window_bits"),
            ({}, "permessage-deflate; server_max_window_bits=16"),
            ({}, "permessage-deflate; server_max_window_bits=010"),
            ({}, "permessage-deflate; client_max_window_bits=7"),
            ({"client_max_window_bits": None}, "permessage-deflate; client_max_window_bits=10"),
            ({"client_max_window_bits": 10}, "permessage-deflate; client_max_window_bits=11"),
            ({"server_max_window_bits": 10}, "permessage-deflate"),
            ({"server_max_window_bits": 10}, "permessage-deflate; server_max_window_bits=11"),
            ({"server_no_context_takeover": True}, "permessage-deflate"),
            ({}, "permessage-deflate; =1"),
        ],
    )
    def test_refused(self, kwargs: dict[str, Any], answer: str) -> None:
        client = client_with_answer(answer, ClientPerMessageDeflateFactory(**kwargs))
        assert client.handshake_exc is not None
        assert client.state is State.CLOSED
        assert client.events_received() == []
        assert client.data_to_send() == [b""]

    def test_refused_is_negotiation_error(self) -> None:
        client = client_with_answer("permessage-deflate; x-foo", ClientPerMessageDeflateFactory())
        assert isinstance(client.handshake_exc, NegotiationError)

    def test_not_offered(self) -> None:
        client = ClientProtocol("ws://example.com/")
        request = client.connect()
        client.send_request(request)
        client.receive_data(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept_key(request.headers['Sec-WebSocket-Key'])}\r\n"
                "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
            ).encode()
        )
        assert isinstance(client.handshake_exc, NegotiationError)

    def test_fallback_offer(self) -> None:
        # The first factory refuses an answer its offer did not allow; the
        # second (a plainer offer) takes it.
        client = client_with_answer(
            "permessage-deflate",
            ClientPerMessageDeflateFactory(server_no_context_takeover=True),
            ClientPerMessageDeflateFactory(),
        )
        assert client.handshake_exc is None
        assert len(client.extensions) == 1


# -- framing: RFC 7692 section 7.2.3 vectors ----------------------------------------------


def server_side(**kwargs: Any) -> Protocol:
    """A server that received from a client whose compressed frames are below (unmasked here)."""
    return Protocol(Side.CLIENT, extensions=[PerMessageDeflate(**kwargs)])


class TestVectors:
    """RFC 7692 section 7.2.3: the examples, byte for byte (received by a client)."""

    def test_hello(self) -> None:
        p = server_side()
        p.receive_data(bytes([0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]))
        assert p.events_received() == [TextMessage("Hello")]

    def test_context_takeover(self) -> None:
        # 7.2.3.2: the second "Hello" refers back to the first.
        p = server_side()
        p.receive_data(bytes([0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]))
        p.receive_data(bytes([0xC1, 0x05, 0xF2, 0x00, 0x11, 0x00, 0x00]))
        assert p.events_received() == [TextMessage("Hello"), TextMessage("Hello")]

    def test_no_context_takeover_fails_back_reference(self) -> None:
        p = server_side(remote_no_context_takeover=True)
        p.receive_data(bytes([0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]))
        p.receive_data(bytes([0xC1, 0x05, 0xF2, 0x00, 0x11, 0x00, 0x00]))
        assert p.events_received() == [TextMessage("Hello")]
        assert sent_close_code(p) == 1002
        assert p.error is not None and getattr(p.error, "close_code", None) == 1002

    def test_stored_block(self) -> None:
        # 7.2.3.3: DEFLATE block with no compression.
        p = server_side()
        p.receive_data(bytes([0xC1, 0x0B, 0x00, 0x05, 0x00, 0xFA, 0xFF, 0x48, 0x65, 0x6C, 0x6C, 0x6F, 0x00]))
        assert p.events_received() == [TextMessage("Hello")]

    def test_bfinal(self) -> None:
        # 7.2.3.4: a block with BFINAL set, then more messages.
        p = server_side()
        p.receive_data(bytes([0xC1, 0x08, 0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x00]))
        p.receive_data(bytes([0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]))
        assert p.events_received() == [TextMessage("Hello"), TextMessage("Hello")]

    def test_two_blocks(self) -> None:
        # 7.2.3.5: two DEFLATE blocks in one message.
        p = server_side()
        p.receive_data(
            bytes([0xC1, 0x0D, 0xF2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xCA, 0xC9, 0xC9, 0x07, 0x00])
        )
        assert p.events_received() == [TextMessage("Hello")]

    def test_fragmented(self) -> None:
        # 7.2.3.1 split in two fragments; RSV1 only on the first.
        p = server_side()
        p.receive_data(bytes([0x41, 0x03, 0xF2, 0x48, 0xCD, 0x80, 0x04, 0xC9, 0xC9, 0x07, 0x00]))
        assert p.events_received() == [TextMessage("Hello")]

    def test_empty_compressed(self) -> None:
        # 7.2.3.6: an empty message compressed to a single 0x00 byte.
        p = server_side()
        p.receive_data(bytes([0xC1, 0x01, 0x00]))
        p.receive_data(bytes([0xC2, 0x00]))
        assert p.events_received() == [TextMessage(""), BinaryMessage(b"")]

    def test_sent_hello(self) -> None:
        # What we send for "Hello" on a fresh context is the RFC's example.
        p = Protocol(Side.SERVER, extensions=[PerMessageDeflate(min_size=0, level=6)])
        p.send_text("Hello")
        p.send_text("Hello")
        assert p.data_to_send() == [
            bytes([0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]),
            bytes([0xC1, 0x05, 0xF2, 0x00, 0x11, 0x00, 0x00]),
        ]


# -- framing rules --------------------------------------------------------------------


class TestFraming:
    """RFC 7692 section 6: RSV1 marks a compressed message, on its first frame only."""

    def test_rsv1_on_continuation(self) -> None:
        p = server_side()
        p.receive_data(bytes([0x41, 0x03, 0xF2, 0x48, 0xCD]) + bytes([0xC0, 0x04, 0x80, 0x04, 0xC9, 0xC9]))
        assert p.events_received() == []
        assert sent_close_code(p) == 1002

    def test_rsv1_on_uncompressed_message_continuation(self) -> None:
        p = server_side()
        p.receive_data(b"\x01\x02He" + b"\xc0\x03llo")
        assert p.events_received() == []
        assert sent_close_code(p) == 1002

    @pytest.mark.parametrize("opcode", [0x9, 0xA, 0x8])
    def test_rsv1_on_control(self, opcode: int) -> None:
        p = server_side()
        p.receive_data(bytes([0xC0 | opcode, 0x00]))
        assert p.events_received() == []
        assert sent_close_code(p) == 1002

    def test_rsv2_rsv3_still_refused(self) -> None:
        for first in (0xA1, 0x91):
            p = server_side()
            p.receive_data(bytes([first, 0x01, 0x41]))
            assert p.events_received() == []
            assert sent_close_code(p) == 1002

    def test_uncompressed_between(self) -> None:
        p = server_side()
        p.receive_data(bytes([0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]))
        p.receive_data(b"\x81\x05Hello")
        p.receive_data(b"\x02\x01a\x89\x00\x80\x01b")
        p.receive_data(bytes([0xC1, 0x05, 0xF2, 0x00, 0x11, 0x00, 0x00]))
        assert p.events_received() == [
            TextMessage("Hello"),
            TextMessage("Hello"),
            Ping(b""),
            BinaryMessage(b"ab"),
            TextMessage("Hello"),
        ]

    def test_control_frames_between_compressed_fragments(self) -> None:
        p = server_side()
        p.receive_data(
            bytes([0x41, 0x03, 0xF2, 0x48, 0xCD]) + b"\x89\x01x" + bytes([0x80, 0x04, 0xC9, 0xC9, 0x07, 0x00])
        )
        assert p.events_received() == [Ping(b"x"), TextMessage("Hello")]

    def test_invalid_deflate(self) -> None:
        p = server_side()
        p.receive_data(bytes([0xC1, 0x03, 0xFF, 0xFF, 0xFF]))
        assert p.events_received() == []
        assert sent_close_code(p) == 1002

    def test_invalid_utf8_after_decompression(self) -> None:
        data = deflate_raw(b"caf\xc3(")[:-4]
        p = server_side()
        p.receive_data(bytes([0xC1, len(data)]) + data)
        assert p.events_received() == []
        assert sent_close_code(p) == 1007

    def test_invalid_utf8_fails_in_its_fragment(self) -> None:
        part = deflate_raw(b"\xff" + b"a" * 50)
        p = server_side()
        p.receive_data(bytes([0x41, len(part)]) + part)
        assert p.events_received() == []
        assert sent_close_code(p) == 1007

    def test_split_code_point_across_compressed_fragments(self) -> None:
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        a = c.compress("é".encode()[:1]) + c.flush(zlib.Z_SYNC_FLUSH)
        b = (c.compress("é".encode()[1:]) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
        p = server_side()
        p.receive_data(bytes([0x41, len(a)]) + a + bytes([0x80, len(b)]) + b)
        assert p.events_received() == [TextMessage("é")]

    def test_min_size(self) -> None:
        p = Protocol(Side.SERVER, extensions=[PerMessageDeflate(min_size=10)])
        p.send_text("short")
        p.send_text("long enough " * 4)
        first, second = frames_of(p.data_to_send(), masked=False)
        assert (first.rsv1, first.payload) == (False, b"short")
        assert second.rsv1 is True
        assert zlib.decompressobj(-15).decompress(second.payload + b"\x00\x00\xff\xff") == b"long enough " * 4

    def test_sent_fragments(self) -> None:
        # Manual fragmentation: RSV1 on the first frame only; the tail is
        # removed from the last frame only.
        p = Protocol(Side.SERVER, extensions=[PerMessageDeflate(min_size=0)])
        p.send_text("abc" * 20, fin=False)
        p.send_continuation("def" * 20, fin=False)
        p.send_continuation("ghi" * 20, fin=True)
        frames = frames_of(p.data_to_send(), masked=False)
        assert [(f.opcode, f.fin, f.rsv1) for f in frames] == [
            (1, False, True),
            (0, False, False),
            (0, True, False),
        ]
        assert frames[0].payload.endswith(b"\x00\x00\xff\xff")
        assert frames[1].payload.endswith(b"\x00\x00\xff\xff")
        d = zlib.decompressobj(-15)
        text = b"".join(d.decompress(f.payload) for f in frames) + d.decompress(b"\x00\x00\xff\xff")
        assert text == ("abc" * 20 + "def" * 20 + "ghi" * 20).encode()

    def test_auto_fragmented(self) -> None:
        p = Protocol(Side.CLIENT, extensions=[PerMessageDeflate(min_size=0)], fragment_size=100)
        payload = bytes(range(256)) * 4
        p.send_binary(payload)
        frames = frames_of(p.data_to_send(), masked=True)
        assert len(frames) == 11
        assert [f.rsv1 for f in frames] == [True] + [False] * 10
        assert frames[0].opcode == 2 and all(f.opcode == 0 for f in frames[1:])
        d = zlib.decompressobj(-15)
        assert (
            b"".join(d.decompress(f.payload) for f in frames) + d.decompress(b"\x00\x00\xff\xff") == payload
        )

    def test_local_no_context_takeover(self) -> None:
        p = Protocol(Side.SERVER, extensions=[PerMessageDeflate(local_no_context_takeover=True, min_size=0)])
        p.send_text("Hello")
        p.send_text("Hello")
        # Each message on its own: the same bytes twice (no back-reference).
        assert p.data_to_send() == [bytes([0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])] * 2

    def test_close_and_ping_not_compressed(self) -> None:
        p = Protocol(Side.SERVER, extensions=[PerMessageDeflate(min_size=0)])
        p.send_ping(b"ping payload that is long")
        p.send_close(1000, "bye bye bye bye bye bye")
        out = p.data_to_send()
        assert out[0] == b"\x89\x19ping payload that is long"
        assert out[1] == b"\x88\x19\x03\xe8bye bye bye bye bye bye"


# -- 8-bit windows -----------------------------------------------------------------------


class TestWindowBits:
    """RFC 7692 section 7.1.2: never a larger window than negotiated."""

    @pytest.mark.parametrize("bits", range(8, 16))
    def test_peer_inflates_with_negotiated_window(self, bits: int) -> None:
        rng = random.Random(bits)
        ext = PerMessageDeflate(local_max_window_bits=bits, min_size=0)
        p = Protocol(Side.SERVER, extensions=[ext])
        # Repetitions at distances around every window size.
        data = bytearray()
        for _ in range(300):
            d = rng.choice([100, 250, 256, 257, 512, 1000, 4096, 20000])
            data += bytes(data[-d:][:40]) if len(data) >= d else rng.randbytes(40)
        p.send_binary(bytes(data))
        (frame,) = frames_of(p.data_to_send(), masked=False)
        # An inflater limited to 2**bits bytes decodes it ("invalid distance
        # too far back" otherwise).
        assert zlib.decompressobj(-bits).decompress(frame.payload + b"\x00\x00\xff\xff") == bytes(data)

    def test_window_bits_8_both_ways(self) -> None:
        answer, server = server_answer(
            "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8",
            client_max_window_bits=8,
        )
        assert answer == "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8"
        client = client_with_answer(
            answer, ClientPerMessageDeflateFactory(server_max_window_bits=8, client_max_window_bits=8)
        )
        assert client.handshake_exc is None
        client.events_received()
        text = "window of eight bits " * 100
        client.send_text(text)
        for chunk in client.data_to_send():
            server.receive_data(chunk)
        assert server.events_received() == [TextMessage(text)]
        server.send_text(text)
        for chunk in server.data_to_send():
            client.receive_data(chunk)
        assert client.events_received() == [TextMessage(text)]


# -- round trips -------------------------------------------------------------------------

COMBOS = list(itertools.product([False, True], [False, True], [8, 9, 12, 15], [8, 11, 15]))
SIZES = [0, 1, 31, 32, 125, 126, 1000, 65535, 65536, 200_000]


def _payload(size: int, rng: random.Random, text: bool) -> Any:
    if text:
        words = ["fastws", "deflate", '{"id": 1}', "é", "日本", "🎉", " ", "\n"]
        parts: list[str] = []
        n = 0
        while n < size:
            w = rng.choice(words)
            parts.append(w)
            n += len(w.encode())
        return "".join(parts)
    if rng.random() < 0.5:
        return rng.randbytes(size)
    return (b"abcdefgh" * (size // 8 + 1))[:size]


class TestRoundTrip:
    """Every parameter combination, text and binary, sizes 0 to 200 kB, whole and cut."""

    @pytest.mark.parametrize(("s_nct", "c_nct", "s_bits", "c_bits"), COMBOS)
    def test_negotiated_round_trip(self, s_nct: bool, c_nct: bool, s_bits: int, c_bits: int) -> None:
        rng = random.Random(hash((s_nct, c_nct, s_bits, c_bits)))
        answer, server = server_answer(
            "permessage-deflate; client_max_window_bits",
            server_no_context_takeover=s_nct,
            client_no_context_takeover=c_nct,
            server_max_window_bits=s_bits,
            client_max_window_bits=c_bits,
            min_size=0,
        )
        assert answer is not None
        client = client_with_answer(answer, ClientPerMessageDeflateFactory(min_size=0))
        client.events_received()
        (cext,) = client.extensions
        assert params_of(cext) == (s_nct, c_nct, s_bits, c_bits)  # type: ignore[arg-type]
        server.max_size = client.max_size = None
        for i, size in enumerate(SIZES):
            text = i % 2 == 0
            message = _payload(size, rng, text)
            (client.send_text if text else client.send_binary)(message)
            event = (TextMessage if text else BinaryMessage)(message)
            assert feed(server, client.data_to_send(), rng if i % 3 else None) == [event]
            (server.send_text if text else server.send_binary)(message)
            assert feed(client, server.data_to_send(), rng if i % 3 == 1 else None) == [event]

    @pytest.mark.parametrize("fragment_size", [1, 7, 1000, 16384])
    def test_auto_fragmented_round_trip(self, fragment_size: int) -> None:
        rng = random.Random(fragment_size)
        client, server = pair(fragment_size=fragment_size, max_size=None, max_fragments=None)
        for size in [0, 10, 999, 5000, 70000] if fragment_size > 1 else [0, 10, 999]:
            message = _payload(size, rng, True)
            client.send_text(message)
            assert feed(server, client.data_to_send(), rng) == [TextMessage(message)]
            server.send_binary(message.encode())
            assert feed(client, server.data_to_send()) == [BinaryMessage(message.encode())]

    def test_interleaved_min_size(self) -> None:
        rng = random.Random(5)
        client = Protocol(Side.CLIENT, extensions=[PerMessageDeflate(min_size=100)])
        server = Protocol(Side.SERVER, extensions=[PerMessageDeflate(min_size=100)])
        sent = []
        for _ in range(200):
            message = _payload(rng.choice([0, 5, 99, 100, 101, 3000]), rng, True)
            client.send_text(message)
            sent.append(TextMessage(message))
        assert feed(server, client.data_to_send(), rng) == sent

    def test_against_reference_peer(self) -> None:
        # A peer made of plain zlib (no fastws code) with context takeover.
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        p = server_side()
        messages = [f'{{"n": {i}, "text": "message number {i}"}}' for i in range(50)]
        for m in messages:
            data = (c.compress(m.encode()) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
            p.receive_data(encode_frame(1, data, rsv1=True))
        assert p.events_received() == [TextMessage(m) for m in messages]


# -- limits: compression bombs ---------------------------------------------------------


class TestBomb:
    """The decompressed size counts against max_size; memory stays bounded."""

    def bomb(self, size: int) -> bytes:
        """``size`` bytes of zeros (a multiple of 1 MiB), deflated, tail removed.

        The first MiB is compressed once; every later MiB is the same block
        (it only refers back into a window of zeros), repeated.
        """
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        first = c.compress(b"\x00" * 2**20) + c.flush(zlib.Z_SYNC_FLUSH)
        again = c.compress(b"\x00" * 2**20) + c.flush(zlib.Z_SYNC_FLUSH)
        data = first + again * (size // 2**20 - 1)
        assert data.endswith(b"\x00\x00\xff\xff")
        return data[:-4]

    def test_bomb_helper(self) -> None:
        # The repeated block really inflates to zeros.
        assert zlib.decompressobj(-15).decompress(self.bomb(8 * 2**20) + b"\x00\x00\xff\xff") == bytes(
            8 * 2**20
        )

    def test_small_frame_huge_message(self) -> None:
        payload = self.bomb(1024 * 2**20)  # 1 GiB of zeros
        assert len(payload) < 2**21  # deflate cannot beat about 1:1032
        p = Protocol(Side.SERVER, extensions=[PerMessageDeflate()], max_size=2**20)
        frame = encode_frame(2, payload, rsv1=True, mask=b"abcd")
        tracemalloc.start()
        try:
            p.receive_data(frame)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert p.events_received() == []
        assert sent_close_code(p) == 1009
        # The frame is 1 MiB and the parser may copy it a few times (more in
        # the pure twin); decompression adds about the limit, not 1 GiB.
        assert peak < 16 * 2**20

    def test_decode_peak_is_about_the_limit(self) -> None:
        # Not twice the limit: the inflater is asked for bounded steps.
        payload = self.bomb(64 * 2**20)
        ext = PerMessageDeflate()
        frame = Frame(2, payload, True, True)
        limit = 2**20
        tracemalloc.start()
        try:
            with pytest.raises(PayloadTooBig):
                ext.decode(frame, max_size=limit)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < limit + 3 * 65536 + 2 * len(payload)

    @pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 3 * 65536, 2**20])
    @pytest.mark.parametrize("slack", [0, 1])
    def test_decode_at_step_boundaries(self, size: int, slack: int) -> None:
        data = bytes(range(256)) * (size // 256) + bytes(size % 256)
        payload = deflate_raw(data)[:-4]
        ext = PerMessageDeflate()
        assert ext.decode(Frame(2, payload, True, True), max_size=size + slack).payload == data
        if size:
            with pytest.raises(PayloadTooBig):
                PerMessageDeflate().decode(Frame(2, payload, True, True), max_size=size - 1)

    def test_bomb_across_fragments(self) -> None:
        payload = self.bomb(8 * 2**20)
        half = len(payload) // 2
        p = Protocol(Side.SERVER, extensions=[PerMessageDeflate()], max_size=2**20)
        p.receive_data(encode_frame(2, payload[:half], fin=False, rsv1=True, mask=b"abcd"))
        p.receive_data(encode_frame(0, payload[half:], fin=True, mask=b"abcd"))
        assert p.events_received() == []
        assert sent_close_code(p) == 1009

    def test_exactly_at_limit(self) -> None:
        data = b"\x00" * 1000
        p = Protocol(Side.SERVER, extensions=[PerMessageDeflate()], max_size=1000)
        p.receive_data(encode_frame(2, deflate_raw(data)[:-4], rsv1=True, mask=b"abcd"))
        assert p.events_received() == [BinaryMessage(data)]
        p.receive_data(encode_frame(2, deflate_raw(data + b"\x00")[:-4], rsv1=True, mask=b"abcd"))
        assert p.events_received() == []
        assert sent_close_code(p) == 1009

    def test_extension_raises_payload_too_big(self) -> None:
        ext = PerMessageDeflate()
        with pytest.raises(PayloadTooBig):
            ext.decode(Frame(2, deflate_raw(b"x" * 100)[:-4], True, True), max_size=99)
        ext = PerMessageDeflate()
        with pytest.raises(ProtocolError):
            ext.decode(Frame(0, b"", True, True))


# -- backends ------------------------------------------------------------------------------

BACKEND_NAMES = ["zlib", "zlib-ng", "isal"]


def _available(name: str) -> bool:
    try:
        get_backend(name)
    except ImportError:
        return False
    return True


class TestBackends:
    """Optional faster backends produce standard deflate."""

    @pytest.mark.parametrize("name", BACKEND_NAMES)
    @pytest.mark.parametrize("bits", [8, 9, 12, 15])
    def test_round_trip(self, name: str, bits: int) -> None:
        if not _available(name):
            pytest.skip(f"{name} is not installed")
        rng = random.Random(bits)
        sender = Protocol(
            Side.SERVER, extensions=[PerMessageDeflate(local_max_window_bits=bits, min_size=0, backend=name)]
        )
        receiver = Protocol(
            Side.CLIENT, extensions=[PerMessageDeflate(remote_max_window_bits=bits, backend=name)]
        )
        reference = zlib.decompressobj(-bits)
        for size in [0, 100, 5000, 100_000]:
            data = b"".join(rng.choice([b"alpha ", b"beta ", b"gamma "]) for _ in range(size // 6))
            sender.send_binary(data)
            chunks = sender.data_to_send()
            # Standard deflate: the standard library decodes it with the
            # negotiated window.
            (frame,) = frames_of(chunks, masked=False)
            assert reference.decompress(frame.payload + b"\x00\x00\xff\xff") == data
            assert feed(receiver, chunks) == [BinaryMessage(data)]

    def test_default_backend(self) -> None:
        assert get_default_backend() == "zlib"
        with pytest.raises(ValueError):
            set_default_backend("gzip")
        assert get_default_backend() == "zlib"
        if _available("zlib-ng"):
            set_default_backend("zlib-ng")
            try:
                assert ServerPerMessageDeflateFactory().backend == "zlib-ng"
            finally:
                set_default_backend("zlib")

    def test_missing_backend_message(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import fastws.extensions.permessage_deflate as pmd

        monkeypatch.setitem(pmd.BACKENDS, "zlib-ng", "fastws_no_such_module_xyz")
        with pytest.raises(ImportError, match=r"needs the 'zlib-ng' package: pip install zlib-ng$"):
            get_backend("zlib-ng")


def test_close_after_compressed_messages() -> None:
    client, server = pair()
    client.send_text("hello " * 20)
    client.send_close(1000, "done")
    events = feed(server, client.data_to_send())
    assert events == [TextMessage("hello " * 20), CloseReceived(1000, "done")]


def test_key_is_base64() -> None:
    # Sanity of the helper used above: a 16-byte key.
    assert len(base64.b64decode(KEY)) == 16
