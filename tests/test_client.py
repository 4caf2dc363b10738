"""ClientProtocol: the client's opening handshake (RFC 6455 section 4.1), then frames."""

from __future__ import annotations

from typing import Any

import pytest

from fastws.events import TextMessage
from fastws.exceptions import (
    InvalidHeader,
    InvalidHTTPMessage,
    InvalidMessage,
    InvalidState,
    InvalidStatus,
    NegotiationError,
)
from fastws.extensions.base import ClientExtensionFactory, Extension
from fastws.headers import Headers
from fastws.http11 import Request, Response
from fastws.protocol import State
from fastws.uri import WebSocketURI

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

# Unmasked text frames "Hello" and "Hi" from a server (RFC 6455 section 5.7).
HELLO_FRAME = b"\x81\x05Hello"
HI_FRAME = b"\x81\x02Hi"


def ok_response(*extra: str, accept: str = RFC_ACCEPT) -> bytes:
    lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade"]
    lines.append(f"Sec-WebSocket-Accept: {accept}")
    lines.extend(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def make_client(**kwargs: Any) -> Any:
    from fastws.client import ClientProtocol

    return ClientProtocol("ws://server.example.com/chat", **kwargs)


def rfc_request(**kwargs: Any) -> Request:
    """The request with the RFC's key, so that RFC_ACCEPT answers it."""
    return Request(
        "/chat",
        Headers(
            [
                ("Host", "server.example.com"),
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", RFC_KEY),
                ("Sec-WebSocket-Version", "13"),
                *kwargs.get("extra", ()),
            ]
        ),
    )


def opened_client(**kwargs: Any) -> Any:
    """A client whose request (with the RFC key) was sent and drained."""
    client = make_client(**kwargs)
    client.send_request(rfc_request())
    client.data_to_send()
    return client


def feed(client: Any, data: bytes, bytewise: bool) -> None:
    if bytewise:
        for index in range(len(data)):
            client.receive_data(data[index : index + 1])
    else:
        client.receive_data(data)


BYTEWISE = pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])


class TestConstruction:
    def test_uri_forms(self) -> None:
        from fastws.client import ClientProtocol

        expected = WebSocketURI(True, "example.com", 8443, "/a?b")
        assert ClientProtocol("wss://example.com:8443/a?b").uri == expected
        assert ClientProtocol(("example.com", 8443, "/a?b", True)).uri == expected
        assert ClientProtocol(expected).uri == expected
        client = ClientProtocol("ws://h/")
        assert client.state is State.CONNECTING
        assert client.data_to_send() == []
        assert client.events_received() == []

    def test_invalid_uri(self) -> None:
        from fastws.client import ClientProtocol

        with pytest.raises(ValueError, match="must not have a fragment"):
            ClientProtocol("ws://h/#x")

    def test_protocol_kwargs_pass_through(self) -> None:
        client = make_client(max_size=10, max_fragments=3)
        assert client.max_size == 10
        assert client.max_fragments == 3


class TestRequest:
    """RFC 6455 section 4.1: the request the client sends."""

    def test_connect_and_send_request(self) -> None:
        client = make_client(
            origin="http://example.com",
            subprotocols=["chat", "superchat"],
            additional_headers={"X-Token": "t"},
            user_agent="test-agent",
        )
        request = client.connect()
        key = request.headers["Sec-WebSocket-Key"]
        assert request.serialize() == (
            b"GET /chat HTTP/1.1\r\n"
            b"Host: server.example.com\r\n"
            b"Upgrade: websocket\r\n"
            b"Connection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + key.encode() + b"\r\n"
            b"Sec-WebSocket-Version: 13\r\n"
            b"Origin: http://example.com\r\n"
            b"Sec-WebSocket-Protocol: chat, superchat\r\n"
            b"User-Agent: test-agent\r\n"
            b"X-Token: t\r\n"
            b"\r\n"
        )
        assert client.connect().headers["Sec-WebSocket-Key"] != key  # fresh key each time
        client.send_request(request)
        assert client.request is request
        assert client.data_to_send() == [request.serialize()]
        assert client.state is State.CONNECTING
        with pytest.raises(InvalidState):
            client.send_request(request)

    def test_receive_before_request(self) -> None:
        with pytest.raises(InvalidState, match="send_request"):
            make_client().receive_data(ok_response())

    def test_send_before_open(self) -> None:
        client = opened_client()
        with pytest.raises(InvalidState):
            client.send_text("x")


