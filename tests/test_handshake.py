"""The WebSocket rules of the opening handshake (RFC 6455 section 4): keys, checks, negotiation."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastws.exceptions import (
    InvalidHandshake,
    InvalidHeader,
    InvalidHTTPMessage,
    InvalidOrigin,
    InvalidStatus,
    InvalidVersion,
    NegotiationError,
)
from fastws.extensions.base import ClientExtensionFactory, ServerExtensionFactory
from fastws.handshake import (
    accept_key,
    build_accept_response,
    build_reject_response,
    build_request,
    check_origin,
    check_request,
    check_response,
    generate_key,
    negotiate_extensions,
    negotiate_subprotocol,
    response_for_exception,
)
from fastws.http11 import Request, RequestParser, Response, ResponseParser
from vectors import RFC_ACCEPT, RFC_KEY, RFC_REQUEST, RFC_RESPONSE


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


def request_with(*replace: tuple[str, str | None], extra: Sequence[str] = ()) -> Request:
    """The valid request with some header lines replaced (None: removed)."""
    lines = list(VALID_LINES)
    for name, line in replace:
        lines = [item for item in lines if not item.lower().startswith(name.lower() + ":")]
        if line is not None:
            lines.append(line)
    result = RequestParser().feed(request_bytes(*lines, *extra))
    assert result is not None
    return result[0]  # type: ignore[no-any-return]


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


class TestServerChecks:
    """RFC 6455 section 4.2.1: what the server requires of the request."""

    def test_valid(self) -> None:
        result = RequestParser().feed(RFC_REQUEST)
        assert result is not None
        assert check_request(result[0]) == RFC_KEY

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

    @given(
        st.one_of(st.binary(min_size=16, max_size=16), st.binary(max_size=24)),
        st.sampled_from(["canonical", "other last character", "unpadded"]),
        st.integers(0, 63),
    )
    def test_key_accepted_when_it_decodes_to_16_bytes(self, raw: bytes, spelling: str, char: int) -> None:
        # The judge is the standard library's strict base64 decoder, not the
        # regular expression of the common case: a key is accepted exactly
        # when it decodes to 16 bytes, whatever its spelling (for 16 bytes,
        # a last character whose padding bits are not zero still decodes).
        key = base64.b64encode(raw).decode()
        if spelling == "other last character" and key.endswith("=="):
            alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
            key = key[:-3] + alphabet[char] + "=="
        elif spelling == "unpadded":
            key = key.rstrip("=")
        try:
            expected = len(base64.b64decode(key, validate=True)) == 16
        except binascii.Error:
            expected = False
        request = request_with(("Sec-WebSocket-Key", f"Sec-WebSocket-Key: {key}"))
        if expected:
            assert check_request(request) == key
        else:
            with pytest.raises(InvalidHeader, match="Sec-WebSocket-Key"):
                check_request(request)

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


class TestMovedNames:
    """The names that moved to headers, http11, uri and extensions.base still import from here."""

    @pytest.mark.parametrize(
        ("name", "module"),
        [
            ("Headers", "fastws.headers"),
            ("parse_extension_list", "fastws.headers"),
            ("Request", "fastws.http11"),
            ("MAX_HEADER_LINE", "fastws.http11"),
            ("parse_uri", "fastws.uri"),
            ("ExtensionParameter", "fastws.extensions.base"),
            ("ServerExtensionFactory", "fastws.extensions.base"),
        ],
    )
    def test_old_spelling_warns(self, name: str, module: str) -> None:
        import importlib

        import fastws.handshake

        with pytest.warns(DeprecationWarning, match=f"fastws.handshake.{name} moved to {module}.{name}"):
            value = getattr(fastws.handshake, name)
        assert value is getattr(importlib.import_module(module), name)

    def test_unknown_name(self) -> None:
        import fastws.handshake

        with pytest.raises(AttributeError):
            fastws.handshake.no_such_name  # noqa: B018
