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
    │   │   └── InvalidHTTPMessage   ... with the HTTP status a server answers (400, 414, 431, ...)
    │   ├── InvalidStatus        the server answered something other than 101
    │   ├── InvalidHeader        a required header is missing or wrong
    │   ├── InvalidOrigin        the Origin is not in the allow-list (HTTP 403)
    │   ├── InvalidVersion       Sec-WebSocket-Version is not 13 (HTTP 426)
    │   └── NegotiationError     subprotocol or extension negotiation failed
    ├── InvalidState             the caller used the API in a wrong state
    ├── InvalidAccessError       (also a ValueError) the browser-style API's InvalidAccessError
    ├── SyntaxErr                (also a ValueError) the browser-style API's SyntaxError
    └── ConnectionClosed         the connection is closed
        ├── ConnectionClosedOK       ... with 1000 / 1001 on both sides
        └── ConnectionClosedError    ... any other way

:class:`ProtocolError` and its subclasses carry ``close_code``: the RFC 6455
status code the connection must be failed with. They mean "the peer
misbehaved"; :class:`InvalidState` and plain ``ValueError`` / ``TypeError``
mean "the caller misused the API".

The message of every one of them (``str(exc)``) has its control characters
escaped (:func:`fastws.escaping.escape`): it may quote a close reason, a
reason phrase or a header value that a peer chose, and it ends up in logs.
The attributes keep the text as it was received.
"""

from __future__ import annotations

import warnings
from typing import Any

from .escaping import escape
from .frames import Close

__all__ = [
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "InvalidAccessError",
    "InvalidCloseCode",
    "InvalidFrame",
    "InvalidHTTPMessage",
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
    "SyntaxErr",
    "WebSocketError",
]


class WebSocketError(Exception):
    """Base class of every error fastws raises on purpose."""

    def __str__(self) -> str:
        # Messages quote peer text (reasons, header values): escape it here,
        # once for every subclass, so no log line or terminal receives it raw.
        return escape(super().__str__())


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


class InvalidHTTPMessage(InvalidMessage):
    """The HTTP head is malformed or too large.

    Attributes:
        status: the HTTP status a server answers with: 400 (malformed),
            405 (not GET), 414 (request line too long), 431 (a header line,
            the head or the number of headers is too large), 505 (not
            HTTP/1.x).
        detail: what was wrong, in words.
    """

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


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


class InvalidAccessError(WebSocketError, ValueError):
    """The WHATWG ``InvalidAccessError``: a close code the browser-style API may not send.

    A :class:`ValueError` too, as a wrong argument value is one.
    """


class SyntaxErr(WebSocketError, ValueError):
    """The WHATWG ``SyntaxError`` DOMException: a bad URL, subprotocol or close reason.

    Named so as not to shadow Python's own :class:`SyntaxError`; a
    :class:`ValueError` too.
    """


class ConnectionClosed(WebSocketError):
    """The connection is closed; raised by operations that need it open.

    Args:
        rcvd: the close frame received, None if none was.
        sent: the close frame sent, None if none was.
        rcvd_then_sent: with both frames, whether the peer's came first
            (the peer started the closing handshake); None otherwise.

    Attributes:
        rcvd: the close frame received (:class:`fastws.Close`), or None.
        sent: the close frame sent, or None.
        rcvd_then_sent: whether the received frame came before the sent
            one; None unless both exist.
        code: the close code received: ``rcvd.code``, 1006 when no close
            frame was received (1005 when it had no code).
        reason: the close reason received, "" when none was.

    The former signature, ``ConnectionClosed(code, reason, sent_code=...)``,
    and the ``sent_code`` attribute still work for one minor release and
    raise :class:`DeprecationWarning`.
    """

    def __init__(
        self,
        rcvd: Close | int | None = None,
        sent: Close | str | None = None,
        rcvd_then_sent: bool | None = None,
        *,
        code: int | None = None,
        reason: str | None = None,
        sent_code: int | None = None,
    ) -> None:
        if isinstance(rcvd, int) or isinstance(sent, str) or (code, reason, sent_code) != (None, None, None):
            warnings.warn(
                "ConnectionClosed(code, reason, sent_code=...) is deprecated; "
                "pass the close frames: ConnectionClosed(rcvd, sent, rcvd_then_sent)",
                DeprecationWarning,
                stacklevel=2,
            )
            old_code = rcvd if isinstance(rcvd, int) else 1006 if code is None else code
            old_reason = sent if isinstance(sent, str) else reason or ""
            # The former 1006 meant "no close frame received".
            rcvd = None if old_code == 1006 else Close(old_code, old_reason)
            sent = None if sent_code is None else Close(sent_code, "")
        self.rcvd: Close | None = rcvd
        self.sent: Close | None = sent
        self.rcvd_then_sent: bool | None = rcvd_then_sent
        super().__init__(rcvd, sent, rcvd_then_sent)

    @property
    def code(self) -> int:
        """The close code received; 1006 when no close frame was received."""
        return 1006 if self.rcvd is None else self.rcvd.code

    @property
    def reason(self) -> str:
        """The close reason received, as received; "" when none was."""
        return "" if self.rcvd is None else self.rcvd.reason

    @property
    def sent_code(self) -> int | None:
        """Deprecated: the close code sent, if any; use ``sent.code``."""
        warnings.warn(
            "ConnectionClosed.sent_code is deprecated; use ConnectionClosed.sent.code",
            DeprecationWarning,
            stacklevel=2,
        )
        return None if self.sent is None else self.sent.code

    def __str__(self) -> str:
        # Close.__str__ escapes the reasons.
        rcvd, sent = self.rcvd, self.sent
        if rcvd is None:
            if sent is None:
                return "no close frame received or sent"
            return f"sent {sent}; no close frame received"
        if sent is None:
            return f"received {rcvd}; no close frame sent"
        if self.rcvd_then_sent:
            return f"received {rcvd}; then sent {sent}"
        return f"sent {sent}; then received {rcvd}"

    def __repr__(self) -> str:
        # repr() of the Close frames escapes their reasons.
        return f"{type(self).__name__}(rcvd={self.rcvd!r}, sent={self.sent!r}, rcvd_then_sent={self.rcvd_then_sent!r})"


class ConnectionClosedOK(ConnectionClosed):
    """The connection was closed cleanly with 1000 or 1001."""


class ConnectionClosedError(ConnectionClosed):
    """The connection was closed with an error or without a closing handshake."""
