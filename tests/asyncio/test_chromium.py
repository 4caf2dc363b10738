"""A real browser against a fastws server: headless Chromium.

Chromium loads a page from a small local HTTP server; the page opens
``new WebSocket("ws://127.0.0.1:PORT/")`` to a fastws server, exchanges text
and binary (ArrayBuffer) messages, large and fragmented ones, and reports
the close code and reason the server chose, and the server sees the close
code the page chose. Chromium is driven through its DevTools protocol,
which is itself a WebSocket: fastws' own client speaks it.

Skipped when no ``chromium`` executable is found, unless
``FASTWS_REQUIRE_CHROMIUM=1``: then that is a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import pytest

from fastws import ConnectionClosed
from fastws.asyncio import ClientConnection, ServerConnection, connect, serve

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome", "chrome")) if p), None
)
REQUIRED = os.environ.get("FASTWS_REQUIRE_CHROMIUM", "") not in ("", "0")

if CHROMIUM is None:
    if REQUIRED:
        raise RuntimeError("FASTWS_REQUIRE_CHROMIUM=1 but no chromium executable is on PATH")
    pytest.skip(
        "no chromium executable on PATH (install the Debian package 'chromium'; "
        "set FASTWS_REQUIRE_CHROMIUM=1 to make this a failure)",
        allow_module_level=True,
    )

PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>fastws</title></head>
<body><p>fastws browser test</p></body></html>"""

# Runs in the page; returns what the browser saw.
SCRIPT = """
(async () => {
  const url = "ws://127.0.0.1:%(port)d/chat";
  const ws = new WebSocket(url, ["chat.v1"]);
  ws.binaryType = "arraybuffer";
  const next = () => new Promise((resolve) =>
      ws.addEventListener("message", (e) => resolve(e.data), {once: true}));
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  const result = {protocol: ws.protocol, extensions: ws.extensions};
  ws.send("héllo from chromium");
  result.text = await next();
  ws.send(new Uint8Array([0, 1, 2, 254, 255]).buffer);
  result.binary = Array.from(new Uint8Array(await next()));
  const big = new Uint8Array(1 << 20);
  for (let i = 0; i < big.length; i++) big[i] = i %% 251;
  ws.send(big.buffer);
  result.big = await next();
  ws.send("fragments please");
  result.fragmented = await next();
  const closed = new Promise((resolve) => { ws.onclose = (e) =>
      resolve({code: e.code, reason: e.reason, wasClean: e.wasClean}); });
  ws.send("close please");
  result.close = await closed;

  const ws2 = new WebSocket(url);
  await new Promise((resolve, reject) => { ws2.onopen = resolve; ws2.onerror = reject; });
  const closed2 = new Promise((resolve) => { ws2.onclose = (e) =>
      resolve({code: e.code, reason: e.reason, wasClean: e.wasClean}); });
  ws2.close(4000, "browser leaves");
  result.close2 = await closed2;
  return result;
})()
"""


@contextlib.asynccontextmanager
async def http_server() -> AsyncIterator[int]:
    """A minimal HTTP/1.1 server that answers every GET with PAGE."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(PAGE), PAGE)
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


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[ClientConnection]:
    """Start headless Chromium; yield a fastws connection to its DevTools endpoint."""
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
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
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            assert process.stderr is not None
            endpoint = None
            for _ in range(200):  # bounded: DevTools prints its URL early
                line = await asyncio.wait_for(process.stderr.readline(), 30)
                if not line:
                    break
                match = re.search(rb"DevTools listening on (ws://\S+)", line)
                if match:
                    endpoint = match.group(1).decode()
                    break
            assert endpoint, "chromium did not start its DevTools endpoint"
            # Keep draining stderr so chromium never blocks on a full pipe.
            drain = asyncio.create_task(process.stderr.read())
            async with connect(endpoint, max_size=None, ping_interval=None) as devtools:
                yield devtools
            drain.cancel()
        finally:
            if process.returncode is None:
                process.kill()
            await asyncio.wait_for(process.wait(), 10)


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


@pytest.mark.timeout_s(90)
async def test_chromium_websocket_against_fastws_server() -> None:
    seen: dict[str, Any] = {}

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        seen.setdefault("origins", []).append(ws.request.headers.get("Origin"))
        seen.setdefault("subprotocols", []).append(ws.subprotocol)
        try:
            async for message in ws:
                if message == "close please":
                    await ws.close(4321, "bye from fastws")
                elif message == "fragments please":
                    await ws.send(["frag", "men", "ted"])
                elif isinstance(message, str):
                    await ws.send(f"echo: {message}")
                elif len(message) > 1000:
                    ok = all(b == i % 251 for i, b in enumerate(message))
                    await ws.send(f"{len(message)} bytes, pattern {'ok' if ok else 'WRONG'}")
                else:
                    await ws.send(message[::-1])
        except ConnectionClosed as exc:
            seen.setdefault("closed", []).append((exc.code, exc.reason))
            raise
        seen.setdefault("closed", []).append((ws.close_code, ws.close_reason))

    async with serve(handler, "127.0.0.1", 0, subprotocols=["chat.v1"]) as server:
        ws_port = server.sockets[0].getsockname()[1]
        async with http_server() as http_port, chromium() as browser:
            devtools = DevTools(browser)
            page_url = f"http://127.0.0.1:{http_port}/index.html"
            target = await devtools.call("Target.createTarget", {"url": page_url})
            attached = await devtools.call(
                "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
            )
            session = attached["sessionId"]
            # Wait until the page is loaded (its origin is the HTTP server).
            for _ in range(100):
                location = await devtools.call(
                    "Runtime.evaluate",
                    {"expression": "document.readyState + ' ' + location.href", "returnByValue": True},
                    session,
                )
                if location["result"]["value"] == f"complete {page_url}":
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"page never loaded: {location}")
            evaluated = await devtools.call(
                "Runtime.evaluate",
                {"expression": SCRIPT % {"port": ws_port}, "awaitPromise": True, "returnByValue": True},
                session,
            )
            assert "exceptionDetails" not in evaluated, evaluated
            result = evaluated["result"]["value"]

    assert result["protocol"] == "chat.v1"
    # Chromium offers permessage-deflate; fastws accepts it by default.
    assert result["extensions"] == "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
    assert result["text"] == "echo: héllo from chromium"
    assert result["binary"] == [255, 254, 2, 1, 0]
    assert result["big"] == f"{1 << 20} bytes, pattern ok"
    assert result["fragmented"] == "fragmented"
    assert result["close"] == {"code": 4321, "reason": "bye from fastws", "wasClean": True}
    # The server echoes the browser's code (RFC 6455 section 5.5.1), not its reason.
    assert result["close2"] == {"code": 4000, "reason": "", "wasClean": True}
    assert seen["origins"] == [f"http://127.0.0.1:{http_port}"] * 2
    assert seen["subprotocols"] == ["chat.v1", None]
    # Chromium echoes the code and the reason of the server's close frame.
    assert sorted(seen["closed"]) == [(4000, "browser leaves"), (4321, "bye from fastws")]
