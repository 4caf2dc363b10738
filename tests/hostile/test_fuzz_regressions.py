"""Regression tests for what the fuzzing harnesses (``fuzzing/``) found.

Each test names the harness and the smallest input that showed the bug,
states the rule that was broken, and checks the behaviour the contract
asks for. Everything here runs in the normal suite, on both codec twins
(the codec through the ``codec`` fixture, the layers above it in the two
CI passes).
"""

from __future__ import annotations

import pytest

from fastws.exceptions import InvalidHTTPMessage
from fastws.http11 import RequestParser, ResponseParser


def _verdict(parser_class: type, pieces: list[bytes], **limits: int) -> tuple[int, str]:
    parser = parser_class(**limits)
    with pytest.raises(InvalidHTTPMessage) as info:
        for piece in pieces:
            parser.feed(piece)
    return info.value.status, info.value.detail


class TestHeadParserCutPoints:
    """fuzz_handshake.py: a line over its limit that ends with a bare LF.

    Found: ``RequestParser(max_line=0).feed(b"&\\n")`` answered 400 ("line
    does not end with CRLF") but the same bytes in two reads, ``b"&"`` then
    ``b"\\n"``, answered 414: the verdict depended on how TCP cut the
    request. The length limit is on the line's content, so both must be
    414 (431 for a header line), whatever the cut.
    """

    @pytest.mark.parametrize("pieces", [[b"&\n"], [b"&", b"\n"]])
    def test_request_line(self, pieces: list[bytes]) -> None:
        assert _verdict(RequestParser, pieces, max_line=0) == (414, "request line longer than 0 bytes")

    @pytest.mark.parametrize("pieces", [[b"GET / HTTP/1.1\r\nab:c\n"], [b"GET / HTTP/1.1\r\nab:c", b"\n"]])
    def test_header_line(self, pieces: list[bytes]) -> None:
        assert _verdict(RequestParser, pieces, max_header_line=3) == (431, "header line longer than 3 bytes")

    @pytest.mark.parametrize("pieces", [[b"x" * 8193 + b"\n"], [b"x" * 8193, b"\n"]])
    def test_default_limit(self, pieces: list[bytes]) -> None:
        assert _verdict(RequestParser, pieces) == (414, "request line longer than 8192 bytes")

    @pytest.mark.parametrize("pieces", [[b"HTTP/1.1 101 ab\n"], [b"HTTP/1.1 101 ab", b"\n"]])
    def test_status_line(self, pieces: list[bytes]) -> None:
        assert _verdict(ResponseParser, pieces, max_line=4) == (400, "status line longer than 4 bytes")

    def test_bare_lf_within_the_limit_is_still_refused(self) -> None:
        assert _verdict(RequestParser, [b"GET / HTTP/1.1\n"]) == (400, "line does not end with CRLF")
