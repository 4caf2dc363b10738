"""The WebSocket opening handshake: the rules of RFC 6455 section 4.

Pure functions, standard library only, no I/O. The HTTP they travel in is
elsewhere: :mod:`fastws.headers` (the header multi-dict and list grammars),
:mod:`fastws.http11` (the messages and their bounded parsers),
:mod:`fastws.uri` (``ws://`` URIs) and :mod:`fastws.extensions.base` (the
extension negotiation interface). Here:

* the keys: :func:`accept_key`, :func:`generate_key`;
* the server's checks (:func:`check_request`, :func:`check_origin`,
  :func:`negotiate_subprotocol`, :func:`negotiate_extensions`) and responses
  (:func:`build_accept_response`, :func:`build_reject_response`,
  :func:`response_for_exception`);
* the client's request (:func:`build_request`) and response check
  (:func:`check_response`).

Decisions where the RFCs leave room:

* The server picks the subprotocol in *its own* preference order, among
  those the client offered; with no common subprotocol it answers without
  one (RFC 6455 section 4.2.2: "null"), and the client decides.
* No ``Date`` header: the sans-IO layer does not read the clock; the I/O
  layer may add one.

The names that moved out of this module (``Headers``, ``Request``,
``parse_uri``, ``ClientExtensionFactory``, ...) still import from here for
one minor release, with a :class:`DeprecationWarning`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import http
import importlib
import os
import re
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import _twins
from . import headers as _headers
from . import http11 as _http11
from .exceptions import (
    InvalidHeader,
    InvalidHTTPMessage,
    InvalidOrigin,
    InvalidStatus,
    InvalidVersion,
    NegotiationError,
)
from .version import __version__

if TYPE_CHECKING:
    from .extensions.base import ClientExtensionFactory, Extension, ExtensionHeader, ServerExtensionFactory
    from .headers import HeadersLike
    from .http11 import Request, Response

__all__ = [
    "USER_AGENT",
    "SubprotocolSelector",
    "accept_key",
    "build_accept_response",
    "build_reject_response",
    "build_request",
    "check_origin",
    "check_request",
    "check_response",
    "generate_key",
    "negotiate_extensions",
    "negotiate_subprotocol",
    "response_for_exception",
]

#: The default User-Agent (client) and Server (server) header value.
USER_AGENT = f"Python/{sys.version_info[0]}.{sys.version_info[1]} fastws/{__version__}"


# Names that lived here until 0.1: where they are now. Importing them from
# here still works, with a DeprecationWarning, for one minor release.
_MOVED = {
    "MAX_HEADERS": "fastws.http11",
    "MAX_HEADER_LINE": "fastws.http11",
    "MAX_HEADER_SIZE": "fastws.http11",
    "MAX_REQUEST_LINE": "fastws.http11",
    "Request": "fastws.http11",
    "RequestParser": "fastws.http11",
    "Response": "fastws.http11",
    "ResponseParser": "fastws.http11",
    "Headers": "fastws.headers",
    "HeadersLike": "fastws.headers",
    "build_extension_list": "fastws.headers",
    "build_subprotocol_list": "fastws.headers",
    "parse_extension_list": "fastws.headers",
    "parse_subprotocol_list": "fastws.headers",
    "parse_token_list": "fastws.headers",
    "WebSocketURI": "fastws.uri",
    "parse_uri": "fastws.uri",
    "ClientExtensionFactory": "fastws.extensions.base",
    "ExtensionHeader": "fastws.extensions.base",
    "ExtensionParameter": "fastws.extensions.base",
    "ServerExtensionFactory": "fastws.extensions.base",
}


def __getattr__(name: str) -> Any:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module 'fastws.handshake' has no attribute {name!r}")
    warnings.warn(
        f"fastws.handshake.{name} moved to {module}.{name}; import it from there",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(module), name)


# --------------------------------------------------------------------------
# Keys


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value for a ``Sec-WebSocket-Key``.

    RFC 6455 section 4.2.2: base64 of the SHA-1 of the key followed by
    ``258EAFA5-E914-47DA-95CA-C5AB0DC85B11``.

    Args:
        key: the client's key, as sent.

    Returns:
        The accept value, e.g. ``s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`` for the
        RFC's example key ``dGhlIHNhbXBsZSBub25jZQ==``.
    """
    return _twins.accept_key(key)


