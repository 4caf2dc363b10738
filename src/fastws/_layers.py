"""Which twin of the compiled Python layers is imported (private).

The modules in :data:`COMPILED` are plain Python, the pure twin, and are
also compiled by Cython from the same source, each with the ``.pxd`` beside
it that makes its classes extension types (their slots become C fields, so
the read path reads them without a dictionary or descriptor lookup). An
installed compiled module sits beside its ``.py`` and Python's own import
would always prefer it, so :func:`install` puts a finder in front that
follows the codec's choice (:mod:`fastws.codec`):

* the codec is compiled: the compiled modules when every one of them is
  built, else the sources of all (with ``FASTWS_REQUIRE_EXTENSIONS=1`` a
  missing one is an ImportError instead, so that a broken build cannot pass
  for green);
* the codec is pure (``FASTWS_NO_EXTENSIONS=1``, or no compiled codec): the
  ``.py`` sources, even where compiled modules are installed.

The compiled classes are the pure ones: same names, attributes, methods and
errors, and Python subclasses of them work as before. A layer compiled
against another needs that one compiled too (``Closing`` extends
``Sender``), so they are imported all compiled or all from source: an
optional build in which one failed to compile falls back as a whole.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import EXTENSION_SUFFIXES, ExtensionFileLoader, ModuleSpec, PathFinder
from types import ModuleType

__all__ = ["COMPILED", "install", "is_compiled"]

#: The modules built from their ``.py`` by ``setup.py`` (each has a ``.pxd``).
COMPILED = frozenset(
    {
        "fastws.asyncio.connection",
        "fastws.asyncio.stream",
        "fastws.closing",
        "fastws.flow",
        "fastws.headers",
        "fastws.http11",
        "fastws.protocol",
        "fastws.reassembly",
        "fastws.sending",
        "fastws.server",
    }
)


class _TwinFinder(MetaPathFinder):
    """Finds the twin of a module of :data:`COMPILED` that the codec's choice asks for."""

    def __init__(self, compiled: bool, required: bool) -> None:
        self.compiled = compiled
        self.required = required
        #: Whether the compiled layers are used: decided at the first one's import.
        self.use_compiled: bool | None = None

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in COMPILED:
            return None
        spec = PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None:
            return spec
        if self.use_compiled is None:
            self.use_compiled = self.compiled and self._all_built(fullname, spec.origin)
        if self.use_compiled or not isinstance(spec.loader, ExtensionFileLoader):
            return spec
        source = os.path.join(os.path.dirname(spec.origin), fullname.rpartition(".")[2] + ".py")
        return importlib.util.spec_from_file_location(fullname, source)

    def _all_built(self, fullname: str, origin: str) -> bool:
        """Whether every module of :data:`COMPILED` is built beside ``fullname``'s ``origin``."""
        root = os.path.dirname(origin)
        for _ in range(fullname.count(".") - 1):
            root = os.path.dirname(root)
        missing = []
        for name in sorted(COMPILED):
            *folders, leaf = name.split(".")[1:]
            base = os.path.join(root, *folders, leaf)
            if not any(os.path.exists(base + suffix) for suffix in EXTENSION_SUFFIXES):
                missing.append(name)
        if missing and self.required:
            raise ImportError(
                f"the compiled twin of {', '.join(missing)} is not built, and FASTWS_REQUIRE_EXTENSIONS is set",
                name=fullname,
            )
        return not missing


def install(compiled: bool, required: bool) -> None:
    """Put the finder first on ``sys.meta_path`` (once per process; the last call wins)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _TwinFinder)]
    sys.meta_path.insert(0, _TwinFinder(compiled, required))


def is_compiled(module: ModuleType) -> bool:
    """Whether ``module`` was imported from its compiled twin."""
    return isinstance(getattr(module, "__loader__", None), ExtensionFileLoader)
