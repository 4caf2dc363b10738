"""How fastws times its codec: inputs, the timed call, the clock, the environment.

``fastws bench`` times the two installed codec twins against a plain memory
copy; ``bench/codec_peers.py`` (in the source tree, not in the wheel) adds
the other WebSocket libraries to the same tables, and the pytest-benchmark
suites in ``bench/`` time the same calls. This module is what they share,
so they never disagree on what is measured:

* inputs built by code independent of fastws (``struct`` packing and a
  big-integer XOR written here), so a bug in a twin cannot also bend the
  data it is checked against;
* :class:`Case`, one benchmark (a function, an input, a size), and
  :class:`Op`, one timed call with the check of its result;
* the fastws rows (:func:`twin_op`) and the physical reference, a fresh
  copy of the same bytes (:func:`memcpy`);
* the clock: :func:`calibrate` sizes a loop, :func:`measure` interleaves
  the repeats of a table's rows and keeps each row's fastest;
* :func:`environment`, what a reader needs to interpret the numbers.

Standard library only.
"""

from __future__ import annotations

import functools
import gc
import itertools
import os
import platform
import random
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, NamedTuple, TextIO

__all__ = [
    "FULL",
    "MASK",
    "QUICK",
    "UTF8_KINDS",
    "Case",
    "KiB",
    "MiB",
    "Op",
    "Progress",
    "Timing",
    "address",
    "calibrate",
    "case_bytes",
    "check",
    "chunks",
    "client_frame",
    "count_is",
    "encode_case",
    "environment",
    "equals",
    "format_size",
    "frame_check",
    "frames_buffer",
    "inplace_check",
    "is_true",
    "load_note",
    "mask_case",
    "masked",
    "measure",
    "memcpy",
    "parse_case",
    "parse_size",
    "payload",
    "placed",
    "ref_mask",
    "text",
    "twin_op",
    "utf8_case",
]

#: One kibibyte, in bytes.
KiB = 1024
#: One mebibyte, in bytes.
MiB = 1024 * KiB

#: The RFC 6455 section 5.7 example key: any fixed key does, a known one
#: makes a failed check easy to reproduce by hand.
MASK = b"\x37\xfa\x21\x3d"

#: The opcode of the frames the parse and encode cases use.
_BINARY = 0x2


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


# -- inputs ----------------------------------------------------------------------


def ref_mask(data: bytes, key: bytes) -> bytes:
    """RFC 6455 section 5.3 masking as one big-integer XOR (no fastws code)."""
    n = len(data)
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")


@functools.cache
def payload(size: int, seed: int = 1) -> bytes:
    """``size`` pseudo-random bytes, the same on every run."""
    return random.Random(seed * 1_000_003 + size).randbytes(size)