class TestResponse:
    """RFC 6455 section 4.1: the client validates the server's response."""

    @BYTEWISE
    def test_accepted(self, bytewise: bool) -> None:
        client = opened_client()
        feed(client, ok_response("Server: x"), bytewise)
        events = client.events_received()
        assert len(events) == 1
        response = events[0]
        assert isinstance(response, Response)
        assert (response.status, response.reason) == (101, "Switching Protocols")
        assert response.headers["Server"] == "x"
        assert client.response is response
        assert client.state is State.OPEN
        assert client.handshake_exc is None
        assert client.subprotocol is None
        assert client.data_to_send() == []

    @BYTEWISE
    def test_frames_in_the_same_packet(self, bytewise: bool) -> None:
        client = opened_client()
        feed(client, ok_response() + HELLO_FRAME + HI_FRAME, bytewise)
        events = client.events_received()
        assert [type(event) for event in events] == [Response, TextMessage, TextMessage]
        assert events[1:] == [TextMessage("Hello"), TextMessage("Hi")]

    def test_frame_split_across_the_response(self) -> None:
        client = opened_client()
        data = ok_response() + HELLO_FRAME
        client.receive_data(data[:-3])
        client.receive_data(data[-3:])
        assert client.events_received()[1:] == [TextMessage("Hello")]

    def test_subprotocol(self) -> None:
        client = make_client(subprotocols=["chat", "superchat"])
        client.send_request(rfc_request(extra=[("Sec-WebSocket-Protocol", "chat, superchat")]))
        client.receive_data(ok_response("Sec-WebSocket-Protocol: superchat"))
        assert client.subprotocol == "superchat"
        assert client.state is State.OPEN

    def test_open_then_masked_frames_out(self) -> None:
        client = opened_client()
        client.receive_data(ok_response())
        client.send_text("Hello")
        (frame,) = client.data_to_send()
        assert frame[:2] == b"\x81\x85"  # FIN + text, MASK bit + length 5
        assert len(frame) == 2 + 4 + 5


class DummyExtension(Extension):
    name = "x-dummy"
    rsv1 = True

    def __init__(self, params: Any) -> None:
        self.params = params

    def decode(self, frame: Any, *, max_size: int | None = None) -> Any:
        return frame

    def encode(self, frame: Any) -> Any:
        return frame


class DummyOffer(ClientExtensionFactory):
    name = "x-dummy"

    def get_request_params(self) -> list[Any]:
        return [("p", None)]

    def process_response_params(self, params: Any, accepted: Any) -> Extension:
        if ("bad", None) in params:
            raise NegotiationError("bad parameter")
        return DummyExtension(list(params))


class TestExtensions:
    def test_offer_and_accept(self) -> None:
        client = make_client(extensions=[DummyOffer()])
        request = client.connect()
        assert request.headers["Sec-WebSocket-Extensions"] == "x-dummy; p"
        client.send_request(rfc_request(extra=[("Sec-WebSocket-Extensions", "x-dummy; p")]))
        client.receive_data(ok_response("Sec-WebSocket-Extensions: x-dummy; q=1"))
        assert client.state is State.OPEN
        (extension,) = client.extensions
        assert isinstance(extension, DummyExtension)
        assert extension.params == [("q", "1")]

    def test_refused_parameters(self) -> None:
        client = make_client(extensions=[DummyOffer()])
        client.send_request(rfc_request())
        client.receive_data(ok_response("Sec-WebSocket-Extensions: x-dummy; bad"))
        assert isinstance(client.handshake_exc, NegotiationError)
        assert client.state is State.CLOSED


