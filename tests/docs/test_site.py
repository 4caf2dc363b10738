"""The built documentation site: complete reference, whole links, nothing of the build machine.

The site is built once per test pass (``built_docs`` in this folder's
conftest), with ``-W -n``: a warning or an unresolved reference fails the
build, and so this module.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from docs_support import DOCS, ROOT, require_docs

require_docs()

sys.path.insert(0, str(DOCS))
from checklinks import broken_links  # noqa: E402
from inventory_check import missing_names, public_modules, read_inventory  # noqa: E402

PAGES = [
    "index.html",
    "install.html",
    "tutorial/echo.html",
    "tutorial/browser.html",
    "tutorial/chat.html",
    "howto/uvicorn.html",
    "howto/accelerate.html",
    "howto/tls.html",
    "howto/proxy.html",
    "howto/scaling.html",
    "howto/sync.html",
    "howto/sansio.html",
    "howto/limits.html",
    "howto/compression.html",
    "reference/codec.html",
    "reference/protocol.html",
    "reference/events.html",
    "reference/asyncio.html",
    "reference/sync.html",
    "reference/browser.html",
    "reference/pubsub.html",
    "reference/extensions.html",
    "reference/integrations.html",
    "reference/http.html",
    "reference/cli.html",
    "explanation/architecture.html",
    "explanation/security.html",
    "explanation/conformance.html",
    "explanation/performance.html",
]


def test_every_page_the_issue_asks_for_is_built(built_docs: Path) -> None:
    missing = [page for page in PAGES if not (built_docs / page).is_file()]
    assert not missing


def test_every_public_name_is_in_the_reference(built_docs: Path) -> None:
    inventory = read_inventory(built_docs / "objects.inv")
    assert len(public_modules()) > 40
    assert missing_names(inventory) == []


def test_the_check_sees_a_gap(built_docs: Path) -> None:
    # The same check on an inventory without one name reports that name.
    inventory = read_inventory(built_docs / "objects.inv")
    assert "fastws.asyncio.server.serve" in inventory
    assert "fastws.asyncio.server.serve" in missing_names(inventory - {"fastws.asyncio.server.serve"})


def test_internal_links_are_whole(built_docs: Path) -> None:
    assert broken_links(built_docs) == []


def test_the_link_check_finds_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text('<a href="b.html#there">b</a><a href="c.html">c</a><p id="x"></p>')
    (tmp_path / "b.html").write_text('<p id="elsewhere"></p>')
    assert broken_links(tmp_path) == [
        "a.html: b.html#there (no such anchor)",
        "a.html: c.html (no such file)",
    ]
    result = subprocess.run(
        [sys.executable, str(DOCS / "checklinks.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "2 broken internal links" in result.stdout


def test_the_cli_page_lists_every_option(built_docs: Path) -> None:
    from fastws.cli import build_parser

    page = (built_docs / "reference" / "cli.html").read_text(encoding="utf-8")

    def walk(parser: argparse.ArgumentParser) -> list[str]:
        found = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for child in action.choices.values():
                    found += walk(child)
            else:
                found += [s for s in action.option_strings if s.startswith("--")]
        return found

    options = walk(build_parser())
    assert len(options) > 20
    assert [o for o in options if f'<span class="pre">{o}</span>' not in page and o not in page] == []


def test_the_site_shows_nothing_of_the_build_machine(built_docs: Path) -> None:
    root = str(ROOT)
    leaks = [
        str(path.relative_to(built_docs))
        for path in built_docs.rglob("*")
        if path.suffix in (".html", ".js", ".txt", ".svg")
        and root in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert leaks == []


def test_the_charts_are_published(built_docs: Path) -> None:
    page = (built_docs / "explanation" / "performance.html").read_text(encoding="utf-8")
    charts = re.findall(r'src="([^"]+\.svg)"', page)
    assert len(charts) == 4
    for chart in charts:
        assert (built_docs / "explanation" / chart).resolve().is_file()
    assert "quick" in page


def _render(out: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "plot.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_charts_redraw_byte_for_byte(tmp_path: Path) -> None:
    # bench/plot.py is deterministic: the same data gives the same bytes.
    _render(tmp_path / "one")
    _render(tmp_path / "two")
    names = ["echo_servers", "codec_peers", "broadcast", "pytest_benchmark"]
    for name in names:
        first = (tmp_path / "one" / f"{name}.svg").read_bytes()
        assert first == (tmp_path / "two" / f"{name}.svg").read_bytes(), name
        assert first.startswith(b"<?xml") and b"<svg" in first
        assert b"<dc:date>" not in first
        # The committed chart was drawn from the committed data by the same code.
        assert (ROOT / "docs" / "_static" / "bench" / f"{name}.svg").is_file()
    assert (tmp_path / "one" / "runs.inc").read_bytes() == (
        ROOT / "docs" / "_static" / "bench" / "runs.inc"
    ).read_bytes()
