"""The one place that chooses between the two codec twins.

``fastws._codec`` is the compiled (Cython) twin, ``fastws._codec_py`` the
pure-Python one; both satisfy ``_codec.pyi`` and behave identically.

* ``FASTWS_NO_EXTENSIONS=1`` (or an interpreter other than CPython) selects
  the pure twin;
* ``FASTWS_REQUIRE_EXTENSIONS=1`` imports the compiled twin or fails loudly,
  so that a broken build cannot pass for green;
* otherwise the compiled twin is used when it imports, else the pure one.

Every other module imports the codec from here, never from a twin. The
Python layers that are compiled too (:mod:`fastws._layers`) follow the choice
made here.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType
from typing import TYPE_CHECKING

from . import _layers

__all__ = [
    "IMPLEMENTATION",
    "Frame",
    "FrameParser",
    "Utf8Validator",
    "apply_mask",
    "apply_mask_inplace",
    "encode_frame",
    "encode_frame_header",
    "load_twins",
    "validate_utf8",
]


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "no", "false")


NO_EXTENSIONS = _flag("FASTWS_NO_EXTENSIONS") or sys.implementation.name != "cpython"
REQUIRE_EXTENSIONS = _flag("FASTWS_REQUIRE_EXTENSIONS")

if NO_EXTENSIONS and REQUIRE_EXTENSIONS:
    raise ImportError("FASTWS_NO_EXTENSIONS and FASTWS_REQUIRE_EXTENSIONS are both set")

if TYPE_CHECKING or NO_EXTENSIONS:
    from ._codec_py import (
        IMPLEMENTATION,
        Frame,
        FrameParser,
        Utf8Validator,
        apply_mask,
        apply_mask_inplace,
        encode_frame,
        encode_frame_header,
        validate_utf8,
    )
else:
    try:
        from ._codec import (
            IMPLEMENTATION,
            Frame,
            FrameParser,
            Utf8Validator,
            apply_mask,
            apply_mask_inplace,
            encode_frame,
            encode_frame_header,
            validate_utf8,
        )
    except ImportError:
        if REQUIRE_EXTENSIONS:
            raise
        from ._codec_py import (
            IMPLEMENTATION,
            Frame,
            FrameParser,
            Utf8Validator,
            apply_mask,
            apply_mask_inplace,
            encode_frame,
            encode_frame_header,
            validate_utf8,
        )


# The Python layers compiled from their own source follow the codec's twin.
_layers.install(compiled=IMPLEMENTATION == "cython", required=REQUIRE_EXTENSIONS)


def load_twins() -> dict[str, ModuleType | str]:
    """Both twins side by side, to compare them (``fastws bench``).

    The pure twin always imports; the compiled one is left out under
    ``FASTWS_NO_EXTENSIONS`` (or off CPython), as it is for the selection.

    Returns:
        ``{"cython": module or the reason it is absent, "python": module}``.
    """
    twins: dict[str, ModuleType | str] = {}
    if NO_EXTENSIONS:
        twins["cython"] = "left out: FASTWS_NO_EXTENSIONS is set (or not CPython)"
    else:
        try:
            twins["cython"] = importlib.import_module("fastws._codec")
        except ImportError as exc:
            twins["cython"] = f"compiled twin not built ({exc})"
    twins["python"] = importlib.import_module("fastws._codec_py")
    return twins
