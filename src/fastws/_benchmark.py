"""The comparison behind ``python -m fastws bench`` and the ``bench/`` suites.

One module describes every benchmark once: the cases (which function, which
input, how large), the implementations (both fastws twins, the peers, and a
plain memory copy as the physical reference) and how each is called. The
command below times them with ``time.perf_counter_ns``; the pytest-benchmark
suites in ``bench/`` time the very same calls, so the two never disagree on
what is measured.

Standard library only: peers (websockets, aiohttp, wsproto, picows, wsaccel)
are imported when installed and skipped, with the reason, when they are not.
The twins are imported directly (``fastws._codec`` and ``fastws._codec_py``)
so one run compares them; ``FASTWS_NO_EXTENSIONS=1`` leaves the compiled one
out, as it does everywhere else.

Fairness rules every adapter follows:

* call the peer's public hot path (or the internal one its own I/O layer
  calls) with the least glue Python allows: the bound function and its
  arguments, no wrapper, when the call takes no state;
* check each implementation's result once before timing it, so a broken or
  misconfigured adapter cannot post a fast time;
* give every implementation the same bytes and the same work; where a peer's
  design makes the work differ (zero-copy frames, a non-cryptographic mask
  key), the adapter's docstring says so.
"""

from __future__ import annotations

import argparse
import collections
import functools
import gc
import importlib
import itertools
import json
import os
import platform
import random
import struct
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, NamedTuple, TextIO

__all__ = [
    "ENCODE_IMPLS",
    "FAMILIES",
    "MASK_IMPLS",
    "MASK_INPLACE_IMPLS",
    "PARSE_IMPLS",
    "UTF8_IMPLS",
    "UTF8_KINDS",
    "Case",
    "Impl",
    "Op",
    "Result",
    "Unavailable",
    "add_arguments",
    "calibrate",
    "encode_case",
    "format_size",
    "load_twins",
    "main",
    "mask_case",
    "parse_case",
    "parse_size",
    "prepare",
    "run",
    "utf8_case",
]

KiB = 1024
MiB = 1024 * KiB

#: The RFC 6455 section 5.7 example key: any fixed key does, a known one
#: makes a failed check easy to reproduce by hand.
MASK = b"\x37\xfa\x21\x3d"

#: Masked client frames per parsing case, and the read size they arrive in.
PARSE_FRAMES = 10_000
PARSE_CHUNK = 64 * KiB

#: The second byte of a frame header for a binary frame, FIN set.
_BINARY = 0x2

#: Name of the physical reference row.
MEMCPY = "memcpy"


class Unavailable(Exception):
    """An implementation cannot run here (not installed, not reachable)."""


# -- sizes -----------------------------------------------------------------------


