"""Frames: ``Frame``, ``FrameParser`` and ``encode_frame`` (RFC 6455 section 5).

Expected bytes come from the RFC's examples (``vectors.py``) or from the
tests' frame writer (``conformance/wire.py``), written from the section 5.2
diagram; neither uses the code under test. Every parser input is fed whole, one byte at a time and cut
at every point.
"""

from __future__ import annotations

import itertools
import random
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.wire import build_frame, build_header
from fastws.constants import Opcode
from fastws.exceptions import InvalidFrame, InvalidUTF8, PayloadTooBig, ProtocolError
from vectors import (
    BINARY_64K,
    FRAGMENTED_HELLO,
    KUHN_INVALID,
    KUHN_VALID,
    MASK_KEY,
    MASKED_HELLO,
    RFC_EXAMPLES,
    UNMASKED_HELLO,
    UNMASKED_PING_HELLO,
    UNMASKED_PONG_HELLO,
    decodes,
    first_failure,
    mask_oracle,
)

DATA_OPCODES = (0x0, 0x1, 0x2)
CONTROL_OPCODES = (0x8, 0x9, 0xA)
OPCODES = DATA_OPCODES + CONTROL_OPCODES
RESERVED_OPCODES = (0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF)
C_CONTIGUOUS_MESSAGE = "a C-contiguous bytes-like object is required, not '{}'"


def as_tuple(frame) -> tuple[bool, int, bytes, bool, bool, bool]:
    return (frame.fin, int(frame.opcode), frame.payload, frame.rsv1, frame.rsv2, frame.rsv3)


def check_frames(frames, expected) -> None:
    """Frames equal ``expected`` tuples, with an Opcode member and bytes payload."""
    assert [as_tuple(frame) for frame in frames] == [
        (fin, opcode, payload, *(rest or (False, False, False))) for fin, opcode, payload, *rest in expected
    ]
    for frame in frames:
        assert type(frame.opcode) is Opcode
        assert type(frame.payload) is bytes
        for flag in (frame.fin, frame.rsv1, frame.rsv2, frame.rsv3):
            assert flag is True or flag is False


def feed_chunks(parser, chunks):
    frames = []
    for chunk in chunks:
        frames.extend(parser.feed(chunk))
    return frames


def whole(data: bytes) -> list[bytes]:
    return [data]


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def cut_points(size: int) -> list[int]:
    """Every cut point, or for big inputs the header region and a sample."""
    if size <= 4096:
        return list(range(size + 1))
    return sorted({*range(20), *range(0, size, 4099), *range(size - 20, size + 1)})


def first_error_index(parser, data: bytes) -> tuple[int, Exception]:
    """Feed byte by byte; the index of the byte whose feed raised, and the error."""
    for index in range(len(data)):
        try:
            parser.feed(data[index : index + 1])
        except ProtocolError as exc:
            return index, exc
    raise AssertionError("no error raised")


class TestRFCExamples:
    """RFC 6455 section 5.7, byte for byte, in both directions."""

    @pytest.mark.parametrize(
        ("name", "wire", "expected", "masked"), RFC_EXAMPLES, ids=[e[0] for e in RFC_EXAMPLES]
    )
    def test_parse_whole_bytewise_and_every_cut(self, codec, name, wire, expected, masked):
        for require_mask in (None, masked):
            check_frames(codec.FrameParser(require_mask=require_mask).feed(wire), expected)
            parser = codec.FrameParser(require_mask=require_mask)
            check_frames(feed_chunks(parser, bytewise(wire)), expected)
            assert parser.buffered == 0
        for cut in cut_points(len(wire)):
            parser = codec.FrameParser()
            check_frames(feed_chunks(parser, [wire[:cut], wire[cut:]]), expected)
            assert parser.buffered == 0

    @pytest.mark.parametrize(
        ("name", "wire", "expected", "masked"), RFC_EXAMPLES, ids=[e[0] for e in RFC_EXAMPLES]
    )
    def test_encode(self, codec, name, wire, expected, masked):
        encoded = b"".join(
            codec.encode_frame(opcode, payload, fin=fin, mask=MASK_KEY if masked else None)
            for fin, opcode, payload in expected
        )
        assert type(encoded) is bytes
        assert encoded == wire

    def test_examples_back_to_back(self, codec):
        stream = b"".join(wire for _, wire, _, _ in RFC_EXAMPLES)
        expected = [frame for _, _, frames, _ in RFC_EXAMPLES for frame in frames]
        check_frames(codec.FrameParser().feed(stream), expected)
        parser = codec.FrameParser()
        rng = random.Random(5)
        chunks, pos = [], 0
        while pos < len(stream):
            size = rng.choice((1, 2, 3, 7, 100, 5000))
            chunks.append(stream[pos : pos + size])
            pos += size
        check_frames(feed_chunks(parser, chunks), expected)

    def test_vectors_match_the_rfc_text(self):
        # Spot checks of the constants against the bytes printed in 5.7.
        assert MASKED_HELLO[2:6] == MASK_KEY
        assert FRAGMENTED_HELLO[0][0] == 0x01 and FRAGMENTED_HELLO[1][0] == 0x80
        assert UNMASKED_PING_HELLO[2:] == UNMASKED_PONG_HELLO[2:] == UNMASKED_HELLO[2:] == b"Hello"
        assert BINARY_64K[:10] == bytes.fromhex("827f0000000000010000")


LENGTHS = [0, 1, 125, 126, 127, 128, 65535, 65536, 65537]


