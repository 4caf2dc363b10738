"""ServerProtocol: the server's opening handshake (RFC 6455 section 4.2), then frames."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from fastws.events import CloseReceived, TextMessage
from fastws.exceptions import (
    InvalidHeader,
    InvalidHTTPMessage,
    InvalidMessage,
    InvalidOrigin,
    InvalidState,
    InvalidVersion,
    NegotiationError,
)
from fastws.extensions.base import Extension, ServerExtensionFactory
from fastws.http11 import Request
from fastws.protocol import State
from vectors import RFC_REQUEST, RFC_RESPONSE

# A masked text frame "Hello" from a client (RFC 6455 section 5.7).
MASKED_HELLO = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"


def request_bytes(*lines: str) -> bytes:
    return ("GET /chat HTTP/1.1\r\n" + "".join(line + "\r\n" for line in lines) + "\r\n").encode()


VALID_LINES = (
    "Host: server.example.com",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
)


def error_response(status_line: str, text: str, *headers: str) -> bytes:
    body = f"Failed to open a WebSocket connection: {text}.\n".encode()
    lines = [status_line, *headers, "Content-Type: text/plain; charset=utf-8", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def make_server(**kwargs: Any) -> Any:
    from fastws.server import ServerProtocol

    kwargs.setdefault("server_header", None)
    return ServerProtocol(**kwargs)


def feed(server: Any, data: bytes, bytewise: bool) -> None:
    if bytewise:
        for index in range(len(data)):
            server.receive_data(data[index : index + 1])
    else:
        server.receive_data(data)


def received_request(server: Any, data: bytes = RFC_REQUEST) -> Request:
    server.receive_data(data)
    (request,) = server.events_received()
    assert isinstance(request, Request)
    return request


BYTEWISE = pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])


class TestAccept:
    """RFC 6455 section 4.2.2: the server's 101 answer."""

    @BYTEWISE
    def test_rfc_example(self, bytewise: bool) -> None:
        server = make_server(subprotocols=["chat"])
        assert server.state is State.CONNECTING
        feed(server, RFC_REQUEST, bytewise)
        (request,) = server.events_received()
        assert isinstance(request, Request)
        assert request.path == "/chat"
        assert request.headers["Origin"] == "http://example.com"
        assert server.request is request
        assert server.data_to_send() == []
        assert server.state is State.CONNECTING
        response = server.accept(request)
        assert server.state is State.CONNECTING
        server.send_response(response)
        assert server.data_to_send() == [RFC_RESPONSE]
        assert server.state is State.OPEN
        assert server.subprotocol == "chat"
        assert server.response is response
        assert server.handshake_exc is None

    def test_server_header_default(self) -> None:
        from fastws.server import ServerProtocol

        server = ServerProtocol()
        response = server.accept(received_request(server))
        assert response.headers["Server"].startswith("Python/3.")
        assert "fastws/" in response.headers["Server"]

    def test_subprotocol_server_preference(self) -> None:
        server = make_server(subprotocols=["superchat", "chat"])
        server.send_response(server.accept(received_request(server)))
        assert server.subprotocol == "superchat"

    def test_no_common_subprotocol(self) -> None:
        server = make_server(subprotocols=["other"])
        response = server.accept(received_request(server))
        assert response.status == 101
        assert "Sec-WebSocket-Protocol" not in response.headers
        server.send_response(response)
        assert server.subprotocol is None

    def test_select_subprotocol_hook(self) -> None:
        calls: list[Any] = []

        def select(request: Request, offered: Sequence[str]) -> str | None:
            calls.append(list(offered))
            return "superchat"

        server = make_server(subprotocols=["chat"], select_subprotocol=select)
        response = server.accept(received_request(server))
        assert calls == [["chat", "superchat"]]
        assert response.headers["Sec-WebSocket-Protocol"] == "superchat"

    def test_select_subprotocol_refuses(self) -> None:
        def select(request: Request, offered: Sequence[str]) -> str | None:
            raise NegotiationError("chat is closed")

        server = make_server(select_subprotocol=select)
        response = server.accept(received_request(server))
        assert response.serialize() == error_response(
            "HTTP/1.1 400 Bad Request", "chat is closed", "Connection: close"
        )
        assert isinstance(server.handshake_exc, NegotiationError)

    @BYTEWISE
    def test_frames_with_the_request(self, bytewise: bool) -> None:
        # The client should have waited (section 4.1); what it sent early is
        # kept and parsed once the 101 is out.
        server = make_server()
        feed(server, RFC_REQUEST + MASKED_HELLO, bytewise)
        (request,) = server.events_received()
        server.receive_data(MASKED_HELLO[:3])
        server.receive_data(MASKED_HELLO[3:])
        assert server.events_received() == []
        server.send_response(server.accept(request))
        assert server.events_received() == [TextMessage("Hello"), TextMessage("Hello")]

    def test_then_messages(self) -> None:
        server = make_server()
        server.send_response(server.accept(received_request(server)))
        server.data_to_send()
        server.send_text("Hello")
        assert server.data_to_send() == [b"\x81\x05Hello"]  # unmasked from a server
        server.receive_data(MASKED_HELLO)
        assert server.events_received() == [TextMessage("Hello")]
        server.receive_data(b"\x88\x82\x00\x00\x00\x00\x03\xe8")  # masked close 1000, zero key
        assert server.events_received() == [CloseReceived(1000, "")]
        assert server.data_to_send() == [b"\x88\x02\x03\xe8", b""]

    def test_protocol_kwargs_pass_through(self) -> None:
        server = make_server(max_size=4)
        server.send_response(server.accept(received_request(server)))
        server.data_to_send()
        server.receive_data(MASKED_HELLO)
        assert server.events_received() == []
        close = server.data_to_send()[0]
        assert close[0] == 0x88  # FIN + close
        assert close[2:4] == b"\x03\xf1"  # 1009


