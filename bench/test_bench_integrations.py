"""Each peer library's own throughput before and after its fastws adapter, same run.

Two ways to read the same workloads:

* pytest-benchmark groups (``python -m pytest bench/test_bench_integrations.py
  --benchmark-only``), one per workload, with two rows: ``library`` (as
  shipped) and ``fastws`` (after ``fastws.integrations.<name>.install()``;
  uninstalled again after the row);
* ``python bench/test_bench_integrations.py``: a table of ratios measured
  *interleaved* (library, fastws, library, fastws, ... each run timed
  alone, fastest of each kept), so that load from other processes during
  the run cannot favour one side; this is where the README's ratios come from.

Workloads:

* wsproto: a server connection receiving 10,000 masked 1 KiB messages, in
  64 KiB reads;
* websockets: its sans-IO protocol (server side) parsing masked frames of
  64 KiB and 1 KiB, and its client masking 64 KiB frames;
* aiohttp: its reader on masked 64 KiB and 1 KiB frames, both the compiled
  reader (``reader_c``, which binds its own C mask: the adapter cannot reach
  it, so this row is the control and should read 1.0) and the pure one
  (``reader_py``); and its client writer masking 64 KiB frames;
* Tornado: its ``_websocket_mask`` on 64 KiB and 1 KiB payloads.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import struct
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import pytest

import fastws.integrations as integrations

KEY = b"\x37\xfa\x21\x3d"


def _masked_frame(payload: bytes) -> bytes:
    # RFC 6455 sections 5.2/5.3: a final, masked binary frame, as a client sends it.
    from fastws import encode_frame

    return encode_frame(0x2, payload, mask=KEY)


class Workload(NamedTuple):
    """One measurement: ``setup()`` makes fresh state, ``run(state)`` is timed."""

    adapter: str
    title: str
    payload_bytes: int
    setup: Callable[[], Any]
    run: Callable[[Any], Any]
    expect: Any


# -- the workloads (built after the adapter state is set, since some bind names) ---


def wsproto_receive() -> Workload:
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, BytesMessage, Request

    count, size, read = 10_000, 1024, 65536
    wire = _masked_frame(os.urandom(size)) * count
    reads = [wire[i : i + read] for i in range(0, len(wire), read)]

    def setup() -> WSConnection:
        client, server = WSConnection(ConnectionType.CLIENT), WSConnection(ConnectionType.SERVER)
        server.receive_data(client.send(Request(host="localhost", target="/")))
        next(server.events())
        server.send(AcceptConnection())
        return server

    def run(server: WSConnection) -> int:
        got = 0
        for chunk in reads:
            server.receive_data(chunk)
            for event in server.events():
                if isinstance(event, BytesMessage) and event.message_finished:
                    got += 1
        return got

    return Workload(
        "wsproto", "wsproto server receives 10,000 masked 1 KiB messages", count * size, setup, run, count
    )


def websockets_parse(size: int) -> Workload:
    from websockets.protocol import Protocol, Side

    count = 200 if size >= 65536 else 5000
    wire = _masked_frame(os.urandom(size)) * count

    def run(server: Protocol) -> int:
        server.receive_data(wire)
        return len(server.events_received())

    return Workload(
        "websockets",
        f"websockets sans-IO server parses {count} masked {size // 1024} KiB frames",
        count * size,
        lambda: Protocol(Side.SERVER, max_size=None),
        run,
        count,
    )


def websockets_send() -> Workload:
    from websockets.protocol import Protocol, Side

    count, payload = 100, os.urandom(65536)

    def run(client: Protocol) -> int:
        for _ in range(count):
            client.send_binary(payload)
        return len(client.data_to_send())

    return Workload(
        "websockets",
        f"websockets sans-IO client masks {count} 64 KiB frames",
        count * len(payload),
        lambda: Protocol(Side.CLIENT, max_size=None),
        run,
        count,
    )


def aiohttp_read(reader: str, size: int) -> Workload:
    from aiohttp.base_protocol import BaseProtocol

    module = importlib.import_module(f"aiohttp._websocket.{reader}")
    count = 200 if size >= 65536 else 5000
    wire = _masked_frame(os.urandom(size)) * count
    loop = asyncio.new_event_loop()

    def setup() -> tuple[Any, Any]:
        queue = module.WebSocketDataQueue(BaseProtocol(loop), 2**31 - 1, loop=loop)
        try:
            return module.WebSocketReader(queue, 2**30, compress=False, decode_text=True), queue
        except TypeError:  # before decode_text existed, text was always decoded
            return module.WebSocketReader(queue, 2**30, compress=False), queue

    def run(state: tuple[Any, Any]) -> int:
        parser, queue = state
        parser.feed_data(wire)
        return len(queue._buffer)

    return Workload(
        "aiohttp",
        f"aiohttp {reader} reads {count} masked {size // 1024} KiB frames",
        count * size,
        setup,
        run,
        count,
    )


class _NullTransport:
    # Drops what it is given (a Mock would keep every payload it sees).
    def is_closing(self) -> bool:
        return False

    def write(self, data: Any) -> None:
        pass

    def writelines(self, data: Any) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


def aiohttp_write() -> Workload:
    from aiohttp import WSMsgType
    from aiohttp._websocket.writer import WebSocketWriter
    from aiohttp.base_protocol import BaseProtocol

    count, payload = 100, os.urandom(65536)
    loop = asyncio.new_event_loop()

    def run(writer: Any) -> int:
        for _ in range(count):
            # send_frame finishes without suspending when the transport takes
            # everything (no drain below the buffer limit).
            try:
                writer.send_frame(payload, WSMsgType.BINARY).send(None)
            except StopIteration:
                pass
        return count

    return Workload(
        "aiohttp",
        f"aiohttp client writer masks {count} 64 KiB frames",
        count * len(payload),
        lambda: WebSocketWriter(BaseProtocol(loop), _NullTransport(), use_mask=True),
        run,
        count,  # type: ignore[arg-type]
    )


def tornado_mask(size: int) -> Workload:
    import tornado.websocket

    count, payload = 100, os.urandom(size)

    def run(mask: Any) -> int:
        for _ in range(count):
            mask(KEY, payload)
        return count

    return Workload(
        "tornado",
        f"tornado _websocket_mask, {count} x {size // 1024} KiB",
        count * size,
        lambda: tornado.websocket._websocket_mask,
        run,
        count,
    )


WORKLOADS: dict[str, Callable[[], Workload]] = {
    "wsproto-receive-1k": wsproto_receive,
    "websockets-parse-64k": lambda: websockets_parse(65536),
    "websockets-parse-1k": lambda: websockets_parse(1024),
    "websockets-send-64k": websockets_send,
    "aiohttp-reader_c-64k": lambda: aiohttp_read("reader_c", 65536),
    "aiohttp-reader_c-1k": lambda: aiohttp_read("reader_c", 1024),
    "aiohttp-reader_py-64k": lambda: aiohttp_read("reader_py", 65536),
    "aiohttp-reader_py-1k": lambda: aiohttp_read("reader_py", 1024),
    "aiohttp-writer-64k": aiohttp_write,
    "tornado-mask-64k": lambda: tornado_mask(65536),
    "tornado-mask-1k": lambda: tornado_mask(1024),
}
ADAPTER_OF = {key: key.split("-", 1)[0] for key in WORKLOADS}


def _set(adapter: str, on: bool) -> None:
    one = integrations.adapter(adapter)
    if on:
        one.install()
    else:
        one.uninstall()


def _usable(key: str) -> str | None:
    one = integrations.adapter(ADAPTER_OF[key])
    if not one.available():
        return f"{one.library}: not installed or outside {one.supported}"
    if key.startswith("aiohttp-reader_c"):
        try:
            importlib.import_module("aiohttp._websocket.reader_c")
        except ImportError:
            return "aiohttp's compiled reader is not available"
    return None


# -- pytest-benchmark rows -----------------------------------------------------------


@pytest.fixture(params=["library", "fastws"])
def side(request: pytest.FixtureRequest) -> Iterator[str]:
    yield str(request.param)
    integrations.uninstall_all()


@pytest.mark.parametrize("key", list(WORKLOADS))
def test_integration(benchmark: Any, side: str, key: str) -> None:
    reason = _usable(key)
    if reason:
        pytest.skip(reason)
    integrations.uninstall_all()
    _set(ADAPTER_OF[key], side == "fastws")
    work = WORKLOADS[key]()
    benchmark.group = f"integrations: {work.title}"
    assert work.run(work.setup()) == work.expect
    benchmark.pedantic(
        lambda state: work.run(state), setup=lambda: ((work.setup(),), {}), rounds=15, warmup_rounds=1
    )
    if benchmark.stats and benchmark.stats.stats.min > 0:
        benchmark.extra_info["MB_per_s"] = round(work.payload_bytes / benchmark.stats.stats.min / 1e6, 1)


def test_reference_frame_builder() -> None:
    # The frames above carry the header RFC 6455 section 5.2 prescribes.
    frame = _masked_frame(b"x" * 300)
    assert frame[:4] == bytes([0x82, 0x80 | 126]) + struct.pack("!H", 300)
    assert frame[4:8] == KEY


# -- interleaved ratios (python bench/test_bench_integrations.py) ----------------------


def interleaved(key: str, repeats: int = 31) -> tuple[float, float]:
    """Fastest time of the library alone and with the adapter, timed alternately.

    Returns:
        ``(library_seconds, fastws_seconds)`` for one run of the workload.
    """
    adapter = ADAPTER_OF[key]
    works = {}
    for on in (False, True):
        _set(adapter, on)
        works[on] = WORKLOADS[key]()
        assert works[on].run(works[on].setup()) == works[on].expect
    best = {False: float("inf"), True: float("inf")}
    try:
        # The collector stays on, as in applications (main() says so).
        for i in range(repeats):
            for on in (False, True) if i % 2 == 0 else (True, False):
                _set(adapter, on)
                state = works[on].setup()
                t0 = time.perf_counter()
                works[on].run(state)
                best[on] = min(best[on], time.perf_counter() - t0)
    finally:
        _set(adapter, False)
    return best[False], best[True]


def main() -> None:
    import fastws

    print(
        f"fastws codec: {fastws.implementation}; garbage collector: on, as in applications;"
        f" load average: {os.getloadavg()[0]:.1f}",
        file=sys.stderr,
    )
    print(f"| {'workload':<60} | library MB/s | fastws MB/s | speedup |")
    print(f"|{'-' * 62}|-------------:|------------:|--------:|")
    for key in WORKLOADS:
        reason = _usable(key)
        if reason:
            print(f"| {key:<60} | skipped: {reason} |")
            continue
        lib, fast = interleaved(key)
        work = WORKLOADS[key]()
        mb = work.payload_bytes / 1e6
        print(f"| {work.title:<60} | {mb / lib:12.0f} | {mb / fast:11.0f} | x{lib / fast:6.2f} |")


if __name__ == "__main__":
    main()
