"""The compiled twins of the Python layers (``fastws._layers``).

The modules of ``_layers.COMPILED`` are compiled by Cython from their own
``.py`` with the ``.pxd`` beside it. These tests hold the two descriptions of
each class (``__slots__`` in the ``.py``, C fields in the ``.pxd``) to each
other, check that each pass of ``scripts/test.sh`` imports the twin it
stands for, and drive the import finder on files made here.
"""

from __future__ import annotations

import ast
import importlib
import pathlib
import re
import sysconfig
from typing import Any

import pytest

from fastws import _layers, codec
from fastws.codec import encode_frame

SRC = pathlib.Path(__file__).resolve().parents[1] / "src"
_CDEF_CLASS = re.compile(r"^cdef class (\w+)(?:\((\w+)\))?:$")
_FIELD = re.compile(r"^    cdef (?:public )?(\w+) (\w+)$")
_CPDEF = re.compile(r"^    cpdef (\w+)\(self(?:, )?(.*)\)$")
_LOCALS = re.compile(r"^    @cython\.locals\((.*)\)$")
_MODULE_VARIABLE = re.compile(r"^cdef (\w+) (\w+)$")
#: The C types a field, a parameter or a local may have besides ``object``
#: and a layer's class: a byte count or a position the layer keeps itself.
_C_INTEGER = "Py_ssize_t"


class _Declared:
    """What a ``.pxd`` says of one class."""

    def __init__(self, base: str | None) -> None:
        self.base = base
        self.fields: list[str] = []
        #: field: its declared type
        self.types: dict[str, str] = {}
        #: cpdef method: its parameters after ``self`` (``=*`` marks a default)
        self.methods: dict[str, list[str]] = {}
        #: cpdef method: its typed parameters and locals, ``{name: type}``
        self.typed: dict[str, dict[str, str]] = {}


def _pxd_classes(path: pathlib.Path) -> dict[str, _Declared]:
    """The classes a ``.pxd`` declares, by name."""
    return _parse_pxd(path)[0]


def _parse_pxd(path: pathlib.Path) -> tuple[dict[str, _Declared], dict[str, str]]:
    """The classes a ``.pxd`` declares, by name, and its module-level C variables."""
    classes: dict[str, _Declared] = {}
    variables: dict[str, str] = {}
    current = _Declared(None)
    local_types: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if match := _CDEF_CLASS.match(line):
            current = classes[match[1]] = _Declared(match[2])
        elif match := _FIELD.match(line):
            current.fields.append(match[2])
            current.types[match[2]] = match[1]
        elif match := _LOCALS.match(line):
            local_types = {name: kind for name, kind in (item.split("=") for item in match[1].split(", "))}
        elif match := _CPDEF.match(line):
            params = match[2].split(", ") if match[2] else []
            typed = dict(local_types)
            local_types = {}
            for param in params:
                if " " in param:
                    kind, name = param.split(" ")
                    typed[name.removesuffix("=*")] = kind
            current.methods[match[1]] = [p.split(" ")[-1] for p in params]
            current.typed[match[1]] = typed
        elif match := _MODULE_VARIABLE.match(line):
            variables[match[2]] = match[1]
        elif line.strip() and line != "    pass" and not line.startswith(("#", "from ", "cimport ", "    #")):
            raise AssertionError(f"{path.name}: unexpected line {line!r}")
    return classes, variables


def _py_classes(path: pathlib.Path) -> dict[str, tuple[str | None, list[str]]]:
    """``{class: (first base, __slots__)}`` for the classes of the ``.py`` that have slots."""
    classes: dict[str, tuple[str | None, list[str]]] = {}
    for node in ast.parse(path.read_text()).body:
        if not isinstance(node, ast.ClassDef):
            continue
        for statement in node.body:
            if isinstance(statement, ast.Assign) and ast.unparse(statement.targets[0]) == "__slots__":
                base = ast.unparse(node.bases[0]) if node.bases else None
                classes[node.name] = (base, list(ast.literal_eval(statement.value)))
    return classes


def _source(module: str) -> pathlib.Path:
    return SRC.joinpath(*module.split(".")).with_suffix(".py")


