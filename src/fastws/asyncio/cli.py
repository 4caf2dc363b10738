"""Deprecated: ``fastws serve`` and ``fastws connect`` live in :mod:`fastws.cli`.

``python -m fastws.asyncio.cli serve|connect ...`` and the names this module
exported (``run_serve``, ``configure_connect``, ...) keep working for one
minor release, with a :class:`DeprecationWarning`; use the ``fastws``
command (``python -m fastws``) and :mod:`fastws.cli.serve` /
:mod:`fastws.cli.connect` instead.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]

# Former name -> (module, name) in fastws.cli.
_MOVED = {
    "configure_serve": ("fastws.cli.serve", "configure"),
    "run_serve": ("fastws.cli.serve", "run"),
    "configure_connect": ("fastws.cli.connect", "configure"),
    "run_connect": ("fastws.cli.connect", "run"),
}


def _warn(old: str, new: str) -> None:
    warnings.warn(f"fastws.asyncio.cli.{old} is deprecated; use {new}", DeprecationWarning, stacklevel=3)


def __getattr__(name: str) -> Any:
    target = _MOVED.get(name)
    if target is None:
        raise AttributeError(f"module 'fastws.asyncio.cli' has no attribute {name!r}")
    _warn(name, f"{target[0]}.{target[1]}")
    return getattr(importlib.import_module(target[0]), target[1])


def main(argv: Sequence[str] | None = None) -> int:
    """Deprecated: run the ``fastws`` command (:func:`fastws.cli.main`)."""
    _warn("main", "the fastws command (fastws.cli.main)")
    from ..cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