def generate_key() -> str:
    """A fresh ``Sec-WebSocket-Key``: base64 of 16 random bytes (RFC 6455 section 4.1)."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


# --------------------------------------------------------------------------
# Server side


def _has_token(values: list[str], token: str, name: str, parse: Callable[[str, str], list[str]]) -> bool:
    # Whether the values of a list-valued header contain ``token`` (lower
    # case), compared case-insensitively; the usual single exact value is
    # checked without parsing.
    if len(values) == 1 and values[0].lower() == token:
        return True
    return token in [item.lower() for item in parse(", ".join(values), name)]


def _joined(fields: Mapping[str, list[str]], name: str) -> str:
    # RFC 9110 section 5.3: several field lines of a list-based field are
    # equivalent to one line with their values joined by commas. ``fields``
    # is Headers._by_name(): lower-cased names.
    return ", ".join(fields.get(name.lower(), ()))


def _single(fields: Mapping[str, list[str]], name: str) -> str:
    values = fields.get(name.lower())
    if not values:
        raise InvalidHeader(name, "missing")
    if len(values) > 1:
        raise InvalidHeader(name, f"expected one value, got {len(values)}")
    return values[0]


def check_request(request: Request) -> str:
    """Check the client's handshake request (RFC 6455 section 4.2.1).

    Args:
        request: the parsed request (method and version were checked by
            :class:`RequestParser`).

    Returns:
        The ``Sec-WebSocket-Key``.

    Raises:
        InvalidHeader: Host, Upgrade, Connection or Sec-WebSocket-Key is
            missing, repeated or wrong (``.name`` names it).
        InvalidVersion: Sec-WebSocket-Version is not exactly ``13``.
    """
    fields = request.headers._by_name()
    # RFC 9112 section 3.2: "A server MUST respond with a 400 (Bad Request)
    # status code to any HTTP/1.1 request message that lacks a Host header
    # field and to any request message that contains more than one Host
    # header field line or a Host header field with an invalid field value."
    host = _single(fields, "Host")
    if not _twins.valid_host(host):
        raise InvalidHeader("Host", f"invalid value {host!r}")
    # RFC 6455 section 4.2.1: "An |Upgrade| header field containing the value
    # "websocket", treated as an ASCII case-insensitive value."
    upgrade = fields.get("upgrade")
    if upgrade is None:
        raise InvalidHeader("Upgrade", "missing")
    if not _has_token(upgrade, "websocket", "Upgrade", _headers.parse_upgrade_list):
        raise InvalidHeader("Upgrade", f"expected 'websocket', got {', '.join(upgrade)!r}")
    # "A |Connection| header field that includes the token "Upgrade",
    # treated as an ASCII case-insensitive value."
    connection = fields.get("connection")
    if connection is None:
        raise InvalidHeader("Connection", "missing")
    if not _has_token(connection, "upgrade", "Connection", _headers.parse_token_list):
        raise InvalidHeader("Connection", f"expected 'Upgrade', got {', '.join(connection)!r}")
    # "A |Sec-WebSocket-Key| header field with a base64-encoded value that,
    # when decoded, is 16 bytes in length."
    key = _single(fields, "Sec-WebSocket-Key")
    if not _twins.canonical_key(key):
        # Not the canonical base64 of 16 bytes (what every client sends):
        # decode it to accept other spellings of 16 bytes, or say why not.
        try:
            raw = base64.b64decode(key.encode("latin-1"), validate=True)
        except binascii.Error:
            raise InvalidHeader("Sec-WebSocket-Key", f"not base64: {key!r}") from None
        if len(raw) != 16:
            raise InvalidHeader(
                "Sec-WebSocket-Key", f"expected 16 bytes once decoded, got {len(raw)}: {key!r}"
            )
    # "A |Sec-WebSocket-Version| header field, with a value of 13." Section
    # 4.4: otherwise answer with e.g. 426 and the versions we understand.
    versions = fields.get("sec-websocket-version")
    if versions != ["13"]:
        got = "missing" if not versions else repr(", ".join(versions))
        raise InvalidVersion(f"invalid Sec-WebSocket-Version header: expected '13', got {got}")
    return key


def check_origin(request: Request, origins: Sequence[str | None] | None) -> str | None:
    """Check the ``Origin`` header against an allow-list (RFC 6455 section 10.2).

    Args:
        request: the handshake request.
        origins: allowed origins, compared exactly (``https://example.com``);
            None in the list allows requests without an Origin header (non
            browser clients). ``origins=None`` disables the check.

    Returns:
        The request's Origin, or None when it has none.

    Raises:
        InvalidHeader: more than one Origin header.
        InvalidOrigin: the Origin (or its absence) is not allowed.
    """
    values = request.headers._by_name().get("origin", ())
    if len(values) > 1:
        raise InvalidHeader("Origin", f"expected one value, got {len(values)}")
    origin = values[0] if values else None
    if origins is not None and origin not in origins:
        if origin is None:
            raise InvalidOrigin("missing Origin header")
        raise InvalidOrigin(f"origin not allowed: {origin!r}")
    return origin


SubprotocolSelector = Callable[["Request", Sequence[str]], str | None]
"""``select(request, offered)``: the server's choice of subprotocol, or None."""


def negotiate_subprotocol(
    request: Request,
    supported: Sequence[str] | None,
    select: SubprotocolSelector | None = None,
) -> str | None:
    """Choose the subprotocol (RFC 6455 section 4.2.2, /subprotocol/).

    Without ``select``: the first of ``supported`` (the server's preference
    order) that the client offered; None (answer without the header) when
    there is none in common.

    Args:
        request: the handshake request.
        supported: the server's subprotocols, most preferred first.
        select: ``select(request, offered) -> str | None`` replaces the
            default choice; it may raise :class:`NegotiationError` to refuse
            the handshake (400).

    Returns:
        The chosen subprotocol or None.

    Raises:
        InvalidHeader: Sec-WebSocket-Protocol is not a token list.
        NegotiationError: raised by ``select``.
        ValueError: ``select`` returned a subprotocol the client did not
            offer ("The value chosen MUST be derived from the client's
            handshake").
    """
    offered: list[str] = []
    fields = request.headers._by_name()
    if "sec-websocket-protocol" in fields:
        offered = _headers.parse_subprotocol_list(_joined(fields, "Sec-WebSocket-Protocol"))
    if select is not None:
        chosen = select(request, offered)
        if chosen is not None and chosen not in offered:
            raise ValueError(f"select_subprotocol returned {chosen!r}, which the client did not offer")
        return chosen
    if supported and offered:
        for subprotocol in supported:
            if subprotocol in offered:
                return subprotocol
    return None


def negotiate_extensions(
    request: Request, factories: Sequence[ServerExtensionFactory] | None
) -> tuple[str | None, list[Extension]]:
    """Accept extensions offered by the client (RFC 6455 section 9.1).

    The client's offers are considered in its order; each is given to the
    server factories of the same name in turn; the first that accepts it
    wins, a :class:`NegotiationError` moves on. Offers nobody accepts are
    left out. The server can only keep a subset, in the client's order.

    Returns:
        The ``Sec-WebSocket-Extensions`` response value (None if empty) and
        the negotiated extensions, in order.

    Raises:
        InvalidHeader: Sec-WebSocket-Extensions does not follow the grammar.
    """
    fields = request.headers._by_name()
    if not factories or "sec-websocket-extensions" not in fields:
        return None, []
    offers = _headers.parse_extension_list(_joined(fields, "Sec-WebSocket-Extensions"))
    answers: list[ExtensionHeader] = []
    accepted: list[Extension] = []
    for name, params in offers:
        for factory in factories:
            if factory.name != name:
                continue
            try:
                response_params, extension = factory.process_request_params(params, accepted)
            except NegotiationError:
                continue
            answers.append((name, list(response_params)))
            accepted.append(extension)
            break
    return (_headers.build_extension_list(answers) if answers else None), accepted


def build_accept_response(
    key: str,
    *,
    subprotocol: str | None = None,
    extensions: str | None = None,
    server: str | None = None,
) -> Response:
    """The 101 Switching Protocols response (RFC 6455 section 4.2.2).

    Args:
        key: the request's Sec-WebSocket-Key.
        subprotocol: the chosen subprotocol, if any.
        extensions: the Sec-WebSocket-Extensions value, if any.
        server: a Server header value, if any.
    """
    # Without the lookup index, which send_response() drops anyway.
    headers = _headers.Headers._unchecked(
        ["Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Accept", accept_key(key)]
    )
    if subprotocol is not None:
        headers.add("Sec-WebSocket-Protocol", subprotocol)
    if extensions is not None:
        headers.add("Sec-WebSocket-Extensions", extensions)
    if server is not None:
        headers._add_unchecked("Server", _server_value(server))
    return _http11._response(101, "Switching Protocols", headers)


@functools.lru_cache(maxsize=16)
def _server_value(server: str) -> str:
    # A server's Server header is the same for every connection: checked
    # once (ValueError when it is not a valid field value), then reused.
    headers = _headers.Headers()
    headers.add("Server", server)
    return headers["Server"]


# RFC 9110 section 15 reason phrases for the statuses fastws sends itself;
# http.HTTPStatus's phrases differ between Python versions for some of them
# (414 was "Request-URI Too Long" before 3.13).
_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    414: "URI Too Long",
    426: "Upgrade Required",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}