def test_the_list_is_every_module_with_a_pxd() -> None:
    # setup.py compiles every .py that has a .pxd beside it.
    paired = {
        ".".join(path.relative_to(SRC).with_suffix("").parts)
        for path in SRC.joinpath("fastws").rglob("*.py")
        if path.with_suffix(".pxd").exists()
    }
    assert paired == set(_layers.COMPILED)


@pytest.mark.parametrize("module", sorted(_layers.COMPILED))
def test_the_pxd_declares_the_slots_and_bases_of_the_py(module: str) -> None:
    source = _source(module)
    declared = _pxd_classes(source.with_suffix(".pxd"))
    assert declared, "the .pxd declares no class"
    slotted = _py_classes(source)
    for name, cls in declared.items():
        assert name in slotted, f"{name} has no __slots__ in {source.name}"
        py_base, slots = slotted[name]
        assert sorted(cls.fields) == sorted(slots)
        assert cls.base == py_base


def _functions(source: pathlib.Path) -> dict[tuple[str, str], ast.FunctionDef]:
    """The methods of the ``.py``'s classes, by ``(class, method)``."""
    return {
        (cls.name, item.name): item
        for cls in ast.parse(source.read_text()).body
        if isinstance(cls, ast.ClassDef)
        for item in cls.body
        if isinstance(item, ast.FunctionDef)
    }


@pytest.mark.parametrize("module", sorted(_layers.COMPILED))
def test_cpdef_methods_take_what_the_py_takes_positionally(module: str) -> None:
    # The compiled twin calls a Python subclass's override of a cpdef method
    # with positional arguments: keyword-only or variadic ones would break it.
    source = _source(module)
    methods = {key: function.args for key, function in _functions(source).items()}
    for name, cls in _pxd_classes(source.with_suffix(".pxd")).items():
        for method, params in cls.methods.items():
            args = methods[name, method]
            assert not (args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs), method
            names = [a.arg for a in args.args[1:]]
            assert [p.removesuffix("=*") for p in params] == names, method
            defaults = len(args.defaults)
            assert [p.endswith("=*") for p in params] == [
                i >= len(names) - defaults for i in range(len(names))
            ]


def _cimported(path: pathlib.Path) -> set[str]:
    """The names a ``.pxd`` cimports from other ``.pxd`` files."""
    return {
        name
        for line in path.read_text().splitlines()
        if line.startswith("from ") and " cimport " in line
        for name in line.split(" cimport ")[1].split(", ")
    }


@pytest.mark.parametrize("module", sorted(_layers.COMPILED))
def test_c_integers_hold_only_what_the_source_keeps_as_ints(module: str) -> None:
    # A field, local or module variable declared as a C integer refuses
    # anything but an int in the compiled twin: only counts and positions
    # that the layer itself starts at an int may be declared so.
    source = _source(module)
    tree = ast.parse(source.read_text())
    classes, variables = _parse_pxd(source.with_suffix(".pxd"))
    functions = _functions(source)
    layer_classes = set(classes) | _cimported(source.with_suffix(".pxd"))
    for name, cls in classes.items():
        for field, kind in cls.types.items():
            if kind == "object" or kind in layer_classes:
                continue  # any object, or a layer's class
            assert kind == _C_INTEGER, (name, field, kind)
            starts = [
                node.value.value
                for node in ast.walk(tree)
                if isinstance(node, ast.Assign)
                and ast.unparse(node.targets[0]) == f"self.{field}"
                and isinstance(node.value, ast.Constant)
            ]
            assert starts and all(type(value) is int for value in starts), (name, field)
        for method, typed in cls.typed.items():
            function = functions[name, method]
            params = {a.arg for a in function.args.args}
            assigned = {
                target.id
                for node in ast.walk(function)
                if isinstance(node, (ast.Assign, ast.AugAssign))
                for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
                if isinstance(target, ast.Name)
            }
            for local, kind in typed.items():
                assert kind == _C_INTEGER, (name, method, local)
                assert local in params | assigned, (name, method, local)
    module_names = {
        ast.unparse(node.targets[0]): node.value for node in tree.body if isinstance(node, ast.Assign)
    }
    for variable, kind in variables.items():
        # Private, so that the module's public name stays a Python int.
        assert kind == _C_INTEGER and variable.startswith("_"), variable
        value = module_names[variable]
        public = isinstance(value, ast.Name) and isinstance(module_names.get(value.id), ast.Constant)
        assert public and type(module_names[value.id].value) is int, variable


