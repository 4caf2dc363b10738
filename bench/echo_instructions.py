"""User-space instructions per echoed message, counted by callgrind: a figure
that a shared machine does not disturb.

``bench/echo_servers.py`` reads the servers' CPU time, kernel included, and
on a shared machine its round-trip figures move by up to a third between
runs. This script runs each echo server of ``echo_servers.py`` under
``valgrind --tool=callgrind`` twice, for N and for 2N messages from the
common client, and reports the difference of the two instruction totals
divided by N: the instructions one more message costs the server's process
in user space (the Python code, the event loop, the codec; not the kernel's
socket work, which is the same for every server). The same binary on the
same input gives the same count, whatever else the machine is doing.
``--mode handshake`` counts whole short-lived connections instead, as
``bench/handshakes.py`` opens them (connect, upgrade, close), one at a time.
``--mode compressed`` counts round trips of JSON-like text with
permessage-deflate, between fastws' client and the compressed echo servers
of ``bench/test_bench_compression.py`` (fastws, websockets; both on their
defaults: zlib level 6, memLevel 5, 12-bit windows); its ``zlib`` column is
the floor, what zlib itself spends per round trip with those settings (one
message inflated, one deflated), counted in a process that only does that.
``--impls python-floor`` adds ``bench/echo_floor.py`` to the round-trip,
burst and handshake modes: a Python ``BufferedProtocol`` that only answers
the upgrade, unmasks and echoes (a close frame too, then it closes), the
floor of any server whose per-read code is Python; ``python-floor-task``
(round trips and bursts) the same with each message handed to a task that
awaits it, the floor of the ``async for`` style on asyncio's tasks.

Run::

    python bench/echo_instructions.py                       # fastws, its callback style, picows; 32 B round trips
    python bench/echo_instructions.py --impls fastws websockets --sizes 32 1024 --mode burst
    python bench/echo_instructions.py --mode handshake --impls fastws websockets aiohttp picows
    python bench/echo_instructions.py --mode compressed --sizes 1024

Needs valgrind (Debian package ``valgrind``); under it a server runs about
50 times slower, so the message counts are small.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile

from echo_floor import FLOOR, FLOORS, TASK_FLOOR
from echo_floor import server_arguments as floor_arguments
from echo_servers import GC_NOTE, IMPLS, LOOPS, _client, available, start_server, stop_process
from handshakes import _one as one_handshake
from test_bench_compression import available as compressed_available
from test_bench_compression import json_messages

#: Columns of ``--mode compressed``: the two servers, then zlib's own share.
COMPRESSED_IMPLS = ("fastws", "websockets", "zlib")
#: What both servers compress with by default (and the floor measures).
_ZLIB_SETTINGS = (-1, 12, 5)  # level, window bits, memLevel
_BENCH = os.path.dirname(os.path.abspath(__file__))

__all__ = ["count", "main"]

_TOTAL = re.compile(r"^(?:summary|totals): (\d+)", re.M)


async def _drive(port: int, size: int, messages: int, mode: str) -> None:
    """Warm up with 50 messages, then echo ``messages`` more (one at a time, or all at
    once); or, for handshakes, open 20 connections, then ``messages`` more."""
    if mode == "handshake":
        for _ in range(20 + messages):
            await one_handshake(port)
        return
    if mode == "compressed":
        await _drive_compressed(port, size, messages)
        return
    client = _client()
    await client.connect(f"ws://127.0.0.1:{port}/")
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    try:
        for _ in range(50):
            client.send(payload)
        done = 50
        await client.wait(done)
        if mode == "roundtrip":
            for _ in range(messages):
                client.send(payload)
                done += 1
                await client.wait(done)
        else:
            for _ in range(messages):
                client.send(payload)
            done += messages
            await client.wait(done)
    finally:
        await client.close()


async def _drive_compressed(port: int, size: int, messages: int) -> None:
    """Echo 50 + ``messages`` compressed texts of ``size`` bytes, one at a time."""
    from fastws.asyncio import connect

    pool = json_messages(size)
    url = f"ws://127.0.0.1:{port}/"
    async with connect(url, max_size=None, ping_interval=None, compression="deflate") as ws:
        if not ws.protocol.extensions:
            raise RuntimeError("permessage-deflate was not negotiated")
        for i in range(50 + messages):
            message = pool[i % len(pool)]
            await ws.send(message)
            if await ws.recv() != message:
                raise RuntimeError("the echo differs from the message")


def _zlib_floor(size: int, messages: int) -> None:
    """Both ends' zlib work for 50 + ``messages`` round trips, with the servers' settings.

    Each message is deflated and inflated twice (once per direction), as
    the client and the server do; half of it is the server's share.
    """
    import zlib

    level, wbits, mem_level = _ZLIB_SETTINGS
    ends = [
        (zlib.compressobj(level, zlib.DEFLATED, -wbits, mem_level), zlib.decompressobj(-wbits))
        for _ in range(2)
    ]
    pool = [m.encode() for m in json_messages(size)]
    for i in range(50 + messages):
        data = pool[i % len(pool)]
        for deflater, inflater in ends:
            wire = deflater.compress(data) + deflater.flush(zlib.Z_SYNC_FLUSH)
            if inflater.decompress(wire) != data:
                raise RuntimeError("zlib did not give the message back")


def _callgrind(out: str) -> list[str]:
    return [
        "env",
        "PYTHONHASHSEED=0",  # the same hashes, and so the same work, in both runs
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
    ]


def _total(impl: str, loop: str, size: int, messages: int, mode: str, folder: str) -> int:
    """The server process's instruction total for one connection of ``messages`` echoes."""
    out = os.path.join(folder, f"callgrind.{impl}.{loop}.{size}.{messages}.{mode}")
    if mode == "compressed" and impl == "zlib":
        command = [*_callgrind(out), os.path.join(_BENCH, "echo_instructions.py"), "zlib-floor"]
        subprocess.run([*command, str(size), str(messages)], check=True, timeout=600, capture_output=True)
    else:
        if mode == "compressed":
            server = [os.path.join(_BENCH, "test_bench_compression.py"), "server", impl, loop, "on"]
        elif impl in FLOORS:
            server = floor_arguments(loop, task=impl == TASK_FLOOR)
        else:
            server = [os.path.join(_BENCH, "echo_servers.py"), "server", impl, loop]
        process, port = start_server([*_callgrind(out), *server], f"{impl} server on {loop} under callgrind")
        try:
            asyncio.run(asyncio.wait_for(_drive(port, size, messages, mode), 600))
        finally:
            stop_process(process)  # SIGTERM: the server ends cleanly and callgrind writes its file
    with open(out, encoding="utf-8", errors="replace") as f:
        match = _TOTAL.search(f.read())
    if match is None:
        raise RuntimeError(f"no instruction total in {out}")
    return int(match.group(1))


