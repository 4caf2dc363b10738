"""The WebSocket opening handshake: HTTP/1.1 Upgrade (RFC 6455 section 4).

Pure functions and small data types, standard library only, no I/O:

* :class:`Headers`, a case-insensitive, order-preserving multi-dict, and the
  parsers/builders of the list-valued handshake headers;
* :class:`Request` and :class:`Response`, the two handshake messages, which
  the sans-IO protocols also emit as events;
* :class:`RequestParser` / :class:`ResponseParser`, incremental and bounded
  HTTP/1.1 head parsers: input arrives in pieces, the parsed message comes
  out with the bytes that followed it (frames may share a packet with the
  101), and oversize input is refused as soon as a limit is passed;
* the server's checks (:func:`check_request`, :func:`check_origin`,
  :func:`negotiate_subprotocol`, :func:`negotiate_extensions`) and responses
  (:func:`build_accept_response`, :func:`build_reject_response`,
  :func:`response_for_exception`);
* the client's request (:func:`parse_uri`, :func:`build_request`) and
  response check (:func:`check_response`);
* the extension negotiation interface (:class:`ClientExtensionFactory`,
  :class:`ServerExtensionFactory`) that permessage-deflate plugs into.

Decisions where the RFCs leave room:

* Line endings must be CRLF; a bare LF is refused with 400 (RFC 9112
  section 2.2 allows a recipient to accept it; refusing is the safe choice
  against request smuggling through proxies that disagree). Empty lines
  before the request line are refused too.
* Obsolete line folding is refused with 400 (RFC 9112 section 5.2 lets a
  server reject it).
* Field values are decoded as ISO-8859-1, so ``obs-text`` bytes survive a
  round trip unchanged; field names are ASCII tokens.
* The server picks the subprotocol in *its own* preference order, among
  those the client offered; with no common subprotocol it answers without
  one (RFC 6455 section 4.2.2: "null"), and the client decides.
* User information in a ``ws://`` URI is refused: RFC 6455 section 3's
  grammar has no userinfo, and credentials in URIs end up in logs. Send an
  ``Authorization`` header through ``additional_headers`` instead.
* No ``Date`` header: the sans-IO layer does not read the clock; the I/O
  layer may add one.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import http
import os
import re
import sys
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from .constants import WS_GUID
from .exceptions import (
    InvalidHeader,
    InvalidMessage,
    InvalidOrigin,
    InvalidStatus,
    InvalidVersion,
    NegotiationError,
)

if TYPE_CHECKING:
    from .extensions.base import Extension

__all__ = [
    "MAX_HEADERS",
    "MAX_HEADER_LINE",
    "MAX_HEADER_SIZE",
    "MAX_REQUEST_LINE",
    "USER_AGENT",
    "ClientExtensionFactory",
    "ExtensionHeader",
    "ExtensionParameter",
    "Headers",
    "HeadersLike",
    "InvalidHTTPMessage",
    "Request",
    "RequestParser",
    "Response",
    "ResponseParser",
    "ServerExtensionFactory",
    "SubprotocolSelector",
    "WebSocketURI",
    "accept_key",
    "build_accept_response",
    "build_extension_list",
    "build_reject_response",
    "build_request",
    "build_subprotocol_list",
    "check_origin",
    "check_request",
    "check_response",
    "generate_key",
    "negotiate_extensions",
    "negotiate_subprotocol",
    "parse_extension_list",
    "parse_subprotocol_list",
    "parse_token_list",
    "parse_uri",
    "response_for_exception",
]

#: Default limit on the request line / status line, CRLF excluded (bytes).
MAX_REQUEST_LINE = 8192
#: Default limit on one header line, CRLF excluded (bytes).
MAX_HEADER_LINE = 8192
#: Default limit on the number of header lines.
MAX_HEADERS = 128
#: Default limit on the whole head: start line, headers, CRLFs (bytes).
MAX_HEADER_SIZE = 65536

ExtensionParameter = tuple[str, str | None]
"""One extension parameter: ``(name, value)``, value None when absent."""

ExtensionHeader = tuple[str, list[ExtensionParameter]]
"""One element of Sec-WebSocket-Extensions: ``(name, parameters)``."""

# RFC 9110 section 5.6.2: token = 1*tchar.
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_token_re = re.compile(_TOKEN)
_btoken_re = re.compile(_TOKEN.encode())
# RFC 9110 section 5.5: field-value = *field-content, made of VCHAR, obs-text,
# SP and HTAB; CR, LF, NUL and the other controls are forbidden.
_value_re = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_bvalue_re = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")
# RFC 9110 section 5.6.3: OWS = *( SP / HTAB ).
_ows_re = re.compile(r"[ \t]*")
# RFC 9110 section 5.6.4: quoted-string with qdtext and quoted-pair.
_quoted_re = re.compile(r'"((?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t\x20-\x7e\x80-\xff])*)"')
_unquote_re = re.compile(r"\\(.)")
# RFC 9112 section 3: request-line = method SP request-target SP HTTP-version.
_request_line_re = re.compile(rb"(" + _TOKEN.encode() + rb") ([\x21-\x7e]+) HTTP/([0-9])\.([0-9])")
# RFC 9112 section 4: status-line = HTTP-version SP status-code SP [ reason-phrase ].
# The SP before an empty reason is often omitted by servers: it is optional here.
_status_line_re = re.compile(rb"HTTP/([0-9])\.([0-9]) ([0-9]{3})(?: ([\t\x20-\x7e\x80-\xff]*))?")
# RFC 9110 section 7.2: Host = uri-host [ ":" port ] (RFC 3986 host: IP-literal or reg-name).
_host_re = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?")
# RFC 9110 section 7.8: protocol = protocol-name [ "/" protocol-version ].
_protocol_re = re.compile(_TOKEN + r"(?:/" + _TOKEN + r")?")
_digits_re = re.compile(r"[0-9]+")

try:
    from . import __version__ as _version
except ImportError:  # pragma: no cover - fastws/__init__ imported us before defining it
    _version = "0"

#: The default User-Agent (client) and Server (server) header value.
USER_AGENT = f"Python/{sys.version_info[0]}.{sys.version_info[1]} fastws/{_version}"


# --------------------------------------------------------------------------
# Errors with an HTTP status


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


# --------------------------------------------------------------------------
# Headers


class Headers:
    """A case-insensitive, order-preserving multi-dict of HTTP header fields.

    Names keep the case they were given in (:meth:`raw_items`) and compare
    case-insensitively. ``headers[name]`` is the first value (KeyError when
    absent); :meth:`get_all` returns every value; ``headers[name] = value``
    replaces every field of that name, :meth:`add` appends one.

    Names must be RFC 9110 tokens and values RFC 9110 field values (no CR,
    LF or NUL); leading and trailing whitespace of values is stripped.

    Args:
        items: a mapping, another :class:`Headers` or pairs to add in order.

    Raises:
        ValueError: a name or value is not allowed in an HTTP header.
    """

    __slots__ = ("_fields", "_index")

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __init__(self, items: HeadersLike | None = None) -> None:
        self._fields: list[tuple[str, str]] = []
        self._index: dict[str, list[str]] = {}
        if items is not None:
            self.update(items)

    def _add_unchecked(self, name: str, value: str) -> None:
        # Used by the parser, which validated the bytes already.
        self._fields.append((name, value))
        key = name.lower()
        values = self._index.get(key)
        if values is None:
            self._index[key] = [value]
        else:
            values.append(value)

    def add(self, name: str, value: str) -> None:
        """Append a field, after any of the same name.

        Raises:
            ValueError: ``name`` is not a token or ``value`` is not a valid
                field value.
        """
        if not isinstance(name, str) or _token_re.fullmatch(name) is None:
            raise ValueError(f"invalid header name: {name!r}")
        if not isinstance(value, str):
            raise TypeError(f"header value must be str, not {type(value).__name__!r}")
        value = value.strip(" \t")
        if _value_re.fullmatch(value) is None:
            raise ValueError(f"invalid value for header {name}: {value!r}")
        self._add_unchecked(name, value)

    def update(self, items: HeadersLike) -> None:
        """Append every field of a mapping, a :class:`Headers` or pairs.

        Raises:
            ValueError: a name or value is not valid.
        """
        pairs: Iterable[tuple[str, str]]
        if isinstance(items, Headers):
            pairs = items.raw_items()
        elif isinstance(items, Mapping):
            pairs = items.items()
        else:
            pairs = items
        for name, value in pairs:
            self.add(name, value)

    def __setitem__(self, name: str, value: str) -> None:
        if name.lower() in self._index:
            del self[name]
        self.add(name, value)

    def __delitem__(self, name: str) -> None:
        key = name.lower()
        if key not in self._index:
            raise KeyError(name)
        del self._index[key]
        self._fields = [field for field in self._fields if field[0].lower() != key]

    def __getitem__(self, name: str) -> str:
        values = self._index.get(name.lower())
        if values is None:
            raise KeyError(name)
        return values[0]

    def get(self, name: str, default: Any = None) -> Any:
        """The first value of ``name``, or ``default`` when it is absent."""
        values = self._index.get(name.lower())
        return default if values is None else values[0]

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, in order (an empty list when absent)."""
        return list(self._index.get(name.lower(), ()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        """Iterate over the distinct names, lower-cased, in first-seen order."""
        return iter(self._index)

    def __len__(self) -> int:
        """The number of fields (a repeated name counts each time)."""
        return len(self._fields)

    def keys(self) -> list[str]:
        """The distinct names, lower-cased, in first-seen order."""
        return list(self._index)

    def items(self) -> list[tuple[str, str]]:
        """Every field as ``(lower-cased name, value)``, in order."""
        return [(name.lower(), value) for name, value in self._fields]

    def raw_items(self) -> list[tuple[str, str]]:
        """Every field as ``(name as given, value)``, in order."""
        return list(self._fields)

    def copy(self) -> Headers:
        """A shallow copy."""
        new = Headers()
        new._fields = list(self._fields)
        new._index = {key: list(values) for key, values in self._index.items()}
        return new

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self.items() == other.items()

    def __repr__(self) -> str:
        return f"Headers({self._fields!r})"

    def serialize(self) -> bytes:
        """The fields as ``Name: value`` lines, each ending with CRLF."""
        return "".join([f"{name}: {value}\r\n" for name, value in self._fields]).encode("latin-1")


HeadersLike = Headers | Mapping[str, str] | Iterable[tuple[str, str]]
"""What ``additional_headers`` and :class:`Headers` accept."""


# --------------------------------------------------------------------------
# Header value grammars


def _parse_list(value: str, name: str, parse_item: Callable[[str, int, str], tuple[Any, int]]) -> list[Any]:
    # RFC 9110 section 5.6.1: "#element" lists; "a recipient MUST accept
    # empty list elements" (like "a, , b" or a leading comma) and OWS
    # surrounds the commas.
    items = []
    pos = 0
    end = len(value)
    while pos < end:
        pos = _ows_re.match(value, pos).end()  # type: ignore[union-attr]
        if pos < end and value[pos] == ",":
            pos += 1
            continue
        if pos == end:
            break
        item, pos = parse_item(value, pos, name)
        items.append(item)
        pos = _ows_re.match(value, pos).end()  # type: ignore[union-attr]
        if pos < end:
            if value[pos] != ",":
                raise InvalidHeader(name, f"expected ',' at position {pos} in {value!r}")
            pos += 1
    return items


def _parse_token(value: str, pos: int, name: str) -> tuple[str, int]:
    match = _token_re.match(value, pos)
    if match is None:
        raise InvalidHeader(name, f"expected a token at position {pos} in {value!r}")
    return match.group(), match.end()


def _parse_protocol(value: str, pos: int, name: str) -> tuple[str, int]:
    match = _protocol_re.match(value, pos)
    if match is None:
        raise InvalidHeader(name, f"expected a protocol at position {pos} in {value!r}")
    return match.group(), match.end()


def parse_token_list(value: str, name: str = "Connection") -> list[str]:
    """Parse a comma-separated token list such as ``keep-alive, Upgrade``.

    Args:
        value: the header value (several fields joined with ``", "``).
        name: the header's name, for error messages.

    Returns:
        The tokens in order, case preserved; empty elements are skipped.

    Raises:
        InvalidHeader: an element is not a token.
    """
    return _parse_list(value, name, _parse_token)


def _parse_extension_param(value: str, pos: int, name: str) -> tuple[ExtensionParameter, int]:
    param, pos = _parse_token(value, pos, name)
    pos = _ows_re.match(value, pos).end()  # type: ignore[union-attr]
    if pos < len(value) and value[pos] == "=":
        pos = _ows_re.match(value, pos + 1).end()  # type: ignore[union-attr]
        if pos < len(value) and value[pos] == '"':
            match = _quoted_re.match(value, pos)
            if match is None:
                raise InvalidHeader(name, f"invalid quoted string at position {pos} in {value!r}")
            text = _unquote_re.sub(r"\1", match.group(1))
            pos = match.end()
            # RFC 6455 section 9.1: "When using the quoted-string syntax
            # variant, the value after quoted-string unescaping MUST conform
            # to the 'token' ABNF."
            if _token_re.fullmatch(text) is None:
                raise InvalidHeader(name, f"parameter value {text!r} of {param} is not a token")
            return (param, text), pos
        text, pos = _parse_token(value, pos, name)
        return (param, text), pos
    return (param, None), pos


def _parse_extension(value: str, pos: int, name: str) -> tuple[ExtensionHeader, int]:
    # RFC 6455 section 9.1: extension = extension-token *( ";" extension-param ).
    ext, pos = _parse_token(value, pos, name)
    params: list[ExtensionParameter] = []
    while True:
        after = _ows_re.match(value, pos).end()  # type: ignore[union-attr]
        if after >= len(value) or value[after] != ";":
            return (ext, params), pos
        pos = _ows_re.match(value, after + 1).end()  # type: ignore[union-attr]
        param, pos = _parse_extension_param(value, pos, name)
        params.append(param)


def parse_extension_list(value: str, name: str = "Sec-WebSocket-Extensions") -> list[ExtensionHeader]:
    """Parse ``Sec-WebSocket-Extensions`` (RFC 6455 section 9.1, RFC 7692 section 5.1).

    ``permessage-deflate; client_max_window_bits, x-foo; a="1"`` gives
    ``[("permessage-deflate", [("client_max_window_bits", None)]),
    ("x-foo", [("a", "1")])]``.

    Args:
        value: the header value (several fields joined with ``", "``).
        name: the header's name, for error messages.

    Returns:
        ``(extension name, [(parameter, value or None), ...])`` in order;
        quoted values are unescaped.

    Raises:
        InvalidHeader: the value does not follow the grammar, or a quoted
            value is not a token once unescaped.
    """
    return _parse_list(value, name, _parse_extension)


def parse_subprotocol_list(value: str, name: str = "Sec-WebSocket-Protocol") -> list[str]:
    """Parse ``Sec-WebSocket-Protocol``: a comma-separated list of tokens.

    Raises:
        InvalidHeader: an element is not a token (RFC 6455 section 4.1).
    """
    return _parse_list(value, name, _parse_token)


def build_extension_list(extensions: Sequence[ExtensionHeader]) -> str:
    """Build a ``Sec-WebSocket-Extensions`` value.

    Raises:
        ValueError: a name or value is not a token.
    """
    parts = []
    for ext, params in extensions:
        if _token_re.fullmatch(ext) is None:
            raise ValueError(f"invalid extension name: {ext!r}")
        items = [ext]
        for param, value in params:
            if _token_re.fullmatch(param) is None:
                raise ValueError(f"invalid extension parameter name: {param!r}")
            if value is None:
                items.append(param)
            elif _token_re.fullmatch(value) is None:
                raise ValueError(f"invalid extension parameter value: {value!r}")
            else:
                items.append(f"{param}={value}")
        parts.append("; ".join(items))
    return ", ".join(parts)


def build_subprotocol_list(subprotocols: Sequence[str]) -> str:
    """Build a ``Sec-WebSocket-Protocol`` value.

    Raises:
        ValueError: a subprotocol is not a token.
    """
    for subprotocol in subprotocols:
        if not isinstance(subprotocol, str) or _token_re.fullmatch(subprotocol) is None:
            raise ValueError(f"invalid subprotocol: {subprotocol!r}")
    return ", ".join(subprotocols)


def _has_token(
    headers: Headers, name: str, token: str, parse_item: Callable[[str, int, str], tuple[Any, int]]
) -> bool:
    # Whether a list-valued header contains ``token`` (lower case),
    # compared case-insensitively; the usual single exact value is checked
    # without parsing.
    values = headers._index.get(name.lower(), ())
    if len(values) == 1 and values[0].lower() == token:
        return True
    return token in [item.lower() for item in _parse_list(", ".join(values), name, parse_item)]


def _joined(headers: Headers, name: str) -> str:
    # RFC 9110 section 5.3: several field lines of a list-based field are
    # equivalent to one line with their values joined by commas.
    return ", ".join(headers.get_all(name))


# --------------------------------------------------------------------------
# Messages


@dataclasses.dataclass(frozen=True, slots=True)
class Request:
    """The client's opening handshake (a GET request).

    Attributes:
        path: the request-target, usually ``/resource?query``.
        headers: the header fields.
    """

    path: str
    headers: Headers

    def serialize(self) -> bytes:
        """The request as bytes on the wire.

        Raises:
            ValueError: ``path`` contains a space, a control or non-ASCII
                character.
        """
        if not self.path or re.fullmatch(r"[\x21-\x7e]+", self.path) is None:
            raise ValueError(f"invalid request target: {self.path!r}")
        return b"GET " + self.path.encode("ascii") + b" HTTP/1.1\r\n" + self.headers.serialize() + b"\r\n"


@dataclasses.dataclass(frozen=True, slots=True)
class Response:
    """The server's answer to the opening handshake.

    Attributes:
        status: the HTTP status code (101 to accept).
        reason: the reason phrase.
        headers: the header fields.
        body: the body (for error responses).
    """

    status: int
    reason: str
    headers: Headers
    body: bytes = b""

    def serialize(self) -> bytes:
        """The response as bytes on the wire."""
        return (
            f"HTTP/1.1 {self.status} {self.reason}\r\n".encode("latin-1")
            + self.headers.serialize()
            + b"\r\n"
            + self.body
        )


# --------------------------------------------------------------------------
# Incremental, bounded HTTP/1.1 head parsers


class _HeadParser:
    """Shared machinery: lines in, one message out, every limit enforced.

    Only the current incomplete line is buffered; complete lines are parsed
    at once, so a limit is checked as soon as the bytes that pass it arrive
    and nothing beyond it is ever copied.
    """

    __slots__ = (
        "_buf",
        "_count",
        "_done",
        "_error",
        "_headers",
        "_max_header_line",
        "_max_headers",
        "_max_line",
        "_max_size",
        "_size",
        "_start",
    )

    #: HTTP status for a start line over the limit.
    _line_status = 400

    def __init__(
        self,
        *,
        max_line: int = MAX_REQUEST_LINE,
        max_header_line: int = MAX_HEADER_LINE,
        max_headers: int = MAX_HEADERS,
        max_size: int = MAX_HEADER_SIZE,
    ) -> None:
        for label, limit in (
            ("max_line", max_line),
            ("max_header_line", max_header_line),
            ("max_headers", max_headers),
            ("max_size", max_size),
        ):
            if limit < 0:
                raise ValueError(f"{label} must be >= 0")
        self._max_line = max_line
        self._max_header_line = max_header_line
        self._max_headers = max_headers
        self._max_size = max_size
        self._buf = bytearray()
        self._size = 0
        self._count = 0
        self._start: Any = None
        self._headers = Headers()
        self._error: InvalidHTTPMessage | None = None
        self._done = False

    @property
    def buffered(self) -> int:
        """Bytes held for the incomplete line in progress."""
        return len(self._buf)

    @property
    def done(self) -> bool:
        """Whether a complete message was returned."""
        return self._done

    def feed(self, data: bytes | bytearray | memoryview) -> tuple[Any, bytes] | None:
        """Add bytes; return ``(message, leftover)`` once the head is complete.

        Args:
            data: the next bytes from the peer, cut anywhere.

        Returns:
            None while the head is incomplete; then the message and the bytes
            that followed its blank line (possibly empty).

        Raises:
            InvalidHTTPMessage: the head is malformed or exceeds a limit. The
                parser is then broken: every later call raises it again.
            RuntimeError: the message was already returned.
        """
        if self._error is not None:
            raise self._error
        if self._done:
            raise RuntimeError("the HTTP message is already complete")
        try:
            return self._feed(bytes(data))
        except InvalidHTTPMessage as exc:
            self._error = exc
            self._buf = bytearray()
            raise

    def _feed(self, data: bytes) -> tuple[Any, bytes] | None:
        if self._start is None and not self._buf:
            # The common case: the whole head in one read.
            result = self._feed_whole(data)
            if result is not None:
                self._done = True
                return result
        pos = 0
        end = len(data)
        buf = self._buf
        while pos < end:
            nl = data.find(b"\n", pos)
            if nl < 0:
                # An incomplete line: check the limits before keeping it. A
                # line at the limit may still hold its CR here.
                pending = len(buf) + end - pos
                self._check_pending(pending, data[end - 1 : end])
                buf += data[pos:]
                return None
            if buf:
                buf += data[pos : nl + 1]
                line = bytes(buf)
                buf.clear()
            else:
                line = data[pos : nl + 1]
            pos = nl + 1
            message = self._line(line)
            if message is not None:
                self._done = True
                return message, data[pos:]
        return None

    def _feed_whole(self, data: bytes) -> tuple[Any, bytes] | None:
        """Parse a head that arrived in one piece, or return None.

        It accepts exactly what :meth:`_line` accepts, with fewer calls per
        line; on anything unusual (incomplete head, a limit reached, a
        malformed line) it returns None and the line-by-line path, which
        gives the precise error, takes over from the start.
        """
        end = data.find(b"\r\n\r\n")
        if end < 0 or end + 4 > self._max_size:
            return None
        lines = data[:end].split(b"\r\n")
        count = len(lines) - 1
        # A bare LF anywhere means a line the split did not see.
        if count > self._max_headers or data.count(b"\n", 0, end) != count:
            return None
        first = lines[0]
        if not first or len(first) > self._max_line:
            return None
        start = self._parse_start(first)
        max_line = self._max_header_line
        token = _btoken_re.fullmatch
        valid = _bvalue_re.fullmatch
        fields = []
        index: dict[str, list[str]] = {}
        for i in range(1, count + 1):
            line = lines[i]
            colon = line.find(b":")
            if len(line) > max_line or line[0] in (0x20, 0x09) or colon < 0 or token(line, 0, colon) is None:
                return None
            value = line[colon + 1 :].strip(b" \t")
            if valid(value) is None:
                return None
            name = line[:colon].decode("ascii")
            text = value.decode("latin-1")
            fields.append((name, text))
            key = name.lower()
            values = index.get(key)
            if values is None:
                index[key] = [text]
            else:
                values.append(text)
        headers = self._headers
        headers._fields = fields
        headers._index = index
        self._start = start
        self._count = count
        self._size = end + 4
        return self._finish(start, headers), data[end + 4 :]

    def _limit(self) -> tuple[int, int, str]:
        if self._start is None:
            return self._max_line, self._line_status, self._line_name
        return self._max_header_line, 431, "header line"

    def _check_pending(self, pending: int, last: bytes) -> None:
        limit, status, what = self._limit()
        if pending > limit + 1 or (pending == limit + 1 and last != b"\r"):
            raise InvalidHTTPMessage(status, f"{what} longer than {limit} bytes")
        if self._size + pending > self._max_size:
            raise InvalidHTTPMessage(431, f"HTTP head larger than {self._max_size} bytes")

    def _line(self, line: bytes) -> Any:
        start = self._start
        if start is None:
            return self._start_line(line)
        length = len(line)
        # The limit is on the line's content: a line ending with a bare LF
        # is judged on the same bytes as one ending with CRLF (and as the
        # incomplete line in _check_pending), whatever the packet cuts.
        if length - (2 if line[-2:] == b"\r\n" else 1) > self._max_header_line:
            raise InvalidHTTPMessage(431, f"header line longer than {self._max_header_line} bytes")
        size = self._size + length
        if size > self._max_size:
            raise InvalidHTTPMessage(431, f"HTTP head larger than {self._max_size} bytes")
        self._size = size
        # RFC 9112 section 2.2: lines end with CRLF; a bare LF is refused
        # (accepting it is allowed, refusing is the safe choice).
        if line[-2:] != b"\r\n":
            raise InvalidHTTPMessage(400, "line does not end with CRLF")
        if length == 2:
            return self._finish(start, self._headers)
        # RFC 9112 section 5.2: "A server that receives an obs-fold in a
        # request message ... MUST either reject the message by sending a
        # 400 (Bad Request) ... or replace each received obs-fold with one
        # or more SP octets"; section 2.2 says the same of whitespace between
        # the start line and the first header. We reject.
        if line[0] in (0x20, 0x09):
            raise InvalidHTTPMessage(400, "obsolete line folding or leading whitespace in a header line")
        count = self._count + 1
        if count > self._max_headers:
            raise InvalidHTTPMessage(431, f"more than {self._max_headers} headers")
        self._count = count
        colon = line.find(b":")
        # RFC 9112 section 5.1: "No whitespace is allowed between the field
        # name and colon ... A server MUST reject ... with 400"; the token
        # check also refuses it.
        if colon < 0 or _btoken_re.fullmatch(line, 0, colon) is None:
            raise InvalidHTTPMessage(400, f"invalid header line: {line[:-2][:80]!r}")
        value = line[colon + 1 : -2].strip(b" \t")
        # RFC 9110 section 5.5: CR, LF and NUL (and other controls) are
        # invalid in field values; a recipient may reject the message.
        if _bvalue_re.fullmatch(value) is None:
            raise InvalidHTTPMessage(400, f"invalid header value: {line[:-2][:80]!r}")
        self._headers._add_unchecked(line[:colon].decode("ascii"), value.decode("latin-1"))
        return None

    def _start_line(self, line: bytes) -> None:
        length = len(line)
        if length - (2 if line[-2:] == b"\r\n" else 1) > self._max_line:
            raise InvalidHTTPMessage(
                self._line_status, f"{self._line_name} longer than {self._max_line} bytes"
            )
        self._size += length
        if self._size > self._max_size:
            raise InvalidHTTPMessage(431, f"HTTP head larger than {self._max_size} bytes")
        if line[-2:] != b"\r\n":
            raise InvalidHTTPMessage(400, "line does not end with CRLF")
        if length == 2:
            raise InvalidHTTPMessage(400, f"empty {self._line_name}")
        self._start = self._parse_start(line[:-2])

    _line_name = "start line"

    def _parse_start(self, content: bytes) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _finish(self, start: Any, headers: Headers) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


class RequestParser(_HeadParser):
    """Incremental parser of the handshake request (server side).

    Limits, all in bytes except ``max_headers``; input over a limit is
    refused as soon as it arrives:

    * request line over ``max_line``: 414 URI Too Long;
    * a header line over ``max_header_line``, more than ``max_headers``
      header lines, or a head over ``max_size``: 431 Request Header Fields
      Too Large;
    * malformed input: 400; a method other than GET: 405; a version other
      than HTTP/1.x: 505.

    The request must have no body (400): the client must wait for the 101
    before it sends anything else (RFC 6455 section 4.1).

    ``feed`` returns ``(Request, leftover)`` once the head is complete.
    """

    __slots__ = ()
    _line_status = 414
    _line_name = "request line"

    def _parse_start(self, content: bytes) -> Any:
        match = _request_line_re.fullmatch(content)
        if match is None:
            raise InvalidHTTPMessage(400, f"invalid request line: {content[:80]!r}")
        method, target, major, minor = match.groups()
        # RFC 6455 section 4.1: "The method of the request MUST be GET, and
        # the HTTP version MUST be at least 1.1."
        if major != b"1":
            raise InvalidHTTPMessage(505, f"unsupported HTTP version: {major.decode()}.{minor.decode()}")
        if minor == b"0":
            raise InvalidHTTPMessage(400, "HTTP/1.1 or later is required")
        if method != b"GET":
            raise InvalidHTTPMessage(405, f"unsupported HTTP method: {method.decode()}")
        # RFC 6455 section 3 / 4.1: the request-target is the resource name
        # (origin-form) or an absolute http(s)/ws(s) URI.
        if not (target[:1] == b"/" or re.match(rb"(?i)(?:http|ws)s?://", target)):
            raise InvalidHTTPMessage(400, f"invalid request target: {target[:80]!r}")
        return target.decode("ascii")

    def _finish(self, start: Any, headers: Headers) -> Request:
        # The opening handshake has no body; a request announcing one would
        # leave bytes that the frame parser must not see.
        if "Transfer-Encoding" in headers:
            raise InvalidHTTPMessage(400, "the handshake request must not have a body (Transfer-Encoding)")
        for length in headers.get_all("Content-Length"):
            if _digits_re.fullmatch(length) is None:
                raise InvalidHTTPMessage(400, f"invalid Content-Length: {length!r}")
            if int(length) != 0:
                raise InvalidHTTPMessage(400, "the handshake request must not have a body (Content-Length)")
        return Request(start, headers)


class ResponseParser(_HeadParser):
    """Incremental parser of the handshake response (client side).

    Same limits as :class:`RequestParser` (``max_line`` bounds the status
    line); every failure raises :class:`InvalidHTTPMessage`. The body of a
    non-101 response is not read: it is part of the leftover bytes.

    ``feed`` returns ``(Response, leftover)`` once the head is complete.
    """

    __slots__ = ()
    _line_name = "status line"

    def _parse_start(self, content: bytes) -> Any:
        match = _status_line_re.fullmatch(content)
        if match is None:
            raise InvalidHTTPMessage(400, f"invalid status line: {content[:80]!r}")
        major, minor, status, reason = match.groups()
        if major != b"1" or minor == b"0":
            raise InvalidHTTPMessage(
                400, f"unsupported HTTP version: {major.decode()}.{minor.decode()}; HTTP/1.1 is required"
            )
        return int(status), (reason or b"").decode("latin-1")

    def _finish(self, start: Any, headers: Headers) -> Response:
        return Response(start[0], start[1], headers)


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
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode("latin-1")).digest()).decode("ascii")


