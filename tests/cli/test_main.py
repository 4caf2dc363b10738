"""The ``fastws`` command itself: its subcommands, its help, its entry points."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys

import pytest

import fastws
import fastws.__main__
from fastws.cli import SUBCOMMANDS, build_parser
from fastws.version import __version__


def run(*args: str, module: str = "fastws") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=60, check=False
    )


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def options(parser: argparse.ArgumentParser) -> list[str]:
    """The long options of a parser and of its own subparsers, --help excepted."""
    found = [
        string
        for action in parser._actions
        for string in action.option_strings
        if string.startswith("--") and string != "--help"
    ]
    for sub in subparsers(parser).values():
        found += options(sub)
    return found


class TestParser:
    def test_every_subcommand_is_registered(self) -> None:
        assert (
            list(subparsers(build_parser()))
            == list(SUBCOMMANDS)
            == ["serve", "connect", "bench", "integrations"]
        )

    def test_main_docstring_lists_every_subcommand_and_option(self) -> None:
        doc = fastws.__main__.__doc__
        assert doc is not None
        for name, parser in subparsers(build_parser()).items():
            assert f"``fastws {name}" in doc, name
            for option in options(parser):
                assert re.search(re.escape(option) + r"\b", doc), (
                    f"fastws {name} {option} is not in the docstring"
                )
        for action in ("status", "run"):
            assert f"``fastws integrations {action}" in doc

    def test_help_loads_no_asyncio(self) -> None:
        code = (
            "import sys; from fastws.cli import build_parser; build_parser(); print('asyncio' in sys.modules)"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert result.stdout.strip() == "False", result.stderr


class TestCommand:
    def test_version(self) -> None:
        # The version, the codec twin of this pass and, compiled, the SIMD
        # kernels the twin reports for this CPU.
        result = run("--version")
        assert result.returncode == 0, result.stderr
        line = result.stdout.strip()
        if fastws.implementation == "cython":
            match = re.fullmatch(
                rf"fastws {re.escape(__version__)} \(codec: compiled, SIMD: mask (\w+), utf8 (\w+)\)", line
            )
            assert match, line
            assert match.group(1) in ("generic", "sse2", "neon", "avx2", "avx512")
            assert match.group(2) in ("generic", "sse2", "neon", "avx2", "avx512")
        else:
            assert line == f"fastws {__version__} (codec: pure, SIMD: none)"

    @pytest.mark.c_extension
    def test_version_names_the_forced_simd_level(self) -> None:
        env = {**os.environ, "FASTWS_SIMD": "generic", "FASTWS_REQUIRE_EXTENSIONS": "1"}
        env.pop("FASTWS_NO_EXTENSIONS", None)
        result = subprocess.run(
            [sys.executable, "-m", "fastws", "--version"], capture_output=True, text=True, timeout=60, env=env
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == (
            f"fastws {__version__} (codec: compiled, SIMD: mask generic, utf8 generic)"
        )

    def test_version_does_not_import_asyncio(self) -> None:
        code = (
            "import sys, contextlib, io\n"
            "from fastws.cli import main\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['--version'])\n"
            "print('asyncio' in sys.modules)"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert result.stdout.strip() == "False", result.stderr

    def test_no_subcommand_prints_help(self) -> None:
        result = run()
        assert result.returncode == 2
        for name in SUBCOMMANDS:
            assert name in result.stdout

    def test_unknown_subcommand(self) -> None:
        result = run("nonsense")
        assert result.returncode == 2
        assert "invalid choice: 'nonsense'" in result.stderr

    def test_integrations_subcommand_and_module_agree(self) -> None:
        ours, module = (
            run("integrations", "status", "--json"),
            run("status", "--json", module="fastws.integrations"),
        )
        assert ours.returncode == module.returncode == 0, ours.stderr + module.stderr
        rows = json.loads(ours.stdout)
        assert rows == json.loads(module.stdout)
        assert {row["name"] for row in rows} == {"websockets", "wsproto", "aiohttp", "tornado"}


class TestDeprecatedAsyncioCli:
    def test_old_names_warn_and_point_to_fastws_cli(self) -> None:
        import fastws.asyncio.cli
        import fastws.cli.connect
        import fastws.cli.serve

        with pytest.warns(DeprecationWarning, match="use fastws.cli.serve.run"):
            assert fastws.asyncio.cli.run_serve is fastws.cli.serve.run
        with pytest.warns(DeprecationWarning, match="use fastws.cli.connect.configure"):
            assert fastws.asyncio.cli.configure_connect is fastws.cli.connect.configure
        with pytest.raises(AttributeError):
            fastws.asyncio.cli.SUBCOMMANDS  # noqa: B018

    def test_old_module_still_runs_the_command(self) -> None:
        result = subprocess.run(
            [sys.executable, "-W", "always::DeprecationWarning", "-m", "fastws.asyncio.cli", "serve"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2
        assert "give module:handler" in result.stderr
        assert "fastws.asyncio.cli.main is deprecated" in result.stderr
