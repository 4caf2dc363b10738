"""``fastws bench``: the installed twins against a plain copy, one table, run as a real process.

The subprocess inherits the environment, so in the suite's two passes it
runs once on each twin: with ``FASTWS_NO_EXTENSIONS=1`` the compiled twin
must show as left out and the pure twin still be measured.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any, NamedTuple

import pytest

from fastws import codec
from fastws.cli import bench
from fastws.cli.timing import parse_size


class Run(NamedTuple):
    """One ``fastws bench --quick --json`` run: the process, its JSON report, its duration."""

    proc: subprocess.CompletedProcess[str]
    report: dict[str, Any]
    seconds: float


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    path = tmp_path_factory.mktemp("bench") / "results.json"
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "fastws", "bench", "--quick", "--json", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    seconds = time.monotonic() - start
    return Run(proc, json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}, seconds)


def cells(stdout: str) -> dict[str, list[str]]:
    """Case title -> [unit, compiled, pure, copy, compiled vs copy, pure vs compiled]."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["case", "unit"])
    unit_at = lines[start].index("unit")
    rows: dict[str, list[str]] = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        rest = line[unit_at:]
        unit = "M frames/s" if rest.startswith("M frames/s") else rest.split()[0]
        rows[line[:unit_at].strip()] = [unit, *rest[len(unit) :].split()]
    return rows


class TestBenchCommand:
    def test_exits_cleanly_within_30_seconds(self, run: Run) -> None:
        assert run.proc.returncode == 0, run.proc.stderr
        assert run.seconds < 30

    def test_one_row_per_case_with_the_columns(self, run: Run) -> None:
        header = next(line for line in run.proc.stdout.splitlines() if line.split()[:2] == ["case", "unit"])
        positions = [header.find(column) for column in bench.COLUMNS]
        assert -1 not in positions, header
        assert positions == sorted(positions), header
        assert list(cells(run.proc.stdout)) == [case.title for case in bench.plan(quick=True)]

    def test_rows_hold_speeds_and_ratios(self, run: Run) -> None:
        rows = cells(run.proc.stdout)
        unit, compiled, pure, copy, compiled_vs_copy, pure_vs_compiled = rows["apply_mask 64 KiB"]
        assert unit == "GB/s"
        assert float(copy.replace(",", "")) > 0
        assert float(pure.replace(",", "")) > 0
        if codec.IMPLEMENTATION == "cython":
            assert float(compiled.replace(",", "")) > 0
            assert compiled_vs_copy.endswith("x") and float(compiled_vs_copy[:-1]) > 0
            assert pure_vs_compiled.endswith("x") and float(pure_vs_compiled[:-1]) > 0
        else:
            assert (compiled, compiled_vs_copy, pure_vs_compiled) == ("-", "-", "-")
        assert rows["parse 10,000 x 125 B masked frames, 64 KiB chunks"][0] == "M frames/s"

    def test_shows_which_twin_runs(self, run: Run) -> None:
        assert f"import fastws uses the {codec.IMPLEMENTATION} twin" in run.proc.stdout
        if codec.IMPLEMENTATION == "python":
            assert "compiled twin: left out: FASTWS_NO_EXTENSIONS" in run.proc.stdout

    def test_progress_goes_to_stderr(self, run: Run) -> None:
        total = 3 * len(bench.plan(quick=True))
        assert f"[1/{total}] apply_mask 8 B: compiled twin" in run.proc.stderr
        assert f"[{total}/{total}] " in run.proc.stderr
        assert "[1/" not in run.proc.stdout

    def test_json_report(self, run: Run) -> None:
        results = run.report["results"]
        titles = [case.title for case in bench.plan(quick=True)]
        assert [r["case"] for r in results if r["impl"] == "copy"] == titles
        copies = [r for r in results if r["impl"] == "copy"]
        assert all(r["vs_copy"] == pytest.approx(1.0) for r in copies)
        pure = [r for r in results if r["impl"] == "pure"]
        assert len(pure) == len(titles) and all(r["ns_per_call"] > 0 for r in pure)
        compiled = [r["ns_per_call"] for r in results if r["impl"] == "compiled"]
        if codec.IMPLEMENTATION == "cython":
            assert all(ns > 0 for ns in compiled)
        else:
            assert compiled == [None] * len(titles)
        assert run.report["environment"]["active_twin"] == codec.IMPLEMENTATION
        assert run.report["quick"] is True


class TestWrongTwin:
    def test_a_wrong_result_is_an_error_row_and_status_1(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # A twin whose apply_mask returns the input unmasked: the check before
        # timing must catch it, whatever its speed.
        import argparse
        import io
        import types

        pure = codec.load_twins()["python"]
        assert isinstance(pure, types.ModuleType)
        broken = types.ModuleType("broken")
        broken.__dict__.update(vars(pure))
        broken.apply_mask = lambda data, mask, offset=0: bytes(data)
        monkeypatch.setattr(
            codec, "load_twins", lambda: {"cython": "left out for this test", "python": broken}
        )
        monkeypatch.setattr(bench, "plan", lambda quick: [bench.timing.mask_case(8)])
        out, err = io.StringIO(), io.StringIO()
        status = bench.run(argparse.Namespace(quick=True, json=None, no_gc=False), out, err)
        assert status == 1
        assert (
            "apply_mask 8 B: pure: error: AssertionError: the pure twin gave a wrong result" in out.getvalue()
        )


class TestSizes:
    @pytest.mark.parametrize(
        ("text", "size"),
        [("8", 8), ("125B", 125), ("1K", 1024), ("64KiB", 65536), ("1M", 1048576), ("16 MiB", 16777216)],
    )
    def test_sizes(self, text: str, size: int) -> None:
        assert parse_size(text) == size

    def test_bad_size(self) -> None:
        with pytest.raises(ValueError, match="not a size"):
            parse_size("lots")


def test_command_needs_neither_pytest_nor_asyncio() -> None:
    # The command must run where only fastws is installed, and timing the
    # codec has no business loading the asyncio layer.
    code = (
        "import sys\n"
        "sys.modules['pytest'] = sys.modules['pytest_benchmark'] = None\n"
        "from fastws.cli import build_parser, timing\n"
        "from fastws.codec import load_twins\n"
        "build_parser()\n"
        "timing.check(timing.twin_op(load_twins()['python'], timing.mask_case(8)), 'pure')\n"
        "print('asyncio' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
