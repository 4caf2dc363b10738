"""Fairness and memory under a hostile peer, with compression on (the defaults).

Two scenarios, each server in its own process, over loopback:

1. **Latency under attack.** ``fastws serve --echo`` (the command, with its
   defaults: permessage-deflate on, 1 MiB messages). ``--benign`` clients
   (100 by default, in one process) do 32-byte echo round trips for
   ``--duration`` seconds, first alone, then while ``--attackers`` raw
   clients stream compressible max-size messages (1 MiB of text that
   deflates to about 1 KiB) as fast as the server takes them, reading the
   echoes back. Reported: the benign round trips' median and p99, alone and
   under attack, and the server's CPU time.
2. **Memory per attacking connection.** A server whose handler never reads
   (``await ws.wait_closed()``); ``--hogs`` raw clients each send 300 such
   messages (300 MiB once inflated) and stay. Reported: the server's RSS
   growth divided by the connections, against what the defaults allow
   (``max_queue_bytes`` + ``max_size`` + 1 MiB).

Usage::

    python bench/fairness.py                  # 30 s per phase, 100 benign clients, 1 attacker
    python bench/fairness.py --quick          # 5 s per phase
    python bench/fairness.py --json
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import zlib
from typing import Any

__all__ = ["main"]

MIB = 2**20
_KEY = b"\x11\x22\x33\x44"


def _bomblet_frame() -> bytes:
    """One masked, compressed frame: 1 MiB of repetitive text in about 1 KiB."""
    text = (b"all work and no play makes jack a dull boy. " * 30000)[:MIB]
    compressor = zlib.compressobj(wbits=-15)
    payload = (compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
    header = bytes([0xC1, 0x80 | 126]) + len(payload).to_bytes(2, "big") if len(payload) < 65536 else b""
    masked = bytes(b ^ _KEY[i % 4] for i, b in enumerate(payload))
    return header + _KEY + masked


def _raw_deflate_socket(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16))
    sock.sendall(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101") or b"permessage-deflate" not in head.lower():
        raise ConnectionError(f"handshake refused: {head[:200]!r}")
    return sock


def _attacker(port: int, duration: float, counter: Any) -> None:
    """Stream compressed max-size messages; read and drop the echoes."""
    sock = _raw_deflate_socket(port)
    batch = _bomblet_frame() * 64
    stop = time.monotonic() + duration

    def reader() -> None:
        try:
            while sock.recv(1 << 20):
                pass
        except OSError:
            pass

    threading.Thread(target=reader, daemon=True).start()
    sent = 0
    try:
        while time.monotonic() < stop:
            sock.sendall(batch)
            sent += 64
    except OSError:
        pass
    counter.value = sent
    sock.close()


def _benign(pipe: Any, port: int, clients: int, duration: float) -> None:
    import fastws

    async def run() -> list[float]:
        sockets = [
            await fastws.connect(f"ws://127.0.0.1:{port}/", ping_interval=None) for _ in range(clients)
        ]
        pipe.send("connected")
        pipe.recv()
        times: list[float] = []
        stop = time.monotonic() + duration

        async def talk(ws: Any) -> None:
            message = "x" * 32
            while time.monotonic() < stop:
                start = time.perf_counter()
                await ws.send(message)
                assert await ws.recv() == message
                times.append(time.perf_counter() - start)

        await asyncio.gather(*(talk(ws) for ws in sockets))
        for ws in sockets:
            await ws.close()
        return times

    pipe.send(asyncio.run(run()))


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def _percentiles(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {
        "round_trips": len(times),
        "median_ms": round(statistics.median(times) * 1000, 2),
        "p99_ms": round(times[int(len(times) * 0.99) - 1] * 1000, 2),
    }


def latency_under_attack(benign: int, attackers: int, duration: float) -> dict[str, Any]:
    """Scenario 1: benign round trips alone, then with attackers."""
    server = subprocess.Popen(
        [sys.executable, "-m", "fastws", "serve", "--echo", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = server.stdout.readline()  # type: ignore[union-attr]
        port = int(re.search(r":(\d+)/", line).group(1))  # type: ignore[union-attr]
        ctx = multiprocessing.get_context("spawn")
        result: dict[str, Any] = {"benign_clients": benign, "attackers": attackers, "duration_s": duration}
        for phase, count in (("alone", 0), ("under_attack", attackers)):
            mine, theirs = ctx.Pipe()
            client = ctx.Process(target=_benign, args=(theirs, port, benign, duration))
            client.start()
            assert mine.recv() == "connected"
            counters = [ctx.Value("q", 0) for _ in range(count)]
            hostile = [ctx.Process(target=_attacker, args=(port, duration, c)) for c in counters]
            for process in hostile:
                process.start()
            cpu = _cpu_seconds(server.pid)
            mine.send("go")
            times = mine.recv()
            cpu = _cpu_seconds(server.pid) - cpu
            for process in hostile:
                process.join(duration + 30)
            client.join(30)
            result[phase] = {**_percentiles(times), "server_cpu_s": round(cpu, 2)}
            if count:
                result[phase]["attack_messages_sent"] = sum(c.value for c in counters)
        return result
    finally:
        server.terminate()
        server.wait(10)


def _push_only_server(pipe: Any) -> None:
    import fastws

    async def run() -> None:
        async def push_only(ws: Any) -> None:
            await ws.wait_closed()

        async with fastws.serve(push_only, "127.0.0.1", 0, ping_interval=None) as server:
            pipe.send(server.sockets[0].getsockname()[1])
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)

    asyncio.run(run())


def memory_per_attacker(hogs: int) -> dict[str, Any]:
    """Scenario 2: RSS growth per connection that sends 300 MiB of inflated data."""
    ctx = multiprocessing.get_context("spawn")
    mine, theirs = ctx.Pipe()
    server = ctx.Process(target=_push_only_server, args=(theirs,))
    server.start()
    port = mine.recv()
    time.sleep(0.5)
    baseline = _rss(server.pid)
    frames = _bomblet_frame() * 300
    sockets = []
    for _ in range(hogs):
        sock = _raw_deflate_socket(port)
        sock.setblocking(False)
        try:
            sock.send(frames)
        except BlockingIOError:
            pass
        sockets.append(sock)
    peak, still, last = baseline, 0, -1
    for _ in range(200):  # until the RSS stops growing (at most 20 s)
        time.sleep(0.1)
        now = _rss(server.pid)
        peak = max(peak, now)
        still = still + 1 if abs(now - last) < 64 * 1024 else 0
        last = now
        if still >= 10:
            break
    for sock in sockets:
        sock.close()
    mine.send("quit")
    server.join(30)
    allowed = 4 * MIB + MIB + MIB  # max_queue_bytes + max_size + 1 MiB (the defaults)
    per = (peak - baseline) / hogs
    return {
        "connections": hogs,
        "rss_growth_per_connection_mib": round(per / MIB, 2),
        "allowed_mib": allowed / MIB,
        "within": per <= allowed,
    }


def main(argv: list[str] | None = None) -> int:
    """Run both scenarios; exit status 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per phase")
    parser.add_argument("--benign", type=int, default=100)
    parser.add_argument("--attackers", type=int, default=1)
    parser.add_argument("--hogs", type=int, default=4, help="connections in the memory scenario")
    parser.add_argument("--quick", action="store_true", help="5 s per phase")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = 5.0
    if not sys.platform.startswith("linux"):
        print("fairness.py reads /proc: Linux only", file=sys.stderr)
        return 2
    latency = latency_under_attack(args.benign, args.attackers, args.duration)
    memory = memory_per_attacker(args.hogs)
    attack = latency["under_attack"]
    # The targets: p99 <= 250 ms and median <= 50 ms under attack.
    ok = attack["p99_ms"] <= 250 and attack["median_ms"] <= 50 and memory["within"]
    # The server runs as applications do: garbage collector on.
    result = {"latency": latency, "memory": memory, "targets_met": ok, "gc": "on"}
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
