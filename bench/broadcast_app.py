"""The application of ``bench/broadcast.py``'s cross-process run, for ``fastws serve``.

``fastws serve broadcast_app:handler --workers 2 --redis URL`` (run from
``bench/``): a connection to ``/publish`` is told its worker
(``publishing PID``, the worker's process id), then publishes every message
it sends to the topic ``bench``; any other connection subscribes to that
topic, is told so with one text message (``subscribed PID``), then only
receives.
"""

from __future__ import annotations

import os

from fastws import ConnectionClosed
from fastws.asyncio import ServerConnection

__all__ = ["TOPIC", "handler"]

TOPIC = "bench"


async def handler(ws: ServerConnection) -> None:
    """A publisher (path ``/publish``) or a subscriber (any other path)."""
    assert ws.request is not None
    if ws.request.path == "/publish":
        await ws.send(f"publishing {os.getpid()}")
        publish = ws.server.publish
        try:
            async for message in ws:
                publish(TOPIC, message)
        except ConnectionClosed:
            pass
        return
    ws.subscribe(TOPIC)
    # Subscribed before the client hears of it: it may tell the publisher to start.
    await ws.send(f"subscribed {os.getpid()}")
    await ws.wait_closed()
