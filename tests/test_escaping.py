"""escaping.escape: peer text made safe for a log line or a terminal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastws.escaping import escape


class TestEscape:
    @pytest.mark.parametrize(
        ("text", "shown"),
        [
            ("a\rb", "a\\rb"),
            ("a\nb", "a\\nb"),
            ("a\tb", "a\\tb"),
            ("\x1b[2J", "\\x1b[2J"),
            ("\x00", "\\x00"),
            ("\x07\x7f", "\\x07\\x7f"),
            ("\x85\x9b", "\\x85\\x9b"),  # C1: NEL and the one-character CSI
            ("a\u202eb\u2066c", "a\\u202eb\\u2066c"),  # bidi override and isolate
            ("\u2028\u2029", "\\u2028\\u2029"),  # line and paragraph separators
            ("\ud800", "\\ud800"),  # a lone surrogate
        ],
    )
    def test_unsafe_characters(self, text: str, shown: str) -> None:
        assert escape(text) == shown

    @pytest.mark.parametrize(
        "text", ["", "plain", "déjà vu", "天地 😀", "quotes \" and ' and \\ stay", "a\u00a0b"]
    )
    def test_safe_text_is_returned_as_it_is(self, text: str) -> None:
        assert escape(text) == text

    @given(st.text())
    def test_no_control_character_survives(self, text: str) -> None:
        escaped = escape(text)
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in escaped)
        assert not any(c in escaped for c in "\u061c\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e")
        escaped.encode("utf-8")  # raises on a lone surrogate, which no terminal can encode

    @given(st.text())
    def test_idempotent(self, text: str) -> None:
        assert escape(escape(text)) == escape(text)
