"""UTF-8 validation: ``validate_utf8`` and the incremental ``Utf8Validator``.

RFC 6455 section 8.1: "When an endpoint is to interpret a byte stream as
UTF-8 but finds that the byte stream is not, in fact, a valid UTF-8 stream,
that endpoint MUST _Fail the WebSocket Connection_." Validity is RFC 3629's,
which CPython's strict decoder implements: it is the oracle here.

Fail-fast (Autobahn 6.4.x) needs more than the decoder: CPython's incremental
decoder accepts ``ED A0`` (a surrogate prefix) until the third byte. So the
tests use an explicit oracle (``vectors.viable``): a prefix is viable when some
valid UTF-8 string starts with it, and a validator must answer False at
exactly the first byte that makes the input not viable.
"""

from __future__ import annotations

import array
import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vectors import KUHN_INVALID, KUHN_VALID, decodes, first_failure, pending_oracle, viable

C_CONTIGUOUS_MESSAGE = "a C-contiguous bytes-like object is required, not '{}'"


def check_chunks(codec, chunks: list[bytes]) -> None:
    """Feed ``chunks``; each result must be what the oracle predicts."""
    data = b"".join(chunks)
    failure = first_failure(data)
    validator = codec.Utf8Validator()
    end = 0
    for chunk in chunks:
        end += len(chunk)
        expected = failure is None or end <= failure
        result = validator.feed(chunk)
        assert result is expected, (chunks, end, failure)
        assert validator.valid is expected
        if expected:
            assert validator.pending == pending_oracle(data[:end])
    assert validator.finish() is decodes(data)


def check_byte_by_byte(codec, data: bytes) -> None:
    failure = first_failure(data)
    validator = codec.Utf8Validator()
    for index in range(len(data)):
        expected = failure is None or index < failure
        assert validator.feed(data[index : index + 1]) is expected, (data, index, failure)
        assert validator.valid is expected
        if expected:
            assert validator.pending == pending_oracle(data[: index + 1]), (data, index)
    assert validator.finish() is decodes(data)


class TestOracle:
    """The oracle itself, on cases whose answers RFC 3629 spells out."""

    @pytest.mark.parametrize(
        ("prefix", "expected"),
        [
            (b"", True),
            (b"\xc2", True),
            (b"\xc1", False),  # overlong 2-byte lead
            (b"\xe0\xa0", True),
            (b"\xe0\x9f", False),  # overlong 3-byte
            (b"\xed\x9f", True),
            (b"\xed\xa0", False),  # surrogate
            (b"\xf0\x90\x80", True),
            (b"\xf0\x8f", False),  # overlong 4-byte
            (b"\xf4\x8f\xbf", True),
            (b"\xf4\x90", False),  # above U+10FFFF
            (b"\xf5", False),
            (b"\xff", False),
            (b"\x80", False),
            (b"a\xe2\x82", True),
            (b"\xe2\x82a", False),
        ],
    )
    def test_viable(self, prefix, expected):
        assert viable(prefix) is expected

    def test_first_failure(self):
        assert first_failure(b"abc") is None
        assert first_failure(b"ab\xed\xa0\x80") == 3
        assert first_failure(b"\xf4\x90\x80\x80") == 1
        assert first_failure(b"\xf5") == 0
        assert first_failure(b"\xe2\x82a") == 2
        assert first_failure(b"\xe2\x82") is None

    def test_vectors_agree_with_decoder(self):
        for name, data in KUHN_VALID.items():
            assert decodes(data), name
        for name, data in KUHN_INVALID.items():
            assert not decodes(data), name


