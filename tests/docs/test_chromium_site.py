"""The built site in a real browser: headless Chromium loads the index and a reference page.

The site is served over HTTP on a loopback port (so a missing page is a
real 404, not a file error); Chromium is driven through its DevTools
protocol by fastws' own client (``tests/chromium_driver.py``). The
screenshot of the index is kept in the build folder and its path printed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import http.server
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from docs_support import require_docs

from chromium_driver import DevTools, chromium, require_chromium

require_docs()
require_chromium()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _site(folder: Path) -> Iterator[int]:
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


# What a page shows, measured in the page.
PAGE_FACTS = """
(() => {
  const charts = Array.from(document.images).filter((i) => i.src.endsWith(".svg"));
  return {
    title: document.title,
    h1: (document.querySelector("h1") || {}).textContent || "",
    navigation: document.querySelectorAll(".sidebar-tree a.reference").length,
    shown: Array.from(document.querySelectorAll(".sidebar-tree a.reference"))
        .filter((a) => a.getBoundingClientRect().width > 0).map((a) => a.textContent),
    search: !!document.querySelector("form.sidebar-search-container, form[action$='search.html']"),
    charts: charts.map((i) => ({src: i.src, loaded: i.complete && i.naturalWidth > 0})),
    bodyText: document.body.innerText.length,
  };
})()
"""


async def _open(devtools: DevTools, url: str) -> str:
    # A desktop window: the navigation sidebar shows beside the page.
    session = await devtools.open_page(url)
    await devtools.call(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
        session,
    )
    return session


async def _status(devtools: DevTools, session: str, url: str) -> int:
    # The HTTP status as the page itself sees it (fetch from the same origin).
    status: int = await devtools.evaluate(session, f"fetch({url!r}).then((r) => r.status)", wait=True)
    return status


@pytest.mark.timeout_s(120)
async def test_the_site_renders_in_chromium(built_docs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    screenshot = built_docs / "screenshots" / "index.png"
    screenshot.parent.mkdir(exist_ok=True)
    with _site(built_docs) as port:
        base = f"http://127.0.0.1:{port}"
        async with chromium() as browser:
            devtools = DevTools(browser)
            session = await _open(devtools, f"{base}/index.html")
            for _ in range(100):  # until the chart has loaded; bounded
                index = await devtools.evaluate(session, PAGE_FACTS)
                if index["charts"] and all(c["loaded"] for c in index["charts"]):
                    break
                await asyncio.sleep(0.05)
            shot = await devtools.call("Page.captureScreenshot", {"format": "png"}, session)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            with capsys.disabled():  # named in the log, pass or fail
                print(f"\nscreenshot of the docs' index: {screenshot}")

            assert index["title"].startswith("fastws"), index
            assert index["navigation"] >= 20, index  # the sidebar lists the pages ...
            # ... and shows the five parts beside the page
            assert {"Install", "Tutorial", "How-to guides", "Reference", "Explanation"} <= set(
                index["shown"]
            ), index
            assert index["search"], index
            assert index["charts"] and all(c["loaded"] for c in index["charts"]), index
            assert await _status(devtools, session, f"{base}/search.html") == 200
            assert await _status(devtools, session, f"{base}/no-such-page.html") == 404

            session = await _open(devtools, f"{base}/reference/codec.html")
            codec = await devtools.evaluate(session, PAGE_FACTS)
            assert codec["title"].startswith("The codec"), codec
            assert codec["h1"].startswith("The codec"), codec
            assert codec["navigation"] >= 20, codec
            described = await devtools.evaluate(
                session,
                "Array.from(document.querySelectorAll('dl.py dt[id]')).map((e) => e.id)",
            )
            assert "fastws.codec.apply_mask" in described
            assert "fastws.codec.FrameParser.feed" in described

            session = await _open(devtools, f"{base}/search.html?q=apply_mask")
            for _ in range(100):  # the search index loads, then results appear; bounded
                hits = await devtools.evaluate(session, "document.querySelectorAll('ul.search li').length")
                if hits:
                    break
                await asyncio.sleep(0.1)
            assert hits, "the search page found nothing for apply_mask"

    png = screenshot.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