class DummyExtension(Extension):
    name = "x-dummy"
    rsv1 = True

    def __init__(self, params: Any) -> None:
        self.params = params

    def decode(self, frame: Any, *, max_size: int | None = None) -> Any:
        return frame

    def encode(self, frame: Any) -> Any:
        return frame


class DummyFactory(ServerExtensionFactory):
    name = "x-dummy"

    def process_request_params(self, params: Any, accepted: Any) -> Any:
        if accepted:
            raise NegotiationError("only once")
        return [("ok", None)], DummyExtension(list(params))


class TestExtensions:
    def test_negotiated(self) -> None:
        server = make_server(extensions=[DummyFactory()])
        request = received_request(
            server, request_bytes(*VALID_LINES, "Sec-WebSocket-Extensions: x-other, x-dummy; a=1, x-dummy")
        )
        response = server.accept(request)
        assert response.headers["Sec-WebSocket-Extensions"] == "x-dummy; ok"
        assert server.extensions == []  # not before the 101 is sent
        server.send_response(response)
        (extension,) = server.extensions
        assert isinstance(extension, DummyExtension)
        assert extension.params == [("a", "1")]

    def test_invalid_header(self) -> None:
        server = make_server(extensions=[DummyFactory()])
        request = received_request(server, request_bytes(*VALID_LINES, "Sec-WebSocket-Extensions: x-dummy;"))
        response = server.accept(request)
        assert response.status == 400
        assert isinstance(server.handshake_exc, InvalidHeader)


