"""pytest-benchmark setup for the codec suites in ``bench/``.

Run with ``python -m pytest bench/ --benchmark-only`` (``bench/`` is not in
the default test run). Each case is one pytest-benchmark group, named like
the tables of ``python bench/codec_peers.py`` (``apply_mask 64 KiB``), with one
row per implementation; throughput goes to ``extra_info`` (``GB/s``, and
``frames_per_s`` where frames are counted) and into ``--benchmark-json``.

Every row is timed the same way: calls are batched so that one round lasts
about a millisecond (pytest-benchmark's own calibration sometimes settles on
one call per round for sub-microsecond functions, which adds the timer's
cost to some rows and not to others), then rounds are repeated for about
``--benchmark-max-time`` seconds (default 1.0).

The garbage collector stays on while timing, as in applications, unless
``--benchmark-disable-gc`` is given; the report header and every row's
``extra_info["gc"]`` say which.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from fastws.cli.timing import Case, calibrate, environment
from fastws.codec import load_twins
from peers import PEER_DISTRIBUTIONS, Impl, Unavailable, prepare

__all__ = ["bench", "twins"]

#: Length of one round (a batch of calls), in nanoseconds.
ROUND_NS = 1_000_000


def pytest_report_header(config: pytest.Config) -> list[str]:
    env = environment(load_twins(), PEER_DISTRIBUTIONS)
    simd = f", SIMD: {env['simd']}" if env["simd"] else ""
    return [
        f"fastws codec: active twin {env['active_twin']}, compiled twin {env['compiled_twin']}{simd}",
        f"CPU: {env['cpu']}",
        f"garbage collector while timing: {_gc_state(config)}"
        + (" (--benchmark-disable-gc)" if _gc_state(config) == "off" else ", as in applications"),
    ]


def _gc_state(config: pytest.Config) -> str:
    """Whether pytest-benchmark leaves the collector on while timing ("on"/"off")."""
    try:
        disabled = config.getoption("benchmark_disable_gc")
    except ValueError:  # pytest-benchmark absent
        disabled = False
    return "off" if disabled else "on"


@pytest.fixture(autouse=True)
def _label_gc(request: pytest.FixtureRequest) -> None:
    """Every benchmark row says whether the collector ran (``extra_info["gc"]``)."""
    if "benchmark" in request.fixturenames:
        request.getfixturevalue("benchmark").extra_info["gc"] = _gc_state(request.config)


@pytest.fixture(scope="session")
def twins() -> dict[str, ModuleType | str]:
    """Both codec twins, imported directly (module, or why it is absent)."""
    return load_twins()


def _max_time(config: pytest.Config) -> float:
    try:
        return float(config.getoption("benchmark_max_time"))
    except (ValueError, TypeError):
        return 1.0


@pytest.fixture
def bench(
    benchmark: Any, twins: dict[str, ModuleType | str], request: pytest.FixtureRequest
) -> Callable[[Case, Impl], None]:
    """Time ``impl`` on ``case``: skip it if it cannot run here, fail if its result is wrong."""

    def run(case: Case, impl: Impl) -> None:
        try:
            op = prepare(case, impl, twins)
        except Unavailable as exc:
            pytest.skip(str(exc))
        benchmark.group = case.title
        benchmark.extra_info.update(
            implementation=impl.name,
            bytes_per_call=case.nbytes,
            frames_per_call=case.frames or None,
        )
        iterations, per_call_ns = calibrate(op, ROUND_NS)
        budget_ns = _max_time(request.config) * 1e9
        rounds = int(min(1000, max(5, budget_ns / (iterations * per_call_ns))))
        benchmark.pedantic(op.fn, args=op.args, iterations=iterations, rounds=rounds, warmup_rounds=1)
        stats = getattr(benchmark, "stats", None)
        if stats is None:  # --benchmark-disable: the function ran, untimed
            return
        best = stats.stats.min  # seconds per call
        if best > 0:
            benchmark.extra_info["GB/s"] = round(case.nbytes / best / 1e9, 4)
            if case.frames:
                benchmark.extra_info["frames_per_s"] = round(case.frames / best)

    return run
