"""Load test: many concurrent connections to one fastws server over loopback.

One server process (a fastws echo server) and several client processes
(fastws clients, on source addresses 127.0.0.2, 127.0.0.3, ... so that
ephemeral ports do not run short). The run:

1. the server's RSS with no connection (baseline);
2. every client connection opened: the server's RSS again, divided by the
   number of connections: **memory per idle connection**;
3. for ``--duration`` seconds every connection sends a small message and
   waits for its echo, over and over; the server's largest RSS while that
   runs, minus the baseline, divided by the connections: **memory per active
   connection**; every echo is compared with what was sent;
4. every connection closed with 1000.

It reports messages sent, echoed, lost (sent but never echoed, or echoed
wrong: must be 0) and errors (exceptions anywhere: must be 0), with and
without compression (``compression=None`` and the default
``"deflate"``). RSS comes from ``/proc/self/status`` in the server (Linux).

Usage::

    python bench/load.py                 # 10,000 connections, 60 s of traffic, both settings
    python bench/load.py --quick         # 1,000 connections, 10 s
    python bench/load.py --connections 5000 --duration 30 --clients 4 --compression none

For scale, websockets documents about 14 KiB per connection without
compression and 64 KiB with its default compression settings.

The script raises its own open-file limit (``RLIMIT_NOFILE``) up to the hard
limit; each process needs one descriptor per connection it holds.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import resource
import sys
import time
from typing import Any

__all__ = ["main"]


def _raise_nofile(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _rss() -> int:
    """This process's resident set size, in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


# -- the server process -------------------------------------------------------------


def _serve(implementation: str, echo: Any, compression: str | None) -> Any:
    """The echo server of ``implementation``, as an async context manager."""
    if implementation == "websockets":
        # websockets' asyncio server with the same settings: compression
        # "deflate" is its default permessage-deflate, keepalive off.
        from websockets.asyncio.server import serve as ws_serve

        return ws_serve(echo, "127.0.0.1", 0, compression=compression, ping_interval=None, backlog=4096)
    import fastws

    return fastws.serve(echo, "127.0.0.1", 0, compression=compression, ping_interval=None, backlog=4096)


def _server(pipe: Any, compression: str | None, needed: int, implementation: str = "fastws") -> None:
    _raise_nofile(needed)
    errors: list[str] = []
    handlers: set[Any] = set()

    async def echo(ws: Any) -> None:
        handlers.add(ws)
        try:
            async for message in ws:
                await ws.send(message)
        except Exception as exc:
            # A closed connection ends the loop (both libraries' closed
            # errors are named ConnectionClosed...); anything else is counted.
            if not type(exc).__name__.startswith("ConnectionClosed"):
                errors.append(repr(exc))
        finally:
            handlers.discard(ws)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        async with _serve(implementation, echo, compression) as server:
            pipe.send(("port", server.sockets[0].getsockname()[1]))
            while True:
                command = await loop.run_in_executor(None, pipe.recv)
                if command == "rss":
                    gc.collect()
                    pipe.send(("rss", _rss(), len(handlers)))
                elif command == "quit":
                    break
        pipe.send(("errors", errors))

    try:
        asyncio.run(run())
    except Exception as exc:
        pipe.send(("failed", repr(exc)))


# -- a client process ---------------------------------------------------------------


def _client(pipe: Any, port: int, count: int, source: str, size: int, compression: str | None) -> None:
    _raise_nofile(count + 64)
    import fastws

    async def run() -> None:
        loop = asyncio.get_running_loop()
        errors: list[str] = []
        sockets: list[Any] = []
        gate = asyncio.Semaphore(200)  # connections being opened at once

        async def open_one() -> None:
            async with gate:
                try:
                    ws = await fastws.connect(
                        f"ws://127.0.0.1:{port}/",
                        compression=compression,
                        ping_interval=None,
                        open_timeout=60,
                        # Thousands of closing handshakes at once on a busy
                        # machine: give each one time, a timeout is an error.
                        close_timeout=120,
                        local_addr=(source, 0),
                    )
                except Exception as exc:
                    errors.append(f"connect: {exc!r}")
                    return
                sockets.append(ws)

        await asyncio.gather(*(open_one() for _ in range(count)))
        pipe.send(("connected", len(sockets), errors[:5], len(errors)))

        command, duration = await loop.run_in_executor(None, pipe.recv)
        assert command == "active"
        sent = echoed = wrong = 0
        deadline = time.monotonic() + duration

        async def talk(index: int, ws: Any) -> None:
            nonlocal sent, echoed, wrong
            number = 0
            try:
                while time.monotonic() < deadline:
                    # Small text messages, each one different, JSON-like.
                    message = f'{{"c":{index},"n":{number},"p":"'
                    message += "x" * max(0, size - len(message) - 2) + '"}'
                    await ws.send(message)
                    sent += 1
                    reply = await ws.recv()
                    if reply == message:
                        echoed += 1
                    else:
                        wrong += 1
                    number += 1
            except Exception as exc:
                errors.append(f"talk: {exc!r}")

        await asyncio.gather(*(talk(i, ws) for i, ws in enumerate(sockets)))
        pipe.send(("talked", sent, echoed, wrong, errors[:5], len(errors)))

        assert await loop.run_in_executor(None, pipe.recv) == "close"
        before = len(errors)

        async def close_one(ws: Any) -> None:
            try:
                async with gate:
                    await ws.close(1000)
                if ws.close_code != 1000:
                    errors.append(f"close: code {ws.close_code}")
            except Exception as exc:
                errors.append(f"close: {exc!r}")

        await asyncio.gather(*(close_one(ws) for ws in sockets))
        pipe.send(("closed", errors[before:][:5], len(errors) - before))

    try:
        asyncio.run(run())
    except Exception as exc:
        pipe.send(("failed", repr(exc)))


