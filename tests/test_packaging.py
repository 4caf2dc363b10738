"""Packaging: what the distributions ship, and the switches that pick a codec twin.

* The installed package carries its type information (``py.typed``, the
  ``.pyi`` contract of the compiled twin).
* ``FASTWS_NO_EXTENSIONS`` / ``FASTWS_REQUIRE_EXTENSIONS`` choose the twin at
  import time, in a fresh interpreter each (the choice is made once, at import).
* The source distribution carries every build input (the ``.pyx``, the SIMD
  kernels, the contract), and a build with the extension turned off gives a
  pure ``py3-none-any`` wheel (marked ``slow``: they run the real build
  backend, without isolation, on a copy of the source tree).
* The examples in the README run as written.

The distribution tests need the source tree next to this folder and the test
extra (``build``, ``setuptools``, ``Cython``); without them they are skipped.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

import fastws

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(fastws.__file__).resolve().parent
FLAGS = ("FASTWS_NO_EXTENSIONS", "FASTWS_REQUIRE_EXTENSIONS", "FASTWS_BUILD_EXTENSION")


def _compiled_importable() -> bool:
    try:
        importlib.import_module("fastws._codec")
    except ImportError:
        return False
    return True


def _clean_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in FLAGS}
    # The subprocess must import the very fastws this process tests.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_DIR.parent), env.get("PYTHONPATH")]))
    env.update(overrides)
    return env


def _import_in_subprocess(tmp_path: Path, **flags: str) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(
        """
        import fastws, fastws.codec, fastws.http11, fastws.protocol
        print(fastws.implementation, fastws.codec.apply_mask.__module__,
              fastws.protocol.deliver_frames.__module__, fastws.http11.scan_fields.__module__)
        """
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,  # not the source tree: the package is imported as installed
        env=_clean_env(**flags),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# -- the installed package -----------------------------------------------------------


class TestInstalledPackage:
    """PEP 561: a package that ships its own types says so with py.typed."""

    def test_py_typed_marker(self) -> None:
        assert (PACKAGE_DIR / "py.typed").is_file()

    def test_compiled_twin_contract_ships(self) -> None:
        stub = PACKAGE_DIR / "_codec.pyi"
        assert stub.is_file()
        assert "def apply_mask(" in stub.read_text(encoding="utf-8")

    def test_no_python_file_shadows_the_extension(self) -> None:
        # Python prefers _codec.py over _codec.*.so in the same folder, so a
        # stray _codec.py would silently replace the compiled twin.
        assert not (PACKAGE_DIR / "_codec.py").exists()


# -- choosing a twin at import time ---------------------------------------------------


class TestTwinSelection:
    """fastws.codec picks the twin once, at import, from the environment."""

    @pytest.mark.parametrize("value", ["1", "yes", "true", "TRUE"])
    def test_no_extensions_picks_the_pure_twin(self, tmp_path: Path, value: str) -> None:
        result = _import_in_subprocess(tmp_path, FASTWS_NO_EXTENSIONS=value)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == [
            "python",
            "fastws._codec_py",
            "fastws._delivery_py",
            "fastws._upgrade_py",
        ]

    @pytest.mark.parametrize("value", ["", "0", "no", "false"])
    def test_false_values_do_not_force_the_pure_twin(self, tmp_path: Path, value: str) -> None:
        result = _import_in_subprocess(tmp_path, FASTWS_NO_EXTENSIONS=value)
        assert result.returncode == 0, result.stderr
        expected = "cython" if _compiled_importable() else "python"
        assert result.stdout.split()[0] == expected

    def test_default_prefers_the_compiled_twin(self, tmp_path: Path) -> None:
        result = _import_in_subprocess(tmp_path)
        assert result.returncode == 0, result.stderr
        if _compiled_importable():
            assert result.stdout.split() == [
                "cython",
                "fastws._codec",
                "fastws._delivery",
                "fastws._upgrade",
            ]
        else:
            assert result.stdout.split() == [
                "python",
                "fastws._codec_py",
                "fastws._delivery_py",
                "fastws._upgrade_py",
            ]

    def test_require_extensions(self, tmp_path: Path) -> None:
        result = _import_in_subprocess(tmp_path, FASTWS_REQUIRE_EXTENSIONS="1")
        if _compiled_importable():
            assert result.returncode == 0, result.stderr
            assert result.stdout.split() == [
                "cython",
                "fastws._codec",
                "fastws._delivery",
                "fastws._upgrade",
            ]
        else:
            # Without the compiled twin the import must fail, loudly.
            assert result.returncode != 0
            assert "ImportError" in result.stderr or "ModuleNotFoundError" in result.stderr

    def test_both_flags_are_refused(self, tmp_path: Path) -> None:
        result = _import_in_subprocess(tmp_path, FASTWS_NO_EXTENSIONS="1", FASTWS_REQUIRE_EXTENSIONS="1")
        assert result.returncode != 0
        assert "FASTWS_NO_EXTENSIONS and FASTWS_REQUIRE_EXTENSIONS are both set" in result.stderr


# -- distributions (the real build backend, on a copy of the tree) ----------------------


def _require_source_tree() -> None:
    if not (ROOT / "pyproject.toml").is_file() or not (ROOT / "setup.py").is_file():
        pytest.skip("the source tree is not next to the tests")


def _require_build_tools() -> None:
    # The versions pyproject.toml's [build-system] asks for.
    wanted = {"build": (1, 0), "setuptools": (77, 0), "Cython": (3, 1)}
    for dist, minimum in wanted.items():
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pytest.skip(f"{dist} is not installed (pip install -e '.[test]')")
        found = re.match(r"(\d+)\.(\d+)", version)
        if found is None or (int(found[1]), int(found[2])) < minimum:
            pytest.skip(f"needs {dist}>={minimum[0]}.{minimum[1]}, found {version}")


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The source tree, copied without build products or caches."""
    _require_source_tree()
    _require_build_tools()
    dst = tmp_path_factory.mktemp("tree") / "fastws"
    shutil.copytree(
        ROOT,
        dst,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "venv",
            "build",
            "dist",
            "wheelhouse",
            "*.egg-info",
            "__pycache__",
            ".*_cache",
            ".hypothesis",
            ".benchmarks",
            "*.so",
            "*.pyd",
        ),
    )
    return dst


