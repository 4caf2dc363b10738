"""The sans-IO protocol, rule by rule, with exact bytes in and out.

Frames fed to the protocol are built by :func:`frame`, a tiny builder
written here from RFC 6455 section 5.2 (not with ``encode_frame``), and every
input is fed whole and one byte at a time (the ``feed`` fixture). Frames the
server sends are compared byte for byte; frames a client sends carry a
random mask, so they are unmasked by :func:`unframe` (also written here) and
compared field by field.

The whole file runs against whichever codec twin ``fastws.codec`` selected;
CI runs it twice (FASTWS_NO_EXTENSIONS=1 and FASTWS_REQUIRE_EXTENSIONS=1).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import pytest

from fastws.codec import Frame
from fastws.events import BinaryMessage, CloseReceived, Ping, Pong, TextMessage
from fastws.exceptions import (
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidCloseCode,
    InvalidFrame,
    InvalidState,
    InvalidUTF8,
    PayloadTooBig,
    ProtocolError,
)
from fastws.extensions import Extension
from fastws.protocol import DEFAULT_MAX_FRAGMENTS, Protocol, Side, State

# RFC 6455 section 5.7: the example masking key.
KEY = b"\x37\xfa\x21\x3d"

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
RSV1, RSV2, RSV3 = 0x40, 0x20, 0x10


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = KEY,
    length: int | None = None,
) -> bytes:
    """Build one frame by hand (RFC 6455 section 5.2).

    ``mask=None`` leaves it unmasked (server to client); ``length``
    overrides the announced payload length (to announce more than is sent).
    """
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | rsv | opcode
    maskbit = 0x80 if mask is not None else 0
    if n < 126:
        head = bytes([b0, maskbit | n])
    elif n < 1 << 16:
        head = bytes([b0, maskbit | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, maskbit | 127]) + n.to_bytes(8, "big")
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return code.to_bytes(2, "big") + reason


def unframe(data: bytes) -> tuple[int, bytes]:
    """Decode one masked frame a client sent: (first byte, unmasked payload)."""
    assert data[1] & 0x80, "a client frame must be masked"
    n = data[1] & 0x7F
    pos = 2
    if n == 126:
        n, pos = int.from_bytes(data[2:4], "big"), 4
    elif n == 127:
        n, pos = int.from_bytes(data[2:10], "big"), 10
    key, payload = data[pos : pos + 4], data[pos + 4 :]
    assert len(payload) == n
    return data[0], bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def server(**kwargs: Any) -> Protocol:
    return Protocol(Side.SERVER, **kwargs)


def client(**kwargs: Any) -> Protocol:
    return Protocol(Side.CLIENT, **kwargs)


Feed = Callable[[Protocol, bytes], None]


@pytest.fixture(params=["whole", "bytewise"])
def feed(request: pytest.FixtureRequest) -> Feed:
    """Feed bytes whole, or one byte at a time."""
    if request.param == "whole":
        return lambda protocol, data: protocol.receive_data(data)

    def bytewise(protocol: Protocol, data: bytes) -> None:
        for i in range(len(data)):
            protocol.receive_data(data[i : i + 1])

    return bytewise


def server_close(code: int, reason: str = "") -> bytes:
    """The exact close frame a server sends (unmasked)."""
    return frame(CLOSE, close_payload(code, reason.encode()), mask=None)


def failed(code: int, reason: str) -> list[bytes]:
    """What a server's data_to_send holds after failing: close frame, EOF."""
    return [server_close(code, reason), b""]


# ---------------------------------------------------------------------------------