def format_size(n: int) -> str:
    """``1048576`` -> ``"1 MiB"``; sizes that are not whole units stay in bytes."""
    for unit, scale in (("MiB", MiB), ("KiB", KiB)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"


def parse_size(text: str) -> int:
    """``"64K"``, ``"64KiB"``, ``"1M"``, ``"125"`` -> a byte count.

    Raises:
        ValueError: the text is not a size.
    """
    s = text.strip().upper().replace(" ", "").removesuffix("IB").removesuffix("B")
    scale = 1
    if s.endswith("K"):
        scale, s = KiB, s[:-1]
    elif s.endswith("M"):
        scale, s = MiB, s[:-1]
    if not s.isdigit():
        raise ValueError(f"not a size: {text!r}")
    return int(s) * scale


# -- inputs ------------------------------------------------------------------------
# Inputs are built by code independent of fastws (struct packing and a
# big-integer XOR written here), so a bug in a twin cannot also bend the data
# it is checked against.


def _ref_mask(data: bytes, key: bytes) -> bytes:
    n = len(data)
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")


@functools.cache
def _payload(size: int, seed: int = 1) -> bytes:
    return random.Random(seed * 1_000_003 + size).randbytes(size)


@functools.cache
def _masked(size: int) -> bytes:
    return _ref_mask(_payload(size), MASK)


_SAMPLES: dict[str, str] = {
    "ascii": (
        "The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. "
        '{"id": 42, "status": "ok", "items": [1, 2, 3]}\n'
    ),
    "latin": (
        "Größenwahn über Straßen und Brücken, déjà vu à Noël: l'été où ça a été très égayé. "
        "Fußgänger müssen außerhalb gehen; où est la forêt? "
    ),
    "cjk": (
        "天地玄黄，宇宙洪荒。日月盈昃，辰宿列张。寒来暑往，秋收冬藏。"  # noqa: RUF001 (CJK punctuation on purpose)
        "東京都の天気は晴れ、明日は雨が降るでしょう。서울의 날씨는 맑습니다。"
    ),
    "emoji": "😀🎉🚀👍🏽🔥✨🥳🤖🌍🍕 🐍💡📦🧪✅❤️‍🔥🫠🦀 ",
}

#: Text kinds for the UTF-8 benchmarks, in table order.
UTF8_KINDS: tuple[str, ...] = tuple(_SAMPLES)


@functools.cache
def _text(kind: str, size: int) -> bytes:
    """``size`` bytes of valid UTF-8 in the style of ``kind``."""
    sample = _SAMPLES[kind].encode("utf-8")
    raw = sample * (size // len(sample) + 2)
    end = size
    # Cut on a code point boundary (never before a continuation byte 80..BF),
    # then pad with spaces to the exact size.
    while 0x80 <= raw[end] <= 0xBF:
        end -= 1
    text = raw[:end] + b" " * (size - end)
    text.decode("utf-8")  # the input must be valid, or the benchmark is void
    return text


def _client_frame(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | _BINARY, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | _BINARY, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | _BINARY, 0x80 | 127, n)
    return header + key + _ref_mask(payload, key)


@functools.cache
def _frames_buffer(size: int, count: int) -> bytes:
    """``count`` masked binary client frames of ``size`` bytes, each with its own key."""
    rng = random.Random(size * 7 + count)
    return b"".join(_client_frame(rng.randbytes(size), rng.randbytes(4)) for _ in range(count))


def _chunks(data: bytes, chunk: int) -> list[bytes]:
    if chunk <= 0:
        return [data]
    return [data[i : i + chunk] for i in range(0, len(data), chunk)]


# -- cases ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One benchmark: a function, an input, a size. Tables have one per case.

    Attributes:
        family: ``mask``, ``mask_inplace``, ``utf8``, ``parse`` or ``encode``.
        title: the table title, e.g. ``"apply_mask 64 KiB"``.
        size: payload bytes per frame (parse, encode) or per call.
        nbytes: bytes one call processes, for GB/s.
        frames: frames one call handles (parse, encode), else 0.
        kind: the text kind (utf8).
        chunk: read size the frames arrive in, 0 for one buffer (parse).
        masked: whether frames are masked (encode).
    """

    family: str
    title: str
    size: int
    nbytes: int
    frames: int = 0
    kind: str = ""
    chunk: int = 0
    masked: bool = False

    @property
    def unit(self) -> str:
        """``GB/s`` for bulk work, ``M frames/s`` where the frame count rules."""
        if self.family == "parse" or (self.family == "encode" and self.size < 4 * KiB):
            return "M frames/s"
        return "GB/s"


def mask_case(size: int, inplace: bool = False) -> Case:
    """The ``apply_mask`` (or ``apply_mask_inplace``) case for ``size`` bytes."""
    name = "apply_mask_inplace" if inplace else "apply_mask"
    return Case("mask_inplace" if inplace else "mask", f"{name} {format_size(size)}", size, size)


def utf8_case(kind: str, size: int) -> Case:
    """The ``validate_utf8`` case for ``size`` bytes of ``kind`` text."""
    return Case("utf8", f"validate_utf8 {kind} {format_size(size)}", size, size, kind=kind)


def parse_case(size: int, chunk: int = PARSE_CHUNK, frames: int = PARSE_FRAMES) -> Case:
    """Parsing ``frames`` masked client frames of ``size`` bytes fed in ``chunk``-byte reads."""
    nbytes = len(_frames_buffer(size, frames))
    feed = f"{format_size(chunk)} chunks" if chunk else "one buffer"
    title = f"parse {frames:,} x {format_size(size)} masked frames, {feed}"
    return Case("parse", title, size, nbytes, frames=frames, chunk=chunk)


def encode_case(size: int, masked: bool) -> Case:
    """``encode_frame`` of a ``size``-byte binary payload, masked (client) or not."""
    title = f"encode_frame {format_size(size)} {'masked' if masked else 'unmasked'}"
    return Case("encode", title, size, size, frames=1, masked=masked)


# -- implementations ---------------------------------------------------------------------


def _equals(expected: bytes) -> Callable[[object], bool]:
    """A check that a result holds exactly ``expected`` (bytes or bytearray)."""

    def check(result: object) -> bool:
        return isinstance(result, (bytes, bytearray)) and result == expected

    return check


class Op(NamedTuple):
    """One timed call, ``fn(*args)``, and how to judge the result of one call."""

    fn: Callable[..., object]
    args: tuple[object, ...] = ()
    check: Callable[[object], bool] | None = None


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


def load_twins() -> dict[str, ModuleType | str]:
    """Both codec twins, imported directly: module, or the reason it is absent."""
    twins: dict[str, ModuleType | str] = {"python": importlib.import_module("fastws._codec_py")}
    from . import codec

    if codec.NO_EXTENSIONS:
        twins["cython"] = "left out: FASTWS_NO_EXTENSIONS is set (or not CPython)"
    else:
        try:
            twins["cython"] = importlib.import_module("fastws._codec")
        except ImportError as exc:
            twins["cython"] = f"compiled twin not built ({exc})"
    return twins


def _twin(twins: dict[str, ModuleType | str], name: str) -> ModuleType:
    mod = twins[name]
    if isinstance(mod, str):
        raise Unavailable(mod)
    return mod


def _peer(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise Unavailable(f"{module} is not importable ({exc.name or exc})") from None


def _fastws(
    twin: str, build: Callable[[ModuleType, Case], Op]
) -> Callable[[Case, dict[str, ModuleType | str]], Op]:
    return lambda case, twins: build(_twin(twins, twin), case)


def _peer_impl(build: Callable[[Case], Op]) -> Callable[[Case, dict[str, ModuleType | str]], Op]:
    return lambda case, twins: build(case)


def _both_twins(build: Callable[[ModuleType, Case], Op], suffix: str = "") -> list[Impl]:
    return [Impl(f"fastws-{twin}{suffix}", _fastws(twin, build)) for twin in ("cython", "python")]


def _no_picows_mask(case: Case) -> Op:
    # picows' SIMD mask (apply_mask_fast, picked at run time among SSE2,
    # AVX2, AVX-512) is C-level only; its encode and parse rows include it.
    raise Unavailable("picows has no Python-level mask function (its C mask runs inside send/parse)")


# apply_mask: a new bytes object ------------------------------------------------------


def _mask_fastws(mod: ModuleType, case: Case) -> Op:
    expected = _masked(case.size)
    return Op(mod.apply_mask, (_payload(case.size), MASK), _equals(expected))


def _mask_websockets_c(case: Case) -> Op:
    fn = _peer("websockets.speedups").apply_mask
    return Op(fn, (_payload(case.size), MASK), _equals(_masked(case.size)))


def _mask_websockets_py(case: Case) -> Op:
    fn = _peer("websockets.utils").apply_mask
    return Op(fn, (_payload(case.size), MASK), _equals(_masked(case.size)))


def _mask_wsaccel(case: Case) -> Op:
    # A masker keeps its position across calls (the key rotates); only the
    # first call starts at mask[0], and that is the one checked.
    masker = _peer("wsaccel.xormask").XorMaskerSimple(MASK)
    return Op(masker.process, (_payload(case.size),), _equals(_masked(case.size)))


def _mask_wsproto(case: Case) -> Op:
    masker = _peer("wsproto.frame_protocol").XorMaskerSimple(MASK)
    return Op(masker.process, (_payload(case.size),), _equals(_masked(case.size)))


def _address(view: memoryview) -> int:
    """The address of a writable buffer's first byte."""
    import ctypes

    return ctypes.addressof(ctypes.c_char.from_buffer(view))


def _placed(data: bytes, dst: int, gap: int = 2048) -> memoryview:
    """A copy of ``data`` placed so that ``(dst - source) % 4096 == gap``.

    On AMD Zen 3, the ``rep movsb`` copy glibc (before 2.39) uses for
    mid-sized buffers runs up to 25 times slower when the destination is
    1 to 31 bytes past the source modulo 4 KiB (glibc bug 30994). Where a
    copy belongs to the harness rather than to the code measured, placing
    its source half a page away keeps that accident out of the numbers.
    """
    staging = bytearray(len(data) + 4096)
    start = (dst - _address(memoryview(staging)) - gap) % 4096
    staging[start : start + len(data)] = data
    return memoryview(staging)[start : start + len(data)]


def _memcpy(data: bytes) -> Op:
    """The physical reference: a fresh copy of ``data`` (allocate, then memcpy).

    ``memoryview.tobytes`` is the cheapest Python call that copies (no
    argument parsing), so at 8 bytes it shows the floor of any call that
    returns new bytes. It is also the reference for the in-place rows: an
    in-place XOR reads and writes the same bytes a copy does, but skips the
    allocation (and, above the allocator's mmap threshold, the page faults),
    so it can beat this row.

    Where the allocator puts the copy decides whether glibc's copy hits the
    slow alignment described in :func:`_placed`; the source is taken from
    two places half a page apart and the faster one is kept, so the
    reference is the best plain copy, not an unlucky one.
    """
    candidates = [memoryview(data)]
    if len(data) >= 2048:
        # CPython keeps a bytes object's data right after its header.
        source = id(data) + bytes.__basicsize__ - 1
        candidates.append(_placed(data, source))

    def cost(view: memoryview) -> int:
        return min(_loop(view.tobytes, (), 3) for _ in range(5))

    best = min(candidates, key=cost)
    return Op(best.tobytes, (), _equals(data))


def _memcpy_copy(case: Case) -> Op:
    return _memcpy(_payload(case.size))


MASK_IMPLS: list[Impl] = [
    *_both_twins(_mask_fastws),
    Impl("websockets-c", _peer_impl(_mask_websockets_c)),
    Impl("websockets-py", _peer_impl(_mask_websockets_py)),
    Impl("wsaccel", _peer_impl(_mask_wsaccel)),
    Impl("wsproto", _peer_impl(_mask_wsproto)),
    Impl("picows", _peer_impl(_no_picows_mask)),
    Impl(MEMCPY, _peer_impl(_memcpy_copy), reference=True),
]


# apply_mask_inplace: XOR a bytearray the caller owns ------------------------------------


def _inplace_check(buf: bytearray) -> Callable[[object], bool]:
    # Built right before the one checked call: the buffer then holds the
    # plain payload, so after the call it must hold the masked one.
    before = bytes(buf)
    return lambda _result: bytes(buf) == _ref_mask(before, MASK)


def _inplace_fastws(mod: ModuleType, case: Case) -> Op:
    buf = bytearray(_payload(case.size))
    return Op(mod.apply_mask_inplace, (buf, MASK), _inplace_check(buf))


def _inplace_aiohttp(module: str, name: str) -> Callable[[Case], Op]:
    def build(case: Case) -> Op:
        fn = getattr(_peer(module), name)
        buf = bytearray(_payload(case.size))
        return Op(fn, (MASK, buf), _inplace_check(buf))  # aiohttp takes the mask first

    return build


MASK_INPLACE_IMPLS: list[Impl] = [
    *_both_twins(_inplace_fastws),
    Impl("aiohttp-cython", _peer_impl(_inplace_aiohttp("aiohttp._websocket.mask", "_websocket_mask_cython"))),
    Impl(
        "aiohttp-python", _peer_impl(_inplace_aiohttp("aiohttp._websocket.helpers", "_websocket_mask_python"))
    ),
    Impl(MEMCPY, _peer_impl(_memcpy_copy), reference=True),
]


# validate_utf8 ---------------------------------------------------------------------------


def _is_true(result: object) -> bool:
    return result is True


def _utf8_fastws(mod: ModuleType, case: Case) -> Op:
    return Op(mod.validate_utf8, (_text(case.kind, case.size),), _is_true)


def _utf8_fastws_feed(mod: ModuleType, case: Case) -> Op:
    # The incremental validator a protocol uses on fragments; the text ends
    # on a code point boundary, so repeated feeds keep it in a clean state.
    return Op(mod.Utf8Validator().feed, (_text(case.kind, case.size),), _is_true)


def _utf8_decode(case: Case) -> Op:
    # What websockets and aiohttp do with a text message: decode it.
    data = _text(case.kind, case.size)
    return Op(bytes.decode, (data,), lambda r: isinstance(r, str) and len(r) > 0)


def _utf8_wsaccel(case: Case) -> Op:
    validator = _peer("wsaccel.utf8validator").Utf8Validator()
    data = _text(case.kind, case.size)
    # validate() returns (valid, ends_on_code_point, index, total_index).
    return Op(validator.validate, (data,), lambda r: isinstance(r, tuple) and bool(r[0] and r[1]))


def _memcpy_text(case: Case) -> Op:
    return _memcpy(_text(case.kind, case.size))


UTF8_IMPLS: list[Impl] = [
    *_both_twins(_utf8_fastws),
    *_both_twins(_utf8_fastws_feed, "-feed"),
    Impl("bytes.decode", _peer_impl(_utf8_decode)),
    Impl("wsaccel", _peer_impl(_utf8_wsaccel)),
    Impl(MEMCPY, _peer_impl(_memcpy_text), reference=True),
]


# parsing: many masked client frames --------------------------------------------------------
# Each op parses the whole input (PARSE_FRAMES frames) and returns how many
# frames came out; a parser object lives as long as a connection would, and
# is created anew per op only where the peer needs it (aiohttp's queue keeps
# every message), which costs well under 0.1% of an op.


def _count_is(n: int) -> Callable[[object], bool]:
    return lambda result: result == n


def _parse_fastws(mod: ModuleType, case: Case) -> Op:
    chunks = _chunks(_frames_buffer(case.size, case.frames), case.chunk)
    parser = mod.FrameParser(require_mask=True)
    feed = parser.feed

    def op() -> int:
        n = 0
        for chunk in chunks:
            n += len(feed(chunk))
        return n

    return Op(op, (), _count_is(case.frames))


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
    chunks = _chunks(_frames_buffer(case.size, case.frames), case.chunk)
    feed_data = reader.feed_data

    def op() -> int:
        frames.clear()
        for chunk in chunks:
            feed_data(chunk)
            next(gen)
        return len(frames)

    return Op(op, (), _count_is(case.frames))


class _AiohttpProtocolStub:
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
        stub = _AiohttpProtocolStub()
        chunks = _chunks(_frames_buffer(case.size, case.frames), case.chunk)
        queue_cls, reader_cls = mod.WebSocketDataQueue, mod.WebSocketReader

        def op() -> int:
            queue = queue_cls(stub, 1 << 30, loop=loop)
            reader = reader_cls(queue, 0, False, False)  # max_msg_size=0: no limit, like the others
            feed = reader.feed_data
            for chunk in chunks:
                feed(chunk)
            return len(queue._buffer)

        return Op(op, (), _count_is(case.frames))

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

    chunks = _chunks(_frames_buffer(case.size, case.frames), case.chunk)
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
        # alignment (see _placed): that copy is the harness's, not picows'.
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
                seen.append((_address(buf), chunk[off : off + k]))
                buf[:k] = chunk[off : off + k]
                proto.buffer_updated(k)
                off += k
        return seen

    one_pass()
    plan = one_pass()
    if one_pass() != plan:  # pragma: no cover - picows kept moving its buffer
        return [memoryview(data) for _, data in plan]
    return [_placed(data, address) for address, data in plan]


def _parse_wsproto(case: Case) -> Op:
    # wsproto hands out the part of a data frame that has arrived as a
    # Frame of its own (frame_finished False); only finished ones count.
    proto = _peer("wsproto.frame_protocol").FrameProtocol(client=False, extensions=[])
    chunks = _chunks(_frames_buffer(case.size, case.frames), case.chunk)
    receive, frames = proto.receive_bytes, proto.received_frames

    def op() -> int:
        n = 0
        for chunk in chunks:
            receive(chunk)
            for frame in frames():
                n += frame.frame_finished
        return n

    return Op(op, (), _count_is(case.frames))


def _memcpy_frames(case: Case) -> Op:
    return _memcpy(_frames_buffer(case.size, case.frames))


PARSE_IMPLS: list[Impl] = [
    *_both_twins(_parse_fastws),
    Impl("websockets", _peer_impl(_parse_websockets)),
    Impl("aiohttp-cython", _peer_impl(_parse_aiohttp("aiohttp._websocket.reader_c"))),
    Impl("aiohttp-python", _peer_impl(_parse_aiohttp("aiohttp._websocket.reader_py"))),
    Impl("picows", _peer_impl(_parse_picows)),
    Impl("wsproto", _peer_impl(_parse_wsproto)),
    Impl(MEMCPY, _peer_impl(_memcpy_frames), reference=True),
]


# encode_frame -------------------------------------------------------------------------------
# Masked frames draw a fresh key per frame everywhere: fastws from a pool
# filled by os.urandom 1024 keys at a time, websockets from os.urandom (a
# system call per key), wsproto from os.urandom too, aiohttp from
# random.getrandbits and picows from libc rand() (neither is a CSPRNG, which
# RFC 6455 section 5.3 asks for). The "-key" row passes a fixed key to show
# what the key costs.


def _frame_check(case: Case) -> Callable[[object], bool]:
    header = 2 + (2 if 126 <= case.size < 65536 else 8 if case.size >= 65536 else 0)
    expected = header + (4 if case.masked else 0) + case.size
    mask_bit = 0x80 if case.masked else 0

    def check(result: object) -> bool:
        if not isinstance(result, (bytes, bytearray, memoryview)):
            return False
        frame = bytes(result)
        return len(frame) == expected and frame[0] == 0x80 | _BINARY and frame[1] & 0x80 == mask_bit

    return check


def _encode_fastws(mod: ModuleType, case: Case) -> Op:
    fn = functools.partial(mod.encode_frame, mask=True) if case.masked else mod.encode_frame
    return Op(fn, (_BINARY, _payload(case.size)), _frame_check(case))


def _encode_fastws_key(mod: ModuleType, case: Case) -> Op:
    if not case.masked:
        raise Unavailable("only for masked frames")
    fn = functools.partial(mod.encode_frame, mask=MASK)
    return Op(fn, (_BINARY, _payload(case.size)), _frame_check(case))


def _encode_websockets(case: Case) -> Op:
    # What Protocol.send_binary does before queueing: build a Frame, serialize it.
    frames = _peer("websockets.frames")
    frame_cls, opcode, payload, masked = frames.Frame, frames.Opcode.BINARY, _payload(case.size), case.masked

    def op() -> bytes:
        result: bytes = frame_cls(opcode, payload).serialize(mask=masked)
        return result

    return Op(op, (), _frame_check(case))


def _encode_wsproto(case: Case) -> Op:
    proto = _peer("wsproto.frame_protocol").FrameProtocol(client=case.masked, extensions=[])
    return Op(proto.send_data, (_payload(case.size), True), _frame_check(case))


def _written(transport: _FakeTransport, case: Case) -> Callable[[object], bool]:
    transport.out.clear()
    frame_ok = _frame_check(case)

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
    writer = writer_mod.WebSocketWriter(_AiohttpProtocolStub(), transport, use_mask=case.masked)
    return Op(writer._write_websocket_frame, (_payload(case.size), _BINARY, 0), _written(transport, case))


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
    return Op(ws.send, (picows.WSMsgType.BINARY, _payload(case.size)), _written(transport, case))


def _memcpy_payload(case: Case) -> Op:
    return _memcpy(_payload(case.size))


ENCODE_IMPLS: list[Impl] = [
    *_both_twins(_encode_fastws),
    Impl("fastws-cython-key", _fastws("cython", _encode_fastws_key)),
    Impl("websockets", _peer_impl(_encode_websockets)),
    Impl("aiohttp", _peer_impl(_encode_aiohttp)),
    Impl("picows", _peer_impl(_encode_picows)),
    Impl("wsproto", _peer_impl(_encode_wsproto)),
    Impl(MEMCPY, _peer_impl(_memcpy_payload), reference=True),
]


def prepare(case: Case, impl: Impl, twins: dict[str, ModuleType | str]) -> Op:
    """Build ``impl``'s op for ``case`` and check one call's result.

    Raises:
        Unavailable: the implementation cannot run here.
        AssertionError: its result is wrong (the benchmark would be void).
    """
    op = impl.build(case, twins)
    result = op.fn(*op.args)
    if op.check is not None and not op.check(result):
        raise AssertionError(f"{impl.name} gave a wrong result for {case.title}")
    return op


# -- case selection -----------------------------------------------------------------------------

#: Families as ``--only`` names them: name -> (full sizes, quick sizes).
FAMILIES: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "mask": ((8, 125, KiB, 64 * KiB, MiB, 16 * MiB), (8, KiB, 64 * KiB, MiB)),
    "utf8": ((125, KiB, 4 * KiB, 64 * KiB, MiB), (KiB, 64 * KiB)),
    "parse": ((8, 125, KiB), (8, 125)),
    "encode": ((8, 125, KiB, 64 * KiB), (8, 64 * KiB)),
}


def cases(
    only: Iterable[str], quick: bool, sizes: Sequence[int] | None = None
) -> list[tuple[Case, list[Impl]]]:
    """The benchmark plan: each case with the implementations to time on it."""
    plan: list[tuple[Case, list[Impl]]] = []
    for family in only:
        full, fast = FAMILIES[family]
        chosen = tuple(sizes) if sizes else (fast if quick else full)
        if family == "mask":
            plan += [(mask_case(n), MASK_IMPLS) for n in chosen]
            plan += [(mask_case(n, inplace=True), MASK_INPLACE_IMPLS) for n in chosen]
        elif family == "utf8":
            plan += [(utf8_case(kind, n), UTF8_IMPLS) for kind in UTF8_KINDS for n in chosen]
        elif family == "parse":
            feeds = (PARSE_CHUNK,) if quick else (PARSE_CHUNK, 0)
            plan += [(parse_case(n, chunk), PARSE_IMPLS) for chunk in feeds for n in chosen]
        elif family == "encode":
            plan += [(encode_case(n, masked), ENCODE_IMPLS) for masked in (False, True) for n in chosen]
    return plan


# -- timing ----------------------------------------------------------------------------------------


def _loop(fn: Callable[..., object], args: tuple[object, ...], n: int) -> int:
    """Nanoseconds for ``n`` calls of ``fn(*args)``; one loop shape per arity keeps overhead flat."""
    it = itertools.repeat(None, n)
    clock = time.perf_counter_ns
    if not args:
        t0 = clock()
        for _ in it:
            fn()
    elif len(args) == 1:
        (a,) = args
        t0 = clock()
        for _ in it:
            fn(a)
    elif len(args) == 2:
        a, b = args
        t0 = clock()
        for _ in it:
            fn(a, b)
    elif len(args) == 3:
        a, b, c = args
        t0 = clock()
        for _ in it:
            fn(a, b, c)
    else:
        t0 = clock()
        for _ in it:
            fn(*args)
    return clock() - t0


@dataclass(frozen=True)
class Timing:
    """How long to time: each repeat lasts about ``target_ns``; keep the minimum."""

    target_ns: int
    repeats: int
    max_ns: int  # stop repeating past this, for the slow pure-Python rows


QUICK = Timing(target_ns=8_000_000, repeats=3, max_ns=150_000_000)
FULL = Timing(target_ns=40_000_000, repeats=7, max_ns=1_500_000_000)


def calibrate(op: Op, target_ns: int) -> tuple[int, float]:
    """How many calls of ``op`` take about ``target_ns``, and the ns per call seen."""
    fn, args = op.fn, op.args
    n, elapsed = 1, _loop(fn, args, 1)
    while elapsed < target_ns // 10:
        n *= 10
        elapsed = _loop(fn, args, n)
    return max(1, round(n * target_ns / max(elapsed, 1))), elapsed / n


def measure(ops: Sequence[Op], timing: Timing) -> list[float]:
    """Best nanoseconds per call of each op, the ops' repeats interleaved.

    Each op is calibrated so one repeat lasts about ``timing.target_ns``;
    then the repeats go round the ops in turn, so that a disturbance on a
    shared machine (another process, a frequency change) is spread over all
    rows of a table instead of landing on one. The fastest repeat counts.
    """
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        plan = [calibrate(op, timing.target_ns) for op in ops]
        best = [per_call for _, per_call in plan]
        spent = [n * per_call for n, per_call in plan]
        for _ in range(timing.repeats):
            for i, (op, (n, _)) in enumerate(zip(ops, plan, strict=True)):
                if spent[i] > timing.max_ns:
                    continue
                elapsed = _loop(op.fn, op.args, n)
                spent[i] += elapsed
                best[i] = min(best[i], elapsed / n)
    finally:
        if gc_was_enabled:
            gc.enable()
    return best


# -- results and tables ------------------------------------------------------------------------------


@dataclass
class Result:
    """One row of a table."""

    case: Case
    impl: str
    ns: float | None = None  # per call
    skipped: str = ""
    error: str = ""
    reference: bool = False
    peer: bool = False

    @property
    def throughput(self) -> float | None:
        """In :attr:`Case.unit`."""
        if self.ns is None:
            return None
        if self.case.unit == "GB/s":
            return self.case.nbytes / self.ns
        return self.case.frames / self.ns * 1e3

    def to_json(self, memcpy: float | None, best_peer: float | None) -> dict[str, Any]:
        return {
            "family": self.case.family,
            "case": self.case.title,
            "size": self.case.size,
            "kind": self.case.kind or None,
            "chunk": self.case.chunk if self.case.family == "parse" else None,
            "masked": self.case.masked if self.case.family == "encode" else None,
            "frames": self.case.frames or None,
            "impl": self.impl,
            "ns_per_call": self.ns,
            "throughput": self.throughput,
            "unit": self.case.unit,
            "vs_memcpy": memcpy / self.ns if memcpy and self.ns else None,
            "vs_best_peer": best_peer / self.ns if best_peer and self.ns else None,
            "skipped": self.skipped or None,
            "error": self.error or None,
        }


def _ref_times(rows: list[Result]) -> tuple[float | None, float | None, str]:
    memcpy = next((r.ns for r in rows if r.reference and r.ns), None)
    peers = [r for r in rows if r.peer and r.ns]
    best = min(peers, key=lambda r: r.ns or 0.0, default=None)
    return memcpy, (best.ns if best else None), (best.impl if best else "")


def _fmt_ratio(ref: float | None, ns: float | None) -> str:
    return f"{ref / ns:.2f}x" if ref and ns else "-"


def _fmt_rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.3g}" if value < 100 else f"{value:,.0f}"


