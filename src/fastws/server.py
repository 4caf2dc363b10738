"""The server role of the sans-IO protocol: the opening handshake, then frames.

Usage, with any transport::

    protocol = ServerProtocol(origins=["https://example.com"])
    protocol.receive_data(read())
    for event in protocol.events_received():
        if isinstance(event, Request):
            protocol.send_response(protocol.accept(event))
        ...
    write(protocol.data_to_send())

The request is parsed incrementally, with its request line, header lines,
header count and total size bounded; a malformed or oversize request is
answered at once (400, 405, 414, 431 or 505), ``handshake_exc`` is set and
the connection ends. Otherwise the :class:`~fastws.http11.Request` event
is emitted and the application answers with :meth:`ServerProtocol.accept`
(101, or 400/403/426 when the request is not an acceptable WebSocket
upgrade) or :meth:`ServerProtocol.reject`, then
:meth:`ServerProtocol.send_response`.

RFC 6455 section 4.1 requires the client to wait for the response before it
sends anything. Bytes that arrive early anyway (up to ``max_header_size``)
are kept and parsed as frames once the 101 is sent; more than that fails
the handshake with 400.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .exceptions import InvalidHandshake, InvalidHTTPMessage, InvalidMessage, InvalidState
from .extensions.base import ServerExtensionFactory
from .handshake import (
    USER_AGENT,
    SubprotocolSelector,
    build_accept_response,
    build_reject_response,
    check_origin,
    check_request,
    negotiate_extensions,
    negotiate_subprotocol,
    response_for_exception,
)
from .http11 import (
    MAX_HEADER_LINE,
    MAX_HEADER_SIZE,
    MAX_HEADERS,
    MAX_REQUEST_LINE,
    Request,
    RequestParser,
    Response,
)
from .protocol import Protocol, Side, State

__all__ = ["ServerProtocol"]

_SERVER = Side.SERVER
_CLOSED = State.CLOSED
_CONNECTING = State.CONNECTING
_OPEN = State.OPEN


class ServerProtocol(Protocol):
    """The server side of a WebSocket connection, from the opening handshake on.

    Args:
        origins: allowed Origin values (None in the list: requests without
            Origin are allowed); None to accept any origin.
        subprotocols: supported subprotocols, most preferred first; the
            first one the client also offered is chosen.
        extensions: server extension factories, tried in order for each
            offer of the client.
        select_subprotocol: ``select(request, offered) -> str | None``
            replaces the default choice of subprotocol; it may raise
            :class:`~fastws.NegotiationError` to refuse with 400.
        server_header: the Server header of responses; None for none.
        max_request_line: longest request line accepted, in bytes (414).
        max_header_line: longest header line accepted, in bytes (431).
        max_headers: most header lines accepted (431).
        max_header_size: largest request head accepted, in bytes (431);
            also bounds the bytes buffered before the 101 is sent.
        **protocol_kwargs: passed to :class:`~fastws.protocol.Protocol`
            (``max_size``, ``max_fragments``, ...).

    Attributes:
        request: the parsed request, once received.
        response: the response sent, once :meth:`send_response` was called.
        handshake_exc: why the opening handshake failed, or None.

    Raises:
        ValueError: an invalid option.
    """

    __slots__ = (
        "_available_extensions",
        "_early",
        "_http_parser",
        "_max_early",
        "_pending",
        "_select_subprotocol",
        "available_subprotocols",
        "origins",
        "request",
        "response",
        "server_header",
    )

    def __init__(
        self,
        *,
        origins: Sequence[str | None] | None = None,
        subprotocols: Sequence[str] | None = None,
        extensions: Sequence[ServerExtensionFactory] | None = None,
        select_subprotocol: SubprotocolSelector | None = None,
        server_header: str | None = USER_AGENT,
        max_request_line: int = MAX_REQUEST_LINE,
        max_header_line: int = MAX_HEADER_LINE,
        max_headers: int = MAX_HEADERS,
        max_header_size: int = MAX_HEADER_SIZE,
        **protocol_kwargs: Any,
    ) -> None:
        super().__init__(_SERVER, state=_CONNECTING, **protocol_kwargs)
        self.origins = list(origins) if origins is not None else None
        self.available_subprotocols = list(subprotocols) if subprotocols else None
        self._available_extensions = list(extensions) if extensions else None
        self._select_subprotocol = select_subprotocol
        self.server_header = server_header
        self.request: Request | None = None
        self.response: Response | None = None
        self._http_parser: RequestParser | None = RequestParser(
            max_line=max_request_line,
            max_header_line=max_header_line,
            max_headers=max_headers,
            max_size=max_header_size,
        )
        self._max_early = max_header_size
        self._early: bytearray | None = None
        self._pending: tuple[str | None, list[Any]] | None = None

    # -- receiving the request -------------------------------------------------

    def _receive_handshake(self, data: bytes) -> bytes | None:
        parser = self._http_parser
        if parser is None:
            # The request is complete and the response not sent yet: the
            # client did not wait. Keep the bytes, within the limit.
            early = self._early
            if early is None:
                early = self._early = bytearray()
            if len(early) + len(data) > self._max_early:
                self._early = None
                self._fail_handshake(
                    InvalidMessage(
                        f"more than {self._max_early} bytes received before the handshake response"
                    )
                )
                return None
            early += data
            return None
        try:
            result = parser.feed(data)
        except InvalidHTTPMessage as exc:
            self._http_parser = None
            self._fail_handshake(exc)
            return None
        if result is None:
            return None
        request, leftover = result
        self._http_parser = None
        self.request = request
        self._events.append(request)
        if leftover:
            return self._receive_handshake(leftover)
        return None

    def _fail_handshake(self, exc: InvalidHandshake) -> None:
        self.handshake_exc = exc
        response = response_for_exception(exc, server=self.server_header)
        self.response = response
        self._output.append(response.serialize())
        self._send_eof()

    # -- answering -----------------------------------------------------------------

    def accept(self, request: Request) -> Response:
        """Check the request and build the response to it.

        Runs every check of RFC 6455 section 4.2.1 (Host, Upgrade,
        Connection, Sec-WebSocket-Key, Sec-WebSocket-Version), the Origin
        allow-list, then negotiates the subprotocol and the extensions.

        Args:
            request: the :class:`~fastws.http11.Request` event.

        Returns:
            101 Switching Protocols; or, when the request is not acceptable,
            400 Bad Request, 403 Forbidden (origin) or 426 Upgrade Required
            (version, or not an upgrade to WebSocket), with the reason in the
            body and ``handshake_exc`` set. Pass it to :meth:`send_response`.

        Raises:
            ValueError: ``select_subprotocol`` chose a subprotocol the client
                did not offer.
        """
        try:
            key = check_request(request)
            check_origin(request, self.origins)
            subprotocol = negotiate_subprotocol(
                request, self.available_subprotocols, self._select_subprotocol
            )
            extensions_header, extensions = negotiate_extensions(request, self._available_extensions)
        except InvalidHandshake as exc:
            self.handshake_exc = exc
            return response_for_exception(exc, server=self.server_header)
        self._pending = (subprotocol, extensions)
        return build_accept_response(
            key, subprotocol=subprotocol, extensions=extensions_header, server=self.server_header
        )

    def reject(self, status: int, text: str) -> Response:
        """Build an error response with a plain-text body.

        Args:
            status: the HTTP status code.
            text: the body (UTF-8 plain text).

        Returns:
            The response (with ``Connection: close``), for :meth:`send_response`.
        """
        return build_reject_response(status, text, server=self.server_header)

    def send_response(self, response: Response) -> None:
        """Queue the response; a 101 opens the connection, anything else ends it.

        After a 101, bytes the client sent early are parsed as frames at
        once: drain :meth:`~fastws.protocol.Protocol.events_received` and :meth:`~fastws.protocol.Protocol.data_to_send`. After
        another status, ``data_to_send`` ends with ``b""`` and the state is
        ``CLOSED``. Does nothing if the connection is already closed (the
        client went away, or sent too much before the answer).

        Args:
            response: from :meth:`accept` or :meth:`reject`.

        Raises:
            InvalidState: no request was received yet, a response was sent
                already, or a 101 without a successful :meth:`accept`.
        """
        if self.state is _CLOSED:
            return
        if self.state is not _CONNECTING or self.request is None:
            raise InvalidState("no request to answer, or the response was already sent")
        # The request and the response are kept for the connection's
        # lifetime (applications read them): their headers need no lookup
        # index from now on.
        self.request.headers.compact()
        response.headers.compact()
        if response.status == 101:
            pending = self._pending
            if pending is None:
                raise InvalidState("a 101 response needs a successful accept()")
            self._output.append(response.serialize())
            self.response = response
            self.subprotocol, extensions = pending
            if extensions:  # none: the protocol is set up for none already
                self.extensions = extensions
            self._pending = None
            self.state = _OPEN
            early = self._early
            self._early = None
            if early:
                self.receive_data(bytes(early))
        else:
            self._output.append(response.serialize())
            self.response = response
            self._early = None
            self._send_eof()
