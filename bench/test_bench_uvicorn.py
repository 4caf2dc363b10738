"""The uvicorn echo benchmark (bench/uvicorn_echo.py) as pytest-benchmark cases.

One case per WebSocket engine under uvicorn (fastws's class, uvicorn's
websockets-sansio and wsproto classes), on asyncio with h11, in quick mode:
32 B messages, a few hundred round trips and a short burst. The server CPU
time per echoed message is attached as ``extra_info``; the full table with
the ratios comes from ``python bench/uvicorn_echo.py``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import uvicorn_echo
from echo_servers import Result, available


@pytest.mark.parametrize("engine", uvicorn_echo.ENGINES)
def test_uvicorn_echo(benchmark: Any, engine: str) -> None:
    for module in ("uvicorn", "starlette", "h11", engine.split("-")[0]):
        if not available(module):
            pytest.skip(f"{module} is not installed")
    benchmark.group = "uvicorn echo 32 B on asyncio-h11"
    results: list[Result] = benchmark.pedantic(
        uvicorn_echo.measure,
        args=(engine, "asyncio-h11", (32,)),
        kwargs={"roundtrips": 100, "burst_total": 1000, "budget": 0.5},
        rounds=1,
        iterations=1,
    )
    assert {r.mode for r in results} == {"roundtrip", "burst"}
    for result in results:
        assert result.messages > 0 and result.seconds > 0 and result.server_cpu_s > 0
        benchmark.extra_info[f"{result.mode} server us/msg"] = round(result.cpu_us_per_message, 2)


def test_table_has_ratios() -> None:
    results = [
        Result("fastws", "asyncio-h11", 32, "burst", 1000, 0.5, 0.004),
        Result("websockets-sansio", "asyncio-h11", 32, "burst", 1000, 0.5, 0.008),
        Result("wsproto", "asyncio-h11", 32, "burst", 1000, 0.5, 0.016),
    ]
    table = uvicorn_echo.format_table(results)
    assert "| asyncio-h11 | 32 B | burst | 4.0 | 8.0 | 16.0 | 0.50x | 0.25x |" in table


def test_median_of_runs() -> None:
    runs = [Result("fastws", "asyncio-h11", 32, "burst", 1000, 0.5, cpu) for cpu in (0.009, 0.001, 0.004)]
    (median,) = uvicorn_echo.median_results(runs)
    assert median.server_cpu_s == 0.004
