"""Numbers RFC 6455 gives names to: opcodes, close codes, states, the handshake GUID."""

from __future__ import annotations

import enum

__all__ = ["MAX_CONTROL_PAYLOAD", "WS_GUID", "CloseCode", "Opcode", "Side", "State", "close_code_valid"]

#: RFC 6455 section 1.3: appended to Sec-WebSocket-Key before hashing.
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

#: RFC 6455 section 5.5: "All control frames MUST have a payload length of
#: 125 bytes or less".
MAX_CONTROL_PAYLOAD = 125


class Opcode(enum.IntEnum):
    """Frame opcodes (RFC 6455 section 5.2); 3-7 and 11-15 are reserved."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA

    @property
    def is_control(self) -> bool:
        """Whether this is a control opcode (close, ping, pong)."""
        return self >= 0x8


class CloseCode(enum.IntEnum):
    """Close status codes (RFC 6455 section 7.4.1 and the IANA registry)."""

    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    #: Reserved: never on the wire.
    NO_STATUS_RCVD = 1005
    #: Reserved: never on the wire.
    ABNORMAL_CLOSURE = 1006
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    #: Reserved: never on the wire.
    TLS_HANDSHAKE = 1015


# RFC 6455 section 7.4.1 defines 1000-1003 and 1007-1011 for endpoints to
# send; 1004 is reserved, and 1005, 1006 and 1015 "MUST NOT be set as a
# status code in a Close control frame by an endpoint". 1012 (service
# restart), 1013 (try again later) and 1014 (bad gateway) were registered
# with IANA after the RFC (section 11.7's registry): servers and proxies
# send them (uvicorn closes with 1012 when it restarts) and browsers accept
# them, so they are valid here too. Section 7.4.2: 3000-3999 are registered
# with IANA, 4000-4999 are private. The same set bounds what send_close()
# accepts, so a fastws peer never refuses what fastws sends.
_VALID_CLOSE_CODES = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014))


def close_code_valid(code: int) -> bool:
    """Whether an endpoint may send ``code`` in a close frame.

    1000-1003, 1007-1014 and 3000-4999: RFC 6455 section 7.4 and the IANA
    registry of section 11.7.
    """
    return code in _VALID_CLOSE_CODES or 3000 <= code <= 4999


# Modules compare states and sides with module-level names (``_OPEN =
# State.OPEN``): on CPython 3.10 and 3.11, ``State.OPEN`` goes through the
# enum metaclass's ``__getattr__`` hook, about 850 instructions a lookup.


class Side(enum.IntEnum):
    """Which end of the connection a protocol object plays."""

    CLIENT = 0
    SERVER = 1


class State(enum.IntEnum):
    """Connection states, numbered as the browser's ``WebSocket.readyState``.

    * ``CONNECTING``: the opening handshake is in progress (subclasses only);
    * ``OPEN``: messages flow both ways;
    * ``CLOSING``: a close frame was sent or received; the client stays here
      after the closing handshake until the server closes TCP;
    * ``CLOSED``: nothing more will be sent or processed (the closing
      handshake is over and EOF was sent or received, or the connection
      failed).
    """

    CONNECTING = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3
