"""One hand-written version: fastws/version.py, read by the build and the User-Agent."""

from __future__ import annotations

import importlib.metadata
import pathlib
import re
import sys

import pytest

import fastws
from fastws.handshake import USER_AGENT
from fastws.version import __version__


def test_one_version_everywhere() -> None:
    assert fastws.__version__ == __version__
    assert importlib.metadata.version("fastws") == __version__
    assert USER_AGENT == f"Python/{sys.version_info[0]}.{sys.version_info[1]} fastws/{__version__}"


def test_pyproject_reads_it() -> None:
    pyproject = pathlib.Path(fastws.__file__).resolve().parents[2] / "pyproject.toml"
    if not pyproject.exists():
        pytest.skip("not a source tree (an installed wheel)")
    text = pyproject.read_text(encoding="utf-8")
    assert re.search(r'(?m)^dynamic = \["version"\]$', text)
    assert re.search(r'(?m)^version = \{ attr = "fastws\.version\.__version__" \}$', text)
    assert not re.search(r'(?m)^version = "', text)
