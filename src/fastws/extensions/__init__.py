"""WebSocket extensions (RFC 6455 section 9).

:class:`Extension` is the contract between the protocol and an extension;
permessage-deflate (RFC 7692) is the one fastws implements.
"""

from __future__ import annotations

from .base import Extension
from .permessage_deflate import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
    get_default_backend,
    set_default_backend,
)

__all__ = [
    "ClientPerMessageDeflateFactory",
    "Extension",
    "PerMessageDeflate",
    "ServerPerMessageDeflateFactory",
    "get_default_backend",
    "set_default_backend",
]
