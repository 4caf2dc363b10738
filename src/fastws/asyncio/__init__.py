"""fastws on asyncio: :func:`serve`, :func:`connect` and the browser-style :class:`WebSocket`.

Importing :mod:`fastws` does not import this package (nor :mod:`asyncio`);
``fastws.serve``, ``fastws.connect`` and ``fastws.WebSocket`` load it on
first use. Runs on any asyncio event loop, uvloop included.

The submodules are themselves loaded on first use of one of their names, so
that, e.g., ``fastws.asyncio.connection`` can be imported on its own.

The browser-style events are :mod:`fastws.asyncio.browser`'s: its plain
``Event`` is not exported here (``fastws.Event`` is the union of the
protocol's events); ``fastws.asyncio.Event`` still works for one minor
release, with a :class:`DeprecationWarning`.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .browser import CloseEvent, InvalidAccessError, MessageEvent, SyntaxErr, WebSocket
    from .client import ClientConnection, connect
    from .connection import Connection, Data
    from .fanout import BroadcastResult, broadcast
    from .server import Server, ServerConnection, serve

__all__ = [
    "BroadcastResult",
    "ClientConnection",
    "CloseEvent",
    "Connection",
    "Data",
    "InvalidAccessError",
    "MessageEvent",
    "Server",
    "ServerConnection",
    "SyntaxErr",
    "WebSocket",
    "broadcast",
    "connect",
    "serve",
]

_LAZY = {
    "BroadcastResult": ".fanout",
    "broadcast": ".fanout",
    "CloseEvent": ".browser",
    "InvalidAccessError": ".browser",
    "MessageEvent": ".browser",
    "SyntaxErr": ".browser",
    "WebSocket": ".browser",
    "ClientConnection": ".client",
    "connect": ".client",
    "Connection": ".connection",
    "Data": ".connection",
    "Server": ".server",
    "ServerConnection": ".server",
    "serve": ".server",
}


def __getattr__(name: str) -> Any:
    if name == "Event":
        warnings.warn(
            "fastws.asyncio.Event is deprecated; the browser-style event is fastws.asyncio.browser.Event",
            DeprecationWarning,
            stacklevel=2,
        )
        return importlib.import_module(".browser", __name__).Event
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fastws.asyncio' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
