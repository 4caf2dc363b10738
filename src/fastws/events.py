"""Events the sans-IO protocol emits (``Protocol.events_received()``).

Every event is small, immutable and comparable: two events are equal when
they have the same type and the same fields, as with frozen dataclasses.
They are ``__slots__`` classes rather than ``@dataclass(frozen=True)``
because the protocol creates one per message on its hot path, and a frozen
dataclass's ``__init__`` (which goes through ``object.__setattr__``) costs
about twice as much. Each field lives in a private slot behind a read-only
property, so ``event.data = ...`` raises :class:`AttributeError`.

``Request`` and ``Response`` (the opening handshake) are defined in
:mod:`fastws.http11` and are emitted by the client and server protocols.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

__all__ = [
    "BinaryMessage",
    "CloseReceived",
    "Event",
    "Ping",
    "Pong",
    "TextMessage",
]


class _DataEvent:
    """An event carrying one ``data`` field; subclasses fix its type."""

    __slots__ = ("_data",)
    __match_args__ = ("data",)

    def __init__(self, data: Any) -> None:
        self._data = data

    data = property(attrgetter("_data"), doc="The payload of the event.")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return bool(self._data == other._data)

    def __ne__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return bool(self._data != other._data)

    def __hash__(self) -> int:
        return hash((type(self), self._data))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(data={self._data!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._data,))


class TextMessage(_DataEvent):
    """A complete text message, reassembled and validated as UTF-8.

    Attributes:
        data: the message, decoded.
    """

    __slots__ = ()
    data: str

    def __init__(self, data: str) -> None:
        self._data = data


class BinaryMessage(_DataEvent):
    """A complete binary message, reassembled.

    Attributes:
        data: the message.
    """

    __slots__ = ()
    data: bytes

    def __init__(self, data: bytes) -> None:
        self._data = data


class Ping(_DataEvent):
    """A ping frame was received (the protocol answers it unless told not to).

    Attributes:
        data: the ping's application data (0-125 bytes).
    """

    __slots__ = ()
    data: bytes

    def __init__(self, data: bytes = b"") -> None:
        self._data = data


class Pong(_DataEvent):
    """A pong frame was received, solicited or not.

    Attributes:
        data: the pong's application data (0-125 bytes).
    """

    __slots__ = ()
    data: bytes

    def __init__(self, data: bytes = b"") -> None:
        self._data = data


class CloseReceived:
    """The peer's close frame.

    Attributes:
        code: the close status code; 1005 (no status received) when the
            frame had no payload.
        reason: the close reason, decoded; empty when there was none.
    """

    __slots__ = ("_code", "_reason")
    __match_args__ = ("code", "reason")

    def __init__(self, code: int, reason: str = "") -> None:
        self._code = code
        self._reason = reason

    @property
    def code(self) -> int:
        """The close status code."""
        return self._code

    @property
    def reason(self) -> str:
        """The close reason."""
        return self._reason

    def __eq__(self, other: object) -> bool:
        if type(other) is not CloseReceived:
            return NotImplemented
        return self._code == other._code and self._reason == other._reason

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash((CloseReceived, self._code, self._reason))

    def __repr__(self) -> str:
        return f"CloseReceived(code={self._code!r}, reason={self._reason!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (CloseReceived, (self._code, self._reason))


#: Every event the base protocol emits. ``ClientProtocol`` and
#: ``ServerProtocol`` also emit ``fastws.http11.Response`` / ``Request``.
Event = TextMessage | BinaryMessage | Ping | Pong | CloseReceived
