"""The implementations each codec benchmark compares: fastws's two twins and the peers.

``bench/codec_peers.py`` (a command) and the pytest-benchmark suites of this
folder time the same :class:`Impl` rows, so their tables always measure the
same thing; the inputs, the timed call and the clock come from
:mod:`fastws.cli.timing`, which ``fastws bench`` also uses. Rows:

* fastws-cython, fastws-python: the two codec twins, side by side
  (:func:`fastws.codec.load_twins`);
* websockets-c / websockets-py, aiohttp-cython / aiohttp-python: a peer's
  compiled and pure paths; websockets, aiohttp, picows, wsproto, wsaccel:
  the peer's only (or compiled) path;
* bytes.decode: CPython's UTF-8 decoder, the reference for validation;
* memcpy: a fresh copy of the same bytes, the physical reference.

Peers are imported when installed and skipped, with the reason, when they
are not. Fairness rules every adapter follows:

* call the peer's public hot path (or the internal one its own I/O layer
  calls) with the least glue Python allows: the bound function and its
  arguments, no wrapper, when the call takes no state;
* check each implementation's result once before timing it, so a broken or
  misconfigured adapter cannot post a fast time;
* give every implementation the same bytes and the same work; where a peer's
  design makes the work differ (zero-copy frames, a non-cryptographic mask
  key), the adapter's comment says so.
"""

from __future__ import annotations

import collections
import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from fastws.cli import timing
from fastws.cli.timing import (
    MASK,
    Case,
    KiB,
    MiB,
    Op,
    address,
    case_bytes,
    check,
    count_is,
    equals,
    format_size,
    frame_check,
    frames_buffer,
    inplace_check,
    is_true,
    masked,
    memcpy,
    placed,
    text,
    twin_op,
)

__all__ = [
    "ENCODE_IMPLS",
    "FAMILIES",
    "MASK_IMPLS",
    "MASK_INPLACE_IMPLS",
    "MEMCPY",
    "PARSE_CHUNK",
    "PARSE_IMPLS",
    "PEER_DISTRIBUTIONS",
    "UTF8_IMPLS",
    "AiohttpProtocolStub",
    "Impl",
    "Unavailable",
    "params",
    "prepare",
    "size_id",
]

#: The read size frames arrive in, for the parse cases.
PARSE_CHUNK = 64 * KiB

#: The name of the physical reference row.
MEMCPY = "memcpy"

#: The opcode of the frames the parse and encode cases use.
_BINARY = 0x2

#: Families as ``--only`` names them: name -> (full sizes, quick sizes).
FAMILIES: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "mask": ((8, 125, KiB, 64 * KiB, MiB, 16 * MiB), (8, KiB, 64 * KiB, MiB)),
    "utf8": ((125, KiB, 4 * KiB, 64 * KiB, MiB), (KiB, 64 * KiB)),
    "parse": ((8, 125, KiB), (8, 125)),
    "encode": ((8, 125, KiB, 64 * KiB), (8, 64 * KiB)),
}

#: The peers' distributions, whose versions the reports show.
PEER_DISTRIBUTIONS = ("websockets", "aiohttp", "wsproto", "picows", "wsaccel")


class Unavailable(Exception):
    """An implementation cannot run here (not installed, not reachable)."""


@dataclass(frozen=True)
class Impl:
    """An implementation of one benchmark family.

    Attributes:
        name: the row label, e.g. ``fastws-cython`` or ``websockets-c``.
        build: returns the :class:`Op` for a case, or raises
            :class:`Unavailable` with the reason.
        reference: the physical reference (memcpy), not a peer.
    """

    name: str
    build: Callable[[Case, dict[str, ModuleType | str]], Op]
    reference: bool = False

    @property
    def is_fastws(self) -> bool:
        return self.name.startswith("fastws")

    @property
    def is_peer(self) -> bool:
        return not self.reference and not self.is_fastws


def _module(twins: dict[str, ModuleType | str], name: str) -> ModuleType:
    mod = twins[name]
    if isinstance(mod, str):
        raise Unavailable(mod)
    return mod


