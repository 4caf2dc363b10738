"""Headless Chromium against a fastws server with permessage-deflate negotiated.

Browsers offer ``permessage-deflate; client_max_window_bits`` on every
connection; a fastws server accepts it by default. The page checks
``ws.extensions``, sends compressible and incompressible text and binary
messages of several sizes, and the server checks that it negotiated the
extension and that both directions really went through the compressor.

Reuses the browser helpers of ``test_chromium.py`` (skipped, or failing
under ``FASTWS_REQUIRE_CHROMIUM=1``, when no chromium executable is found).
"""

from __future__ import annotations

from typing import Any

import pytest

import chromium_driver as helpers
from fastws.asyncio import ServerConnection, serve
from fastws.extensions import PerMessageDeflate

helpers.require_chromium()


SCRIPT = """
(async () => {
  const ws = new WebSocket("ws://127.0.0.1:%(port)d/deflate");
  ws.binaryType = "arraybuffer";
  const next = () => new Promise((resolve) =>
      ws.addEventListener("message", (e) => resolve(e.data), {once: true}));
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  const result = {extensions: ws.extensions, texts: [], binaries: []};
  for (const size of [0, 10, 100, 1000, 65536, 1 << 20]) {
    let text = "";
    let i = 0;
    while (text.length < size) { text += JSON.stringify({id: i, name: "fastws", ok: true, s: "é"}); i++; }
    text = text.slice(0, size);
    ws.send(text);
    const echo = await next();
    result.texts.push([size, echo === text, echo.length]);
  }
  for (const size of [1, 5000, 200000]) {
    const data = new Uint8Array(size);
    let x = 12345;
    for (let i = 0; i < size; i++) { x = (x * 1103515245 + 12345) & 0x7fffffff; data[i] = x >> 16; }
    ws.send(data.buffer);
    const echo = new Uint8Array(await next());
    let same = echo.length === size;
    for (let i = 0; same && i < size; i++) same = echo[i] === data[i];
    result.binaries.push([size, same]);
  }
  const closed = new Promise((resolve) => { ws.onclose = (e) =>
      resolve({code: e.code, wasClean: e.wasClean}); });
  ws.close(1000);
  result.close = await closed;
  return result;
})()
"""


@pytest.mark.timeout_s(90)
async def test_chromium_negotiates_permessage_deflate() -> None:
    seen: dict[str, Any] = {}

    async def handler(ws: ServerConnection) -> None:
        seen["offer"] = ws.request.headers.get("Sec-WebSocket-Extensions")
        seen["extensions"] = list(ws.protocol.extensions)
        async for message in ws:
            await ws.send(message)
        (ext,) = ws.protocol.extensions
        # Both directions went through zlib (the streams exist only once a
        # compressed message was received / sent).
        seen["inflated"] = ext._decoder is not None
        seen["deflated"] = ext._encoder is not None

    async with serve(handler, "127.0.0.1", 0, max_size=4 * 2**20) as server:
        ws_port = server.sockets[0].getsockname()[1]
        async with helpers.http_server() as http_port, helpers.chromium() as browser:
            devtools = helpers.DevTools(browser)
            page_url = f"http://127.0.0.1:{http_port}/index.html"
            session = await devtools.open_page(page_url)
            result = await devtools.evaluate(session, SCRIPT % {"port": ws_port}, wait=True)

    # What Chromium offers, and what fastws answers (seen by the page).
    assert seen["offer"] == "permessage-deflate; client_max_window_bits"
    assert result["extensions"] == "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
    (ext,) = seen["extensions"]
    assert isinstance(ext, PerMessageDeflate)
    assert (ext.remote_max_window_bits, ext.local_max_window_bits) == (12, 12)
    assert [t[:2] for t in result["texts"]] == [[n, True] for n in (0, 10, 100, 1000, 65536, 1 << 20)]
    assert result["binaries"] == [[1, True], [5000, True], [200000, True]]
    assert result["close"] == {"code": 1000, "wasClean": True}
    assert seen["inflated"] and seen["deflated"]
