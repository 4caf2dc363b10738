"""The one place that chooses the twin of the protocol's fast lane (private).

``fastws._delivery`` (compiled) and ``fastws._delivery_py`` (pure) hand
runs of whole messages over for :class:`~fastws.protocol.Protocol` (see
``_delivery_py.deliver_frames``). The compiled lane reads the compiled
``Frame``, so the lane follows the codec twin that :mod:`fastws.codec`
picked: compiled with compiled, pure with pure. The compiled lane is built
with the compiled codec; should it not import, the pure lane is used,
unless ``FASTWS_REQUIRE_EXTENSIONS=1`` is set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .codec import IMPLEMENTATION, REQUIRE_EXTENSIONS

__all__ = ["deliver_frames"]

if TYPE_CHECKING or IMPLEMENTATION != "cython":
    from ._delivery_py import deliver_frames
else:
    try:
        from ._delivery import deliver_frames
    except ImportError:
        if REQUIRE_EXTENSIONS:
            raise
        from ._delivery_py import deliver_frames