def generate_key() -> str:
    """A fresh ``Sec-WebSocket-Key``: base64 of 16 random bytes (RFC 6455 section 4.1)."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


# --------------------------------------------------------------------------
# Extension negotiation interface


class ClientExtensionFactory:
    """Client side of an extension's negotiation (subclass it).

    Attributes:
        name: the extension token, e.g. ``permessage-deflate``.
    """

    name: str

    def get_request_params(self) -> Sequence[ExtensionParameter]:
        """The parameters to offer in ``Sec-WebSocket-Extensions``."""
        raise NotImplementedError

    def process_response_params(
        self, params: Sequence[ExtensionParameter], accepted: Sequence[Extension]
    ) -> Extension:
        """Accept the server's answer to the offer.

        Args:
            params: the parameters the server sent for this extension.
            accepted: extensions already accepted from the same header, in
                order, so that an extension can check how it combines.

        Returns:
            The negotiated extension.

        Raises:
            NegotiationError: the parameters are not acceptable.
        """
        raise NotImplementedError


class ServerExtensionFactory:
    """Server side of an extension's negotiation (subclass it).

    Attributes:
        name: the extension token, e.g. ``permessage-deflate``.
    """

    name: str

    def process_request_params(
        self, params: Sequence[ExtensionParameter], accepted: Sequence[Extension]
    ) -> tuple[list[ExtensionParameter], Extension]:
        """Accept one offer of the client.

        Args:
            params: the parameters of this offer.
            accepted: extensions already accepted, in order.

        Returns:
            The parameters to answer with and the negotiated extension.

        Raises:
            NegotiationError: this offer is not acceptable (the next offer or
                factory is tried; the handshake still succeeds without it).
        """
        raise NotImplementedError


# --------------------------------------------------------------------------
# Server side


def _single(headers: Headers, name: str) -> str:
    values = headers.get_all(name)
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
    headers = request.headers
    # RFC 9112 section 3.2: "A server MUST respond with a 400 (Bad Request)
    # status code to any HTTP/1.1 request message that lacks a Host header
    # field and to any request message that contains more than one Host
    # header field line or a Host header field with an invalid field value."
    host = _single(headers, "Host")
    if _host_re.fullmatch(host) is None:
        raise InvalidHeader("Host", f"invalid value {host!r}")
    # RFC 6455 section 4.2.1: "An |Upgrade| header field containing the value
    # "websocket", treated as an ASCII case-insensitive value."
    if "Upgrade" not in headers:
        raise InvalidHeader("Upgrade", "missing")
    if not _has_token(headers, "Upgrade", "websocket", _parse_protocol):
        raise InvalidHeader("Upgrade", f"expected 'websocket', got {_joined(headers, 'Upgrade')!r}")
    # "A |Connection| header field that includes the token "Upgrade",
    # treated as an ASCII case-insensitive value."
    if "Connection" not in headers:
        raise InvalidHeader("Connection", "missing")
    if not _has_token(headers, "Connection", "upgrade", _parse_token):
        raise InvalidHeader("Connection", f"expected 'Upgrade', got {_joined(headers, 'Connection')!r}")
    # "A |Sec-WebSocket-Key| header field with a base64-encoded value that,
    # when decoded, is 16 bytes in length."
    key = _single(headers, "Sec-WebSocket-Key")
    try:
        raw = base64.b64decode(key.encode("latin-1"), validate=True)
    except binascii.Error:
        raise InvalidHeader("Sec-WebSocket-Key", f"not base64: {key!r}") from None
    if len(raw) != 16:
        raise InvalidHeader("Sec-WebSocket-Key", f"expected 16 bytes once decoded, got {len(raw)}: {key!r}")
    # "A |Sec-WebSocket-Version| header field, with a value of 13." Section
    # 4.4: otherwise answer with e.g. 426 and the versions we understand.
    versions = headers.get_all("Sec-WebSocket-Version")
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
    values = request.headers.get_all("Origin")
    if len(values) > 1:
        raise InvalidHeader("Origin", f"expected one value, got {len(values)}")
    origin = values[0] if values else None
    if origins is not None and origin not in origins:
        if origin is None:
            raise InvalidOrigin("missing Origin header")
        raise InvalidOrigin(f"origin not allowed: {origin!r}")
    return origin


SubprotocolSelector = Callable[[Request, Sequence[str]], str | None]


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
    if "Sec-WebSocket-Protocol" in request.headers:
        offered = parse_subprotocol_list(_joined(request.headers, "Sec-WebSocket-Protocol"))
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
    if not factories or "Sec-WebSocket-Extensions" not in request.headers:
        return None, []
    offers = parse_extension_list(_joined(request.headers, "Sec-WebSocket-Extensions"))
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
    return (build_extension_list(answers) if answers else None), accepted


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
    headers = Headers()
    headers._add_unchecked("Upgrade", "websocket")
    headers._add_unchecked("Connection", "Upgrade")
    headers._add_unchecked("Sec-WebSocket-Accept", accept_key(key))
    if subprotocol is not None:
        headers.add("Sec-WebSocket-Protocol", subprotocol)
    if extensions is not None:
        headers.add("Sec-WebSocket-Extensions", extensions)
    if server is not None:
        headers.add("Server", server)
    return Response(101, "Switching Protocols", headers)


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
    response_headers = Headers(headers)
    body = text.encode("utf-8")
    if server is not None:
        response_headers.add("Server", server)
    if "Connection" not in response_headers:
        response_headers._add_unchecked("Connection", "close")
    response_headers._add_unchecked("Content-Type", "text/plain; charset=utf-8")
    response_headers._add_unchecked("Content-Length", str(len(body)))
    return Response(status, reason, response_headers, body)


def response_for_exception(exc: Exception, *, server: str | None = None) -> Response:
    """The error response for a failed check or a malformed request.

    * :class:`InvalidHTTPMessage`: its ``status`` (400, 405 with
      ``Allow: GET``, 414, 431, 505);
    * :class:`InvalidOrigin`: 403 Forbidden;
    * :class:`InvalidVersion`: 426 Upgrade Required with
      ``Sec-WebSocket-Version: 13`` (RFC 6455 section 4.4);
    * :class:`InvalidHeader` for Upgrade or Connection: 426 Upgrade Required
      (RFC 9110 section 15.5.22), the request was not a WebSocket upgrade;
    * any other :class:`InvalidHandshake`: 400 Bad Request.

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