def test_this_pass_imports_the_twin_it_stands_for() -> None:
    compiled = codec.IMPLEMENTATION == "cython"
    for name in sorted(_layers.COMPILED):
        module = importlib.import_module(name)
        if compiled and codec.REQUIRE_EXTENSIONS:
            assert _layers.is_compiled(module), name
        elif not compiled:
            assert not _layers.is_compiled(module), name


def test_a_compiled_class_is_the_pure_class_in_its_interface() -> None:
    # The names a user or a subclass reaches are those of the source.
    from fastws.protocol import Protocol

    source = _py_classes(_source("fastws.protocol"))["Protocol"][1]
    for name in source:
        assert hasattr(Protocol, name), name
    assert Protocol.__module__ == "fastws.protocol"
    assert Protocol.__mro__[1].__name__ == "Closing"


def test_a_subclass_override_of_a_compiled_method_is_called() -> None:
    # receive_data calls _process from inside the compiled class.
    from fastws.constants import Opcode, Side
    from fastws.protocol import Protocol

    class Counting(Protocol):
        __slots__ = ("batches",)

        def _process(self, frames: Any, error: Any) -> None:
            self.batches.append(len(frames))
            super()._process(frames, error)

    protocol = Counting(Side.SERVER)
    protocol.batches = []
    protocol.receive_data(encode_frame(Opcode.TEXT, b"hi", mask=True) * 2)
    assert protocol.batches == [2]
    assert [event.data for event in protocol.events_received()] == ["hi", "hi"]


# -- the finder, on files made here ------------------------------------------------

_SUFFIX = sysconfig.get_config_var("EXT_SUFFIX")


@pytest.fixture
def layer_files(tmp_path: pathlib.Path) -> pathlib.Path:
    """A package folder with every layer's ``.py`` and a (never loaded) compiled file."""
    for name in _layers.COMPILED:
        *folders, leaf = name.split(".")[1:]
        folder = tmp_path.joinpath(*folders)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{leaf}.py").write_text("")
        (folder / f"{leaf}{_SUFFIX}").write_bytes(b"")
    return tmp_path


def _spec(finder: Any, name: str, root: pathlib.Path) -> Any:
    *folders, _ = name.split(".")[1:]
    return finder.find_spec(name, [str(root.joinpath(*folders))])


def test_the_pure_choice_takes_the_source_beside_a_compiled_module(layer_files: pathlib.Path) -> None:
    finder = _layers._TwinFinder(compiled=False, required=False)
    for name in sorted(_layers.COMPILED):
        assert _spec(finder, name, layer_files).origin.endswith(".py"), name


def test_the_compiled_choice_takes_the_compiled_modules(layer_files: pathlib.Path) -> None:
    finder = _layers._TwinFinder(compiled=True, required=True)
    for name in sorted(_layers.COMPILED):
        assert _spec(finder, name, layer_files).origin.endswith(_SUFFIX), name


@pytest.mark.parametrize("missing", ["fastws.asyncio.stream", "fastws.sending"])
def test_one_missing_compiled_layer_makes_all_come_from_source(
    layer_files: pathlib.Path, missing: str
) -> None:
    # Closing is compiled against Sender, Connection against Stream: a mix
    # of twins would not import.
    *folders, leaf = missing.split(".")[1:]
    layer_files.joinpath(*folders, leaf + _SUFFIX).unlink()
    finder = _layers._TwinFinder(compiled=True, required=False)
    for name in sorted(_layers.COMPILED):
        assert _spec(finder, name, layer_files).origin.endswith(".py"), name


def test_a_missing_compiled_layer_fails_when_required(layer_files: pathlib.Path) -> None:
    layer_files.joinpath("asyncio", "stream" + _SUFFIX).unlink()
    finder = _layers._TwinFinder(compiled=True, required=True)
    with pytest.raises(ImportError, match=r"fastws\.asyncio\.stream is not built.*FASTWS_REQUIRE_EXTENSIONS"):
        _spec(finder, "fastws.protocol", layer_files)


def test_other_modules_are_left_to_the_usual_finders(layer_files: pathlib.Path) -> None:
    (layer_files / "events.py").write_text("")
    finder = _layers._TwinFinder(compiled=False, required=True)
    assert finder.find_spec("fastws.events", [str(layer_files)]) is None
