"""Sphinx extension of the fastws documentation.

* ``.. fastws-cli::`` renders the ``fastws`` command from the argparse parser
  that :func:`fastws.cli.build_parser` builds, so the reference lists every
  subcommand and option the command really has, with its help and default.
* Each object is documented once, in the module that defines it: a name
  that a module only re-exports (``fastws.serve`` is
  ``fastws.asyncio.server.serve``) is skipped there, and a cross-reference
  to any public path of an object resolves to where it is documented.
"""

from __future__ import annotations

import argparse
import ast
import functools
import importlib
import importlib.util
import inspect
import re
import textwrap
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

# -- the command line ------------------------------------------------------------------

_RST_SPECIAL = re.compile(r"([\\`*_|])")


def _escape(text: str) -> str:
    return _RST_SPECIAL.sub(r"\\\1", text)


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    formatter = parser._get_formatter()
    text = formatter._expand_help(action) if action.help else ""
    return " ".join(text.split())


def _option_names(action: argparse.Action) -> str:
    if not action.option_strings:
        return action.metavar if isinstance(action.metavar, str) else action.dest.upper()
    if action.nargs == 0:
        return ", ".join(action.option_strings)
    metavar = action.metavar or action.dest.upper()
    if isinstance(metavar, tuple):
        metavar = " ".join(metavar)
    return ", ".join(f"{name} {metavar}" for name in action.option_strings)


