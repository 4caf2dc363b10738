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
* :class:`QueueMarks` (from :func:`queue_limits` and :func:`queue_bytes_low`)
  holds the receive queue's high- and low-water marks, shared by the
  connections made with the same options (:func:`queue_marks`);
  :func:`connection_options` gathers the options of a connection;
* :data:`HOLD_LIMIT` and :data:`FAILURE_GRACE` bound the input held back by
  flow control and the time a protocol failure waits for the application;
  :data:`COALESCE_LIMIT` bounds the small messages written together.
"""

from __future__ import annotations

import functools
import ssl as ssl_module
import sys
from collections.abc import Mapping
from typing import Any

from .extensions.permessage_deflate import ClientPerMessageDeflateFactory, ServerPerMessageDeflateFactory
from .flow import FlowControl
from .uri import parse_uri

__all__ = [
    "COALESCE_LIMIT",
    "CONNECTION_OPTIONS",
    "FAILURE_GRACE",
    "HOLD_LIMIT",
    "QueueMarks",
    "client_protocol_options",
    "client_tls",
    "connection_options",
    "queue_bytes_low",
    "queue_limits",
    "queue_marks",
    "server_protocol_options",
    "write_marks",
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


def write_marks(write_limit: int | tuple[int, int | None]) -> tuple[int, int | None]:
    """Return the (high, low) water marks of the write buffer, in bytes.

    Args:
        write_limit: an int (the high-water mark; the transport picks the
            low one, a quarter of it for asyncio's and uvloop's), or a
            ``(high, low)`` tuple (``low`` None: the transport's choice).

    Raises:
        TypeError: a mark is not an int (``bool`` and ``float`` included).
        ValueError: a mark is below 0, or ``low`` is above ``high``.
    """
    if isinstance(write_limit, tuple) and len(write_limit) == 2:
        high, low = write_limit
    else:
        high, low = write_limit, None
    _check_bytes("write_limit", high)
    if low is not None:
        _check_bytes("the low-water mark of write_limit", low)
        if low > high:
            raise ValueError(
                f"the low-water mark of write_limit ({low}) is above its high-water mark ({high})"
            )
    return high, low


def _check_bytes(name: str, value: object) -> None:
    if type(value) is bool or not isinstance(value, int):
        raise TypeError(f"{name} must be an int or a (high, low) tuple of ints, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0")


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


class QueueMarks:
    """The receive queue's water marks, from ``max_queue`` and ``max_queue_bytes``.

    Delivery stops at the high marks, which :meth:`apply` gives the
    protocol's flow control; it resumes once the queue is down to both low
    marks (:meth:`low_water`).

    Args:
        max_queue: see :func:`queue_limits`.
        max_queue_bytes: the high-water mark in bytes (None: none); the low
            one is a quarter of it.

    Raises:
        ValueError: a mark out of range.
    """

    __slots__ = ("high", "high_bytes", "low", "low_bytes")

    def __init__(self, max_queue: int | tuple[int, int | None] | None, max_queue_bytes: int | None) -> None:
        self.high, self.low = queue_limits(max_queue)
        self.low_bytes = queue_bytes_low(max_queue_bytes)
        self.high_bytes = max_queue_bytes

    def apply(self, flow: FlowControl) -> None:
        """Set the high marks as the flow control's limits."""
        flow.max_queue = self.high
        flow.max_queue_bytes = self.high_bytes

    def low_water(self, flow: FlowControl, queued: int) -> bool:
        """Whether a queue of ``queued`` messages is down to the low-water marks.

        Args:
            flow: the protocol's flow control; its ``queued`` is set to
                ``queued`` first (the caller takes the oldest messages first).
            queued: how many delivered messages the queue still holds.
        """
        if queued > self.low:
            return False
        if self.low_bytes is None:
            return True
        flow.queued = queued
        return flow.queued_bytes <= self.low_bytes


@functools.lru_cache(maxsize=64)
def queue_marks(max_queue: int | tuple[int, int | None] | None, max_queue_bytes: int | None) -> QueueMarks:
    """The :class:`QueueMarks` of these options, one object for every connection made with them.

    A server's connections share their options, and the marks are only
    read once made: one per server instead of one per connection.

    Raises:
        ValueError: a mark out of range.
    """
    return QueueMarks(max_queue, max_queue_bytes)


#: The options of ``connect`` and ``serve`` that configure each connection.
CONNECTION_OPTIONS = (
    "ping_interval",
    "ping_timeout",
    "close_timeout",
    "max_queue",
    "max_queue_bytes",
    "write_limit",
)


def connection_options(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """A connection's keyword arguments, picked from the arguments of ``connect`` or ``serve``.

    The queue and write-buffer marks are checked here, so that a bad one
    fails the call instead of each connection it makes.

    Args:
        arguments: the call's arguments by name (``locals()`` at its start),
            among which every name of :data:`CONNECTION_OPTIONS`.

    Raises:
        TypeError, ValueError: ``max_queue``, ``max_queue_bytes`` or
            ``write_limit`` is out of range (see :func:`queue_limits`,
            :func:`queue_bytes_low` and :func:`write_marks`).
    """
    options = {name: arguments[name] for name in CONNECTION_OPTIONS}
    queue_marks(options["max_queue"], options["max_queue_bytes"])
    write_marks(options["write_limit"])
    return options


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


def _protocol_options(
    protocol_options: dict[str, Any] | None,
    factory: object,
    named: dict[str, Any],
    given: dict[str, Any],
) -> dict[str, Any]:
    """``protocol_options``, then the ``named`` options, the extension, the ``given`` ones (not None)."""
    kwargs: dict[str, Any] = dict(protocol_options or {})
    kwargs.update(named)
    if factory is not None and "extensions" not in kwargs:
        kwargs["extensions"] = [factory]
    for name, value in given.items():
        if value is not None:
            kwargs[name] = list(value) if name in ("subprotocols", "origins") else value
    return kwargs


def client_protocol_options(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`~fastws.client.ClientProtocol` keyword arguments of ``connect``'s.

    Args:
        arguments: ``connect``'s arguments by name (``locals()`` at its
            start): ``max_size``, ``user_agent_header``, ``compression``,
            ``subprotocols``, ``origin``, ``additional_headers`` and
            ``protocol_options``, which come first; the named options
            override them, and ``compression`` gives the extensions unless
            ``protocol_options`` names them.

    Raises:
        ValueError: an unknown ``compression``.
    """
    return _protocol_options(
        arguments["protocol_options"],
        ClientPerMessageDeflateFactory._from_option(arguments["compression"]),
        {"max_size": arguments["max_size"], "user_agent": arguments["user_agent_header"]},
        {name: arguments[name] for name in ("subprotocols", "origin", "additional_headers")},
    )


def server_protocol_options(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`~fastws.server.ServerProtocol` keyword arguments of ``serve``'s.

    Args:
        arguments: ``serve``'s arguments by name (``locals()`` at its
            start): ``max_size``, ``server_header``, ``compression``,
            ``subprotocols``, ``select_subprotocol``, ``origins`` and
            ``protocol_options``, as for :func:`client_protocol_options`.

    Raises:
        ValueError: an unknown ``compression``.
    """
    return _protocol_options(
        arguments["protocol_options"],
        ServerPerMessageDeflateFactory._from_option(arguments["compression"]),
        {"max_size": arguments["max_size"], "server_header": arguments["server_header"]},
        {name: arguments[name] for name in ("subprotocols", "select_subprotocol", "origins")},
    )
