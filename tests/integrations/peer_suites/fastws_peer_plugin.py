"""Load one fastws adapter before a peer library's own test suite runs.

A pytest plugin (``-p fastws_peer_plugin``, with this folder on
``PYTHONPATH``) and, for suites that are not run by pytest (Tornado's
``tornado.test.runtests``), a plain :func:`activate`.

Environment:

* ``FASTWS_PEER_ADAPTER``: the adapter to install (``wsproto``, ``aiohttp``, ...);
* ``FASTWS_PEER_MARKER``: a file to write at the end, as JSON: the adapter,
  whether it was still installed, and how many times the library reached
  fastws' codec through it (``calls``). The peer-suite script fails the
  suite if the adapter was not installed or never called: a green suite
  that did not run through fastws proves nothing.

The call counter wraps the codec function the adapter module looks up at
call time (``_apply_mask`` or ``_apply_mask_inplace``), so the library's
own code paths are unchanged except for one counting call.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import sys
import threading
from typing import Any

__all__ = ["activate", "pytest_configure", "pytest_terminal_summary", "pytest_unconfigure", "report"]

_state: dict[str, Any] = {"adapter": None, "calls": 0, "bytes": 0, "written": False}
_lock = threading.Lock()


def activate() -> None:
    """Install the adapter named by ``FASTWS_PEER_ADAPTER`` (strictly) and count its calls.

    Raises:
        KeyError: ``FASTWS_PEER_ADAPTER`` is not set.
        ImportError, UnsupportedVersion: the adapter cannot be installed.
    """
    if _state["adapter"] is not None:
        return
    name = os.environ["FASTWS_PEER_ADAPTER"]
    import fastws.integrations as integrations

    integrations.install_all([name], strict=True, force=True)
    module = importlib.import_module(f"fastws.integrations.{name}")
    attr = "_apply_mask_inplace" if hasattr(module, "_apply_mask_inplace") else "_apply_mask"
    real = getattr(module, attr)

    def counting(data: Any, *args: Any) -> Any:
        with _lock:
            _state["calls"] += 1
            _state["bytes"] += len(data)
        return real(data, *args)

    setattr(module, attr, counting)
    _state["adapter"] = name
    atexit.register(report)


def report() -> dict[str, Any]:
    """Write the marker file (once) and return its content."""
    name = _state["adapter"]
    import fastws
    import fastws.integrations as integrations

    row = next(r for r in integrations.status() if r["name"] == name) if name else {}
    data = {
        "adapter": name,
        "library_version": row.get("version"),
        "installed": bool(row.get("installed")),
        "patched": row.get("patched", []),
        "calls": _state["calls"],
        "bytes": _state["bytes"],
        "codec": fastws.implementation,
    }
    marker = os.environ.get("FASTWS_PEER_MARKER")
    if marker and not _state["written"]:
        with open(marker, "w", encoding="utf-8") as f:
            json.dump(data, f)
        _state["written"] = True
    return data


def _summary_line(data: dict[str, Any]) -> str:
    return (
        f"fastws adapter {data['adapter']} ({data['library_version']}): "
        f"{'installed' if data['installed'] else 'NOT INSTALLED'}, "
        f"{data['calls']} calls into fastws ({data['codec']} codec), {data['bytes']} bytes masked"
    )


# -- pytest hooks -----------------------------------------------------------------


def pytest_configure(config: Any) -> None:
    activate()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_sep("-", _summary_line(report()))


def pytest_unconfigure(config: Any) -> None:
    report()


if __name__ == "__main__":  # pragma: no cover - manual check
    activate()
    print(_summary_line(report()), file=sys.stderr)
