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

from typing import Any

import pytest

from chromium_driver import DevTools, chromium, http_server, require_chromium
from fastws import ConnectionClosed
from fastws.asyncio import ServerConnection, serve

require_chromium()

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
            session = await devtools.open_page(page_url)
            result = await devtools.evaluate(session, SCRIPT % {"port": ws_port}, wait=True)

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
