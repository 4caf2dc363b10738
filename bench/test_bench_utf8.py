"""validate_utf8 on ASCII, accented Latin, CJK and emoji-heavy text, 125 B to 1 MiB.

fastws' one-shot validate_utf8 and incremental Utf8Validator.feed (both
twins) against bytes.decode (what websockets and aiohttp do with a text
message, and the speed to beat) and wsaccel's incremental validator.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fastws.cli.timing import UTF8_KINDS, Case, utf8_case
from peers import FAMILIES, UTF8_IMPLS, Impl, params, size_id

SIZES = FAMILIES["utf8"][0]


@pytest.mark.parametrize("impl", params(UTF8_IMPLS))
@pytest.mark.parametrize("size", SIZES, ids=size_id)
@pytest.mark.parametrize("kind", UTF8_KINDS)
def test_validate_utf8(bench: Callable[[Case, Impl], None], kind: str, size: int, impl: Impl) -> None:
    bench(utf8_case(kind, size), impl)
