"""Broadcast fan-out benchmark: one message to many loopback connections.

Usage::

    python bench/broadcast.py                  # 1,000 and 10,000 connections, 7 rounds, then Redis
    python bench/broadcast.py --quick          # 200 connections, one round: a smoke run
    python bench/broadcast.py --connections 10000 --compression none --rounds 9
    python bench/broadcast.py --only pubsub --subscribers 1000 --messages 1000
    python bench/broadcast.py --json results.json

**Fan-out in one process.** For each compression setting (``none``;
``no-context``: permessage-deflate with ``server_no_context_takeover``;
``context``: permessage-deflate with context takeover, the default), two
server processes run side by side, each with every client connected to it:
a fastws server (``fastws.serve``) and a websockets server
(``websockets.asyncio.server.serve``), with the same compression settings
(12-bit windows, memLevel 5, zlib's default level: both libraries'
defaults). On command, a server sends one text message (64 B or 4 KiB,
JSON-like) to all its connections with one of these methods:

* ``floor``: a ready-made frame written with one ``socket.send`` per
  connection on the transport's raw socket (for ``no-context``, the frame
  compressed once beforehand; none for ``context``, where no frame fits all);
* ``fastws-broadcast``: ``fastws.broadcast(connections, message)``;
* ``fastws-send``: ``for ws in connections: await ws.send(message)``;
* ``websockets-broadcast``: ``websockets.broadcast(connections, message)``;
* ``websockets-send``: the same loop of ``await ws.send(message)`` on websockets.

The server records CLOCK_REALTIME just before it starts and its thread's CPU
time until the sends are handed to the kernel (for the loops, until the last
``await`` returns). The clients are processes of this script (on source
addresses 127.0.0.2, 127.0.0.3, ... so that ephemeral ports do not run
short) holding raw sockets that did the opening handshake themselves,
offering permessage-deflate when compression is measured. They block on
their control pipe while the server sends, so that they take no CPU from
it; then they read every socket with ``recvmsg`` and ``SO_TIMESTAMPNS``
(the kernel's receive time of the bytes, CLOCK_REALTIME), inflate the
payload with zlib and check it. Reported per cell: the latest and the median
arrival after the server's start, and the server's CPU time, each the
median of the rounds; the ratios are taken round by round (the methods of a
round run one after the other on the same clients, in an order that turns
from round to round) and their median reported.

**Across processes.** ``fastws serve broadcast_app:handler --workers 2
--redis URL`` with a redis-server started for the run (or ``--redis``):
subscribers (1,000) connect and are split among the two workers by
``SO_REUSEPORT``; one publisher connection sends M messages of 64 B as fast
as it can; its worker publishes each to its own subscribers and, through
Redis, to the other worker's. Each subscriber counts what it receives; the
result is messages x subscribers / elapsed (from the first message sent to
the last one received), and the messages lost (must be 0).

The script raises its open-file limit (``RLIMIT_NOFILE``) up to the hard
limit; Linux only (``SO_TIMESTAMPNS``, ``SO_REUSEPORT``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import gc
import json
import multiprocessing
import os
import platform
import resource
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from array import array
from typing import Any

__all__ = [
    "COMPRESSIONS",
    "METHODS",
    "SIZES",
    "Cell",
    "PubSubResult",
    "Sample",
    "format_pubsub",
    "format_table",
    "main",
    "measure_fanout",
    "measure_pubsub",
    "summarize",
]

METHODS = ("floor", "fastws-broadcast", "fastws-send", "websockets-broadcast", "websockets-send")
#: The server each method runs on.
SERVER_OF = {
    "floor": "fastws",
    "fastws-broadcast": "fastws",
    "fastws-send": "fastws",
    "websockets-broadcast": "websockets",
    "websockets-send": "websockets",
}
COMPRESSIONS = ("none", "no-context", "context")
SIZES = (64, 4096)
#: What the ratios compare with.
REFERENCE = "websockets-broadcast"

#: Linux's SO_TIMESTAMPNS (= SCM_TIMESTAMPNS), which the socket module does not name.
SO_TIMESTAMPNS = 35
_ANCILLARY = socket.CMSG_SPACE(16)  # struct timespec
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_OFFERS = {
    "none": None,
    "no-context": "permessage-deflate; server_no_context_takeover; client_max_window_bits",
    "context": "permessage-deflate; client_max_window_bits",
}


def _raise_nofile(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def make_message(size: int, seq: int) -> str:
    """A JSON-like text message of exactly ``size`` bytes (at least 32), numbered ``seq``."""
    text = f'{{"seq":{seq:08d},"ticks":['
    i = 0
    while len(text) < size:
        text += f'{{"id":{i},"sym":"S{i % 97:02d}","px":{(i * 7919) % 10007 / 100:.2f}}},'
        i += 1
    return text[: size - 2] + "]}"


# -- the servers (one process each) ------------------------------------------------------


def _fastws_compression(compression: str, backend: str) -> Any:
    if compression == "none":
        return None
    from fastws.extensions.permessage_deflate import ServerPerMessageDeflateFactory

    # fastws's defaults: 12-bit windows, memLevel 5, zlib's default level.
    return ServerPerMessageDeflateFactory(
        server_no_context_takeover=compression == "no-context", backend=backend
    )


def _websockets_extensions(compression: str) -> list[Any]:
    if compression == "none":
        return []
    from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

    # websockets's own defaults for compression="deflate", with the
    # no-context-takeover flag of the cell: the same settings as fastws's.
    return [
        ServerPerMessageDeflateFactory(
            server_no_context_takeover=compression == "no-context",
            server_max_window_bits=12,
            client_max_window_bits=12,
            compress_settings={"memLevel": 5},
        )
    ]


def _server(pipe: Any, impl: str, compression: str, backend: str, needed: int) -> None:
    _raise_nofile(needed)
    try:
        asyncio.run(_serve(pipe, impl, compression, backend))
    except Exception as exc:
        pipe.send(("failed", repr(exc)))
    pipe.close()
    # Exit without closing thousands of connections one by one: the clients
    # are gone already, and the kernel closes the sockets.
    os._exit(0)


async def _serve(pipe: Any, impl: str, compression: str, backend: str) -> None:
    loop = asyncio.get_running_loop()
    connections: dict[Any, None] = {}

    async def handler(ws: Any) -> None:
        connections[ws] = None
        try:
            await ws.wait_closed()
        finally:
            connections.pop(ws, None)

    if impl == "fastws":
        from fastws.asyncio import broadcast, serve

        server = await serve(
            handler,
            "127.0.0.1",
            0,
            compression=_fastws_compression(compression, backend),
            ping_interval=None,
            open_timeout=120,
            backlog=4096,
        )
    else:
        from websockets.asyncio.server import broadcast, serve  # type: ignore[no-redef]

        server = await serve(
            handler,
            "127.0.0.1",
            0,
            compression=None,
            extensions=_websockets_extensions(compression),
            ping_interval=None,
            open_timeout=120,
            backlog=4096,
        )
    pipe.send(("port", server.sockets[0].getsockname()[1]))
    done: asyncio.Future[None] = loop.create_future()
    busy: list[asyncio.Task[None]] = []

    async def run(method: str, message: str) -> None:
        targets = list(connections)
        frame = b""
        sockets: list[Any] = []
        if method == "floor":
            from fastws.asyncio.fanout import _Frames
            from fastws.constants import Opcode

            frame = _Frames(Opcode.TEXT, message.encode()).for_protocol(targets[0].protocol) or b""
            if not frame:
                raise RuntimeError("no ready-made frame fits these connections (context takeover)")
            for ws in targets:
                transport_socket = ws.transport.get_extra_info("socket")
                sockets.append(getattr(transport_socket, "_sock", transport_socket))
        gc.collect()
        sent = len(targets)
        if method == "floor":
            start = time.time_ns()
            cpu = time.thread_time_ns()
            for sock in sockets:
                sock.send(frame)
            cpu = time.thread_time_ns() - cpu
        elif method.endswith("-broadcast"):
            start = time.time_ns()
            cpu = time.thread_time_ns()
            result = broadcast(targets, message)
            cpu = time.thread_time_ns() - cpu
            if result is not None:  # fastws's BroadcastResult; websockets's returns None
                sent = result.sent
        else:
            start = time.time_ns()
            cpu = time.thread_time_ns()
            for ws in targets:
                await ws.send(message)
            cpu = time.thread_time_ns() - cpu
        pipe.send(("ran", start, cpu, sent))

    def on_command() -> None:
        try:
            command = pipe.recv()
        except EOFError:
            command = ("quit",)
        if command[0] == "count":
            pipe.send(("count", len(connections)))
        elif command[0] == "run":
            task = loop.create_task(run(command[1], command[2]))
            busy.append(task)
            task.add_done_callback(_report_failure(pipe))
        elif command[0] == "quit" and not done.done():
            done.set_result(None)

    loop.add_reader(pipe.fileno(), on_command)
    await done


def _report_failure(pipe: Any) -> Any:
    def report(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            pipe.send(("failed", repr(task.exception())))

    return report


# -- the clients (several processes) -----------------------------------------------------------


def _handshake_request(port: int, path: str, offer: str | None) -> tuple[bytes, bytes]:
    key = base64.b64encode(os.urandom(16))
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key.decode()}",
        "Sec-WebSocket-Version: 13",
    ]
    if offer:
        lines.append(f"Sec-WebSocket-Extensions: {offer}")
    import hashlib

    accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), accept


def _read_response(sock: socket.socket, accept: bytes) -> tuple[str, bytearray]:
    """Read a 101 response; return its extensions header and the bytes after it."""
    data = bytearray()
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("connection closed during the handshake")
        data += chunk
    head, _, rest = bytes(data).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1.1 101"):
        raise ConnectionError(f"handshake refused: {lines[0]}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("sec-websocket-accept", "").encode() != accept:
        raise ConnectionError("wrong Sec-WebSocket-Accept")
    return headers.get("sec-websocket-extensions", ""), bytearray(rest)


def _inflater(extensions: str) -> Any:
    """A raw-deflate decompressor for the negotiated extension, or None."""
    if not extensions:
        return None
    bits = 15
    for param in extensions.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name == "server_max_window_bits" and value:
            bits = int(value.strip('"'))
    return zlib.decompressobj(-max(bits, 9))


def _frame_bounds(buf: bytearray | bytes) -> tuple[int, int] | None:
    """(payload start, frame end) of the first frame of ``buf``, or None if incomplete."""
    if len(buf) < 2:
        return None
    length = buf[1] & 0x7F
    start = 2
    if length == 126:
        if len(buf) < 4:
            return None
        length, start = int.from_bytes(buf[2:4], "big"), 4
    elif length == 127:
        if len(buf) < 10:
            return None
        length, start = int.from_bytes(buf[2:10], "big"), 10
    if buf[1] & 0x80:
        raise ValueError("masked frame from a server")
    end = start + length
    return (start, end) if len(buf) >= end else None


class _Peer:
    """One raw client connection: socket, pending bytes, inflater."""

    __slots__ = ("buffer", "extensions", "inflater", "sock")

    def __init__(self, sock: socket.socket, extensions: str, rest: bytearray) -> None:
        self.sock = sock
        self.extensions = extensions
        self.inflater = _inflater(extensions)
        self.buffer = rest

    def read_message(self) -> tuple[str, int]:
        """Read one whole text message; return it and the kernel's receive time (ns).

        The time is that of the last bytes read, 0 if none had to be read.
        """
        buffer = self.buffer
        stamp = 0
        while True:
            bounds = _frame_bounds(buffer)
            if bounds is not None:
                break
            data, ancillary, _, _ = self.sock.recvmsg(65536, _ANCILLARY)
            if not data:
                raise ConnectionError("connection closed")
            buffer += data
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
                    seconds, nanoseconds = struct.unpack("qq", value[:16])
                    stamp = seconds * 1_000_000_000 + nanoseconds
        start, end = bounds
        first, payload = buffer[0], bytes(buffer[start:end])
        del buffer[:end]
        if first & 0x0F != 0x1 or not first & 0x80:
            raise ValueError(f"expected one whole text frame, got first byte 0x{first:02x}")
        if first & 0x40:  # RSV1: compressed (RFC 7692)
            if self.inflater is None:
                raise ValueError("compressed frame without permessage-deflate")
            payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
        return payload.decode(), stamp


def _open_peers(
    port: int, count: int, source: str, offer: str | None, path: str = "/", rcvbuf: int | None = None
) -> list[_Peer]:
    """Open ``count`` connections and do their handshakes, a batch at a time.

    ``rcvbuf``: the sockets' receive buffer (``SO_RCVBUF``, before connecting,
    so that the TCP window scale fits it); None leaves the kernel's default.
    """
    peers: list[_Peer] = []
    batch = 100
    while len(peers) < count:
        pending = []
        for _ in range(min(batch, count - len(peers))):
            sock = socket.socket()
            sock.settimeout(120)
            sock.bind((source, 0))
            if rcvbuf is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.connect(("127.0.0.1", port))
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request, accept = _handshake_request(port, path, offer)
            sock.sendall(request)
            pending.append((sock, accept))
        for sock, accept in pending:
            extensions, rest = _read_response(sock, accept)
            peers.append(_Peer(sock, extensions, rest))
    return peers


def _client(pipe: Any, ports: dict[str, int], count: int, source: str, compression: str) -> None:
    _raise_nofile(count * len(ports) + 64)
    try:
        groups = {
            impl: _open_peers(port, count, source, _OFFERS[compression]) for impl, port in ports.items()
        }
    except Exception as exc:
        pipe.send(("failed", f"connect: {exc!r}"))
        return
    pipe.send(("connected", {impl: peers[0].extensions if peers else "" for impl, peers in groups.items()}))
    while True:
        command = pipe.recv()
        if command[0] == "quit":
            break
        _, impl, expected = command
        stamps = array("q")
        errors = 0
        first_error = ""
        for peer in groups[impl]:
            try:
                message, stamp = peer.read_message()
                if message != expected:
                    raise ValueError("the message differs from the one sent")
                if not stamp:
                    raise ValueError("no kernel receive time: the bytes were read before the broadcast")
                stamps.append(stamp)
            except Exception as exc:
                errors += 1
                first_error = first_error or repr(exc)
        pipe.send(("arrivals", stamps.tobytes(), errors, first_error))
    for peers in groups.values():
        for peer in peers:
            peer.sock.close()
    pipe.send(("closed",))


# -- the driver ----------------------------------------------------------------------------


@dataclasses.dataclass
class Sample:
    """One broadcast: one method, one round."""

    method: str
    connections: int
    size: int
    compression: str
    round: int
    latest_ms: float
    median_ms: float
    cpu_ms: float


def _expect(pipe: Any, tag: str, timeout: float) -> tuple[Any, ...]:
    if not pipe.poll(timeout):
        raise TimeoutError(f"no {tag!r} within {timeout} s")
    message = pipe.recv()
    if message[0] != tag:
        raise RuntimeError(f"expected {tag!r}, got {message!r}")
    return message  # type: ignore[no-any-return]


def _check_extensions(compression: str, extensions: str) -> None:
    negotiated = extensions.split(";")[0].strip() == "permessage-deflate"
    no_context = "server_no_context_takeover" in extensions
    if (compression == "none" and negotiated) or (compression != "none" and not negotiated):
        raise RuntimeError(f"{compression}: the server answered {extensions!r}")
    if negotiated and no_context != (compression == "no-context"):
        raise RuntimeError(f"{compression}: the server answered {extensions!r}")


def measure_fanout(
    connections: int,
    compression: str,
    *,
    sizes: tuple[int, ...] = SIZES,
    methods: tuple[str, ...] = METHODS,
    rounds: int = 7,
    clients: int = 4,
    first_seq: int = 0,
    progress: bool = False,
    backend: str = "zlib",
) -> list[Sample]:
    """Start the servers and clients of one compression setting, broadcast, stop them.

    Args:
        connections: connections per server.
        compression: ``none``, ``no-context`` or ``context``.
        sizes: message sizes, in bytes.
        methods: among :data:`METHODS` (``floor`` is left out for ``context``).
        rounds: broadcasts per method and size.
        clients: client processes.
        first_seq: number of the first message (each message is different).
        progress: print a line per round on stderr.
        backend: the fastws server's deflate backend (``zlib``, as
            websockets; or ``zlib-ng``, ``isal``).

    Returns:
        one sample per method, size and round.

    Raises:
        RuntimeError: a process failed, or a message was lost or wrong.
    """
    if compression == "context":
        methods = tuple(m for m in methods if m != "floor")
    impls = sorted({SERVER_OF[m] for m in methods})
    ctx = multiprocessing.get_context("spawn")
    processes: list[Any] = []
    servers: dict[str, Any] = {}
    client_pipes: list[Any] = []
    try:
        for impl in impls:
            mine, theirs = ctx.Pipe()
            process = ctx.Process(
                target=_server, args=(theirs, impl, compression, backend, connections + 256), daemon=True
            )
            process.start()
            processes.append(process)
            servers[impl] = mine
        ports = {impl: _expect(pipe, "port", 60)[1] for impl, pipe in servers.items()}
        share = [connections // clients + (1 if i < connections % clients else 0) for i in range(clients)]
        for index, count in enumerate(share):
            if not count:
                continue
            mine, theirs = ctx.Pipe()
            process = ctx.Process(
                target=_client, args=(theirs, ports, count, f"127.0.0.{2 + index}", compression), daemon=True
            )
            process.start()
            processes.append(process)
            client_pipes.append(mine)
        for pipe in client_pipes:
            message = pipe.recv() if pipe.poll(600) else ("failed", "no answer within 600 s")
            if message[0] != "connected":
                raise RuntimeError(f"client: {message[1]}")
            for extensions in message[1].values():
                _check_extensions(compression, extensions)
        for impl, pipe in servers.items():
            deadline = time.monotonic() + 60
            while True:
                pipe.send(("count",))
                held = _expect(pipe, "count", 60)[1]
                if held >= connections:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{impl} server holds {held} of {connections} connections")
                time.sleep(0.05)

        def broadcast_once(method: str, message: str) -> tuple[int, int, array[int]]:
            pipe = servers[SERVER_OF[method]]
            pipe.send(("run", method, message))
            _, start, cpu, sent = _expect(pipe, "ran", 600)
            if sent != connections:
                raise RuntimeError(f"{method}: sent to {sent} of {connections} connections")
            for client in client_pipes:
                client.send(("collect", SERVER_OF[method], message))
            stamps = array("q")
            for client in client_pipes:
                _, data, errors, first_error = _expect(client, "arrivals", 600)
                if errors:
                    raise RuntimeError(f"{method}: {errors} message(s) lost or wrong: {first_error}")
                stamps.frombytes(data)
            return start, cpu, stamps

        seq = first_seq
        # Warm-up, not measured: the first message on a connection costs more
        # (buffers allocated in the kernel and in the libraries).
        for method in methods:
            seq += 1
            broadcast_once(method, make_message(min(sizes), seq))
        samples = []
        for round_ in range(rounds):
            # The order of the methods turns from round to round.
            shift = round_ % len(methods)
            order = methods[shift:] + methods[:shift]
            for size in sizes:
                for method in order:
                    seq += 1
                    start, cpu, stamps = broadcast_once(method, make_message(size, seq))
                    samples.append(
                        Sample(
                            method,
                            connections,
                            size,
                            compression,
                            round_,
                            (max(stamps) - start) / 1e6,
                            (statistics.median(stamps) - start) / 1e6,
                            cpu / 1e6,
                        )
                    )
            if progress:
                print(f"    round {round_ + 1}/{rounds} done", file=sys.stderr, flush=True)
        return samples
    finally:
        for pipe in client_pipes:
            try:
                pipe.send(("quit",))
            except OSError:
                pass
        for pipe in client_pipes:
            if pipe.poll(60):
                pipe.recv()
        for pipe in servers.values():
            try:
                pipe.send(("quit",))
            except OSError:
                pass
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
                process.join(10)


@dataclasses.dataclass
class Cell:
    """The rounds of one method, connection count, size and compression, summarized."""

    method: str
    connections: int
    size: int
    compression: str
    rounds: int
    latest_ms: float
    median_ms: float
    cpu_ms: float
    #: time ratios to the floor (1.00 = the floor; None without a floor)
    latest_vs_floor: float | None
    cpu_vs_floor: float | None
    #: speed ratios to websockets.broadcast (above 1: faster than it)
    latest_speedup: float | None
    cpu_speedup: float | None
    #: the lowest and highest round-by-round speed-up of the latest arrival
    latest_speedup_range: tuple[float, float] | None


def _paired(samples: list[Sample], other: list[Sample], invert: bool, field: str) -> list[float]:
    theirs = {s.round: getattr(s, field) for s in other}
    ratios = []
    for sample in samples:
        if sample.round in theirs and getattr(sample, field) > 0 and theirs[sample.round] > 0:
            mine = getattr(sample, field)
            ratios.append(theirs[sample.round] / mine if invert else mine / theirs[sample.round])
    return ratios


def summarize(samples: list[Sample]) -> list[Cell]:
    """One cell per (method, connections, size, compression): medians of the rounds, paired ratios."""
    groups: dict[tuple[str, int, int, str], list[Sample]] = {}
    for sample in samples:
        groups.setdefault((sample.method, sample.connections, sample.size, sample.compression), []).append(
            sample
        )

    def median(values: list[float]) -> float | None:
        return round(statistics.median(values), 3) if values else None

    cells = []
    for (method, connections, size, compression), mine in groups.items():
        floor = groups.get(("floor", connections, size, compression), [])
        reference = groups.get((REFERENCE, connections, size, compression), [])
        speedups = _paired(mine, reference, True, "latest_ms")
        cells.append(
            Cell(
                method,
                connections,
                size,
                compression,
                len(mine),
                round(statistics.median(s.latest_ms for s in mine), 3),
                round(statistics.median(s.median_ms for s in mine), 3),
                round(statistics.median(s.cpu_ms for s in mine), 3),
                median(_paired(mine, floor, False, "latest_ms")),
                median(_paired(mine, floor, False, "cpu_ms")),
                median(speedups),
                median(_paired(mine, reference, True, "cpu_ms")),
                (round(min(speedups), 2), round(max(speedups), 2)) if speedups else None,
            )
        )
    order = {m: i for i, m in enumerate(METHODS)}
    cells.sort(key=lambda c: (COMPRESSIONS.index(c.compression), c.connections, c.size, order[c.method]))
    return cells


def _size(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size // 1024} KiB"


def _ratio(value: float | None, suffix: str = "x") -> str:
    return "-" if value is None else f"{value:.2f}{suffix}"


def format_table(cells: list[Cell]) -> str:
    """The cells as a Markdown table."""
    lines = [
        "| compression | connections | size | implementation | latest ms | median ms | server CPU ms "
        "| latest / floor | CPU / floor | speed-up vs websockets.broadcast (latest; CPU) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        lines.append(
            f"| {c.compression} | {c.connections:,} | {_size(c.size)} | {c.method} | {c.latest_ms:.2f} "
            f"| {c.median_ms:.2f} | {c.cpu_ms:.2f} | {_ratio(c.latest_vs_floor)} | {_ratio(c.cpu_vs_floor)} "
            f"| {_ratio(c.latest_speedup)}; {_ratio(c.cpu_speedup)} |"
        )
    return "\n".join(lines)


def targets(cells: list[Cell]) -> list[str]:
    """The issue's targets at the largest connection count, each ``met`` or ``MISSED``."""
    if not cells:
        return []
    top = max(c.connections for c in cells)
    lines = []
    for c in cells:
        if c.method != "fastws-broadcast" or c.connections != top:
            continue
        where = f"{c.compression}, {c.connections:,} connections, {_size(c.size)}"
        checks = []
        if c.compression == "none":
            if c.latest_vs_floor is not None:
                checks.append(
                    (f"latest arrival {c.latest_vs_floor:.2f}x the floor (<= 1.3x)", c.latest_vs_floor <= 1.3)
                )
            if c.latest_speedup is not None:
                checks.append((f"{c.latest_speedup:.2f}x websockets.broadcast (> 1x)", c.latest_speedup > 1))
        elif c.compression == "no-context" and c.latest_speedup is not None:
            checks.append((f"{c.latest_speedup:.2f}x websockets.broadcast (>= 3x)", c.latest_speedup >= 3))
        elif c.compression == "context" and c.latest_speedup is not None:
            checks.append((f"{c.latest_speedup:.2f}x websockets.broadcast (>= 1x)", c.latest_speedup >= 1))
        for text, ok in checks:
            lines.append(f"{'met   ' if ok else 'MISSED'}  {where}: {text}")
    return lines


