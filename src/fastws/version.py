"""The version of fastws, written in one place.

A leaf module: it imports nothing from fastws, so any module can read the
version (the default ``User-Agent`` does) without importing the package
root. ``pyproject.toml`` reads it at build time
(``[tool.setuptools.dynamic]``), and ``fastws.__version__`` re-exports it.
"""

from __future__ import annotations

__all__ = ["__version__"]

#: The version of fastws (PEP 440).
__version__ = "0.1.0"
