"""encode_frame of 8 B to 64 KiB binary payloads, unmasked (server) and masked (client).

Masked rows draw a fresh key per frame as each library does on its own
(fastws: a pool filled by os.urandom; websockets: os.urandom; aiohttp: random.getrandbits; picows:
libc rand()); ``fastws-cython-key`` passes a fixed key to show that cost.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fastws.cli.timing import Case, encode_case
from peers import ENCODE_IMPLS, FAMILIES, Impl, params, size_id

SIZES = FAMILIES["encode"][0]


@pytest.mark.parametrize("impl", params(ENCODE_IMPLS))
@pytest.mark.parametrize("size", SIZES, ids=size_id)
@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
def test_encode_frame(bench: Callable[[Case, Impl], None], masked: bool, size: int, impl: Impl) -> None:
    bench(encode_case(size, masked), impl)
