"""wsproto adapter: payload masking through fastws.

What it replaces. wsproto masks and unmasks payloads with
``wsproto.frame_protocol.XorMaskerSimple``: one instance per frame, whose
``process(data)`` XORs a chunk and rotates the key so that the next chunk of
the same frame continues where this one stopped (a frame's payload reaches
``FrameDecoder.process_buffer`` in as many pieces as the network delivers).
``FrameDecoder.parse_header`` (receiving, server side) and
``FrameProtocol._serialize_frame`` (sending, client side) look the class up
in ``wsproto.frame_protocol`` each time, so replacing that one name puts
:class:`XorMasker` on both paths. The key rotation maps onto the ``offset``
argument of :func:`fastws.apply_mask_inplace`.

What it leaves alone, and why:

* UTF-8: wsproto must hand ``str`` to the application and decodes text with
  CPython's incremental decoder, which validates while it decodes, and words
  ``ParseFailed`` from its error; a separate validation pass could only add
  work;
* frame headers: ``FrameDecoder.parse_header`` checks and reports in
  wsproto's own terms (``ParseFailed`` with wsproto's messages and close
  codes) while feeding its extensions; fastws' parser cannot stand in for it
  without copying it.

Usage::

    import fastws.integrations.wsproto
    fastws.integrations.wsproto.install()
"""

from __future__ import annotations

from typing import Any

from .. import codec
from ._common import Adapter, UnsupportedVersion, parse_version

__all__ = ["ADAPTER", "UnsupportedVersion", "XorMasker", "install", "installed", "uninstall"]

# Looked up at call time, so tests can observe that the hot path reaches fastws.
_apply_mask_inplace = codec.apply_mask_inplace

# wsproto 1.2 returns bytes from process() (and an empty input unchanged);
# 1.3 returns a new bytearray. Set at install time from the installed version.
_RETURN_BYTES = False


class XorMasker:
    """Drop-in for wsproto's ``XorMaskerSimple``: masks successive chunks of one frame.

    Args:
        masking_key: the frame's 4-byte masking key.
    """

    __slots__ = ("_key", "_offset")

    def __init__(self, masking_key: bytes | bytearray) -> None:
        self._key = bytes(masking_key)
        self._offset = 0

    @property
    def _masking_key(self) -> bytes:
        # The key rotated to where the next chunk starts, as wsproto keeps it.
        offset = self._offset
        return self._key[offset:] + self._key[:offset]

    def process(self, data: Any) -> Any:
        """XOR the next chunk of the payload; the input is not modified.

        Args:
            data: the chunk (bytes-like).

        Returns:
            A new ``bytearray`` (wsproto 1.3) or ``bytes`` (wsproto 1.2).

        Raises:
            TypeError: ``data`` is not bytes-like.
        """
        if _RETURN_BYTES and not data:
            return data
        out = bytearray(data)
        if out:
            _apply_mask_inplace(out, self._key, self._offset)
            # RFC 6455 section 5.3: octet i of the payload is XORed with
            # octet i MOD 4 of the key, counted from the frame's first octet.
            self._offset = (self._offset + len(out)) & 3
        return bytes(out) if _RETURN_BYTES else out


class _WsprotoAdapter(Adapter):
    library = "wsproto"
    distribution = "wsproto"
    # 1.2-1.3: XorMaskerSimple(key).process(data), looked up in
    # wsproto.frame_protocol by FrameDecoder and FrameProtocol.
    minimum = (1, 2)
    below = (1, 4)

    def _apply(self) -> None:
        global _RETURN_BYTES
        import wsproto.frame_protocol as frame_protocol

        version = self.version()
        _RETURN_BYTES = version is not None and parse_version(version) < (1, 3)
        self._patch(frame_protocol, "XorMaskerSimple", XorMasker)


#: The adapter object of wsproto.
ADAPTER = _WsprotoAdapter()
#: Install the adapter: wsproto uses fastws' codec from now on.
install = ADAPTER.install
#: Undo ``install()``: wsproto uses its own code again.
uninstall = ADAPTER.uninstall
#: Whether the adapter is installed.
installed = ADAPTER.installed
