"""WebSocket URIs: ``ws://`` and ``wss://`` (RFC 6455 section 3).

User information in a WebSocket URI is refused: RFC 6455 section 3's
grammar has no userinfo, and credentials in URIs end up in logs. Send an
``Authorization`` header through ``additional_headers`` instead.
"""

from __future__ import annotations

import urllib.parse
from typing import NamedTuple

__all__ = ["WebSocketURI", "parse_uri"]


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