class TestRefusedRequests:
    """Requests that are well-formed HTTP but not acceptable WebSocket upgrades."""

    @pytest.mark.parametrize(
        ("lines", "exc_type", "expected"),
        [
            (
                VALID_LINES[1:],
                InvalidHeader,
                error_response(
                    "HTTP/1.1 400 Bad Request", "invalid Host header: missing", "Connection: close"
                ),
            ),
            (
                (*VALID_LINES[:3], *VALID_LINES[4:]),
                InvalidHeader,
                error_response(
                    "HTTP/1.1 400 Bad Request",
                    "invalid Sec-WebSocket-Key header: missing",
                    "Connection: close",
                ),
            ),
            (
                (*VALID_LINES[:4], "Sec-WebSocket-Version: 8"),
                InvalidVersion,
                error_response(
                    "HTTP/1.1 426 Upgrade Required",
                    "invalid Sec-WebSocket-Version header: expected '13', got '8'",
                    "Upgrade: websocket",
                    "Connection: Upgrade, close",
                    "Sec-WebSocket-Version: 13",
                ),
            ),
            (
                (VALID_LINES[0], *VALID_LINES[2:]),
                InvalidHeader,
                error_response(
                    "HTTP/1.1 426 Upgrade Required",
                    "invalid Upgrade header: missing",
                    "Upgrade: websocket",
                    "Connection: Upgrade, close",
                ),
            ),
            (
                (*VALID_LINES, "Origin: https://evil.example"),
                InvalidOrigin,
                error_response(
                    "HTTP/1.1 403 Forbidden",
                    "origin not allowed: 'https://evil.example'",
                    "Connection: close",
                ),
            ),
        ],
    )
    def test_refused(self, lines: Sequence[str], exc_type: type, expected: bytes) -> None:
        server = make_server(origins=["https://good.example", None])
        request = received_request(server, request_bytes(*lines))
        response = server.accept(request)
        assert type(server.handshake_exc) is exc_type
        server.send_response(response)
        assert server.data_to_send() == [expected, b""]
        assert server.state is State.CLOSED
        server.receive_data(MASKED_HELLO)
        assert server.events_received() == []
        assert server.data_to_send() == []

    def test_origin_missing(self) -> None:
        server = make_server(origins=["https://good.example"])
        response = server.accept(received_request(server, request_bytes(*VALID_LINES)))
        assert response.status == 403
        assert str(server.handshake_exc) == "missing Origin header"

    def test_origin_allowed(self) -> None:
        server = make_server(origins=["https://good.example"])
        request = received_request(server, request_bytes(*VALID_LINES, "Origin: https://good.example"))
        assert server.accept(request).status == 101

    def test_reject(self) -> None:
        server = make_server()
        received_request(server)
        response = server.reject(404, "Not here.\n")
        server.send_response(response)
        assert server.data_to_send() == [
            b"HTTP/1.1 404 Not Found\r\n"
            b"Connection: close\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: 10\r\n"
            b"\r\n"
            b"Not here.\n",
            b"",
        ]
        assert server.state is State.CLOSED
        assert server.handshake_exc is None  # the application's choice, not a failure
        server.send_response(response)  # closed: nothing happens
        assert server.data_to_send() == []


