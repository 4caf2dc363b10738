"""Threads: fastws.sync against websockets' sync implementation, as a server and as a client.

Usage::

    python bench/sync_echo.py                  # 5 runs, the median of each cell
    python bench/sync_echo.py --quick          # 3 short runs: a smoke run
    python bench/sync_echo.py --sizes 32 --runs 9
    python bench/sync_echo.py --memory         # server memory per idle connection
    python bench/sync_echo.py server fastws    # just run one sync echo server

Two measurements, in the method of ``bench/echo_servers.py``:

* **server**: each sync echo server (``fastws.sync.serve``,
  ``websockets.sync.server.serve``; handler ``for message in ws:
  ws.send(message)``) runs in a process of its own, and one common asyncio
  client (picows' on uvloop when installed, else fastws') measures round
  trips (one binary message, wait for its echo) and bursts (up to 4 MiB in
  flight). The figure is the server process's CPU time per echoed message,
  every thread of it (``/proc/PID/task/*/schedstat``): a sync server works
  in the connection's threads, not in its main thread.
* **client**: each sync client (``fastws.sync.connect``,
  ``websockets.sync.client.connect``) runs round trips, in a process of its
  own, against one common server (picows' on uvloop, else fastws' asyncio
  server answering from ``on_message``) in another. The figure is the
  client process's CPU time per round trip (``getrusage``: all its
  threads, the connection's background thread included).

``--memory`` opens idle connections (raw sockets that completed the
opening handshake) to each sync server and reports the growth of the
server's resident memory (``/proc/PID/status``, VmRSS) per connection:
the price of its threads and buffers.

Compression and keepalive are off everywhere. Each run measures every cell
once, the two implementations of a cell one after the other; the table
gives, per cell, the median of the runs and the range of the ratio over the
runs (the machine may be shared: a single run says little).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from echo_servers import _client, announce_and_wait, stop_process  # the common asyncio client

__all__ = ["IMPLS", "SIZES", "Cell", "main", "measure_client", "measure_server", "process_cpu_ns"]

IMPLS = ("fastws", "websockets")
SIZES = (32, 1024, 65536)


# -- the processes ---------------------------------------------------------------


def run_sync_server(impl: str) -> None:
    """Run one sync echo server until SIGTERM; print ``PORT n`` once listening."""
    if impl == "fastws":
        from fastws.sync import serve

        options: dict[str, Any] = {"max_size": None, "ping_interval": None, "compression": None}
    else:
        from websockets.sync.server import serve  # type: ignore[assignment]

        options = {"max_size": None, "ping_interval": None, "compression": None}

    def echo(ws: Any) -> None:
        for message in ws:
            ws.send(message)

    server = serve(echo, "127.0.0.1", 0, **options)
    signal.signal(signal.SIGTERM, lambda *_: server.shutdown())
    print(f"PORT {server.socket.getsockname()[1]}", flush=True)
    server.serve_forever()


def run_common_server() -> None:
    """The server of the client benchmark: picows' on uvloop, else fastws' asyncio one."""

    async def main() -> None:
        try:
            from echo_servers import _picows_server

            server = await _picows_server(0)
        except ImportError:
            from fastws.asyncio import serve

            async def echo(ws: Any) -> None:
                ws.on_message = ws.send_nowait
                await ws.wait_closed()

            server = await serve(echo, "127.0.0.1", 0, max_size=None, ping_interval=None, compression=None)
        await announce_and_wait(server.sockets)

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


def run_sync_client(impl: str, url: str, size: int, count: int) -> None:
    """Round trips with one sync client; print the CPU time per round trip in ns."""
    if impl == "fastws":
        from fastws.sync import connect

        options: dict[str, Any] = {"max_size": None, "ping_interval": None, "compression": None}
    else:
        from websockets.sync.client import connect  # type: ignore[assignment]

        options = {"max_size": None, "ping_interval": None, "compression": None}
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    with connect(url, **options) as ws:
        for _ in range(min(200, count)):  # warm up
            ws.send(payload)
            ws.recv()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        started = usage.ru_utime + usage.ru_stime
        for _ in range(count):
            ws.send(payload)
            ws.recv()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        elapsed = usage.ru_utime + usage.ru_stime - started
    print(f"NS {int(elapsed * 1e9 / count)}", flush=True)


def _spawn(*args: str, quiet: bool = False) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if quiet else None,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("PORT "):
        process.kill()
        raise RuntimeError(f"{args} did not start: {line!r}")
    return process, int(line.split()[1])


def process_cpu_ns(pid: int) -> int:
    """CPU time every thread of the process has run so far, in nanoseconds.

    Threads that ended are not counted: measure while the connection's
    threads live.
    """
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # the thread ended meanwhile
    return total


# -- measuring ---------------------------------------------------------------------


@dataclass
class Cell:
    """One measurement: CPU microseconds per message."""

    side: str  # "server" or "client"
    mode: str  # "round trips" or "burst"
    size: int
    impl: str
    us: float


async def _server_cells(
    url: str, pid: int, impl: str, sizes: tuple[int, ...], count: int, burst: int
) -> list[Cell]:
    client = _client()
    await client.connect(url)
    cells = []
    done = 0
    try:
        for size in sizes:
            payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
            for _ in range(50):  # warm up
                client.send(payload)
            done += 50
            await client.wait(done)
            rounds = count if size < 65536 else count // 4
            cpu0 = process_cpu_ns(pid)
            for _ in range(rounds):
                client.send(payload)
                done += 1
                await client.wait(done)
            cells.append(
                Cell("server", "round trips", size, impl, (process_cpu_ns(pid) - cpu0) / rounds / 1e3)
            )
            window = max(1, min(1000, (4 << 20) // max(size, 1)))
            total = burst if size < 65536 else burst // 20
            cpu0 = process_cpu_ns(pid)
            sent = 0
            while sent < total:
                n = min(window, total - sent)
                for _ in range(n):
                    client.send(payload)
                done += n
                sent += n
                await client.wait(done)
            cells.append(Cell("server", "burst", size, impl, (process_cpu_ns(pid) - cpu0) / total / 1e3))
    finally:
        await client.close()
    return cells


def measure_server(impl: str, sizes: tuple[int, ...], count: int, burst: int) -> list[Cell]:
    """Start one sync echo server process, measure every size against it, stop it."""
    process, port = _spawn("server", impl)
    try:

        async def run() -> list[Cell]:
            coro = _server_cells(f"ws://127.0.0.1:{port}/", process.pid, impl, sizes, count, burst)
            return await asyncio.wait_for(coro, 600)

        try:
            import uvloop

            return uvloop.run(run())  # type: ignore[no-any-return]
        except ImportError:
            return asyncio.run(run())
    finally:
        stop_process(process)


def measure_client(impl: str, url: str, size: int, count: int) -> Cell:
    """Run one sync client's round trips in a process of its own."""
    result = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "client", impl, url, str(size), str(count)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    line = next(line for line in result.stdout.splitlines() if line.startswith("NS "))
    return Cell("client", "round trips", size, impl, int(line.split()[1]) / 1e3)


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def measure_memory(impl: str, connections: int) -> float:
    """Server RSS growth per idle connection, in KiB."""
    import base64
    import socket

    # Quiet: a server may log each connection that the benchmark drops.
    process, port = _spawn("server", impl, quiet=True)
    socks = []
    try:
        time.sleep(0.5)
        before = _rss_kib(process.pid)
        for _ in range(connections):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            key = base64.b64encode(os.urandom(16)).decode()
            sock.sendall(
                (
                    f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                ).encode()
            )
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(4096)
            socks.append(sock)
        time.sleep(1.0)
        return (_rss_kib(process.pid) - before) / connections
    finally:
        for sock in socks:
            sock.close()
        stop_process(process)