def build_reject_response(
    status: int,
    text: str,
    *,
    headers: HeadersLike | None = None,
    server: str | None = None,
) -> Response:
    """An error response with a plain-text body; the connection then closes.

    Args:
        status: the HTTP status (4xx / 5xx).
        text: the body, sent as UTF-8 plain text.
        headers: extra headers, placed before the fixed ones.
        server: a Server header value, if any.

    Returns:
        A response with ``Content-Type: text/plain; charset=utf-8``,
        ``Content-Length`` and ``Connection: close``.
    """
    reason = _REASONS.get(status)
    if reason is None:
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = ""
    response_headers = _headers.Headers(headers)
    body = text.encode("utf-8")
    if server is not None:
        response_headers.add("Server", server)
    if "Connection" not in response_headers:
        response_headers._add_unchecked("Connection", "close")
    response_headers._add_unchecked("Content-Type", "text/plain; charset=utf-8")
    response_headers._add_unchecked("Content-Length", str(len(body)))
    return _http11.Response(status, reason, response_headers, body)


def response_for_exception(exc: Exception, *, server: str | None = None) -> Response:
    """The error response for a failed check or a malformed request.

    * :class:`InvalidHTTPMessage`: its ``status`` (400, 405 with
      ``Allow: GET``, 414, 431, 505);
    * :class:`InvalidOrigin`: 403 Forbidden;
    * :class:`InvalidVersion`: 426 Upgrade Required with
      ``Sec-WebSocket-Version: 13`` (RFC 6455 section 4.4);
    * :class:`InvalidHeader` for Upgrade or Connection: 426 Upgrade Required
      (RFC 9110 section 15.5.22), the request was not a WebSocket upgrade;
    * any other :class:`~fastws.exceptions.InvalidHandshake`: 400 Bad Request.

    The body says what was wrong. 426 responses carry ``Upgrade:
    websocket`` and ``Connection: Upgrade, close``, as RFC 9110 sections
    7.8 and 15.5.22 require of a sender of Upgrade.
    """
    text = f"Failed to open a WebSocket connection: {exc}.\n"
    extra: list[tuple[str, str]] = []
    if isinstance(exc, InvalidHTTPMessage):
        status = exc.status
        if status == 405:
            extra.append(("Allow", "GET"))
    elif isinstance(exc, InvalidOrigin):
        status = 403
    elif isinstance(exc, InvalidVersion) or (
        isinstance(exc, InvalidHeader) and exc.name in ("Upgrade", "Connection")
    ):
        status = 426
        extra += [("Upgrade", "websocket"), ("Connection", "Upgrade, close")]
        if isinstance(exc, InvalidVersion):
            extra.append(("Sec-WebSocket-Version", "13"))
    else:
        status = 400
    return build_reject_response(status, text, headers=extra, server=server)


