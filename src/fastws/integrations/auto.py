"""``import fastws.integrations.auto``: install every available adapter on import.

Put it first in the program (before the WebSocket libraries open any
connection)::

    import fastws.integrations.auto  # noqa: F401

``FASTWS_INTEGRATIONS`` narrows the choice (``websockets,aiohttp``, or
``none``). Libraries that are not installed are skipped; one outside its
adapter's version range is skipped with a ``RuntimeWarning``.
"""

from __future__ import annotations

from . import install_from_environment

__all__ = ["INSTALLED"]

#: The adapters this import installed.
INSTALLED: list[str] = install_from_environment()
