"""End-to-end echo benchmark: one common client against the echo servers of
fastws, websockets, aiohttp and picows, each in a process of its own.

Usage::

    python bench/echo_servers.py                 # full table
    python bench/echo_servers.py --quick         # a few seconds per cell
    python bench/echo_servers.py --impls fastws picows --loops uvloop --sizes 32
    python bench/echo_servers.py server fastws asyncio   # just run one server

For each server implementation, event loop (asyncio, uvloop) and message
size (32 B, 1 KiB, 64 KiB), the client measures

* round trips: one binary message, wait for its echo, repeat;
* a pipelined burst: many messages written at once, then all echoes read;

and reports messages/s and, more telling on a 2-core machine where the
client saturates first, the *server's* CPU time per echoed message, read
from ``/proc/PID/schedstat`` (nanoseconds of CPU the server's thread ran;
``/proc/PID/stat`` ticks as a fallback) before and after each phase.

The client is picows' (the fastest available; fastws' own client when
picows is missing), on uvloop when it is installed, the same for every
server. Each server echoes whatever it receives with its library's
ordinary API, compression off and keepalive off; ``fastws-callback`` is
fastws with its callback API (a plain-function handler that sets
``ws.on_message = ws.send_nowait``: no task per connection nor per message),
the style of picows' listener, next to ``fastws`` with ``async for``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GC_NOTE",
    "IMPLS",
    "LOOPS",
    "SIZES",
    "Result",
    "main",
    "measure",
    "measure_server",
    "run_server",
    "start_server",
    "stop_process",
]

IMPLS = ("fastws", "fastws-callback", "websockets", "aiohttp", "picows")
#: The module each implementation needs.
_MODULES = {"fastws-callback": "fastws"}
LOOPS = ("asyncio", "uvloop")
SIZES = (32, 1024, 65536)
#: Every server process here keeps the garbage collector on, as applications do.
GC_NOTE = "garbage collector: on in every server, as in applications"


# -- servers (run in their own process) --------------------------------------------


async def _fastws_server(port: int) -> Any:
    from fastws.asyncio import serve

    async def echo(ws: Any) -> None:
        async for message in ws:
            await ws.send(message)

    # Uncompressed, like every other server of this comparison.
    return await serve(echo, "127.0.0.1", port, max_size=None, ping_interval=None, compression=None)


async def _fastws_callback_server(port: int) -> Any:
    from fastws.asyncio import serve

    def echo(ws: Any) -> None:
        # The callback API: each message is answered inside the read
        # callback, like picows' listener, with no task switch per message
        # and no task per connection.
        ws.on_message = ws.send_nowait

    return await serve(echo, "127.0.0.1", port, max_size=None, ping_interval=None, compression=None)


async def _websockets_server(port: int) -> Any:
    from websockets.asyncio.server import serve

    async def echo(ws: Any) -> None:
        async for message in ws:
            await ws.send(message)

    return await serve(echo, "127.0.0.1", port, compression=None, max_size=None, ping_interval=None)


async def _aiohttp_server(port: int) -> Any:
    from aiohttp import WSMsgType, web

    async def route(request: Any) -> Any:
        ws = web.WebSocketResponse(max_msg_size=0, compress=False, autoping=True)
        await ws.prepare(request)
        async for message in ws:
            if message.type == WSMsgType.BINARY:
                await ws.send_bytes(message.data)
            elif message.type == WSMsgType.TEXT:
                await ws.send_str(message.data)
        return ws

    app = web.Application()
    app.router.add_get("/", route)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    return site._server


async def _picows_server(port: int) -> Any:
    from picows import WSListener, WSMsgType, ws_create_server

    class Echo(WSListener):  # type: ignore[misc]
        # picows warns on every flow-control change unless these exist.
        def pause_writing(self) -> None:
            pass

        def resume_writing(self) -> None:
            pass

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type == WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code(), frame.get_close_message())
                transport.disconnect()
            elif frame.msg_type in (WSMsgType.BINARY, WSMsgType.TEXT):
                transport.send(frame.msg_type, frame.get_payload_as_memoryview(), frame.fin)
            elif frame.msg_type == WSMsgType.CONTINUATION:
                transport.send(WSMsgType.CONTINUATION, frame.get_payload_as_memoryview(), frame.fin)

    return await ws_create_server(lambda request: Echo(), "127.0.0.1", port, max_frame_size=2**30)


_SERVERS = {
    "fastws": _fastws_server,
    "fastws-callback": _fastws_callback_server,
    "websockets": _websockets_server,
    "aiohttp": _aiohttp_server,
    "picows": _picows_server,
}


async def announce_and_wait(sockets: Iterable[socket.socket]) -> None:
    """Print ``PORT n`` (the first listening socket's port), then wait for SIGTERM or SIGINT.

    The server scripts' common end: the parent reads the port from stdout
    and stops the process with SIGTERM (:func:`stop_process`).
    """
    print(f"PORT {next(iter(sockets)).getsockname()[1]}", flush=True)
    loop = asyncio.get_running_loop()
    stop: asyncio.Future[None] = loop.create_future()

    def stopped() -> None:
        if not stop.done():
            stop.set_result(None)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped)
    await stop


def run_server(impl: str, loop: str, port: int = 0) -> None:
    """Run one echo server until SIGTERM/SIGINT; print ``PORT n`` once listening."""

    async def main() -> None:
        server = await _SERVERS[impl](port)
        await announce_and_wait(server.sockets)

    if loop == "uvloop":
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())


# -- measuring the server's CPU time --------------------------------------------------------


def server_cpu_ns(pid: int) -> int:
    """CPU time the process's main thread has run, in nanoseconds."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return round(sum(cpu_times_s(pid)) * 1e9)


def cpu_times_s(pid: int) -> tuple[float, float]:
    """User and system (kernel) CPU time of the process, all threads, in seconds.

    From ``/proc/PID/stat``, counted in clock ticks (10 ms).
    """
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick  # utime, stime


# -- the common client -------------------------------------------------------------------


class _Client:
    """A minimal echo client: send binary messages, count the echoes."""

    async def connect(self, url: str) -> None:
        raise NotImplementedError

    def send(self, payload: bytes) -> None:
        raise NotImplementedError

    async def wait(self, count: int) -> None:
        """Wait until ``count`` echoes (in all) have arrived."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class _PicowsClient(_Client):
    async def connect(self, url: str) -> None:
        from picows import WSListener, WSMsgType, ws_connect

        client = self

        class Listener(WSListener):  # type: ignore[misc]
            # The burst is bounded by its window: no need to pause.
            def pause_writing(self) -> None:
                pass

            def resume_writing(self) -> None:
                pass

            def on_ws_frame(self, transport: Any, frame: Any) -> None:
                if frame.msg_type == WSMsgType.BINARY and frame.fin:
                    client.received += 1
                    client.last_size = frame.payload_size
                    if client.received >= client.target and not client.waiter.done():
                        client.waiter.set_result(None)

        self.received = 0
        self.target = 1 << 62
        self.last_size = 0
        self.waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._binary = WSMsgType.BINARY
        self.transport, _ = await ws_connect(Listener, url, max_frame_size=2**30)

    def send(self, payload: bytes) -> None:
        self.transport.send(self._binary, payload)

    async def wait(self, count: int) -> None:
        if self.received >= count:
            return
        self.target = count
        self.waiter = asyncio.get_running_loop().create_future()
        await self.waiter

    async def close(self) -> None:
        from picows import WSCloseCode

        self.transport.send_close(WSCloseCode.OK)
        self.transport.disconnect()
        await self.transport.wait_disconnected()


class _FastwsClient(_Client):
    async def connect(self, url: str) -> None:
        from fastws.asyncio import connect

        self.ws = await connect(url, max_size=None, ping_interval=None, max_queue=None, compression=None)
        self.received = 0

    def send(self, payload: bytes) -> None:
        self.ws.protocol.send_binary(payload)
        self.ws._flush()

    async def wait(self, count: int) -> None:
        while self.received < count:
            await self.ws.recv()
            self.received += 1

    async def close(self) -> None:
        await self.ws.close()


def _client() -> _Client:
    try:
        import picows  # noqa: F401
    except ImportError:
        return _FastwsClient()
    return _PicowsClient()


@dataclass
class Result:
    """One cell of the table."""

    impl: str
    loop: str
    size: int
    mode: str  # "roundtrip" or "burst"
    messages: int
    seconds: float
    server_cpu_s: float

    @property
    def rate(self) -> float:
        """Echoed messages per second (wall clock)."""
        return self.messages / self.seconds if self.seconds else 0.0

    @property
    def cpu_us_per_message(self) -> float:
        """Server CPU time per echoed message, in microseconds."""
        return self.server_cpu_s * 1e6 / self.messages if self.messages else 0.0


async def _measure_client(
    url: str, pid: int, impl: str, loop: str, size: int, roundtrips: int, burst_total: int, budget: float
) -> list[Result]:
    client = _client()
    await client.connect(url)
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    results = []
    try:
        # Warm up (caches, allocator, JIT-less interpreters still benefit).
        for _ in range(50):
            client.send(payload)
        await client.wait(50)
        done = 50

        # Round trips, bounded in count and time.
        cpu0, t0 = server_cpu_ns(pid), time.perf_counter()
        count = 0
        deadline = t0 + budget
        while count < roundtrips and (count % 64 or time.perf_counter() < deadline):
            client.send(payload)
            done += 1
            await client.wait(done)
            count += 1
        t1, cpu1 = time.perf_counter(), server_cpu_ns(pid)
        results.append(Result(impl, loop, size, "roundtrip", count, t1 - t0, (cpu1 - cpu0) / 1e9))

        # Pipelined bursts: at most ~4 MiB in flight.
        window = max(1, min(1000, (4 << 20) // max(size, 1)))
        cpu0, t0 = server_cpu_ns(pid), time.perf_counter()
        count = 0
        deadline = t0 + budget
        while count < burst_total and time.perf_counter() < deadline:
            n = min(window, burst_total - count)
            for _ in range(n):
                client.send(payload)
            done += n
            await client.wait(done)
            count += n
        t1, cpu1 = time.perf_counter(), server_cpu_ns(pid)
        results.append(Result(impl, loop, size, "burst", count, t1 - t0, (cpu1 - cpu0) / 1e9))
    finally:
        await client.close()
    return results


def measure(
    impl: str,
    loop: str,
    sizes: tuple[int, ...] = SIZES,
    *,
    roundtrips: int = 20_000,
    burst_total: int = 200_000,
    budget: float = 5.0,
) -> list[Result]:
    """Start one server process, measure every size against it, stop it.

    Args:
        impl: fastws, websockets, aiohttp or picows.
        loop: the server's event loop, asyncio or uvloop.
        sizes: message sizes, in bytes.
        roundtrips: round trips per size (fewer if ``budget`` runs out).
        burst_total: messages per size in the pipelined phase (idem).
        budget: seconds per phase at most.

    Returns:
        two results (roundtrip, burst) per size.
    """
    command = [sys.executable, os.path.abspath(__file__), "server", impl, loop]
    return measure_server(command, impl, loop, sizes, roundtrips, burst_total, budget)


def start_server(command: list[str], what: str) -> tuple[subprocess.Popen[str], int]:
    """Start a server process that prints ``PORT n`` once listening; return it and the port.

    Raises:
        RuntimeError: it did not start (``what`` names it in the message).
    """
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("PORT "):
        stop_process(process)
        raise RuntimeError(f"{what} did not start: {line!r}")
    return process, int(line.split()[1])


def measure_server(
    command: list[str],
    impl: str,
    loop: str,
    sizes: tuple[int, ...],
    roundtrips: int,
    burst_total: int,
    budget: float,
) -> list[Result]:
    """Start the server ``command`` runs, measure every size against it, stop it.

    ``impl`` and ``loop`` label the results.
    """
    process, port = start_server(command, f"{impl} server on {loop}")
    try:
        url = f"ws://127.0.0.1:{port}/"

        async def run_all() -> list[Result]:
            results = []
            for size in sizes:
                results += await asyncio.wait_for(
                    _measure_client(url, process.pid, impl, loop, size, roundtrips, burst_total, budget),
                    budget * 4 + 30,
                )
            return results

        try:
            import uvloop

            return uvloop.run(run_all())  # type: ignore[no-any-return]
        except ImportError:
            return asyncio.run(run_all())
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[str]) -> None:
    """Stop a server process: SIGTERM, then SIGKILL if it lingers."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def available(impl: str) -> bool:
    """Whether the library (or event loop) ``impl`` is importable here."""
    try:
        __import__(_MODULES.get(impl, impl))
    except ImportError:
        return False
    return True


def format_table(results: list[Result]) -> str:
    """The results as a Markdown table, one row per (loop, size, mode)."""
    impls = [i for i in IMPLS if any(r.impl == i for r in results)]
    header = "| loop | size | mode | " + " | ".join(f"{i} us/msg (msg/s)" for i in impls) + " |"
    lines = [header, "|" + "---|" * (3 + len(impls))]
    keys = sorted({(r.loop, r.size, r.mode) for r in results}, key=lambda k: (LOOPS.index(k[0]), k[1], k[2]))
    for loop, size, mode in keys:
        cells = []
        for impl in impls:
            match = [r for r in results if (r.impl, r.loop, r.size, r.mode) == (impl, loop, size, mode)]
            if match:
                r = match[0]
                cells.append(f"{r.cpu_us_per_message:.2f} ({r.rate:,.0f})")
            else:
                cells.append("-")
        label = f"{size} B" if size < 1024 else f"{size // 1024} KiB"
        lines.append(f"| {loop} | {label} | {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or one server, with ``server IMPL LOOP``)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["server"]:
        run_server(argv[1], argv[2], int(argv[3]) if len(argv) > 3 else 0)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few messages per cell: a smoke run")
    parser.add_argument("--impls", nargs="+", default=list(IMPLS), choices=IMPLS)
    parser.add_argument("--loops", nargs="+", default=list(LOOPS), choices=LOOPS)
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    parser.add_argument("--budget", type=float, default=None, help="seconds per phase at most")
    parser.add_argument(
        "--json", metavar="FILE", help="also write every cell as JSON (bench/plot.py draws it)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        options = {"roundtrips": 500, "burst_total": 5_000, "budget": args.budget or 1.0}
    else:
        options = {"roundtrips": 20_000, "burst_total": 200_000, "budget": args.budget or 5.0}
    results: list[Result] = []
    for loop in args.loops:
        if loop == "uvloop" and not available("uvloop"):
            print("uvloop is not installed: skipping it", file=sys.stderr)
            continue
        for impl in args.impls:
            if not available(impl):
                print(f"{impl} is not installed: skipping it", file=sys.stderr)
                continue
            print(f"... {impl} on {loop}", file=sys.stderr, flush=True)
            results += measure(impl, loop, tuple(args.sizes), **options)
    client = "picows" if available("picows") else "fastws"
    print(f"server CPU time per echoed message in us (messages/s); client: {client}; {GC_NOTE}")
    print(format_table(results))
    if args.json:
        write_json(args.json, results, client=client, quick=args.quick)
    return 0


def write_json(path: str, results: list[Result], *, client: str, quick: bool) -> None:
    """Every cell, with its CPU time per message, and the machine it ran on."""
    payload = {
        "benchmark": "echo_servers",
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "quick": quick,
        "client": client,
        "gc": "on",
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(terse=True),
        },
        "results": [
            {**dataclasses.asdict(r), "cpu_us_per_message": r.cpu_us_per_message, "rate": r.rate}
            for r in results
        ],
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
