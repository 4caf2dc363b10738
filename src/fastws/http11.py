"""HTTP/1.1 for the opening handshake: the two messages and their bounded parsers.

* :class:`Request` and :class:`Response`, the two handshake messages, which
  the sans-IO protocols also emit as events;
* :class:`RequestParser` / :class:`ResponseParser`, incremental and bounded
  HTTP/1.1 head parsers: input arrives in pieces, the parsed message comes
  out with the bytes that followed it (frames may share a packet with the
  101), and oversize input is refused as soon as a limit is passed, with
  :class:`fastws.InvalidHTTPMessage` and the status a server answers.

Decisions where the RFCs leave room:

* Line endings must be CRLF; a bare LF is refused with 400 (RFC 9112
  section 2.2 allows a recipient to accept it; refusing is the safe choice
  against request smuggling through proxies that disagree). Empty lines
  before the request line are refused too.
* Obsolete line folding is refused with 400 (RFC 9112 section 5.2 lets a
  server reject it).
* The request must have no body: the client waits for the 101 before it
  sends anything else (RFC 6455 section 4.1).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from ._twins import scan_fields, scan_request_line
from .exceptions import InvalidHTTPMessage
from .headers import _TOKEN, Headers, _btoken_re, _bvalue_re

__all__ = [
    "MAX_HEADERS",
    "MAX_HEADER_LINE",
    "MAX_HEADER_SIZE",
    "MAX_REQUEST_LINE",
    "Request",
    "RequestParser",
    "Response",
    "ResponseParser",
]

#: Default limit on the request line / status line, CRLF excluded (bytes).
MAX_REQUEST_LINE = 8192
#: Default limit on one header line, CRLF excluded (bytes).
MAX_HEADER_LINE = 8192
#: Default limit on the number of header lines.
MAX_HEADERS = 128
#: Default limit on the whole head: start line, headers, CRLFs (bytes).
MAX_HEADER_SIZE = 65536

# RFC 9112 section 3: request-line = method SP request-target SP HTTP-version.
_request_line_re = re.compile(rb"(" + _TOKEN.encode() + rb") ([\x21-\x7e]+) HTTP/([0-9])\.([0-9])")
# RFC 9112 section 4: status-line = HTTP-version SP status-code SP [ reason-phrase ].
# The SP before an empty reason is often omitted by servers: it is optional here.
_status_line_re = re.compile(rb"HTTP/([0-9])\.([0-9]) ([0-9]{3})(?: ([\t\x20-\x7e\x80-\xff]*))?")
# RFC 9110 section 8.6: Content-Length = 1*DIGIT.
_digits_re = re.compile(r"[0-9]+")


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


# The frozen dataclasses' __init__ sets each field through
# object.__setattr__, by name; a message made on every handshake (the
# request parsed, the 101 answered) is made here through the slots' own
# descriptors instead: the same object, about 6 k fewer instructions per
# handshake (bench/echo_instructions.py --mode handshake).
_new = object.__new__


def _setter(cls: type, name: str) -> Callable[[Any, Any], None]:
    """The ``__set__`` of the slot ``name`` of ``cls``."""
    return cls.__dict__[name].__set__  # type: ignore[no-any-return]


_set_path = _setter(Request, "path")
_set_request_headers = _setter(Request, "headers")
_set_status = _setter(Response, "status")
_set_reason = _setter(Response, "reason")
_set_response_headers = _setter(Response, "headers")
_set_body = _setter(Response, "body")


def _request(path: str, headers: Headers) -> Request:
    """``Request(path, headers)``, made faster (see above)."""
    request: Request = _new(Request)
    _set_path(request, path)
    _set_request_headers(request, headers)
    return request


def _response(status: int, reason: str, headers: Headers, body: bytes = b"") -> Response:
    """``Response(status, reason, headers, body)``, made faster (see above)."""
    response: Response = _new(Response)
    _set_status(response, status)
    _set_reason(response, reason)
    _set_response_headers(response, headers)
    _set_body(response, body)
    return response


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
        if max_line < 0 or max_header_line < 0 or max_headers < 0 or max_size < 0:
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

        It accepts exactly what :meth:`_line` accepts, with one pass over
        the whole block of header lines (``scan_fields``, compiled in the
        compiled twin) instead of a few calls per line; on anything unusual
        (incomplete head, a limit reached, a malformed line) it returns None
        and the line-by-line path, which gives the precise error, takes over
        from the start.
        """
        end = data.find(b"\r\n\r\n")
        if end < 0 or end + 4 > self._max_size:
            return None
        first_end = data.find(b"\r\n")
        if data.find(b"\n", 0, first_end) >= 0:
            return None  # a bare LF in the start line
        # One length check for every header line: none is longer than the
        # block (heads over the line limit take the line-by-line path).
        if not 0 < first_end <= self._max_line or end - first_end > self._max_header_line:
            return None
        start = self._parse_start(data[:first_end])
        scanned = scan_fields(data, first_end + 2, end + 2, self._max_headers)
        if scanned is None:
            return None
        fields, index = scanned
        headers = self._headers
        headers._fields = fields
        headers._index = index
        self._start = start
        self._count = len(fields) // 2
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
        fast = scan_request_line(content)
        if fast is not None:
            return fast  # GET <origin-form> HTTP/1.1: what every client sends
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
        fields = headers._by_name()
        if "transfer-encoding" in fields:
            raise InvalidHTTPMessage(400, "the handshake request must not have a body (Transfer-Encoding)")
        for length in fields.get("content-length", ()):
            if _digits_re.fullmatch(length) is None:
                raise InvalidHTTPMessage(400, f"invalid Content-Length: {length!r}")
            if int(length) != 0:
                raise InvalidHTTPMessage(400, "the handshake request must not have a body (Content-Length)")
        return _request(start, headers)


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
        return _response(start[0], start[1], headers)
