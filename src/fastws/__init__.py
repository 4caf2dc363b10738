"""fastws: the fastest correct WebSocket library for Python.

The low-level codec (masking, UTF-8 validation, frame parsing and encoding)
is importable from here without importing asyncio; higher layers are loaded
lazily on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from .codec import (
    IMPLEMENTATION as implementation,
)
from .codec import (
    Frame,
    FrameParser,
    Utf8Validator,
    apply_mask,
    apply_mask_inplace,
    encode_frame,
    encode_frame_header,
    validate_utf8,
)
from .constants import CloseCode, Opcode
from .exceptions import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidAccessError,
    InvalidCloseCode,
    InvalidFrame,
    InvalidHandshake,
    InvalidHeader,
    InvalidHTTPMessage,
    InvalidMessage,
    InvalidOrigin,
    InvalidState,
    InvalidStatus,
    InvalidUTF8,
    InvalidVersion,
    NegotiationError,
    PayloadTooBig,
    ProtocolError,
    SyntaxErr,
    WebSocketError,
)
from .frames import Close
from .version import __version__

# Names defined in modules that are imported on first access, so that users
# of the codec alone never pay for (or depend on) the layers above it.
_LAZY: dict[str, str] = {
    # sans-IO protocol
    "BinaryMessage": ".events",
    "CloseReceived": ".events",
    "Event": ".events",
    "Ping": ".events",
    "Pong": ".events",
    "TextMessage": ".events",
    "Protocol": ".protocol",
    "Side": ".protocol",
    "State": ".protocol",
    "ClientProtocol": ".client",
    "ServerProtocol": ".server",
    # opening handshake
    "ClientExtensionFactory": ".extensions.base",
    "Headers": ".headers",
    "Request": ".http11",
    "Response": ".http11",
    "ServerExtensionFactory": ".extensions.base",
    "accept_key": ".handshake",
    # asyncio (imports asyncio only when one of these is used)
    "ClientConnection": ".asyncio",
    "Connection": ".asyncio",
    "Server": ".asyncio",
    "ServerConnection": ".asyncio",
    "WebSocket": ".asyncio",
    "BroadcastResult": ".asyncio",
    "broadcast": ".asyncio",
    "connect": ".asyncio",
    "serve": ".asyncio",
}

__all__ = [
    "Close",
    "CloseCode",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "Frame",
    "FrameParser",
    "InvalidAccessError",
    "InvalidCloseCode",
    "InvalidFrame",
    "InvalidHTTPMessage",
    "InvalidHandshake",
    "InvalidHeader",
    "InvalidMessage",
    "InvalidOrigin",
    "InvalidState",
    "InvalidStatus",
    "InvalidUTF8",
    "InvalidVersion",
    "NegotiationError",
    "Opcode",
    "PayloadTooBig",
    "ProtocolError",
    "SyntaxErr",
    "Utf8Validator",
    "WebSocketError",
    "__version__",
    "apply_mask",
    "apply_mask_inplace",
    "encode_frame",
    "encode_frame_header",
    "implementation",
    "validate_utf8",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fastws' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
