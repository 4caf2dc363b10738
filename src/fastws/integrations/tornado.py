"""Tornado adapter: frame masking through fastws.

What it replaces. Tornado masks the frames its client sends and unmasks the
frames its server receives with ``_websocket_mask(mask, data) -> bytes``,
defined in ``tornado.util`` (the C function of ``tornado.speedups``, or a
byte-by-byte Python loop when the extension is missing or disabled) and
copied into ``tornado.websocket`` by ``from tornado.util import
_websocket_mask``. Both names are replaced; ``tornado.websocket`` is not
imported here, but patched when loaded (and copies ours if loaded later).

What it leaves alone, and why: Tornado parses frame headers with
``struct`` inside its coroutine-based reader, which awaits the stream for
each part of a frame and is not a function that could be swapped; text is
decoded to ``str`` with ``bytes.decode``, which validates as it decodes.

Usage::

    import fastws.integrations.tornado
    fastws.integrations.tornado.install()
"""

from __future__ import annotations

from typing import Any

from .. import codec
from ._common import Adapter, UnsupportedVersion

__all__ = ["ADAPTER", "UnsupportedVersion", "install", "installed", "uninstall", "websocket_mask"]

# Looked up at call time, so tests can observe that the hot path reaches fastws.
_apply_mask = codec.apply_mask
_original_mask: Any = None


def websocket_mask(mask: Any, data: Any) -> bytes:
    """Drop-in for Tornado's ``_websocket_mask(mask, data)``.

    Args:
        mask: the 4-byte masking key.
        data: the payload (bytes-like).

    Returns:
        ``data`` XORed with ``mask`` repeated, as bytes.

    Raises:
        ValueError: ``mask`` is not 4 bytes (Tornado's own error).
        TypeError: ``data`` or ``mask`` is not bytes-like (Tornado's own error).
    """
    try:
        return _apply_mask(data, mask)
    except (TypeError, ValueError):
        # What fastws' contract refuses, Tornado's function decides and words.
        return _original_mask(mask, data)  # type: ignore[no-any-return]


class _TornadoAdapter(Adapter):
    library = "tornado"
    distribution = "tornado"
    # 6.2-6.x (read and tested: 6.2, 6.6): tornado.util._websocket_mask(mask, data) -> bytes, imported by
    # name into tornado.websocket.
    minimum = (6, 2)
    below = (7,)

    def _apply(self) -> None:
        global _original_mask
        import tornado.util as util

        _original_mask = util._websocket_mask
        self._patch_binding(util, ("tornado.websocket",), "_websocket_mask", websocket_mask)


#: The adapter object of Tornado.
ADAPTER = _TornadoAdapter()
#: Install the adapter: Tornado uses fastws' codec from now on.
install = ADAPTER.install
#: Undo ``install()``: Tornado uses its own code again.
uninstall = ADAPTER.uninstall
#: Whether the adapter is installed.
installed = ADAPTER.installed