def count(impl: str, loop: str, size: int, messages: int, mode: str) -> float:
    """Instructions per echoed message: (total for 2N - total for N) / N."""
    with tempfile.TemporaryDirectory(prefix="fastws-callgrind-") as folder:
        first = _total(impl, loop, size, messages, mode, folder)
        second = _total(impl, loop, size, 2 * messages, mode, folder)
    per_message = (second - first) / messages
    # The floor process did both ends' work: the server's is half.
    return per_message / 2 if mode == "compressed" and impl == "zlib" else per_message


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--impls",
        nargs="+",
        choices=sorted({*IMPLS, *COMPRESSED_IMPLS, *FLOORS}),
        help=(
            "default: fastws, fastws-callback, picows; with --mode compressed: fastws, websockets, zlib; "
            f"{FLOOR}: bench/echo_floor.py, the least a Python protocol costs; "
            f"{TASK_FLOOR}: the same, echoing from a task"
        ),
    )
    parser.add_argument("--loops", nargs="+", choices=LOOPS, default=["uvloop", "asyncio"])
    parser.add_argument(
        "--sizes", nargs="+", type=int, help="bytes (default 32; 1024 with --mode compressed)"
    )
    parser.add_argument(
        "--mode", choices=["roundtrip", "burst", "handshake", "compressed"], default="roundtrip"
    )
    parser.add_argument("--messages", type=int, default=1000, help="N (default 1000)")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("echo_instructions.py needs valgrind (Debian: apt install valgrind)", file=sys.stderr)
        return 2
    if not 1 <= args.messages <= 100_000:
        parser.error("--messages must be within 1 and 100,000")
    compressed = args.mode == "compressed"
    if compressed:
        impls = [i for i in args.impls or COMPRESSED_IMPLS if i == "zlib" or compressed_available(i)]
        if any(i not in COMPRESSED_IMPLS for i in impls):
            parser.error(f"--mode compressed compares {', '.join(COMPRESSED_IMPLS)}")
    else:
        impls = [
            i for i in args.impls or ("fastws", "fastws-callback", "picows") if i in FLOORS or available(i)
        ]
        if "zlib" in impls:
            parser.error("the zlib column is only for --mode compressed")
    what = (
        "connection (connect, upgrade, close)"
        if args.mode == "handshake"
        else f"echoed message ({args.mode})"
    )
    ref_name = "websockets" if compressed else "picows"
    print(f"user-space instructions per {what}, server process (ratio to {ref_name}); {GC_NOTE}")
    print("| loop | size | " + " | ".join(impls) + " |")
    print("|---|---|" + "---|" * len(impls))
    for loop in args.loops:
        if loop == "uvloop" and not available("uvloop"):
            continue
        for size in [0] if args.mode == "handshake" else args.sizes or [1024 if compressed else 32]:
            counts = {}
            for impl in impls:
                print(f"... {impl} on {loop}, {size} B", file=sys.stderr, flush=True)
                counts[impl] = count(impl, loop, size, args.messages, args.mode)
            ref = counts.get(ref_name)
            cells = [
                f"{n:,.0f}" + (f" ({n / ref:.2f}x)" if ref and impl != ref_name else "")
                for impl, n in counts.items()
            ]
            label = "-" if args.mode == "handshake" else f"{size} B"
            print(f"| {loop} | {label} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "zlib-floor":
        _zlib_floor(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit(main())