class TestLengthEncodings:
    """Section 5.2: "the minimal number of bytes MUST be used to encode the length"."""

    @pytest.mark.parametrize("length", LENGTHS)
    def test_encode_shortest(self, codec, length):
        payload = bytes(i % 251 for i in range(length))
        assert codec.encode_frame(Opcode.BINARY, payload) == build_frame(0x2, payload)
        assert codec.encode_frame(0x2, payload, mask=MASK_KEY) == build_frame(0x2, payload, mask=MASK_KEY)
        assert codec.encode_frame(0x0, payload, fin=False) == build_frame(0x0, payload, fin=False)

    @pytest.mark.parametrize("length", LENGTHS)
    def test_parse(self, codec, length):
        payload = bytes(i % 253 for i in range(length))
        for key in (None, MASK_KEY):
            wire = build_frame(0x2, payload, mask=key)
            check_frames(codec.FrameParser().feed(wire), [(True, 0x2, payload)])
            # Header cut at every point, then the payload in two halves.
            header_size = len(wire) - length
            for cut in range(header_size + 1):
                parser = codec.FrameParser()
                half = header_size + length // 2
                chunks = [wire[:cut], wire[cut:half], wire[half:]] if cut <= half else [wire]
                check_frames(feed_chunks(parser, chunks), [(True, 0x2, payload)])

    @pytest.mark.parametrize(
        ("length", "width"), [(0, 16), (5, 16), (125, 16), (5, 64), (300, 64), (65535, 64)]
    )
    def test_parse_longer_encoding(self, codec, length, width):
        # Minimal encoding is a sender's duty; the contract lists no error for
        # a longer one, so a receiver accepts it.
        payload = bytes(range(256)) * (length // 256) + bytes(length % 256)
        for key in (None, MASK_KEY):
            wire = build_frame(0x1 if length == 0 else 0x2, payload, mask=key, length_bits=width)
            check_frames(
                feed_chunks(codec.FrameParser(), bytewise(wire) if length < 400 else whole(wire)),
                [(True, 0x1 if length == 0 else 0x2, payload)],
            )

    def test_largest_length_accepted_without_limit(self, codec):
        # 2**63 - 1: the top bit clear, so the header is valid.
        parser = codec.FrameParser()
        assert parser.feed(bytes([0x82, 0x7F]) + (2**63 - 1).to_bytes(8, "big")) == []
        assert parser.buffered <= 10
        assert parser.feed(b"x" * 100) == []
        assert 100 <= parser.buffered <= 110


class TestMaskedPayloads:
    """Section 5.3: the parser unmasks, whatever the chunking."""

    @pytest.mark.parametrize(
        "length", [1, 3, 4, 5, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1000, 65536, (1 << 20) + 3]
    )
    def test_masked_payload_in_chunks(self, codec, length):
        rng = random.Random(length)
        payload = rng.randbytes(length)
        key = rng.randbytes(4)
        wire = build_frame(0x2, payload, mask=key)
        for size in (1, 3, 7, 16, 33, 4096) if length <= 65536 else (4099, 65536):
            parser = codec.FrameParser(require_mask=True)
            chunks = [wire[i : i + size] for i in range(0, len(wire), size)]
            check_frames(feed_chunks(parser, chunks), [(True, 0x2, payload)])


class TestFeedInput:
    """``feed`` takes any C-contiguous bytes-like object."""

    def test_buffer_types(self, codec):
        padded = b"\x00\x00\x00" + MASKED_HELLO
        for data in (
            MASKED_HELLO,
            bytearray(MASKED_HELLO),
            memoryview(MASKED_HELLO),
            memoryview(padded)[3:],
        ):
            check_frames(codec.FrameParser().feed(data), [(True, 0x1, b"Hello")])

    def test_buffer_is_copied(self, codec):
        # The parser may not keep a reference to a caller's mutable buffer.
        parser = codec.FrameParser()
        data = bytearray(UNMASKED_HELLO)
        assert parser.feed(data[:4]) == []
        head = bytearray(UNMASKED_HELLO[4:6])
        assert parser.feed(head) == []
        head[:] = b"XX"
        check_frames(parser.feed(UNMASKED_HELLO[6:]), [(True, 0x1, b"Hello")])

    @pytest.mark.parametrize(
        ("value", "type_name"),
        [("text", "str"), (None, "NoneType"), (7, "int"), (memoryview(UNMASKED_HELLO)[::2], "memoryview")],
    )
    def test_type_errors(self, codec, value, type_name):
        with pytest.raises(TypeError) as exc:
            codec.FrameParser().feed(value)
        assert str(exc.value) == C_CONTIGUOUS_MESSAGE.format(type_name)

    def test_empty_feed(self, codec):
        parser = codec.FrameParser()
        assert parser.feed(b"") == []
        assert parser.buffered == 0
        assert parser.feed(UNMASKED_HELLO[:3]) == []
        assert parser.feed(b"") == []
        assert 1 <= parser.buffered <= 3


class TestBuffered:
    """``buffered``: bytes held for the frame in progress."""

    def test_partial_frames(self, codec):
        payload = bytes(range(200))
        wire = build_frame(0x2, payload, mask=MASK_KEY)  # 2 + 2 + 4 header bytes
        header_size = 8
        parser = codec.FrameParser()
        for index in range(len(wire) - 1):
            assert parser.feed(wire[index : index + 1]) == []
            received = index + 1
            payload_received = max(0, received - header_size)
            # It must hold every payload byte (frames come out whole) and
            # cannot hold more than was received for this frame.
            assert payload_received <= parser.buffered <= received, index
        check_frames(parser.feed(wire[-1:]), [(True, 0x2, payload)])
        assert parser.buffered == 0

    def test_after_complete_frames(self, codec):
        parser = codec.FrameParser()
        stream = UNMASKED_HELLO + MASKED_HELLO + UNMASKED_PING_HELLO
        assert len(parser.feed(stream + MASKED_HELLO[:5])) == 3
        assert 0 <= parser.buffered <= 5
        assert len(parser.feed(MASKED_HELLO[5:])) == 1
        assert parser.buffered == 0


def error_cases():
    """(id, parser kwargs, wire bytes, error type, message, index of the deciding byte).

    A seventh item, when present, lists the frames complete before the error.
    """
    top = bytes([0x80]) + bytes(7)
    cases = []
    for opcode in RESERVED_OPCODES:
        # Section 5.2: "If an unknown opcode is received, the receiving
        # endpoint MUST _Fail the WebSocket Connection_."
        cases.append(
            (
                f"reserved-{opcode}",
                {},
                bytes([0x80 | opcode, 0x00]),
                InvalidFrame,
                f"reserved opcode {opcode}",
                1,
            )
        )
    cases += [
        # The opcode is judged first: FIN clear, an oversized length with its
        # top bit set and the wrong masking come after it.
        (
            "reserved-before-everything",
            {"require_mask": False, "max_frame_size": 0, "max_message_size": 0},
            bytes([0x03, 0xFF]) + top + MASK_KEY,
            InvalidFrame,
            "reserved opcode 3",
            1,
        ),
        ("reserved-rsv-set", {}, bytes([0xFF, 0x7E, 0x01, 0x00]), InvalidFrame, "reserved opcode 15", 1),
    ]
    for opcode in CONTROL_OPCODES:
        # Section 5.5: "Control frames ... MUST NOT be fragmented."
        cases.append(
            (
                f"fragmented-control-{opcode}",
                {},
                bytes([opcode, 0x00]),
                InvalidFrame,
                "fragmented control frame",
                1,
            )
        )
        # Section 5.5: "All control frames MUST have a payload length of 125
        # bytes or less"; judged on the 7-bit field.
        for length in (126, 127):
            cases.append(
                (
                    f"control-too-long-{opcode}-{length}",
                    {},
                    bytes([0x80 | opcode, length]) + bytes(8),
                    InvalidFrame,
                    f"control frame too long: {length} bytes",
                    1,
                )
            )
    cases += [
        (
            "fragmented-before-too-long-and-masking",
            {"require_mask": True, "max_frame_size": 0},
            bytes([0x09, 0x7F]) + top,
            InvalidFrame,
            "fragmented control frame",
            1,
        ),
        (
            "control-too-long-before-masking",
            {"require_mask": True},
            bytes([0x88, 0x7E, 0x00, 0x7D]),
            InvalidFrame,
            "control frame too long: 126 bytes",
            1,
        ),
        # Section 5.1: "a client MUST mask all frames that it sends to the
        # server" and "A server MUST NOT mask any frames that it sends to the
        # client"; a receiver closes on the wrong kind.
        (
            "unmasked-to-server",
            {"require_mask": True},
            UNMASKED_HELLO,
            InvalidFrame,
            "incorrect masking: expected a masked frame",
            1,
        ),
        (
            "masked-to-client",
            {"require_mask": False},
            MASKED_HELLO,
            InvalidFrame,
            "incorrect masking: expected an unmasked frame",
            1,
        ),
        (
            "unmasked-control-to-server",
            {"require_mask": True},
            UNMASKED_PING_HELLO,
            InvalidFrame,
            "incorrect masking: expected a masked frame",
            1,
        ),
        (
            "masking-before-length-checks",
            {"require_mask": True, "max_frame_size": 1},
            bytes([0x82, 0x7F]) + top,
            InvalidFrame,
            "incorrect masking: expected a masked frame",
            1,
        ),
        # Section 5.2: 64-bit length, "the most significant bit MUST be 0".
        (
            "length-top-bit",
            {},
            bytes([0x82, 0x7F]) + top,
            InvalidFrame,
            "payload length has the most significant bit set",
            9,
        ),
        (
            "length-all-ones",
            {},
            bytes([0x82, 0xFF]) + b"\xff" * 8,
            InvalidFrame,
            "payload length has the most significant bit set",
            9,
        ),
        (
            "top-bit-before-limits",
            {"max_frame_size": 10, "max_message_size": 10},
            bytes([0x01, 0x7F]) + top,
            InvalidFrame,
            "payload length has the most significant bit set",
            9,
        ),
        # Limits (close code 1009, section 7.4.1: "a message that is too big
        # for it to process").
        (
            "frame-7-bit",
            {"max_frame_size": 4},
            UNMASKED_HELLO,
            PayloadTooBig,
            "frame of 5 bytes exceeds the limit of 4 bytes",
            1,
        ),
        (
            "frame-zero-limit",
            {"max_frame_size": 0},
            UNMASKED_HELLO,
            PayloadTooBig,
            "frame of 5 bytes exceeds the limit of 0 bytes",
            1,
        ),
        (
            "frame-masked-before-key",
            {"max_frame_size": 4},
            MASKED_HELLO,
            PayloadTooBig,
            "frame of 5 bytes exceeds the limit of 4 bytes",
            1,
        ),
        (
            "frame-16-bit",
            {"max_frame_size": 125},
            build_header(0x2, 126),
            PayloadTooBig,
            "frame of 126 bytes exceeds the limit of 125 bytes",
            3,
        ),
        (
            "frame-64-bit",
            {"max_frame_size": 65535},
            build_header(0x2, 65536, mask=MASK_KEY),
            PayloadTooBig,
            "frame of 65536 bytes exceeds the limit of 65535 bytes",
            9,
        ),
        (
            "frame-control",
            {"max_frame_size": 3},
            UNMASKED_PING_HELLO,
            PayloadTooBig,
            "frame of 5 bytes exceeds the limit of 3 bytes",
            1,
        ),
        (
            "frame-continuation",
            {"max_frame_size": 3},
            bytes([0x00, 0x04]),
            PayloadTooBig,
            "frame of 4 bytes exceeds the limit of 3 bytes",
            1,
        ),
        (
            "frame-before-message",
            {"max_frame_size": 10, "max_message_size": 5},
            build_header(0x1, 11),
            PayloadTooBig,
            "frame of 11 bytes exceeds the limit of 10 bytes",
            1,
        ),
        (
            "message-single-frame",
            {"max_message_size": 10},
            build_header(0x1, 11),
            PayloadTooBig,
            "message of at least 11 bytes exceeds the limit of 10 bytes",
            1,
        ),
        (
            "message-16-bit-masked-before-key",
            {"max_message_size": 255, "max_frame_size": 256},
            build_header(0x2, 256, mask=MASK_KEY),
            PayloadTooBig,
            "message of at least 256 bytes exceeds the limit of 255 bytes",
            3,
        ),
        (
            "message-fragments",
            {"max_message_size": 10},
            build_frame(0x1, b"123456", fin=False) + build_header(0x0, 5, fin=False),
            PayloadTooBig,
            "message of at least 11 bytes exceeds the limit of 10 bytes",
            9,
            [(False, 0x1, b"123456")],
        ),
    ]
    return [case if len(case) == 7 else (*case, []) for case in cases]


ERROR_CASES = error_cases()


class TestErrors:
    """Every error of the contract: type, message, close code and check order."""

    @pytest.mark.parametrize(
        ("kwargs", "wire", "error", "message", "decided_at", "before"),
        [case[1:] for case in ERROR_CASES],
        ids=[case[0] for case in ERROR_CASES],
    )
    def test_error(self, codec, kwargs, wire, error, message, decided_at, before):
        close_code = 1009 if error is PayloadTooBig else 1002
        with pytest.raises(error) as exc:
            codec.FrameParser(**kwargs).feed(wire)
        assert type(exc.value) is error
        assert str(exc.value) == message
        assert exc.value.close_code == close_code
        check_frames(exc.value.frames, before)
        # One byte at a time: refused once the deciding bytes are in, never
        # waiting for the rest of the header or for payload.
        parser = codec.FrameParser(**kwargs)
        index, raised = first_error_index(parser, wire)
        assert index <= decided_at
        assert type(raised) is error and str(raised) == message
        # Every cut point gives the same error.
        for cut in range(len(wire) + 1):
            parser = codec.FrameParser(**kwargs)
            with pytest.raises(error) as exc:
                parser.feed(wire[:cut])
                parser.feed(wire[cut:])
            assert str(exc.value) == message

    def test_errors_after_valid_frames_carry_them(self, codec):
        # Frames completed in the same feed before the error are attached.
        parser = codec.FrameParser(require_mask=False)
        check_frames(parser.feed(UNMASKED_HELLO), [(True, 0x1, b"Hello")])
        first = build_frame(0x1, b"abc", fin=False)
        with pytest.raises(InvalidFrame) as exc:
            parser.feed(first[:3])
            parser.feed(first[3:] + UNMASKED_PING_HELLO + UNMASKED_PONG_HELLO + bytes([0x83, 0x00]))
        assert str(exc.value) == "reserved opcode 3"
        check_frames(exc.value.frames, [(False, 0x1, b"abc"), (True, 0x9, b"Hello"), (True, 0xA, b"Hello")])

    def test_error_frames_exclude_earlier_feeds(self, codec):
        parser = codec.FrameParser(max_frame_size=5)
        check_frames(parser.feed(UNMASKED_HELLO), [(True, 0x1, b"Hello")])
        with pytest.raises(PayloadTooBig) as exc:
            parser.feed(build_header(0x2, 6))
        assert exc.value.frames == []

    @pytest.mark.parametrize(
        ("kwargs", "wire", "error", "message"),
        [case[1:5] for case in ERROR_CASES[::4]],
        ids=[case[0] for case in ERROR_CASES[::4]],
    )
    def test_broken_after_error(self, codec, kwargs, wire, error, message):
        # "After an error the parser is broken: every later feed raises the
        # same error again."
        parser = codec.FrameParser(**kwargs)
        with pytest.raises(error):
            parser.feed(wire)
        for data in (b"", UNMASKED_HELLO, MASKED_HELLO, wire):
            with pytest.raises(error) as exc:
                parser.feed(data)
            assert type(exc.value) is error
            assert str(exc.value) == message
            assert exc.value.close_code == (1009 if error is PayloadTooBig else 1002)

    def test_reset_after_error(self, codec):
        parser = codec.FrameParser(require_mask=False)
        with pytest.raises(InvalidFrame):
            parser.feed(MASKED_HELLO)
        parser.reset()
        assert parser.buffered == 0
        assert parser.require_mask is False  # configuration survives a reset
        check_frames(parser.feed(UNMASKED_HELLO), [(True, 0x1, b"Hello")])


class TestLimits:
    """``max_frame_size`` and ``max_message_size``, judged from the header."""

    def test_huge_frame_refused_from_header(self, codec):
        header = build_header(0x2, 2**40, mask=MASK_KEY)
        parser = codec.FrameParser(max_frame_size=1 << 20)
        with pytest.raises(PayloadTooBig) as exc:
            parser.feed(header[:10])
        assert str(exc.value) == f"frame of {2**40} bytes exceeds the limit of {1 << 20} bytes"
        assert parser.buffered <= 10
        parser = codec.FrameParser(max_message_size=1 << 20)
        with pytest.raises(PayloadTooBig) as exc:
            parser.feed(header[:10])
        assert str(exc.value) == f"message of at least {2**40} bytes exceeds the limit of {1 << 20} bytes"
        assert parser.buffered <= 10

    def test_huge_frame_without_limit_waits(self, codec):
        parser = codec.FrameParser()
        assert parser.feed(build_header(0x2, 2**40)) == []
        assert parser.buffered <= 10
        assert parser.feed(bytes(1000)) == []
        assert 1000 <= parser.buffered <= 1010

    def test_limits_are_inclusive(self, codec):
        parser = codec.FrameParser(max_frame_size=5, max_message_size=5)
        check_frames(parser.feed(UNMASKED_HELLO + MASKED_HELLO), [(True, 0x1, b"Hello")] * 2)
        parser = codec.FrameParser(max_frame_size=0, max_message_size=0)
        check_frames(parser.feed(bytes([0x81, 0x00, 0x89, 0x00])), [(True, 0x1, b""), (True, 0x9, b"")])

    def test_message_across_fragments_with_control_frames(self, codec):
        # Section 5.4: "Control frames MAY be injected in the middle of a
        # fragmented message"; they are not part of the message's size.
        ping = build_frame(0x9, b"p" * 100)
        pong = build_frame(0xA, b"q" * 125, mask=MASK_KEY)
        stream = (
            build_frame(0x1, b"aaaa", fin=False)
            + ping
            + build_frame(0x0, b"bbbb", fin=False, mask=MASK_KEY)
            + pong
            + build_frame(0x0, b"cc")
        )
        expected = [
            (False, 0x1, b"aaaa"),
            (True, 0x9, b"p" * 100),
            (False, 0x0, b"bbbb"),
            (True, 0xA, b"q" * 125),
            (True, 0x0, b"cc"),
        ]
        for chunks in (whole(stream), bytewise(stream)):
            check_frames(feed_chunks(codec.FrameParser(max_message_size=10), chunks), expected)
        parser = codec.FrameParser(max_message_size=9)
        with pytest.raises(PayloadTooBig) as exc:
            parser.feed(stream)
        assert str(exc.value) == "message of at least 10 bytes exceeds the limit of 9 bytes"
        assert exc.value.close_code == 1009
        check_frames(exc.value.frames, expected[:4])

    def test_message_count_restarts(self, codec):
        parser = codec.FrameParser(max_message_size=10)
        # A complete message, then another of the same size.
        for _ in range(3):
            check_frames(
                parser.feed(build_frame(0x2, b"x" * 6, fin=False) + build_frame(0x0, b"y" * 4)),
                [(False, 0x2, b"x" * 6), (True, 0x0, b"y" * 4)],
            )
        # "counted from the last text/binary frame on": a new data frame
        # starts a new count even if the previous message was left open.
        check_frames(
            parser.feed(build_frame(0x1, b"x" * 8, fin=False) + build_frame(0x1, b"z" * 8, fin=False)),
            [(False, 0x1, b"x" * 8), (False, 0x1, b"z" * 8)],
        )
        with pytest.raises(PayloadTooBig) as exc:
            parser.feed(build_header(0x0, 3))
        assert str(exc.value) == "message of at least 11 bytes exceeds the limit of 10 bytes"

    def test_compressed_messages_have_their_own_limit(self, codec):
        # RSV1 on a message's first frame marks it compressed (RFC 7692
        # section 6); max_compressed_size bounds such messages on the wire,
        # max_message_size the others, each from the header.
        rsv1 = (True, False, False)
        parser = codec.FrameParser(max_message_size=10, max_compressed_size=12)
        check_frames(parser.feed(build_frame(0x2, b"x" * 12, rsv=rsv1)), [(True, 0x2, b"x" * 12, *rsv1)])
        check_frames(
            parser.feed(build_frame(0x1, b"a" * 8, fin=False, rsv=rsv1) + build_frame(0x0, b"b" * 4)),
            [(False, 0x1, b"a" * 8, *rsv1), (True, 0x0, b"b" * 4)],
        )
        with pytest.raises(PayloadTooBig) as exc:
            parser.feed(build_header(0x2, 11))
        assert str(exc.value) == "message of at least 11 bytes exceeds the limit of 10 bytes"
        parser = codec.FrameParser(max_message_size=10, max_compressed_size=12)
        parser.feed(build_frame(0x2, b"a" * 8, fin=False, rsv=rsv1))
        with pytest.raises(PayloadTooBig) as exc:
            # The continuation frame belongs to the compressed message.
            parser.feed(build_header(0x0, 5))
        assert str(exc.value) == "compressed message of at least 13 bytes exceeds the limit of 12 bytes"
        assert exc.value.close_code == 1009
        # Without max_compressed_size, compressed messages obey max_message_size.
        parser = codec.FrameParser(max_message_size=10)
        with pytest.raises(PayloadTooBig) as exc:
            parser.feed(build_header(0x1, 11, rsv=rsv1))
        assert str(exc.value) == "message of at least 11 bytes exceeds the limit of 10 bytes"
        # And with only max_compressed_size, uncompressed messages are unbounded.
        parser = codec.FrameParser(max_compressed_size=3)
        assert parser.max_message_size is None and parser.max_compressed_size == 3
        check_frames(parser.feed(build_frame(0x2, b"y" * 100)), [(True, 0x2, b"y" * 100)])
        with pytest.raises(PayloadTooBig):
            parser.feed(build_header(0x2, 4, rsv=rsv1))

    def test_control_frames_ignore_message_limit(self, codec):
        parser = codec.FrameParser(max_message_size=1)
        check_frames(
            parser.feed(UNMASKED_PING_HELLO + UNMASKED_PONG_HELLO + build_frame(0x8, b"\x03\xe8")),
            [(True, 0x9, b"Hello"), (True, 0xA, b"Hello"), (True, 0x8, b"\x03\xe8")],
        )

    def test_reset_restarts_message_count(self, codec):
        parser = codec.FrameParser(max_message_size=10)
        check_frames(parser.feed(build_frame(0x1, b"x" * 8, fin=False)), [(False, 0x1, b"x" * 8)])
        parser.feed(build_header(0x0, 4)[:1])
        parser.reset()
        assert parser.buffered == 0
        assert parser.max_message_size == 10
        check_frames(parser.feed(build_frame(0x0, b"y" * 10)), [(True, 0x0, b"y" * 10)])

    def test_reset_drops_partial_frame(self, codec):
        parser = codec.FrameParser()
        assert parser.feed(MASKED_HELLO[:7]) == []
        parser.reset()
        assert parser.buffered == 0
        check_frames(parser.feed(UNMASKED_HELLO), [(True, 0x1, b"Hello")])

    def test_defaults(self, codec):
        parser = codec.FrameParser()
        assert parser.validate_utf8 is False
        assert parser.require_mask is None
        assert parser.max_frame_size is None
        assert parser.max_message_size is None
        assert parser.max_compressed_size is None
        assert parser.buffered == 0

    @pytest.mark.parametrize("name", ["max_frame_size", "max_message_size", "max_compressed_size"])
    def test_settable_limits(self, codec, name):
        # max_compressed_size applies to compressed (RSV1) messages only.
        rsv = (name == "max_compressed_size", False, False)
        hello = build_frame(0x1, b"Hello", rsv=rsv)
        parser = codec.FrameParser(**{name: 7})
        assert getattr(parser, name) == 7
        check_frames(parser.feed(hello), [(True, 0x1, b"Hello", *rsv)])
        # A new limit applies from the next header on.
        setattr(parser, name, 4)
        assert getattr(parser, name) == 4
        with pytest.raises(PayloadTooBig):
            parser.feed(hello)
        parser.reset()
        setattr(parser, name, None)
        assert getattr(parser, name) is None
        check_frames(parser.feed(build_frame(0x2, bytes(70000), rsv=rsv)), [(True, 0x2, bytes(70000), *rsv)])
        setattr(parser, name, 0)
        assert getattr(parser, name) == 0

    @pytest.mark.parametrize("name", ["max_frame_size", "max_message_size", "max_compressed_size"])
    @pytest.mark.parametrize("value", [-1, -(2**70)])
    def test_negative_limits(self, codec, name, value):
        with pytest.raises(ValueError) as exc:
            codec.FrameParser(**{name: value})
        assert str(exc.value) == f"{name} must be >= 0"
        parser = codec.FrameParser(**{name: 3})
        with pytest.raises(ValueError) as exc:
            setattr(parser, name, value)
        assert str(exc.value) == f"{name} must be >= 0"
        assert getattr(parser, name) == 3

    @pytest.mark.parametrize("value", [1.5, "10"])
    def test_limit_types(self, codec, value):
        with pytest.raises(TypeError):
            codec.FrameParser(max_frame_size=value)
        with pytest.raises(TypeError):
            codec.FrameParser(max_message_size=value)

    def test_large_limits(self, codec):
        # Limits beyond 32 bits are legitimate.
        parser = codec.FrameParser(max_frame_size=2**40, max_message_size=2**62)
        assert parser.max_frame_size == 2**40
        assert parser.max_message_size == 2**62
        assert parser.feed(build_header(0x2, 2**40)) == []
        with pytest.raises(PayloadTooBig) as exc:
            codec.FrameParser(max_frame_size=2**40).feed(build_header(0x2, 2**40 + 1))
        assert str(exc.value) == f"frame of {2**40 + 1} bytes exceeds the limit of {2**40} bytes"

    def test_keyword_only(self, codec):
        with pytest.raises(TypeError):
            codec.FrameParser(True)


class TestRequireMask:
    """``require_mask``: True for a server, False for a client, None for both."""

    def test_none_accepts_both(self, codec):
        parser = codec.FrameParser(require_mask=None)
        check_frames(parser.feed(UNMASKED_HELLO + MASKED_HELLO), [(True, 0x1, b"Hello")] * 2)

    def test_true_accepts_masked(self, codec):
        parser = codec.FrameParser(require_mask=True)
        assert parser.require_mask is True
        check_frames(parser.feed(MASKED_HELLO + MASKED_HELLO), [(True, 0x1, b"Hello")] * 2)

    def test_false_accepts_unmasked(self, codec):
        parser = codec.FrameParser(require_mask=False)
        assert parser.require_mask is False
        check_frames(parser.feed(UNMASKED_HELLO), [(True, 0x1, b"Hello")])

    def test_settable(self, codec):
        parser = codec.FrameParser()
        check_frames(parser.feed(UNMASKED_HELLO), [(True, 0x1, b"Hello")])
        parser.require_mask = True
        assert parser.require_mask is True
        with pytest.raises(InvalidFrame) as exc:
            parser.feed(UNMASKED_HELLO)
        assert str(exc.value) == "incorrect masking: expected a masked frame"
        parser.reset()
        parser.require_mask = False
        with pytest.raises(InvalidFrame) as exc:
            parser.feed(MASKED_HELLO)
        assert str(exc.value) == "incorrect masking: expected an unmasked frame"
        parser.reset()
        parser.require_mask = None
        assert parser.require_mask is None
        check_frames(parser.feed(MASKED_HELLO + UNMASKED_HELLO), [(True, 0x1, b"Hello")] * 2)


class TestReservedBits:
    """Section 5.2: RSV1-3 are for extensions; the parser reports, never rejects, them."""

    @pytest.mark.parametrize(
        "rsv", [(a, b, c) for a in (False, True) for b in (False, True) for c in (False, True)]
    )
    def test_reported(self, codec, rsv):
        stream = build_frame(0x1, b"text", rsv=rsv) + build_frame(0x9, b"", rsv=rsv, mask=MASK_KEY)
        expected = [(True, 0x1, b"text", *rsv), (True, 0x9, b"", *rsv)]
        check_frames(codec.FrameParser().feed(stream), expected)
        assert codec.encode_frame(0x1, b"text", rsv1=rsv[0], rsv2=rsv[1], rsv3=rsv[2]) == build_frame(
            0x1, b"text", rsv=rsv
        )


class TestFrame:
    """The ``Frame`` value type."""

    @pytest.mark.c_extension
    def test_compiled_frames_are_not_tracked_by_the_collector(self, compiled_codec):
        # Bytes, ints and bools cannot form a cycle: a tracked frame only
        # made the collector run every few hundred parsed frames.
        import gc

        parser = compiled_codec.FrameParser()
        (frame,) = parser.feed(build_frame(Opcode.TEXT, b"hi", mask=b"abcd"))
        assert frame.payload == b"hi"
        assert not gc.is_tracked(frame)
        assert not gc.is_tracked(compiled_codec.Frame(Opcode.BINARY, b"x"))

    def test_defaults(self, codec):
        frame = codec.Frame(Opcode.TEXT)
        assert as_tuple(frame) == (True, 1, b"", False, False, False)
        frame = codec.Frame(Opcode.BINARY, b"x", False, True, False, True)
        assert as_tuple(frame) == (False, 2, b"x", True, False, True)
        frame = codec.Frame(opcode=Opcode.PING, payload=b"p", fin=True, rsv1=False, rsv2=True, rsv3=False)
        assert as_tuple(frame) == (True, 9, b"p", False, True, False)

    def test_equality(self, codec):
        frame = codec.Frame(Opcode.TEXT, b"abc", fin=False, rsv1=True)
        assert frame == codec.Frame(Opcode.TEXT, b"abc", fin=False, rsv1=True)
        assert frame == codec.Frame(1, b"abc", fin=False, rsv1=True)  # an int opcode equals the member
        assert not frame != codec.Frame(Opcode.TEXT, b"abc", fin=False, rsv1=True)
        for other in (
            codec.Frame(Opcode.BINARY, b"abc", fin=False, rsv1=True),
            codec.Frame(Opcode.TEXT, b"abd", fin=False, rsv1=True),
            codec.Frame(Opcode.TEXT, b"abc", fin=True, rsv1=True),
            codec.Frame(Opcode.TEXT, b"abc", fin=False, rsv1=False),
            codec.Frame(Opcode.TEXT, b"abc", fin=False, rsv1=True, rsv2=True),
            codec.Frame(Opcode.TEXT, b"abc", fin=False, rsv1=True, rsv3=True),
        ):
            assert frame != other
            assert not frame == other
        assert frame != (False, 1, b"abc")
        assert frame != "Frame"
        assert frame != None  # noqa: E711

    def test_parsed_equals_constructed(self, codec):
        (frame,) = codec.FrameParser().feed(MASKED_HELLO)
        assert frame == codec.Frame(Opcode.TEXT, b"Hello")

    def test_unhashable(self, codec):
        # Frames are mutable values that compare by content: no hash.
        frame = codec.Frame(Opcode.TEXT, b"abc")
        with pytest.raises(TypeError):
            hash(frame)
        with pytest.raises(TypeError):
            {frame}  # noqa: B018

    def test_repr(self, codec):
        text = repr(codec.Frame(Opcode.TEXT, b"Hello"))
        assert text.startswith("Frame(")
        assert "TEXT" in text and "b'Hello'" in text
        for opcode in Opcode:
            assert opcode.name in repr(codec.Frame(opcode, b""))
        # Long payloads are not dumped whole.
        assert len(repr(codec.Frame(Opcode.BINARY, bytes(100_000)))) < 200
        assert "rsv1=True" in repr(codec.Frame(Opcode.TEXT, b"", rsv1=True))


class TestEncodeFrame:
    """``encode_frame``: the writer side of section 5.2."""

    @pytest.mark.parametrize("opcode", OPCODES)
    def test_every_opcode(self, codec, opcode):
        for key in (None, MASK_KEY):
            assert codec.encode_frame(opcode, b"body", mask=key) == build_frame(opcode, b"body", mask=key)
            assert codec.encode_frame(Opcode(opcode), b"body", mask=key) == build_frame(
                opcode, b"body", mask=key
            )

    def test_fin_false(self, codec):
        assert codec.encode_frame(0x1, b"Hel", fin=False) == FRAGMENTED_HELLO[0]
        assert codec.encode_frame(0x0, b"lo") == FRAGMENTED_HELLO[1]

    def test_mask_none_and_false(self, codec):
        assert codec.encode_frame(0x1, b"Hello", mask=None) == UNMASKED_HELLO
        assert codec.encode_frame(0x1, b"Hello", mask=False) == UNMASKED_HELLO
        assert codec.encode_frame(0x1, b"Hello") == UNMASKED_HELLO

    def test_mask_key_types(self, codec):
        for key in (MASK_KEY, bytearray(MASK_KEY), memoryview(MASK_KEY)):
            assert codec.encode_frame(0x1, b"Hello", mask=key) == MASKED_HELLO
        assert codec.encode_frame(0x1, b"Hello", mask=bytes(4)) == bytes([0x81, 0x85]) + bytes(4) + b"Hello"

    def test_payload_types(self, codec):
        for payload in (b"Hello", bytearray(b"Hello"), memoryview(b"xHello")[1:], memoryview(b"Hello")):
            assert codec.encode_frame(0x1, payload, mask=MASK_KEY) == MASKED_HELLO

    def test_mask_true_random(self, codec):
        # Section 5.3: "The masking key is a 32-bit value chosen at random".
        payload = bytes(range(40))
        keys = set()
        for _ in range(8):
            wire = codec.encode_frame(0x2, payload, mask=True)
            assert wire[:2] == bytes([0x82, 0x80 | 40])
            key = wire[2:6]
            keys.add(key)
            assert wire[6:] == mask_oracle(payload, key)
            check_frames(codec.FrameParser(require_mask=True).feed(wire), [(True, 0x2, payload)])
        # Eight equal 32-bit random keys would be a 2**-224 event.
        assert len(keys) > 1

    @pytest.mark.parametrize("opcode", [*RESERVED_OPCODES, 16, 255, -1, 2**70])
    def test_invalid_opcode(self, codec, opcode):
        with pytest.raises(ValueError) as exc:
            codec.encode_frame(opcode, b"")
        assert str(exc.value) == f"invalid opcode {opcode}"

    @pytest.mark.parametrize("opcode", CONTROL_OPCODES)
    def test_control_rules(self, codec, opcode):
        with pytest.raises(ValueError) as exc:
            codec.encode_frame(opcode, b"", fin=False)
        assert str(exc.value) == "fragmented control frame"
        for length in (126, 127, 1000, 70000):
            with pytest.raises(ValueError) as exc:
                codec.encode_frame(opcode, bytes(length))
            assert str(exc.value) == f"control frame too long: {length} bytes"
        assert codec.encode_frame(opcode, bytes(125)) == build_frame(opcode, bytes(125))

    @pytest.mark.parametrize("size", [0, 1, 3, 5, 8])
    def test_bad_mask_length(self, codec, size):
        with pytest.raises(ValueError) as exc:
            codec.encode_frame(0x1, b"x", mask=b"k" * size)
        assert str(exc.value) == f"mask must be exactly 4 bytes, got {size}"

    @pytest.mark.parametrize(("mask", "type_name"), [("abcd", "str"), (1234, "int"), ([1, 2, 3, 4], "list")])
    def test_bad_mask_type(self, codec, mask, type_name):
        with pytest.raises(TypeError) as exc:
            codec.encode_frame(0x1, b"x", mask=mask)
        assert str(exc.value) == C_CONTIGUOUS_MESSAGE.format(type_name)

    @pytest.mark.parametrize(
        ("payload", "type_name"),
        [("text", "str"), (None, "NoneType"), (5, "int"), (memoryview(b"abcdef")[::2], "memoryview")],
    )
    def test_bad_payload_type(self, codec, payload, type_name):
        with pytest.raises(TypeError) as exc:
            codec.encode_frame(0x1, payload)
        assert str(exc.value) == C_CONTIGUOUS_MESSAGE.format(type_name)

    def test_keyword_only(self, codec):
        with pytest.raises(TypeError):
            codec.encode_frame(0x1, b"x", True)


def text_message(
    pieces: list[bytes],
    keys: list[bytes | None],
    *,
    opcode: int = 0x1,
    rsv: tuple[bool, bool, bool] = (False, False, False),
) -> tuple[bytes, list[int], list[int]]:
    """One message in frames: the stream, each payload byte's index in it, each frame's last index."""
    stream, positions, ends = b"", [], []
    for index, (piece, key) in enumerate(zip(pieces, keys, strict=True)):
        frame = build_frame(
            opcode if index == 0 else 0x0,
            piece,
            fin=index == len(pieces) - 1,
            mask=key,
            rsv=rsv if index == 0 else (False, False, False),
        )
        start = len(stream) + len(frame) - len(piece)
        positions.extend(range(start, start + len(piece)))
        stream += frame
        ends.append(len(stream) - 1)
    return stream, positions, ends


def expected_utf8_error(pieces: list[bytes], stream: bytes, positions: list[int]) -> tuple[int, str] | None:
    """Where (stream index) and how a validating parser must refuse the message."""
    payload = b"".join(pieces)
    failure = first_failure(payload)
    if failure is not None:
        # Refused at the first byte no valid UTF-8 text can continue from.
        return positions[failure], "invalid UTF-8 in a text message"
    if not decodes(payload):
        # Every byte could still be completed: refused when the message ends.
        return len(stream) - 1, "incomplete UTF-8 sequence at the end of a text message"
    return None


def check_text_message(codec, pieces: list[bytes], keys: list[bytes | None]) -> None:
    """Whole and byte by byte, a validating parser agrees with the oracle."""
    stream, positions, ends = text_message(pieces, keys)
    expected = expected_utf8_error(pieces, stream, positions)
    frames = [
        (index == len(pieces) - 1, 0x1 if index == 0 else 0x0, piece) for index, piece in enumerate(pieces)
    ]
    parser = codec.FrameParser(validate_utf8=True)
    if expected is None:
        check_frames(parser.feed(stream), frames)
        parser = codec.FrameParser(validate_utf8=True)
        check_frames(feed_chunks(parser, bytewise(stream)), frames)
        return
    where, message = expected
    with pytest.raises(InvalidUTF8) as exc:
        parser.feed(stream)
    assert str(exc.value) == message
    assert exc.value.close_code == 1007
    check_frames(exc.value.frames, [frame for frame, end in zip(frames, ends, strict=True) if end < where])
    index, raised = first_error_index(codec.FrameParser(validate_utf8=True), stream)
    assert (index, type(raised), str(raised)) == (where, InvalidUTF8, message), (pieces, keys)


class TestValidateUtf8:
    """``validate_utf8=True``: text messages checked as their bytes arrive (section 8.1)."""

    def test_default_off(self, codec):
        parser = codec.FrameParser()
        assert parser.validate_utf8 is False
        check_frames(parser.feed(build_frame(0x1, b"\xff\xed\xa0\x80")), [(True, 0x1, b"\xff\xed\xa0\x80")])

    def test_settable(self, codec):
        parser = codec.FrameParser(validate_utf8=True)
        assert parser.validate_utf8 is True
        with pytest.raises(InvalidUTF8):
            parser.feed(build_frame(0x1, b"\xff"))
        parser = codec.FrameParser()
        parser.validate_utf8 = True
        assert parser.validate_utf8 is True
        with pytest.raises(InvalidUTF8):
            parser.feed(build_frame(0x1, b"\xff"))
        parser = codec.FrameParser(validate_utf8=True)
        parser.validate_utf8 = False
        assert parser.validate_utf8 is False
        check_frames(parser.feed(build_frame(0x1, b"\xff")), [(True, 0x1, b"\xff")])

    @pytest.mark.parametrize("name", sorted(KUHN_VALID))
    def test_valid_vectors(self, codec, name):
        data = KUHN_VALID[name]
        check_text_message(codec, [data], [None])
        check_text_message(codec, [data], [MASK_KEY])
        for cut in range(len(data) + 1):
            check_text_message(codec, [data[:cut], data[cut:]], [MASK_KEY, None])

    @pytest.mark.parametrize("name", sorted(KUHN_INVALID))
    def test_invalid_vectors(self, codec, name):
        data = KUHN_INVALID[name]
        check_text_message(codec, [data], [None])
        check_text_message(codec, [data], [MASK_KEY])
        for cut in range(len(data) + 1):
            check_text_message(codec, [data[:cut], data[cut:]], [None, MASK_KEY])
            check_text_message(codec, [b"ok", data[:cut], b"", data[cut:]], [None, None, MASK_KEY, None])

    @pytest.mark.parametrize(
        "pieces",
        [
            [b"\xe2\x82", b"\xac"],
            [b"\xe2", b"\x82", b"\xac"],
            [b"\xe2", b""],
            [b"\xf0\x9f\x98", b"\x80", b"\xf0"],
            [b"\xed", b"\xa0\x80"],
            [b"\xed", b"\x9f\xbf"],
            [b"abc", b"", b"\xc3"],
            [b"", b"\xf4\x90\x80\x80"],
        ],
    )
    def test_across_fragments(self, codec, pieces):
        check_text_message(codec, pieces, [None] * len(pieces))
        check_text_message(codec, pieces, [MASK_KEY] * len(pieces))

    @pytest.mark.parametrize("length", [16, 64, 1000, 70000])
    def test_fail_fast_inside_a_frame(self, codec, length):
        # The bad byte is refused as soon as it arrives, not when the frame is
        # complete: Autobahn 6.4.x sends the rest of the frame much later.
        for key in (None, MASK_KEY):
            payload = b"a" * 5 + b"\xf4\x90" + b"a" * (length - 7)
            wire = build_frame(0x1, payload, mask=key)
            header_size = len(wire) - length
            parser = codec.FrameParser(validate_utf8=True)
            assert parser.feed(wire[: header_size + 6]) == []
            with pytest.raises(InvalidUTF8) as exc:
                parser.feed(wire[header_size + 6 : header_size + 7])
            assert str(exc.value) == "invalid UTF-8 in a text message"

    def test_binary_not_validated(self, codec):
        parser = codec.FrameParser(validate_utf8=True)
        stream = build_frame(0x2, b"\xff", fin=False) + build_frame(0x0, b"\xed\xa0\x80", mask=MASK_KEY)
        check_frames(parser.feed(stream), [(False, 0x2, b"\xff"), (True, 0x0, b"\xed\xa0\x80")])

    def test_control_frames_not_validated(self, codec):
        # Control frames inside a text message neither are validated nor
        # disturb the text's validation state.
        parser = codec.FrameParser(validate_utf8=True)
        stream = (
            build_frame(0x1, b"\xe2\x82", fin=False)
            + build_frame(0x9, b"\xff")
            + build_frame(0xA, b"\x80", mask=MASK_KEY)
            + build_frame(0x8, b"\x03\xe8\xff")
            + build_frame(0x0, b"\xac")
        )
        expected = [
            (False, 0x1, b"\xe2\x82"),
            (True, 0x9, b"\xff"),
            (True, 0xA, b"\x80"),
            (True, 0x8, b"\x03\xe8\xff"),
            (True, 0x0, b"\xac"),
        ]
        check_frames(parser.feed(stream), expected)
        check_frames(feed_chunks(codec.FrameParser(validate_utf8=True), bytewise(stream)), expected)

    @pytest.mark.parametrize("rsv", [(True, False, False), (False, True, False), (False, False, True)])
    def test_rsv_on_first_frame_skips_validation(self, codec, rsv):
        # "A text message whose first frame has any RSV bit set is not
        # validated": an extension transformed its payload.
        parser = codec.FrameParser(validate_utf8=True)
        stream, _, _ = text_message([b"\xff\xfe", b"\x80"], [None, MASK_KEY], rsv=rsv)
        check_frames(parser.feed(stream), [(False, 0x1, b"\xff\xfe", *rsv), (True, 0x0, b"\x80")])
        # The next text message without RSV bits is validated again.
        with pytest.raises(InvalidUTF8):
            parser.feed(build_frame(0x1, b"\xff"))

    def test_rsv_on_continuation_only(self, codec):
        parser = codec.FrameParser(validate_utf8=True)
        stream = build_frame(0x1, b"ok", fin=False) + build_frame(0x0, b"\xff", rsv=(True, False, False))
        with pytest.raises(InvalidUTF8) as exc:
            parser.feed(stream)
        check_frames(exc.value.frames, [(False, 0x1, b"ok")])

    def test_messages_are_independent(self, codec):
        parser = codec.FrameParser(validate_utf8=True)
        check_frames(parser.feed(build_frame(0x1, "\u20ac".encode())), [(True, 0x1, "\u20ac".encode())])
        # A new message starts with no sequence open.
        with pytest.raises(InvalidUTF8) as exc:
            parser.feed(build_frame(0x1, b"\x82\xac"))
        assert str(exc.value) == "invalid UTF-8 in a text message"

    def test_binary_message_between_text_messages(self, codec):
        parser = codec.FrameParser(validate_utf8=True)
        stream = build_frame(0x1, b"a") + build_frame(0x2, b"\xe2") + build_frame(0x1, b"\x82\xac")
        with pytest.raises(InvalidUTF8) as exc:
            parser.feed(stream)
        check_frames(exc.value.frames, [(True, 0x1, b"a"), (True, 0x2, b"\xe2")])

    def test_reset(self, codec):
        parser = codec.FrameParser(validate_utf8=True)
        assert parser.feed(build_frame(0x1, b"\xe2", fin=False)) != []
        parser.reset()
        assert parser.validate_utf8 is True
        check_frames(parser.feed(build_frame(0x1, b"a")), [(True, 0x1, b"a")])
        with pytest.raises(InvalidUTF8):
            parser.feed(build_frame(0x1, b"\xff"))
        parser.reset()
        check_frames(parser.feed(build_frame(0x1, "\u00e9".encode())), [(True, 0x1, "\u00e9".encode())])

    def test_broken_after_error(self, codec):
        parser = codec.FrameParser(validate_utf8=True)
        with pytest.raises(InvalidUTF8):
            parser.feed(build_frame(0x1, b"\xc0\xaf"))
        for data in (b"", UNMASKED_HELLO):
            with pytest.raises(InvalidUTF8) as exc:
                parser.feed(data)
            assert str(exc.value) == "invalid UTF-8 in a text message"
            assert exc.value.close_code == 1007

    def test_header_errors_still_first(self, codec):
        # The frame after a bad text payload is never reached.
        parser = codec.FrameParser(validate_utf8=True)
        with pytest.raises(InvalidUTF8):
            parser.feed(build_frame(0x1, b"\xff") + bytes([0x83, 0x00]))
        # A header error before any payload byte is judged as usual.
        with pytest.raises(InvalidFrame):
            codec.FrameParser(validate_utf8=True).feed(bytes([0x83, 0x00]) + build_frame(0x1, b"\xff"))

    @given(
        text=st.text(max_size=40),
        mutation=st.one_of(
            st.none(), st.tuples(st.integers(min_value=0), st.integers(min_value=0x80, max_value=0xFF))
        ),
        cuts=st.lists(st.integers(min_value=0), max_size=4),
        keys=st.lists(st.one_of(st.none(), st.binary(min_size=4, max_size=4)), min_size=5, max_size=5),
    )
    def test_property(self, codec, text, mutation, cuts, keys):
        payload = bytearray(text.encode("utf-8", "replace"))
        if mutation is not None and payload:
            payload[mutation[0] % len(payload)] = mutation[1]
        payload = bytes(payload)
        bounds = [0, *sorted(cut % (len(payload) + 1) for cut in cuts), len(payload)]
        pieces = [payload[a:b] for a, b in itertools.pairwise(bounds)]
        check_text_message(codec, pieces, keys[: len(pieces)])


# -- round trips and the twins side by side ---------------------------------------------------

SPECIAL_SIZES = [0, 125, 126, 127, 65535, 65536]


@st.composite
def frame_specs(draw):
    opcode = draw(st.sampled_from(OPCODES))
    if opcode >= 8:
        payload = draw(st.binary(max_size=125))
        fin = True
    else:
        if draw(st.integers(min_value=0, max_value=9)) == 0:
            size = draw(st.sampled_from(SPECIAL_SIZES))
            payload = bytes(i * 31 % 256 for i in range(size))
        else:
            payload = draw(st.binary(max_size=300))
        fin = draw(st.booleans())
    rsv = (draw(st.booleans()), draw(st.booleans()), draw(st.booleans()))
    mask = draw(st.one_of(st.none(), st.just(False), st.just(True), st.binary(min_size=4, max_size=4)))
    return opcode, payload, fin, rsv, mask


@given(specs=st.lists(frame_specs(), max_size=8), data=st.data())
def test_round_trip(codec, specs, data):
    """Random frames -> encode -> concatenate -> cut anywhere -> parse -> same frames."""
    stream = b"".join(
        codec.encode_frame(opcode, payload, fin=fin, mask=mask, rsv1=rsv[0], rsv2=rsv[1], rsv3=rsv[2])
        for opcode, payload, fin, rsv, mask in specs
    )
    cuts = sorted(
        data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=12), label="cuts")
    )
    bounds = [0, *cuts, len(stream)]
    parser = codec.FrameParser()
    frames = feed_chunks(parser, [stream[a:b] for a, b in itertools.pairwise(bounds)])
    check_frames(frames, [(fin, opcode, payload, *rsv) for opcode, payload, fin, rsv, _ in specs])
    assert frames == [codec.Frame(opcode, payload, fin, *rsv) for opcode, payload, fin, rsv, _ in specs]
    assert parser.buffered == 0


