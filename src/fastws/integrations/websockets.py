"""websockets adapter: frame masking through fastws.

What it replaces. websockets masks every frame a client sends and unmasks
every frame a server receives with ``apply_mask(data, mask) -> bytes``, the
C function of ``websockets.speedups`` (or the pure one of
``websockets.utils`` when the extension is missing). ``websockets.frames``
(``Frame.parse`` and ``Frame.serialize``, shared by the sans-IO, asyncio and
threading implementations) and ``websockets.legacy.framing`` bind it at
import time with ``from .speedups import apply_mask``, so the name is
replaced where it is looked up: in those modules, and in the module it comes
from, so that a module imported later (``websockets.legacy``) binds ours.

What it leaves alone, and why:

* frame headers: ``Frame.parse`` is a generator-based coroutine that reads
  through websockets' own ``read_exact``, raises websockets' own errors and
  runs its extensions; fastws' parser has another shape, and replacing it
  would mean rewriting websockets' parser, not accelerating it;
* UTF-8: websockets decodes text messages to ``str`` with CPython's
  (incremental) decoder, which validates as it decodes; a separate
  validation pass could only add work.

Inputs fastws' codec refuses (a non-contiguous memoryview, a mask that is not
4 bytes) are handed to websockets' own function, so results and errors stay
websockets'.

Usage::

    import fastws.integrations.websockets
    fastws.integrations.websockets.install()
"""

from __future__ import annotations

from typing import Any

from .. import codec
from ._common import Adapter, UnsupportedVersion

__all__ = ["ADAPTER", "UnsupportedVersion", "apply_mask", "install", "installed", "uninstall"]

# Looked up at call time, so tests can observe that the hot path reaches fastws.
_apply_mask = codec.apply_mask
_original_apply_mask: Any = None


def apply_mask(data: Any, mask: Any) -> bytes:
    """Drop-in for websockets' ``apply_mask(data, mask)``: XOR ``data`` with the 4-byte ``mask``.

    Args:
        data: the payload (bytes-like).
        mask: the 4-byte masking key.

    Returns:
        The masked (or unmasked: XOR is its own inverse) payload as bytes.

    Raises:
        ValueError: ``mask`` is not 4 bytes (websockets' own error).
        TypeError: ``data`` or ``mask`` is not bytes-like (websockets' own error).
    """
    try:
        return _apply_mask(data, mask)
    except (TypeError, ValueError):
        # Whatever fastws' contract refuses, websockets' function decides:
        # it copes with non-contiguous buffers and words its own errors.
        return _original_apply_mask(data, mask)  # type: ignore[no-any-return]


class _WebsocketsAdapter(Adapter):
    library = "websockets"
    distribution = "websockets"
    # 13.0-17.x: apply_mask(data, mask) -> bytes, imported by name into
    # websockets.frames and websockets.legacy.framing.
    minimum = (13,)
    below = (18,)

    def _apply(self) -> None:
        global _original_apply_mask
        import importlib

        frames = importlib.import_module("websockets.frames")
        try:
            source = importlib.import_module("websockets.speedups")
        except ImportError:
            source = importlib.import_module("websockets.utils")
        _original_apply_mask = frames.apply_mask
        if source.apply_mask is not _original_apply_mask:
            # frames bound another function than the source module holds:
            # not the structure this adapter was written for.
            raise UnsupportedVersion("websockets.frames.apply_mask is not websockets' own apply_mask")
        # websockets.legacy.framing is the deprecated implementation; it is
        # not imported here (that would warn), but patched if loaded.
        self._patch_binding(
            source, ("websockets.frames", "websockets.legacy.framing"), "apply_mask", apply_mask
        )


#: The adapter object of websockets.
ADAPTER = _WebsocketsAdapter()
#: Install the adapter: websockets uses fastws' codec from now on.
install = ADAPTER.install
#: Undo ``install()``: websockets uses its own code again.
uninstall = ADAPTER.uninstall
#: Whether the adapter is installed.
installed = ADAPTER.installed