class TestMalformedRequests:
    """Requests that are not valid HTTP/1.1: answered by the protocol itself."""

    @pytest.mark.parametrize(
        ("data", "status_line", "text", "headers"),
        [
            (
                b"GET /chat HTTP/1.1\nHost: h\r\n\r\n",
                "HTTP/1.1 400 Bad Request",
                "line does not end with CRLF",
                (),
            ),
            (
                b"POST /chat HTTP/1.1\r\nHost: h\r\n\r\n",
                "HTTP/1.1 405 Method Not Allowed",
                "unsupported HTTP method: POST",
                ("Allow: GET",),
            ),
            (
                b"GET /chat HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",
                "HTTP/1.1 400 Bad Request",
                "obsolete line folding or leading whitespace in a header line",
                (),
            ),
            (
                b"GET /chat HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
                "HTTP/1.1 400 Bad Request",
                "the handshake request must not have a body (Content-Length)",
                (),
            ),
            (
                b"GET /chat HTTP/2.0\r\n\r\n",
                "HTTP/1.1 505 HTTP Version Not Supported",
                "unsupported HTTP version: 2.0",
                (),
            ),
        ],
    )
    @BYTEWISE
    def test_malformed(self, bytewise: bool, data: bytes, status_line: str, text: str, headers: Any) -> None:
        server = make_server()
        feed(server, data, bytewise)
        assert server.events_received() == []
        assert server.data_to_send() == [
            error_response(status_line, text, *headers, "Connection: close"),
            b"",
        ]
        assert isinstance(server.handshake_exc, InvalidHTTPMessage)
        assert str(server.handshake_exc) == text
        assert server.state is State.CLOSED
        assert server.request is None
        server.receive_data(b"more")
        assert server.data_to_send() == []

    def test_request_line_too_long_not_buffered(self) -> None:
        server = make_server(max_request_line=64)
        server.receive_data(b"GET /" + b"a" * 59)
        assert server.state is State.CONNECTING
        assert server._http_parser.buffered == 64
        server.receive_data(b"a" * 10_000)
        assert server.data_to_send() == [
            error_response(
                "HTTP/1.1 414 URI Too Long", "request line longer than 64 bytes", "Connection: close"
            ),
            b"",
        ]
        assert server.state is State.CLOSED

    def test_headers_too_large(self) -> None:
        server = make_server(max_header_size=256)
        server.receive_data(b"GET / HTTP/1.1\r\n" + b"X: 12345678901234567890\r\n" * 20)
        assert server.data_to_send() == [
            error_response(
                "HTTP/1.1 431 Request Header Fields Too Large",
                "HTTP head larger than 256 bytes",
                "Connection: close",
            ),
            b"",
        ]

    def test_too_many_headers(self) -> None:
        server = make_server(max_headers=5)
        server.receive_data(request_bytes(*VALID_LINES, "X: 1"))
        output = server.data_to_send()
        assert output[0].startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
        assert output[0].endswith(b"Failed to open a WebSocket connection: more than 5 headers.\n")


class TestStateErrors:
    def test_send_response_before_request(self) -> None:
        server = make_server()
        with pytest.raises(InvalidState):
            server.send_response(server.reject(400, "x"))

    def test_101_without_accept(self) -> None:
        server = make_server()
        request = received_request(server)
        other = make_server()
        response = other.accept(received_request(other))
        with pytest.raises(InvalidState, match="successful accept"):
            server.send_response(response)
        assert server.data_to_send() == []
        server.accept(request)
        server.send_response(response)
        assert server.state is State.OPEN

    def test_101_after_failed_accept(self) -> None:
        server = make_server()
        good = make_server()
        ok = good.accept(received_request(good))
        request = received_request(server, request_bytes(*VALID_LINES[1:]))
        assert server.accept(request).status == 400
        with pytest.raises(InvalidState):
            server.send_response(ok)

    def test_second_response(self) -> None:
        server = make_server()
        response = server.accept(received_request(server))
        server.send_response(response)
        with pytest.raises(InvalidState):
            server.send_response(response)

    def test_eof_during_handshake(self) -> None:
        server = make_server()
        server.receive_data(RFC_REQUEST[:10])
        server.receive_eof()
        assert isinstance(server.handshake_exc, InvalidMessage)
        assert str(server.handshake_exc) == "connection closed during the opening handshake"
        assert server.data_to_send() == [b""]
        assert server.state is State.CLOSED
        server.send_response(server.reject(400, "late"))  # closed: nothing happens
        assert server.data_to_send() == []

    def test_too_much_early_data(self) -> None:
        server = make_server(max_header_size=len(RFC_REQUEST) + 20)
        server.receive_data(RFC_REQUEST + b"x" * (len(RFC_REQUEST) + 20))
        (request,) = server.events_received()
        assert server.state is State.CONNECTING
        server.receive_data(b"x")
        assert server.state is State.CLOSED
        assert (
            str(server.handshake_exc)
            == f"more than {len(RFC_REQUEST) + 20} bytes received before the handshake response"
        )
        output = server.data_to_send()
        assert output[0].startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert output[1:] == [b""]
        server.send_response(server.accept(request))  # too late: nothing happens
        assert server.data_to_send() == []
