"""Opening handshakes: server CPU per short-lived connection.

Each server of ``bench/echo_servers.py`` (fastws, websockets, aiohttp,
picows; compression and keepalive off) runs in a process of its own; one
common raw-socket client opens many short-lived connections to it, a few at
a time: TCP connect, the upgrade request, the ``101`` response, a masked
close frame (1000), the server's close frame, the end of TCP. The figure is
the server's CPU time per connection in microseconds (from
``/proc/PID/schedstat``, as in ``echo_servers.py``), with the ratio to
fastws's in the same run. A second table gives the part of it spent in the
kernel (system time from ``/proc/PID/stat``, in clock ticks of 10 ms, so
within a few percent): the socket work that every server does.

Usage::

    python bench/handshakes.py                   # 3 runs, both loops, every server
    python bench/handshakes.py --quick           # 1 run, a few hundred connections each
    python bench/handshakes.py --impls fastws websockets --loops asyncio
    python bench/handshakes.py --impls fastws python-floor websockets   # with the Python floor
    python bench/handshakes.py --impls fastws python-floor-task         # the floor with a task per connection
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from typing import Any

# The floors (columns on request): bench/echo_floor.py without and with a task per connection.
from echo_floor import FLOOR, FLOORS, TASK_FLOOR
from echo_floor import server_arguments as floor_arguments
from echo_servers import GC_NOTE, LOOPS, available, cpu_times_s, server_cpu_ns, start_server, stop_process

__all__ = ["IMPLS", "main", "measure"]

# "fastws-callback" is served by a plain-function handler: no task per connection, as picows.
IMPLS = ("fastws", "fastws-callback", "websockets", "aiohttp", "picows")

REQUEST = (
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"User-Agent: bench/handshakes.py\r\n\r\n"
)
# A masked close frame with code 1000 (key 0x01020304).
_KEY = b"\x01\x02\x03\x04"
CLOSE = b"\x88\x82" + _KEY + bytes(b ^ _KEY[i % 4] for i, b in enumerate(b"\x03\xe8"))


async def _one(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(REQUEST)
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"not upgraded: {head[:80]!r}")
        writer.write(CLOSE)
        # The server's close frame, then the end of the connection.
        rest = await reader.read()
        if rest[:1] != b"\x88":
            raise RuntimeError(f"no close frame: {rest[:16]!r}")
    finally:
        writer.close()


async def _run(
    port: int, pid: int, total: int, parallel: int, budget: float
) -> tuple[int, float, float, float]:
    for _ in range(20):  # warm-up
        await _one(port)
    done = 0
    deadline = time.perf_counter() + budget

    async def worker() -> None:
        nonlocal done
        while done < total and time.perf_counter() < deadline:
            done += 1
            await asyncio.wait_for(_one(port), 10)

    cpu0, sys0, t0 = server_cpu_ns(pid), cpu_times_s(pid)[1], time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(parallel)))
    t1 = time.perf_counter()
    await asyncio.sleep(0.2)  # the server's last connection_lost callbacks
    cpu1, sys1 = server_cpu_ns(pid), cpu_times_s(pid)[1]
    return done, t1 - t0, (cpu1 - cpu0) / 1e9, sys1 - sys0


def measure(impl: str, loop: str, total: int, parallel: int, budget: float) -> dict[str, Any]:
    """Start ``impl``'s server on ``loop``, open ``total`` connections to it, stop it."""
    if impl in FLOORS:
        command = [sys.executable, *floor_arguments(loop, task=impl == TASK_FLOOR)]
    else:
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "echo_servers.py")
        command = [sys.executable, script, "server", impl, loop]
    process, port = start_server(command, f"{impl} server on {loop}")
    try:
        count, seconds, cpu, system = asyncio.run(
            asyncio.wait_for(_run(port, process.pid, total, parallel, budget), budget + 60)
        )
    finally:
        stop_process(process)
    return {
        "impl": impl,
        "loop": loop,
        "connections": count,
        "per_s": round(count / seconds) if seconds else 0,
        "server_cpu_us": round(cpu * 1e6 / count, 1) if count else 0.0,
        "kernel_us": round(system * 1e6 / count, 1) if count else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table of server CPU per connection."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run of 300 connections per cell")
    parser.add_argument(
        "--impls",
        nargs="+",
        default=list(IMPLS),
        choices=(*IMPLS, *FLOORS),
        help=(
            f"default: {', '.join(IMPLS)}; {FLOOR}: bench/echo_floor.py, the least a Python server does; "
            f"{TASK_FLOOR}: the same with a task per connection, as a coroutine handler"
        ),
    )
    parser.add_argument("--loops", nargs="+", default=list(LOOPS), choices=LOOPS)
    parser.add_argument("--runs", type=int, default=None, help="runs per cell (median; default 3)")
    parser.add_argument("--connections", type=int, default=None, help="connections per run (default 3,000)")
    parser.add_argument("--parallel", type=int, default=4, help="connections open at once")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    total = args.connections or (300 if args.quick else 3_000)
    budget = 5.0 if args.quick else 20.0
    impls = [i for i in args.impls if i in FLOORS or available(i)]
    loops = [lp for lp in args.loops if lp != "uvloop" or available("uvloop")]
    cells: dict[tuple[str, str], list[dict[str, Any]]] = {}
    # Runs interleaved across the servers, so that a disturbance of the
    # shared machine spreads over every row.
    for _ in range(runs):
        for loop in loops:
            for impl in impls:
                print(f"... {impl} on {loop}", file=sys.stderr, flush=True)
                cells.setdefault((loop, impl), []).append(measure(impl, loop, total, args.parallel, budget))
    results = []
    for (loop, impl), samples in cells.items():
        cpu = statistics.median(s["server_cpu_us"] for s in samples)
        rate = statistics.median(s["per_s"] for s in samples)
        kernel = statistics.median(s["kernel_us"] for s in samples)
        results.append(
            {
                "loop": loop,
                "impl": impl,
                "server_cpu_us": cpu,
                "kernel_us": kernel,
                "per_s": rate,
                "runs": len(samples),
            }
        )
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    what = f"per connection (connect, upgrade, close), us; median of {runs} run(s); ratio to fastws"
    _table(f"server CPU {what}; {GC_NOTE}", "server_cpu_us", results, impls, loops)
    _table(f"of it, in the kernel (system time) {what}", "kernel_us", results, impls, loops)
    return 0


def _table(title: str, key: str, results: list[dict[str, Any]], impls: list[str], loops: list[str]) -> None:
    print(title)
    print("| loop | " + " | ".join(impls) + " |")
    print("|---|" + "---|" * len(impls))
    for loop in loops:
        row = {r["impl"]: r for r in results if r["loop"] == loop}
        base = row["fastws"][key] if "fastws" in row else None
        cells_text = []
        for impl in impls:
            value = row[impl][key]
            ratio = f" ({value / base:.2f}x)" if base and impl != "fastws" else ""
            cells_text.append(f"{value:.1f}{ratio}")
        print(f"| {loop} | " + " | ".join(cells_text) + " |")


if __name__ == "__main__":
    sys.exit(main())
