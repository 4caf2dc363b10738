"""fastws with threads: :func:`connect` and :func:`serve`, without an event loop.

For scripts, tests, notebooks, command-line tools and thread-based servers:
the same sans-IO protocol, limits, keepalive, back-pressure and closing
handshake as :mod:`fastws.asyncio`, with blocking calls. Importing
:mod:`fastws` does not import this package, and this package never imports
:mod:`asyncio`.

Thread model (see :mod:`fastws.sync.stream`): ``recv()`` reads the socket in
the calling thread; each connection has one background thread that keeps
time (keepalive, timeouts) and reads while the application is away from
``recv()``; the server runs each connection in a thread of its own. Every
method of a connection may be called from any thread
(:mod:`fastws.sync.connection` says what that guarantees).

The submodules are loaded on first use of one of their names.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import ClientConnection, connect, unix_connect
    from .connection import Connection, Data
    from .server import Server, ServerConnection, serve, unix_serve

__all__ = [
    "ClientConnection",
    "Connection",
    "Data",
    "Server",
    "ServerConnection",
    "connect",
    "serve",
    "unix_connect",
    "unix_serve",
]

_LAZY = {
    "ClientConnection": ".client",
    "connect": ".client",
    "unix_connect": ".client",
    "Connection": ".connection",
    "Data": ".connection",
    "Server": ".server",
    "ServerConnection": ".server",
    "serve": ".server",
    "unix_serve": ".server",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fastws.sync' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
