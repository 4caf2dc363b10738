"""permessage-deflate benchmarks: compressed echo throughput, memory per connection, backends.

Usage::

    python bench/test_bench_compression.py              # the full tables
    python bench/test_bench_compression.py --quick      # a few seconds per cell
    python -m pytest bench/test_bench_compression.py --benchmark-only

* **Echo**: the same client (fastws' own, compression on: picows, the plain
  echo benchmark's client, has no permessage-deflate) against the echo
  servers of fastws (standard ``zlib``, ``zlib-ng``, ``isal``; and level 1)
  and websockets (compression on, its defaults), each in a process of its
  own, with JSON-like text messages of 1 KiB and 64 KiB (a pool of distinct
  messages, so context takeover cannot turn them into back-references to
  the previous identical message). Round trips and a pipelined burst;
  messages/s and the *server's* CPU time per echoed message (from
  ``/proc/PID/schedstat``), as in ``bench/echo_servers.py``.
* **Memory**: the server's resident memory after N connections that each
  exchanged one compressed message of 1 KiB and one of 64 KiB (so that both
  zlib streams of both directions exist), minus before, divided by N; the
  same with compression off for scale.
* **Backends** (pytest-benchmark): one message through
  ``PerMessageDeflate.encode`` then ``decode``, per backend and size.

Every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from echo_servers import announce_and_wait, server_cpu_ns

__all__ = ["IMPLS", "SIZES", "json_messages", "measure_echo", "measure_memory", "run_server"]

#: name -> (library, backend, level).
IMPLS: dict[str, tuple[str, str | None, int]] = {
    "fastws": ("fastws", "zlib", -1),
    "fastws-zlib-ng": ("fastws", "zlib-ng", -1),
    "fastws-isal": ("fastws", "isal", -1),
    "fastws-level1": ("fastws", "zlib", 1),
    "websockets": ("websockets", None, -1),
}
SIZES = (1024, 65536)


def json_messages(size: int, count: int = 64, seed: int = 1) -> list[str]:
    """Distinct JSON-like texts of exactly ``size`` bytes (ASCII)."""
    rng = random.Random(seed + size)
    names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
    out = []
    for m in range(count):
        records = []
        n = 0
        i = 0
        while n < size:
            record = json.dumps(
                {
                    "id": m * 100_000 + i,
                    "user": rng.choice(names) + str(rng.randint(0, 9999)),
                    "active": rng.random() < 0.5,
                    "score": round(rng.random() * 1000, 3),
                    "tags": rng.sample(["x", "y", "z", "new", "hot", "old"], 2),
                    "ts": 1_700_000_000 + rng.randint(0, 10**6),
                }
            )
            records.append(record)
            n += len(record) + 2
            i += 1
        out.append(("[" + ", ".join(records) + "]")[:size])
    return out


# -- servers (in their own process) -------------------------------------------------------


async def _serve(impl: str, port: int, compression: bool) -> Any:
    library, backend, level = IMPLS[impl]

    async def echo(ws: Any) -> None:
        async for message in ws:
            await ws.send(message)

    if library == "websockets":
        from websockets.asyncio.server import serve as ws_serve

        return await ws_serve(
            echo,
            "127.0.0.1",
            port,
            compression="deflate" if compression else None,
            max_size=None,
            ping_interval=None,
        )
    from fastws.asyncio import serve
    from fastws.extensions import ServerPerMessageDeflateFactory

    factory = ServerPerMessageDeflateFactory(level=level, backend=backend) if compression else None
    return await serve(echo, "127.0.0.1", port, compression=factory, max_size=None, ping_interval=None)


def run_server(impl: str, loop: str, compression: bool = True) -> None:
    """Run one echo server until SIGTERM; print ``PORT n`` once listening."""

    async def main() -> None:
        server = await _serve(impl, 0, compression)
        await announce_and_wait(server.sockets)

    if loop == "uvloop":
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())


class _Server:
    """A server subprocess (context manager)."""

    def __init__(self, impl: str, loop: str, compression: bool = True) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "server", impl, loop, "on" if compression else "off"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.process.kill()
            raise RuntimeError(f"{impl} server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.pid = self.process.pid

    def rss(self) -> int:
        """Resident memory, in bytes."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def __enter__(self) -> _Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