def render_table(rows: list[Result], out: TextIO) -> None:
    """Print one case's rows as an aligned table."""
    case = rows[0].case
    memcpy, best_peer, best_name = _ref_times(rows)
    per = "ns/frame" if case.family == "parse" else "ns/call"
    detail = f"{case.nbytes:,} bytes per call"
    if case.family == "parse":
        detail += f", {case.frames:,} frames"
    out.write(f"\n{case.title}  ({detail})\n")
    header = ("implementation", f"throughput ({case.unit})", per, "vs memcpy", "vs best peer")
    lines = [header]
    notes: list[str] = []
    for r in rows:
        if r.ns is None:
            notes.append(f"  {r.impl}: {r.error or r.skipped}")
            continue
        per_value = r.ns / case.frames if case.family == "parse" else r.ns
        mark = "  (best peer)" if r.impl == best_name else ""
        lines.append(
            (
                r.impl,
                _fmt_rate(r.throughput),
                f"{per_value:,.1f}" if per_value < 100 else f"{per_value:,.0f}",
                _fmt_ratio(memcpy, r.ns),
                _fmt_ratio(best_peer, r.ns) + mark,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    for line in lines:
        cells = [line[0].ljust(widths[0])] + [line[i].rjust(widths[i]) for i in range(1, 4)]
        out.write("  " + "  ".join(cells) + "  " + line[4].rjust(len(header[4])) + "\n")
    if notes:
        out.write("  not measured:\n" + "\n".join("  " + n for n in notes) + "\n")


# -- targets ----------------------------------------------------------------------------------------------


def _targets(tables: list[list[Result]]) -> list[tuple[str, float, float, bool]]:
    """The project's speed targets, as (what, measured ratio, required ratio, met)."""
    found: list[tuple[str, float, float, bool]] = []

    def ns(rows: list[Result], name: str) -> float | None:
        return next((r.ns for r in rows if r.impl == name and r.ns), None)

    def add(what: str, ours: float | None, theirs: float | None, need: float) -> None:
        if ours and theirs:
            ratio = theirs / ours
            found.append((what, ratio, need, ratio >= need))

    for rows in tables:
        case = rows[0].case
        ours = ns(rows, "fastws-cython")
        memcpy, _, _ = _ref_times(rows)
        if case.family == "mask":
            if case.size >= MiB:
                add(f"{case.title}: vs memcpy", ours, memcpy, 0.9)
            add(f"{case.title}: vs websockets-c", ours, ns(rows, "websockets-c"), 1.0)
        elif case.family == "mask_inplace":
            add(f"{case.title}: vs aiohttp-cython", ours, ns(rows, "aiohttp-cython"), 1.0)
        elif case.family == "utf8":
            if case.kind == "ascii":
                add(f"{case.title}: vs bytes.decode", ours, ns(rows, "bytes.decode"), 1.0)
            elif case.size >= 4 * KiB:
                add(f"{case.title}: vs bytes.decode", ours, ns(rows, "bytes.decode"), 3.0)
        elif case.family == "parse" and case.chunk == PARSE_CHUNK:
            add(f"{case.title}: vs aiohttp-cython", ours, ns(rows, "aiohttp-cython"), 3.0)
            add(f"{case.title}: vs picows", ours, ns(rows, "picows"), 1.0)
    return found


# -- environment -----------------------------------------------------------------------------------------------


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            info = f.read()
    except OSError:
        return platform.processor() or platform.machine()
    model = next(
        (line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), ""
    )
    flags_line = next((line for line in info.splitlines() if line.startswith("flags")), "")
    flags = set(flags_line.split(":", 1)[1].split()) if flags_line else set()
    isa = [name for name in ("sse2", "avx2", "avx512f", "avx512bw") if name in flags]
    cores = os.cpu_count() or 0
    return f"{model or platform.machine()}, {cores} logical CPUs, {' '.join(isa) or 'no x86 SIMD flags'}"


def _simd(mod: ModuleType) -> str:
    for name in ("simd_info", "_simd_info"):
        fn = getattr(mod, name, None)
        if callable(fn):
            try:
                info = fn()
            except Exception as exc:  # a diagnostic must not stop the run
                return f"{name}() failed: {exc!r}"
            if isinstance(info, dict):
                return ", ".join(f"{key} {value}" for key, value in info.items())
            return str(info)
    for name in ("_SIMD", "SIMD"):
        if hasattr(mod, name):
            return str(getattr(mod, name))
    return "not reported"


def _load_note() -> str:
    """A warning when other processes compete for the CPUs, else ``""``."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every platform
        return ""
    cpus = os.cpu_count() or 1
    if load < 0.75 * cpus:
        return ""
    return f"the machine is busy (load {load:.1f} on {cpus} CPUs): expect noisy numbers, run again to confirm"


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def environment(twins: dict[str, ModuleType | str]) -> dict[str, Any]:
    """What a reader needs to interpret the numbers."""
    from . import codec

    compiled = twins.get("cython")
    return {
        "fastws": _version("fastws"),
        "active_twin": codec.IMPLEMENTATION,
        "compiled_twin": "available" if isinstance(compiled, ModuleType) else compiled,
        "simd": _simd(compiled) if isinstance(compiled, ModuleType) else None,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "cpu": _cpu(),
        "peers": {d: _version(d) for d in ("websockets", "aiohttp", "wsproto", "picows", "wsaccel")},
    }


# -- command ------------------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fastws bench``."""
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats (under 30 s)")
    parser.add_argument(
        "--only",
        default=",".join(FAMILIES),
        metavar="GROUPS",
        help=f"comma-separated groups among {','.join(FAMILIES)} (default: all)",
    )
    parser.add_argument(
        "--sizes",
        default=None,
        metavar="SIZES",
        help="comma-separated payload sizes to use instead of the defaults, e.g. 8,1K,64K,1M",
    )
    parser.add_argument(
        "--simd",
        default=None,
        metavar="LEVEL",
        help="force the compiled twin's SIMD level (generic, sse2, avx2, avx512, neon) to compare kernels",
    )
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the results as JSON")


def _selection(text: str) -> list[str]:
    chosen = [g.strip() for g in text.split(",") if g.strip()]
    unknown = [g for g in chosen if g not in FAMILIES]
    if unknown or not chosen:
        raise SystemExit(f"fastws bench: --only takes {','.join(FAMILIES)}; got {text!r}")
    return chosen


class _Progress:
    def __init__(self, out: TextIO, total: int) -> None:
        self.out, self.total, self.done = out, total, 0
        self.tty = out.isatty()

    def step(self, label: str) -> None:
        self.done += 1
        text = f"[{self.done}/{self.total}] {label}"
        if self.tty:
            self.out.write("\r\x1b[K" + text)
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def note(self, label: str) -> None:
        text = f"[{self.done}/{self.total}] {label}"
        self.out.write(("\r\x1b[K" + text) if self.tty else (text + "\n"))
        self.out.flush()

    def close(self) -> None:
        if self.tty:
            self.out.write("\r\x1b[K")
            self.out.flush()


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run the selected benchmarks, print the tables, return the exit status.

    The status is 1 when a fastws twin gave a wrong result, else 0.
    """
    only = _selection(args.only)
    try:
        sizes = [parse_size(s) for s in args.sizes.split(",")] if args.sizes else None
    except ValueError as exc:
        raise SystemExit(f"fastws bench: {exc}") from None
    timing = QUICK if args.quick else FULL
    twins = load_twins()
    if args.simd:
        compiled = twins.get("cython")
        chooser = getattr(compiled, "_set_simd", None)
        if not callable(chooser):
            raise SystemExit("fastws bench: --simd needs the compiled twin, with SIMD selection")
        try:
            chooser(args.simd)
        except (ValueError, TypeError) as exc:
            raise SystemExit(f"fastws bench: --simd {args.simd}: {exc}") from None
    env = environment(twins)

    out.write("fastws codec benchmarks" + (" (quick)" if args.quick else "") + "\n")
    out.write(f"  active twin: {env['active_twin']}; compiled twin: {env['compiled_twin']}")
    out.write(f"; SIMD: {env['simd']}\n" if env["simd"] else "\n")
    out.write(f"  {env['python']} on {env['platform']}\n  CPU: {env['cpu']}\n")
    peers = ", ".join(f"{k} {v}" for k, v in env["peers"].items() if v) or "none installed"
    out.write(f"  peers: {peers}\n")
    busy = _load_note()
    if busy:
        out.write(f"  note: {busy}\n")
    out.write("  throughput: higher is better; ratios are speed relative to the row named (>1: faster)\n")
    out.flush()

    plan = cases(only, args.quick, sizes)
    progress = _Progress(err, sum(len(impls) for _, impls in plan))
    tables: list[list[Result]] = []
    status = 0
    for case, impls in plan:
        rows: list[Result] = []
        ready: list[tuple[Result, Op]] = []
        for impl in impls:
            progress.step(f"{case.title} {impl.name}")
            row = Result(case, impl.name, reference=impl.reference, peer=impl.is_peer)
            try:
                ready.append((row, prepare(case, impl, twins)))
            except Unavailable as exc:
                row.skipped = f"skipped: {exc}"
            except Exception as exc:  # a peer's failure must not end the comparison
                row.error = f"error: {type(exc).__name__}: {exc}"
                if impl.is_fastws:
                    status = 1
            rows.append(row)
        progress.note(f"{case.title}: timing {len(ready)} implementations")
        for (row, _), ns in zip(ready, measure([op for _, op in ready], timing), strict=True):
            row.ns = ns
        progress.close()
        render_table(rows, out)
        out.flush()
        tables.append(rows)

    targets = _targets(tables)
    if targets:
        out.write("\ntargets (compiled twin, ratio of speeds; met when >= required)\n")
        width = max(len(t[0]) for t in targets)
        for what, ratio, need, met in targets:
            out.write(
                f"  {what.ljust(width)}  {ratio:6.2f}x  (>= {need:.1f}x)  {'met' if met else 'MISSED'}\n"
            )
    elif not isinstance(twins.get("cython"), ModuleType):
        out.write("\ntargets: not checked, they apply to the compiled twin, which did not run\n")

    if args.json:
        payload: dict[str, Any] = {"environment": env, "quick": bool(args.quick), "results": []}
        for rows in tables:
            memcpy, best_peer, _ = _ref_times(rows)
            payload["results"] += [r.to_json(memcpy, best_peer) for r in rows]
        payload["targets"] = [{"what": w, "ratio": r, "required": n, "met": m} for w, r, n, m in targets]
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=2)
            f.write("\n")
        out.write(f"\nresults written to {args.json}\n")
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fastws bench`` with its own argument parser (the ``fastws`` command wraps this)."""
    parser = argparse.ArgumentParser(
        prog="fastws bench", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
