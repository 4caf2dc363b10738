"""The error tree: ConnectionClosed's close frames, escaped messages, where each error sits."""

from __future__ import annotations

import pickle
import warnings

import pytest

import fastws
from fastws import (
    Close,
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidAccessError,
    InvalidHandshake,
    InvalidHeader,
    InvalidHTTPMessage,
    InvalidMessage,
    InvalidStatus,
    SyntaxErr,
    WebSocketError,
)


class TestConnectionClosed:
    def test_frames_and_the_received_code(self) -> None:
        exc = ConnectionClosedOK(Close(1000, "bye"), Close(1000, ""), True)
        assert (exc.rcvd, exc.sent, exc.rcvd_then_sent) == (Close(1000, "bye"), Close(1000, ""), True)
        assert (exc.code, exc.reason) == (1000, "bye")

    def test_nothing_received(self) -> None:
        exc = ConnectionClosedError(None, Close(1002, "bad frame"))
        assert (exc.code, exc.reason, exc.rcvd_then_sent) == (1006, "", None)
        assert ConnectionClosed().code == 1006

    @pytest.mark.parametrize(
        ("exc", "text"),
        [
            (ConnectionClosed(), "no close frame received or sent"),
            (ConnectionClosed(None, Close(1002)), "sent 1002 (protocol error); no close frame received"),
            (ConnectionClosed(Close(1001, "bye")), "received 1001 (going away) bye; no close frame sent"),
            (
                ConnectionClosed(Close(1000), Close(1000), True),
                "received 1000 (normal closure); then sent 1000 (normal closure)",
            ),
            (
                ConnectionClosed(Close(1000), Close(1000, "done"), False),
                "sent 1000 (normal closure) done; then received 1000 (normal closure)",
            ),
        ],
    )
    def test_str_says_what_happened_in_order(self, exc: ConnectionClosed, text: str) -> None:
        assert str(exc) == text

    def test_str_and_repr_escape_peer_text(self) -> None:
        exc = ConnectionClosedError(Close(4000, "x\r\nCRITICAL \x1b[2J\x00"), Close(4000), True)
        assert (
            str(exc)
            == "received 4000 (private use) x\\r\\nCRITICAL \\x1b[2J\\x00; then sent 4000 (private use)"
        )
        assert repr(exc) == (
            "ConnectionClosedError(rcvd=Close(code=4000, reason='x\\r\\nCRITICAL \\x1b[2J\\x00'), "
            "sent=Close(code=4000, reason=''), rcvd_then_sent=True)"
        )

    def test_pickles(self) -> None:
        exc = ConnectionClosedOK(Close(1000, "bye"), Close(1000), False)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # unpickling must not take the deprecated path
            again = pickle.loads(pickle.dumps(exc))
        assert type(again) is ConnectionClosedOK
        assert (again.rcvd, again.sent, again.rcvd_then_sent) == (exc.rcvd, exc.sent, False)

    def test_old_signature_still_works_with_a_warning(self) -> None:
        with pytest.warns(DeprecationWarning, match=r"ConnectionClosed\(code, reason, sent_code=...\)"):
            exc = ConnectionClosedOK(1000, "bye", sent_code=1000)
        assert (exc.rcvd, exc.sent) == (Close(1000, "bye"), Close(1000, ""))
        with pytest.warns(DeprecationWarning, match="sent_code is deprecated"):
            assert exc.sent_code == 1000
        with pytest.warns(DeprecationWarning):
            exc = ConnectionClosedError(code=1006)
        assert exc.rcvd is None and exc.code == 1006
        with pytest.warns(DeprecationWarning):
            assert ConnectionClosedError(1006).sent_code is None


class TestTree:
    def test_every_error_is_a_websocket_error(self) -> None:
        from fastws import exceptions

        for name in exceptions.__all__:
            assert issubclass(getattr(exceptions, name), WebSocketError), name
            assert getattr(fastws, name) is getattr(exceptions, name), name

    def test_http_message_errors(self) -> None:
        exc = InvalidHTTPMessage(431, "HTTP head larger than 100 bytes")
        assert isinstance(exc, InvalidMessage) and isinstance(exc, InvalidHandshake)
        assert (exc.status, exc.detail, str(exc)) == (431, "HTTP head larger than 100 bytes", exc.detail)

    @pytest.mark.parametrize("cls", [InvalidAccessError, SyntaxErr])
    def test_browser_style_errors_are_value_errors_too(self, cls: type[Exception]) -> None:
        assert issubclass(cls, WebSocketError) and issubclass(cls, ValueError)
        from fastws.asyncio import browser

        assert getattr(browser, cls.__name__) is cls

    def test_every_message_is_escaped(self) -> None:
        assert str(InvalidStatus(403, "Forbidden\x9b2J")) == (
            "server rejected WebSocket connection: HTTP 403 Forbidden\\x9b2J"
        )
        assert str(InvalidHeader("Origin", "x\ny")) == "invalid Origin header: x\\ny"
        assert str(WebSocketError("a\x1bb")) == "a\\x1bb"
