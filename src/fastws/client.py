"""The client role of the sans-IO protocol: the opening handshake, then frames.

Usage, with any transport::

    protocol = ClientProtocol("wss://example.com/chat")
    protocol.send_request(protocol.connect())
    write(protocol.data_to_send())
    ...
    protocol.receive_data(read())
    for event in protocol.events_received():
        ...  # first a Response (the validated 101), then messages

The response is parsed incrementally with bounded size. Success emits the
:class:`~fastws.http11.Response` event and opens the connection; the
bytes that followed the response in the same read are parsed as frames at
once. Failure sets ``handshake_exc`` (an :class:`~fastws.InvalidHandshake`
subclass naming what was wrong), emits nothing, queues ``b""`` (close TCP)
and leaves the connection ``CLOSED``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .exceptions import InvalidHandshake, InvalidState
from .extensions.base import ClientExtensionFactory
from .handshake import USER_AGENT, build_request, check_response
from .headers import HeadersLike
from .http11 import (
    MAX_HEADER_LINE,
    MAX_HEADER_SIZE,
    MAX_HEADERS,
    MAX_REQUEST_LINE,
    Request,
    Response,
    ResponseParser,
)
from .protocol import Protocol, Side, State
from .uri import WebSocketURI, parse_uri

__all__ = ["ClientProtocol"]

_CLIENT = Side.CLIENT
_CONNECTING = State.CONNECTING
_OPEN = State.OPEN


class ClientProtocol(Protocol):
    """The client side of a WebSocket connection, from the opening handshake on.

    Args:
        uri: a ``ws://`` / ``wss://`` URI, or ``(host, port, path, secure)``.
        origin: the Origin header to send, if any.
        subprotocols: subprotocols to offer, most preferred first.
        extensions: extension factories whose offers to send, in order.
        additional_headers: more request headers.
        user_agent: the User-Agent header; None to send none.
        max_status_line: longest status line accepted, in bytes.
        max_header_line: longest response header line accepted, in bytes.
        max_headers: most response header lines accepted.
        max_header_size: largest response head accepted, in bytes.
        **protocol_kwargs: passed to :class:`~fastws.protocol.Protocol`
            (``max_size``, ``max_fragments``, ...).

    Attributes:
        uri: the parsed URI.
        request: the request sent, once :meth:`send_request` was called.
        response: the server's 101 response, once validated.
        handshake_exc: why the opening handshake failed, or None.

    Raises:
        ValueError: an invalid URI or option.
    """

    __slots__ = (
        "_available_extensions",
        "_http_parser",
        "additional_headers",
        "available_subprotocols",
        "origin",
        "request",
        "response",
        "uri",
        "user_agent",
    )

    def __init__(
        self,
        uri: str | WebSocketURI | tuple[str, int, str, bool],
        *,
        origin: str | None = None,
        subprotocols: Sequence[str] | None = None,
        extensions: Sequence[ClientExtensionFactory] | None = None,
        additional_headers: HeadersLike | None = None,
        user_agent: str | None = USER_AGENT,
        max_status_line: int = MAX_REQUEST_LINE,
        max_header_line: int = MAX_HEADER_LINE,
        max_headers: int = MAX_HEADERS,
        max_header_size: int = MAX_HEADER_SIZE,
        **protocol_kwargs: Any,
    ) -> None:
        super().__init__(_CLIENT, state=_CONNECTING, **protocol_kwargs)
        if isinstance(uri, str):
            self.uri = parse_uri(uri)
        elif isinstance(uri, WebSocketURI):
            self.uri = uri
        else:
            host, port, path, secure = uri
            self.uri = WebSocketURI(bool(secure), host, int(port), path)
        self.origin = origin
        self.available_subprotocols = list(subprotocols) if subprotocols else None
        self._available_extensions = list(extensions) if extensions else None
        self.additional_headers = additional_headers
        self.user_agent = user_agent
        self.request: Request | None = None
        self.response: Response | None = None
        self._http_parser: ResponseParser | None = ResponseParser(
            max_line=max_status_line,
            max_header_line=max_header_line,
            max_headers=max_headers,
            max_size=max_header_size,
        )

    def connect(self) -> Request:
        """Build the opening handshake request, with a fresh key.

        It may be modified (headers added) before :meth:`send_request`; the
        response is checked against what is actually sent.

        Returns:
            The request.

        Raises:
            ValueError: an invalid subprotocol, extension offer or header.
        """
        uri = self.uri
        return build_request(
            uri.host,
            uri.port,
            uri.path,
            uri.secure,
            origin=self.origin,
            subprotocols=self.available_subprotocols,
            extensions=self._available_extensions,
            additional_headers=self.additional_headers,
            user_agent=self.user_agent,
        )

    def send_request(self, request: Request) -> None:
        """Queue the request for sending (see :meth:`~fastws.protocol.Protocol.data_to_send`).

        Args:
            request: usually what :meth:`connect` returned.

        Raises:
            InvalidState: a request was sent already, or the connection is
                not CONNECTING.
        """
        if self.state is not _CONNECTING or self.request is not None:
            raise InvalidState("the opening handshake request was already sent")
        data = request.serialize()
        self.request = request
        self._output.append(data)

    def _receive_handshake(self, data: bytes) -> bytes | None:
        request = self.request
        if request is None:
            raise InvalidState("send_request() must be called before receive_data()")
        parser = self._http_parser
        assert parser is not None
        try:
            result = parser.feed(data)
            if result is None:
                return None
            response, leftover = result
            subprotocol, extensions = check_response(response, request, self._available_extensions)
        except InvalidHandshake as exc:
            self._http_parser = None
            self.handshake_exc = exc
            self._send_eof()
            return None
        self._http_parser = None
        response.headers.compact()  # kept for reference only from now on
        self.response = response
        self.subprotocol = subprotocol
        if extensions:  # none: the protocol is set up for none already
            self.extensions = extensions
        self.state = _OPEN
        self._events.append(response)
        # Frames the server sent right after its 101, possibly in the same
        # packet, are parsed by Protocol.receive_data from here.
        return leftover
