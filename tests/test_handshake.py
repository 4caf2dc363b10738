"""The opening handshake's pure functions (RFC 6455 section 4, RFC 9110/9112)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastws.exceptions import (
    InvalidHandshake,
    InvalidHeader,
    InvalidMessage,
    InvalidOrigin,
    InvalidStatus,
    InvalidVersion,
    NegotiationError,
)
from fastws.handshake import (
    ClientExtensionFactory,
    Headers,
    InvalidHTTPMessage,
    Request,
    RequestParser,
    Response,
    ResponseParser,
    ServerExtensionFactory,
    WebSocketURI,
    accept_key,
    build_accept_response,
    build_extension_list,
    build_reject_response,
    build_request,
    build_subprotocol_list,
    check_origin,
    check_request,
    check_response,
    generate_key,
    negotiate_extensions,
    negotiate_subprotocol,
    parse_extension_list,
    parse_subprotocol_list,
    parse_token_list,
    parse_uri,
    response_for_exception,
)

__all__: list[str] = []

# RFC 6455 section 1.3 / 4.1 / 4.2.2 example values.
RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

RFC_REQUEST = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: http://example.com\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)

RFC_RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    b"Sec-WebSocket-Protocol: chat\r\n"
    b"\r\n"
)

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


def request_bytes(*lines: str, target: str = "/chat") -> bytes:
    head = f"GET {target} HTTP/1.1\r\n" + "".join(line + "\r\n" for line in lines) + "\r\n"
    return head.encode("latin-1")


VALID_LINES = (
    "Host: server.example.com",
    "Upgrade: websocket",
    "Connection: Upgrade",
    f"Sec-WebSocket-Key: {RFC_KEY}",
    "Sec-WebSocket-Version: 13",
)


def parse_request(data: bytes) -> Request:
    result = RequestParser().feed(data)
    assert result is not None
    request, leftover = result
    assert leftover == b""
    return request  # type: ignore[no-any-return]


def request_with(*replace: tuple[str, str | None], extra: Sequence[str] = ()) -> Request:
    """The valid request with some header lines replaced (None: removed)."""
    lines = list(VALID_LINES)
    for name, line in replace:
        lines = [item for item in lines if not item.lower().startswith(name.lower() + ":")]
        if line is not None:
            lines.append(line)
    return parse_request(request_bytes(*lines, *extra))


class TestAcceptKey:
    """RFC 6455 section 1.3 and 4.2.2: the Sec-WebSocket-Accept value."""

    def test_rfc_example(self) -> None:
        assert accept_key(RFC_KEY) == RFC_ACCEPT

    def test_zero_key(self) -> None:
        # 16 zero bytes as the key; the value agrees with websockets' and
        # wsproto's implementations (see test_against_peers).
        assert accept_key("AAAAAAAAAAAAAAAAAAAAAA==") == "ICX+Yqv66kxgM0FcWaLWlFLwTAI="

    def test_against_peers(self) -> None:
        websockets_utils = pytest.importorskip("websockets.utils")
        wsproto_utilities = pytest.importorskip("wsproto.utilities")
        for _ in range(20):
            key = generate_key()
            expected = websockets_utils.accept_key(key)
            assert wsproto_utilities.generate_accept_token(key.encode()) == expected.encode()
            assert accept_key(key) == expected

    def test_generate_key(self) -> None:
        keys = {generate_key() for _ in range(20)}
        assert len(keys) == 20
        for key in keys:
            assert len(key) == 24
            assert len(base64.b64decode(key, validate=True)) == 16


class TestHeaders:
    """RFC 9110 section 5: field names are case-insensitive, order matters for lists."""

    def test_case_insensitive_multi_dict(self) -> None:
        headers = Headers([("Host", "a"), ("X-Thing", "1"), ("x-thing", "2")])
        assert headers["HOST"] == "a"
        assert headers["x-THING"] == "1"
        assert headers.get_all("X-Thing") == ["1", "2"]
        assert headers.get_all("missing") == []
        assert headers.get("missing") is None
        assert headers.get("missing", "d") == "d"
        assert "host" in headers
        assert "nope" not in headers
        assert 1 not in headers
        assert len(headers) == 3
        assert list(headers) == ["host", "x-thing"]
        assert headers.items() == [("host", "a"), ("x-thing", "1"), ("x-thing", "2")]
        assert headers.raw_items() == [("Host", "a"), ("X-Thing", "1"), ("x-thing", "2")]
        with pytest.raises(KeyError):
            headers["missing"]

    def test_setitem_replaces_and_add_appends(self) -> None:
        headers = Headers({"A": "1"})
        headers.add("a", "2")
        headers.add("B", "3")
        headers["A"] = "4"
        assert headers.raw_items() == [("B", "3"), ("A", "4")]
        del headers["b"]
        assert headers.raw_items() == [("A", "4")]
        with pytest.raises(KeyError):
            del headers["b"]

    def test_values_are_stripped(self) -> None:
        headers = Headers()
        headers.add("A", " \t x y \t")
        assert headers["a"] == "x y"

    def test_equality_ignores_name_case_not_order(self) -> None:
        assert Headers([("A", "1"), ("B", "2")]) == Headers([("a", "1"), ("b", "2")])
        assert Headers([("A", "1"), ("B", "2")]) != Headers([("B", "2"), ("A", "1")])
        copy = Headers([("A", "1")]).copy()
        copy.add("C", "3")
        assert copy.raw_items() == [("A", "1"), ("C", "3")]

    @pytest.mark.parametrize("name", ["", "a b", "a:b", "é", "a\r\n", "(x)"])
    def test_invalid_names(self, name: str) -> None:
        with pytest.raises(ValueError, match="invalid header name"):
            Headers().add(name, "v")

    @pytest.mark.parametrize("value", ["a\r\nb", "a\nb", "a\x00b", "a\x7fb", "\u0100"])
    def test_invalid_values(self, value: str) -> None:
        with pytest.raises(ValueError, match="invalid value for header X"):
            Headers().add("X", value)

    def test_serialize(self) -> None:
        headers = Headers([("Host", "h"), ("X-Latin", "caf\xe9")])
        assert headers.serialize() == b"Host: h\r\nX-Latin: caf\xe9\r\n"


class TestListGrammars:
    """RFC 9110 section 5.6.1 lists, RFC 6455 section 9.1 / RFC 7692 section 5.1."""

    @pytest.mark.parametrize(
        ("value", "tokens"),
        [
            ("Upgrade", ["Upgrade"]),
            ("keep-alive, Upgrade", ["keep-alive", "Upgrade"]),
            ("keep-alive,Upgrade", ["keep-alive", "Upgrade"]),
            (" , a ,, b ,", ["a", "b"]),
            ("", []),
            ("\ta\t,\tb", ["a", "b"]),
        ],
    )
    def test_token_list(self, value: str, tokens: list[str]) -> None:
        assert parse_token_list(value) == tokens

    @pytest.mark.parametrize("value", ["a b", "a;b", "a,/", '"a"', "a, b c"])
    def test_token_list_invalid(self, value: str) -> None:
        with pytest.raises(InvalidHeader) as info:
            parse_token_list(value, "Connection")
        assert info.value.name == "Connection"

    @pytest.mark.parametrize(
        ("value", "parsed"),
        [
            ("permessage-deflate", [("permessage-deflate", [])]),
            (
                "permessage-deflate; client_max_window_bits",
                [("permessage-deflate", [("client_max_window_bits", None)])],
            ),
            # RFC 7692 section 5.1 / 7.1.2.2 offer examples.
            (
                "permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate",
                [
                    (
                        "permessage-deflate",
                        [("client_max_window_bits", None), ("server_max_window_bits", "10")],
                    ),
                    ("permessage-deflate", []),
                ],
            ),
            (
                'permessage-deflate; server_max_window_bits="10"',
                [("permessage-deflate", [("server_max_window_bits", "10")])],
            ),
            ('x; a="\\1\\0"', [("x", [("a", "10")])]),
            ("x ;a = 1 ; b,y", [("x", [("a", "1"), ("b", None)]), ("y", [])]),
            ("x,, y", [("x", []), ("y", [])]),
        ],
    )
    def test_extension_list(self, value: str, parsed: list[Any]) -> None:
        assert parse_extension_list(value) == parsed

    @pytest.mark.parametrize(
        "value",
        [
            "x;",
            "x; =1",
            "x; a=",
            'x; a="1 2"',  # RFC 6455 section 9.1: unescaped value must be a token
            'x; a="1',
            "x y",
            ";a",
            "x; a=1 2",
        ],
    )
    def test_extension_list_invalid(self, value: str) -> None:
        with pytest.raises(InvalidHeader) as info:
            parse_extension_list(value)
        assert info.value.name == "Sec-WebSocket-Extensions"

    def test_build_extension_list(self) -> None:
        value = build_extension_list(
            [
                ("permessage-deflate", [("client_max_window_bits", None), ("server_max_window_bits", "10")]),
                ("x", []),
            ]
        )
        assert value == "permessage-deflate; client_max_window_bits; server_max_window_bits=10, x"
        with pytest.raises(ValueError):
            build_extension_list([("x", [("a", "1 2")])])
        with pytest.raises(ValueError):
            build_extension_list([("x y", [])])

    def test_subprotocol_list(self) -> None:
        assert parse_subprotocol_list("chat, superchat") == ["chat", "superchat"]
        assert build_subprotocol_list(["chat", "superchat"]) == "chat, superchat"
        with pytest.raises(InvalidHeader):
            parse_subprotocol_list("chat, super chat")
        with pytest.raises(ValueError):
            build_subprotocol_list(["a b"])


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


class TestServerChecks:
    """RFC 6455 section 4.2.1: what the server requires of the request."""

    def test_valid(self) -> None:
        assert check_request(parse_request(RFC_REQUEST)) == RFC_KEY

    @pytest.mark.parametrize(
        ("replace", "name", "detail"),
        [
            (("Host", None), "Host", "missing"),
            (("Host", "Host: a b"), "Host", "invalid value 'a b'"),
            (("Upgrade", None), "Upgrade", "missing"),
            (("Upgrade", "Upgrade: h2c"), "Upgrade", "expected 'websocket', got 'h2c'"),
            (("Upgrade", "Upgrade: websocket/13 x"), "Upgrade", "expected ','"),
            (("Connection", None), "Connection", "missing"),
            (("Connection", "Connection: keep-alive"), "Connection", "expected 'Upgrade', got 'keep-alive'"),
            (("Sec-WebSocket-Key", None), "Sec-WebSocket-Key", "missing"),
            (("Sec-WebSocket-Key", "Sec-WebSocket-Key: not base64!"), "Sec-WebSocket-Key", "not base64"),
            (
                ("Sec-WebSocket-Key", "Sec-WebSocket-Key: AAAA"),
                "Sec-WebSocket-Key",
                "expected 16 bytes once decoded, got 3",
            ),
            (
                ("Sec-WebSocket-Key", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA="),
                "Sec-WebSocket-Key",
                "expected 16 bytes once decoded, got 17",
            ),
            (
                ("Sec-WebSocket-Key", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA"),
                "Sec-WebSocket-Key",
                "not base64",
            ),
        ],
    )
    def test_invalid_header(self, replace: tuple[str, str | None], name: str, detail: str) -> None:
        with pytest.raises(InvalidHeader) as info:
            check_request(request_with(replace))
        assert info.value.name == name
        assert detail in info.value.detail

    def test_repeated_host_and_key(self) -> None:
        with pytest.raises(InvalidHeader, match="invalid Host header: expected one value, got 2"):
            check_request(request_with(extra=["Host: other"]))
        with pytest.raises(
            InvalidHeader, match="invalid Sec-WebSocket-Key header: expected one value, got 2"
        ):
            check_request(request_with(extra=[f"Sec-WebSocket-Key: {RFC_KEY}"]))

    @pytest.mark.parametrize(
        "lines",
        [
            ["Upgrade: WebSocket", "Connection: keep-alive, UPGRADE"],
            ["Upgrade: h2c, websocket", "Connection: keep-alive", "Connection: Upgrade"],
            ["Upgrade: websocket", "Connection: Upgrade"],
        ],
    )
    def test_token_lists_case_insensitive(self, lines: list[str]) -> None:
        request = request_with(("Upgrade", None), ("Connection", None), extra=lines)
        assert check_request(request) == RFC_KEY

    def test_ipv6_host(self) -> None:
        assert check_request(request_with(("Host", "Host: [::1]:8080"))) == RFC_KEY

    @pytest.mark.parametrize(
        ("line", "got"),
        [
            (None, "missing"),
            ("Sec-WebSocket-Version: 8", "'8'"),
            ("Sec-WebSocket-Version: 13, 8", "'13, 8'"),
            ("Sec-WebSocket-Version: 013", "'013'"),
        ],
    )
    def test_version(self, line: str | None, got: str) -> None:
        with pytest.raises(InvalidVersion) as info:
            check_request(request_with(("Sec-WebSocket-Version", line)))
        assert str(info.value) == f"invalid Sec-WebSocket-Version header: expected '13', got {got}"

    def test_version_repeated(self) -> None:
        with pytest.raises(InvalidVersion):
            check_request(request_with(extra=["Sec-WebSocket-Version: 13"]))

    def test_origin(self) -> None:
        with_origin = request_with(extra=["Origin: https://good.example"])
        without = request_with()
        assert check_origin(with_origin, None) == "https://good.example"
        assert check_origin(without, None) is None
        assert check_origin(with_origin, ["https://good.example"]) == "https://good.example"
        assert check_origin(without, [None, "https://good.example"]) is None
        with pytest.raises(InvalidOrigin, match=r"origin not allowed: 'https://good\.example'"):
            check_origin(with_origin, ["https://other.example", None])
        with pytest.raises(InvalidOrigin, match="missing Origin header"):
            check_origin(without, ["https://good.example"])
        with pytest.raises(InvalidHeader, match="invalid Origin header: expected one value, got 2"):
            check_origin(request_with(extra=["Origin: a", "Origin: b"]), None)


class TestNegotiation:
    """RFC 6455 section 4.2.2 (subprotocol) and 9.1 (extensions)."""

    def test_subprotocol_server_order(self) -> None:
        request = request_with(extra=["Sec-WebSocket-Protocol: chat, superchat"])
        assert negotiate_subprotocol(request, ["superchat", "chat"]) == "superchat"
        assert negotiate_subprotocol(request, ["chat", "superchat"]) == "chat"
        assert negotiate_subprotocol(request, ["other"]) is None
        assert negotiate_subprotocol(request, None) is None
        assert negotiate_subprotocol(request_with(), ["chat"]) is None

    def test_subprotocol_repeated_header(self) -> None:
        request = request_with(extra=["Sec-WebSocket-Protocol: a", "Sec-WebSocket-Protocol: b"])
        assert negotiate_subprotocol(request, ["b"]) == "b"

    def test_subprotocol_hook(self) -> None:
        request = request_with(extra=["Sec-WebSocket-Protocol: chat, superchat"])
        seen: list[Any] = []

        def select(req: Request, offered: Sequence[str]) -> str | None:
            seen.append((req, list(offered)))
            return offered[-1]

        assert negotiate_subprotocol(request, ["chat"], select) == "superchat"
        assert seen == [(request, ["chat", "superchat"])]
        with pytest.raises(ValueError, match="did not offer"):
            negotiate_subprotocol(request, None, lambda req, offered: "nope")

        def refuse(req: Request, offered: Sequence[str]) -> str | None:
            raise NegotiationError("no chat today")

        with pytest.raises(NegotiationError, match="no chat today"):
            negotiate_subprotocol(request, None, refuse)

    def test_invalid_subprotocol_header(self) -> None:
        with pytest.raises(InvalidHeader):
            negotiate_subprotocol(request_with(extra=["Sec-WebSocket-Protocol: a b"]), ["a"])

    def test_extensions(self) -> None:
        class Ext:
            def __init__(self, name: str, params: Any) -> None:
                self.name, self.params = name, params

            def __eq__(self, other: object) -> bool:
                return isinstance(other, Ext) and (self.name, self.params) == (other.name, other.params)

        class Factory(ServerExtensionFactory):
            def __init__(self, name: str, accept: bool) -> None:
                self.name = name
                self.accept = accept
                self.calls: list[Any] = []

            def process_request_params(self, params: Any, accepted: Any) -> Any:
                self.calls.append((list(params), list(accepted)))
                if not self.accept or ("bad", None) in params:
                    raise NegotiationError("no")
                return [("ok", "1")], Ext(self.name, list(params))

        request = request_with(extra=["Sec-WebSocket-Extensions: x-a; bad, x-b; p=1, x-unknown, x-a; q"])
        refuse_a = Factory("x-a", False)
        accept_a = Factory("x-a", True)
        accept_b = Factory("x-b", True)
        header, extensions = negotiate_extensions(request, [refuse_a, accept_b, accept_a])
        assert header == "x-b; ok=1, x-a; ok=1"
        assert extensions == [Ext("x-b", [("p", "1")]), Ext("x-a", [("q", None)])]
        assert refuse_a.calls == [([("bad", None)], []), ([("q", None)], [Ext("x-b", [("p", "1")])])]
        assert negotiate_extensions(request, None) == (None, [])
        assert negotiate_extensions(request_with(), [accept_a]) == (None, [])
        with pytest.raises(InvalidHeader):
            negotiate_extensions(request_with(extra=["Sec-WebSocket-Extensions: x;"]), [accept_a])


class TestServerResponses:
    def test_accept_response_bytes(self) -> None:
        response = build_accept_response(RFC_KEY, subprotocol="chat")
        assert response.serialize() == RFC_RESPONSE
        response = build_accept_response(RFC_KEY, extensions="x; a=1", server="srv")
        assert response.serialize() == (
            b"HTTP/1.1 101 Switching Protocols\r\n"
            b"Upgrade: websocket\r\n"
            b"Connection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            b"Sec-WebSocket-Extensions: x; a=1\r\n"
            b"Server: srv\r\n"
            b"\r\n"
        )

    def test_reject_response_bytes(self) -> None:
        response = build_reject_response(404, "Not here, caf\xe9.\n", headers={"X-A": "1"}, server="srv")
        assert response.serialize() == (
            b"HTTP/1.1 404 Not Found\r\n"
            b"X-A: 1\r\n"
            b"Server: srv\r\n"
            b"Connection: close\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: 17\r\n"
            b"\r\n"
            b"Not here, caf\xc3\xa9.\n"
        )

    @pytest.mark.parametrize(
        ("exc", "expected"),
        [
            (
                InvalidHeader("Sec-WebSocket-Key", "missing"),
                b"HTTP/1.1 400 Bad Request\r\n"
                b"Connection: close\r\n"
                b"Content-Type: text/plain; charset=utf-8\r\n"
                b"Content-Length: %d\r\n\r\n"
                % len(b"Failed to open a WebSocket connection: invalid Sec-WebSocket-Key header: missing.\n")
                + b"Failed to open a WebSocket connection: invalid Sec-WebSocket-Key header: missing.\n",
            ),
            (
                InvalidOrigin("origin not allowed: 'x'"),
                b"HTTP/1.1 403 Forbidden\r\n"
                b"Connection: close\r\n"
                b"Content-Type: text/plain; charset=utf-8\r\n"
                b"Content-Length: %d\r\n\r\n"
                % len(b"Failed to open a WebSocket connection: origin not allowed: 'x'.\n")
                + b"Failed to open a WebSocket connection: origin not allowed: 'x'.\n",
            ),
            (
                InvalidVersion("invalid Sec-WebSocket-Version header: expected '13', got '8'"),
                b"HTTP/1.1 426 Upgrade Required\r\n"
                b"Upgrade: websocket\r\n"
                b"Connection: Upgrade, close\r\n"
                b"Sec-WebSocket-Version: 13\r\n"
                b"Content-Type: text/plain; charset=utf-8\r\n"
                b"Content-Length: %d\r\n\r\n"
                % len(
                    b"Failed to open a WebSocket connection: invalid Sec-WebSocket-Version header: expected '13', got '8'.\n"
                )
                + b"Failed to open a WebSocket connection: invalid Sec-WebSocket-Version header: expected '13', got '8'.\n",
            ),
            (
                InvalidHeader("Upgrade", "missing"),
                b"HTTP/1.1 426 Upgrade Required\r\n"
                b"Upgrade: websocket\r\n"
                b"Connection: Upgrade, close\r\n"
                b"Content-Type: text/plain; charset=utf-8\r\n"
                b"Content-Length: %d\r\n\r\n"
                % len(b"Failed to open a WebSocket connection: invalid Upgrade header: missing.\n")
                + b"Failed to open a WebSocket connection: invalid Upgrade header: missing.\n",
            ),
            (
                InvalidHTTPMessage(405, "unsupported HTTP method: POST"),
                b"HTTP/1.1 405 Method Not Allowed\r\n"
                b"Allow: GET\r\n"
                b"Connection: close\r\n"
                b"Content-Type: text/plain; charset=utf-8\r\n"
                b"Content-Length: %d\r\n\r\n"
                % len(b"Failed to open a WebSocket connection: unsupported HTTP method: POST.\n")
                + b"Failed to open a WebSocket connection: unsupported HTTP method: POST.\n",
            ),
            (
                InvalidHTTPMessage(431, "more than 128 headers"),
                b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                b"Connection: close\r\n"
                b"Content-Type: text/plain; charset=utf-8\r\n"
                b"Content-Length: %d\r\n\r\n"
                % len(b"Failed to open a WebSocket connection: more than 128 headers.\n")
                + b"Failed to open a WebSocket connection: more than 128 headers.\n",
            ),
            (
                NegotiationError("no chat today"),
                b"HTTP/1.1 400 Bad Request\r\n"
                b"Connection: close\r\n"
                b"Content-Type: text/plain; charset=utf-8\r\n"
                b"Content-Length: %d\r\n\r\n"
                % len(b"Failed to open a WebSocket connection: no chat today.\n")
                + b"Failed to open a WebSocket connection: no chat today.\n",
            ),
        ],
    )
    def test_response_for_exception(self, exc: InvalidHandshake, expected: bytes) -> None:
        assert response_for_exception(exc).serialize() == expected


class TestURI:
    """RFC 6455 section 3: ws-URI and wss-URI."""

    @pytest.mark.parametrize(
        ("uri", "parsed"),
        [
            ("ws://example.com", WebSocketURI(False, "example.com", 80, "/")),
            ("wss://example.com", WebSocketURI(True, "example.com", 443, "/")),
            ("WS://Example.COM:8080/chat?x=1&y", WebSocketURI(False, "example.com", 8080, "/chat?x=1&y")),
            ("wss://[::1]:9000/a/b", WebSocketURI(True, "::1", 9000, "/a/b")),
            ("ws://127.0.0.1/", WebSocketURI(False, "127.0.0.1", 80, "/")),
            ("ws://h/caf\xe9 x", WebSocketURI(False, "h", 80, "/caf%C3%A9%20x")),
            ("ws://h/a%20b", WebSocketURI(False, "h", 80, "/a%20b")),
            ("ws://h?q", WebSocketURI(False, "h", 80, "/?q")),
            ("ws://b\xfccher.example/", WebSocketURI(False, "xn--bcher-kva.example", 80, "/")),
        ],
    )
    def test_valid(self, uri: str, parsed: WebSocketURI) -> None:
        assert parse_uri(uri) == parsed

    @pytest.mark.parametrize(
        ("uri", "message"),
        [
            ("http://example.com/", "scheme must be ws or wss"),
            ("example.com", "scheme must be ws or wss"),
            ("ws://example.com/#frag", "must not have a fragment"),
            ("ws://example.com/#", "must not have a fragment"),
            ("ws://user:pass@example.com/", "must not have user information"),
            ("ws://user@example.com/", "must not have user information"),
            ("ws:///path", "must have a host"),
            ("ws://example.com:99999/", "out of range"),
            ("ws://example.com:x/", "invalid literal|Port could not be cast"),
        ],
    )
    def test_invalid(self, uri: str, message: str) -> None:
        with pytest.raises(ValueError, match=message):
            parse_uri(uri)


class Offer(ClientExtensionFactory):
    def __init__(self, name: str, params: list[Any], accept: bool = True) -> None:
        self.name = name
        self.params = params
        self.accept = accept
        self.calls: list[Any] = []

    def get_request_params(self) -> list[Any]:
        return self.params

    def process_response_params(self, params: Any, accepted: Any) -> Any:
        self.calls.append((list(params), list(accepted)))
        if not self.accept:
            raise NegotiationError("refused")
        return (self.name, list(params))


class TestClientRequest:
    """RFC 6455 section 4.1: the client's request."""

    def test_exact_bytes(self) -> None:
        request = build_request(
            "server.example.com",
            80,
            "/chat",
            False,
            key=RFC_KEY,
            origin="http://example.com",
            subprotocols=["chat", "superchat"],
            extensions=[Offer("permessage-deflate", [("client_max_window_bits", None)]), Offer("x-b", [])],
            additional_headers=[("Authorization", "Bearer t"), ("X-Two", "2")],
            user_agent="agent/1",
        )
        assert request.serialize() == (
            b"GET /chat HTTP/1.1\r\n"
            b"Host: server.example.com\r\n"
            b"Upgrade: websocket\r\n"
            b"Connection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n"
            b"Origin: http://example.com\r\n"
            b"Sec-WebSocket-Protocol: chat, superchat\r\n"
            b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-b\r\n"
            b"User-Agent: agent/1\r\n"
            b"Authorization: Bearer t\r\n"
            b"X-Two: 2\r\n"
            b"\r\n"
        )

    @pytest.mark.parametrize(
        ("host", "port", "secure", "expected"),
        [
            ("h", 80, False, "h"),
            ("h", 443, False, "h:443"),
            ("h", 443, True, "h"),
            ("h", 80, True, "h:80"),
            ("::1", 80, False, "[::1]"),
            ("::1", 8080, False, "[::1]:8080"),
            ("127.0.0.1", 9000, True, "127.0.0.1:9000"),
        ],
    )
    def test_host(self, host: str, port: int, secure: bool, expected: str) -> None:
        request = build_request(host, port, "/", secure, user_agent=None)
        assert request.headers.get_all("Host") == [expected]
        assert "User-Agent" not in request.headers

    def test_default_key_and_user_agent(self) -> None:
        one = build_request("h", 80, "/", False)
        two = build_request("h", 80, "/", False)
        key = one.headers["Sec-WebSocket-Key"]
        assert key != two.headers["Sec-WebSocket-Key"]
        assert len(base64.b64decode(key, validate=True)) == 16
        assert one.headers["User-Agent"].startswith("Python/3.")
        assert "fastws/" in one.headers["User-Agent"]

    @pytest.mark.parametrize("path", ["", "chat", "/a b", "/caf\xe9"])
    def test_invalid_path(self, path: str) -> None:
        with pytest.raises(ValueError, match="invalid resource name"):
            build_request("h", 80, path, False)

    def test_invalid_additional_header(self) -> None:
        with pytest.raises(ValueError):
            build_request("h", 80, "/", False, additional_headers={"X": "a\r\nInjected: 1"})


