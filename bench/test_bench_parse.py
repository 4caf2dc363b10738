"""Parsing 10,000 masked client frames of 8 B, 125 B and 1 KiB.

One call parses the whole input, fed in 64 KiB reads (as a socket delivers
it) or as one buffer; pytest-benchmark's ops/s is therefore calls/s, and
``extra_info["frames_per_s"]`` the frame rate. What each peer's row
includes (websockets: framing only; picows: zero-copy frames to a no-op
listener) is written next to its adapter in ``bench/peers.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fastws.cli.timing import Case, parse_case
from peers import FAMILIES, PARSE_CHUNK, PARSE_IMPLS, Impl, params, size_id

SIZES = FAMILIES["parse"][0]


@pytest.mark.parametrize("impl", params(PARSE_IMPLS))
@pytest.mark.parametrize("size", SIZES, ids=size_id)
@pytest.mark.parametrize("chunk", [PARSE_CHUNK, 0], ids=["64KiB-chunks", "one-buffer"])
def test_parse(bench: Callable[[Case, Impl], None], chunk: int, size: int, impl: Impl) -> None:
    bench(parse_case(size, chunk), impl)
