"""apply_mask and apply_mask_inplace, 8 B to 16 MiB.

Copying masks (fastws.apply_mask, websockets, wsaccel, wsproto) in one
group per size; in-place masks (fastws.apply_mask_inplace, aiohttp) in
another; a fresh copy of the same bytes (memcpy) is in both.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fastws.cli.timing import Case, mask_case
from peers import FAMILIES, MASK_IMPLS, MASK_INPLACE_IMPLS, Impl, params, size_id

SIZES = FAMILIES["mask"][0]


@pytest.mark.parametrize("impl", params(MASK_IMPLS))
@pytest.mark.parametrize("size", SIZES, ids=size_id)
def test_apply_mask(bench: Callable[[Case, Impl], None], size: int, impl: Impl) -> None:
    bench(mask_case(size), impl)


@pytest.mark.parametrize("impl", params(MASK_INPLACE_IMPLS))
@pytest.mark.parametrize("size", SIZES, ids=size_id)
def test_apply_mask_inplace(bench: Callable[[Case, Impl], None], size: int, impl: Impl) -> None:
    bench(mask_case(size, inplace=True), impl)
