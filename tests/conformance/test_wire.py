"""Tests of the suite's own oracle (wire.py) and of its case table.

The oracle is checked against RFC 6455's worked examples (section 5.7), the
handshake example of section 1.3, and, for UTF-8, against CPython's strict
decoder, an implementation independent of both the oracle and fastws.
"""

from __future__ import annotations

import struct

import pytest

from .cases import CASES, Close, Expect, F, Fragmented, binary_payload, text_payload
from .wire import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    FrameReader,
    WireError,
    accept_key,
    build_frame,
    close_payload,
    mask_payload,
    parse_close_payload,
    read_http_head,
    utf8_invalid_at,
    utf8_valid,
)

KEY = bytes.fromhex("37fa213d")


class TestRFCExamples:
    """RFC 6455 section 5.7: the examples, byte for byte."""

    def test_unmasked_text(self) -> None:
        assert build_frame(OP_TEXT, b"Hello") == bytes.fromhex("810548656c6c6f")

    def test_masked_text(self) -> None:
        assert build_frame(OP_TEXT, b"Hello", mask=KEY) == bytes.fromhex("818537fa213d7f9f4d5158")

    def test_fragmented_unmasked_text(self) -> None:
        first = build_frame(OP_TEXT, b"Hel", fin=False)
        second = build_frame(0, b"lo")
        assert first + second == bytes.fromhex("010348656c80026c6f")

    def test_ping_and_pong(self) -> None:
        assert build_frame(OP_PING, b"Hello") == bytes.fromhex("890548656c6c6f")
        assert build_frame(OP_PONG, b"Hello", mask=KEY) == bytes.fromhex("8a8537fa213d7f9f4d5158")

    def test_256_bytes_binary(self) -> None:
        frame = build_frame(OP_BINARY, bytes(256))
        assert frame[:4] == bytes.fromhex("827e0100")

    def test_64_kib_binary(self) -> None:
        frame = build_frame(OP_BINARY, bytes(65536))
        assert frame[:10] == bytes.fromhex("827f0000000000010000")

    def test_reader_reads_the_examples(self) -> None:
        data = bytes.fromhex("818537fa213d7f9f4d5158010348656c80026c6f")
        frames = FrameReader().feed(data)
        assert [(f.fin, f.opcode, f.masked, f.payload) for f in frames] == [
            (True, OP_TEXT, True, b"Hello"),
            (False, OP_TEXT, False, b"Hel"),
            (True, 0, False, b"lo"),
        ]

    def test_accept_key(self) -> None:
        # Section 1.3's example.
        assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


class TestFrames:
    """Every header field, every length encoding, cut anywhere."""

    @pytest.mark.parametrize("n", [0, 1, 125, 126, 127, 128, 65535, 65536, 70000])
    @pytest.mark.parametrize("masked", [False, True])
    def test_round_trip_byte_by_byte(self, n: int, masked: bool) -> None:
        payload = binary_payload(n)
        data = build_frame(OP_BINARY, payload, mask=KEY if masked else None)
        reader = FrameReader()
        step = 1 if n < 300 else 997
        frames = [f for i in range(0, len(data), step) for f in reader.feed(data[i : i + step])]
        assert len(frames) == 1 and reader.buffered == 0
        assert frames[0].payload == payload and frames[0].masked is masked
        assert frames[0].length_bits == (7 if n <= 125 else 16 if n <= 65535 else 64)

    @pytest.mark.parametrize("rsv", range(8))
    @pytest.mark.parametrize("opcode", range(16))
    def test_any_rsv_and_opcode(self, rsv: int, opcode: int) -> None:
        data = build_frame(opcode, b"x", fin=False, rsv=rsv)
        assert data[0] == (rsv << 4) | opcode
        (frame,) = FrameReader().feed(data)
        assert (frame.fin, frame.rsv, frame.opcode) == (False, rsv, opcode)

    def test_rsv_bit_positions(self) -> None:
        assert build_frame(OP_TEXT, rsv=4)[0] == 0x81 | 0x40  # RSV1
        assert build_frame(OP_TEXT, rsv=2)[0] == 0x81 | 0x20  # RSV2
        assert build_frame(OP_TEXT, rsv=1)[0] == 0x81 | 0x10  # RSV3

    @pytest.mark.parametrize("bits", [16, 64])
    def test_forced_length_encoding(self, bits: int) -> None:
        data = build_frame(OP_TEXT, b"abc", length_bits=bits)
        assert data[1] == (126 if bits == 16 else 127)
        (frame,) = FrameReader().feed(data)
        assert frame.payload == b"abc" and frame.length_bits == bits

    def test_top_bit_of_64_bit_length(self) -> None:
        with pytest.raises(WireError):
            FrameReader().feed(b"\x82\x7f" + struct.pack("!Q", 1 << 63))

    def test_mask_is_an_involution(self) -> None:
        data = binary_payload(1001)
        assert mask_payload(mask_payload(data, KEY), KEY) == data
        assert mask_payload(b"", KEY) == b""
        assert mask_payload(b"\x00" * 6, KEY) == KEY + KEY[:2]

    def test_random_mask_differs(self) -> None:
        frames = [build_frame(OP_TEXT, b"same payload", mask=True) for _ in range(3)]
        # A fresh key each time (three 32-bit keys collide with odds of
        # about 2**-31), so the masked payloads differ too...
        assert len({frame[2:6] for frame in frames}) == 3
        assert len({frame[6:] for frame in frames}) == 3
        # ... and each unmasks to the same payload.
        for frame in frames:
            assert FrameReader().feed(frame)[0].payload == b"same payload"

    def test_close_payload(self) -> None:
        assert close_payload(1000, b"bye") == b"\x03\xe8bye"
        assert parse_close_payload(b"\x03\xe8bye") == (1000, b"bye")
        assert parse_close_payload(b"") == (None, b"")
        with pytest.raises(WireError):
            parse_close_payload(b"\x03")
        (frame,) = FrameReader().feed(build_frame(OP_CLOSE, close_payload(4999)))
        assert parse_close_payload(frame.payload) == (4999, b"")

    def test_several_frames_in_one_feed(self) -> None:
        data = b"".join(build_frame(OP_TEXT, str(i).encode()) for i in range(100))
        assert [f.payload for f in FrameReader().feed(data)] == [str(i).encode() for i in range(100)]


