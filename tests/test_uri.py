"""WebSocket URIs (RFC 6455 section 3)."""

from __future__ import annotations

import pytest

from fastws.uri import WebSocketURI, parse_uri


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