def _render_parser(parser: argparse.ArgumentParser, program: str, underline: str) -> list[str]:
    lines = [f"``{program}``", underline * (len(program) + 4), ""]
    if parser.description:
        lines += [_escape(parser.description), ""]
    usage = parser.format_usage().strip().removeprefix("usage:").strip()
    lines += [".. code-block:: text", "", *textwrap.indent(usage, "   ").splitlines(), ""]
    lines += [f".. program:: {program}", ""]
    subparsers: list[argparse._SubParsersAction[argparse.ArgumentParser]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            subparsers.append(action)
            continue
        lines += [f".. option:: {_option_names(action)}", ""]
        help_text = _help(parser, action)
        default = action.default
        text = _escape(help_text) if help_text else "(no help text)"
        if (
            action.option_strings
            and action.nargs != 0
            and default not in (None, argparse.SUPPRESS)
            and "default" not in help_text
        ):
            text += f" (default: ``{default!r}``)"
        lines += ["   " + text, ""]
        if action.choices and not isinstance(action, argparse._SubParsersAction):
            lines += ["   Choices: " + ", ".join(f"``{c}``" for c in action.choices), ""]
    for sub in subparsers:
        for name, child in sub.choices.items():
            lines += _render_parser(child, f"{program} {name}", "~" if underline == "-" else "^")
    return lines


class FastwsCliDirective(SphinxDirective):
    """``.. fastws-cli::``: the whole ``fastws`` command, from its parser."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from fastws.cli import build_parser

        parser = build_parser()
        lines = _render_parser(parser, "fastws", "-")
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source="fastws.cli"), container)
        return container.children


class OptionalModuleDirective(SphinxDirective):
    """``.. fastws-optional-module:: MODULE REQUIREMENT``: its reference, if it imports here.

    A module that needs a third-party library (``fastws.integrations.uvicorn``
    needs uvicorn) is documented when the library is installed where the site
    is built, and named with what it needs otherwise.
    """

    required_arguments = 2

    def run(self) -> list[nodes.Node]:
        module, requirement = self.arguments
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:
            found = False
        if not found:
            paragraph = nodes.paragraph(text=f"{module} is not part of this version of fastws.")
            return [paragraph]
        try:
            importlib.import_module(module)
        except ImportError as exc:
            text = f"``{module}`` needs {requirement}, which is not installed where this page was built ({exc.name})."
            lines = [text]
        else:
            lines = [f".. automodule:: {module}"]
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source=module), container)
        return container.children


# -- one place per object ----------------------------------------------------------------


def _public(module: str) -> bool:
    return module.startswith("fastws") and not any(part.startswith("_") for part in module.split("."))


#: Private modules whose objects a public module documents.
_HOMES = {"fastws._codec": "fastws.codec", "fastws._codec_py": "fastws.codec"}


def _home(module: str) -> str:
    """The public module that documents what ``module`` defines."""
    if module in _HOMES:
        return _HOMES[module]
    parts = module.split(".")
    while parts and parts[-1].startswith("_"):
        parts.pop()
    return ".".join(parts)


def _import_source(module_name: str, node: ast.ImportFrom) -> str:
    module = importlib.import_module(module_name)
    package = module_name if hasattr(module, "__path__") else module_name.rpartition(".")[0]
    if not node.level:
        return node.module or ""
    base = package.split(".")
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


@functools.cache
def _imports(module_name: str) -> dict[str, str]:
    """``name -> dotted path`` for every ``from ... import`` in a module, ``if TYPE_CHECKING:`` too."""
    try:
        tree = ast.parse(inspect.getsource(importlib.import_module(module_name)))
    except (OSError, TypeError, ImportError):
        return {}
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _import_source(module_name, node)
            for alias in node.names:
                found[alias.asname or alias.name] = f"{source}.{alias.name}"
    return found


@functools.cache
def _reexports(module_name: str) -> frozenset[str]:
    """Names that ``module_name`` imports unchanged from another public fastws module."""
    module = importlib.import_module(module_name)
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError):
        return frozenset()
    package = module_name if hasattr(module, "__path__") else module_name.rpartition(".")[0]
    names = set()
    for node in tree.body:
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package.split(".")
            base = base[: len(base) - node.level + 1]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        if not _public(source):
            continue
        for alias in node.names:
            if alias.asname in (None, alias.name):
                names.add(alias.name)
    return frozenset(names)


def _skip_member(app: Sphinx, what: str, name: str, obj: Any, skip: bool, options: Any) -> bool | None:
    if inspect.ismemberdescriptor(obj) and not skip:
        # A __slots__ entry has no docstring of its own: its class documents
        # it (an "Attributes:" section), so it is not listed bare.
        return True
    if what != "module":
        return None
    module_name = getattr(app.env, "temp_data", {}).get("autodoc:module") or app.env.ref_context.get(
        "py:module"
    )
    if not module_name:
        return None
    defined_in = getattr(obj, "__module__", None)
    if (inspect.isclass(obj) or inspect.isroutine(obj)) and isinstance(defined_in, str):
        home = _home(defined_in)
        qualname = getattr(obj, "__qualname__", name)
        if home != module_name and _public(home) and _resolve(f"{home}.{qualname}") is obj:
            return True
    if name in _reexports(module_name):
        return True
    return None


def _resolve(path: str) -> Any:
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for part in parts[cut:]:
                obj = getattr(obj, part)
        except AttributeError:
            return None
        return obj
    return None


def _index(app: Sphinx) -> dict[tuple[int, str], str]:
    """``(id(object), last name) -> documented full name``, for the Python domain's objects."""
    env = app.env
    cached = getattr(env, "_fastws_index", None)
    objects = env.get_domain("py").objects
    if cached is not None and cached[0] == len(objects):
        return cached[1]
    index: dict[tuple[int, str], str] = {}
    for full_name, entry in objects.items():
        if entry.objtype == "module" or not full_name.startswith("fastws"):
            continue
        obj = _resolve(full_name)
        if obj is not None:
            index.setdefault((id(obj), full_name.rpartition(".")[2]), full_name)
    env._fastws_index = (len(objects), index)  # type: ignore[attr-defined]
    return index


#: Python's own objects that annotations spell by their defining module.
_STDLIB_ALIASES = {
    "asyncio.transports.": "asyncio.",
    "asyncio.protocols.": "asyncio.",
    "asyncio.events.": "asyncio.",
    "asyncio.base_events.": "asyncio.",
    "_asyncio.": "asyncio.",
}


def _qualify(app: Sphinx, doctree: nodes.document) -> None:
    """Resolve a short name in a signature as the module it is written in sees it.

    ``Connection`` in :mod:`fastws.asyncio.fanout` is the asyncio one, not
    :class:`fastws.sync.connection.Connection`: the name is looked up in its
    module, and the reference points where the object is documented.
    """
    from sphinx.addnodes import pending_xref

    for node in doctree.findall(pending_xref):
        if node.get("refdomain") != "py":
            continue
        target = node.get("reftarget", "")
        module = node.get("py:module")
        if not module or not target or "." in target.lstrip("~."):
            continue
        name = target.lstrip("~.")
        obj = _resolve(f"{module}.{name}")
        if obj is None and name in _imports(module):
            obj = _resolve(_imports(module)[name])
        defined_in = getattr(obj, "__module__", None)
        if not (inspect.isclass(obj) or inspect.isroutine(obj)) or not isinstance(defined_in, str):
            continue
        # Another library's object: its full name, which its inventory (or
        # nitpick_ignore_regex, for libraries without a local one) knows.
        home = _home(defined_in) if defined_in.startswith("fastws") else defined_in
        node["reftarget"] = f"{home}.{obj.__qualname__}"
        node["refspecific"] = False


def _missing_reference(app: Sphinx, env: Any, node: Any, contnode: Any) -> Any:
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    for prefix, replacement in _STDLIB_ALIASES.items():
        if target.startswith(prefix):
            from sphinx.ext.intersphinx import missing_reference

            node["reftarget"] = replacement + target.removeprefix(prefix)
            return missing_reference(app, env, node, contnode)
    candidates = [target]
    module = node.get("py:module")
    if module and not target.startswith("fastws"):
        candidates.insert(0, f"{module}.{target}")
        if node.get("py:class"):
            candidates.insert(0, f"{module}.{node['py:class']}.{target}")
    for candidate in candidates:
        if not candidate.startswith("fastws"):
            continue
        obj = _resolve(candidate)
        if obj is None:
            continue
        name = _index(app).get((id(obj), candidate.rpartition(".")[2]))
        if name is None:
            continue
        found = env.get_domain("py").resolve_any_xref(env, node["refdoc"], app.builder, name, node, contnode)
        if found:
            return found[0][1]
    return None


# -- attribute docstrings ------------------------------------------------------------------


# Napoleon reads "text: more text" on the first line of an attribute's
# or property's docstring as "type: description". fastws' docstrings never
# spell the type there (it comes from the annotation), and their first
# lines often hold a colon ("The protocol state: CONNECTING, ..."), so
# the whole docstring is the description.
def _all_lines(self: Any) -> list[str]:
    lines = []
    while self._lines:
        lines.append(self._lines.next())
    # Parsed again without the attribute's name: its sections (Raises:, ...) as usual.
    return self.__class__(lines, self._config).lines()


def _signature(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, signature: str | None, annotation: str | None
) -> tuple[str | None, str | None] | None:
    # A dataclass field with a default_factory shows as "=<factory>", which the
    # Python domain cannot parse: it then splits the signature at every comma.
    if signature and "<factory>" in signature:
        return signature.replace("<factory>", "..."), annotation
    return None


def setup(app: Sphinx) -> dict[str, Any]:
    from sphinx.ext.napoleon.docstring import GoogleDocstring

    GoogleDocstring._parse_attribute_docstring = _all_lines  # type: ignore[method-assign]
    app.add_directive("fastws-cli", FastwsCliDirective)
    app.add_directive("fastws-optional-module", OptionalModuleDirective)
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("missing-reference", _missing_reference)
    app.connect("doctree-read", _qualify)
    app.connect("autodoc-process-signature", _signature)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