@functools.cache
def masked(size: int) -> bytes:
    """:func:`payload` masked with :data:`MASK`."""
    return ref_mask(payload(size), MASK)


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
def text(kind: str, size: int) -> bytes:
    """``size`` bytes of valid UTF-8 in the style of ``kind``."""
    sample = _SAMPLES[kind].encode("utf-8")
    raw = sample * (size // len(sample) + 2)
    end = size
    # Cut on a code point boundary (never before a continuation byte 80..BF),
    # then pad with spaces to the exact size.
    while 0x80 <= raw[end] <= 0xBF:
        end -= 1
    result = raw[:end] + b" " * (size - end)
    result.decode("utf-8")  # the input must be valid, or the benchmark is void
    return result


def client_frame(data: bytes, key: bytes) -> bytes:
    """A masked binary client frame carrying ``data`` (RFC 6455 section 5.2)."""
    n = len(data)
    if n < 126:
        header = struct.pack("!BB", 0x80 | _BINARY, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | _BINARY, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | _BINARY, 0x80 | 127, n)
    return header + key + ref_mask(data, key)


@functools.cache
def frames_buffer(size: int, count: int) -> bytes:
    """``count`` masked binary client frames of ``size`` bytes, each with its own key."""
    rng = random.Random(size * 7 + count)
    return b"".join(client_frame(rng.randbytes(size), rng.randbytes(4)) for _ in range(count))


def chunks(data: bytes, chunk: int) -> list[bytes]:
    """``data`` cut into reads of ``chunk`` bytes (one piece when ``chunk`` is 0)."""
    if chunk <= 0:
        return [data]
    return [data[i : i + chunk] for i in range(0, len(data), chunk)]


# -- cases -----------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One benchmark: a function, an input, a size.

    Attributes:
        family: ``mask``, ``mask_inplace``, ``utf8``, ``parse`` or ``encode``.
        title: the row or table title, e.g. ``"apply_mask 64 KiB"``.
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

    def throughput(self, ns: float) -> float:
        """The speed of one call that took ``ns`` nanoseconds, in :attr:`unit`."""
        if self.unit == "GB/s":
            return self.nbytes / ns
        return self.frames / ns * 1e3


def mask_case(size: int, inplace: bool = False) -> Case:
    """The ``apply_mask`` (or ``apply_mask_inplace``) case for ``size`` bytes."""
    name = "apply_mask_inplace" if inplace else "apply_mask"
    return Case("mask_inplace" if inplace else "mask", f"{name} {format_size(size)}", size, size)


def utf8_case(kind: str, size: int) -> Case:
    """The ``validate_utf8`` case for ``size`` bytes of ``kind`` text."""
    return Case("utf8", f"validate_utf8 {kind} {format_size(size)}", size, size, kind=kind)


def parse_case(size: int, chunk: int = 64 * KiB, frames: int = 10_000) -> Case:
    """Parsing ``frames`` masked client frames of ``size`` bytes fed in ``chunk``-byte reads."""
    nbytes = len(frames_buffer(size, frames))
    feed = f"{format_size(chunk)} chunks" if chunk else "one buffer"
    title = f"parse {frames:,} x {format_size(size)} masked frames, {feed}"
    return Case("parse", title, size, nbytes, frames=frames, chunk=chunk)


def encode_case(size: int, masked: bool) -> Case:
    """``encode_frame`` of a ``size``-byte binary payload, masked (client) or not."""
    title = f"encode_frame {format_size(size)} {'masked' if masked else 'unmasked'}"
    return Case("encode", title, size, size, frames=1, masked=masked)


# -- timed calls -----------------------------------------------------------------


class Op(NamedTuple):
    """One timed call, ``fn(*args)``, and how to judge the result of one call."""

    fn: Callable[..., object]
    args: tuple[object, ...] = ()
    check: Callable[[object], bool] | None = None


def check(op: Op, label: str) -> Op:
    """Run ``op`` once and check its result, so a wrong row never posts a time.

    Raises:
        AssertionError: the result is wrong.
    """
    result = op.fn(*op.args)
    if op.check is not None and not op.check(result):
        raise AssertionError(f"{label} gave a wrong result")
    return op


def equals(expected: bytes) -> Callable[[object], bool]:
    """A check that a result holds exactly ``expected`` (bytes or bytearray)."""

    def equal(result: object) -> bool:
        return isinstance(result, (bytes, bytearray)) and result == expected

    return equal


def count_is(n: int) -> Callable[[object], bool]:
    """A check that a result is the number ``n`` (frames parsed)."""
    return lambda result: result == n


def is_true(result: object) -> bool:
    """A check that a result is ``True`` (valid UTF-8)."""
    return result is True


def frame_check(case: Case) -> Callable[[object], bool]:
    """A check that a result is one binary frame of ``case`` (length, mask bit)."""
    header = 2 + (2 if 126 <= case.size < 65536 else 8 if case.size >= 65536 else 0)
    expected = header + (4 if case.masked else 0) + case.size
    mask_bit = 0x80 if case.masked else 0

    def is_frame(result: object) -> bool:
        if not isinstance(result, (bytes, bytearray, memoryview)):
            return False
        frame = bytes(result)
        return len(frame) == expected and frame[0] == 0x80 | _BINARY and frame[1] & 0x80 == mask_bit

    return is_frame


def inplace_check(buf: bytearray) -> Callable[[object], bool]:
    """A check that ``buf`` was masked in place with :data:`MASK` by the call.

    Built right before the one checked call: the buffer then holds the
    plain payload, so after the call it must hold the masked one.
    """
    before = bytes(buf)
    return lambda _result: bytes(buf) == ref_mask(before, MASK)


def twin_op(mod: ModuleType, case: Case) -> Op:
    """The call of a codec twin (``fastws._codec`` or ``fastws._codec_py``) for ``case``."""
    family = case.family
    if family == "mask":
        return Op(mod.apply_mask, (payload(case.size), MASK), equals(masked(case.size)))
    if family == "mask_inplace":
        buf = bytearray(payload(case.size))
        return Op(mod.apply_mask_inplace, (buf, MASK), inplace_check(buf))
    if family == "utf8":
        return Op(mod.validate_utf8, (text(case.kind, case.size),), is_true)
    if family == "parse":
        pieces = chunks(frames_buffer(case.size, case.frames), case.chunk)
        feed = mod.FrameParser(require_mask=True).feed

        def parse_all() -> int:
            n = 0
            for piece in pieces:
                n += len(feed(piece))
            return n

        return Op(parse_all, (), count_is(case.frames))
    if family == "encode":
        fn = functools.partial(mod.encode_frame, mask=True) if case.masked else mod.encode_frame
        return Op(fn, (_BINARY, payload(case.size)), frame_check(case))
    raise ValueError(f"unknown benchmark family: {family!r}")


def case_bytes(case: Case) -> bytes:
    """The bytes one call of ``case`` reads, which :func:`memcpy` copies."""
    if case.family == "utf8":
        return text(case.kind, case.size)
    if case.family == "parse":
        return frames_buffer(case.size, case.frames)
    return payload(case.size)


# -- the physical reference: a plain copy ----------------------------------------


def address(view: memoryview) -> int:
    """The address of a writable buffer's first byte."""
    import ctypes

    return ctypes.addressof(ctypes.c_char.from_buffer(view))


def placed(data: bytes, dst: int, gap: int = 2048) -> memoryview:
    """A copy of ``data`` placed so that ``(dst - source) % 4096 == gap``.

    On AMD Zen 3, the ``rep movsb`` copy glibc (before 2.39) uses for
    mid-sized buffers runs up to 25 times slower when the destination is
    1 to 31 bytes past the source modulo 4 KiB (glibc bug 30994). Where a
    copy belongs to the harness rather than to the code measured, placing
    its source half a page away keeps that accident out of the numbers.
    """
    staging = bytearray(len(data) + 4096)
    start = (dst - address(memoryview(staging)) - gap) % 4096
    staging[start : start + len(data)] = data
    return memoryview(staging)[start : start + len(data)]


def memcpy(data: bytes) -> Op:
    """The physical reference: a fresh copy of ``data`` (allocate, then memcpy).

    ``memoryview.tobytes`` is the cheapest Python call that copies (no
    argument parsing), so at 8 bytes it shows the floor of any call that
    returns new bytes. An in-place XOR reads and writes the same bytes a
    copy does but skips the allocation, so it can beat this row.

    Where the allocator puts the copy decides whether glibc's copy hits the
    slow alignment described in :func:`placed`; the source is taken from
    two places half a page apart and the faster one is kept, so the
    reference is the best plain copy, not an unlucky one.
    """
    candidates = [memoryview(data)]
    if len(data) >= 2048:
        # CPython keeps a bytes object's data right after its header.
        source = id(data) + bytes.__basicsize__ - 1
        candidates.append(placed(data, source))

    def cost(view: memoryview) -> int:
        return min(_loop(view.tobytes, (), 3) for _ in range(5))

    best = min(candidates, key=cost)
    return Op(best.tobytes, (), equals(data))


# -- the clock -------------------------------------------------------------------


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
    """How long to time: each repeat lasts about ``target_ns``; keep the minimum.

    Attributes:
        target_ns: the length of one repeat of one row.
        repeats: repeats per row after calibration.
        max_ns: stop repeating a row past this much time (slow rows).
    """

    target_ns: int
    repeats: int
    max_ns: int


#: The timing of ``fastws bench --quick``: a few seconds in all.
QUICK = Timing(target_ns=8_000_000, repeats=3, max_ns=150_000_000)
#: The timing of a full ``fastws bench`` run.
FULL = Timing(target_ns=40_000_000, repeats=7, max_ns=1_500_000_000)


def calibrate(op: Op, target_ns: int) -> tuple[int, float]:
    """How many calls of ``op`` take about ``target_ns``, and the ns per call seen."""
    fn, args = op.fn, op.args
    n, elapsed = 1, _loop(fn, args, 1)
    while elapsed < target_ns // 10:
        n *= 10
        elapsed = _loop(fn, args, n)
    return max(1, round(n * target_ns / max(elapsed, 1))), elapsed / n


def measure(ops: Sequence[Op], timing: Timing, *, gc_on: bool = True) -> list[float]:
    """Best nanoseconds per call of each op, the ops' repeats interleaved.

    Each op is calibrated so one repeat lasts about ``timing.target_ns``;
    then the repeats go round the ops in turn, so that a disturbance on a
    shared machine (another process, a frequency change) is spread over all
    rows of a table instead of landing on one. The fastest repeat counts:
    on a shared machine every disturbance only adds time.

    The garbage collector runs meanwhile, as it does in applications, so
    that what an op costs the collector counts; ``gc_on=False`` turns it
    off while timing (and back on after, if it was on).
    """
    gc_was_enabled = gc.isenabled()
    if gc_on:
        gc.enable()
    else:
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
        else:
            gc.disable()
    return best


def gc_note(gc_on: bool) -> str:
    """The header line that says whether the collector ran while timing."""
    if gc_on:
        return "garbage collector: on while timing, as in applications (--no-gc turns it off)"
    return "garbage collector: off while timing (--no-gc)"


class Progress:
    """A progress line on a stream (stderr): rewritten in place on a terminal.

    Args:
        out: where to write.
        total: the number of steps.
    """

    def __init__(self, out: TextIO, total: int) -> None:
        self.out, self.total, self.done = out, total, 0
        self.tty = out.isatty()

    def step(self, label: str) -> None:
        """Count one step and show it."""
        self.done += 1
        self.note(label)

    def note(self, label: str) -> None:
        """Show ``label`` without counting a step."""
        line = f"[{self.done}/{self.total}] {label}"
        self.out.write(("\r\x1b[K" + line) if self.tty else (line + "\n"))
        self.out.flush()

    def close(self) -> None:
        """Clear the line (on a terminal)."""
        if self.tty:
            self.out.write("\r\x1b[K")
            self.out.flush()


# -- environment -----------------------------------------------------------------


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
    # The compiled twin reports the kernels it chose for this CPU.
    info = getattr(mod, "_simd_info", None)
    if not callable(info):
        return "not reported"
    try:
        found = info()
    except Exception as exc:  # a diagnostic must not stop the run
        return f"_simd_info() failed: {exc!r}"
    if isinstance(found, dict):
        return ", ".join(f"{key} {value}" for key, value in found.items())
    return str(found)


def load_note() -> str:
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


def environment(twins: dict[str, ModuleType | str], peers: Sequence[str] = ()) -> dict[str, Any]:
    """What a reader needs to interpret the numbers.

    Args:
        twins: :func:`fastws.codec.load_twins`'s answer.
        peers: distribution names whose installed versions to report.
    """
    from ..codec import IMPLEMENTATION
    from ..version import __version__

    compiled = twins.get("cython")
    return {
        "fastws": __version__,
        "active_twin": IMPLEMENTATION,
        "compiled_twin": "available" if isinstance(compiled, ModuleType) else compiled,
        "simd": _simd(compiled) if isinstance(compiled, ModuleType) else None,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "cpu": _cpu(),
        "peers": {dist: _version(dist) for dist in peers},
    }
