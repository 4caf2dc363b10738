"""What the I/O layers share: their options, turned into protocol arguments, and their bounds.

:mod:`fastws.asyncio` and :mod:`fastws.sync` offer the same ``connect`` and
``serve`` options and give the same guarantees; this module holds what they
have in common, with no I/O and no event loop:

* :func:`client_protocol_options` and :func:`server_protocol_options` turn
  the keyword arguments of ``connect`` and ``serve`` into those of
  :class:`~fastws.client.ClientProtocol` and
  :class:`~fastws.server.ServerProtocol`;
* :func:`client_tls` checks ``ssl`` against the URI's scheme and picks the
  default context for ``wss://``;
* :func:`queue_limits` and :func:`queue_bytes_low` give the receive queue's
  high- and low-water marks;
* :data:`HOLD_LIMIT` and :data:`FAILURE_GRACE` bound the input held back by
  flow control and the time a protocol failure waits for the application;
  :data:`COALESCE_LIMIT` bounds the small messages written together.
"""

from __future__ import annotations

import ssl as ssl_module
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .extensions.permessage_deflate import ClientPerMessageDeflateFactory, ServerPerMessageDeflateFactory
from .headers import HeadersLike
from .uri import parse_uri

__all__ = [
    "COALESCE_LIMIT",
    "FAILURE_GRACE",
    "HOLD_LIMIT",
    "client_protocol_options",
    "client_tls",
    "queue_bytes_low",
    "queue_limits",
    "server_protocol_options",
]

#: While delivery is stopped (the receive queue is full), reading goes on
#: until the input waiting in the protocol costs this many bytes
#: (``Protocol.held_bytes``), so that pongs behind it are still seen; then it
#: stops, and TCP pushes back on the peer.
HOLD_LIMIT = 262144

#: Bytes of small messages held back, to be written together, while more
#: received messages wait in the queue (an application working through a
#: burst); past this the held data is written at once.
COALESCE_LIMIT = 65536

#: Longest wait, in seconds, for the application to take the messages that
#: arrived before a protocol error before the failure is sent anyway;
#: ``close_timeout`` bounds it further when it is shorter. Those messages are
#: already in memory, so answering them takes no network round trip, and a
#: broken peer should not hold a connection for long.
FAILURE_GRACE = 1.0


def queue_limits(max_queue: int | tuple[int, int | None] | None) -> tuple[int | None, int]:
    """Return the (high, low) water marks of the receive queue, in messages.

    Args:
        max_queue: an int (the high-water mark; the low one is a quarter of
            it), a ``(high, low)`` tuple (``low`` None: a quarter of
            ``high``), or None (no limit on the count).

    Raises:
        ValueError: ``high`` is below 1, or ``low`` is not in ``[0, high)``.
    """
    if max_queue is None:
        return None, sys.maxsize  # no count limit: only the bytes decide
    if isinstance(max_queue, tuple):
        high, low = max_queue
    else:
        high, low = max_queue, None
    if high < 1:
        raise ValueError("max_queue must be at least 1")
    if low is None:
        low = high // 4
    if not 0 <= low < high:
        raise ValueError("the low-water mark of max_queue must be in [0, high)")
    return high, low


def queue_bytes_low(max_queue_bytes: int | None) -> int | None:
    """Return the low-water mark of the receive queue, in bytes: a quarter of the limit.

    Raises:
        ValueError: ``max_queue_bytes`` is below 1.
    """
    if max_queue_bytes is None:
        return None
    if max_queue_bytes < 1:
        raise ValueError("max_queue_bytes must be at least 1")
    return max_queue_bytes // 4


def client_tls(
    uri: str, ssl: ssl_module.SSLContext | bool | None
) -> tuple[str, int, ssl_module.SSLContext | None]:
    """Check ``connect``'s ``ssl`` option against the URI.

    Args:
        uri: the ``ws://`` or ``wss://`` URI.
        ssl: an :class:`ssl.SSLContext`, True or None (the default context
            for ``wss://``), or False.

    Returns:
        The URI's host and port, and the TLS context to use (None for
        ``ws://``). The default context, :func:`ssl.create_default_context`,
        verifies the server's certificate and host name.

    Raises:
        ValueError: a bad URI, or a context for a ``ws://`` URI.
    """
    secure, host, port, _ = parse_uri(uri)  # raises ValueError
    if ssl is not None and ssl is not False and not secure:
        raise ValueError("ssl is only for wss:// URIs")
    if not secure:
        return host, port, None
    if ssl is None or ssl is True:
        return host, port, ssl_module.create_default_context()
    if ssl is False:
        raise ValueError("a wss:// URI needs TLS: pass an SSLContext, True or None as ssl")
    return host, port, ssl


def client_protocol_options(
    *,
    max_size: int | None,
    user_agent_header: str | None,
    compression: str | ClientPerMessageDeflateFactory | None,
    subprotocols: Sequence[str] | None = None,
    origin: str | None = None,
    additional_headers: HeadersLike | None = None,
    protocol_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The :class:`~fastws.client.ClientProtocol` keyword arguments of ``connect``'s options.

    ``protocol_options`` come first; the named options override them, and
    ``compression`` gives the extensions unless ``protocol_options`` names
    them.

    Raises:
        ValueError: an unknown ``compression``.
    """
    factory = ClientPerMessageDeflateFactory._from_option(compression)
    kwargs: dict[str, Any] = dict(protocol_options or {})
    kwargs["max_size"] = max_size
    kwargs["user_agent"] = user_agent_header
    if factory is not None and "extensions" not in kwargs:
        kwargs["extensions"] = [factory]
    if subprotocols is not None:
        kwargs["subprotocols"] = list(subprotocols)
    if origin is not None:
        kwargs["origin"] = origin
    if additional_headers is not None:
        kwargs["additional_headers"] = additional_headers
    return kwargs


def server_protocol_options(
    *,
    max_size: int | None,
    server_header: str | None,
    compression: str | ServerPerMessageDeflateFactory | None,
    subprotocols: Sequence[str] | None = None,
    select_subprotocol: Callable[..., Any] | None = None,
    origins: Sequence[str | None] | None = None,
    protocol_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The :class:`~fastws.server.ServerProtocol` keyword arguments of ``serve``'s options.

    ``protocol_options`` come first; the named options override them, and
    ``compression`` gives the extensions unless ``protocol_options`` names
    them.

    Raises:
        ValueError: an unknown ``compression``.
    """
    factory = ServerPerMessageDeflateFactory._from_option(compression)
    kwargs: dict[str, Any] = dict(protocol_options or {})
    kwargs["max_size"] = max_size
    kwargs["server_header"] = server_header
    if factory is not None and "extensions" not in kwargs:
        kwargs["extensions"] = [factory]
    if subprotocols is not None:
        kwargs["subprotocols"] = list(subprotocols)
    if select_subprotocol is not None:
        kwargs["select_subprotocol"] = select_subprotocol
    if origins is not None:
        kwargs["origins"] = list(origins)
    return kwargs
