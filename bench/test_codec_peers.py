"""``python bench/codec_peers.py``: the comparison runs and prints tables a person can read.

A small selection (the mask groups at two sizes, ``--quick``) keeps this to a
few seconds; CI runs it with the rest of ``bench/`` (``pytest bench
--benchmark-disable``). The subprocess inherits the environment, so with
``FASTWS_NO_EXTENSIONS=1`` the compiled twin must show as left out and the
pure twin still be measured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from fastws import codec

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "codec_peers.py")

COLUMNS = ("implementation", "throughput (GB/s)", "ns/call", "vs memcpy", "vs best peer")


class Run:
    def __init__(self, proc: subprocess.CompletedProcess[str], report: dict[str, Any]) -> None:
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.report = report


def _script(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, SCRIPT, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ),
        check=False,
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    path = tmp_path_factory.mktemp("bench") / "results.json"
    proc = _script("--quick", "--only", "mask", "--sizes", "8,1K", "--json", str(path))
    report = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    return Run(proc, report)


def _table(stdout: str, title: str) -> list[str]:
    """The lines of the table whose title line starts with ``title``."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title + "  ("))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


def _row(table: list[str], impl: str) -> list[str]:
    return next(line.split() for line in table if line.split()[:1] == [impl])


class TestCodecPeers:
    def test_exits_cleanly(self, run: Run) -> None:
        assert run.returncode == 0, run.stderr

    def test_one_table_per_case_with_the_columns(self, run: Run) -> None:
        for title in (
            "apply_mask 8 B",
            "apply_mask 1 KiB",
            "apply_mask_inplace 8 B",
            "apply_mask_inplace 1 KiB",
        ):
            table = _table(run.stdout, title)
            header = table[1]
            positions = [header.find(column) for column in COLUMNS]
            assert -1 not in positions, header
            assert positions == sorted(positions), header

    def test_rows_hold_numbers_and_ratios(self, run: Run) -> None:
        table = _table(run.stdout, "apply_mask 1 KiB")
        memcpy = _row(table, "memcpy")
        # implementation, throughput, ns/call, vs memcpy, vs best peer
        assert float(memcpy[1].replace(",", "")) > 0
        assert float(memcpy[2].replace(",", "")) > 0
        assert memcpy[3] == "1.00x"  # the reference against itself
        pure = _row(table, "fastws-python")
        assert pure[3].endswith("x") and float(pure[3][:-1]) > 0
        assert pure[4].endswith("x") and float(pure[4][:-1]) > 0

    def test_shows_which_twin_runs(self, run: Run) -> None:
        assert f"active twin: {codec.IMPLEMENTATION}" in run.stdout
        table = _table(run.stdout, "apply_mask 8 B")
        if codec.IMPLEMENTATION == "cython":
            assert float(_row(table, "fastws-cython")[2].replace(",", "")) > 0
        else:
            assert "fastws-cython: skipped" in "\n".join(table)

    def test_progress_goes_to_stderr(self, run: Run) -> None:
        assert "[1/" in run.stderr
        assert "apply_mask 8 B memcpy" in run.stderr
        assert "[1/" not in run.stdout

    def test_json_report(self, run: Run) -> None:
        results = run.report["results"]
        assert {r["case"] for r in results} == {
            "apply_mask 8 B",
            "apply_mask 1 KiB",
            "apply_mask_inplace 8 B",
            "apply_mask_inplace 1 KiB",
        }
        memcpy = [r for r in results if r["impl"] == "memcpy"]
        assert len(memcpy) == 4
        assert all(r["vs_memcpy"] == pytest.approx(1.0) for r in memcpy)
        pure = [r for r in results if r["impl"] == "fastws-python"]
        assert len(pure) == 4 and all(r["ns_per_call"] > 0 for r in pure)
        assert run.report["environment"]["active_twin"] == codec.IMPLEMENTATION


class TestArguments:
    def test_unknown_group_is_refused(self) -> None:
        proc = _script("--only", "nonsense", timeout=60)
        assert proc.returncode != 0
        assert "--only" in proc.stderr