class TestDataFrames:
    """RFC 6455 section 5.6 (data frames) and 5.2 (all length encodings)."""

    @pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
    def test_text_of_every_length_encoding(self, feed: Feed, size: int) -> None:
        text = ("é" * size)[: size // 2] + "a" * (size - 2 * (size // 2))
        assert len(text.encode()) == size
        p = server()
        feed(p, frame(TEXT, text.encode()))
        assert p.events_received() == [TextMessage(text)]
        assert p.data_to_send() == []

    @pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
    def test_binary_of_every_length_encoding(self, feed: Feed, size: int) -> None:
        data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
        p = server()
        feed(p, frame(BINARY, data))
        assert p.events_received() == [BinaryMessage(data)]
        assert p.data_to_send() == []

    def test_many_messages_in_one_read(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(TEXT, b"one") + frame(BINARY, b"\x00\xff") + frame(TEXT, b"") + frame(TEXT, b"four"))
        assert p.events_received() == [
            TextMessage("one"),
            BinaryMessage(b"\x00\xff"),
            TextMessage(""),
            TextMessage("four"),
        ]

    def test_events_drain(self) -> None:
        p = server()
        p.receive_data(frame(TEXT, b"a"))
        assert p.events_received() == [TextMessage("a")]
        assert p.events_received() == []

    def test_accepts_bytearray_and_memoryview(self) -> None:
        p = server()
        p.receive_data(bytearray(frame(TEXT, b"a")))
        p.receive_data(memoryview(frame(TEXT, b"b")))
        assert p.events_received() == [TextMessage("a"), TextMessage("b")]

    @pytest.mark.parametrize(
        "shape",
        ["bytes", "slice of a read buffer", "signed chars", "rows", "words"],
    )
    def test_any_buffer_counts_in_bytes(self, shape: str) -> None:
        # A contiguous 1-D view of bytes is read as it is; any other buffer
        # as its bytes (the views below are 44 bytes: 11 frames of 4).
        wire = frame(TEXT, b"ab", mask=None) * 11
        buffer = bytearray(wire + b"\x00" * 8)
        data: Any = {
            "bytes": wire,
            "slice of a read buffer": memoryview(buffer)[: len(wire)],
            "signed chars": memoryview(bytearray(wire)).cast("b"),
            "rows": memoryview(wire).cast("B", shape=[11, 4]),
            "words": memoryview(wire).cast("I"),
        }[shape]
        p = client()
        p.receive_data(data)
        assert p.events_received() == [TextMessage("ab")] * 11

    def test_a_strided_view_is_refused(self) -> None:
        p = client()
        with pytest.raises(TypeError):
            p.receive_data(memoryview(frame(TEXT, b"ab", mask=None) * 2)[::2])

    def test_client_receives_unmasked_frames(self, feed: Feed) -> None:
        p = client()
        feed(p, frame(TEXT, b"hi", mask=None) + frame(BINARY, b"\x01", mask=None))
        assert p.events_received() == [TextMessage("hi"), BinaryMessage(b"\x01")]
        assert p.data_to_send() == []


class TestMasking:
    """RFC 6455 section 5.1 and 5.3: clients mask, servers never do."""

    def test_server_fails_on_unmasked_frame(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(TEXT, b"hi", mask=None))
        assert p.events_received() == []
        assert p.data_to_send() == failed(1002, "incorrect masking: expected a masked frame")
        assert p.state is State.CLOSED
        assert isinstance(p.error, InvalidFrame)

    def test_client_fails_on_masked_frame(self, feed: Feed) -> None:
        p = client()
        feed(p, frame(TEXT, b"hi"))
        assert p.events_received() == []
        out = p.data_to_send()
        assert [unframe(out[0]), out[1]] == [
            (0x88, close_payload(1002, b"incorrect masking: expected an unmasked frame")),
            b"",
        ]

    def test_server_sends_unmasked(self) -> None:
        p = server()
        p.send_text("hi")
        p.send_binary(b"\x00\x01")
        assert p.data_to_send() == [b"\x81\x02hi", b"\x82\x02\x00\x01"]

    def test_client_masks_every_frame(self) -> None:
        p = client()
        p.send_text("hello")
        p.send_text("hello")
        p.send_ping(b"p")
        out = p.data_to_send()
        assert [unframe(f) for f in out] == [(0x81, b"hello"), (0x81, b"hello"), (0x89, b"p")]
        # "a fresh masking key for each frame": two identical messages are
        # masked with different keys (equal keys: probability 2**-32).
        assert out[0][2:6] != out[1][2:6]


class TestFraming:
    """RFC 6455 section 5.2: opcodes, reserved bits, parser errors."""

    @pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 11, 12, 13, 14, 15])
    def test_reserved_opcode_fails_with_1002(self, feed: Feed, opcode: int) -> None:
        p = server()
        feed(p, frame(opcode, b"x"))
        assert p.events_received() == []
        assert p.data_to_send() == failed(1002, f"reserved opcode {opcode}")

    @pytest.mark.parametrize("rsv", [RSV1, RSV2, RSV3, RSV1 | RSV3])
    @pytest.mark.parametrize("opcode", [TEXT, BINARY, PING])
    def test_reserved_bits_without_extension_fail_with_1002(self, feed: Feed, rsv: int, opcode: int) -> None:
        p = server()
        feed(p, frame(opcode, b"x", rsv=rsv))
        assert p.events_received() == []
        reason = (
            "reserved bits set on a control frame"
            if opcode == PING
            else "reserved bits set without a negotiated extension"
        )
        assert p.data_to_send() == failed(1002, reason)
        assert isinstance(p.error, InvalidFrame)

    def test_reserved_bits_on_continuation_fail(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(TEXT, b"a", fin=False) + frame(CONT, b"b", rsv=RSV2))
        assert p.data_to_send() == failed(1002, "reserved bits set without a negotiated extension")

    def test_control_frame_too_long(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(PING, b"x" * 126))
        assert p.data_to_send() == failed(1002, "control frame too long: 126 bytes")

    def test_fragmented_control_frame(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(PING, b"x", fin=False))
        assert p.data_to_send() == failed(1002, "fragmented control frame")

    def test_length_with_top_bit_set(self, feed: Feed) -> None:
        p = server(max_size=None)
        feed(p, b"\x82\xff" + b"\x80" + b"\x00" * 7)
        assert p.data_to_send() == failed(1002, "payload length has the most significant bit set")

    def test_messages_before_a_framing_error_are_delivered_in_order(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(TEXT, b"one") + frame(PING, b"p") + frame(BINARY, b"two") + frame(5, b""))
        assert p.events_received() == [TextMessage("one"), Ping(b"p"), BinaryMessage(b"two")]
        assert p.data_to_send() == [frame(PONG, b"p", mask=None), *failed(1002, "reserved opcode 5")]

    def test_nothing_is_processed_after_failing(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(TEXT, b"\xff") + frame(PING, b"p") + frame(TEXT, b"late"))
        assert p.events_received() == []
        assert p.data_to_send() == failed(1007, "invalid UTF-8 in a text message")
        p.receive_data(frame(PING, b"again"))
        assert p.events_received() == []
        assert p.data_to_send() == []


class TestFragmentation:
    """RFC 6455 section 5.4: fragmented messages and interleaved control frames."""

    def test_text_in_fragments(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(TEXT, b"he", fin=False) + frame(CONT, b"", fin=False) + frame(CONT, b"llo"))
        assert p.events_received() == [TextMessage("hello")]
        assert p.data_to_send() == []

    def test_binary_in_fragments(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(BINARY, b"\x00", fin=False) + frame(CONT, b"\x01", fin=False) + frame(CONT, b"\x02"))
        assert p.events_received() == [BinaryMessage(b"\x00\x01\x02")]

    def test_empty_fragments(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(TEXT, b"", fin=False) + frame(CONT, b"", fin=False) + frame(CONT, b""))
        assert p.events_received() == [TextMessage("")]

    def test_ping_between_fragments_is_answered_in_order(self, feed: Feed) -> None:
        p = server()
        feed(
            p,
            frame(TEXT, b"frag", fin=False)
            + frame(PING, b"1")
            + frame(CONT, b"ment", fin=False)
            + frame(PING, b"2")
            + frame(PONG, b"3")
            + frame(CONT, b"ed"),
        )
        assert p.events_received() == [Ping(b"1"), Ping(b"2"), Pong(b"3"), TextMessage("fragmented")]
        assert p.data_to_send() == [frame(PONG, b"1", mask=None), frame(PONG, b"2", mask=None)]

    def test_pong_is_sent_before_the_message_completes(self) -> None:
        p = server()
        p.receive_data(frame(BINARY, b"a", fin=False) + frame(PING, b"now"))
        assert p.events_received() == [Ping(b"now")]
        assert p.data_to_send() == [frame(PONG, b"now", mask=None)]
        p.receive_data(frame(CONT, b"b"))
        assert p.events_received() == [BinaryMessage(b"ab")]

    def test_continuation_without_a_message_fails_with_1002(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(TEXT, b"ok") + frame(CONT, b"x"))
        assert p.events_received() == [TextMessage("ok")]
        assert p.data_to_send() == failed(1002, "continuation frame without a message to continue")
        assert isinstance(p.error, InvalidFrame)

    def test_final_continuation_ends_the_message(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(TEXT, b"a", fin=False) + frame(CONT, b"b") + frame(CONT, b"c"))
        assert p.events_received() == [TextMessage("ab")]
        assert p.data_to_send() == failed(1002, "continuation frame without a message to continue")

    @pytest.mark.parametrize("opcode", [TEXT, BINARY])
    @pytest.mark.parametrize("fin", [True, False])
    def test_new_data_frame_inside_a_message_fails_with_1002(
        self, feed: Feed, opcode: int, fin: bool
    ) -> None:
        p = server()
        feed(p, frame(BINARY, b"a", fin=False) + frame(opcode, b"b", fin=fin))
        assert p.events_received() == []
        assert p.data_to_send() == failed(1002, "new data frame inside a fragmented message")

    def test_close_inside_a_fragmented_message_is_a_normal_close(self, feed: Feed) -> None:
        # A close frame is a control frame: it may be interleaved, and it
        # ends the connection normally (not with 1002). The open message is
        # never delivered.
        p = server()
        feed(p, frame(TEXT, b"par", fin=False) + frame(CLOSE, close_payload(1000)) + frame(CONT, b"t"))
        assert p.events_received() == [CloseReceived(1000, "")]
        assert p.data_to_send() == [server_close(1000), b""]
        assert p.error is None
        assert p.close_was_clean

    def test_max_fragments_allows_exactly_the_limit(self, feed: Feed) -> None:
        p = server(max_fragments=3)
        feed(p, frame(TEXT, b"a", fin=False) + frame(CONT, b"b", fin=False) + frame(CONT, b"c"))
        assert p.events_received() == [TextMessage("abc")]
        assert p.data_to_send() == []

    def test_max_fragments_exceeded_fails_with_1009(self, feed: Feed) -> None:
        p = server(max_fragments=3)
        feed(
            p,
            frame(BINARY, b"a", fin=False)
            + frame(CONT, b"b", fin=False)
            + frame(CONT, b"c", fin=False)
            + frame(CONT, b"d"),
        )
        assert p.events_received() == []
        assert p.data_to_send() == failed(1009, "message has more than 3 fragments")
        assert isinstance(p.error, PayloadTooBig)

    def test_no_fragment_limit_by_default(self) -> None:
        # Fragments are joined into one buffer: max_size bounds the memory,
        # so the count needs no default limit. A 4 MiB message in 64-byte
        # fragments (65,536 frames) is accepted under a larger max_size.
        assert server().max_fragments is DEFAULT_MAX_FRAGMENTS is None
        p = server(max_size=2**26)
        piece = bytes(range(64))
        data = frame(BINARY, piece, fin=False) + frame(CONT, piece, fin=False) * 65534 + frame(CONT, piece)
        p.receive_data(data)
        assert p.events_received() == [BinaryMessage(piece * 65536)]
        assert p.data_to_send() == []
        # max_size still bounds the whole, counted across fragments.
        p = server(max_size=100)
        p.receive_data(frame(BINARY, piece, fin=False) + frame(CONT, piece))
        assert p.data_to_send() == failed(
            1009, "message of at least 128 bytes exceeds the limit of 100 bytes"
        )

    def test_max_fragments_counts_per_message(self) -> None:
        p = server(max_fragments=2)
        two = frame(TEXT, b"a", fin=False) + frame(CONT, b"b")
        p.receive_data(two * 3)
        assert p.events_received() == [TextMessage("ab")] * 3


