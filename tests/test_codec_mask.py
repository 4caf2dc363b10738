"""Masking: ``apply_mask`` and ``apply_mask_inplace`` (RFC 6455 section 5.3).

Section 5.3: "Octet i of the transformed data ("transformed-octet-i") is the
XOR of octet i of the original data ("original-octet-i") with octet at index
i modulo 4 of the masking key ("masking-key-octet-j")". ``offset`` shifts i,
so a payload that arrives in pieces can be unmasked piece by piece.

The oracle is that sentence written as a byte loop; for large buffers a
per-lane ``bytes.translate`` does the same job faster (and is checked against
the loop). Neither shares code with the twins.
"""

from __future__ import annotations

import array
import itertools
import operator
import random
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastws.constants import Opcode
from vectors import mask_oracle


class IndexOnly:
    """An integer-like object that is not an int: only ``__index__``."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


MASKS = [
    bytes([0x37, 0xFA, 0x21, 0x3D]),
    bytes([0xFF, 0x00, 0xAA, 0x55]),
    bytes([0x01, 0x02, 0x04, 0x80]),
]

# Around the widths a SIMD kernel works in (8, 16, 32, 64 bytes) and beyond.
SIMD_SIZES = [15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 4095, 4096, 4097]
LARGE_SIZES = [65537, (1 << 20) + 3]
OFFSETS = range(8)
ODD_OFFSETS = [
    -1,
    -2,
    -3,
    -4,
    -5,
    -7,
    -(2**31),
    2**31 - 1,
    2**31,
    2**32 + 1,
    2**63 - 1,
    2**63,
    2**64 + 3,
    -(2**63),
    -(2**64) - 1,
    2**100 + 2,
    -(2**100) - 3,
]

# Integers that are not exact ints: operator.index() turns them into one.
INTEGER_LIKE_OFFSETS = [True, False, Opcode.TEXT, IndexOnly(7), IndexOnly(-(2**70) - 1), IndexOnly(2**64 + 2)]

C_CONTIGUOUS_MESSAGE = "a C-contiguous bytes-like object is required, not '{}'"
WRITABLE_MESSAGE = "a writable bytes-like object is required, not '{}'"


def mask_oracle_fast(data: bytes, mask: bytes, offset: int = 0) -> bytes:
    """The same transformation, one ``translate`` per lane of the 4-byte key."""
    out = bytearray(data)
    for lane in range(4):
        key = mask[(lane + offset) % 4]
        out[lane::4] = bytes(data[lane::4]).translate(bytes(b ^ key for b in range(256)))
    return bytes(out)


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(size * 1000 + seed).randbytes(size)


def test_oracles_agree() -> None:
    for size in [*range(40), 257, 1001]:
        data = payload(size)
        for offset in (0, 1, 2, 3, 5, -1, 2**70 + 1):
            for mask in MASKS:
                assert mask_oracle_fast(data, mask, offset) == mask_oracle(data, mask, offset)


class TestSizesAndOffsets:
    """Every size 0..64 and around SIMD widths, every offset 0..7."""

    @pytest.mark.parametrize("size", sorted({*range(65), *SIMD_SIZES}))
    def test_apply_mask(self, codec, size):
        data = payload(size)
        for mask in MASKS:
            for offset in OFFSETS:
                result = codec.apply_mask(data, mask, offset)
                assert type(result) is bytes
                assert result == mask_oracle(data, mask, offset), (mask, offset)
        # The default offset is 0.
        assert codec.apply_mask(data, MASKS[0]) == mask_oracle(data, MASKS[0], 0)

    @pytest.mark.parametrize("size", sorted({*range(65), *SIMD_SIZES}))
    def test_apply_mask_inplace(self, codec, size):
        data = payload(size, seed=1)
        for mask in MASKS:
            for offset in OFFSETS:
                buffer = bytearray(data)
                assert codec.apply_mask_inplace(buffer, mask, offset) is None
                assert buffer == mask_oracle(data, mask, offset), (mask, offset)
        buffer = bytearray(data)
        codec.apply_mask_inplace(buffer, MASKS[1])
        assert buffer == mask_oracle(data, MASKS[1], 0)

    @pytest.mark.parametrize("size", LARGE_SIZES)
    def test_large(self, codec, size):
        data = payload(size)
        mask = MASKS[0]
        for offset in OFFSETS:
            expected = mask_oracle_fast(data, mask, offset)
            assert codec.apply_mask(data, mask, offset) == expected, offset
            buffer = bytearray(data)
            codec.apply_mask_inplace(buffer, mask, offset)
            assert buffer == expected, offset

    @pytest.mark.parametrize("offset", [*ODD_OFFSETS, *INTEGER_LIKE_OFFSETS])
    def test_negative_huge_and_integer_like_offsets(self, codec, offset):
        # The contract: "offset may be any integer; the mask starts at
        # mask[offset % 4]" (Python's modulo, so -1 starts at mask[3]), and
        # any integer is anything operator.index() accepts.
        value = operator.index(offset)
        for size in (0, 1, 3, 4, 37, 129, LARGE_SIZES[0]):
            data = payload(size)
            expected = mask_oracle_fast(data, MASKS[0], value)
            assert codec.apply_mask(data, MASKS[0], offset) == expected
            buffer = bytearray(data)
            codec.apply_mask_inplace(buffer, MASKS[0], offset)
            assert buffer == expected

    def test_keyword_arguments(self, codec):
        data = payload(21)
        expected = mask_oracle(data, MASKS[2], 3)
        assert codec.apply_mask(data=data, mask=MASKS[2], offset=3) == expected
        buffer = bytearray(data)
        codec.apply_mask_inplace(buffer=buffer, mask=MASKS[2], offset=3)
        assert buffer == expected

    def test_involution_and_input_untouched(self, codec):
        data = bytearray(payload(100))
        original = bytes(data)
        masked = codec.apply_mask(data, MASKS[0], 2)
        assert data == original
        assert codec.apply_mask(masked, MASKS[0], 2) == original

    @given(
        data=st.binary(max_size=300),
        mask=st.binary(min_size=4, max_size=4),
        offset=st.integers(min_value=-(2**70), max_value=2**70),
    )
    def test_property(self, codec, data, mask, offset):
        expected = mask_oracle(data, mask, offset)
        assert codec.apply_mask(data, mask, offset) == expected
        buffer = bytearray(data)
        codec.apply_mask_inplace(buffer, mask, offset)
        assert buffer == expected


class TestAlignment:
    """Data and mask at every address alignment (SIMD loads must not care)."""

    @pytest.mark.parametrize("size", [0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1000])
    def test_misaligned_data_and_mask(self, codec, size):
        data = payload(size, seed=2)
        for start in range(8):
            backing = bytearray(b"\xee" * start + data + b"\xdd" * 8)
            for mask_start in range(4):
                mask_backing = bytearray(b"\x11" * mask_start + MASKS[0] + b"\x22" * 3)
                mask = memoryview(mask_backing)[mask_start : mask_start + 4]
                view = memoryview(backing)[start : start + size]
                for offset in (0, 1, 3):
                    expected = mask_oracle(data, MASKS[0], offset)
                    assert codec.apply_mask(view, mask, offset) == expected
                    codec.apply_mask_inplace(view, mask, offset)
                    assert backing[start : start + size] == expected
                    # Neighbours untouched.
                    assert backing[:start] == b"\xee" * start
                    assert backing[start + size :] == b"\xdd" * 8
                    codec.apply_mask_inplace(view, mask, offset)
                    assert backing[start : start + size] == data


class TestBufferTypes:
    """Any C-contiguous bytes-like object: its bytes are masked as a flat run."""

    @staticmethod
    def readable_buffers(data: bytes):
        yield "bytes", data
        yield "bytearray", bytearray(data)
        yield "memoryview-bytes", memoryview(data)
        yield "memoryview-bytearray", memoryview(bytearray(data))
        padded = bytearray(b"\x00\x01\x02" + data + b"\x03")
        yield "memoryview-sliced-odd", memoryview(padded)[3 : 3 + len(data)]
        yield "memoryview-2d", memoryview(bytearray(data)).cast("B", (len(data) // 6, 6))
        yield "array-B", array.array("B", data)
        yield "array-i", array.array("i", data)
        yield "memoryview-cast-I", memoryview(bytearray(data)).cast("I")

    def test_apply_mask(self, codec):
        data = payload(48, seed=3)  # divisible by 4 and 6
        for offset in (0, 1, 2, 3):
            expected = mask_oracle(data, MASKS[0], offset)
            for name, buffer in self.readable_buffers(data):
                assert codec.apply_mask(buffer, MASKS[0], offset) == expected, name

    def test_apply_mask_inplace(self, codec):
        data = payload(48, seed=4)
        for offset in (0, 1, 2, 3):
            expected = mask_oracle(data, MASKS[1], offset)
            for name, buffer in self.readable_buffers(data):
                if name in ("bytes", "memoryview-bytes"):
                    continue
                codec.apply_mask_inplace(buffer, MASKS[1], offset)
                assert memoryview(buffer).tobytes() == expected, name

    def test_mask_types(self, codec):
        data = payload(29)
        expected = mask_oracle(data, MASKS[0])
        for mask in (
            MASKS[0],
            bytearray(MASKS[0]),
            memoryview(MASKS[0]),
            array.array("B", MASKS[0]),
            array.array("I", MASKS[0]),
            memoryview(bytearray(MASKS[0])).cast("B", (2, 2)),
        ):
            assert codec.apply_mask(data, mask) == expected, type(mask)
            buffer = bytearray(data)
            codec.apply_mask_inplace(buffer, mask)
            assert buffer == expected, type(mask)

    def test_empty_buffers(self, codec):
        assert codec.apply_mask(b"", MASKS[0]) == b""
        assert codec.apply_mask(memoryview(b""), MASKS[0], 3) == b""
        buffer = bytearray()
        codec.apply_mask_inplace(buffer, MASKS[0], 1)
        assert buffer == b""


class TestErrors:
    """Exact types and messages from the contract."""

    @pytest.mark.parametrize("size", [0, 1, 2, 3, 5, 8, 16])
    def test_mask_length(self, codec, size):
        message = f"mask must be exactly 4 bytes, got {size}"
        with pytest.raises(ValueError) as exc:
            codec.apply_mask(b"abcdef", b"k" * size)
        assert str(exc.value) == message
        with pytest.raises(ValueError) as exc:
            codec.apply_mask_inplace(bytearray(b"abcdef"), bytearray(b"k" * size), 1)
        assert str(exc.value) == message

    def test_mask_length_counts_bytes_not_items(self, codec):
        with pytest.raises(ValueError) as exc:
            codec.apply_mask(b"abc", array.array("H", [1, 2, 3]))
        assert str(exc.value) == "mask must be exactly 4 bytes, got 6"

    @pytest.mark.parametrize(
        ("value", "type_name"),
        [
            ("text", "str"),
            (None, "NoneType"),
            (5, "int"),
            ([1, 2, 3], "list"),
            (memoryview(b"abcdefgh")[::2], "memoryview"),
            (memoryview(bytearray(b"abcdefghijkl"))[::-1], "memoryview"),
        ],
    )
    def test_data_not_contiguous_bytes(self, codec, value, type_name):
        message = C_CONTIGUOUS_MESSAGE.format(type_name)
        with pytest.raises(TypeError) as exc:
            codec.apply_mask(value, MASKS[0])
        assert str(exc.value) == message
        with pytest.raises(TypeError) as exc:
            codec.apply_mask_inplace(value, MASKS[0])
        assert str(exc.value) == message

    @pytest.mark.parametrize(
        ("mask", "type_name"),
        [("abcd", "str"), (None, "NoneType"), (1234, "int"), (memoryview(b"abcdefgh")[::2], "memoryview")],
    )
    def test_mask_not_contiguous_bytes(self, codec, mask, type_name):
        message = C_CONTIGUOUS_MESSAGE.format(type_name)
        with pytest.raises(TypeError) as exc:
            codec.apply_mask(b"data", mask)
        assert str(exc.value) == message
        with pytest.raises(TypeError) as exc:
            codec.apply_mask_inplace(bytearray(b"data"), mask)
        assert str(exc.value) == message

    @pytest.mark.parametrize("step", [2, 3, -1, -2])
    def test_strided_views(self, codec, step):
        # Section 5.3 masks a run of octets; a strided view is not one run,
        # and copying it silently would hide a caller's mistake.
        strided = memoryview(bytearray(range(24)))[::step]
        with pytest.raises(TypeError) as exc:
            codec.apply_mask(strided, MASKS[0])
        assert str(exc.value) == C_CONTIGUOUS_MESSAGE.format("memoryview")
        with pytest.raises(TypeError) as exc:
            codec.apply_mask_inplace(strided, MASKS[0])
        assert str(exc.value) == C_CONTIGUOUS_MESSAGE.format("memoryview")

    @pytest.mark.parametrize(
        ("buffer", "type_name"),
        [
            (b"data", "bytes"),
            (b"", "bytes"),
            (memoryview(b"data"), "memoryview"),
            (memoryview(bytearray(b"data")).toreadonly(), "memoryview"),
        ],
    )
    def test_inplace_read_only(self, codec, buffer, type_name):
        with pytest.raises(TypeError) as exc:
            codec.apply_mask_inplace(buffer, MASKS[0])
        assert str(exc.value) == WRITABLE_MESSAGE.format(type_name)

    @pytest.mark.parametrize("offset", [1.5, "1", None, b"1"])
    def test_offset_not_an_integer(self, codec, offset):
        with pytest.raises(TypeError):
            codec.apply_mask(b"data", MASKS[0], offset)
        with pytest.raises(TypeError):
            codec.apply_mask_inplace(bytearray(b"data"), MASKS[0], offset)

    @pytest.mark.parametrize("size", [8, LARGE_SIZES[0]])
    def test_buffer_held_while_offset_is_read(self, codec, size):
        # The buffer is held from the start of the call (the pure twin's
        # memoryview of it), so an offset whose __index__ resizes it fails,
        # and nothing is masked.
        buffer = bytearray(size)

        class Resizing:
            def __index__(self) -> int:
                buffer.extend(b"xx")
                return 1

        with pytest.raises(BufferError):
            codec.apply_mask_inplace(buffer, MASKS[0], Resizing())
        assert buffer == bytes(size)

    def test_errors_leave_buffer_untouched(self, codec):
        buffer = bytearray(b"unchanged")
        with pytest.raises(ValueError):
            codec.apply_mask_inplace(buffer, b"abc")
        assert buffer == b"unchanged"


class TestPiecewise:
    """Unmasking a payload that arrives in pieces, with the offset carried."""

    @given(data=st.binary(max_size=400), mask=st.binary(min_size=4, max_size=4), cuts=st.data())
    def test_pieces_equal_whole(self, codec, data, mask, cuts):
        points = sorted(
            cuts.draw(st.lists(st.integers(min_value=0, max_value=len(data)), max_size=8), label="cuts")
        )
        bounds = [0, *points, len(data)]
        expected = mask_oracle(data, mask)
        pieces = [codec.apply_mask(data[a:b], mask, a) for a, b in itertools.pairwise(bounds)]
        assert b"".join(pieces) == expected
        buffer = bytearray(data)
        view = memoryview(buffer)
        for a, b in itertools.pairwise(bounds):
            codec.apply_mask_inplace(view[a:b], mask, a)
        assert buffer == expected

    def test_every_cut_around_simd_widths(self, codec):
        data = payload(200, seed=5)
        expected = mask_oracle(data, MASKS[2])
        for cut in range(len(data) + 1):
            head = codec.apply_mask(data[:cut], MASKS[2], 0)
            tail = codec.apply_mask(data[cut:], MASKS[2], cut)
            assert head + tail == expected, cut


class TestThreads:
    """The masking functions are safe to call from several threads at once."""

    def test_concurrent_masking(self, codec):
        size = (2 << 20) + 5
        data = payload(size, seed=6)
        jobs = [(MASKS[i % 3], i) for i in range(4)]
        expected = {job: mask_oracle_fast(data, *job) for job in jobs}
        errors: list[str] = []
        deadline = time.monotonic() + 60

        def work(mask: bytes, offset: int) -> None:
            try:
                own = bytearray(data)
                for _ in range(2):
                    if time.monotonic() > deadline:
                        errors.append("timed out")
                        return
                    if codec.apply_mask(data, mask, offset) != expected[(mask, offset)]:
                        errors.append(f"apply_mask wrong for offset {offset}")
                    codec.apply_mask_inplace(own, mask, offset)
                    codec.apply_mask_inplace(own, mask, offset)
                    if own != data:
                        errors.append(f"apply_mask_inplace wrong for offset {offset}")
            except Exception as exc:  # reported below, the thread must not die silently
                errors.append(repr(exc))

        threads = [threading.Thread(target=work, args=job) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()) + 1)
        assert not any(thread.is_alive() for thread in threads), "masking threads did not finish"
        assert errors == []
        # The shared input was never written to.
        assert data == payload(size, seed=6)