# Differential tests: on any bytes, both twins return the same frames and
# raise the same exceptions with the same messages, at the same feed.


def outcome(parser, chunks):
    results = []
    for chunk in chunks:
        try:
            frames = parser.feed(chunk)
        except Exception as exc:
            results.append(
                (
                    "raised",
                    type(exc),
                    str(exc),
                    getattr(exc, "close_code", None),
                    [as_tuple(frame) for frame in getattr(exc, "frames", [])],
                    parser.buffered,
                )
            )
        else:
            results.append(
                ("frames", [(*as_tuple(frame), type(frame.opcode)) for frame in frames], parser.buffered)
            )
    return results


LIMITS = st.one_of(
    st.none(),
    st.sampled_from([0, 1, 5, 125, 126, 127, 65535, 65536, 2**40]),
    st.integers(min_value=0, max_value=400),
)


@st.composite
def raw_headers(draw):
    """A header with random bits in every field, and some payload bytes."""
    first = draw(st.integers(min_value=0, max_value=255))
    second = draw(st.integers(min_value=0, max_value=255))
    out = bytes([first, second])
    length = second & 0x7F
    if length == 126:
        out += draw(
            st.one_of(
                st.binary(min_size=2, max_size=2), st.sampled_from([b"\x00\x7e", b"\x01\x00", b"\xff\xff"])
            )
        )
    elif length == 127:
        out += draw(
            st.one_of(
                st.binary(min_size=8, max_size=8),
                st.sampled_from(
                    [bytes(7) + b"\x05", bytes(5) + b"\x01\x00\x00", b"\x80" + bytes(7), bytes(8)]
                ),
            )
        )
    if second & 0x80:
        out += draw(st.binary(min_size=4, max_size=4))
    out += draw(st.binary(max_size=min(length, 130)))
    return out