class TestStressTest:
    """Markus Kuhn's UTF-8 decoder stress test (Autobahn cases 6.x)."""

    @pytest.mark.parametrize("name", sorted(KUHN_VALID))
    def test_valid(self, codec, name):
        data = KUHN_VALID[name]
        assert codec.validate_utf8(data) is True
        validator = codec.Utf8Validator()
        assert validator.feed(data) is True
        assert validator.pending == 0
        assert validator.finish() is True
        check_byte_by_byte(codec, data)

    @pytest.mark.parametrize("name", sorted(KUHN_INVALID))
    def test_invalid(self, codec, name):
        data = KUHN_INVALID[name]
        assert codec.validate_utf8(data) is False
        validator = codec.Utf8Validator()
        assert validator.feed(data) is (first_failure(data) is None)
        assert validator.finish() is False
        check_byte_by_byte(codec, data)

    @pytest.mark.parametrize("name", sorted(KUHN_INVALID))
    def test_invalid_after_valid_text(self, codec, name):
        # The same sequences after a valid prefix that fills a SIMD block.
        prefix = ("x" * 29 + "\u00e9\u4e2d\U0001f600").encode()
        data = prefix + KUHN_INVALID[name]
        assert codec.validate_utf8(data) is False
        check_byte_by_byte(codec, data)

    @pytest.mark.parametrize("name", sorted(KUHN_INVALID))
    def test_every_two_piece_cut(self, codec, name):
        data = KUHN_INVALID[name]
        for cut in range(len(data) + 1):
            check_chunks(codec, [data[:cut], data[cut:]])

    def test_all_lone_bytes(self, codec):
        for byte in range(256):
            data = bytes([byte])
            assert codec.validate_utf8(data) is (byte < 0x80), byte
            validator = codec.Utf8Validator()
            assert validator.feed(data) is viable(data), byte
            assert validator.finish() is (byte < 0x80), byte

    def test_all_two_byte_sequences(self, codec):
        # Every pair after a lead byte (C0..FF) and after two stray
        # continuation bytes: covers each lead byte's second-byte range.
        for lead in (0x80, 0xBF, *range(0xC0, 0x100)):
            for second in range(256):
                data = bytes([lead, second])
                assert codec.validate_utf8(data) is decodes(data), data
                validator = codec.Utf8Validator()
                validator.feed(data[:1])
                assert validator.feed(data[1:]) is viable(data), data


# Valid texts with every sequence length, for the incremental tests.
TEXTS = [
    "",
    "Hello",
    "\u03ba\u1f79\u03c3\u03bc\u03b5",  # kosme
    "a\u00e9\u4e2d\U0001f600z",
    "\u0080\u07ff\u0800\ud7ff\ue000\ufffd\uffff\U00010000\U0010ffff",
    "\U0001f600" * 5,
    "\u4e2d\u6587" * 4 + "ok",
]


class TestIncremental:
    """Valid text cut anywhere stays valid; ``pending`` tracks open sequences."""

    @pytest.mark.parametrize("text", TEXTS)
    def test_two_pieces(self, codec, text):
        data = text.encode()
        for cut in range(len(data) + 1):
            validator = codec.Utf8Validator()
            assert validator.feed(data[:cut]) is True
            assert validator.pending == pending_oracle(data[:cut])
            assert validator.feed(data[cut:]) is True
            assert validator.pending == 0
            assert validator.finish() is True

    @pytest.mark.parametrize("text", TEXTS)
    def test_three_pieces(self, codec, text):
        data = text.encode()
        for first in range(len(data) + 1):
            for second in range(first, len(data) + 1):
                validator = codec.Utf8Validator()
                assert validator.feed(data[:first]) is True
                assert validator.feed(data[first:second]) is True
                assert validator.pending == pending_oracle(data[:second])
                assert validator.feed(data[second:]) is True
                assert validator.finish() is True

    @pytest.mark.parametrize("text", TEXTS)
    def test_byte_by_byte(self, codec, text):
        check_byte_by_byte(codec, text.encode())

    def test_pending_and_finish(self, codec):
        validator = codec.Utf8Validator()
        assert validator.pending == 0
        assert validator.finish() is True  # nothing fed is valid (empty) text
        assert validator.feed(b"\xe2") is True
        assert validator.pending == 1
        assert validator.finish() is False  # a sequence is left open
        assert validator.feed(b"\x82") is True
        assert validator.pending == 2
        assert validator.feed(b"\xac") is True  # U+20AC EURO SIGN
        assert validator.pending == 0
        assert validator.finish() is True
        assert validator.feed(b"\xf0\x9f\x98") is True
        assert validator.pending == 3
        assert validator.feed(b"") is True
        assert validator.pending == 3
        assert validator.feed(b"\x80x") is True
        assert validator.pending == 0
        assert validator.valid is True
        assert validator.finish() is True

    def test_empty_feeds(self, codec):
        validator = codec.Utf8Validator()
        for _ in range(3):
            assert validator.feed(b"") is True
        assert validator.valid is True
        assert validator.finish() is True


