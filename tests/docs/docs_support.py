"""What the documentation's tests share: where the docs are, and whether the toolchain is here.

The tests skip when Sphinx and the rest of the ``docs`` extra are not
installed, unless ``FASTWS_REQUIRE_DOCS=1`` (CI): then that is a failure.
"""

from __future__ import annotations

import glob
import importlib.util
import os
from pathlib import Path

import pytest

__all__ = ["DOCS", "REQUIRED", "ROOT", "require_docs"]

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
REQUIRED = os.environ.get("FASTWS_REQUIRE_DOCS", "") not in ("", "0")


def require_docs() -> None:
    """Skip the calling module without the docs toolchain (fail when it is required)."""
    missing = [
        name
        for name in ("sphinx", "furo", "myst_parser", "matplotlib")
        if importlib.util.find_spec(name) is None
    ]
    # The build reads Python's objects.inv from disk (no network): Debian's
    # python3-doc, or the file FASTWS_PYTHON_INVENTORY names (docs/conf.py).
    inventory = os.environ.get("FASTWS_PYTHON_INVENTORY")
    if not (
        Path(inventory).is_file() if inventory else glob.glob("/usr/share/doc/python3*/html/objects.inv")
    ):
        missing.append("Python's objects.inv (Debian: python3-doc)")
    if missing:
        if REQUIRED:
            raise RuntimeError(f"FASTWS_REQUIRE_DOCS=1 but {', '.join(missing)} is not installed")
        pytest.skip(
            f"{', '.join(missing)} not installed (pip install -e '.[docs]'; apt-get install python3-doc "
            "or FASTWS_PYTHON_INVENTORY=FILE; set FASTWS_REQUIRE_DOCS=1 to make this a failure)",
            allow_module_level=True,
        )
