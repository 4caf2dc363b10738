"""The implementations each benchmark compares, as pytest parameters.

The adapters themselves (how each peer's hot path is called, and what makes
the comparison fair) live in ``fastws._benchmark``, because the same calls
back ``python -m fastws bench``, which must run from an installed wheel
where this folder does not exist. One definition serves both, so the
pytest-benchmark tables and the command's tables always measure the same
thing. This module turns them into parameters with readable ids:

* fastws-cython, fastws-python: the two codec twins, imported directly;
* websockets-c / websockets-py, aiohttp-cython / aiohttp-python: a peer's
  compiled and pure paths; websockets, aiohttp, picows, wsproto, wsaccel:
  the peer's only (or compiled) path;
* bytes.decode: CPython's UTF-8 decoder, the reference for validation;
* memcpy: a fresh copy of the same bytes, the physical reference.
"""

from __future__ import annotations

import pytest

from fastws._benchmark import (
    ENCODE_IMPLS,
    MASK_IMPLS,
    MASK_INPLACE_IMPLS,
    PARSE_IMPLS,
    UTF8_IMPLS,
    Impl,
    format_size,
)

__all__ = [
    "ENCODE_IMPLS",
    "MASK_IMPLS",
    "MASK_INPLACE_IMPLS",
    "PARSE_IMPLS",
    "UTF8_IMPLS",
    "params",
    "size_id",
]


def params(impls: list[Impl]) -> list[object]:
    """One pytest parameter per implementation, its id the row name."""
    return [pytest.param(impl, id=impl.name) for impl in impls]


def size_id(size: int) -> str:
    """``65536`` -> ``"64KiB"`` (no spaces, for test ids)."""
    return format_size(size).replace(" ", "")