class TestUtf8:
    """The RFC 3629 DFA against CPython's strict decoder."""

    @pytest.mark.parametrize(
        ("data", "at"),
        [
            (b"", None),
            (b"abc", None),
            ("κόσμε".encode(), None),
            (b"\xce", None),  # truncated, not (yet) invalid
            (b"\xed\xa0\x80", 1),  # surrogate: invalid at the second byte
            (b"\xf4\x90\x80\x80", 1),  # beyond U+10FFFF
            (b"\xe0\x80\xaf", 1),  # overlong
            (b"\xc0\xaf", 0),  # c0 never starts a sequence
            (b"ab\xff", 2),
            (b"\x80", 0),
            (b"\xf0\x9f\x98", None),
            (b"\xf0\x9f\x98\x80\x80", 4),
        ],
    )
    def test_invalid_at(self, data: bytes, at: int | None) -> None:
        assert utf8_invalid_at(data) == at

    def test_against_cpython_on_every_short_sequence(self) -> None:
        # Every 1- and 2-byte string, and 3-byte strings around the lead
        # bytes that need a narrowed second byte.
        samples = [bytes([a]) for a in range(256)] + [
            bytes([a, b]) for a in range(256) for b in range(0, 256, 3)
        ]
        samples += [
            bytes([a, b, c])
            for a in (0xE0, 0xED, 0xEF, 0xF0, 0xF4)
            for b in range(0x70, 0xD0)
            for c in (0x80, 0xBF, 0x41)
        ]
        for data in samples:
            try:
                data.decode("utf-8")
                expected = True
            except UnicodeDecodeError:
                expected = False
            assert utf8_valid(data) is expected, data

    def test_fail_fast_point_against_cpython_incremental_decoder(self) -> None:
        import codecs

        # (CPython's incremental decoder waits on a surrogate's "ed a0", so
        # only sequences it rejects at once are compared here.)
        for data in [b"\xf4\x90", b"\xe0\x9f", b"\xc2\x41", b"ok\xf8", "€".encode()[:2] + b"A"]:
            at = utf8_invalid_at(data)
            assert at is not None
            decoder = codecs.getincrementaldecoder("utf-8")()
            decoder.decode(data[:at], final=False)  # the prefix is still fine
            with pytest.raises(UnicodeDecodeError):
                codecs.getincrementaldecoder("utf-8")().decode(data[: at + 1], final=False)


class TestHttp:
    def test_head(self) -> None:
        head, rest = read_http_head(
            b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\nxx"
        )  # type: ignore[misc]
        assert head.start_line == "HTTP/1.1 101 OK" and rest == b"xx"
        assert head.tokens("connection") == ["keep-alive", "upgrade"]
        assert head.get("upgrade") == "websocket"

    def test_incomplete_and_malformed(self) -> None:
        assert read_http_head(b"GET / HTTP/1.1\r\nHost: x\r\n") is None
        with pytest.raises(WireError):
            read_http_head(b"GET / HTTP/1.1\r\nno colon\r\n\r\n")
        with pytest.raises(WireError):
            read_http_head(b"x" * 20000)


class TestCaseTable:
    """The table is well formed and covers the ground it claims."""

    def test_payload_helpers(self) -> None:
        for n in (0, 1, 2, 3, 4, 5, 125, 126, 65535, 65536, 1000003):
            data = text_payload(n)
            assert len(data) == n
            data.decode("utf-8")
            assert len(binary_payload(n)) == n
        assert binary_payload(10) == binary_payload(10)

    def test_every_case_ends_with_the_peer_close(self) -> None:
        for case in CASES:
            last = case.steps[-1]
            assert isinstance(last, Expect), case.name
            assert isinstance(last.items[-1], Close), case.name

    def test_groups_and_names(self) -> None:
        groups = {case.group for case in CASES}
        assert groups == {1, 2, 3, 4, 5, 6, 7, 9, 10}
        names = [case.name for case in CASES]
        assert len(names) == len(set(names))
        for name in (
            "1.1.8",
            "2.10",
            "3.7",
            "4.2.5",
            "5.20",
            "6.4.4",
            "6.23.7",
            "7.9.12",
            "7.7.16",
            "9.4.9",
            "10.1.1",
        ):
            assert name in names

    def test_fragmented_frames(self) -> None:
        frames = Fragmented(OP_TEXT, b"abcdefg", 3).frames()
        assert frames == (F(OP_TEXT, b"abc", fin=False), F(0, b"def", fin=False), F(0, b"g"))
        assert Fragmented(OP_BINARY, b"", 3).frames() == (F(OP_BINARY, b""),)

    def test_kuhn_vectors_judged_by_two_oracles(self) -> None:
        # cases.py asserts, at import, that the DFA and CPython agree on
        # every stress-test vector; here: both verdicts occur, and the
        # non-characters are valid.
        valid = [c for c in CASES if c.name.startswith("6.22.") and not c.name.endswith(".f")]
        assert len(valid) == 35
        assert all(c.steps[-1].items == (Close(frozenset({1000})),) for c in valid)