class WebSocketURI(NamedTuple):
    """A parsed ``ws://`` / ``wss://`` URI (RFC 6455 section 3).

    Attributes:
        secure: True for ``wss``.
        host: the host, without brackets for IPv6 literals, IDNA-encoded.
        port: the port (80 / 443 by default).
        path: the resource name: path and query, at least ``/``.
    """

    secure: bool
    host: str
    port: int
    path: str


# Characters kept as they are when percent-encoding a path: RFC 3986
# reserved and unreserved characters, and '%' (already encoded).
_SAFE_PATH = "/:@!$&'()*+,;=-._~?%"


def parse_uri(uri: str) -> WebSocketURI:
    """Parse a ``ws://`` or ``wss://`` URI.

    Args:
        uri: e.g. ``wss://example.com/chat?room=1``.

    Returns:
        The parsed URI; non-ASCII path characters are percent-encoded.

    Raises:
        ValueError: another scheme, no host, an invalid port, a fragment
            ("Fragment identifiers ... MUST NOT be used on these URIs", RFC
            6455 section 3) or user information (not in the ws-URI grammar).
    """
    parts = urllib.parse.urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in ("ws", "wss"):
        raise ValueError(f"not a WebSocket URI (scheme must be ws or wss): {uri!r}")
    if parts.fragment or "#" in uri:
        raise ValueError(f"a WebSocket URI must not have a fragment: {uri!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            f"a WebSocket URI must not have user information, send an Authorization header: {uri!r}"
        )
    host = parts.hostname
    if not host:
        raise ValueError(f"a WebSocket URI must have a host: {uri!r}")
    secure = scheme == "wss"
    port = parts.port  # raises ValueError for an invalid port
    if port is None:
        port = 443 if secure else 80
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        host = host.encode("idna").decode("ascii")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    path = urllib.parse.quote(path, safe=_SAFE_PATH)
    return WebSocketURI(secure, host, port, path)


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
    headers = Headers()
    headers.add("Host", authority)
    headers._add_unchecked("Upgrade", "websocket")
    headers._add_unchecked("Connection", "Upgrade")
    headers._add_unchecked("Sec-WebSocket-Key", generate_key() if key is None else key)
    headers._add_unchecked("Sec-WebSocket-Version", "13")
    if origin is not None:
        headers.add("Origin", origin)
    if subprotocols:
        headers.add("Sec-WebSocket-Protocol", build_subprotocol_list(subprotocols))
    if extensions:
        headers.add(
            "Sec-WebSocket-Extensions",
            build_extension_list(
                [(factory.name, list(factory.get_request_params())) for factory in extensions]
            ),
        )
    if user_agent is not None:
        headers.add("User-Agent", user_agent)
    if additional_headers is not None:
        headers.update(additional_headers)
    return Request(path, headers)


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
    headers = response.headers
    # "If the response lacks an |Upgrade| header field or the |Upgrade|
    # header field contains a value that is not an ASCII case-insensitive
    # match for the value "websocket", the client MUST _Fail the WebSocket
    # Connection_."
    if "Upgrade" not in headers:
        raise InvalidHeader("Upgrade", "missing")
    upgrade = _joined(headers, "Upgrade")
    if upgrade.lower() != "websocket" and [
        value.lower() for value in _parse_list(upgrade, "Upgrade", _parse_protocol)
    ] != ["websocket"]:
        raise InvalidHeader("Upgrade", f"expected 'websocket', got {_joined(headers, 'Upgrade')!r}")
    # "If the response lacks a |Connection| header field or the |Connection|
    # header field doesn't contain a token that is an ASCII case-insensitive
    # match for the value "Upgrade", the client MUST _Fail_ ..."
    if "Connection" not in headers:
        raise InvalidHeader("Connection", "missing")
    if not _has_token(headers, "Connection", "upgrade", _parse_token):
        raise InvalidHeader("Connection", f"expected 'Upgrade', got {_joined(headers, 'Connection')!r}")
    # "If the response lacks a |Sec-WebSocket-Accept| header field or the
    # |Sec-WebSocket-Accept| contains a value other than the base64-encoded
    # SHA-1 of the concatenation of the |Sec-WebSocket-Key| (as a string,
    # not base64-decoded) with the string "258EAFA5-E914-47DA-95CA-
    # C5AB0DC85B11" ... the client MUST _Fail_ ..."
    accept = _single(headers, "Sec-WebSocket-Accept")
    expected = accept_key(request.headers["Sec-WebSocket-Key"])
    if accept != expected:
        raise InvalidHeader("Sec-WebSocket-Accept", f"expected {expected!r}, got {accept!r}")
    # "If the response includes a |Sec-WebSocket-Extensions| header field and
    # this header field indicates the use of an extension that was not
    # present in the client's handshake ... the client MUST _Fail_ ..."
    accepted: list[Extension] = []
    if "Sec-WebSocket-Extensions" in headers:
        answers = parse_extension_list(_joined(headers, "Sec-WebSocket-Extensions"))
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
                    f"Sec-WebSocket-Extensions: unacceptable parameters for {name}: {build_extension_list([(name, params)])}"
                )
    # "If the response includes a |Sec-WebSocket-Protocol| header field and
    # this header field indicates the use of a subprotocol that was not
    # present in the client's handshake ... the client MUST _Fail_ ..."
    subprotocol: str | None = None
    if "Sec-WebSocket-Protocol" in headers:
        chosen = parse_subprotocol_list(_joined(headers, "Sec-WebSocket-Protocol"))
        if len(chosen) != 1:
            raise InvalidHeader("Sec-WebSocket-Protocol", f"expected one subprotocol, got {len(chosen)}")
        subprotocol = chosen[0]
        offered_subprotocols: list[str] = []
        if "Sec-WebSocket-Protocol" in request.headers:
            offered_subprotocols = parse_subprotocol_list(_joined(request.headers, "Sec-WebSocket-Protocol"))
        if subprotocol not in offered_subprotocols:
            raise NegotiationError(f"Sec-WebSocket-Protocol: {subprotocol} was not offered")
    return subprotocol, accepted