@pytest.mark.c_extension
@given(
    pieces=st.lists(st.one_of(raw_headers(), st.binary(max_size=12)), max_size=8),
    require_mask=st.sampled_from([None, True, False]),
    max_frame_size=LIMITS,
    max_message_size=LIMITS,
    validate_utf8=st.booleans(),
    data=st.data(),
)
def test_differential_parser(
    pure_codec, compiled_codec, pieces, require_mask, max_frame_size, max_message_size, validate_utf8, data
):
    stream = b"".join(pieces)
    cuts = sorted(
        data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=10), label="cuts")
    )
    bounds = [0, *cuts, len(stream)]
    chunks = [stream[a:b] for a, b in itertools.pairwise(bounds)]
    # One more feed after the end, to compare what a broken parser re-raises.
    chunks.append(b"")
    kwargs = {
        "require_mask": require_mask,
        "max_frame_size": max_frame_size,
        "max_message_size": max_message_size,
        "validate_utf8": validate_utf8,
    }
    assert outcome(compiled_codec.FrameParser(**kwargs), chunks) == outcome(
        pure_codec.FrameParser(**kwargs), chunks
    )


@pytest.mark.c_extension
@given(
    specs=st.lists(frame_specs(), max_size=6),
    junk=st.binary(max_size=16),
    max_frame_size=LIMITS,
    max_message_size=LIMITS,
    validate_utf8=st.booleans(),
    data=st.data(),
)
def test_differential_valid_streams(
    pure_codec, compiled_codec, specs, junk, max_frame_size, max_message_size, validate_utf8, data
):
    # Mostly valid streams, so limits and fragment counting are exercised deep
    # into a stream; random trailing bytes end some of them with an error.
    stream = (
        b"".join(
            pure_codec.encode_frame(
                opcode, payload, fin=fin, mask=mask if mask is not True else b"\x01\x02\x03\x04", rsv1=rsv[0]
            )
            for opcode, payload, fin, rsv, mask in specs
        )
        + junk
    )
    cuts = sorted(
        data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=10), label="cuts")
    )
    bounds = [0, *cuts, len(stream)]
    chunks = [stream[a:b] for a, b in itertools.pairwise(bounds)]
    kwargs = {
        "max_frame_size": max_frame_size,
        "max_message_size": max_message_size,
        "validate_utf8": validate_utf8,
    }
    assert outcome(compiled_codec.FrameParser(**kwargs), chunks) == outcome(
        pure_codec.FrameParser(**kwargs), chunks
    )


