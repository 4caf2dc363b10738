"""The documentation's tests share one build of the site per test pass.

They skip when Sphinx (the ``docs`` extra) is not installed, unless
``FASTWS_REQUIRE_DOCS=1`` (CI): then that is a failure. The build runs in a
child process, as ``make docs`` does: ``sphinx-build -W -n`` (every warning
an error, every cross-reference resolved).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
REQUIRED = os.environ.get("FASTWS_REQUIRE_DOCS", "") not in ("", "0")


def require_docs() -> None:
    """Skip the calling module without the docs toolchain (fail when it is required)."""
    missing = [name for name in ("sphinx", "furo", "myst_parser") if importlib.util.find_spec(name) is None]
    if missing:
        if REQUIRED:
            raise RuntimeError(f"FASTWS_REQUIRE_DOCS=1 but {', '.join(missing)} is not installed")
        pytest.skip(
            f"{', '.join(missing)} not installed (pip install -e '.[docs]'; "
            "set FASTWS_REQUIRE_DOCS=1 to make this a failure)",
            allow_module_level=True,
        )


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
