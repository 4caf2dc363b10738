"""Which public names the built reference lacks (shared by the docs tests)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import pkgutil
from pathlib import Path
from typing import Any

import fastws

__all__ = ["missing_names", "public_modules", "read_inventory"]


#: Modules whose import does something (not only define names): their
#: ``__all__`` is read from the source, and each name must be documented
#: where the module is. Importing fastws.integrations.auto would install
#: the adapters into websockets, aiohttp, ... in the test process.
SIDE_EFFECTS = {"fastws.integrations.auto"}

#: Modules that need a third-party library: documented, and checked, only
#: where it is installed (``docs/reference/integrations.rst``).
OPTIONAL = {"fastws.integrations.uvicorn": "uvicorn"}


def _static_all(module_name: str) -> list[str]:
    spec = importlib.util.find_spec(module_name)
    assert spec is not None and spec.origin is not None, module_name
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return [ast.literal_eval(element) for element in node.value.elts]  # type: ignore[attr-defined]
    raise AssertionError(f"{module_name} has no __all__")


def public_modules() -> list[str]:
    """Every fastws module whose dotted name has no part starting with ``_``."""
    names = ["fastws"]
    for info in pkgutil.walk_packages(fastws.__path__, "fastws."):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            names.append(info.name)
    return sorted(names)


def read_inventory(path: Path) -> set[str]:
    """The names of the Python objects in a Sphinx ``objects.inv``."""
    from sphinx.util.inventory import InventoryFile

    with open(path, "rb") as f:
        inventory = InventoryFile.load(f, "", lambda base, uri: uri)
    names: set[str] = set()
    for kind, entries in inventory.data.items() if hasattr(inventory, "data") else inventory.items():
        if kind.startswith("py:"):
            names.update(entries)
    return names


def _resolve(path: str) -> Any:
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        if ".".join(parts[:cut]) in SIDE_EFFECTS:
            return None
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for part in parts[cut:]:
                obj = getattr(obj, part)
        except AttributeError:
            return None
        return obj
    return None


def missing_names(inventory: set[str]) -> list[str]:
    """``module.name`` for each name of a public ``__all__`` the inventory does not document.

    A name counts as documented where it is defined: ``fastws.serve`` is
    documented as ``fastws.asyncio.server.serve``. The documented entry must
    carry the same last name and be the very same object.
    """
    by_last: dict[str, list[str]] = {}
    for name in inventory:
        by_last.setdefault(name.rpartition(".")[2], []).append(name)
    missing = []
    for module_name in public_modules():
        if module_name in SIDE_EFFECTS:
            missing += [
                f"{module_name}.{n}"
                for n in _static_all(module_name)
                if f"{module_name}.{n}" not in inventory
            ]
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            if module_name in OPTIONAL and exc.name == OPTIONAL[module_name]:
                continue
            raise
        for name in getattr(module, "__all__", ()):
            if f"{module_name}.{name}" in inventory:
                continue
            obj = getattr(module, name)
            same = [entry for entry in by_last.get(name, []) if entry.startswith("fastws")]
            if any(_resolve(entry) is obj for entry in same) and (
                inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj) or len(same) >= 1
            ):
                continue
            missing.append(f"{module_name}.{name}")
    return missing
