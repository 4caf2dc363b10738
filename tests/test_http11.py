"""The HTTP/1.1 messages and their bounded, incremental parsers (RFC 9112, RFC 6455 section 4)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastws.exceptions import (
    InvalidHTTPMessage,
    InvalidMessage,
)
from fastws.http11 import Request, RequestParser, ResponseParser
from vectors import RFC_ACCEPT, RFC_REQUEST, RFC_RESPONSE

# An unmasked text frame "Hello" (RFC 6455 section 5.7).
HELLO_FRAME = b"\x81\x05\x48\x65\x6c\x6c\x6f"


def feed_whole(parser: Any, data: bytes) -> tuple[Any, bytes] | None:
    return parser.feed(data)  # type: ignore[no-any-return]


def feed_bytewise(parser: Any, data: bytes) -> tuple[Any, bytes] | None:
    # One byte at a time; once the message is complete, the rest of the
    # input is the leftover.
    for index in range(len(data)):
        result = parser.feed(data[index : index + 1])
        if result is not None:
            message, leftover = result
            return message, leftover + data[index + 1 :]
    return None


FEEDERS = pytest.mark.parametrize("feed", [feed_whole, feed_bytewise], ids=["whole", "bytewise"])


def parse_request(data: bytes) -> Request:
    result = RequestParser().feed(data)
    assert result is not None
    request, leftover = result
    assert leftover == b""
    return request  # type: ignore[no-any-return]


class TestRequestParser:
    """RFC 9112 sections 2-5 applied to the handshake request, with limits."""

    @FEEDERS
    def test_rfc_example(self, feed: Any) -> None:
        result = feed(RequestParser(), RFC_REQUEST)
        assert result is not None
        request, leftover = result
        assert leftover == b""
        assert request.path == "/chat"
        assert request.headers.raw_items() == [
            ("Host", "server.example.com"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Origin", "http://example.com"),
            ("Sec-WebSocket-Protocol", "chat, superchat"),
            ("Sec-WebSocket-Version", "13"),
        ]
        assert request.serialize() == RFC_REQUEST

    @FEEDERS
    def test_leftover(self, feed: Any) -> None:
        masked = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"  # RFC 6455 section 5.7
        result = feed(RequestParser(), RFC_REQUEST + masked)
        assert result is not None
        assert result[1] == masked

    def test_incomplete(self) -> None:
        parser = RequestParser()
        assert parser.feed(RFC_REQUEST[:-1]) is None
        assert parser.buffered == 1  # only the lone CR of the last line
        assert parser.feed(b"") is None
        result = parser.feed(b"\n")
        assert result is not None
        assert parser.done
        with pytest.raises(RuntimeError):
            parser.feed(b"x")

    def test_absolute_form_target(self) -> None:
        data = b"GET http://h/chat?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"
        assert parse_request(data).path == "http://h/chat?x=1"

    def test_later_minor_version_accepted(self) -> None:
        assert parse_request(b"GET / HTTP/1.2\r\nHost: h\r\n\r\n").path == "/"

    def test_obs_text_value_kept(self) -> None:
        request = parse_request(b"GET / HTTP/1.1\r\nX: caf\xe9 \t\r\nY:\r\n\r\n")
        assert request.headers.raw_items() == [("X", "caf\xe9"), ("Y", "")]

    def test_content_length_zero_accepted(self) -> None:
        assert parse_request(b"GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").path == "/"

    @pytest.mark.parametrize(
        ("data", "status", "message"),
        [
            (b"GET /chat HTTP/1.1\nHost: h\r\n\r\n", 400, "line does not end with CRLF"),
            (b"GET /chat HTTP/1.1\r\nHost: h\n\r\n", 400, "line does not end with CRLF"),
            (b"\r\nGET / HTTP/1.1\r\n\r\n", 400, "empty request line"),
            (b"GET  /chat HTTP/1.1\r\n\r\n", 400, "invalid request line"),
            (b"GET /chat HTTP/1.1 \r\n\r\n", 400, "invalid request line"),
            (b"GET /ch at HTTP/1.1\r\n\r\n", 400, "invalid request line"),
            (b"GET /chat HTTP/1.1\r\nHost : h\r\n\r\n", 400, "invalid header line"),
            (b"GET /chat HTTP/1.1\r\nHost h\r\n\r\n", 400, "invalid header line"),
            (b"GET /chat HTTP/1.1\r\n: h\r\n\r\n", 400, "invalid header line"),
            (b"GET /chat HTTP/1.1\r\nX: a\x00b\r\n\r\n", 400, "invalid header value"),
            (b"GET /chat HTTP/1.1\r\nX: a\rb\r\n\r\n", 400, "invalid header value"),
            (b"GET /chat HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400, "obsolete line folding"),
            (b"GET /chat HTTP/1.1\r\n X: a\r\n\r\n", 400, "obsolete line folding"),
            (b"POST /chat HTTP/1.1\r\n\r\n", 405, "unsupported HTTP method: POST"),
            (b"get /chat HTTP/1.1\r\n\r\n", 405, "unsupported HTTP method: get"),
            (b"GET /chat HTTP/1.0\r\n\r\n", 400, "HTTP/1.1 or later is required"),
            (b"GET /chat HTTP/2.0\r\n\r\n", 505, "unsupported HTTP version: 2.0"),
            (b"GET chat HTTP/1.1\r\n\r\n", 400, "invalid request target"),
            (b"GET * HTTP/1.1\r\n\r\n", 400, "invalid request target"),
            (b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", 400, "must not have a body (Content-Length)"),
            (b"GET / HTTP/1.1\r\nContent-Length: -0\r\n\r\n", 400, "invalid Content-Length"),
            (
                b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                400,
                "must not have a body (Transfer-Encoding)",
            ),
        ],
    )
    @FEEDERS
    def test_malformed(self, feed: Any, data: bytes, status: int, message: str) -> None:
        parser = RequestParser()
        with pytest.raises(InvalidHTTPMessage, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
            feed(parser, data)
        assert info.value.status == status
        assert isinstance(info.value, InvalidMessage)
        # The parser is broken for good and holds nothing.
        assert parser.buffered == 0
        with pytest.raises(InvalidHTTPMessage) as again:
            parser.feed(b"\r\n")
        assert again.value is info.value


class TestRequestParserLimits:
    """Oversize input is refused as soon as it passes a limit, never buffered beyond it."""

    def test_request_line_at_limit_accepted(self) -> None:
        line = b"GET /" + b"a" * 86 + b" HTTP/1.1"
        assert len(line) == 100
        parser = RequestParser(max_line=100)
        for byte in line + b"\r":
            assert parser.feed(bytes([byte])) is None
        assert parser.buffered == 101
        assert parser.feed(b"\n\r\n") is not None

    def test_request_line_over_limit_bytewise(self) -> None:
        parser = RequestParser(max_line=100)
        data = b"GET /" + b"a" * 200
        for count, byte in enumerate(data, 1):
            if count == 101:
                # 101 bytes that cannot be 100 bytes of line plus its CR.
                with pytest.raises(InvalidHTTPMessage, match="request line longer than 100 bytes") as info:
                    parser.feed(bytes([byte]))
                assert info.value.status == 414
                break
            assert parser.feed(bytes([byte])) is None
            assert parser.buffered == count
        assert parser.buffered == 0

    def test_request_line_over_limit_whole(self) -> None:
        parser = RequestParser()
        with pytest.raises(InvalidHTTPMessage) as info:
            parser.feed(b"GET /" + b"a" * 100_000)
        assert info.value.status == 414
        assert parser.buffered == 0

    def test_complete_request_line_over_limit(self) -> None:
        parser = RequestParser(max_line=10)
        with pytest.raises(InvalidHTTPMessage, match="request line longer than 10 bytes") as info:
            parser.feed(b"GET /aaaaaaa HTTP/1.1\r\n")
        assert info.value.status == 414

    def test_header_line_over_limit(self) -> None:
        parser = RequestParser(max_header_line=50)
        assert parser.feed(b"GET / HTTP/1.1\r\nX: " + b"a" * 47) is None
        assert parser.buffered == 50
        assert parser.feed(b"\r") is None
        assert parser.buffered == 51
        with pytest.raises(InvalidHTTPMessage, match="header line longer than 50 bytes") as info:
            parser.feed(b"a")
        assert info.value.status == 431
        assert parser.buffered == 0

    def test_header_line_at_limit_accepted(self) -> None:
        parser = RequestParser(max_header_line=50)
        result = parser.feed(b"GET / HTTP/1.1\r\nX: " + b"a" * 47 + b"\r\n\r\n")
        assert result is not None
        assert result[0].headers["x"] == "a" * 47

    def test_too_many_headers(self) -> None:
        data = b"GET / HTTP/1.1\r\n" + b"X: 1\r\n" * 4
        assert RequestParser(max_headers=4).feed(data + b"\r\n") is not None
        parser = RequestParser(max_headers=4)
        with pytest.raises(InvalidHTTPMessage, match="more than 4 headers") as info:
            parser.feed(data + b"X: 1\r\n")
        assert info.value.status == 431

    def test_default_header_count_limit(self) -> None:
        data = b"GET / HTTP/1.1\r\n" + b"X: 1\r\n" * 129
        with pytest.raises(InvalidHTTPMessage, match="more than 128 headers"):
            RequestParser().feed(data)

    def test_total_size_bytewise(self) -> None:
        # Request line 16 bytes + CRLF, then 100-byte header lines.
        parser = RequestParser(max_size=300)
        head = b"GET / HTTP/1.1\r\n" + (b"X: " + b"a" * 95 + b"\r\n") * 2  # 16 + 200 = 216 bytes
        assert parser.feed(head) is None
        assert parser.buffered == 0
        for count in range(1, 85):
            assert parser.feed(b"a") is None
            assert parser.buffered == count
        with pytest.raises(InvalidHTTPMessage, match="HTTP head larger than 300 bytes") as info:
            parser.feed(b"a")  # 216 + 85 = 301
        assert info.value.status == 431
        assert parser.buffered == 0

    def test_total_size_at_limit_accepted(self) -> None:
        head = b"GET / HTTP/1.1\r\n" + b"X: aaaa\r\n" + b"\r\n"
        assert RequestParser(max_size=len(head)).feed(head) is not None
        with pytest.raises(InvalidHTTPMessage) as info:
            RequestParser(max_size=len(head) - 1).feed(head)
        assert info.value.status == 431

    def test_default_size_limit_whole(self) -> None:
        parser = RequestParser()
        data = b"GET / HTTP/1.1\r\n" + (b"X: " + b"a" * 8000 + b"\r\n") * 9
        with pytest.raises(InvalidHTTPMessage, match="HTTP head larger than 65536 bytes"):
            parser.feed(data)

    def test_negative_limit(self) -> None:
        with pytest.raises(ValueError, match="max_headers must be >= 0"):
            RequestParser(max_headers=-1)


class TestResponseParser:
    @FEEDERS
    def test_rfc_example_with_frames(self, feed: Any) -> None:
        result = feed(ResponseParser(), RFC_RESPONSE + HELLO_FRAME + HELLO_FRAME)
        assert result is not None
        response, leftover = result
        assert (response.status, response.reason) == (101, "Switching Protocols")
        assert response.headers["sec-websocket-accept"] == RFC_ACCEPT
        assert leftover == HELLO_FRAME + HELLO_FRAME
        assert response.serialize() == RFC_RESPONSE

    @pytest.mark.parametrize(
        ("line", "status", "reason"),
        [
            (b"HTTP/1.1 101", 101, ""),
            (b"HTTP/1.1 101 ", 101, ""),
            (b"HTTP/1.1 404 Not Found", 404, "Not Found"),
            (b"HTTP/1.1 400 caf\xe9 \tau lait", 400, "caf\xe9 \tau lait"),
        ],
    )
    def test_status_lines(self, line: bytes, status: int, reason: str) -> None:
        result = ResponseParser().feed(line + b"\r\n\r\nbody")
        assert result is not None
        assert (result[0].status, result[0].reason) == (status, reason)
        assert result[1] == b"body"

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b"HTTP/1.0 101 OK\r\n\r\n", "unsupported HTTP version: 1.0"),
            (b"HTTP/2.0 101 OK\r\n\r\n", "unsupported HTTP version: 2.0"),
            (b"HTTP/1.1 1010 OK\r\n\r\n", "invalid status line"),
            (b"HTTP/1.1  101 OK\r\n\r\n", "invalid status line"),
            (b"ICY 200 OK\r\n\r\n", "invalid status line"),
            (b"HTTP/1.1 101 OK\nUpgrade: websocket\r\n\r\n", "line does not end with CRLF"),
            (b"HTTP/1.1 101 OK\r\nUpgrade: web\x01socket\r\n\r\n", "invalid header value"),
        ],
    )
    @FEEDERS
    def test_malformed(self, feed: Any, data: bytes, message: str) -> None:
        with pytest.raises(InvalidHTTPMessage, match=message):
            feed(ResponseParser(), data)

    def test_status_line_limit(self) -> None:
        parser = ResponseParser(max_line=20)
        with pytest.raises(InvalidHTTPMessage, match="status line longer than 20 bytes"):
            parser.feed(b"HTTP/1.1 101 " + b"x" * 20)
        assert parser.buffered == 0


class TestParserDifferential:
    """The whole-head fast path and the line-by-line path agree on any input."""

    LINES = (
        b"GET /chat HTTP/1.1",
        b"GET / HTTP/1.0",
        b"POST / HTTP/1.1",
        b"Host: h",
        b"X:y",
        b"X: \tcaf\xe9 \t",
        b"X:  \t ",
        b"X:  a b",
        b"Bad Name: v",
        b" folded",
        b"X: a\x00b",
        b"X: a\rb",
        b"X: " + b"a" * 40,
        b"Content-Length: 0",
        b"Content-Length: 3",
        b"",
    )

    @given(
        st.lists(st.sampled_from(LINES), min_size=1, max_size=8),
        st.lists(st.sampled_from([b"\r\n", b"\n"]), min_size=8, max_size=8),
        st.binary(max_size=4),
        st.sampled_from(
            [
                # Tight limits: most heads are over one of them.
                {"max_line": 30, "max_header_line": 30, "max_headers": 4, "max_size": 200},
                # Line limits above any head here: the whole-head path judges
                # every head that arrived in one piece.
                {"max_line": 400, "max_header_line": 400, "max_headers": 4, "max_size": 400},
            ]
        ),
    )
    def test_whole_equals_bytewise(
        self, lines: list[bytes], endings: list[bytes], tail: bytes, limits: dict[str, int]
    ) -> None:
        data = (
            b"".join(line + ending for line, ending in zip(lines, endings[: len(lines)], strict=True))
            + b"\r\n"
            + tail
        )
        outcomes: list[tuple[Any, ...]] = []
        for feed in (feed_whole, feed_bytewise):
            try:
                result = feed(RequestParser(**limits), data)
            except InvalidHTTPMessage as exc:
                outcomes.append(("error", exc.status))
            else:
                outcomes.append(("ok", result))
        assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize(
    "head",
    [
        b"GET /chat HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nX:y\r\nX: \tcaf\xe9 \t\r\nHost: h\r\n\r\nrest",
    ],
)
def test_whole_head_path_taken_and_equal(head: bytes) -> None:
    # A well-formed head in one piece is parsed by the whole-head path (not
    # handed to the line-by-line one), to the same request as bytewise.
    fast = RequestParser()._feed_whole(head)
    assert fast is not None
    request, leftover = fast
    bytewise = feed_bytewise(RequestParser(), head)
    assert bytewise is not None
    slow, slow_leftover = bytewise
    assert (request.path, list(request.headers.raw_items()), leftover) == (
        slow.path,
        list(slow.headers.raw_items()),
        slow_leftover,
    )


# Bytes that matter to the grammar of a header line: token characters,
# separators, blanks, controls, DEL, obs-text, and the line ends.
_HEADER_BYTES = st.sampled_from(list(b'aZ0-!~:; \t\x00\x01\x0b\x7f\x80\xff\r\n"('))


@given(
    st.lists(st.lists(_HEADER_BYTES, max_size=12).map(bytes), max_size=8),
    st.sampled_from([{}, {"max_headers": 3}, {"max_header_line": 6}]),
)
def test_whole_equals_bytewise_on_any_header_bytes(lines: list[bytes], limits: dict[str, int]) -> None:
    # Arbitrary header lines (not only well-formed ones): the whole-head
    # path and the line-by-line path give the same request or the same
    # error, for every limit that decides which path judges the head.
    data = b"GET / HTTP/1.1\r\n" + b"".join(line + b"\r\n" for line in lines) + b"\r\n"
    outcomes: list[tuple[Any, ...]] = []
    for feed in (feed_whole, feed_bytewise):
        try:
            result = feed(RequestParser(**limits), data)
        except InvalidHTTPMessage as exc:
            outcomes.append(("error", exc.status, exc.detail))
        else:
            outcomes.append(("ok", result))
    assert outcomes[0] == outcomes[1]


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "block",
    [
        # Many lines whose value follows more than one blank, then a bad
        # one: a pattern where blanks could be split two ways between the
        # separator and the value would try every combination (3**n).
        b"X:  a\r\n" * 60 + b"Y: \x00\r\n",
        # One long line of blanks and text that ends badly.
        b"X:" + b" \t" * 3000 + b"a " * 3000 + b"\x00\r\n",
    ],
)
def test_whole_head_refuses_a_bad_block_without_backtracking(block: bytes) -> None:
    # The hostile peer's head: refused (400) by both paths, not after an
    # exponential search (this would not finish within the timeout).
    head = b"GET / HTTP/1.1\r\nHost: h\r\n" + block + b"\r\n"
    limits = {"max_header_line": 20_000, "max_size": 65_536}
    assert RequestParser(**limits)._feed_whole(head) is None
    with pytest.raises(InvalidHTTPMessage) as caught:
        RequestParser(**limits).feed(head)
    assert caught.value.status == 400
