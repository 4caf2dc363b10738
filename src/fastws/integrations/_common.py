"""Machinery shared by the adapters: version checks and reversible patches.

An adapter replaces a few module attributes of another library (its masking
function, its masker class) with fastws-backed equivalents. Every patch is
recorded with the value it replaced, so :meth:`Adapter.uninstall` puts the
library back exactly as it was. A patch is only undone while the attribute
still holds our replacement: if somebody patched the same name after us,
their value is left alone.

Adapters are installed at import time by applications (``import
fastws.integrations.auto``), possibly from several threads at once, so
install and uninstall run under one lock per adapter and are idempotent.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import sys
import threading
from types import ModuleType
from typing import Any

__all__ = ["Adapter", "UnsupportedVersion", "parse_version"]


class UnsupportedVersion(RuntimeError):
    """The installed library is outside the version range an adapter was written for.

    Adapters patch private internals; outside the versions whose internals
    were read and tested, they refuse instead of patching blindly.
    """


_RELEASE = re.compile(r"\d+(?:\.\d+)*")


def parse_version(text: str) -> tuple[int, ...]:
    """The numeric release part of a version string: ``"3.14.5rc1"`` -> ``(3, 14, 5)``.

    Args:
        text: a version as a distribution reports it.

    Returns:
        The dot-separated leading integers.

    Raises:
        ValueError: ``text`` does not start with a number.
    """
    match = _RELEASE.match(text.strip().lstrip("vV"))
    if match is None:
        raise ValueError(f"cannot read a version number from {text!r}")
    return tuple(int(part) for part in match.group().split("."))


def _format(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


class Adapter:
    """One library's set of patches, applied and undone as a whole.

    Subclasses name the library and the version range, and implement
    :meth:`_apply`, which calls :meth:`_patch` for each attribute it
    replaces.

    Attributes:
        library: the import name of the accelerated library.
        distribution: its distribution name on PyPI.
        minimum: the first supported version (inclusive).
        below: the first unsupported version (exclusive).
    """

    library: str = ""
    distribution: str = ""
    minimum: tuple[int, ...] = ()
    below: tuple[int, ...] = ()

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._patches: list[tuple[ModuleType, str, Any, Any]] = []
        self._bindings: list[tuple[tuple[str, ...], str, Any, Any]] = []
        self._installed = False

    # -- version -------------------------------------------------------------------

    @property
    def supported(self) -> str:
        """The supported range as a requirement string, e.g. ``websockets>=13,<18``."""
        return f"{self.distribution}>={_format(self.minimum)},<{_format(self.below)}"

    def version(self) -> str | None:
        """The installed version of the library, or None when it is not installed."""
        try:
            return importlib.metadata.version(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            module = sys.modules.get(self.library)
            found = getattr(module, "__version__", None)
            return found if isinstance(found, str) else None

    def check(self) -> str:
        """Check that the library is importable and inside the supported range.

        Returns:
            The installed version.

        Raises:
            ImportError: the library is not installed.
            UnsupportedVersion: the installed version is outside ``supported``.
        """
        importlib.import_module(self.library)
        version = self.version()
        if version is None:
            raise UnsupportedVersion(
                f"fastws.integrations.{self.library}: cannot tell which version of "
                f"{self.distribution} is installed; this adapter supports {self.supported}"
            )
        try:
            release = parse_version(version)
        except ValueError:
            release = ()
        if not (self.minimum <= release < self.below):
            raise UnsupportedVersion(
                f"fastws.integrations.{self.library} supports {self.supported}, "
                f"but {self.distribution} {version} is installed; it patches private "
                f"internals of {self.distribution}, so it refuses to run outside the "
                f"versions it was written and tested for"
            )
        return version

    def available(self) -> bool:
        """Whether :meth:`install` would succeed (library importable, version in range)."""
        try:
            self.check()
        except (ImportError, UnsupportedVersion):
            return False
        return True

    # -- install / uninstall -------------------------------------------------------

    def installed(self) -> bool:
        """Whether this adapter's patches are in place."""
        return self._installed

    def install(self) -> None:
        """Replace the library's hot paths with fastws; a no-op when already installed.

        Raises:
            ImportError: the library is not installed.
            UnsupportedVersion: the installed version is outside ``supported``.
        """
        with self._lock:
            if self._installed:
                return
            self.check()
            try:
                self._apply()
            except BaseException:
                self._undo()
                raise
            self._installed = True

    def uninstall(self) -> None:
        """Put back every attribute :meth:`install` replaced; a no-op when not installed."""
        with self._lock:
            if not self._installed:
                return
            self._undo()
            self._installed = False

    # -- for subclasses ------------------------------------------------------------

    def _apply(self) -> None:
        raise NotImplementedError

    def _patch(self, module: ModuleType | str, name: str, replacement: Any) -> Any:
        """Set ``module.name`` to ``replacement``, remembering the value it had.

        Args:
            module: the module object or its import name (imported if needed).
            name: the attribute to replace; it must exist.
            replacement: the new value.

        Returns:
            The value that was replaced.

        Raises:
            AttributeError: the module has no such attribute (the library's
                internals are not what this adapter expects).
        """
        if isinstance(module, str):
            module = importlib.import_module(module)
        original = getattr(module, name)
        setattr(module, name, replacement)
        self._patches.append((module, name, original, replacement))
        return original

    def _patch_binding(
        self, source: ModuleType | str, consumers: tuple[str, ...], name: str, replacement: Any
    ) -> Any:
        """Replace a name in the module that defines it and in the modules that import it.

        ``from source import name`` copies the value into the importing
        module, so each copy is replaced: in ``source`` (a consumer imported
        later copies ours) and in every consumer already imported (consumers
        not imported yet are not imported here: some are heavy or deprecated).

        Args:
            source: the module the consumers import ``name`` from.
            consumers: import names of the modules holding a copy.
            name: the attribute.
            replacement: the new value.

        Returns:
            The value that was replaced in ``source``.
        """
        original = self._patch(source, name, replacement)
        for consumer in consumers:
            module = sys.modules.get(consumer)
            if module is not None and getattr(module, name, None) is original:
                self._patch(module, name, replacement)
        self._bindings.append((consumers, name, original, replacement))
        return original

    def _undo(self) -> None:
        # Consumers imported while we were installed copied our value from
        # the source module: they get the original back as well.
        while self._bindings:
            consumers, name, original, replacement = self._bindings.pop()
            for consumer in consumers:
                module = sys.modules.get(consumer)
                if module is not None and getattr(module, name, None) is replacement:
                    setattr(module, name, original)
        while self._patches:
            module, name, original, replacement = self._patches.pop()
            if getattr(module, name, None) is replacement:
                setattr(module, name, original)

    def patched(self) -> list[tuple[str, str]]:
        """``(module, attribute)`` pairs currently replaced by this adapter."""
        with self._lock:
            return [(_module_name(module), name) for module, name, _, _ in self._patches]


def _module_name(module: ModuleType) -> str:
    # A C extension may call itself otherwise than its import name.
    spec = getattr(module, "__spec__", None)
    return spec.name if spec is not None else module.__name__
