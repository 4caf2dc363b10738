"""``encode_frame_header``: a frame's header (and key) without its payload.

RFC 6455 section 5.2. Expected bytes come from the RFC's examples
(``vectors.py``) and from a header writer below written from the section 5.2
diagram, never from the code under test. A header followed by the payload
(masked by :func:`mask_oracle` when there is a key) must parse back to the
frame.
"""

from __future__ import annotations

import pytest

from vectors import (
    BINARY_64K,
    BINARY_64K_PAYLOAD,
    BINARY_256,
    BINARY_256_PAYLOAD,
    MASK_KEY,
    MASKED_HELLO,
    MASKED_PONG_HELLO,
    UNMASKED_HELLO,
    UNMASKED_PING_HELLO,
    mask_oracle,
)

OPCODES = (0x0, 0x1, 0x2, 0x8, 0x9, 0xA)
RESERVED_OPCODES = (0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF, 16, 255, -1, 2**70)


def rfc_header(
    opcode: int, length: int, *, fin: bool = True, rsv: int = 0, key: bytes | None = None
) -> bytes:
    """Section 5.2: FIN, RSV1-3, opcode; MASK, 7-bit length, then 16 or 64 bits; key."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    mask_bit = 0x80 if key is not None else 0
    if length <= 125:
        out = bytes([first, mask_bit | length])
    elif length <= 0xFFFF:
        out = bytes([first, mask_bit | 126, length >> 8, length & 0xFF])
    else:
        out = bytes([first, mask_bit | 127]) + bytes((length >> (8 * i)) & 0xFF for i in range(7, -1, -1))
    return out + (key or b"")


class TestRFCExamples:
    """Section 5.7: the RFC's example frames, header by header."""

    def test_unmasked_hello(self, codec):
        assert codec.encode_frame_header(0x1, 5) == UNMASKED_HELLO[:2]

    def test_masked_hello(self, codec):
        header = codec.encode_frame_header(0x1, 5, mask=MASK_KEY)
        assert header == MASKED_HELLO[:6]
        assert header + codec.apply_mask(b"Hello", MASK_KEY) == MASKED_HELLO

    def test_fragmented_hello(self, codec):
        assert codec.encode_frame_header(0x1, 3, fin=False) == bytes([0x01, 0x03])
        assert codec.encode_frame_header(0x0, 2) == bytes([0x80, 0x02])

    def test_control_frames(self, codec):
        assert codec.encode_frame_header(0x9, 5) == UNMASKED_PING_HELLO[:2]
        assert codec.encode_frame_header(0xA, 5, mask=MASK_KEY) == MASKED_PONG_HELLO[:6]

    def test_extended_lengths(self, codec):
        assert codec.encode_frame_header(0x2, 256) + BINARY_256_PAYLOAD == BINARY_256
        assert codec.encode_frame_header(0x2, 65536) + BINARY_64K_PAYLOAD == BINARY_64K


class TestLayout:
    """Section 5.2: the shortest length encoding, bits where the diagram puts them."""

    @pytest.mark.parametrize(
        "length", [0, 1, 125, 126, 127, 255, 256, 65535, 65536, 2**32, 2**32 + 1, 2**63 - 1]
    )
    @pytest.mark.parametrize("key", [None, MASK_KEY, bytes(4), b"\xff" * 4])
    def test_lengths_and_keys(self, codec, length, key):
        assert codec.encode_frame_header(0x2, length, mask=key) == rfc_header(0x2, length, key=key)

    @pytest.mark.parametrize("opcode", OPCODES)
    @pytest.mark.parametrize("rsv", range(8))
    def test_flags(self, codec, opcode, rsv):
        kwargs = {"rsv1": bool(rsv & 4), "rsv2": bool(rsv & 2), "rsv3": bool(rsv & 1)}
        assert codec.encode_frame_header(opcode, 7, **kwargs) == rfc_header(opcode, 7, rsv=rsv)
        if opcode < 8:
            assert codec.encode_frame_header(opcode, 7, fin=False, **kwargs) == rfc_header(
                opcode, 7, fin=False, rsv=rsv
            )

    def test_key_types(self, codec):
        for key in (MASK_KEY, bytearray(MASK_KEY), memoryview(MASK_KEY), memoryview(b"x" + MASK_KEY)[1:]):
            assert codec.encode_frame_header(0x1, 5, mask=key) == MASKED_HELLO[:6]

    def test_integer_like_arguments(self, codec):
        class Index:
            def __init__(self, value: int) -> None:
                self.value = value

            def __index__(self) -> int:
                return self.value

        assert codec.encode_frame_header(Index(1), Index(5)) == UNMASKED_HELLO[:2]
        assert codec.encode_frame_header(True, 300) == rfc_header(0x1, 300)

    def test_returns_bytes(self, codec):
        assert type(codec.encode_frame_header(0x2, 70000, mask=MASK_KEY)) is bytes


