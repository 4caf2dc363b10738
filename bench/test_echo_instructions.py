"""``bench/echo_instructions.py`` counts what it says: one server under
callgrind, a small N, a count in the range one echo can cost.

A 32-byte round trip costs fastws' callback server some tens of thousands
of instructions (about 31,000 on asyncio with CPython 3.11); a harness that
mixed in the server's start-up, or lost the messages, would give a figure
far outside the bounds below (negative, or millions).
"""

from __future__ import annotations

import shutil

import pytest

import echo_instructions

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")


@pytest.mark.timeout(170)
def test_one_round_trip_costs_tens_of_thousands_of_instructions() -> None:
    per_message = echo_instructions.count("fastws-callback", "asyncio", 32, 200, "roundtrip")
    assert 5_000 < per_message < 500_000


@pytest.mark.timeout(170)
def test_python_floor_costs_less_than_a_python_websocket_server(monkeypatch: pytest.MonkeyPatch) -> None:
    # bench/echo_floor.py only unmasks and echoes in Python: it must answer
    # every message (or the count would hang) and cost less than fastws'
    # callback server in its pure twin, which also validates, parses and
    # keeps the protocol's state in Python. (The compiled twin's server
    # costs about as much as this floor, or less.)
    floor = echo_instructions.count("python-floor", "asyncio", 32, 200, "roundtrip")
    # The server process inherits the environment: the pure twin.
    monkeypatch.delenv("FASTWS_REQUIRE_EXTENSIONS", raising=False)
    monkeypatch.setenv("FASTWS_NO_EXTENSIONS", "1")
    server = echo_instructions.count("fastws-callback", "asyncio", 32, 200, "roundtrip")
    assert 1_000 < floor < server


@pytest.mark.timeout(170)
def test_task_floor_adds_a_task_wake_up_to_the_floor() -> None:
    # The task floor does the floor's work and hands each message to a
    # task through a future (about 26,000 more instructions per round trip
    # on asyncio): it must answer every message, and cost more than the
    # floor by that wake-up, not by a multiple.
    floor = echo_instructions.count("python-floor", "asyncio", 32, 200, "roundtrip")
    task = echo_instructions.count("python-floor-task", "asyncio", 32, 200, "roundtrip")
    assert floor + 5_000 < task < 4 * floor


@pytest.mark.timeout(170)
def test_compressed_round_trip_costs_more_than_zlib_alone() -> None:
    # The floor is zlib's own work for one round trip (one inflate, one
    # deflate of 1 KiB of JSON at level 6): about 150,000 instructions. A
    # server that echoes the same messages through permessage-deflate does
    # that and more; a floor that counted both ends, or none, would fall
    # outside these bounds.
    floor = echo_instructions.count("zlib", "asyncio", 1024, 50, "compressed")
    assert 20_000 < floor < 1_000_000
    server = echo_instructions.count("fastws", "asyncio", 1024, 50, "compressed")
    assert floor < server < 10 * floor