class TestFailures:
    """Every failure: handshake_exc set, no event, EOF queued, CLOSED."""

    @pytest.mark.parametrize(
        ("data", "exc_type", "message"),
        [
            (
                b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno",
                InvalidStatus,
                "server rejected WebSocket connection: HTTP 403 Forbidden",
            ),
            (
                ok_response(accept="AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
                InvalidHeader,
                f"invalid Sec-WebSocket-Accept header: expected '{RFC_ACCEPT}', got 'AAAAAAAAAAAAAAAAAAAAAAAAAAA='",
            ),
            (
                b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + RFC_ACCEPT.encode() + b"\r\n\r\n",
                InvalidHeader,
                "invalid Upgrade header: missing",
            ),
            (
                ok_response("Sec-WebSocket-Protocol: chat"),
                NegotiationError,
                "Sec-WebSocket-Protocol: chat was not offered",
            ),
            (
                ok_response("Sec-WebSocket-Extensions: permessage-deflate"),
                NegotiationError,
                "Sec-WebSocket-Extensions: permessage-deflate was not offered",
            ),
            (
                b"HTTP/1.1 101 OK\nUpgrade: websocket\r\n\r\n",
                InvalidHTTPMessage,
                "line does not end with CRLF",
            ),
            (
                b"HTTP/1.0 101 OK\r\n\r\n",
                InvalidHTTPMessage,
                "unsupported HTTP version: 1.0; HTTP/1.1 is required",
            ),
        ],
    )
    @BYTEWISE
    def test_failure(self, bytewise: bool, data: bytes, exc_type: type, message: str) -> None:
        client = opened_client()
        feed(client, data + HELLO_FRAME, bytewise)
        assert type(client.handshake_exc) is exc_type
        assert str(client.handshake_exc) == message
        assert client.events_received() == []
        assert client.data_to_send() == [b""]
        assert client.state is State.CLOSED
        assert client.response is None
        # Anything afterwards is ignored.
        client.receive_data(HELLO_FRAME)
        assert client.events_received() == []
        assert client.data_to_send() == []

    def test_status_keeps_response(self) -> None:
        client = opened_client()
        client.receive_data(b"HTTP/1.1 404 Not Found\r\nX: y\r\n\r\n")
        exc = client.handshake_exc
        assert isinstance(exc, InvalidStatus)
        assert exc.status == 404
        assert exc.response.headers["X"] == "y"  # type: ignore[attr-defined]

    def test_oversize_response_not_buffered(self) -> None:
        client = make_client(max_header_line=100)
        client.send_request(rfc_request())
        client.data_to_send()
        client.receive_data(b"HTTP/1.1 101 Switching Protocols\r\nX: " + b"a" * 97)
        assert client.state is State.CONNECTING
        assert client._http_parser.buffered == 100
        client.receive_data(b"a")
        assert isinstance(client.handshake_exc, InvalidHTTPMessage)
        assert str(client.handshake_exc) == "header line longer than 100 bytes"
        assert client.data_to_send() == [b""]
        assert client.state is State.CLOSED

    def test_too_many_headers(self) -> None:
        client = make_client(max_headers=3)
        client.send_request(rfc_request())
        client.receive_data(ok_response("A: 1"))
        assert str(client.handshake_exc) == "more than 3 headers"

    def test_eof_during_handshake(self) -> None:
        client = opened_client()
        client.receive_data(ok_response()[:20])
        client.receive_eof()
        assert isinstance(client.handshake_exc, InvalidMessage)
        assert str(client.handshake_exc) == "connection closed during the opening handshake"
        assert client.data_to_send() == [b""]
        assert client.state is State.CLOSED
        assert client.events_received() == []

    def test_eof_after_failure_keeps_the_first_error(self) -> None:
        client = opened_client()
        client.receive_data(b"HTTP/1.1 500 Oops\r\n\r\n")
        first = client.handshake_exc
        client.receive_eof()
        assert client.handshake_exc is first
        assert client.data_to_send() == [b""]
