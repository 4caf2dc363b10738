"""The end-to-end echo benchmark (bench/echo_servers.py) as pytest-benchmark cases.

One case per server implementation, on asyncio and on uvloop, in quick mode
(32 B messages, a few hundred round trips and a short burst); the server CPU
time per echoed message is attached as ``extra_info``. The full table comes
from ``python bench/echo_servers.py``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import echo_servers


@pytest.mark.parametrize("loop", echo_servers.LOOPS)
@pytest.mark.parametrize("impl", echo_servers.IMPLS)
def test_echo(benchmark: Any, impl: str, loop: str) -> None:
    if not echo_servers.available(impl):
        pytest.skip(f"{impl} is not installed")
    if not echo_servers.available(loop):
        pytest.skip(f"{loop} is not installed")
    benchmark.group = f"echo 32 B on {loop}"
    results: list[echo_servers.Result] = benchmark.pedantic(
        echo_servers.measure,
        args=(impl, loop, (32,)),
        kwargs={"roundtrips": 300, "burst_total": 3000, "budget": 2.0},
        rounds=1,
        iterations=1,
    )
    assert {r.mode for r in results} == {"roundtrip", "burst"}
    for result in results:
        assert result.messages > 0 and result.seconds > 0
        benchmark.extra_info[f"{result.mode} server us/msg"] = round(result.cpu_us_per_message, 2)
        benchmark.extra_info[f"{result.mode} msg/s"] = round(result.rate)


def test_table_format() -> None:
    results = [
        echo_servers.Result("fastws", "asyncio", 32, "burst", 1000, 0.5, 0.004),
        echo_servers.Result("picows", "asyncio", 32, "burst", 1000, 0.25, 0.005),
    ]
    table = echo_servers.format_table(results)
    assert "| asyncio | 32 B | burst | 4.00 (2,000) | 5.00 (4,000) |" in table