# -- the driver -----------------------------------------------------------------------


def _expect(pipe: Any, tag: str, timeout: float) -> tuple[Any, ...]:
    if not pipe.poll(timeout):
        raise TimeoutError(f"no {tag!r} within {timeout} s")
    message = pipe.recv()
    if message[0] != tag:
        raise RuntimeError(f"expected {tag!r}, got {message!r}")
    return message  # type: ignore[no-any-return]


def run_once(
    connections: int,
    clients: int,
    duration: float,
    size: int,
    compression: str | None,
    server_impl: str = "fastws",
) -> dict:
    """One full run against ``server_impl``'s echo server; returns the measurements."""
    ctx = multiprocessing.get_context("spawn")
    server_pipe, server_end = ctx.Pipe()
    server = ctx.Process(
        target=_server, args=(server_end, compression, connections + 256, server_impl), daemon=True
    )
    server.start()
    (_, port) = _expect(server_pipe, "port", 30)
    server_pipe.send("rss")
    _, baseline, _ = _expect(server_pipe, "rss", 30)

    per_client = [connections // clients + (1 if i < connections % clients else 0) for i in range(clients)]
    workers = []
    for index, count in enumerate(per_client):
        mine, theirs = ctx.Pipe()
        source = f"127.0.0.{2 + index}"
        process = ctx.Process(
            target=_client, args=(theirs, port, count, source, size, compression), daemon=True
        )
        process.start()
        workers.append((process, mine))

    result: dict[str, Any] = {
        "server": server_impl,
        "compression": compression or "none",
        "connections": connections,
        "clients": clients,
        "duration_s": duration,
        "message_bytes": size,
    }
    start = time.monotonic()
    opened = errors = 0
    samples: list[str] = []
    for _, pipe in workers:
        _, ok, first, failed = _expect(pipe, "connected", 600)
        opened += ok
        errors += failed
        samples += first
    result["open_s"] = round(time.monotonic() - start, 1)
    result["opened"] = opened
    server_pipe.send("rss")
    _, idle_rss, held = _expect(server_pipe, "rss", 60)
    result["server_connections"] = held
    result["idle_bytes_per_connection"] = round((idle_rss - baseline) / max(opened, 1))

    for _, pipe in workers:
        pipe.send(("active", duration))
    peak = idle_rss
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        server_pipe.send("rss")
        _, now, _ = _expect(server_pipe, "rss", 60)
        peak = max(peak, now)
    sent = echoed = wrong = 0
    for _, pipe in workers:
        _, s, e, w, first, failed = _expect(pipe, "talked", duration + 300)
        sent, echoed, wrong = sent + s, echoed + e, wrong + w
        errors += failed
        samples += first
    server_pipe.send("rss")
    _, after, _ = _expect(server_pipe, "rss", 60)
    peak = max(peak, after)
    result["active_bytes_per_connection"] = round((peak - baseline) / max(opened, 1))
    result["messages_sent"] = sent
    result["messages_echoed"] = echoed
    result["messages_per_s"] = round(echoed / duration)
    result["lost"] = sent - echoed

    for _, pipe in workers:
        pipe.send("close")
    for _, pipe in workers:
        _, first, failed = _expect(pipe, "closed", 300)
        errors += failed
        samples += first
    server_pipe.send("quit")
    _, server_errors = _expect(server_pipe, "errors", 60)
    errors += len(server_errors)
    samples += server_errors[:5]
    result["errors"] = errors
    result["error_samples"] = samples[:10]
    for process, _ in workers:
        process.join(30)
    server.join(30)
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the load test; exit status 1 if a message was lost or an error seen."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of traffic")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--size", type=int, default=64, help="bytes per message")
    parser.add_argument("--compression", choices=["none", "deflate", "both"], default="both")
    parser.add_argument(
        "--server",
        choices=["fastws", "websockets", "both"],
        default="fastws",
        help="whose echo server (the clients are fastws's); both: one after the other, in one run",
    )
    parser.add_argument("--quick", action="store_true", help="1,000 connections, 10 s")
    parser.add_argument("--json", action="store_true", help="print the results as JSON lines")
    args = parser.parse_args(argv)
    if args.quick:
        args.connections, args.duration = 1_000, 10.0
    if not sys.platform.startswith("linux"):
        print("load.py reads RSS from /proc: Linux only", file=sys.stderr)
        return 2
    limit = _raise_nofile(args.connections + 256)
    if limit < args.connections + 64:
        print(f"open-file limit {limit} is too low for {args.connections} connections", file=sys.stderr)
        return 2
    settings = {"none": [None], "deflate": ["deflate"], "both": [None, "deflate"]}[args.compression]
    servers = ["fastws", "websockets"] if args.server == "both" else [args.server]
    status = 0
    for compression, server_impl in [(c, i) for c in settings for i in servers]:
        try:
            result = run_once(
                args.connections, args.clients, args.duration, args.size, compression, server_impl
            )
        except Exception as exc:
            result = {"server": server_impl, "compression": compression or "none", "failed": repr(exc)}
            status = 1
        result["gc"] = "on"  # the servers run as applications do
        if args.json:
            print(json.dumps(result), flush=True)
        else:
            print(f"\n== {result['server']} server, compression={result['compression']} ==")
            for key, value in result.items():
                if key == "error_samples" and not value:
                    continue
                print(f"  {key:28} {value}")
            for key in ("idle_bytes_per_connection", "active_bytes_per_connection"):
                if key in result:
                    print(f"  {key.replace('bytes', 'KiB'):28} {result[key] / 1024:.1f}")
        if result.get("lost", 1) or result.get("errors", 1):
            status = 1
    return status


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
