"""Headless Chromium for the tests, driven through its DevTools protocol.

The DevTools protocol is itself a WebSocket: fastws's own client speaks it.
Tests that need a browser call :func:`require_chromium` at import time: they
are skipped when no ``chromium`` executable is found, unless
``FASTWS_REQUIRE_CHROMIUM=1`` (CI), which makes that a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import pytest

from fastws.asyncio import ClientConnection, connect

__all__ = ["CHROMIUM", "PAGE", "DevTools", "chromium", "http_server", "require_chromium"]

#: A blank page to load, so that scripts run with an http:// origin.
PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>fastws</title></head>
<body><p>fastws browser test</p></body></html>"""

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome", "chrome")) if p), None
)
REQUIRED = os.environ.get("FASTWS_REQUIRE_CHROMIUM", "") not in ("", "0")


def require_chromium() -> None:
    """Skip the calling test module when there is no Chromium (fail when it is required)."""
    if CHROMIUM is None:
        if REQUIRED:
            raise RuntimeError("FASTWS_REQUIRE_CHROMIUM=1 but no chromium executable is on PATH")
        pytest.skip(
            "no chromium executable on PATH (install the Debian package 'chromium'; "
            "set FASTWS_REQUIRE_CHROMIUM=1 to make this a failure)",
            allow_module_level=True,
        )


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[ClientConnection]:
    """Start headless Chromium; yield a fastws connection to its DevTools endpoint."""
    assert CHROMIUM is not None
    # The profile is removed below, once every Chromium process is gone.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        process = await asyncio.create_subprocess_exec(
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
            # No pipes: Chromium's helper processes would keep one open
            # after the browser is killed, and asyncio's transport with it
            # (CPython 3.10 then warns from the garbage collector, in
            # whichever test runs next). The endpoint is read from the file
            # Chromium writes into its profile instead of from stderr.
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own process group: its helper processes end with it.
            start_new_session=True,
        )
        try:
            endpoint = None
            active_port = os.path.join(profile, "DevToolsActivePort")
            for _ in range(600):  # bounded: 30 s
                if process.returncode is not None:
                    break
                try:
                    with open(active_port) as f:
                        port, path = f.read().split("\n")[:2]
                except (OSError, ValueError):
                    port = path = ""
                if port and path:
                    endpoint = f"ws://127.0.0.1:{int(port)}{path}"
                    break
                await asyncio.sleep(0.05)
            assert endpoint, "chromium did not start its DevTools endpoint"
            async with connect(endpoint, max_size=None, ping_interval=None) as devtools:
                yield devtools
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await asyncio.wait_for(process.wait(), 10)
            # Helpers still exiting may write into the profile for a moment.
            for _ in range(50):  # bounded: 5 s
                shutil.rmtree(profile, ignore_errors=True)
                if not os.path.exists(profile):
                    break
                await asyncio.sleep(0.1)


class DevTools:
    """The few DevTools protocol commands this test needs."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    async def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> Any:
        message_id = next(self.ids)
        command: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session is not None:
            command["sessionId"] = session
        await self.ws.send(json.dumps(command))
        for _ in range(10_000):  # events may come first; bounded
            reply = json.loads(await self.ws.recv())
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise AssertionError(f"{method} failed: {reply['error']}")
                return reply["result"]
        raise AssertionError(f"no reply to {method}")

    async def open_page(self, url: str) -> str:
        """Open ``url`` in a new tab and wait until it is loaded; return the session."""
        target = await self.call("Target.createTarget", {"url": url})
        attached = await self.call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        session: str = attached["sessionId"]
        for _ in range(200):
            if await self.evaluate(session, "document.readyState + ' ' + location.href") == f"complete {url}":
                return session
            await asyncio.sleep(0.05)
        raise AssertionError(f"{url} never loaded")

    async def evaluate(self, session: str, expression: str, *, wait: bool = False) -> Any:
        """The value of a JavaScript expression in a page (awaited if ``wait``)."""
        evaluated = await self.call(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": wait, "returnByValue": True},
            session,
        )
        assert "exceptionDetails" not in evaluated, evaluated
        return evaluated["result"].get("value")


@contextlib.asynccontextmanager
async def http_server(page: bytes = PAGE) -> AsyncIterator[int]:
    """A minimal HTTP/1.1 server on 127.0.0.1 that answers every GET with ``page``; yields its port."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(page), page)
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