# -- measurements ---------------------------------------------------------------------------------


@dataclass
class EchoResult:
    impl: str
    size: int
    mode: str
    messages: int
    seconds: float
    server_cpu_s: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    @property
    def cpu_us(self) -> float:
        return self.server_cpu_s * 1e6 / self.messages if self.messages else 0.0


async def _echo_phases(
    port: int, pid: int, impl: str, size: int, roundtrips: int, burst_total: int, budget: float
) -> list[EchoResult]:
    from fastws.asyncio import connect

    pool = json_messages(size)
    results = []
    async with connect(f"ws://127.0.0.1:{port}/", max_size=None, ping_interval=None, max_queue=None) as ws:
        assert ws.protocol.extensions, "compression was not negotiated"
        for i in range(32):  # warm-up
            await ws.send(pool[i % len(pool)])
            assert await ws.recv() == pool[i % len(pool)]
        cpu0, t0 = server_cpu_ns(pid), time.perf_counter()
        count = 0
        deadline = t0 + budget
        while count < roundtrips and time.perf_counter() < deadline:
            await ws.send(pool[count % len(pool)])
            await ws.recv()
            count += 1
        t1, cpu1 = time.perf_counter(), server_cpu_ns(pid)
        results.append(EchoResult(impl, size, "roundtrip", count, t1 - t0, (cpu1 - cpu0) / 1e9))

        window = max(1, min(200, (2 << 20) // size))
        cpu0, t0 = server_cpu_ns(pid), time.perf_counter()
        count = 0
        deadline = t0 + budget
        while count < burst_total and time.perf_counter() < deadline:
            n = min(window, burst_total - count)
            for i in range(n):
                await ws.send(pool[(count + i) % len(pool)])
            for _ in range(n):
                await ws.recv()
            count += n
        t1, cpu1 = time.perf_counter(), server_cpu_ns(pid)
        results.append(EchoResult(impl, size, "burst", count, t1 - t0, (cpu1 - cpu0) / 1e9))
    return results


def measure_echo(
    impl: str,
    loop: str = "asyncio",
    sizes: tuple[int, ...] = SIZES,
    *,
    roundtrips: int = 3000,
    burst_total: int = 20000,
    budget: float = 3.0,
) -> list[EchoResult]:
    """Echo throughput of one server implementation, compression on."""
    results: list[EchoResult] = []
    with _Server(impl, loop) as server:
        for size in sizes:
            results += asyncio.run(
                _echo_phases(server.port, server.pid, impl, size, roundtrips, burst_total, budget)
            )
    return results


async def _open_many(port: int, count: int, compressed: bool) -> list[Any]:
    from fastws.asyncio import connect

    small, large = json_messages(1024, 1)[0], json_messages(65536, 1)[0]
    connections = []
    for _ in range(count):
        ws = await connect(
            f"ws://127.0.0.1:{port}/",
            max_size=None,
            ping_interval=None,
            compression="deflate" if compressed else None,
        )
        for message in (small, large):
            await ws.send(message)
            assert await ws.recv() == message
        connections.append(ws)
    return connections


def measure_memory(impl: str, loop: str = "asyncio", count: int = 200, compression: bool = True) -> float:
    """Server memory per connection (bytes) after each exchanged 1 KiB and 64 KiB messages."""

    async def run(server: _Server) -> float:
        # Warm the server up (imports, first-connection allocations) first.
        warm = await _open_many(server.port, 5, compression)
        for ws in warm:
            await ws.close()
        await asyncio.sleep(0.2)
        before = server.rss()
        connections = await _open_many(server.port, count, compression)
        await asyncio.sleep(0.2)
        after = server.rss()
        for ws in connections:
            await ws.close()
        return (after - before) / count

    with _Server(impl, loop, compression) as server:
        return asyncio.run(run(server))


def available(impl: str) -> bool:
    library, backend, _ = IMPLS[impl]
    try:
        if library == "websockets":
            import websockets  # noqa: F401
        else:
            from fastws.extensions.permessage_deflate import get_backend

            get_backend(backend)
    except ImportError:
        return False
    return True


# -- pytest-benchmark cases -------------------------------------------------------------------------


BACKENDS = ("zlib", "zlib-ng", "isal")


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_codec_round_trip(benchmark: Any, backend: str, size: int) -> None:
    """One message through encode (compress) and decode (decompress)."""
    from fastws.codec import Frame
    from fastws.extensions import PerMessageDeflate
    from fastws.extensions.permessage_deflate import get_backend

    try:
        get_backend(backend)
    except ImportError:
        pytest.skip(f"{backend} is not installed")
    sender = PerMessageDeflate(local_max_window_bits=12, remote_max_window_bits=12, backend=backend)
    receiver = PerMessageDeflate(local_max_window_bits=12, remote_max_window_bits=12, backend=backend)
    pool = [m.encode() for m in json_messages(size, 16)]
    state = {"i": 0}

    def op() -> int:
        i = state["i"] = (state["i"] + 1) % len(pool)
        frame = sender.encode(Frame(1, pool[i], True))
        out = receiver.decode(frame, max_size=None)
        return len(frame.payload) + len(out.payload)

    benchmark.group = f"permessage-deflate round trip {size // 1024} KiB"
    benchmark.extra_info["backend"] = backend
    assert receiver.decode(sender.encode(Frame(1, pool[0], True))).payload == pool[0]
    benchmark(op)
    ratio = len(sender.encode(Frame(1, pool[1], True)).payload) / len(pool[1])
    benchmark.extra_info["compressed/original"] = round(ratio, 3)


@pytest.mark.parametrize("impl", ["fastws", "websockets"])
def test_compressed_echo(benchmark: Any, impl: str) -> None:
    """Quick compressed echo (1 KiB JSON); server CPU per message in extra_info."""
    if not available(impl):
        pytest.skip(f"{impl} is not installed")
    benchmark.group = "compressed echo 1 KiB JSON"
    results: list[EchoResult] = benchmark.pedantic(
        measure_echo,
        args=(impl, "asyncio", (1024,)),
        kwargs={"roundtrips": 300, "burst_total": 2000, "budget": 2.0},
        rounds=1,
        iterations=1,
    )
    for result in results:
        assert result.messages > 0
        benchmark.extra_info[f"{result.mode} server us/msg"] = round(result.cpu_us, 2)
        benchmark.extra_info[f"{result.mode} msg/s"] = round(result.rate)


# -- the full tables ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--loop", default="asyncio", choices=["asyncio", "uvloop"])
    parser.add_argument("--impls", nargs="*", default=list(IMPLS))
    args = parser.parse_args(argv)
    impls = [i for i in args.impls if available(i)]
    counts = {"roundtrips": 500, "burst_total": 4000, "budget": 1.5} if args.quick else {}
    echo: dict[str, list[EchoResult]] = {impl: measure_echo(impl, args.loop, **counts) for impl in impls}
    ref = "websockets" if "websockets" in echo else impls[0]
    print(
        f"\nCompressed echo on {args.loop}: msg/s and server CPU us/msg (ratio to {ref}: "
        "msg/s higher is better, CPU lower is better)\n"
    )
    print("| server | size | mode | msg/s | x | server us/msg | x |")
    print("|---|---|---|---|---|---|---|")
    for impl, results in echo.items():
        for r, base in zip(results, echo[ref], strict=True):
            print(
                f"| {impl} | {r.size // 1024} KiB | {r.mode} | {r.rate:,.0f} | {r.rate / base.rate:.2f} "
                f"| {r.cpu_us:.1f} | {r.cpu_us / base.cpu_us:.2f} |"
            )
    count = 50 if args.quick else 200
    print(f"\nServer memory per connection ({count} connections, each exchanged 1 KiB and 64 KiB)\n")
    print("| server | compression on | compression off |")
    print("|---|---|---|")
    for impl in ("fastws", "websockets"):
        if impl in impls:
            on = measure_memory(impl, args.loop, count, True)
            off = measure_memory(impl, args.loop, count, False)
            print(f"| {impl} | {on / 1024:.1f} KiB | {off / 1024:.1f} KiB |")
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "server":
        run_server(sys.argv[2], sys.argv[3], sys.argv[4] != "off" if len(sys.argv) > 4 else True)
    else:
        sys.exit(main())
