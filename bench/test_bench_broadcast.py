"""The broadcast fan-out benchmark (bench/broadcast.py), tiny, as pytest cases.

A few dozen connections and one round per compression setting, and a short
cross-process run through a real redis-server: enough to prove that every
method delivers the right message to every client and that the script's
machinery works, in a few seconds. The figures come from
``python bench/broadcast.py``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import broadcast
from redis_server import redis_or_skip

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only (SO_TIMESTAMPNS)")


@pytest.mark.parametrize("compression", broadcast.COMPRESSIONS)
def test_fanout(benchmark: Any, compression: str) -> None:
    benchmark.group = f"broadcast to 40 connections, compression {compression}"
    samples: list[broadcast.Sample] = benchmark.pedantic(
        broadcast.measure_fanout,
        args=(40, compression),
        kwargs={"sizes": (64, 4096), "rounds": 1, "clients": 1},
        rounds=1,
        iterations=1,
    )
    methods = {s.method for s in samples}
    expected = set(broadcast.METHODS) - ({"floor"} if compression == "context" else set())
    assert methods == expected
    assert len(samples) == 2 * len(expected)
    for sample in samples:
        # Arrival times are kernel receive times after the server's start.
        assert 0 < sample.median_ms <= sample.latest_ms
        assert sample.cpu_ms > 0
    for cell in broadcast.summarize(samples):
        if cell.method == "fastws-broadcast":
            benchmark.extra_info[f"{cell.size} B latest ms"] = cell.latest_ms
            benchmark.extra_info[f"{cell.size} B speed-up vs websockets.broadcast"] = cell.latest_speedup


def test_pubsub(benchmark: Any) -> None:
    redis_or_skip()
    benchmark.group = "broadcast across 2 workers and Redis"
    result: broadcast.PubSubResult = benchmark.pedantic(
        broadcast.measure_pubsub, args=(20, 100), kwargs={"clients": 1}, rounds=1, iterations=1
    )
    assert result.lost == 0
    assert result.delivered == 20 * 100
    assert sum(result.per_worker) == 20
    benchmark.extra_info["deliveries/s"] = round(result.deliveries_per_s)


def test_message_sizes() -> None:
    for size in (32, 64, 4096):
        message = broadcast.make_message(size, 12)
        assert len(message.encode()) == size
        assert message.startswith('{"seq":00000012,')


def test_summary_and_table() -> None:
    samples = [
        broadcast.Sample(method, 10, 64, "none", r, latest, latest / 2, latest)
        for r in range(3)
        for method, latest in (("floor", 1.0), ("fastws-broadcast", 1.2), ("websockets-broadcast", 2.4))
    ]
    cells = {c.method: c for c in broadcast.summarize(samples)}
    assert cells["fastws-broadcast"].latest_vs_floor == 1.2
    assert cells["fastws-broadcast"].latest_speedup == 2.0
    assert cells["floor"].latest_speedup == 2.4
    table = broadcast.format_table(list(cells.values()))
    assert (
        "| none | 10 | 64 B | fastws-broadcast | 1.20 | 0.60 | 1.20 | 1.20x | 1.20x | 2.00x; 2.00x |" in table
    )
    assert broadcast.targets(list(cells.values())) == [
        "met     none, 10 connections, 64 B: latest arrival 1.20x the floor (<= 1.3x)",
        "met     none, 10 connections, 64 B: 2.00x websockets.broadcast (> 1x)",
    ]