def _peer(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise Unavailable(f"{module} is not importable ({exc.name or exc})") from None


def _twin(
    twin: str, build: Callable[[ModuleType, Case], Op]
) -> Callable[[Case, dict[str, ModuleType | str]], Op]:
    return lambda case, twins: build(_module(twins, twin), case)


def _peer_impl(build: Callable[[Case], Op]) -> Callable[[Case, dict[str, ModuleType | str]], Op]:
    return lambda case, twins: build(case)


def _twin_rows(build: Callable[[ModuleType, Case], Op] = twin_op, suffix: str = "") -> list[Impl]:
    return [Impl(f"fastws-{twin}{suffix}", _twin(twin, build)) for twin in ("cython", "python")]


def _memcpy_row(case: Case) -> Op:
    # The physical reference: a fresh copy of the bytes one call reads.
    return memcpy(case_bytes(case))


def _no_picows_mask(case: Case) -> Op:
    # picows' SIMD mask (apply_mask_fast, picked at run time among SSE2,
    # AVX2, AVX-512) is C-level only; its encode and parse rows include it.
    raise Unavailable("picows has no Python-level mask function (its C mask runs inside send/parse)")


# -- apply_mask: a new bytes object ------------------------------------------------------


def _mask_websockets_c(case: Case) -> Op:
    fn = _peer("websockets.speedups").apply_mask
    return Op(fn, (timing.payload(case.size), MASK), equals(masked(case.size)))


def _mask_websockets_py(case: Case) -> Op:
    fn = _peer("websockets.utils").apply_mask
    return Op(fn, (timing.payload(case.size), MASK), equals(masked(case.size)))


def _mask_wsaccel(case: Case) -> Op:
    # A masker keeps its position across calls (the key rotates); only the
    # first call starts at mask[0], and that is the one checked.
    masker = _peer("wsaccel.xormask").XorMaskerSimple(MASK)
    return Op(masker.process, (timing.payload(case.size),), equals(masked(case.size)))


def _mask_wsproto(case: Case) -> Op:
    masker = _peer("wsproto.frame_protocol").XorMaskerSimple(MASK)
    return Op(masker.process, (timing.payload(case.size),), equals(masked(case.size)))


MASK_IMPLS: list[Impl] = [
    *_twin_rows(),
    Impl("websockets-c", _peer_impl(_mask_websockets_c)),
    Impl("websockets-py", _peer_impl(_mask_websockets_py)),
    Impl("wsaccel", _peer_impl(_mask_wsaccel)),
    Impl("wsproto", _peer_impl(_mask_wsproto)),
    Impl("picows", _peer_impl(_no_picows_mask)),
    Impl(MEMCPY, _peer_impl(_memcpy_row), reference=True),
]


# -- apply_mask_inplace: XOR a bytearray the caller owns -------------------------------


def _inplace_aiohttp(module: str, name: str) -> Callable[[Case], Op]:
    def build(case: Case) -> Op:
        fn = getattr(_peer(module), name)
        buf = bytearray(timing.payload(case.size))
        return Op(fn, (MASK, buf), inplace_check(buf))  # aiohttp takes the mask first

    return build


MASK_INPLACE_IMPLS: list[Impl] = [
    *_twin_rows(),
    Impl("aiohttp-cython", _peer_impl(_inplace_aiohttp("aiohttp._websocket.mask", "_websocket_mask_cython"))),
    Impl(
        "aiohttp-python", _peer_impl(_inplace_aiohttp("aiohttp._websocket.helpers", "_websocket_mask_python"))
    ),
    Impl(MEMCPY, _peer_impl(_memcpy_row), reference=True),
]


# -- validate_utf8 ---------------------------------------------------------------------


def _utf8_fastws_feed(mod: ModuleType, case: Case) -> Op:
    # The incremental validator a protocol uses on fragments; the text ends
    # on a code point boundary, so repeated feeds keep it in a clean state.
    return Op(mod.Utf8Validator().feed, (text(case.kind, case.size),), is_true)


def _utf8_decode(case: Case) -> Op:
    # What websockets and aiohttp do with a text message: decode it.
    data = text(case.kind, case.size)
    return Op(bytes.decode, (data,), lambda r: isinstance(r, str) and len(r) > 0)


def _utf8_wsaccel(case: Case) -> Op:
    validator = _peer("wsaccel.utf8validator").Utf8Validator()
    data = text(case.kind, case.size)
    # validate() returns (valid, ends_on_code_point, index, total_index).
    return Op(validator.validate, (data,), lambda r: isinstance(r, tuple) and bool(r[0] and r[1]))


UTF8_IMPLS: list[Impl] = [
    *_twin_rows(),
    *_twin_rows(_utf8_fastws_feed, "-feed"),
    Impl("bytes.decode", _peer_impl(_utf8_decode)),
    Impl("wsaccel", _peer_impl(_utf8_wsaccel)),
    Impl(MEMCPY, _peer_impl(_memcpy_row), reference=True),
]


# -- parsing: many masked client frames --------------------------------------------------
# Each op parses the whole input (case.frames frames) and returns how many
# frames came out; a parser object lives as long as a connection would, and
# is created anew per op only where the peer needs it (aiohttp's queue keeps
# every message), which costs well under 0.1% of an op.


def _parse_websockets(case: Case) -> Op:
    # websockets' sans-IO Protocol.parse() minus what follows framing
    # (recv_frame: message assembly, UTF-8 decoding, ping replies): its
    # StreamReader and the Frame.parse generator with mask=True, driven the
    # way Protocol.receive_data drives them (feed_data, then next()).
    frames_mod = _peer("websockets.frames")
    reader = _peer("websockets.streams").StreamReader()
    parse = frames_mod.Frame.parse
    frames: list[object] = []

    def parser() -> Any:
        while True:
            frame = yield from parse(reader.read_exact, mask=True, max_size=None, extensions=None)
            frames.append(frame)

    gen = parser()
    next(gen)
    chunks = timing.chunks(frames_buffer(case.size, case.frames), case.chunk)
    feed_data = reader.feed_data

    def op() -> int:
        frames.clear()
        for chunk in chunks:
            feed_data(chunk)
            next(gen)
        return len(frames)

    return Op(op, (), count_is(case.frames))


class AiohttpProtocolStub:
    """What aiohttp's WebSocketDataQueue asks of its protocol (flow control)."""

    _reading_paused = False

    def pause_reading(self) -> None:  # pragma: no cover - the limit is never reached
        raise RuntimeError("the benchmark queue limit was reached")

    def resume_reading(self) -> None:  # pragma: no cover
        pass


def _parse_aiohttp(module: str) -> Callable[[Case], Op]:
    def build(case: Case) -> Op:
        # aiohttp's reader: the Cython build (reader_c, compiled from
        # reader_py.py with reader_c.pxd) or the pure one. Frames are binary
        # so no UTF-8 decoding happens; each op gets a fresh queue because
        # the queue keeps every message and its size counter only grows.
        import asyncio

        mod = _peer(module)
        loop = asyncio.new_event_loop()
        stub = AiohttpProtocolStub()
        chunks = timing.chunks(frames_buffer(case.size, case.frames), case.chunk)
        queue_cls, reader_cls = mod.WebSocketDataQueue, mod.WebSocketReader

        def op() -> int:
            queue = queue_cls(stub, 1 << 30, loop=loop)
            reader = reader_cls(queue, 0, False, False)  # max_msg_size=0: no limit, like the others
            feed = reader.feed_data
            for chunk in chunks:
                feed(chunk)
            return len(queue._buffer)

        return Op(op, (), count_is(case.frames))

    return build


class _FakeTransport:
    """An asyncio transport that accepts writes and owns a real (unconnected) socket.

    picows reads socket options in ``connection_made`` and, when the
    transport's write buffer is empty, sends with ``send(2)`` itself;
    reporting a non-empty buffer keeps every write in Python, where it is a
    ``deque.append``.
    """

    def __init__(self) -> None:
        import socket

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.out: collections.deque[object] = collections.deque(maxlen=8)
        self.write = self.out.append
        self.writelines = self.out.append
        self.get_write_buffer_size = (1).bit_length  # a C callable returning 1

    def get_extra_info(self, name: str, default: object = None) -> object:
        info = {"socket": self._sock, "peername": ("127.0.0.1", 1), "sockname": ("127.0.0.1", 2)}
        return info.get(name, default)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        self._sock.close()

    def abort(self) -> None:
        self._sock.close()


_UPGRADE_REQUEST = (
    b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def _picows_server(listener_cls: Any) -> Any:
    """A server-side picows WSProtocol past its handshake, on a fake transport."""
    import asyncio
    import logging

    picows = _peer("picows.picows")
    loop = asyncio.new_event_loop()

    async def create() -> Any:  # WSProtocol() wants a running loop
        # Positional, as picows' own ws_create_server passes them.
        return picows.WSProtocol(
            None,  # host_port
            None,  # ws_path
            False,  # is_client_side: a server reads masked client frames
            lambda request: listener_cls(),  # ws_listener_factory
            logging.getLogger("fastws.bench.picows"),
            False,  # disconnect_on_exception
            None,  # websocket_handshake_timeout
            False,  # enable_auto_ping
            10.0,  # auto_ping_idle_timeout
            10.0,  # auto_ping_reply_timeout
            picows.WSAutoPingStrategy.PING_WHEN_IDLE,
            False,  # enable_auto_pong
            1 << 62,  # max_frame_size: no limit, like the other rows
            None,  # extra_headers
            64 * KiB,  # read_buffer_init_size
        )

    try:
        proto = loop.run_until_complete(create())
    finally:
        loop.close()
    proto.connection_made(_FakeTransport())
    _picows_feed(proto, _UPGRADE_REQUEST)
    if proto.listener is None:
        raise Unavailable("picows refused the upgrade request")
    return proto


def _picows_feed(proto: Any, data: bytes) -> None:
    # The buffered-protocol calls an event loop makes on each read: the
    # socket's recv_into lands in picows' own buffer, here a slice copy does.
    view = memoryview(data)
    get_buffer, buffer_updated = proto.get_buffer, proto.buffer_updated
    off, end = 0, len(data)
    while off < end:
        buf = get_buffer(-1)
        k = min(len(buf), end - off)
        buf[:k] = view[off : off + k]
        buffer_updated(k)
        off += k


def _parse_picows(case: Case) -> Op:
    # picows' parser hands each frame to WSListener.on_ws_frame as a view
    # into its read buffer (zero-copy, no bytes object per payload). With the
    # base WSListener that callback is a C no-op, so this row is the parser
    # alone: less work than the fastws rows, which build a Frame with a bytes
    # payload for each frame. The frame count is checked once, beforehand,
    # with a counting listener.
    picows = _peer("picows.picows")

    class Counting(picows.WSListener):  # type: ignore[misc, name-defined]
        count = 0

        def on_ws_frame(self, transport: object, frame: object) -> None:
            self.count += 1

    chunks = timing.chunks(frames_buffer(case.size, case.frames), case.chunk)
    counter = _picows_server(Counting)
    for chunk in chunks:
        _picows_feed(counter, chunk)
    if counter.listener.count != case.frames:
        raise RuntimeError(f"picows parsed {counter.listener.count} frames, expected {case.frames}")
    proto = _picows_server(picows.WSListener)
    pieces = _picows_pieces(proto, chunks)
    get_buffer, buffer_updated = proto.get_buffer, proto.buffer_updated

    def op() -> None:
        # What an event loop does on each read, the socket's recv_into
        # replaced by one copy from a source placed away from glibc's slow
        # alignment (see placed): that copy is the harness's, not picows'.
        for piece in pieces:
            n = len(piece)
            get_buffer(-1)[:n] = piece
            buffer_updated(n)

    return Op(op, ())


def _picows_pieces(proto: Any, chunks: list[bytes]) -> list[memoryview]:
    """The reads of one pass, each placed for the buffer address picows offers it.

    Between passes picows' buffer is empty again, so a steady pass offers the
    same addresses and sizes every time; the first passes let it grow.
    """

    def one_pass() -> list[tuple[int, bytes]]:
        seen: list[tuple[int, bytes]] = []
        for chunk in chunks:
            off = 0
            while off < len(chunk):
                buf = proto.get_buffer(-1)
                k = min(len(buf), len(chunk) - off)
                seen.append((address(buf), chunk[off : off + k]))
                buf[:k] = chunk[off : off + k]
                proto.buffer_updated(k)
                off += k
        return seen

    one_pass()
    plan = one_pass()
    if one_pass() != plan:  # pragma: no cover - picows kept moving its buffer
        return [memoryview(data) for _, data in plan]
    return [placed(data, address) for address, data in plan]


def _parse_wsproto(case: Case) -> Op:
    # wsproto hands out the part of a data frame that has arrived as a
    # Frame of its own (frame_finished False); only finished ones count.
    proto = _peer("wsproto.frame_protocol").FrameProtocol(client=False, extensions=[])
    chunks = timing.chunks(frames_buffer(case.size, case.frames), case.chunk)
    receive, frames = proto.receive_bytes, proto.received_frames

    def op() -> int:
        n = 0
        for chunk in chunks:
            receive(chunk)
            for frame in frames():
                n += frame.frame_finished
        return n

    return Op(op, (), count_is(case.frames))


PARSE_IMPLS: list[Impl] = [
    *_twin_rows(),
    Impl("websockets", _peer_impl(_parse_websockets)),
    Impl("aiohttp-cython", _peer_impl(_parse_aiohttp("aiohttp._websocket.reader_c"))),
    Impl("aiohttp-python", _peer_impl(_parse_aiohttp("aiohttp._websocket.reader_py"))),
    Impl("picows", _peer_impl(_parse_picows)),
    Impl("wsproto", _peer_impl(_parse_wsproto)),
    Impl(MEMCPY, _peer_impl(_memcpy_row), reference=True),
]


# -- encode_frame ----------------------------------------------------------------------
# Masked frames draw a fresh key per frame everywhere: fastws from a pool
# filled by os.urandom 1024 keys at a time, websockets from os.urandom (a
# system call per key), wsproto from os.urandom too, aiohttp from
# random.getrandbits and picows from libc rand() (neither is a CSPRNG, which
# RFC 6455 section 5.3 asks for). The "-key" row passes a fixed key to show
# what the key costs.


def _encode_fastws_key(mod: ModuleType, case: Case) -> Op:
    if not case.masked:
        raise Unavailable("only for masked frames")
    fn = functools.partial(mod.encode_frame, mask=MASK)
    return Op(fn, (_BINARY, timing.payload(case.size)), frame_check(case))


def _encode_websockets(case: Case) -> Op:
    # What Protocol.send_binary does before queueing: build a Frame, serialize it.
    frames = _peer("websockets.frames")
    frame_cls, opcode, payload, masked = (
        frames.Frame,
        frames.Opcode.BINARY,
        timing.payload(case.size),
        case.masked,
    )

    def op() -> bytes:
        result: bytes = frame_cls(opcode, payload).serialize(mask=masked)
        return result

    return Op(op, (), frame_check(case))


def _encode_wsproto(case: Case) -> Op:
    proto = _peer("wsproto.frame_protocol").FrameProtocol(client=case.masked, extensions=[])
    return Op(proto.send_data, (timing.payload(case.size), True), frame_check(case))


def _written(transport: _FakeTransport, case: Case) -> Callable[[object], bool]:
    transport.out.clear()
    frame_ok = frame_check(case)

    def check(_result: object) -> bool:
        parts = list(transport.out)
        transport.out.clear()
        chunks: list[bytes] = []
        for part in parts:  # write() gets bytes, writelines() a list of buffers
            pieces: list[Any] = part if isinstance(part, list) else [part]
            chunks.extend(bytes(piece) for piece in pieces)
        return frame_ok(b"".join(chunks))

    return check


def _encode_aiohttp(case: Case) -> Op:
    # WebSocketWriter._write_websocket_frame: the synchronous part of
    # send_frame for uncompressed frames (header, mask, transport.write).
    writer_mod = _peer("aiohttp._websocket.writer")
    transport = _FakeTransport()
    writer = writer_mod.WebSocketWriter(AiohttpProtocolStub(), transport, use_mask=case.masked)
    return Op(
        writer._write_websocket_frame, (timing.payload(case.size), _BINARY, 0), _written(transport, case)
    )


def _encode_picows(case: Case) -> Op:
    # WSTransport.send: header and (client side) mask built in C, written
    # to the transport as one bytes object (server side above 8 KiB: as a
    # header plus the caller's buffer, through writelines).
    import asyncio
    import logging

    picows = _peer("picows.picows")
    transport = _FakeTransport()
    loop = asyncio.new_event_loop()
    ws = picows.WSTransport(case.masked, transport, logging.getLogger("fastws.bench.picows"), loop)
    return Op(ws.send, (picows.WSMsgType.BINARY, timing.payload(case.size)), _written(transport, case))


ENCODE_IMPLS: list[Impl] = [
    *_twin_rows(),
    Impl("fastws-cython-key", _twin("cython", _encode_fastws_key)),
    Impl("websockets", _peer_impl(_encode_websockets)),
    Impl("aiohttp", _peer_impl(_encode_aiohttp)),
    Impl("picows", _peer_impl(_encode_picows)),
    Impl("wsproto", _peer_impl(_encode_wsproto)),
    Impl(MEMCPY, _peer_impl(_memcpy_row), reference=True),
]


def prepare(case: Case, impl: Impl, twins: dict[str, ModuleType | str]) -> Op:
    """Build ``impl``'s op for ``case`` and check one call's result.

    Raises:
        Unavailable: the implementation cannot run here.
        AssertionError: its result is wrong (the benchmark would be void).
    """
    return check(impl.build(case, twins), f"{impl.name} on {case.title}")


def params(impls: list[Impl]) -> list[object]:
    """One pytest parameter per implementation, its id the row name."""
    import pytest  # only the pytest suites need it, not codec_peers.py

    return [pytest.param(impl, id=impl.name) for impl in impls]


def size_id(size: int) -> str:
    """``65536`` -> ``"64KiB"`` (no spaces, for test ids)."""
    return format_size(size).replace(" ", "")
