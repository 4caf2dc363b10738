"""Adapters: fastws' codec inside the WebSocket libraries people already use.

One module per library, each with ``install()``, ``uninstall()`` and
``installed()``:

=========================================  =====================  =============================================
module                                     supports               replaces
=========================================  =====================  =============================================
:mod:`fastws.integrations.websockets`      websockets>=13,<18     ``apply_mask`` (frames, legacy.framing)
:mod:`fastws.integrations.wsproto`         wsproto>=1.2,<1.4      ``frame_protocol.XorMaskerSimple``
:mod:`fastws.integrations.aiohttp`         aiohttp>=3.11,<3.15    ``websocket_mask`` (writer, reader_py)
:mod:`fastws.integrations.tornado`         tornado>=6.2,<7        ``_websocket_mask`` (util, websocket)
=========================================  =====================  =============================================

One module is not an adapter but a replacement: :mod:`fastws.integrations.uvicorn`
(uvicorn>=0.54,<0.56) is a WebSocket protocol class for uvicorn, chosen with
``uvicorn app:app --ws fastws.integrations.uvicorn:WebSocketProtocol``; it
serves FastAPI and Starlette applications on fastws's own protocol and codec.
It patches nothing, so it is not among :data:`ADAPTERS`.

Each module's docstring says what it replaces and what it leaves alone, and
why. An adapter refuses (:class:`UnsupportedVersion`) outside the versions
it was written for, rather than patching internals it has not seen.

Three ways in:

* in code: ``fastws.integrations.install_all()`` (or one adapter's ``install()``);
* one import line, first thing in the program: ``import fastws.integrations.auto``;
* without touching the code: ``python -m fastws.integrations run -- python app.py``
  (``python -m fastws.integrations status`` shows what would be installed).

``FASTWS_INTEGRATIONS`` chooses the adapters for the last two: unset or
``all`` for every available one, or a comma-separated list of names
(``websockets,aiohttp``); ``none`` for none.

Only with the compiled codec: when fastws runs its pure-Python twin
(``FASTWS_NO_EXTENSIONS=1``, no wheel for the platform, PyPy), the adapters
would swap the libraries' C masking for Python that is 20 to 200 times
slower, so :func:`install_all` (and with it the import line and ``run``)
installs nothing and says so with a :class:`RuntimeWarning`, unless forced
(``force=True``, ``FASTWS_INTEGRATIONS_FORCE=1``, ``run --force``). An
adapter's own ``install()`` always does what it is told.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import warnings
from collections.abc import Iterable
from typing import Any

from .. import codec
from ._common import Adapter, UnsupportedVersion

__all__ = [
    "ADAPTERS",
    "ENVIRONMENT_VARIABLE",
    "FORCE_VARIABLE",
    "UnsupportedVersion",
    "adapter",
    "available",
    "install_all",
    "install_from_environment",
    "status",
    "uninstall_all",
]

#: The libraries fastws has an adapter for, in the order they are installed.
ADAPTERS: tuple[str, ...] = ("websockets", "wsproto", "aiohttp", "tornado")
#: Names the adapters to install automatically (``websockets,aiohttp``, or ``none``).
ENVIRONMENT_VARIABLE = "FASTWS_INTEGRATIONS"
#: Set to 1 to install adapters even on the pure-Python codec twin.
FORCE_VARIABLE = "FASTWS_INTEGRATIONS_FORCE"


def adapter(name: str) -> Adapter:
    """The adapter object for one library.

    Args:
        name: one of :data:`ADAPTERS`.

    Returns:
        The adapter (its ``install``/``uninstall``/``installed`` are the
        module-level functions of ``fastws.integrations.<name>``).

    Raises:
        ValueError: ``name`` is not in :data:`ADAPTERS`.
    """
    if name not in ADAPTERS:
        raise ValueError(f"unknown adapter {name!r}; choose from {', '.join(ADAPTERS)}")
    module = importlib.import_module(f"{__name__}.{name}")
    found: Adapter = module.ADAPTER
    return found


def _present(name: str) -> bool:
    # Installed at all? Checked without importing the library.
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def available() -> list[str]:
    """The adapters whose library is installed, in the supported range.

    Returns:
        Names from :data:`ADAPTERS` (their libraries get imported to check).
    """
    return [name for name in ADAPTERS if _present(name) and adapter(name).available()]


def install_all(
    names: Iterable[str] | None = None, *, strict: bool = False, force: bool = False
) -> list[str]:
    """Install several adapters; by default every available one.

    A library that is not installed is skipped silently; one outside an
    adapter's version range is skipped with a :class:`RuntimeWarning`
    (or raises, with ``strict``). Nothing is installed, with a
    :class:`RuntimeWarning`, when fastws runs its pure-Python codec twin,
    unless ``force``.

    Args:
        names: adapters to install; None for all of :data:`ADAPTERS`.
        strict: raise instead of skipping a library that is missing or
            unsupported.
        force: install even with the pure-Python codec twin (for tests:
            the behaviour is the same, only slower than the libraries' C).

    Returns:
        The names of the adapters installed after the call.

    Raises:
        ValueError: an unknown adapter name.
        ImportError: with ``strict``, a named library is not installed.
        UnsupportedVersion: with ``strict``, a library is outside its range.
    """
    chosen = list(ADAPTERS if names is None else names)
    for name in chosen:
        adapter(name)  # unknown names fail before anything is installed
    if not force and codec.IMPLEMENTATION != "cython" and chosen:
        warnings.warn(
            "fastws.integrations: fastws runs its pure-Python codec, which is slower than the "
            "libraries' own C masking; no adapter installed (force=True or "
            f"{FORCE_VARIABLE}=1 to install anyway)",
            RuntimeWarning,
            stacklevel=2,
        )
        return []
    done = []
    for name in chosen:
        one = adapter(name)
        if not strict and not _present(name):
            continue
        try:
            one.install()
        except UnsupportedVersion as exc:
            if strict:
                raise
            warnings.warn(str(exc), RuntimeWarning, stacklevel=2)
            continue
        except ImportError:
            if strict:
                raise
            continue
        done.append(name)
    return done


def uninstall_all() -> None:
    """Uninstall every adapter that is installed (the others are untouched)."""
    for name in ADAPTERS:
        adapter(name).uninstall()


def _chosen_by_environment() -> list[str] | None:
    raw = os.environ.get(ENVIRONMENT_VARIABLE, "").strip().lower()
    if raw in ("", "all", "1", "yes", "true"):
        return list(ADAPTERS)
    if raw in ("none", "0", "no", "false"):
        return []
    return [part.strip() for part in raw.split(",") if part.strip()]


def install_from_environment() -> list[str]:
    """Install the adapters ``FASTWS_INTEGRATIONS`` names (all available ones by default).

    Returns:
        The names of the adapters installed.

    Raises:
        ValueError: the variable names an unknown adapter.
    """
    chosen = _chosen_by_environment()
    force = os.environ.get(FORCE_VARIABLE, "").strip().lower() not in ("", "0", "no", "false")
    return install_all(chosen, force=force) if chosen else []


def status() -> list[dict[str, Any]]:
    """One row per adapter: library version, supported range, availability, installed.

    Returns:
        Dictionaries with keys ``name``, ``version`` (None if the library is
        not installed), ``supported``, ``available``, ``installed``,
        ``reason`` (why it is not available, else None) and ``patched``.
    """
    rows = []
    for name in ADAPTERS:
        one = adapter(name)
        reason = None
        version = one.version() if _present(name) else None
        if version is None:
            reason = f"{one.distribution} is not installed"
        else:
            try:
                one.check()
            except (ImportError, UnsupportedVersion) as exc:
                reason = str(exc)
        rows.append(
            {
                "name": name,
                "version": version,
                "supported": one.supported,
                "available": reason is None,
                "installed": one.installed(),
                "reason": reason,
                "patched": [f"{module}.{attr}" for module, attr in one.patched()],
            }
        )
    return rows