# --------------------------------------------------------------------------
# Client side


def build_request(
    host: str,
    port: int,
    path: str,
    secure: bool,
    *,
    key: str | None = None,
    origin: str | None = None,
    subprotocols: Sequence[str] | None = None,
    extensions: Sequence[ClientExtensionFactory] | None = None,
    additional_headers: HeadersLike | None = None,
    user_agent: str | None = USER_AGENT,
) -> Request:
    """The client's opening handshake request (RFC 6455 section 4.1).

    Args:
        host: the server's host name or IP address (IPv6 without brackets).
        port: the server's port; left out of Host when it is the default.
        path: the resource name (path and query).
        secure: whether the URI is ``wss``.
        key: the Sec-WebSocket-Key; a fresh random one when None.
        origin: an Origin header value, if any.
        subprotocols: subprotocols to offer, most preferred first.
        extensions: extension factories whose offers to send, in order.
        additional_headers: more headers, appended last.
        user_agent: the User-Agent value; None to send none.

    Returns:
        The request, ready for ``serialize()``.

    Raises:
        ValueError: an invalid path, subprotocol, extension or header.
    """
    if not path.startswith("/") or re.fullmatch(r"[\x21-\x7e]+", path) is None:
        raise ValueError(f"invalid resource name: {path!r}")
    # RFC 6455 section 4.1: Host is /host/, followed by ":" /port/ when the
    # port is not the default one; an IPv6 literal goes in brackets (RFC 3986).
    authority = f"[{host}]" if ":" in host else host
    if port != (443 if secure else 80):
        authority = f"{authority}:{port}"
    headers = _headers.Headers()
    headers.add("Host", authority)
    headers._add_unchecked("Upgrade", "websocket")
    headers._add_unchecked("Connection", "Upgrade")
    headers._add_unchecked("Sec-WebSocket-Key", generate_key() if key is None else key)
    headers._add_unchecked("Sec-WebSocket-Version", "13")
    if origin is not None:
        headers.add("Origin", origin)
    if subprotocols:
        headers.add("Sec-WebSocket-Protocol", _headers.build_subprotocol_list(subprotocols))
    if extensions:
        headers.add(
            "Sec-WebSocket-Extensions",
            _headers.build_extension_list(
                [(factory.name, list(factory.get_request_params())) for factory in extensions]
            ),
        )
    if user_agent is not None:
        headers.add("User-Agent", user_agent)
    if additional_headers is not None:
        headers.update(additional_headers)
    return _http11.Request(path, headers)


