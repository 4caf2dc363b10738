"""WebSocket extensions (RFC 6455 section 9).

Only the interface lives here for now: :class:`Extension`, the contract
between the protocol and an extension such as permessage-deflate.
"""

from __future__ import annotations

from .base import Extension

__all__ = ["Extension"]