class TestStickyAndReset:
    """Once invalid, always invalid until ``reset``."""

    @pytest.mark.parametrize("bad", [b"\xff", b"\xed\xa0", b"\xc0", b"\x80", b"\xf4\x90"])
    def test_sticky(self, codec, bad):
        validator = codec.Utf8Validator()
        assert validator.feed(b"ok") is True
        assert validator.feed(bad) is False
        assert validator.valid is False
        # Nothing fed later can make the stream valid again.
        for more in (b"", b"a", b"\x80", b"\xbf\xbf", "\u00e9".encode()):
            assert validator.feed(more) is False
            assert validator.valid is False
        assert validator.finish() is False
        assert validator.finish() is False
        assert validator.valid is False

    def test_reset_after_invalid(self, codec):
        validator = codec.Utf8Validator()
        assert validator.feed(b"\xff") is False
        validator.reset()
        assert validator.valid is True
        assert validator.pending == 0
        assert validator.feed("\u00e9".encode()) is True
        assert validator.finish() is True

    def test_reset_drops_open_sequence(self, codec):
        validator = codec.Utf8Validator()
        assert validator.feed(b"\xf0\x9f") is True
        assert validator.pending == 2
        validator.reset()
        assert validator.pending == 0
        assert validator.finish() is True
        # The continuation bytes of the dropped sequence are now unexpected.
        assert validator.feed(b"\x98\x80") is False

    def test_validators_are_independent(self, codec):
        first, second = codec.Utf8Validator(), codec.Utf8Validator()
        assert first.feed(b"\xe2\x82") is True
        assert second.feed(b"\xff") is False
        assert first.feed(b"\xac") is True
        assert first.finish() is True
        assert second.valid is False


class TestBuffers:
    """Any C-contiguous bytes-like input; exact TypeError messages otherwise."""

    @staticmethod
    def buffers(data: bytes):
        yield bytes(data)
        yield bytearray(data)
        yield memoryview(data)
        padded = b"\x00\x00\x00" + data
        yield memoryview(padded)[3:]
        yield array.array("B", data)

    @pytest.mark.parametrize(
        "data", [b"", "\u00e9\u4e2d\U0001f600".encode() * 3, b"abc\xff", b"\xed\xa0\x80"]
    )
    def test_buffer_types(self, codec, data):
        for buffer in self.buffers(data):
            assert codec.validate_utf8(buffer) is decodes(data), type(buffer)
            validator = codec.Utf8Validator()
            validator.feed(buffer)
            assert validator.finish() is decodes(data), type(buffer)

    def test_two_dimensional_view(self, codec):
        data = ("\u00e9" * 12).encode()  # 24 bytes
        view = memoryview(bytearray(data)).cast("B", (4, 6))
        assert codec.validate_utf8(view) is True
        validator = codec.Utf8Validator()
        assert validator.feed(view) is True
        assert validator.finish() is True

    @pytest.mark.parametrize(
        ("value", "type_name"),
        [
            ("text", "str"),
            (None, "NoneType"),
            (12, "int"),
            (memoryview(b"abcdef")[::2], "memoryview"),
        ],
    )
    def test_type_errors(self, codec, value, type_name):
        message = C_CONTIGUOUS_MESSAGE.format(type_name)
        with pytest.raises(TypeError) as exc:
            codec.validate_utf8(value)
        assert str(exc.value) == message
        validator = codec.Utf8Validator()
        with pytest.raises(TypeError) as exc:
            validator.feed(value)
        assert str(exc.value) == message