class TestUTF8:
    """RFC 6455 sections 5.6 and 8.1: text is UTF-8; fail fast with 1007."""

    def test_invalid_text_fails_with_1007(self, feed: Feed) -> None:
        p = server()
        feed(
            p,
            frame(TEXT, b"ok")
            + frame(TEXT, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"),
        )
        assert p.events_received() == [TextMessage("ok")]
        assert p.data_to_send() == failed(1007, "invalid UTF-8 in a text message")
        assert isinstance(p.error, InvalidUTF8)

    def test_fail_fast_in_the_first_fragment(self, feed: Feed) -> None:
        # The message is not finished, yet the invalid byte fails it now.
        p = server()
        feed(p, frame(TEXT, b"a\xffb", fin=False))
        assert p.data_to_send() == failed(1007, "invalid UTF-8 in a text message")

    def test_fail_fast_in_a_middle_fragment(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(TEXT, b"valid", fin=False) + frame(CONT, b"\xc0\xaf", fin=False))
        assert p.data_to_send() == failed(1007, "invalid UTF-8 in a text message")

    def test_fail_fast_on_an_impossible_prefix_at_the_end_of_a_fragment(self, feed: Feed) -> None:
        # ED A0 can only continue into a surrogate (U+D800..): invalid as
        # soon as the second byte is seen, before the message goes on.
        p = server()
        feed(p, frame(TEXT, b"ab\xed\xa0", fin=False))
        assert p.data_to_send() == failed(1007, "invalid UTF-8 in a text message")

    def test_fail_fast_on_bytes_above_u10ffff(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(TEXT, b"\xf4\x90", fin=False))
        assert p.data_to_send() == failed(1007, "invalid UTF-8 in a text message")

    @pytest.mark.parametrize("cut", [1, 2, 3])
    def test_code_point_split_across_fragments_is_valid(self, feed: Feed, cut: int) -> None:
        encoded = "a\U0001f600b".encode()  # 61 F0 9F 98 80 62
        p = server()
        feed(p, frame(TEXT, encoded[: 1 + cut], fin=False) + frame(CONT, encoded[1 + cut :]))
        assert p.events_received() == [TextMessage("a\U0001f600b")]
        assert p.data_to_send() == []

    def test_code_point_split_one_byte_per_fragment(self, feed: Feed) -> None:
        encoded = "κόσμε".encode()
        data = b"".join(
            frame(TEXT if i == 0 else CONT, encoded[i : i + 1], fin=i == len(encoded) - 1)
            for i in range(len(encoded))
        )
        p = server()
        feed(p, data)
        assert p.events_received() == [TextMessage("κόσμε")]

    def test_code_point_left_open_at_the_end_fails_with_1007(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(TEXT, b"ab\xe2\x82", fin=False) + frame(CONT, b""))
        assert p.events_received() == []
        assert p.data_to_send() == failed(1007, "incomplete UTF-8 sequence at the end of a text message")

    def test_truncated_unfragmented_text_fails_with_1007(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(TEXT, b"ab\xe2\x82"))
        assert p.data_to_send() == failed(1007, "incomplete UTF-8 sequence at the end of a text message")

    def test_fail_fast_inside_a_frame_that_arrives_in_pieces(self) -> None:
        # Only the first 4 payload bytes of a 100-byte frame have arrived,
        # and they cannot begin valid UTF-8: fail now, not when the frame
        # completes.
        p = server()
        data = frame(TEXT, b"ab\xc0\xaf" + b"x" * 96)
        p.receive_data(data[: 2 + 4 + 4])
        assert p.data_to_send() == failed(1007, "invalid UTF-8 in a text message")
        p.receive_data(data[10:])
        assert p.events_received() == []
        assert p.data_to_send() == []

    def test_invalid_text_after_sending_close_is_discarded(self, feed: Feed) -> None:
        p = server()
        p.send_close()
        p.data_to_send()
        feed(p, frame(TEXT, b"\xff") + frame(TEXT, b"\xe2", fin=False) + frame(CLOSE, close_payload(1000)))
        assert p.events_received() == [CloseReceived(1000, "")]
        assert p.data_to_send() == [b""]
        assert p.close_was_clean
        assert p.error is None

    def test_binary_is_not_validated(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(BINARY, b"\xff", fin=False) + frame(CONT, b"\xfe"))
        assert p.events_received() == [BinaryMessage(b"\xff\xfe")]

    def test_validator_restarts_with_each_message(self, feed: Feed) -> None:
        p = server()
        feed(
            p,
            frame(TEXT, b"\xe2", fin=False)
            + frame(CONT, b"\x82\xac")
            + frame(TEXT, b"x", fin=False)
            + frame(CONT, b"y"),
        )
        assert p.events_received() == [TextMessage("€"), TextMessage("xy")]


class TestControlFrames:
    """RFC 6455 section 5.5.2 and 5.5.3: ping and pong."""

    def test_ping_is_answered_with_the_same_payload(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(PING, b"hello"))
        assert p.events_received() == [Ping(b"hello")]
        assert p.data_to_send() == [b"\x8a\x05hello"]

    def test_empty_and_125_byte_pings(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(PING, b"") + frame(PING, b"x" * 125))
        assert p.events_received() == [Ping(b""), Ping(b"x" * 125)]
        assert p.data_to_send() == [b"\x8a\x00", b"\x8a\x7d" + b"x" * 125]

    def test_pings_answered_in_order(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(PING, b"1") + frame(TEXT, b"m") + frame(PING, b"2"))
        assert p.events_received() == [Ping(b"1"), TextMessage("m"), Ping(b"2")]
        assert p.data_to_send() == [b"\x8a\x011", b"\x8a\x012"]

    def test_client_answers_with_a_masked_pong(self, feed: Feed) -> None:
        p = client()
        feed(p, frame(PING, b"hb", mask=None))
        assert p.events_received() == [Ping(b"hb")]
        assert [unframe(f) for f in p.data_to_send()] == [(0x8A, b"hb")]

    def test_auto_pong_off_reports_pings_only(self, feed: Feed) -> None:
        p = server(auto_pong=False)
        feed(p, frame(PING, b"x"))
        assert p.events_received() == [Ping(b"x")]
        assert p.data_to_send() == []
        p.send_pong(b"x")
        assert p.data_to_send() == [b"\x8a\x01x"]

    def test_unsolicited_pong_is_reported_and_ignored(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(PONG, b"beat"))
        assert p.events_received() == [Pong(b"beat")]
        assert p.data_to_send() == []
        assert p.state is State.OPEN

    def test_no_pong_after_sending_close(self, feed: Feed) -> None:
        p = server()
        p.send_close()
        p.data_to_send()
        feed(p, frame(PING, b"late"))
        assert p.events_received() == [Ping(b"late")]
        assert p.data_to_send() == []


class TestClose:
    """RFC 6455 sections 5.5.1, 7.1 and 7.4: the closing handshake."""

    def test_server_echoes_the_code_then_closes_tcp(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(CLOSE, close_payload(1001, b"bye")))
        assert p.events_received() == [CloseReceived(1001, "bye")]
        assert p.data_to_send() == [b"\x88\x02\x03\xe9", b""]
        assert p.state is State.CLOSED
        assert (p.close_code, p.close_reason) == (1001, "bye")
        assert p.close_sent == (1001, "")
        assert p.close_rcvd_then_sent is True
        assert p.close_was_clean
        assert p.close_expected()

    def test_empty_close_is_1005_and_answered_with_an_empty_close(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(CLOSE, b""))
        assert p.events_received() == [CloseReceived(1005, "")]
        assert p.data_to_send() == [b"\x88\x00", b""]
        assert p.close_code == 1005
        assert p.close_sent == (1005, "")

    def test_client_echoes_and_waits_for_the_server_to_close_tcp(self, feed: Feed) -> None:
        p = client()
        feed(p, frame(CLOSE, close_payload(1000), mask=None))
        assert p.events_received() == [CloseReceived(1000, "")]
        out = p.data_to_send()
        assert [unframe(f) for f in out] == [(0x88, b"\x03\xe8")]
        assert p.state is State.CLOSING
        assert p.close_expected()
        p.receive_eof()
        assert p.data_to_send() == [b""]
        assert p.state is State.CLOSED
        assert not p.close_expected()
        assert p.close_was_clean

    def test_server_initiated_close(self, feed: Feed) -> None:
        p = server()
        p.send_close(1000, "done")
        assert p.data_to_send() == [b"\x88\x06\x03\xe8done"]
        assert p.state is State.CLOSING
        assert p.close_expected()
        feed(p, frame(CLOSE, close_payload(1000)))
        assert p.events_received() == [CloseReceived(1000, "")]
        assert p.data_to_send() == [b""]
        assert p.state is State.CLOSED
        assert p.close_rcvd_then_sent is False
        assert p.close_sent == (1000, "done")
        assert p.close_was_clean

    def test_client_initiated_close(self, feed: Feed) -> None:
        p = client()
        p.send_close(4000, "app")
        assert [unframe(f) for f in p.data_to_send()] == [(0x88, b"\x0f\xa0app")]
        feed(p, frame(CLOSE, close_payload(4000), mask=None))
        assert p.events_received() == [CloseReceived(4000, "")]
        assert p.data_to_send() == []
        assert p.state is State.CLOSING
        assert p.close_expected()
        p.receive_eof()
        assert p.data_to_send() == [b""]
        assert p.state is State.CLOSED

    @pytest.mark.parametrize(
        ("ours", "theirs", "ok"),
        [
            # ours: the code we send first (None: the peer starts);
            # theirs: the payload of the peer's close frame (None: EOF only).
            (None, close_payload(1000), True),
            (None, close_payload(1001, b"away"), True),
            (None, b"", True),  # no code: 1005
            (None, close_payload(1011), False),
            (None, close_payload(4000), False),
            (1000, close_payload(1000), True),
            (1001, b"", True),
            (1000, close_payload(4001), False),
            (4000, close_payload(4000), False),
            (1000, None, False),
            (None, None, False),
            (None, close_payload(999), False),  # invalid: failed with 1002
        ],
    )
    def test_closed_ok_says_which_exception_closed_exception_gives(
        self, feed: Feed, ours: int | None, theirs: bytes | None, ok: bool
    ) -> None:
        p = server()
        if ours is not None:
            p.send_close(ours)
        if theirs is not None:
            feed(p, frame(CLOSE, theirs))
        p.receive_eof()
        assert p.state is State.CLOSED
        assert p.closed_ok is ok
        exc = p.closed_exception()
        assert type(exc) is (ConnectionClosedOK if ok else ConnectionClosedError)

    def test_closed_ok_is_false_while_open(self) -> None:
        p = server()
        assert p.closed_ok is False
        assert type(p.closed_exception()) is ConnectionClosedError

    def test_send_close_without_code(self) -> None:
        p = server()
        p.send_close(1005)
        assert p.data_to_send() == [b"\x88\x00"]
        assert p.close_sent == (1005, "")

    # 1012-1014 were registered with IANA after RFC 6455 (service restart,
    # try again later, bad gateway): servers and proxies send them.
    @pytest.mark.parametrize(
        "code",
        [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999],
    )
    def test_valid_codes_are_echoed(self, feed: Feed, code: int) -> None:
        p = server()
        feed(p, frame(CLOSE, close_payload(code, b"why")))
        assert p.events_received() == [CloseReceived(code, "why")]
        assert p.data_to_send() == [b"\x88\x02" + code.to_bytes(2, "big"), b""]

    @pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535])
    def test_invalid_codes_fail_with_1002(self, feed: Feed, code: int) -> None:
        p = server()
        feed(p, frame(CLOSE, close_payload(code)))
        assert p.events_received() == []
        assert p.data_to_send() == failed(1002, f"invalid close code {code}")
        assert isinstance(p.error, InvalidCloseCode)
        assert p.close_rcvd is None
        assert p.close_code == 1006
        assert not p.close_was_clean

    def test_one_byte_payload_fails_with_1002(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(CLOSE, b"\x03"))
        assert p.events_received() == []
        assert p.data_to_send() == failed(1002, "close frame with a 1-byte payload")

    def test_invalid_utf8_reason_fails_with_1007(self, feed: Feed) -> None:
        p = server()
        feed(
            p, frame(CLOSE, close_payload(1000, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"))
        )
        assert p.events_received() == []
        assert p.data_to_send() == failed(1007, "invalid UTF-8 in the close reason")

    def test_123_byte_reason(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(CLOSE, close_payload(1000, b"r" * 123)))
        assert p.events_received() == [CloseReceived(1000, "r" * 123)]

    def test_nothing_after_the_close_frame_is_processed(self, feed: Feed) -> None:
        p = server()
        feed(p, frame(CLOSE, close_payload(1000)) + frame(TEXT, b"late") + frame(PING, b"p") + frame(7, b""))
        assert p.events_received() == [CloseReceived(1000, "")]
        assert p.data_to_send() == [server_close(1000), b""]
        assert p.error is None

    def test_data_frames_after_sending_close_are_discarded(self, feed: Feed) -> None:
        p = server()
        p.send_close()
        p.data_to_send()
        feed(
            p,
            frame(TEXT, b"in flight") + frame(BINARY, b"x", fin=False) + frame(PONG, b"") + frame(CLOSE, b""),
        )
        assert p.events_received() == [Pong(b""), CloseReceived(1005, "")]
        assert p.data_to_send() == [b""]
        assert p.close_was_clean

    def test_protocol_error_after_sending_close_closes_tcp_without_a_second_close(self, feed: Feed) -> None:
        p = server()
        p.send_close()
        p.data_to_send()
        feed(p, frame(6, b""))
        assert p.data_to_send() == [b""]
        assert p.state is State.CLOSED
        assert isinstance(p.error, InvalidFrame)

    def test_invalid_close_reply_after_sending_close(self, feed: Feed) -> None:
        p = server()
        p.send_close()
        p.data_to_send()
        feed(p, frame(CLOSE, close_payload(1004)))
        assert p.events_received() == []
        assert p.data_to_send() == [b""]
        assert not p.close_was_clean

    def test_eof_without_close_is_abnormal(self) -> None:
        p = server()
        p.receive_data(frame(TEXT, b"a", fin=False))
        p.receive_eof()
        assert p.events_received() == []
        assert p.data_to_send() == [b""]
        assert p.state is State.CLOSED
        assert p.close_code == 1006
        assert p.close_reason == ""
        assert not p.close_was_clean
        assert not p.close_expected()

    def test_receive_eof_is_idempotent_and_ends_input(self) -> None:
        p = server()
        p.receive_eof()
        p.receive_eof()
        assert p.data_to_send() == [b""]
        with pytest.raises(InvalidState):
            p.receive_data(frame(TEXT, b"a"))

    def test_close_state_machine(self) -> None:
        p = server()
        assert (p.state, p.close_expected()) == (State.OPEN, False)
        p.send_close()
        assert (p.state, p.close_expected()) == (State.CLOSING, True)
        p.receive_data(frame(CLOSE, b""))
        assert (p.state, p.close_expected()) == (State.CLOSED, True)
        p.receive_eof()
        assert (p.state, p.close_expected()) == (State.CLOSED, False)
        assert p.data_to_send() == [b"\x88\x02\x03\xe8", b""]


class TestFail:
    """RFC 6455 section 7.1.7: failing the connection."""

    def test_fail_sends_close_then_eof(self) -> None:
        p = server()
        p.fail(1011, "oops")
        assert p.data_to_send() == [b"\x88\x06\x03\xf3oops", b""]
        assert p.state is State.CLOSED
        assert p.close_sent == (1011, "oops")
        assert p.close_expected()

    def test_client_fail_sends_masked_close_then_eof(self) -> None:
        p = client()
        p.fail(1002)
        out = p.data_to_send()
        assert [unframe(out[0]), out[1]] == [(0x88, b"\x03\xea"), b""]

    def test_fail_after_close_sent_only_closes_tcp(self) -> None:
        p = server()
        p.send_close()
        p.data_to_send()
        p.fail(1002)
        assert p.data_to_send() == [b""]
        p.fail(1002)
        assert p.data_to_send() == []

    def test_fail_1006_sends_no_close_frame(self) -> None:
        p = server()
        p.fail(1006)
        assert p.data_to_send() == [b""]

    def test_long_reason_is_cut_on_a_code_point(self) -> None:
        p = server()
        p.fail(1002, "é" * 70)
        out = p.data_to_send()
        assert out == [b"\x88\x7c\x03\xea" + "é".encode() * 61, b""]

    def test_answers_to_messages_before_an_error_go_out_before_the_close(self, feed: Feed) -> None:
        # The message arrived intact before the error: an echo server's
        # echo goes out first, then the connection fails (close, EOF).
        p = server()
        feed(p, frame(TEXT, b"one") + frame(TEXT, b"two", rsv=RSV2) + frame(PING, b"never"))
        assert p.events_received() == [TextMessage("one")]
        assert isinstance(p.error, InvalidFrame)
        assert p.state is State.OPEN
        assert p.close_expected()
        p.send_text("one")
        assert p.data_to_send() == [
            b"\x81\x03one",
            *failed(1002, "reserved bits set without a negotiated extension"),
        ]
        assert p.state is State.CLOSED
        assert p.data_to_send() == []

    def test_input_after_the_error_is_ignored_before_the_failure_is_sent(self) -> None:
        p = server()
        p.receive_data(frame(CONT, b""))
        p.receive_data(frame(PING, b"x") + frame(TEXT, b"y"))
        assert p.events_received() == []
        assert p.data_to_send() == failed(1002, "continuation frame without a message to continue")

    def test_send_close_while_a_failure_is_pending_sends_the_failure(self) -> None:
        p = server()
        p.receive_data(frame(TEXT, b"\xff"))
        p.send_close(1000, "bye")
        assert p.data_to_send() == failed(1007, "invalid UTF-8 in a text message")
        assert p.close_sent == (1007, "invalid UTF-8 in a text message")

    def test_fail_while_a_failure_is_pending_keeps_the_protocol_error(self) -> None:
        p = server()
        p.receive_data(frame(TEXT, b"\xff"))
        p.fail(1011)
        assert p.data_to_send() == failed(1007, "invalid UTF-8 in a text message")

    def test_eof_while_a_failure_is_pending(self) -> None:
        p = server()
        p.receive_data(frame(TEXT, b"\xff"))
        p.receive_eof()
        assert p.data_to_send() == failed(1007, "invalid UTF-8 in a text message")
        assert p.state is State.CLOSED
        assert not p.close_expected()

    def test_events_before_failing_remain(self) -> None:
        p = server()
        p.receive_data(frame(TEXT, b"kept"))
        p.fail(1001)
        assert p.events_received() == [TextMessage("kept")]


class TestLimits:
    """Limits on messages, frames and fragments, enforced from headers (1009)."""

    def test_default_message_limit_is_1_mib(self) -> None:
        assert server().max_size == 2**20
        p = server()
        p.receive_data(frame(BINARY, b"x" * 2**20))
        assert p.events_received() == [BinaryMessage(b"x" * 2**20)]

    def test_message_over_the_limit_is_refused_from_its_header(self) -> None:
        # Only the header arrives: the connection fails before any payload
        # byte is buffered.
        p = server(max_size=1000)
        header = frame(BINARY, b"", length=1001)[:4]  # b0, 126, 2-byte length
        p.receive_data(header)
        assert p.data_to_send() == failed(
            1009, "message of at least 1001 bytes exceeds the limit of 1000 bytes"
        )
        assert isinstance(p.error, PayloadTooBig)

    def test_fragmented_message_over_the_limit(self, feed: Feed) -> None:
        p = server(max_size=10)
        feed(p, frame(TEXT, b"x" * 6, fin=False) + frame(CONT, b"y" * 5))
        assert p.events_received() == []
        assert p.data_to_send() == failed(1009, "message of at least 11 bytes exceeds the limit of 10 bytes")

    def test_limit_is_per_message(self, feed: Feed) -> None:
        p = server(max_size=4)
        feed(p, frame(TEXT, b"ab", fin=False) + frame(CONT, b"cd") + frame(BINARY, b"1234"))
        assert p.events_received() == [TextMessage("abcd"), BinaryMessage(b"1234")]

    def test_control_frames_do_not_count(self, feed: Feed) -> None:
        p = server(max_size=4)
        feed(p, frame(TEXT, b"ab", fin=False) + frame(PING, b"x" * 100) + frame(CONT, b"cd"))
        assert p.events_received() == [Ping(b"x" * 100), TextMessage("abcd")]

    def test_frame_limit(self, feed: Feed) -> None:
        p = server(max_frame_size=3)
        feed(p, frame(BINARY, b"abc", fin=False) + frame(CONT, b"defg"))
        assert p.data_to_send() == failed(1009, "frame of 4 bytes exceeds the limit of 3 bytes")

    def test_no_limit(self) -> None:
        p = server(max_size=None)
        big = b"z" * (2**20 + 1)
        p.receive_data(frame(BINARY, big))
        assert p.events_received() == [BinaryMessage(big)]

    def test_limits_can_change(self) -> None:
        p = server()
        p.max_size = 2
        p.max_frame_size = 100
        assert (p.max_size, p.max_frame_size) == (2, 100)
        p.receive_data(frame(TEXT, b"abc"))
        assert p.data_to_send() == failed(1009, "message of at least 3 bytes exceeds the limit of 2 bytes")

    @pytest.mark.parametrize("name", ["max_fragments", "fragment_size"])
    def test_invalid_settings(self, name: str) -> None:
        with pytest.raises(ValueError, match=f"{name} must be >= 1"):
            server(**{name: 0})


class TestSending:
    """RFC 6455 sections 5.4-5.6 and 5.5.1 on the sending side."""

    def test_text_binary_ping_pong_close(self) -> None:
        p = server()
        p.send_text("é")
        p.send_text(b"raw")
        p.send_binary(bytearray(b"\x01"))
        p.send_ping(b"pi")
        p.send_pong(b"po")
        p.send_close(1001, "away")
        assert p.data_to_send() == [
            b"\x81\x02\xc3\xa9",
            b"\x81\x03raw",
            b"\x82\x01\x01",
            b"\x89\x02pi",
            b"\x8a\x02po",
            b"\x88\x06\x03\xe9away",
        ]

    def test_manual_fragmentation(self) -> None:
        p = server()
        p.send_text("ab", fin=False)
        p.send_ping()
        p.send_continuation("c", fin=False)
        p.send_continuation(b"d", fin=True)
        p.send_binary(b"x", fin=False)
        p.send_continuation(b"y", fin=True)
        assert p.data_to_send() == [
            b"\x01\x02ab",
            b"\x89\x00",
            b"\x00\x01c",
            b"\x80\x01d",
            b"\x02\x01x",
            b"\x80\x01y",
        ]

    def test_no_new_message_inside_a_fragmented_one(self) -> None:
        p = server()
        p.send_binary(b"a", fin=False)
        with pytest.raises(InvalidState):
            p.send_text("b")
        with pytest.raises(InvalidState):
            p.send_binary(b"b")

    def test_continuation_needs_a_message(self) -> None:
        with pytest.raises(InvalidState):
            server().send_continuation(b"x", fin=True)

    @pytest.mark.parametrize(
        ("size", "expected"),
        [
            (3, [b"\x01\x03abc", b"\x00\x03def", b"\x80\x02gh"]),
            (4, [b"\x01\x04abcd", b"\x80\x04efgh"]),
            (8, [b"\x81\x08abcdefgh"]),
            (100, [b"\x81\x08abcdefgh"]),
            (1, [b"\x01\x01a"] + [bytes([0, 1, c]) for c in b"bcdefg"] + [b"\x80\x01h"]),
        ],
    )
    def test_auto_fragmentation(self, size: int, expected: list[bytes]) -> None:
        p = server(fragment_size=size)
        p.send_text("abcdefgh")
        assert p.data_to_send() == expected

    def test_auto_fragmentation_of_a_manual_fragment(self) -> None:
        p = server(fragment_size=2)
        p.send_binary(b"abc", fin=False)
        p.send_continuation(b"de", fin=True)
        assert p.data_to_send() == [b"\x02\x02ab", b"\x00\x01c", b"\x80\x02de"]

    def test_auto_fragmentation_leaves_control_frames_alone(self) -> None:
        p = server(fragment_size=2)
        p.send_ping(b"12345")
        p.send_close(1000, "bye")
        assert p.data_to_send() == [b"\x89\x0512345", b"\x88\x05\x03\xe8bye"]

    def test_client_auto_fragmentation_masks_each_frame(self) -> None:
        p = client(fragment_size=2)
        p.send_binary(b"abcde")
        assert [unframe(f) for f in p.data_to_send()] == [(0x02, b"ab"), (0x00, b"cd"), (0x80, b"e")]

    def test_empty_message_with_fragment_size(self) -> None:
        p = server(fragment_size=2)
        p.send_text("")
        assert p.data_to_send() == [b"\x81\x00"]

    def test_control_payload_over_125_bytes(self) -> None:
        p = server()
        with pytest.raises(ValueError, match="control frame too long: 126 bytes"):
            p.send_ping(b"x" * 126)
        with pytest.raises(ValueError, match="control frame too long: 126 bytes"):
            p.send_pong(b"x" * 126)
        p.send_ping(b"x" * 125)
        assert p.data_to_send() == [b"\x89\x7d" + b"x" * 125]

    @pytest.mark.parametrize("code", [1012, 1013, 1014])
    def test_send_close_accepts_iana_codes(self, code: int) -> None:
        p = server()
        p.send_close(code, "restart")
        assert p.data_to_send() == [b"\x88\x09" + code.to_bytes(2, "big") + b"restart"]
        assert p.close_sent == (code, "restart")

    @pytest.mark.parametrize("code", [999, 1004, 1005 + 1, 1015, 2000, 5000])
    def test_send_close_refuses_invalid_codes(self, code: int) -> None:
        p = server()
        with pytest.raises(ValueError, match=f"invalid close code {code}"):
            p.send_close(code)
        assert p.state is State.OPEN
        assert p.data_to_send() == []

    def test_send_close_refuses_long_reasons(self) -> None:
        p = server()
        with pytest.raises(ValueError, match="close reason too long: 124 bytes"):
            p.send_close(1000, "x" * 124)
        with pytest.raises(ValueError):
            p.send_close(1005, "reason")
        p.send_close(1000, "x" * 123)
        assert p.data_to_send() == [b"\x88\x7d\x03\xe8" + b"x" * 123]

    def test_nothing_but_control_frames_after_close(self) -> None:
        p = server()
        p.send_close()
        for send in (lambda: p.send_text("x"), lambda: p.send_binary(b"x"), lambda: p.send_close()):
            with pytest.raises(InvalidState):
                send()
        p.send_ping(b"still")
        assert p.data_to_send() == [b"\x88\x02\x03\xe8", b"\x89\x05still"]

    def test_nothing_after_the_connection_is_closed(self) -> None:
        p = server()
        p.fail(1002)
        for send in (
            lambda: p.send_text("x"),
            lambda: p.send_binary(b"x"),
            lambda: p.send_ping(),
            lambda: p.send_pong(),
            lambda: p.send_close(),
            lambda: p.send_continuation(b"", fin=True),
        ):
            with pytest.raises(InvalidState):
                send()

    def test_send_text_rejects_other_types(self) -> None:
        with pytest.raises(TypeError):
            server().send_text(42)  # type: ignore[arg-type]

    def test_send_whole_sends_str_as_text_and_bytes_like_as_binary(self) -> None:
        # The I/O layers' one positional call for a whole message.
        p = server()
        p._send_whole("é")
        p._send_whole(b"raw")
        p._send_whole(bytearray(b"\x01"))
        p._send_whole(memoryview(b"mv"))
        assert p.data_to_send() == [b"\x81\x02\xc3\xa9", b"\x82\x03raw", b"\x82\x01\x01", b"\x82\x02mv"]

    def test_send_whole_refuses_what_send_binary_refuses(self) -> None:
        p = server()
        with pytest.raises(TypeError):
            p._send_whole(42)  # type: ignore[arg-type]
        p.send_binary(b"a", fin=False)
        with pytest.raises(InvalidState):
            p._send_whole(b"b")
        closing = server()
        closing.send_close()
        with pytest.raises(InvalidState):
            closing._send_whole("x")


class TestHandshakeHook:
    """The CONNECTING state that ClientProtocol / ServerProtocol build on."""

    class LineHandshake(Protocol):
        """A toy handshake: everything up to the first newline."""

        def __init__(self) -> None:
            super().__init__(Side.SERVER, state=State.CONNECTING)
            self.buffer = b""

        def _receive_handshake(self, data: bytes) -> bytes | None:
            self.buffer += data
            head, sep, rest = self.buffer.partition(b"\n")
            if not sep:
                return None
            if head != b"hello":
                self.handshake_exc = ValueError(head)
                self._send_eof()
                return None
            self.state = State.OPEN
            return rest

    def test_leftover_bytes_are_parsed_as_frames(self, feed: Feed) -> None:
        p = self.LineHandshake()
        feed(p, b"hello\n" + frame(TEXT, b"first") + frame(PING, b""))
        assert p.state is State.OPEN
        assert p.events_received() == [TextMessage("first"), Ping(b"")]
        assert p.data_to_send() == [b"\x8a\x00"]

    def test_failed_handshake(self) -> None:
        p = self.LineHandshake()
        p.receive_data(b"nope\n" + frame(TEXT, b"x"))
        assert p.state is State.CLOSED
        assert p.data_to_send() == [b""]
        assert p.events_received() == []
        assert p.close_expected()
        with pytest.raises(InvalidState):
            p.send_text("x")

    def test_cannot_send_while_connecting(self) -> None:
        p = self.LineHandshake()
        with pytest.raises(InvalidState):
            p.send_text("x")
        with pytest.raises(InvalidState):
            p.send_ping()

    def test_base_class_has_no_handshake(self) -> None:
        p = Protocol(Side.SERVER, state=State.CONNECTING)
        with pytest.raises(InvalidState):
            p.receive_data(b"GET / HTTP/1.1\r\n")


class Reverse(Extension):
    """A toy extension owning RSV1: reverses the payload of frames with RSV1."""

    name = "x-reverse"
    rsv1 = True

    def __init__(self) -> None:
        self.decoded: list[tuple[int, bytes, int | None]] = []

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        self.decoded.append((int(frame.opcode), frame.payload, max_size))
        if not frame.rsv1:
            return frame
        if frame.payload == b"bomb":
            raise PayloadTooBig("decoded message too big")
        return Frame(frame.opcode, frame.payload[::-1] * 2, frame.fin)

    def encode(self, frame: Frame) -> Frame:
        if frame.opcode == CONT:
            return frame
        return Frame(frame.opcode, frame.payload[::-1], frame.fin, rsv1=True)


class Tag(Extension):
    """A second toy extension owning RSV3 that records the order of calls."""

    name = "x-tag"
    rsv3 = True

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        self.log.append("decode")
        return Frame(frame.opcode, frame.payload + b"!", frame.fin, rsv1=frame.rsv1)

    def encode(self, frame: Frame) -> Frame:
        self.log.append("encode")
        return Frame(frame.opcode, frame.payload, frame.fin, rsv1=frame.rsv1, rsv3=True)


class TestExtensions:
    """RFC 6455 section 9: extensions own reserved bits and transform data frames."""

    def test_owned_bit_is_accepted_and_decoded(self, feed: Feed) -> None:
        ext = Reverse()
        p = server(extensions=[ext])
        feed(p, frame(TEXT, b"cba", rsv=RSV1) + frame(BINARY, b"plain"))
        assert p.events_received() == [TextMessage("abcabc"), BinaryMessage(b"plain")]
        assert [d[2] for d in ext.decoded] == [2**20, 2**20]

    def test_bits_no_extension_owns_still_fail(self, feed: Feed) -> None:
        p = server(extensions=[Reverse()])
        feed(p, frame(TEXT, b"x", rsv=RSV2))
        assert p.data_to_send() == failed(1002, "reserved bits set without a negotiated extension")

    def test_extensions_never_see_control_frames(self, feed: Feed) -> None:
        ext = Reverse()
        p = server(extensions=[ext])
        feed(p, frame(PING, b"x", rsv=RSV1))
        assert ext.decoded == []
        assert p.data_to_send() == failed(1002, "reserved bits set on a control frame")

    def test_decoded_size_is_limited(self, feed: Feed) -> None:
        p = server(extensions=[Reverse()], max_size=5)
        feed(p, frame(BINARY, b"abc", rsv=RSV1))
        assert p.data_to_send() == failed(1009, "message of at least 6 bytes exceeds the limit of 5 bytes")

    def test_max_size_passed_is_what_the_message_may_still_hold(self) -> None:
        ext = Reverse()
        p = server(extensions=[ext], max_size=100)
        p.receive_data(frame(BINARY, b"ab", rsv=RSV1, fin=False) + frame(CONT, b"cdef"))
        assert ext.decoded == [(BINARY, b"ab", 100), (CONT, b"cdef", 96)]
        assert p.events_received() == [BinaryMessage(b"babacdef")]

    def test_extension_error_fails_with_its_code(self, feed: Feed) -> None:
        p = server(extensions=[Reverse()])
        feed(p, frame(BINARY, b"bomb", rsv=RSV1))
        assert p.data_to_send() == failed(1009, "decoded message too big")

    def test_decode_in_reverse_encode_in_order(self) -> None:
        log: list[str] = []
        p = server(extensions=[Reverse(), Tag(log)])
        p.send_text("abc")
        # Reverse first (RSV1, "cba"), then Tag (RSV3).
        assert p.data_to_send() == [bytes([0x80 | RSV1 | RSV3 | TEXT, 3]) + b"cba"]
        p.receive_data(frame(TEXT, b"yx", rsv=RSV1 | RSV3))
        # Tag first ("yx!"), then Reverse ("!xy!xy").
        assert p.events_received() == [TextMessage("!xy!xy")]
        assert log == ["encode", "decode"]

    def test_extensions_and_auto_fragmentation(self) -> None:
        p = server(extensions=[Reverse()], fragment_size=2)
        p.send_binary(b"abcde")
        assert p.data_to_send() == [b"\x42\x02ba", b"\x00\x02cd", b"\x80\x01e"]

    def test_decoded_text_is_validated_fail_fast(self, feed: Feed) -> None:
        # The parser cannot validate what an extension transforms (RSV1
        # here): the protocol validates the decoded fragments one by one.
        p = server(extensions=[Reverse()])
        feed(p, frame(TEXT, b"a\xff", rsv=RSV1, fin=False))
        assert p.data_to_send() == failed(1007, "invalid UTF-8 in a text message")

    def test_decoded_text_split_code_point(self, feed: Feed) -> None:
        p = server(extensions=[Reverse()])
        feed(
            p,
            frame(TEXT, b"b", rsv=RSV1, fin=False)
            + frame(CONT, b"\xe2\x82", fin=False)
            + frame(CONT, b"\xac"),
        )
        assert p.events_received() == [TextMessage("bb€")]
        assert p.data_to_send() == []

    def test_decoded_text_left_open_at_the_end(self, feed: Feed) -> None:
        p = server(extensions=[Reverse()])
        feed(
            p, frame(TEXT, b"b", rsv=RSV1, fin=False) + frame(CONT, b"\xe2\x82", fin=False) + frame(CONT, b"")
        )
        assert p.events_received() == []
        assert p.data_to_send() == failed(1007, "incomplete UTF-8 sequence at the end of a text message")

    def test_decoded_unfragmented_text_is_validated(self, feed: Feed) -> None:
        p = server(extensions=[Reverse()])
        feed(p, frame(TEXT, b"\xff", rsv=RSV1))
        assert p.data_to_send() == failed(1007, "invalid UTF-8 in a text message")

    def test_extensions_set_after_the_handshake(self) -> None:
        p = server()
        p.extensions = [Reverse()]
        p.receive_data(frame(BINARY, b"ab", rsv=RSV1))
        assert p.events_received() == [BinaryMessage(b"baba")]


class TestEvents:
    """Events: immutable, comparable, small."""

    def test_equality_needs_the_same_type(self) -> None:
        assert TextMessage("a") == TextMessage("a")
        assert TextMessage("a") != TextMessage("b")
        assert Ping(b"x") != Pong(b"x")
        assert BinaryMessage(b"x") != Ping(b"x")
        assert CloseReceived(1000, "") == CloseReceived(1000, "")
        assert CloseReceived(1000, "") != CloseReceived(1001, "")
        assert len({TextMessage("a"), TextMessage("a"), BinaryMessage(b"a")}) == 2

    def test_immutable(self) -> None:
        event = TextMessage("a")
        with pytest.raises(AttributeError):
            event.data = "b"  # type: ignore[misc]
        close = CloseReceived(1000, "")
        with pytest.raises(AttributeError):
            close.code = 1001  # type: ignore[misc]
        with pytest.raises(AttributeError):
            event.other = 1  # type: ignore[attr-defined]

    def test_repr_and_pickle(self) -> None:
        assert repr(TextMessage("a")) == "TextMessage(data='a')"
        assert repr(CloseReceived(1000, "x")) == "CloseReceived(code=1000, reason='x')"
        for event in (TextMessage("a"), BinaryMessage(b"b"), Ping(), Pong(b"p"), CloseReceived(1001, "r")):
            assert pickle.loads(pickle.dumps(event)) == event

    def test_pattern_matching(self) -> None:
        match CloseReceived(1000, "bye"):
            case CloseReceived(code, reason):
                assert (code, reason) == (1000, "bye")
            case _:  # pragma: no cover
                pytest.fail("no match")


class TestErrors:
    """Errors carry their close code; state checks name the state."""

    def test_protocol_errors_carry_close_codes(self) -> None:
        for data, kind, code in [
            (frame(TEXT, b"\xff"), InvalidUTF8, 1007),
            (frame(CONT, b""), InvalidFrame, 1002),
            (frame(CLOSE, close_payload(1005)), InvalidCloseCode, 1002),
        ]:
            p = server()
            p.receive_data(data)
            assert type(p.error) is kind
            assert isinstance(p.error, ProtocolError)
            assert p.error.close_code == code

    def test_first_error_is_kept(self) -> None:
        p = server()
        p.receive_data(frame(TEXT, b"\xff"))
        error = p.error
        p.receive_data(frame(CONT, b""))
        assert p.error is error

    def test_invalid_state_message(self) -> None:
        p = server()
        p.send_close()
        with pytest.raises(InvalidState, match="cannot send a data frame in state CLOSING"):
            p.send_text("x")
