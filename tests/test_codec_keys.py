"""Masking keys: ``encode_frame(mask=True)`` and ``_mask_key()`` (RFC 6455 section 5.3).

Both twins draw keys from a pool filled by ``os.urandom`` many keys at a
time. The pool tests replace ``os.urandom`` with a source whose keys are
distinct by construction (a counter), so that any key handed out twice shows
up as a duplicate, and the expected keys come from that source, not from the
code under test. The statistical tests use the real ``os.urandom``.
"""

from __future__ import annotations

import itertools
import os
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from vectors import mask_oracle


class CountingSource:
    """A stand-in for ``os.urandom``: every 4-byte word it returns is new.

    Word ``i`` (counting across calls) is ``i`` as a big-endian 32-bit
    integer, so a key's value says where in the stream it came from.
    """

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.words = itertools.count()
        self.lock = threading.Lock()

    def __call__(self, size: int) -> bytes:
        assert size % 4 == 0, size
        with self.lock:
            self.sizes.append(size)
            return b"".join(struct.pack(">I", next(self.words)) for _ in range(size // 4))


@pytest.fixture
def source(codec, monkeypatch):
    """Install a :class:`CountingSource` as ``os.urandom``, on an empty pool."""
    fake = CountingSource()
    codec._drop_key_pool()
    monkeypatch.setattr(os, "urandom", fake)
    yield fake
    # Predictable keys must not outlive the test.
    codec._drop_key_pool()


def word(i: int) -> bytes:
    return struct.pack(">I", i)


def frame_key(wire: bytes) -> bytes:
    """The masking key of a masked frame with a payload under 126 bytes."""
    assert wire[1] & 0x80, "frame is not masked"
    assert wire[1] & 0x7F < 126
    return wire[2:6]


class TestRandomKeys:
    """Section 5.3: "The masking key needs to be unpredictable; thus, the
    masking key MUST be derived from a strong source of entropy"."""

    def test_key_is_four_bytes(self, codec):
        key = codec._mask_key()
        assert type(key) is bytes
        assert len(key) == 4

    def test_many_keys_differ(self, codec):
        keys = [codec._mask_key() for _ in range(20_000)]
        # 20,000 random 32-bit keys hold about 0.05 equal pairs on average
        # (the birthday bound), so a handful of equal keys is chance, but
        # three or more are a 1-in-a-million event. A pool handed out twice
        # repeats whole runs: no two consecutive keys may repeat as a pair
        # (a 64-bit collision, about 1e-11).
        duplicates = sum(count - 1 for count in Counter(keys).values())
        assert duplicates <= 2
        pairs = [a + b for a, b in itertools.pairwise(keys)]
        assert len(set(pairs)) == len(pairs)

    def test_encode_frame_keys_differ(self, codec):
        keys = [frame_key(codec.encode_frame(0x2, b"12345678", mask=True)) for _ in range(5_000)]
        pairs = [a + b for a, b in itertools.pairwise(keys)]
        assert len(set(pairs)) == len(pairs)

    @pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 8, 125, 126, 1000, 65535, 65536, 70000])
    def test_round_trip(self, codec, size):
        # Section 5.3: octet i of the masked data is octet i of the payload
        # XOR octet i modulo 4 of the key.
        payload = bytes((i * 7 + 3) & 0xFF for i in range(size))
        for _ in range(3):
            wire = codec.encode_frame(0x2, payload, mask=True)
            if size < 126:
                header = 2
            elif size < 65536:
                header = 4
            else:
                header = 10
            key = wire[header : header + 4]
            assert wire[1] & 0x80
            assert wire[header + 4 :] == mask_oracle(payload, key)
            frames = codec.FrameParser(require_mask=True).feed(wire)
            assert [(f.opcode, f.payload, f.fin) for f in frames] == [(0x2, payload, True)]

    def test_round_trip_many_keys(self, codec):
        # Across several pool refills, every frame parses back.
        parser = codec.FrameParser(require_mask=True)
        payloads = [bytes([i & 0xFF]) * (i % 40) for i in range(3_000)]
        wire = b"".join(codec.encode_frame(0x2, p, mask=True) for p in payloads)
        assert [f.payload for f in parser.feed(wire)] == payloads


