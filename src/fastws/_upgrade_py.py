"""The opening handshake's work for each connection (pure-Python twin).

What every upgrade runs once, apart from the objects it makes:

* :func:`scan_fields`: the header lines of a head that arrived whole, in
  one pass, for :class:`fastws.http11.RequestParser` and ``ResponseParser``.
  It accepts exactly the lines that their line-by-line path accepts (RFC
  9110 section 5: ``field-name ":" OWS field-value OWS`` and CRLF, read as
  ISO-8859-1); on anything else it returns None, and that path, which gives
  the precise error, reads the head instead;
* :func:`scan_request_line`: the target of the request line that every
  client sends, ``GET <origin-form target> HTTP/1.1``; None for any other
  line, which the parser then reads with the whole grammar;
* :func:`accept_key`: the ``Sec-WebSocket-Accept`` of a key (SHA-1, base64);
* :func:`canonical_key` and :func:`valid_host`: the grammars of
  ``Sec-WebSocket-Key`` and ``Host`` that :func:`fastws.handshake.check_request`
  checks.

``fastws._upgrade`` is the compiled twin: same names, results and
exceptions. ``fastws._twins`` picks the twin, with the codec's.
"""

from __future__ import annotations

import binascii
import hashlib
import re

from .constants import WS_GUID
from .headers import _TOKEN

__all__ = ["IMPLEMENTATION", "accept_key", "canonical_key", "scan_fields", "scan_request_line", "valid_host"]

IMPLEMENTATION = "python"

# One pass over a block of header lines: each match is a line's
# (name, value, "") with the value's leading whitespace left out, except
# that from the first position where no line matches, the rest of the block
# is one match ("", "", rest). A value starts with a visible character, so
# the whitespace before it is never split two ways: a line matches in one
# way only, and a line that does not match is refused in time linear in its
# size. The block is valid exactly when that last kind of match is absent.
_FIELD_VALUE = r":[ \t]*((?:[\x21-\x7e\x80-\xff][\t\x20-\x7e\x80-\xff]*)?)\r\n"
_fields_re = re.compile("(" + _TOKEN + ")" + _FIELD_VALUE + r"|([\s\S]+)")
_OWS = (" ", "\t")


def scan_fields(
    data: bytes, start: int, end: int, max_headers: int
) -> tuple[list[str], dict[str, list[str]]] | None:
    """The header lines of ``data[start:end]`` as ``(fields, index)``, or None.

    Args:
        data: the bytes of a head.
        start: where its first header line starts.
        end: just past the CRLF of its last header line (``start`` when it
            has none).
        max_headers: the most lines accepted.

    Returns:
        ``fields``: name, value, name, value, ... in order, names as sent,
        values without the whitespace around them; ``index``: each
        lower-cased name and its values, in order (what
        :class:`~fastws.headers.Headers` keeps). None when a line is
        malformed or there are more than ``max_headers``.

    Raises:
        TypeError: ``data`` is not ``bytes``.
        ValueError: ``start`` and ``end`` do not lie within ``data``, in order.
    """
    if type(data) is not bytes:
        raise TypeError(f"data must be bytes, not {type(data).__name__}")
    if start < 0 or end > len(data) or start > end:
        raise ValueError("start and end must lie within data, in order")
    # Field names are ASCII tokens and values are read as ISO-8859-1:
    # decoding the block once gives the same strings as per field.
    lines = _fields_re.findall(data[start:end].decode("latin-1"))
    if len(lines) > max_headers or (lines and lines[-1][2]):
        return None
    fields: list[str] = []
    index: dict[str, list[str]] = {}
    for name, value, _ in lines:
        if value[-1:] in _OWS:
            value = value.rstrip(" \t")
        fields.append(name)
        fields.append(value)
        key = name.lower()
        values = index.get(key)
        if values is None:
            index[key] = [value]
        else:
            values.append(value)
    return fields, index


# RFC 9112 section 3 with RFC 6455 section 4.1's method and version, and an
# origin-form target (RFC 9112 section 3.2.1: an absolute path and query).
_get_line_re = re.compile(rb"GET (/[\x21-\x7e]*) HTTP/1\.1")


def scan_request_line(line: bytes) -> str | None:
    """The target of ``line`` when it is ``GET <target> HTTP/1.1`` with an
    origin-form target (``/`` and visible ASCII characters), else None.

    Raises:
        TypeError: ``line`` is not ``bytes``.
    """
    if type(line) is not bytes:
        raise TypeError(f"line must be bytes, not {type(line).__name__}")
    match = _get_line_re.fullmatch(line)
    return None if match is None else match.group(1).decode("ascii")


def accept_key(key: str) -> str:
    """Base64 of the SHA-1 of ``key`` followed by the GUID of RFC 6455 section 1.3.

    Raises:
        TypeError: ``key`` is not ``str``.
        UnicodeEncodeError: ``key`` has a character beyond ISO-8859-1.
    """
    _check_str("key", key)
    digest = hashlib.sha1((key + WS_GUID).encode("latin-1")).digest()
    return binascii.b2a_base64(digest, newline=False).decode("ascii")


# The canonical base64 of 16 bytes (RFC 4648 section 4): 21 characters, a
# 22nd that carries 2 bits of data and 4 zero bits (A, Q, g or w), and "==".
_key_re = re.compile(r"[A-Za-z0-9+/]{21}[AQgw]==")
# RFC 9110 section 7.2: Host = uri-host [ ":" port ] (RFC 3986 host: IP-literal or reg-name).
_host_re = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?")


def canonical_key(key: str) -> bool:
    """Whether ``key`` is the canonical base64 spelling of 16 bytes (what clients send).

    Raises:
        TypeError: ``key`` is not ``str``.
    """
    _check_str("key", key)
    return _key_re.fullmatch(key) is not None


def valid_host(host: str) -> bool:
    """Whether ``host`` is ``uri-host [ ":" port ]``: an IP literal in brackets or a
    registered name (possibly empty), then an optional colon and digits.

    Raises:
        TypeError: ``host`` is not ``str``.
    """
    _check_str("host", host)
    return _host_re.fullmatch(host) is not None


def _check_str(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be str, not {type(value).__name__}")
