"""fastws on asyncio: :func:`serve`, :func:`connect` and the browser-style :class:`WebSocket`.

Importing :mod:`fastws` does not import this package (nor :mod:`asyncio`);
``fastws.serve``, ``fastws.connect`` and ``fastws.WebSocket`` load it on
first use. Runs on any asyncio event loop, uvloop included.
"""

from __future__ import annotations

from .browser import CloseEvent, Event, InvalidAccessError, MessageEvent, SyntaxErr, WebSocket
from .client import ClientConnection, connect
from .connection import Connection, Data
from .server import Server, ServerConnection, serve

__all__ = [
    "ClientConnection",
    "CloseEvent",
    "Connection",
    "Data",
    "Event",
    "InvalidAccessError",
    "MessageEvent",
    "Server",
    "ServerConnection",
    "SyntaxErr",
    "WebSocket",
    "connect",
    "serve",
]