# -- across processes: two workers and Redis ------------------------------------------------------


@dataclasses.dataclass
class PubSubResult:
    """One cross-process run."""

    subscribers: int
    per_worker: list[int]
    messages: int
    size: int
    seconds: float
    delivered: int
    lost: int
    #: CPU time of the workers' main threads during the run, added up
    server_cpu_s: float
    #: seconds until each worker's subscribers had every message; this list
    #: and ``per_worker`` start with the publisher's worker
    per_worker_s: list[float]

    @property
    def server_us_per_delivery(self) -> float:
        """Workers' CPU time per message delivered to one subscriber, in microseconds."""
        return self.server_cpu_s * 1e6 / self.delivered if self.delivered else 0.0

    @property
    def deliveries_per_s(self) -> float:
        """Messages received, all subscribers together, per second."""
        return self.delivered / self.seconds if self.seconds else 0.0

    @property
    def messages_per_s(self) -> float:
        """Messages published per second, each delivered to every subscriber."""
        return self.messages / self.seconds if self.seconds else 0.0


def _start_redis() -> tuple[subprocess.Popen[bytes], str, str]:
    executable = shutil.which("redis-server")
    if executable is None:
        raise RuntimeError(
            "redis-server is not installed (scripts/setup.sh installs it); or give --redis URL"
        )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="fastws-bench-redis-")
    process = subprocess.Popen(
        [
            executable,
            "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", folder, "--protected-mode", "no", "--loglevel", "warning",
        ],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return process, f"redis://127.0.0.1:{port}/0", folder


def _cpu_ns(pid: int) -> int:
    """CPU time the process's main thread has run (``/proc/PID/schedstat``), in nanoseconds."""
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0])


