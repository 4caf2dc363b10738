"""frames.Close: the code and reason of a close frame as a value."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from fastws import Close


class TestClose:
    def test_value_semantics(self) -> None:
        assert Close(1000, "bye") == Close(1000, "bye") != Close(1000, "")
        assert Close(1000) == Close(1000, "")
        assert hash(Close(1001, "x")) == hash(Close(1001, "x"))
        with pytest.raises(dataclasses.FrozenInstanceError):
            Close(1000).code = 1001  # type: ignore[misc]
        assert pickle.loads(pickle.dumps(Close(4000, "r"))) == Close(4000, "r")

    @pytest.mark.parametrize(
        ("close", "text"),
        [
            (Close(1000, "bye"), "1000 (normal closure) bye"),
            (Close(1001), "1001 (going away)"),
            (Close(1005), "1005 (no status rcvd)"),
            (Close(1011, "oops"), "1011 (internal error) oops"),
            (Close(3000), "3000 (registered)"),
            (Close(4999, "app"), "4999 (private use) app"),
            (Close(2999), "2999 (unknown)"),
        ],
    )
    def test_str(self, close: Close, text: str) -> None:
        assert str(close) == text

    def test_str_escapes_the_reason_and_repr_quotes_it(self) -> None:
        close = Close(1000, "a\r\nb\x1b[2J")
        assert str(close) == "1000 (normal closure) a\\r\\nb\\x1b[2J"
        assert repr(close) == "Close(code=1000, reason='a\\r\\nb\\x1b[2J')"
        assert close.reason == "a\r\nb\x1b[2J"