def response_with(*lines: str, status: str = "101 Switching Protocols") -> Response:
    data = (f"HTTP/1.1 {status}\r\n" + "".join(line + "\r\n" for line in lines) + "\r\n").encode("latin-1")
    result = ResponseParser().feed(data)
    assert result is not None
    return result[0]  # type: ignore[no-any-return]


ACCEPT_LINES = ("Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Accept: {RFC_ACCEPT}")


class TestClientChecks:
    """RFC 6455 section 4.1: how the client validates the server's response."""

    request = build_request("h", 80, "/", False, key=RFC_KEY, subprotocols=["chat", "superchat"])

    def test_rfc_example(self) -> None:
        response = ResponseParser().feed(RFC_RESPONSE)
        assert response is not None
        assert check_response(response[0], self.request) == ("chat", [])

    def test_token_lists_case_insensitive(self) -> None:
        response = response_with(
            "upgrade: WEBSOCKET", "connection: keep-alive, upgrade", f"sec-websocket-accept: {RFC_ACCEPT}"
        )
        assert check_response(response, self.request) == (None, [])

    def test_status(self) -> None:
        response = response_with("Content-Length: 0", status="403 Forbidden")
        with pytest.raises(InvalidStatus) as info:
            check_response(response, self.request)
        assert info.value.status == 403
        assert info.value.reason == "Forbidden"
        assert info.value.response is response  # type: ignore[attr-defined]
        assert str(info.value) == "server rejected WebSocket connection: HTTP 403 Forbidden"

    @pytest.mark.parametrize(
        ("lines", "name", "detail"),
        [
            (ACCEPT_LINES[1:], "Upgrade", "missing"),
            (("Upgrade: h2c", *ACCEPT_LINES[1:]), "Upgrade", "expected 'websocket', got 'h2c'"),
            (("Upgrade: websocket, h2c", *ACCEPT_LINES[1:]), "Upgrade", "expected 'websocket'"),
            ((ACCEPT_LINES[0], ACCEPT_LINES[2]), "Connection", "missing"),
            (
                (ACCEPT_LINES[0], "Connection: close", ACCEPT_LINES[2]),
                "Connection",
                "expected 'Upgrade', got 'close'",
            ),
            (ACCEPT_LINES[:2], "Sec-WebSocket-Accept", "missing"),
            (
                (*ACCEPT_LINES[:2], "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
                "Sec-WebSocket-Accept",
                f"expected '{RFC_ACCEPT}', got 'AAAAAAAAAAAAAAAAAAAAAAAAAAA='",
            ),
            ((*ACCEPT_LINES, ACCEPT_LINES[2]), "Sec-WebSocket-Accept", "expected one value, got 2"),
            (
                (*ACCEPT_LINES, "Sec-WebSocket-Protocol: chat, superchat"),
                "Sec-WebSocket-Protocol",
                "expected one subprotocol, got 2",
            ),
            (
                (*ACCEPT_LINES, "Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Protocol: chat"),
                "Sec-WebSocket-Protocol",
                "expected one subprotocol, got 2",
            ),
            ((*ACCEPT_LINES, "Sec-WebSocket-Extensions: x;"), "Sec-WebSocket-Extensions", "expected a token"),
        ],
    )
    def test_invalid_header(self, lines: Sequence[str], name: str, detail: str) -> None:
        with pytest.raises(InvalidHeader) as info:
            check_response(response_with(*lines), self.request)
        assert info.value.name == name
        assert detail in info.value.detail

    def test_subprotocol_not_offered(self) -> None:
        with pytest.raises(NegotiationError, match="Sec-WebSocket-Protocol: other was not offered"):
            check_response(response_with(*ACCEPT_LINES, "Sec-WebSocket-Protocol: other"), self.request)
        bare = build_request("h", 80, "/", False, key=RFC_KEY)
        with pytest.raises(NegotiationError, match="Sec-WebSocket-Protocol: chat was not offered"):
            check_response(response_with(*ACCEPT_LINES, "Sec-WebSocket-Protocol: chat"), bare)

    def test_extensions(self) -> None:
        first = Offer("x-a", [("p", None)], accept=False)
        second = Offer("x-a", [])
        other = Offer("x-b", [])
        response = response_with(*ACCEPT_LINES, "Sec-WebSocket-Extensions: x-b, x-a; q=1")
        subprotocol, accepted = check_response(response, self.request, [first, second, other])
        assert subprotocol is None
        assert accepted == [("x-b", []), ("x-a", [("q", "1")])]
        assert first.calls == [([("q", "1")], [("x-b", [])])]

    def test_extension_not_offered(self) -> None:
        response = response_with(*ACCEPT_LINES, "Sec-WebSocket-Extensions: x-c")
        with pytest.raises(NegotiationError, match="Sec-WebSocket-Extensions: x-c was not offered"):
            check_response(response, self.request, [Offer("x-a", [])])
        with pytest.raises(NegotiationError, match="x-c was not offered"):
            check_response(response, self.request)

    def test_extension_refused(self) -> None:
        response = response_with(*ACCEPT_LINES, "Sec-WebSocket-Extensions: x-a; q=1")
        with pytest.raises(NegotiationError, match="unacceptable parameters for x-a: x-a; q=1"):
            check_response(response, self.request, [Offer("x-a", [], accept=False)])


class TestParserDifferential:
    """The whole-head fast path and the line-by-line path agree on any input."""

    LINES = (
        b"GET /chat HTTP/1.1",
        b"GET / HTTP/1.0",
        b"POST / HTTP/1.1",
        b"Host: h",
        b"X:y",
        b"X: \tcaf\xe9 \t",
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
    )
    def test_whole_equals_bytewise(self, lines: list[bytes], endings: list[bytes], tail: bytes) -> None:
        data = (
            b"".join(line + ending for line, ending in zip(lines, endings[: len(lines)], strict=True))
            + b"\r\n"
            + tail
        )
        limits = {"max_line": 30, "max_header_line": 30, "max_headers": 4, "max_size": 200}
        outcomes = []
        for feed in (feed_whole, feed_bytewise):
            try:
                result = feed(RequestParser(**limits), data)
            except InvalidHTTPMessage as exc:
                outcomes.append(("error", exc.status))
            else:
                outcomes.append(("ok", result))
        assert outcomes[0] == outcomes[1]
