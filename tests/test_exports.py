"""The public names: ``fastws.__all__`` and every module's ``__all__``.

Also checks that the codec layer stays light: ``import fastws`` must not
import asyncio (users of the codec or of an integration never pay for it).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import fastws

COMPILED = "fastws._codec"
PURE = "fastws._codec_py"
# Same reading of the variable as fastws.codec.
REQUIRE_EXTENSIONS = os.environ.get("FASTWS_REQUIRE_EXTENSIONS", "").strip().lower() not in (
    "",
    "0",
    "no",
    "false",
)


def module_names() -> list[str]:
    """Every module of the package, found on disk (nothing is imported)."""
    names = ["fastws"]
    for info in pkgutil.walk_packages(fastws.__path__, prefix="fastws."):
        names.append(info.name)
    # Importing this one installs every adapter for the rest of the process:
    # a side effect, not an export surface (tests/integrations covers it).
    names.remove("fastws.integrations.auto")
    return sorted(set(names))


def import_or_skip(name: str):
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if name == COMPILED and not REQUIRE_EXTENSIONS:
            pytest.skip(f"{COMPILED} is not built: {exc}")
        missing = getattr(exc, "name", None) or ""
        if missing and missing != "fastws" and not missing.startswith("fastws."):
            # An optional third-party dependency (an integration's peer).
            pytest.skip(f"{name} needs {missing}, which is not installed")
        raise


def test_all_has_no_duplicates():
    assert len(fastws.__all__) == len(set(fastws.__all__))


def test_all_names_resolve():
    for name in fastws.__all__:
        getattr(fastws, name)  # raises AttributeError when it does not resolve


def test_dir_lists_all():
    assert set(fastws.__all__) <= set(dir(fastws))


def test_unknown_attribute():
    with pytest.raises(AttributeError):
        fastws.no_such_name  # noqa: B018


def test_codec_names_exported():
    # The codec's public surface is reachable from the package.
    for name in (
        "Frame",
        "FrameParser",
        "Utf8Validator",
        "apply_mask",
        "apply_mask_inplace",
        "encode_frame",
        "encode_frame_header",
        "validate_utf8",
    ):
        assert name in fastws.__all__
    assert "implementation" in fastws.__all__


@pytest.mark.parametrize("name", module_names())
def test_module_all_reachable(name):
    module = import_or_skip(name)
    names = getattr(module, "__all__", None)
    if names is None:
        # __main__ may legitimately be a script; every other module declares
        # its public names.
        assert name.endswith("__main__"), f"{name} has no __all__"
        return
    assert isinstance(names, (list, tuple)), name
    assert len(names) == len(set(names)), f"duplicates in {name}.__all__"
    for attr in names:
        assert isinstance(attr, str), (name, attr)
        assert hasattr(module, attr), f"{name}.__all__ lists {attr!r}, which does not resolve"


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = dict(os.environ)
    environ.update(env)
    source_root = str(Path(fastws.__file__).resolve().parent.parent)
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [source_root, environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=60, check=False
    )


CHECK_NO_ASYNCIO = """
import sys
import {module}
heavy = sorted(name for name in sys.modules if name == "asyncio" or name.startswith("asyncio."))
print(",".join(heavy))
"""


@pytest.mark.parametrize(
    "module",
    [
        "fastws",
        "fastws.codec",
        # the threading layer, all of it: it never needs an event loop
        "fastws.sync",
        "fastws.sync.client",
        "fastws.sync.server",
        "fastws.options",
        "fastws.pings",
    ],
)
def test_import_does_not_import_asyncio(module):
    result = run_python(CHECK_NO_ASYNCIO.format(module=module))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"import {module} imported: {result.stdout.strip()}"


def test_import_fastws_does_not_import_the_threading_layer():
    result = run_python("import sys, fastws; print('fastws.sync' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_threading_layer_names_are_lazy():
    code = "import sys, fastws.sync as s; a = 'fastws.sync.server' in sys.modules; s.serve; print(a, 'fastws.sync.server' in sys.modules)"
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False True"


def test_interpreter_alone_does_not_import_asyncio():
    # The control for the test above: a bare interpreter does not import
    # asyncio, so if that test fails, fastws is to blame.
    result = run_python("import sys; print('asyncio' in sys.modules)")
    assert result.stdout.strip() == "False"
