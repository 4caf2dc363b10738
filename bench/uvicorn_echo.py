"""Echo under uvicorn: fastws's WebSocket class against uvicorn's own two.

Usage::

    python bench/uvicorn_echo.py                  # full table, with ratios
    python bench/uvicorn_echo.py --quick          # a few seconds per cell
    python bench/uvicorn_echo.py --repeat 3       # each cell the median of 3 interleaved runs
    python bench/uvicorn_echo.py --stacks asyncio-h11 --sizes 32
    python bench/uvicorn_echo.py server fastws uvloop-httptools   # just run one server

The same Starlette application (an ``iter_bytes`` / ``send_bytes`` echo
endpoint) runs under a real uvicorn server, in a process of its own, with
``ws=`` each of

* ``fastws``: ``fastws.integrations.uvicorn:WebSocketProtocol``;
* ``websockets-sansio``: uvicorn's default class (websockets' sans-IO protocol);
* ``wsproto``: uvicorn's class on wsproto;

on two stacks: ``asyncio-h11`` (the pure-Python install) and
``uvloop-httptools`` (``uvicorn[standard]``). Compression and keepalive are
off. The common client and the measurement are ``bench/echo_servers.py``'s:
round trips and pipelined bursts of 32 B, 1 KiB and 64 KiB binary messages,
and the server's CPU time per echoed message from ``/proc/PID/schedstat``.
The table gives each engine's microseconds per message and fastws's ratio
to the other two (below 1: fastws spends less CPU per message). Round trips
on a small machine are noisy (a wake-up costs more than the message); use
``--repeat``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from echo_servers import GC_NOTE, Result, available, measure_server

__all__ = ["ENGINES", "SIZES", "STACKS", "format_table", "main", "measure", "median_results", "run_server"]

ENGINES = ("fastws", "websockets-sansio", "wsproto")
STACKS = ("asyncio-h11", "uvloop-httptools")
SIZES = (32, 1024, 65536)

_WS = {
    "fastws": "fastws.integrations.uvicorn:WebSocketProtocol",
    "websockets-sansio": "websockets-sansio",
    "wsproto": "wsproto",
}


def _app() -> Any:
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute

    async def echo(websocket: Any) -> None:
        await websocket.accept()
        async for message in websocket.iter_bytes():
            await websocket.send_bytes(message)

    return Starlette(routes=[WebSocketRoute("/", echo)])


def run_server(engine: str, stack: str) -> None:
    """Run one uvicorn server until SIGTERM; print ``PORT n`` once it listens."""
    import uvicorn

    loop, http = stack.split("-")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        _app(),
        ws=_WS[engine],
        http=http,
        loop="none",
        lifespan="off",
        log_level="warning",
        access_log=False,
        ws_per_message_deflate=False,
        ws_ping_interval=None,
        ws_max_size=2**24,
    )
    server = uvicorn.Server(config)

    async def main() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                await task
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        print(f"PORT {sock.getsockname()[1]}", flush=True)
        await task  # uvicorn handles SIGTERM: a graceful shutdown

    if loop == "uvloop":
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())


def measure(
    engine: str,
    stack: str,
    sizes: tuple[int, ...] = SIZES,
    *,
    roundtrips: int = 20_000,
    burst_total: int = 200_000,
    budget: float = 5.0,
) -> list[Result]:
    """Start one uvicorn process, measure every size against it, stop it.

    Returns:
        two results (roundtrip, burst) per size; ``impl`` is the engine,
        ``loop`` the stack.
    """
    command = [sys.executable, os.path.abspath(__file__), "server", engine, stack]
    return measure_server(command, engine, stack, sizes, roundtrips, burst_total, budget)


def median_results(runs: list[Result]) -> list[Result]:
    """One result per (engine, stack, size, mode): the run with the median CPU per message."""
    cells: dict[tuple[str, str, int, str], list[Result]] = {}
    for r in runs:
        cells.setdefault((r.impl, r.loop, r.size, r.mode), []).append(r)
    return [sorted(found, key=lambda r: r.cpu_us_per_message)[len(found) // 2] for found in cells.values()]


def format_table(results: list[Result]) -> str:
    """us/msg per engine and fastws's ratios, one row per (stack, size, mode)."""
    engines = [e for e in ENGINES if any(r.impl == e for r in results)]
    others = [e for e in engines if e != "fastws"]
    header = "| stack | size | mode | " + " | ".join(f"{e} us/msg" for e in engines)
    header += "".join(f" | fastws / {e}" for e in others) + " |"
    lines = [header, "|" + "---|" * (3 + len(engines) + len(others))]
    keys = sorted({(r.loop, r.size, r.mode) for r in results}, key=lambda k: (STACKS.index(k[0]), k[1], k[2]))
    for stack, size, mode in keys:
        cell = {
            r.impl: r.cpu_us_per_message for r in results if (r.loop, r.size, r.mode) == (stack, size, mode)
        }
        cells = [f"{cell[e]:.1f}" if e in cell else "-" for e in engines]
        for other in others:
            ok = "fastws" in cell and cell.get(other)
            cells.append(f"{cell['fastws'] / cell[other]:.2f}x" if ok else "-")
        label = f"{size} B" if size < 1024 else f"{size // 1024} KiB"
        lines.append(f"| {stack} | {label} | {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or one server, with ``server ENGINE STACK``)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["server"]:
        run_server(argv[1], argv[2])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few messages per cell: a smoke run")
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--stacks", nargs="+", default=list(STACKS), choices=STACKS)
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    parser.add_argument("--budget", type=float, default=None, help="seconds per phase at most")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of the whole set, interleaved; each cell is their median"
    )
    args = parser.parse_args(argv)
    if args.quick:
        options = {"roundtrips": 500, "burst_total": 5_000, "budget": args.budget or 1.0}
    else:
        options = {"roundtrips": 20_000, "burst_total": 200_000, "budget": args.budget or 5.0}
    runs: list[Result] = []
    for run in range(args.repeat):
        for stack in args.stacks:
            loop, http = stack.split("-")
            if not (available(loop) and available(http)):
                print(f"{loop} or {http} is not installed: skipping {stack}", file=sys.stderr)
                continue
            for engine in args.engines:
                if engine != "fastws" and not available(engine.split("-")[0]):
                    print(f"{engine} is not installed: skipping it", file=sys.stderr)
                    continue
                print(f"... run {run + 1}: {engine} on {stack}", file=sys.stderr, flush=True)
                runs += measure(engine, stack, tuple(args.sizes), **options)
    results = median_results(runs)
    import fastws

    client = "picows" if available("picows") else "fastws"
    print(
        f"server CPU time per echoed message in us; client: {client}; fastws codec: {fastws.implementation}"
        f"; {GC_NOTE}"
    )
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