# Bases of every sequence length, each well over 256 bytes.
LONG_BASES = {
    "ascii": "The quick brown fox jumps over the lazy dog. " * 8,
    "latin": "\u00e9t\u00e9 \u00e0 la pla\u00e7e " * 20,
    "cjk": "\u4e2d\u6587\u6e2c\u8a66" * 30,
    "emoji": "\U0001f600\U0001f680\U0010fffd" * 25,
}
# Around the blocks a vectorised validator works in (16, 32, 64 bytes).
BOUNDARY_POSITIONS = [
    0,
    1,
    2,
    3,
    7,
    8,
    9,
    15,
    16,
    17,
    31,
    32,
    33,
    47,
    48,
    49,
    63,
    64,
    65,
    95,
    96,
    97,
    127,
    128,
    129,
    255,
    256,
    257,
]
# Replacement bytes and inserted sequences that break (or may keep) validity.
BAD_BYTES = [0xFF, 0x80, 0xC0, 0xF5, 0xE2]
BAD_INSERTS = [b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\xc3", b"\xc0\xaf", b"\xbf"]


class TestLongText:
    """A bad byte near SIMD block boundaries in long ASCII/Latin/CJK/emoji text."""

    @pytest.mark.parametrize("base", sorted(LONG_BASES))
    def test_valid_prefixes(self, codec, base):
        data = LONG_BASES[base].encode()
        assert codec.validate_utf8(data) is True
        for end in range(len(data) + 1):
            assert codec.validate_utf8(data[:end]) is decodes(data[:end]), end
            assert codec.validate_utf8(data[end:]) is decodes(data[end:]), end

    @pytest.mark.parametrize("base", sorted(LONG_BASES))
    @pytest.mark.parametrize("position", BOUNDARY_POSITIONS)
    def test_replaced_byte(self, codec, base, position):
        original = LONG_BASES[base].encode()
        for bad in BAD_BYTES:
            data = bytearray(original)
            data[position] = bad
            data = bytes(data)
            expected = decodes(data)
            assert codec.validate_utf8(data) is expected, (bad, position)
            for size in (1, 16, 32, 64, 100):
                check_chunks(codec, [data[i : i + size] for i in range(0, len(data), size)])

    @pytest.mark.parametrize("base", sorted(LONG_BASES))
    @pytest.mark.parametrize("position", BOUNDARY_POSITIONS)
    def test_inserted_sequence(self, codec, base, position):
        original = LONG_BASES[base].encode()
        # Insert at the character boundary at or after the position.
        while position < len(original) and 0x80 <= original[position] < 0xC0:
            position += 1
        for bad in BAD_INSERTS:
            data = original[:position] + bad + original[position:]
            assert codec.validate_utf8(data) is False, (bad, position)
            validator = codec.Utf8Validator()
            validator.feed(data)
            assert validator.finish() is False
            for size in (1, 32, 64):
                check_chunks(codec, [data[i : i + size] for i in range(0, len(data), size)])


class TestProperties:
    """Random inputs against the decoder and the fail-fast oracle."""

    @given(st.text())
    def test_text_is_valid(self, codec, text):
        # Lone surrogates in the drawn text cannot be encoded; "replace"
        # turns them into "?", so the bytes are always valid UTF-8.
        data = text.encode("utf-8", "replace")
        assert codec.validate_utf8(data) is True
        validator = codec.Utf8Validator()
        assert validator.feed(data) is True
        assert validator.finish() is True

    @given(st.binary(max_size=64))
    def test_random_bytes(self, codec, data):
        assert codec.validate_utf8(data) is decodes(data)
        check_byte_by_byte(codec, data)

    @given(st.text(min_size=1, max_size=60), st.data())
    def test_mutated_text(self, codec, text, draw):
        data = bytearray(text.encode("utf-8", "replace"))
        position = draw.draw(st.integers(min_value=0, max_value=len(data) - 1), label="position")
        data[position] = draw.draw(st.integers(min_value=0x80, max_value=0xFF), label="byte")
        data = bytes(data)
        assert codec.validate_utf8(data) is decodes(data)
        check_byte_by_byte(codec, data)

    @given(st.binary(max_size=80), st.lists(st.integers(min_value=0, max_value=80), max_size=6))
    def test_random_chunks(self, codec, data, cuts):
        bounds = [0, *sorted(min(cut, len(data)) for cut in cuts), len(data)]
        check_chunks(codec, [data[a:b] for a, b in itertools.pairwise(bounds)])

    def test_seeded_random_text(self, codec):
        # Larger inputs than hypothesis draws by default, mostly multi-byte.
        rng = random.Random(6455)
        alphabet = "a\u00e9\u0800\u4e2d\ufffd\U00010000\U0001f600\U0010ffff"
        for _ in range(30):
            data = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 400))).encode()
            assert codec.validate_utf8(data) is True
            position = rng.randrange(len(data))
            broken = data[:position] + bytes([rng.randrange(0x80, 0x100)]) + data[position + 1 :]
            assert codec.validate_utf8(broken) is decodes(broken)
            size = rng.choice((1, 7, 16, 33, 64))
            check_chunks(codec, [broken[i : i + size] for i in range(0, len(broken), size)])
