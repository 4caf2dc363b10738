"""The fastws error tree.

Every exception fastws raises on purpose derives from :class:`WebSocketError`::

    WebSocketError
    ├── ProtocolError            the peer broke RFC 6455 (close code 1002)
    │   ├── InvalidFrame         a frame header breaks the framing rules (1002)
    │   ├── InvalidUTF8          a text payload or close reason is not UTF-8 (1007)
    │   ├── PayloadTooBig        a frame or message exceeds a limit (1009)
    │   └── InvalidCloseCode     a close frame carries a forbidden code (1002)
    ├── InvalidHandshake         the opening handshake failed
    │   ├── InvalidMessage       the HTTP request or response is malformed
    │   ├── InvalidStatus        the server answered something other than 101
    │   ├── InvalidHeader        a required header is missing or wrong
    │   ├── InvalidOrigin        the Origin is not in the allow-list (HTTP 403)
    │   ├── InvalidVersion       Sec-WebSocket-Version is not 13 (HTTP 426)
    │   └── NegotiationError     subprotocol or extension negotiation failed
    ├── InvalidState             the caller used the API in a wrong state
    └── ConnectionClosed         the connection is closed
        ├── ConnectionClosedOK       ... with 1000 / 1001 on both sides
        └── ConnectionClosedError    ... any other way

:class:`ProtocolError` and its subclasses carry ``close_code``: the RFC 6455
status code the connection must be failed with. They mean "the peer
misbehaved"; :class:`InvalidState` and plain ``ValueError`` / ``TypeError``
mean "the caller misused the API".
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "InvalidCloseCode",
    "InvalidFrame",
    "InvalidHandshake",
    "InvalidHeader",
    "InvalidMessage",
    "InvalidOrigin",
    "InvalidState",
    "InvalidStatus",
    "InvalidUTF8",
    "InvalidVersion",
    "NegotiationError",
    "PayloadTooBig",
    "ProtocolError",
    "WebSocketError",
]


class WebSocketError(Exception):
    """Base class of every error fastws raises on purpose."""


class ProtocolError(WebSocketError):
    """The peer broke RFC 6455; the connection must be failed.

    Attributes:
        close_code: the status code to send in the closing frame.
        frames: frames that were complete before the error in the same
            ``FrameParser.feed`` call (in order); they are still valid and
            should be processed before the connection is failed.
    """

    close_code: int = 1002

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.frames: list[Any] = []


class InvalidFrame(ProtocolError):
    """A frame breaks the framing rules of RFC 6455 section 5 (1002)."""

    close_code = 1002


class InvalidUTF8(ProtocolError):
    """A text message or a close reason is not valid UTF-8 (1007)."""

    close_code = 1007


class PayloadTooBig(ProtocolError):
    """A frame or a message is larger than the configured limit (1009)."""

    close_code = 1009


class InvalidCloseCode(ProtocolError):
    """A close frame carries a code that must not appear on the wire (1002)."""

    close_code = 1002


class InvalidHandshake(WebSocketError):
    """The opening handshake failed."""


class InvalidMessage(InvalidHandshake):
    """The HTTP request or response of the handshake is malformed."""


class InvalidStatus(InvalidHandshake):
    """The server answered the handshake with a status other than 101.

    Attributes:
        status: the HTTP status code of the answer.
        reason: its reason phrase.
        response: the whole parsed response (a ``fastws.Response``), when
            the handshake layer has it.
    """

    def __init__(self, status: int, reason: str = "", *args: Any) -> None:
        super().__init__(f"server rejected WebSocket connection: HTTP {status} {reason}".rstrip(), *args)
        self.status = status
        self.reason = reason
        self.response: Any = None


class InvalidHeader(InvalidHandshake):
    """A handshake header is missing, repeated or has a wrong value."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"invalid {name} header: {detail}")
        self.name = name
        self.detail = detail


class InvalidOrigin(InvalidHandshake):
    """The request's Origin is not allowed (answered with HTTP 403)."""


class InvalidVersion(InvalidHandshake):
    """The request's Sec-WebSocket-Version is not 13 (answered with 426)."""


class NegotiationError(InvalidHandshake):
    """Subprotocol or extension negotiation failed."""


class InvalidState(WebSocketError):
    """An operation is not allowed in the connection's current state."""


class ConnectionClosed(WebSocketError):
    """The connection is closed; raised by operations that need it open.

    Attributes:
        code: the close code received from the peer (1006 if none was).
        reason: the close reason received from the peer.
        sent_code: the close code fastws sent, if it sent one.
    """

    def __init__(self, code: int = 1006, reason: str = "", *, sent_code: int | None = None) -> None:
        self.code = code
        self.reason = reason
        self.sent_code = sent_code
        text = f"connection closed: {code}"
        if reason:
            text += f" ({reason})"
        super().__init__(text)


class ConnectionClosedOK(ConnectionClosed):
    """The connection was closed cleanly with 1000 or 1001."""


class ConnectionClosedError(ConnectionClosed):
    """The connection was closed with an error or without a closing handshake."""
