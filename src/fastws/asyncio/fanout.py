"""One message to many connections: :func:`broadcast`.

``fastws.broadcast(connections, message)`` sends a message to every open
connection in an iterable, without awaiting. It encodes the frame once: a
server's frames are not masked, so every connection without compression
gets the very same bytes; connections that negotiated permessage-deflate
*without context takeover* on their side and the same compression settings
get one compressed frame, compressed once for all of them (RFC 7692: each
message is then compressed on its own, so the bytes do not depend on the
connection); connections with context takeover compress it themselves, each
against its own history, as they must. A client connection masks every
frame with a fresh key, so it encodes its own.

It never buffers without bound: a connection whose write buffer is above
its ``write_limit`` (a slow reader) is skipped, and counted; with
``max_backlog=``, one whose buffer is above that many bytes is closed with
1013 (try again later) instead. Connections that are not open, or in the
middle of sending a fragmented message, are skipped. The result counts
what happened to each.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..codec import encode_frame
from ..constants import Opcode, State
from ..extensions.deflate import PerMessageDeflate, compress_message

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["BroadcastResult", "broadcast"]

_OPEN = State.OPEN


@dataclasses.dataclass(frozen=True, slots=True)
class BroadcastResult:
    """What :func:`broadcast` did.

    Attributes:
        sent: connections the message was handed to.
        skipped: connections not open, in the middle of a fragmented
            message, or whose write buffer was above its limit.
        closed: connections closed with 1013 because their write buffer
            was above ``max_backlog``.
    """

    sent: int
    skipped: int
    closed: int


def broadcast(
    connections: Iterable[Connection],
    message: str | bytes | bytearray | memoryview,
    *,
    max_backlog: int | None = None,
) -> BroadcastResult:
    """Send ``message`` to every connection, encoding (and compressing) it once.

    Not a coroutine: it hands the frame to each connection's transport at
    once and returns. Use it from handlers, callbacks (``on_message``) or
    any code running on the connections' event loop.

    Args:
        connections: where to send it (server or client connections).
        message: ``str`` for a text message, bytes-like for binary.
        max_backlog: close (1013) a connection whose write buffer holds more
            than this many bytes, instead of skipping it; None (the default)
            only skips connections above their ``write_limit``.

    Returns:
        How many connections got the message, were skipped or were closed.

    Raises:
        TypeError: ``message`` is neither ``str`` nor bytes-like.
        ValueError: ``max_backlog`` is negative.
    """
    if isinstance(message, str):
        opcode, payload = Opcode.TEXT, message.encode()
    elif isinstance(message, (bytes, bytearray, memoryview)):
        opcode, payload = Opcode.BINARY, bytes(message)
    else:
        raise TypeError(f"message must be str or bytes-like, not {type(message).__name__}")
    if max_backlog is not None and max_backlog < 0:
        raise ValueError("max_backlog must be >= 0")
    frames = _Frames(opcode, payload)
    sent = skipped = closed = 0
    for connection in connections:
        protocol = connection.protocol
        if protocol.state is not _OPEN or connection._lost or connection._fragmented_send is not None:
            skipped += 1
            continue
        backlog = connection.transport.get_write_buffer_size()
        if max_backlog is not None and backlog > max_backlog:
            connection._start_closing(1013, "too slow: try again later")
            closed += 1
            continue
        if backlog > connection._write_high:
            skipped += 1
            continue
        frame = frames.for_protocol(protocol)
        if frame is None:
            # Its own encoding: a client's mask, or compression with context
            # takeover (or an extension other than permessage-deflate).
            if opcode is Opcode.TEXT:
                protocol.send_text(payload)
            else:
                protocol.send_binary(payload)
            connection._flush()
        else:
            connection._write_frame(frame)
        sent += 1
    return BroadcastResult(sent, skipped, closed)


class _Frames:
    """The frames of one message, encoded on first need, per kind of connection."""

    __slots__ = ("_compressed", "_opcode", "_payload", "_plain")

    def __init__(self, opcode: Opcode, payload: bytes) -> None:
        self._opcode = opcode
        self._payload = payload
        self._plain: bytes | None = None
        self._compressed: dict[Any, bytes] = {}

    def plain(self) -> bytes:
        if self._plain is None:
            self._plain = encode_frame(self._opcode, self._payload)
        return self._plain

    def for_protocol(self, protocol: Any) -> bytes | None:
        """The frame this connection can take as it is, or None if it encodes its own."""
        if protocol.side == 0:  # a client masks every frame with a fresh key
            return None
        extensions = protocol.extensions
        if not extensions:
            return self.plain()
        if len(extensions) != 1 or type(extensions[0]) is not PerMessageDeflate:
            return None
        key = extensions[0].shared_compression
        if key is None:
            return None
        frame = self._compressed.get(key)
        if frame is None:
            data = compress_message(key, self._payload)
            frame = self.plain() if data is None else encode_frame(self._opcode, data, rsv1=True)
            self._compressed[key] = frame
        return frame