class TestSameAsEncodeFrame:
    """Header plus payload is exactly what ``encode_frame`` writes."""

    @pytest.mark.parametrize("length", [0, 3, 125, 126, 1000, 65535, 65536, 70001])
    @pytest.mark.parametrize("key", [None, MASK_KEY])
    def test_concatenation(self, codec, length, key):
        payload = bytes((i * 13 + 5) & 0xFF for i in range(length))
        header = codec.encode_frame_header(0x2, length, fin=False, mask=key, rsv1=True)
        body = payload if key is None else mask_oracle(payload, key)
        assert header + body == codec.encode_frame(0x2, payload, fin=False, mask=key, rsv1=True)
        frames = codec.FrameParser().feed(header + body)
        assert [(f.opcode, f.payload, f.fin, f.rsv1) for f in frames] == [(0x2, payload, False, True)]

    def test_masked_in_pieces(self, codec):
        # The caller may mask a large payload piece by piece (apply_mask's
        # offset) and send the pieces after the header.
        payload = bytes(range(256)) * 40
        header = codec.encode_frame_header(0x2, len(payload), mask=MASK_KEY)
        pieces = [codec.apply_mask(payload[i : i + 999], MASK_KEY, i) for i in range(0, len(payload), 999)]
        wire = header + b"".join(pieces)
        assert wire == rfc_header(0x2, len(payload), key=MASK_KEY) + mask_oracle(payload, MASK_KEY)
        frames = codec.FrameParser(require_mask=True).feed(wire)
        assert [f.payload for f in frames] == [payload]


class TestErrors:
    """The checks and messages of ``encode_frame``, plus the length's range."""

    @pytest.mark.parametrize("opcode", RESERVED_OPCODES)
    def test_invalid_opcode(self, codec, opcode):
        with pytest.raises(ValueError, match=rf"^invalid opcode {opcode}$"):
            codec.encode_frame_header(opcode, 0)

    def test_opcode_checked_first(self, codec):
        with pytest.raises(ValueError, match=r"^invalid opcode 3$"):
            codec.encode_frame_header(3, -1, fin=False, mask=b"x")

    @pytest.mark.parametrize("length", [-1, -(2**63), -(2**70)])
    def test_negative_length(self, codec, length):
        with pytest.raises(ValueError, match=r"^length must be >= 0$"):
            codec.encode_frame_header(0x2, length)

    @pytest.mark.parametrize("length", [2**63, 2**64 - 1, 2**64, 2**100])
    def test_length_over_63_bits(self, codec, length):
        # Section 5.2: the 64-bit length's "most significant bit MUST be 0".
        with pytest.raises(ValueError, match=r"^length must be < 2\*\*63$"):
            codec.encode_frame_header(0x2, length)

    @pytest.mark.parametrize("length", [1.0, "5", None, b"\x05"])
    def test_length_not_an_integer(self, codec, length):
        with pytest.raises(TypeError):
            codec.encode_frame_header(0x2, length)

    @pytest.mark.parametrize("opcode", [0x8, 0x9, 0xA])
    def test_control_frames(self, codec, opcode):
        # Section 5.5: "All control frames MUST have a payload length of 125
        # bytes or less and MUST NOT be fragmented."
        assert codec.encode_frame_header(opcode, 125) == rfc_header(opcode, 125)
        with pytest.raises(ValueError, match=r"^fragmented control frame$"):
            codec.encode_frame_header(opcode, 0, fin=False)
        with pytest.raises(ValueError, match=r"^control frame too long: 126 bytes$"):
            codec.encode_frame_header(opcode, 126)
        with pytest.raises(ValueError, match=r"^control frame too long: 65536 bytes$"):
            codec.encode_frame_header(opcode, 65536, mask=b"bad")

    @pytest.mark.parametrize("key", [b"", b"abc", b"abcde", bytearray(8)])
    def test_mask_length(self, codec, key):
        with pytest.raises(ValueError, match=rf"^mask must be exactly 4 bytes, got {len(key)}$"):
            codec.encode_frame_header(0x2, 5, mask=key)

    @pytest.mark.parametrize("key", [True, False, 1234, "abcd"])
    def test_mask_not_bytes(self, codec, key):
        # The caller masks the payload itself, so it must hold the key: no
        # mask=True here.
        name = type(key).__name__
        with pytest.raises(TypeError, match=rf"^a C-contiguous bytes-like object is required, not '{name}'$"):
            codec.encode_frame_header(0x2, 5, mask=key)

    def test_keyword_only(self, codec):
        with pytest.raises(TypeError):
            codec.encode_frame_header(0x2, 5, True)


@pytest.mark.c_extension
def test_differential(pure_codec, compiled_codec):
    """Both twins: same bytes, or the same exception type and message."""

    def outcome(twin, *args, **kwargs):
        try:
            return twin.encode_frame_header(*args, **kwargs)
        except Exception as exc:
            return (type(exc), str(exc))

    for opcode in (*OPCODES, 3, 16, -1):
        for length in (0, 125, 126, 65535, 65536, 2**63 - 1, 2**63, -1):
            for fin in (True, False):
                for mask in (None, MASK_KEY, b"abc", True):
                    got = outcome(compiled_codec, opcode, length, fin=fin, mask=mask, rsv2=True)
                    assert got == outcome(pure_codec, opcode, length, fin=fin, mask=mask, rsv2=True)
