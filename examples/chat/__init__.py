"""A chat room on fastws: rooms are topics, workers share them through Redis.

Run it (from the repository's root, with a Redis at hand)::

    fastws serve examples.chat:handler --process-request examples.chat:page \\
        --port 8000 --workers 2 --redis redis://127.0.0.1:6379/0

then open http://127.0.0.1:8000/ in two browsers. ``page`` answers plain
HTTP requests with the page (``index.html``, no framework, no CDN); the page
opens ``ws://HOST/room/NAME``; ``handler`` subscribes the connection to the
room's topic and publishes what it receives there with
``ws.server.publish``, which reaches the room's members on every worker.
Without ``--redis`` it works too, within one process.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from fastws import ConnectionClosed
from fastws.asyncio import ServerConnection
from fastws.headers import Headers
from fastws.http11 import Request, Response

__all__ = ["handler", "page"]

PAGE = (Path(__file__).parent / "index.html").read_bytes()
MAX_TEXT = 2000


def room_of(path: str) -> str:
    """``/room/NAME`` -> ``NAME`` (``lobby`` otherwise), at most 64 characters."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    name = parts[1] if len(parts) == 2 and parts[0] == "room" and parts[1] else "lobby"
    return name[:64]


async def handler(ws: ServerConnection) -> None:
    """One member of one room."""
    assert ws.request is not None
    room = room_of(ws.request.path)
    await ws.send(json.dumps({"type": "hello", "room": room, "worker": os.getpid()}))
    ws.subscribe(room)
    try:
        async for message in ws:
            if not isinstance(message, str):
                continue
            text = message[:MAX_TEXT]
            ws.server.publish(room, json.dumps({"type": "message", "text": text, "worker": os.getpid()}))
    except ConnectionClosed:
        pass


def page(connection: ServerConnection, request: Request) -> Response | None:
    """Answer plain HTTP requests with the chat page; let WebSocket upgrades through."""
    if "upgrade" in request.headers.get("Connection", "").lower():
        return None
    headers = Headers(
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(PAGE))),
            ("Cache-Control", "no-store"),
            ("Connection", "close"),
        ]
    )
    return Response(200, "OK", headers, PAGE)
