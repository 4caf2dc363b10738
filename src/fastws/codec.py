"""The one place that chooses between the two codec twins.

``fastws._codec`` is the compiled (Cython) twin, ``fastws._codec_py`` the
pure-Python one; both satisfy ``_codec.pyi`` and behave identically.

* ``FASTWS_NO_EXTENSIONS=1`` (or an interpreter other than CPython) selects
  the pure twin;
* ``FASTWS_REQUIRE_EXTENSIONS=1`` imports the compiled twin or fails loudly,
  so that a broken build cannot pass for green;
* otherwise the compiled twin is used when it imports, else the pure one.

Every other module imports the codec from here, never from a twin.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

__all__ = [
    "IMPLEMENTATION",
    "Frame",
    "FrameParser",
    "Utf8Validator",
    "apply_mask",
    "apply_mask_inplace",
    "encode_frame",
    "encode_frame_header",
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
