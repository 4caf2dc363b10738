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

Run::

    python bench/echo_instructions.py                       # fastws, its callback style, picows; 32 B round trips
    python bench/echo_instructions.py --impls fastws websockets --sizes 32 1024 --mode burst
    python bench/echo_instructions.py --mode handshake --impls fastws websockets aiohttp picows

Needs valgrind (Debian package ``valgrind``); under it a server runs about
50 times slower, so the message counts are small.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sys
import tempfile

from echo_servers import GC_NOTE, IMPLS, LOOPS, _client, available, start_server, stop_process
from handshakes import _one as one_handshake

__all__ = ["count", "main"]

_TOTAL = re.compile(r"^(?:summary|totals): (\d+)", re.M)


async def _drive(port: int, size: int, messages: int, mode: str) -> None:
    """Warm up with 50 messages, then echo ``messages`` more (one at a time, or all at
    once); or, for handshakes, open 20 connections, then ``messages`` more."""
    if mode == "handshake":
        for _ in range(20 + messages):
            await one_handshake(port)
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


def _total(impl: str, loop: str, size: int, messages: int, mode: str, folder: str) -> int:
    """The server process's instruction total for one connection of ``messages`` echoes."""
    out = os.path.join(folder, f"callgrind.{impl}.{loop}.{size}.{messages}.{mode}")
    command = [
        "env",
        "PYTHONHASHSEED=0",  # the same hashes, and so the same work, in both runs
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "echo_servers.py"),
        "server",
        impl,
        loop,
    ]
    process, port = start_server(command, f"{impl} server on {loop} under callgrind")
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
    return (second - first) / messages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impls", nargs="+", choices=IMPLS, default=["fastws", "fastws-callback", "picows"])
    parser.add_argument("--loops", nargs="+", choices=LOOPS, default=["uvloop", "asyncio"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[32])
    parser.add_argument("--mode", choices=["roundtrip", "burst", "handshake"], default="roundtrip")
    parser.add_argument("--messages", type=int, default=1000, help="N (default 1000)")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("echo_instructions.py needs valgrind (Debian: apt install valgrind)", file=sys.stderr)
        return 2
    if not 1 <= args.messages <= 100_000:
        parser.error("--messages must be within 1 and 100,000")
    impls = [impl for impl in args.impls if available(impl)]
    what = (
        "connection (connect, upgrade, close)"
        if args.mode == "handshake"
        else f"echoed message ({args.mode})"
    )
    print(f"user-space instructions per {what}, server process; {GC_NOTE}")
    print("| loop | size | " + " | ".join(impls) + " |")
    print("|---|---|" + "---|" * len(impls))
    for loop in args.loops:
        if loop == "uvloop" and not available("uvloop"):
            continue
        for size in [0] if args.mode == "handshake" else args.sizes:
            counts = {}
            for impl in impls:
                print(f"... {impl} on {loop}, {size} B", file=sys.stderr, flush=True)
                counts[impl] = count(impl, loop, size, args.messages, args.mode)
            ref = counts.get("picows")
            cells = [
                f"{n:,.0f}" + (f" ({n / ref:.2f}x)" if ref and impl != "picows" else "")
                for impl, n in counts.items()
            ]
            label = "-" if args.mode == "handshake" else f"{size} B"
            print(f"| {loop} | {label} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