class TestPool:
    """Keys come from a pool filled by ``os.urandom``; each is handed out once."""

    def test_refill_boundaries(self, codec, source):
        first = codec._mask_key()
        assert len(source.sizes) == 1
        size = source.sizes[0]
        # Many keys per system call (4 KiB is the design), but a bounded pool.
        assert 64 <= size <= 65536
        per_refill = size // 4
        keys = [first] + [codec._mask_key() for _ in range(per_refill - 1)]
        # The whole buffer is used, in order, before the next call.
        assert len(source.sizes) == 1
        assert keys == [word(i) for i in range(per_refill)]
        assert codec._mask_key() == word(per_refill)
        assert source.sizes == [size, size]
        more = [codec._mask_key() for _ in range(per_refill - 1)]
        assert more == [word(i) for i in range(per_refill + 1, 2 * per_refill)]
        assert len(source.sizes) == 2
        assert codec._mask_key() == word(2 * per_refill)
        assert len(source.sizes) == 3

    def test_encode_frame_draws_from_the_pool(self, codec, source):
        seen = []
        for i in range(600):
            if i % 3:
                wire = codec.encode_frame(0x1, b"hello", mask=True)
                seen.append(frame_key(wire))
                assert wire[6:] == mask_oracle(b"hello", frame_key(wire))
            else:
                seen.append(codec._mask_key())
        per_refill = source.sizes[0] // 4
        assert seen == [word(i) for i in range(600)]
        assert len(source.sizes) == -(-600 // per_refill)

    def test_explicit_or_no_key_draws_nothing(self, codec, source):
        first = codec._mask_key()
        for mask in (None, False, b"abcd", bytearray(b"abcd"), memoryview(b"abcd")):
            codec.encode_frame(0x2, b"data", mask=mask)
        assert codec._mask_key() == word(1)
        assert first == word(0)
        assert len(source.sizes) == 1

    def test_no_key_handed_out_twice(self, codec, source):
        keys = [codec._mask_key() for _ in range(5_000)]
        keys += [frame_key(codec.encode_frame(0x9, b"", mask=True)) for _ in range(5_000)]
        assert len(set(keys)) == len(keys)

    def test_urandom_failure_propagates_and_recovers(self, codec, monkeypatch):
        # No entropy, no key: the error reaches the caller, nothing is made
        # up, and the next call asks os.urandom again.
        codec._drop_key_pool()
        fake = CountingSource()

        def failing(size: int) -> bytes:
            raise OSError("no entropy")

        try:
            monkeypatch.setattr(os, "urandom", failing)
            with pytest.raises(OSError, match="no entropy"):
                codec._mask_key()
            with pytest.raises(OSError, match="no entropy"):
                codec.encode_frame(0x2, b"x", mask=True)
            monkeypatch.setattr(os, "urandom", fake)
            assert codec._mask_key() == word(0)
            assert len(fake.sizes) == 1
        finally:
            codec._drop_key_pool()


class TestThreads:
    """Threads drawing at once never get the same key."""

    THREADS = 4
    PER_THREAD = 3_000

    def test_threads_get_distinct_keys(self, codec, source):
        results: list[list[bytes]] = [[] for _ in range(self.THREADS)]
        start = threading.Barrier(self.THREADS)

        def draw(out: list[bytes]) -> None:
            start.wait(timeout=10)
            for i in range(self.PER_THREAD):
                if i % 2:
                    out.append(codec._mask_key())
                else:
                    out.append(frame_key(codec.encode_frame(0x2, b"abc", mask=True)))

        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # switch threads as often as possible
        try:
            threads = [threading.Thread(target=draw, args=(out,)) for out in results]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 60
            for thread in threads:
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
            assert not any(thread.is_alive() for thread in threads), "threads did not finish in 60 s"
        finally:
            sys.setswitchinterval(interval)
        keys = [key for out in results for key in out]
        assert len(keys) == self.THREADS * self.PER_THREAD
        assert len(set(keys)) == len(keys)
        # Every key came from the source: none was made up or damaged.
        total = sum(source.sizes) // 4
        assert all(int.from_bytes(key, "big") < total for key in keys)


FORK_SCRIPT = """
import importlib, os, sys

codec = importlib.import_module(sys.argv[1])
codec._drop_key_pool()
codec._mask_key()  # the pool now holds keys the parent has not used
read_end, write_end = os.pipe()
pid = os.fork()
if pid == 0:
    try:
        os.close(read_end)
        calls = []
        real = os.urandom

        def counting(size):
            calls.append(size)
            return real(size)

        os.urandom = counting
        keys = [codec._mask_key() for _ in range(8)]
        keys += [codec.encode_frame(2, b"x", mask=True)[2:6] for _ in range(8)]
        os.write(write_end, bytes([len(calls)]) + b"".join(keys))
    finally:
        os._exit(0)
os.close(write_end)
data = b""
while True:
    chunk = os.read(read_end, 4096)
    if not chunk:
        break
    data += chunk
os.waitpid(pid, 0)
parent = [codec._mask_key() for _ in range(16)]
print(data.hex())
print(b"".join(parent).hex())
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() is not available")
class TestFork:
    """After ``os.fork()`` the child does not reuse the parent's pooled keys."""

    def test_child_refills(self, codec):
        src = str(Path(codec.__file__).resolve().parents[1])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
        result = subprocess.run(
            [sys.executable, "-c", FORK_SCRIPT, codec.__name__],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        child_hex, parent_hex = result.stdout.split()
        child = bytes.fromhex(child_hex)
        parent = bytes.fromhex(parent_hex)
        assert len(child) == 1 + 16 * 4
        assert len(parent) == 16 * 4
        # The child asked os.urandom for fresh keys instead of using the
        # copy of the parent's pool...
        assert child[0] >= 1
        # ...so the parent's next keys are not the child's (with the copied
        # pool they would be equal, key for key).
        child_keys = {child[i : i + 4] for i in range(1, len(child), 4)}
        parent_keys = {parent[i : i + 4] for i in range(0, len(parent), 4)}
        assert not child_keys & parent_keys
