"""The one place that chooses the twins of the compiled helpers (private).

Two helpers have a compiled twin of their own, beside the codec's:

* ``fastws._delivery`` / ``fastws._delivery_py``: the protocol's fast lane
  for runs of whole messages (``deliver_frames``, see ``_delivery_py``);
* ``fastws._upgrade`` / ``fastws._upgrade_py``: the opening handshake's
  work for each connection (``scan_fields``, ``scan_request_line``, ``accept_key``,
  ``canonical_key``, ``valid_host``; see ``_upgrade_py``).

Each follows the codec twin that :mod:`fastws.codec` picked: compiled with
compiled, pure with pure (the compiled lane reads the compiled ``Frame``).
They are built with the compiled codec; should one not import, its pure
twin is used, unless ``FASTWS_REQUIRE_EXTENSIONS=1`` is set.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

from .codec import IMPLEMENTATION, REQUIRE_EXTENSIONS

__all__ = ["accept_key", "canonical_key", "deliver_frames", "scan_fields", "scan_request_line", "valid_host"]


def _pick(name: str) -> ModuleType:
    """``fastws.<name>`` when the codec is compiled and it imports, else ``fastws.<name>_py``."""
    if IMPLEMENTATION == "cython":
        try:
            return importlib.import_module(f"fastws.{name}")
        except ImportError:
            if REQUIRE_EXTENSIONS:
                raise
    return importlib.import_module(f"fastws.{name}_py")


if TYPE_CHECKING:
    from ._delivery_py import deliver_frames
    from ._upgrade_py import accept_key, canonical_key, scan_fields, scan_request_line, valid_host
else:
    deliver_frames = _pick("_delivery").deliver_frames
    _upgrade = _pick("_upgrade")
    accept_key = _upgrade.accept_key
    canonical_key = _upgrade.canonical_key
    scan_fields = _upgrade.scan_fields
    scan_request_line = _upgrade.scan_request_line
    valid_host = _upgrade.valid_host
