"""aiohttp adapter: frame masking through fastws, where aiohttp looks it up in Python.

What it replaces. aiohttp masks with ``websocket_mask(mask, data)``, which
XORs a ``bytearray`` in place (``aiohttp._websocket.helpers`` picks the
Cython ``_websocket_mask_cython`` or the pure ``_websocket_mask_python``).
Two modules copy that name at import time and look it up at call time:

* ``aiohttp._websocket.writer``: every frame an aiohttp *client* sends;
* ``aiohttp._websocket.reader_py``: every masked frame an aiohttp *server*
  receives, when aiohttp runs its pure-Python reader (``AIOHTTP_NO_EXTENSIONS=1``,
  PyPy, or no compiled wheel for the platform).

Both copies are replaced (``reader_py`` is imported for that: it is a plain
module aiohttp ships either way). ``helpers.websocket_mask`` itself is left
as aiohttp chose it: no code looks it up there at call time.

What it cannot replace: aiohttp's compiled reader, ``reader_c``, is
``reader_py.py`` compiled by Cython with ``reader_c.pxd``, which
``cimport``-s the mask function; the call is bound in C and no Python name
stands in its way. With compiled aiohttp, the server's receive path is
therefore unchanged by this adapter (its own mask is already C). The same
goes for UTF-8 and header parsing: the reader does both inline in its state
machine (compiled, in the usual case), decoding text with ``bytes.decode``.

Usage::

    import fastws.integrations.aiohttp
    fastws.integrations.aiohttp.install()
"""

from __future__ import annotations

from typing import Any

from .. import codec
from ._common import Adapter, UnsupportedVersion

__all__ = ["ADAPTER", "UnsupportedVersion", "install", "installed", "uninstall", "websocket_mask"]

# Looked up at call time, so tests can observe that the hot path reaches fastws.
_apply_mask_inplace = codec.apply_mask_inplace
_original_mask: Any = None


def websocket_mask(mask: Any, data: Any) -> None:
    """Drop-in for aiohttp's ``websocket_mask(mask, data)``: XOR ``data`` in place.

    Args:
        mask: the 4-byte masking key.
        data: the payload, a ``bytearray`` modified in place.

    Raises:
        TypeError: wrong argument types (aiohttp's own error).
        AssertionError, ValueError: a bad mask, as aiohttp's own function reports it.
    """
    if type(data) is not bytearray:
        # aiohttp's functions take exactly a bytearray; let them refuse the rest.
        _original_mask(mask, data)
        return
    try:
        _apply_mask_inplace(data, mask)
    except (TypeError, ValueError):
        _original_mask(mask, data)


class _AiohttpAdapter(Adapter):
    library = "aiohttp"
    distribution = "aiohttp"
    # 3.11-3.14: the aiohttp._websocket package, with websocket_mask(mask,
    # data) copied into writer and reader_py.
    minimum = (3, 11)
    below = (3, 15)

    def _apply(self) -> None:
        global _original_mask
        import aiohttp._websocket.helpers as helpers
        import aiohttp._websocket.reader_py as reader_py
        import aiohttp._websocket.writer as writer

        _original_mask = helpers.websocket_mask
        self._patch(writer, "websocket_mask", websocket_mask)
        self._patch(reader_py, "websocket_mask", websocket_mask)


#: The adapter object of aiohttp.
ADAPTER = _AiohttpAdapter()
#: Install the adapter: aiohttp uses fastws' codec from now on.
install = ADAPTER.install
#: Undo ``install()``: aiohttp uses its own code again.
uninstall = ADAPTER.uninstall
#: Whether the adapter is installed.
installed = ADAPTER.installed