def _redis_command(url: str, *words: str) -> bytes:
    host, _, rest = url.removeprefix("redis://").partition(":")
    port = int(rest.split("/")[0])
    request = f"*{len(words)}\r\n".encode() + b"".join(
        f"${len(w.encode())}\r\n{w}\r\n".encode() for w in words
    )
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(request)
        return sock.recv(4096)


def _numsub(url: str, channel: str) -> int:
    """How many clients are subscribed to ``channel`` (``PUBSUB NUMSUB``)."""
    reply = _redis_command(url, "PUBSUB", "NUMSUB", channel)
    return int(reply.rstrip(b"\r\n").rpartition(b":")[2])


def _wait_redis(url: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if _redis_command(url, "PING").startswith(b"+PONG"):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("redis-server did not start")
        time.sleep(0.05)


def _subscriber(pipe: Any, port: int, count: int, source: str, rcvbuf: int) -> None:
    _raise_nofile(count + 64)
    from fastws import FrameParser, Opcode, encode_frame

    try:
        # A subscriber that falls behind must not lose messages for being
        # slower than the servers (fastws skips a connection whose write
        # buffer is above its limit): a receive buffer that holds the run.
        peers = _open_peers(port, count, source, None, "/subscribe", rcvbuf=rcvbuf)
        workers: dict[str, int] = {}
        worker_of = {}
        for peer in peers:
            text, _ = peer.read_message()
            worker = text.split()[1]
            workers[worker] = workers.get(worker, 0) + 1
            worker_of[peer.sock.fileno()] = worker
    except Exception as exc:
        pipe.send(("failed", f"subscribe: {exc!r}"))
        return
    pipe.send(("connected", workers))
    _, expected, last, timeout = pipe.recv()
    poller = select.epoll()
    by_fd = {}
    for peer in peers:
        peer.sock.setblocking(False)
        poller.register(peer.sock.fileno(), select.EPOLLIN)
        by_fd[peer.sock.fileno()] = peer
    parsers = {fd: FrameParser(require_mask=False) for fd in by_fd}
    counts = dict.fromkeys(by_fd, 0)
    lasts: dict[int, bytes] = {}
    waiting = len(by_fd)
    finished = time.time_ns()
    per_worker = dict.fromkeys(workers, 0)
    deadline = time.monotonic() + timeout
    errors = 0
    while waiting and time.monotonic() < deadline:
        for fd, _ in poller.poll(1.0):
            sock = by_fd[fd].sock
            try:
                data = sock.recv(262144)
            except BlockingIOError:
                continue
            if not data:
                poller.unregister(fd)
                errors += 1
                waiting -= 1
                continue
            before = counts[fd]
            for frame in parsers[fd].feed(data):
                if frame.opcode == Opcode.TEXT:
                    counts[fd] += 1
                    lasts[fd] = frame.payload
                elif frame.opcode == Opcode.PING:
                    sock.setblocking(True)
                    sock.sendall(encode_frame(Opcode.PONG, frame.payload, mask=True))
                    sock.setblocking(False)
            if before < expected <= counts[fd]:
                waiting -= 1
                finished = per_worker[worker_of[fd]] = time.time_ns()
    wrong = sum(1 for fd in by_fd if counts[fd] >= expected and lasts.get(fd) != last)
    pipe.send(("done", finished, sum(min(c, expected) for c in counts.values()), errors + wrong, per_worker))
    for peer in peers:
        peer.sock.close()


def measure_pubsub(
    subscribers: int = 1000,
    messages: int = 1000,
    *,
    size: int = 64,
    clients: int = 2,
    workers: int = 2,
    redis_url: str | None = None,
    timeout: float = 120,
) -> PubSubResult:
    """``fastws serve broadcast_app:handler --workers N --redis URL``: one publisher, many subscribers.

    Raises:
        RuntimeError: a process failed or did not start.
    """
    redis_process = folder = None
    if redis_url is None:
        redis_process, redis_url, folder = _start_redis()
    ctx = multiprocessing.get_context("spawn")
    server = None
    processes: list[Any] = []
    pipes: list[Any] = []
    # The server's log goes to a file, shown if the run fails.
    log = tempfile.TemporaryFile(mode="w+")
    try:
        _wait_redis(redis_url)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = subprocess.Popen(
            [
                sys.executable, "-m", "fastws", "serve", "broadcast_app:handler",
                "--port", str(port), "--workers", str(workers), "--redis", redis_url,
            ],
            cwd=os.path.dirname(os.path.abspath(__file__)),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )  # fmt: skip
        assert server.stdout is not None
        for _ in range(workers):
            line = server.stdout.readline()
            if not line.startswith("listening on"):
                raise RuntimeError(f"fastws serve did not start: {line!r}")
        share = [subscribers // clients + (1 if i < subscribers % clients else 0) for i in range(clients)]
        for index, count in enumerate(share):
            mine, theirs = ctx.Pipe()
            process = ctx.Process(
                target=_subscriber,
                args=(theirs, port, count, f"127.0.0.{2 + index}", max(1 << 16, 2 * messages * (size + 8))),
                daemon=True,
            )
            process.start()
            processes.append(process)
            pipes.append(mine)
        split: dict[str, int] = {}
        for pipe in pipes:
            message = pipe.recv() if pipe.poll(300) else ("failed", "no answer within 300 s")
            if message[0] != "connected":
                raise RuntimeError(f"subscriber: {message[1]}")
            for pid, count in message[1].items():
                split[pid] = split.get(pid, 0) + count
        # Every worker with subscribers must have subscribed to the topic's channel.
        deadline = time.monotonic() + 30
        while _numsub(redis_url, "fastws:bench") < len(split):
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not subscribe to the topic in Redis")
            time.sleep(0.05)

        texts = [f"{seq:0{size}d}"[-size:] for seq in range(messages)]
        from fastws import Opcode, encode_frame

        frames = b"".join(encode_frame(Opcode.TEXT, t.encode(), mask=True) for t in texts)
        publisher_peer = _open_peers(port, 1, "127.0.0.1", None, "/publish")[0]
        publisher = publisher_peer.sock
        home = publisher_peer.read_message()[0].split()[1]  # the publisher's worker
        for pipe in pipes:
            pipe.send(("go", messages, texts[-1].encode(), timeout))
        cpu = sum(_cpu_ns(int(pid)) for pid in split)
        start = time.time_ns()
        publisher.sendall(frames)
        finished = start
        delivered = errors = 0
        worker_done = dict.fromkeys(split, start)
        for pipe in pipes:
            _, done, received, failed, per_worker = _expect(pipe, "done", timeout + 60)
            for pid, when in per_worker.items():
                worker_done[pid] = max(worker_done[pid], when)
            finished = max(finished, done)
            delivered += received
            errors += failed
        cpu = sum(_cpu_ns(int(pid)) for pid in split) - cpu
        publisher.close()
        if errors:
            raise RuntimeError(f"{errors} subscriber(s) closed or got a wrong last message")
        if delivered < messages * subscribers:
            log.seek(0)
            print(log.read()[-4000:], file=sys.stderr)
        order = sorted(split, key=lambda pid: pid != home)  # the publisher's worker first
        result = PubSubResult(
            subscribers,
            [split[pid] for pid in order],
            messages,
            size,
            (finished - start) / 1e9,
            delivered,
            messages * subscribers - delivered,
            cpu / 1e9,
            [round((worker_done[pid] - start) / 1e9, 2) for pid in order],
        )
    except BaseException:
        log.seek(0)
        print(log.read()[-4000:], file=sys.stderr)
        raise
    finally:
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)
        if redis_process is not None:
            redis_process.kill()
            redis_process.wait(10)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        log.close()
    return result


def format_pubsub(results: list[PubSubResult]) -> str:
    """The cross-process runs as a Markdown table, with their median."""
    lines = [
        "| run | subscribers (publisher's worker + other) | messages | seconds (publisher's worker / other) | deliveries/s | messages/s to all "
        "| workers' CPU us per delivery | lost |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for index, r in enumerate(results, 1):
        lines.append(
            f"| {index} | {r.subscribers:,} ({' + '.join(map(str, r.per_worker))}) | {r.messages:,} "
            f"| {r.seconds:.2f} ({' / '.join(f'{t:.2f}' for t in r.per_worker_s)}) | {r.deliveries_per_s:,.0f} | {r.messages_per_s:,.0f} "
            f"| {r.server_us_per_delivery:.1f} | {r.lost} |"
        )
    if len(results) > 1:
        lines.append(
            f"| median | | | {statistics.median(r.seconds for r in results):.2f} "
            f"| {statistics.median(r.deliveries_per_s for r in results):,.0f} "
            f"| {statistics.median(r.messages_per_s for r in results):,.0f} "
            f"| {statistics.median(r.server_us_per_delivery for r in results):.1f} | {sum(r.lost for r in results)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 if a message was lost or a process failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 connections, one round; 100 subscribers")
    parser.add_argument("--only", choices=["fanout", "pubsub"], help="one of the two parts")
    parser.add_argument("--connections", type=int, nargs="+", help="connections per server (1000 10000)")
    parser.add_argument("--compression", nargs="+", choices=COMPRESSIONS, default=list(COMPRESSIONS))
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--rounds", type=int, help="broadcasts per cell (default 7; 1 with --quick)")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument(
        "--fastws-backend",
        choices=["zlib", "zlib-ng", "isal"],
        default="zlib",
        help="the fastws server's deflate backend (default zlib, the same as websockets)",
    )
    parser.add_argument("--subscribers", type=int, help="cross-process subscribers (default 1000)")
    parser.add_argument("--messages", type=int, help="cross-process messages (default 1000)")
    parser.add_argument("--pubsub-runs", type=int, help="cross-process runs (default 3; 1 with --quick)")
    parser.add_argument("--redis", metavar="URL", help="use this Redis instead of starting redis-server")
    parser.add_argument("--json", metavar="FILE", help="also write the samples and cells as JSON")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        print("broadcast.py needs Linux (SO_TIMESTAMPNS, SO_REUSEPORT)", file=sys.stderr)
        return 2
    connections = args.connections or ([200] if args.quick else [1000, 10000])
    rounds = args.rounds or (1 if args.quick else 7)
    clients = 2 if args.quick and args.clients == 4 else args.clients
    limit = _raise_nofile(max(connections) + 256)
    if limit < max(connections) + 64:
        print(f"open-file limit {limit} is too low for {max(connections)} connections", file=sys.stderr)
        return 2
    import fastws

    print(
        f"fastws {fastws.__version__} ({fastws.implementation}), Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; garbage collector on, as in applications",
        flush=True,
    )
    # The run's date and machine, for the charts of bench/plot.py.
    output: dict[str, Any] = {
        "benchmark": "broadcast",
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "quick": bool(args.quick),
        "gc": "on",  # every server process runs as applications do
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(terse=True),
        },
    }
    if args.only != "pubsub":
        samples: list[Sample] = []
        seq = 0
        for compression in args.compression:
            for count in connections:
                print(
                    f"... fan-out: {count:,} connections, compression {compression}",
                    file=sys.stderr,
                    flush=True,
                )
                samples += measure_fanout(
                    count,
                    compression,
                    sizes=tuple(args.sizes),
                    methods=tuple(args.methods),
                    rounds=rounds,
                    clients=clients,
                    first_seq=seq,
                    progress=not args.quick,
                    backend=args.fastws_backend,
                )
                seq += 100_000
        cells = summarize(samples)
        print(
            "\nFan-out of one text message: kernel receive time of the latest and the median "
            f"connection after the server's start, and the server's CPU time (median of {rounds} round(s))"
        )
        print(format_table(cells))
        top = max(connections)
        print(f"\nTargets (set for 10,000 connections; judged here at {top:,}):")
        for line in targets(cells):
            print("  " + line)
        output["samples"] = [dataclasses.asdict(s) for s in samples]
        output["cells"] = [dataclasses.asdict(c) for c in cells]
    if args.only != "fanout":
        subscribers = args.subscribers or (100 if args.quick else 1000)
        messages = args.messages or (500 if args.quick else 1000)
        runs = args.pubsub_runs or (1 if args.quick else 3)
        results = []
        for run in range(runs):
            print(f"... cross-process run {run + 1}/{runs}", file=sys.stderr, flush=True)
            results.append(measure_pubsub(subscribers, messages, redis_url=args.redis))
        print(
            f"\nAcross processes: fastws serve --workers 2 --redis, one publisher, "
            f"{messages:,} messages of 64 B to {subscribers:,} subscribers"
        )
        print(format_pubsub(results))
        output["pubsub"] = [
            dict(
                dataclasses.asdict(r),
                deliveries_per_s=r.deliveries_per_s,
                messages_per_s=r.messages_per_s,
                server_us_per_delivery=r.server_us_per_delivery,
            )
            for r in results
        ]
        if any(r.lost for r in results):
            print("messages were lost", file=sys.stderr)
            return 1
    if args.json:
        with open(args.json, "w") as file:
            json.dump(output, file, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