@pytest.mark.c_extension
def test_differential_error_table(pure_codec, compiled_codec):
    for name, kwargs, wire, *_ in ERROR_CASES:
        for chunks in (whole(wire), bytewise(wire), [wire, b"", UNMASKED_HELLO]):
            assert outcome(compiled_codec.FrameParser(**kwargs), chunks) == outcome(
                pure_codec.FrameParser(**kwargs), chunks
            ), name


@pytest.mark.c_extension
def test_differential_text_validation(pure_codec, compiled_codec):
    for name, data in sorted({**KUHN_VALID, **KUHN_INVALID}.items()):
        for cut in range(len(data) + 1):
            stream, _, _ = text_message([data[:cut], data[cut:]], [None, MASK_KEY])
            for chunks in (whole(stream), bytewise(stream)):
                assert outcome(compiled_codec.FrameParser(validate_utf8=True), chunks) == outcome(
                    pure_codec.FrameParser(validate_utf8=True), chunks
                ), (name, cut)


class TestFeedSome:
    """``feed_some``: at most ``max_frames`` frames per call; the rest goes back to the caller."""

    def test_stops_at_a_frame_boundary(self, codec):
        stream = b"".join(build_frame(0x2, bytes([i]) * i, mask=MASK_KEY) for i in range(1, 8))
        parser = codec.FrameParser(require_mask=True)
        frames, used = parser.feed_some(stream, 3)
        check_frames(frames, [(True, 0x2, bytes([i]) * i) for i in range(1, 4)])
        assert used == sum(2 + 4 + i for i in range(1, 4))
        assert parser.buffered == 0
        frames, used2 = parser.feed_some(stream[used:], 100)
        check_frames(frames, [(True, 0x2, bytes([i]) * i) for i in range(4, 8)])
        assert used2 == len(stream) - used

    def test_partial_frames_are_consumed(self, codec):
        parser = codec.FrameParser()
        data = build_frame(0x1, b"Hello") + build_frame(0x1, b"World")
        # The first frame and half of the second: both consumed, one frame out.
        frames, used = parser.feed_some(data[:10], 1)
        check_frames(frames, [(True, 0x1, b"Hello")])
        assert used == 7  # the second frame's bytes go back: the limit was reached
        frames, used = parser.feed_some(data[7:10], 1)
        assert (frames, used) == ([], 3)
        frames, used = parser.feed_some(data[10:], 1)
        check_frames(frames, [(True, 0x1, b"World")])
        assert used == len(data) - 10

    @pytest.mark.parametrize("value", [0, -1])
    def test_max_frames_at_least_one(self, codec, value):
        with pytest.raises(ValueError) as exc:
            codec.FrameParser().feed_some(b"", value)
        assert str(exc.value) == "max_frames must be >= 1"

    @pytest.mark.parametrize("value", [1.5, "2", None])
    def test_max_frames_is_an_integer(self, codec, value):
        with pytest.raises(TypeError) as exc:
            codec.FrameParser().feed_some(b"", value)
        assert str(exc.value) == f"'{type(value).__name__}' object cannot be interpreted as an integer"

    @pytest.mark.parametrize("value", [sys.maxsize + 1, -sys.maxsize - 2, 1 << 100])
    def test_max_frames_beyond_a_c_integer(self, codec, value):
        # The compiled twin takes max_frames as a Py_ssize_t: both refuse the same values.
        with pytest.raises(OverflowError, match="too large to convert to C ssize_t"):
            codec.FrameParser().feed_some(b"", value)

    def test_the_largest_max_frames(self, codec):
        frames, taken = codec.FrameParser().feed_some(build_frame(0x2, b"ab"), sys.maxsize)
        check_frames(frames, [(True, 0x2, b"ab")])
        assert taken == 4

    def test_errors_carry_the_frames_before_them(self, codec):
        parser = codec.FrameParser()
        with pytest.raises(InvalidFrame) as exc:
            parser.feed_some(build_frame(0x1, b"a") + bytes([0x83, 0x00]), 5)
        check_frames(exc.value.frames, [(True, 0x1, b"a")])


@given(specs=st.lists(frame_specs(), max_size=8), data=st.data())
def test_feed_some_matches_feed(codec, specs, data):
    """Random frames, cut anywhere, parsed with random frame limits: the same frames as ``feed``."""
    stream = b"".join(
        codec.encode_frame(opcode, payload, fin=fin, mask=mask, rsv1=rsv[0], rsv2=rsv[1], rsv3=rsv[2])
        for opcode, payload, fin, rsv, mask in specs
    )
    cuts = sorted(data.draw(st.lists(st.integers(min_value=0, max_value=len(stream)), max_size=8)))
    parser = codec.FrameParser()
    frames = []
    pending = b""
    for a, b in itertools.pairwise([0, *cuts, len(stream)]):
        pending += stream[a:b]
        for _ in range(len(stream) + 2):
            got, used = parser.feed_some(pending, data.draw(st.integers(min_value=1, max_value=4)))
            assert 0 <= used <= len(pending)
            frames += got
            pending = pending[used:]
            if not pending or not got:
                break
    assert pending == b""
    assert frames == codec.FrameParser().feed(stream)