def _build(tree: Path, out: Path, kind: str, **flags: str) -> Path:
    result = subprocess.run(
        [sys.executable, "-m", "build", f"--{kind}", "--no-isolation", "--outdir", str(out), str(tree)],
        env=_clean_env(**flags),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    (artifact,) = out.iterdir()
    return artifact


@pytest.fixture(scope="module")
def sdist(tree_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist of the tree copy."""
    # With the extension turned off, setup.py adds no sources of its own:
    # what the sdist holds is what MANIFEST.in and pyproject.toml select.
    sdist = _build(tree_copy, tmp_path_factory.mktemp("sdist"), "sdist", FASTWS_BUILD_EXTENSION="no")
    assert sdist.name.endswith(".tar.gz")
    return sdist


@pytest.fixture(scope="module")
def sdist_names(sdist: Path) -> set[str]:
    """Paths in the sdist, relative to its top folder."""
    with tarfile.open(sdist) as tar:
        return {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}


@pytest.mark.slow
class TestSourceDistribution:
    """The sdist carries every build input, so a wheel can be built from it alone."""

    def test_build_inputs(self, sdist_names: set[str]) -> None:
        for name in ("pyproject.toml", "setup.py", "LICENSE", "README.md", "MANIFEST.in"):
            assert name in sdist_names

    def test_package_sources_and_types(self, sdist_names: set[str]) -> None:
        wanted = {
            "src/fastws/py.typed",
            "src/fastws/_codec.pyi",
            "src/fastws/codec.py",
            "src/fastws/_codec_py.py",
        }
        for pattern in ("src/fastws/**/*.py", "src/fastws/**/*.pyi", "src/fastws/*.pyx", "src/fastws/*.pxd"):
            wanted.update(
                p.relative_to(ROOT).as_posix() for p in ROOT.glob(pattern) if "__pycache__" not in p.parts
            )
        assert sorted(wanted - sdist_names) == []

    def test_compiled_twin_sources(self, sdist_names: set[str]) -> None:
        wanted = {p.relative_to(ROOT).as_posix() for p in ROOT.glob("src/fastws/_simd/*.[ch]")}
        for source in ("_codec.pyx", "_codec.pxd", "_delivery.pyx", "_upgrade.pyx"):
            if (ROOT / "src/fastws" / source).exists():
                wanted.add(f"src/fastws/{source}")
        assert sorted(wanted - sdist_names) == []

    def test_tests_ship(self, sdist_names: set[str]) -> None:
        assert "tests/conftest.py" in sdist_names
        assert "tests/test_packaging.py" in sdist_names

    def test_no_build_products(self, sdist_names: set[str]) -> None:
        # Cython regenerates _codec.c, _delivery.c and _upgrade.c at build time; binaries never ship.
        assert "src/fastws/_codec.c" not in sdist_names
        assert "src/fastws/_delivery.c" not in sdist_names
        assert "src/fastws/_upgrade.c" not in sdist_names
        assert [n for n in sdist_names if n.endswith((".so", ".pyd", ".pyc"))] == []

    def test_metadata(self, sdist: Path) -> None:
        with tarfile.open(sdist) as tar:
            (member,) = [
                m for m in tar.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")
            ]
            extracted = tar.extractfile(member)
            assert extracted is not None
            pkg_info = extracted.read().decode()
        assert "Name: fastws" in pkg_info
        assert "License-Expression: BSD-3-Clause" in pkg_info
        assert "License-File: LICENSE" in pkg_info
        assert "Requires-Python: >=3.10" in pkg_info


@pytest.mark.slow
@pytest.mark.parametrize("flag", ["FASTWS_BUILD_EXTENSION=no", "FASTWS_NO_EXTENSIONS=1"])
def test_pure_wheel(tree_copy: Path, tmp_path: Path, flag: str) -> None:
    """Either switch at build time gives a pure wheel that still ships its types."""
    name, value = flag.split("=")
    wheel = _build(tree_copy, tmp_path, "wheel", **{name: value})
    assert wheel.name.endswith("-py3-none-any.whl"), wheel.name
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = zf.read(metadata).decode()
    assert {
        "fastws/py.typed",
        "fastws/_codec.pyi",
        "fastws/_codec_py.py",
        "fastws/codec.py",
        "fastws/_delivery_py.py",
    } <= names
    assert [n for n in names if n.endswith((".so", ".pyd", ".c", ".h", ".pyx", ".pxd"))] == []
    assert "License-Expression: BSD-3-Clause" in meta
    assert "Requires-Python: >=3.10" in meta


# -- the README --------------------------------------------------------------------


def test_readme_examples_run() -> None:
    """Every ```python block of the README runs, in order, against this twin."""
    readme = ROOT / "README.md"
    if not readme.is_file():
        pytest.skip("README.md is not next to the tests")
    text = readme.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) >= 3
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(readme), "exec"), namespace)


def test_readme_starts_with_the_two_commands() -> None:
    readme = ROOT / "README.md"
    if not readme.is_file():
        pytest.skip("README.md is not next to the tests")
    first_block = re.search(r"```sh\n(.*?)```", readme.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines() if line.strip()]
    assert len(commands) == 2
    assert "scripts/setup.sh" in commands[0]
    assert commands[1] == "bash scripts/test.sh"
    for script in ("scripts/setup.sh", "scripts/test.sh"):
        assert (ROOT / script).is_file()


def test_readme_never_installs_fastws_from_the_index() -> None:
    # The name fastws on PyPI belongs to an unrelated project: no command of
    # the README may install it by name, and the README says why.
    readme = ROOT / "README.md"
    if not readme.is_file():
        pytest.skip("README.md is not next to the tests")
    text = readme.read_text(encoding="utf-8")
    commands = "\n".join(re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL))
    assert "pip install ." in commands
    assert not re.search(r"pip install (-U |--upgrade )?['\"]?fastws\b", commands), commands
    assert "unrelated project" in text
