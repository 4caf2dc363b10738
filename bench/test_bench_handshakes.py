"""The opening-handshake benchmark (bench/handshakes.py) as pytest-benchmark cases.

One case per server implementation, and per Python floor of
``bench/echo_floor.py`` (with and without a task per connection), on
asyncio and on uvloop, with 100 short-lived connections each; the server
CPU per connection is attached as ``extra_info``. The full table comes from ``python bench/handshakes.py``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import echo_servers
import handshakes


@pytest.mark.parametrize("loop", echo_servers.LOOPS)
@pytest.mark.parametrize("impl", [*handshakes.IMPLS, *handshakes.FLOORS])
def test_handshakes(benchmark: Any, impl: str, loop: str) -> None:
    if impl not in handshakes.FLOORS and not echo_servers.available(impl):
        pytest.skip(f"{impl} is not installed")
    if not echo_servers.available(loop):
        pytest.skip(f"{loop} is not installed")
    benchmark.group = f"opening handshakes on {loop}"
    result: dict[str, Any] = benchmark.pedantic(
        handshakes.measure, args=(impl, loop, 100, 4, 5.0), rounds=1, iterations=1
    )
    # Every connection went through upgrade and close (each one checked).
    assert result["connections"] == 100
    assert result["server_cpu_us"] > 0
    # System time is counted in 10 ms ticks: 100 connections may show none.
    assert result["kernel_us"] >= 0
    benchmark.extra_info["server us/connection"] = result["server_cpu_us"]
    benchmark.extra_info["of it in the kernel"] = result["kernel_us"]
    benchmark.extra_info["connections/s"] = result["per_s"]