def format_table(runs: list[list[Cell]]) -> str:
    """The median of each cell over the runs, with the ratio's range."""
    keys = sorted(
        {(c.side, c.mode, c.size) for run in runs for c in run},
        key=lambda k: (k[0] != "client", k[1], k[2]),
    )
    lines = [
        "| side | mode | size | fastws.sync us/msg | websockets sync us/msg | ratio (median) | ratio range |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for side, mode, size in keys:
        values: dict[str, list[float]] = {impl: [] for impl in IMPLS}
        ratios = []
        for run in runs:
            cells = {c.impl: c.us for c in run if (c.side, c.mode, c.size) == (side, mode, size)}
            for impl, us in cells.items():
                values[impl].append(us)
            if len(cells) == 2 and cells["websockets"] > 0:
                ratios.append(cells["fastws"] / cells["websockets"])
        label = f"{size} B" if size < 1024 else f"{size // 1024} KiB"
        med = {impl: statistics.median(v) if v else float("nan") for impl, v in values.items()}
        ratio = f"{statistics.median(ratios):.2f}x" if ratios else "-"
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}" if ratios else "-"
        lines.append(
            f"| {side} | {mode} | {label} | {med['fastws']:.1f} | {med['websockets']:.1f} | {ratio} | {spread} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or one of its processes)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["server"]:
        run_sync_server(argv[1])
        return 0
    if argv[:1] == ["common-server"]:
        run_common_server()
        return 0
    if argv[:1] == ["client"]:
        run_sync_client(argv[1], argv[2], int(argv[3]), int(argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 short runs: a smoke run")
    parser.add_argument("--runs", type=int, default=None, help="runs (default 5; 3 with --quick)")
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    parser.add_argument("--side", choices=("server", "client", "both"), default="both")
    parser.add_argument("--memory", action="store_true", help="server memory per idle connection instead")
    parser.add_argument("--connections", type=int, default=500, help="idle connections for --memory")
    args = parser.parse_args(argv)
    if args.memory:
        print(f"server RSS growth per idle connection, {args.connections} connections")
        for impl in IMPLS:
            print(f"{impl}: {measure_memory(impl, args.connections):.1f} KiB")
        return 0
    runs = args.runs or (3 if args.quick else 5)
    count, burst = (300, 3000) if args.quick else (3000, 40000)
    sizes = tuple(args.sizes)
    all_runs: list[list[Cell]] = []
    for index in range(runs):
        print(f"... run {index + 1}/{runs}", file=sys.stderr, flush=True)
        cells: list[Cell] = []
        if args.side in ("server", "both"):
            order = IMPLS if index % 2 == 0 else IMPLS[::-1]
            for impl in order:
                cells += measure_server(impl, sizes, count, burst)
        if args.side in ("client", "both"):
            process, port = _spawn("common-server")
            try:
                for size in sizes:
                    order = IMPLS if index % 2 == 0 else IMPLS[::-1]
                    for impl in order:
                        rounds = count if size < 65536 else count // 4
                        cells.append(measure_client(impl, f"ws://127.0.0.1:{port}/", size, rounds))
            finally:
                stop_process(process)
        all_runs.append(cells)
    common = "picows (uvloop)" if _picows() else "fastws.asyncio"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"CPU time per message in us, median of {runs} runs; common peer: {common}; "
        f"{os.cpu_count()} CPUs, load average {load:.1f} at the end"
    )
    print(format_table(all_runs))
    return 0


def _picows() -> bool:
    try:
        import picows  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
