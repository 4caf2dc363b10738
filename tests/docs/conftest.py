"""The documentation's tests share one build of the site per test pass.

They skip when Sphinx (the ``docs`` extra) is not installed, unless
``FASTWS_REQUIRE_DOCS=1`` (CI): then that is a failure. The build runs in a
child process, as ``make docs`` does: ``sphinx-build -W -n`` (every warning
an error, every cross-reference resolved).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from docs_support import DOCS, ROOT


@pytest.fixture(scope="session")
def built_docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML site, built once per test pass with warnings as errors."""
    out = tmp_path_factory.mktemp("docs") / "html"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-n", "-E", "-q", "-b", "html", str(DOCS), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        check=False,
    )
    took = time.monotonic() - started
    assert result.returncode == 0, f"sphinx-build failed after {took:.0f} s:\n{result.stderr[-6000:]}"
    assert "WARNING" not in result.stderr, result.stderr[-6000:]
    return out