def check_response(
    response: Response,
    request: Request,
    extensions: Sequence[ClientExtensionFactory] | None = None,
) -> tuple[str | None, list[Extension]]:
    """Check the server's answer to ``request`` (RFC 6455 section 4.1, client).

    Args:
        response: the parsed response.
        request: the request that was sent (its key and its offers are what
            the response is checked against).
        extensions: the factories whose offers were sent.

    Returns:
        The negotiated subprotocol (or None) and extensions (in order).

    Raises:
        InvalidStatus: the status is not 101 (``.response`` holds the
            response).
        InvalidHeader: Upgrade, Connection, Sec-WebSocket-Accept or
            Sec-WebSocket-Protocol is missing or wrong (``.name`` names it).
        NegotiationError: a subprotocol or an extension that was not offered,
            or extension parameters the client does not accept.
    """
    # "If the status code received from the server is not 101, the client
    # handles the response per HTTP [RFC2616] procedures."
    if response.status != 101:
        exc = InvalidStatus(response.status, response.reason)
        exc.response = response
        raise exc
    fields = response.headers._by_name()
    # "If the response lacks an |Upgrade| header field or the |Upgrade|
    # header field contains a value that is not an ASCII case-insensitive
    # match for the value "websocket", the client MUST _Fail the WebSocket
    # Connection_."
    if "upgrade" not in fields:
        raise InvalidHeader("Upgrade", "missing")
    upgrade = _joined(fields, "Upgrade")
    if upgrade.lower() != "websocket" and [
        value.lower() for value in _headers.parse_upgrade_list(upgrade)
    ] != ["websocket"]:
        raise InvalidHeader("Upgrade", f"expected 'websocket', got {upgrade!r}")
    # "If the response lacks a |Connection| header field or the |Connection|
    # header field doesn't contain a token that is an ASCII case-insensitive
    # match for the value "Upgrade", the client MUST _Fail_ ..."
    connection = fields.get("connection")
    if connection is None:
        raise InvalidHeader("Connection", "missing")
    if not _has_token(connection, "upgrade", "Connection", _headers.parse_token_list):
        raise InvalidHeader("Connection", f"expected 'Upgrade', got {', '.join(connection)!r}")
    # "If the response lacks a |Sec-WebSocket-Accept| header field or the
    # |Sec-WebSocket-Accept| contains a value other than the base64-encoded
    # SHA-1 of the concatenation of the |Sec-WebSocket-Key| (as a string,
    # not base64-decoded) with the string "258EAFA5-E914-47DA-95CA-
    # C5AB0DC85B11" ... the client MUST _Fail_ ..."
    accept = _single(fields, "Sec-WebSocket-Accept")
    expected = accept_key(request.headers["Sec-WebSocket-Key"])
    if accept != expected:
        raise InvalidHeader("Sec-WebSocket-Accept", f"expected {expected!r}, got {accept!r}")
    # "If the response includes a |Sec-WebSocket-Extensions| header field and
    # this header field indicates the use of an extension that was not
    # present in the client's handshake ... the client MUST _Fail_ ..."
    accepted: list[Extension] = []
    if "sec-websocket-extensions" in fields:
        answers = _headers.parse_extension_list(_joined(fields, "Sec-WebSocket-Extensions"))
        offered = {factory.name for factory in extensions or ()}
        for name, params in answers:
            if name not in offered:
                raise NegotiationError(f"Sec-WebSocket-Extensions: {name} was not offered")
            for factory in extensions or ():
                if factory.name != name:
                    continue
                try:
                    extension = factory.process_response_params(params, accepted)
                except NegotiationError:
                    continue
                accepted.append(extension)
                break
            else:
                raise NegotiationError(
                    f"Sec-WebSocket-Extensions: unacceptable parameters for {name}: {_headers.build_extension_list([(name, params)])}"
                )
    # "If the response includes a |Sec-WebSocket-Protocol| header field and
    # this header field indicates the use of a subprotocol that was not
    # present in the client's handshake ... the client MUST _Fail_ ..."
    subprotocol: str | None = None
    if "sec-websocket-protocol" in fields:
        chosen = _headers.parse_subprotocol_list(_joined(fields, "Sec-WebSocket-Protocol"))
        if len(chosen) != 1:
            raise InvalidHeader("Sec-WebSocket-Protocol", f"expected one subprotocol, got {len(chosen)}")
        subprotocol = chosen[0]
        offered_subprotocols: list[str] = []
        request_fields = request.headers._by_name()
        if "sec-websocket-protocol" in request_fields:
            offered_subprotocols = _headers.parse_subprotocol_list(
                _joined(request_fields, "Sec-WebSocket-Protocol")
            )
        if subprotocol not in offered_subprotocols:
            raise NegotiationError(f"Sec-WebSocket-Protocol: {subprotocol} was not offered")
    return subprotocol, accepted
