"""Fixtures for the adapter tests: a call counter on the codec function an adapter uses.

Each adapter module looks its fastws codec function up in its own globals at
call time (``_apply_mask`` or ``_apply_mask_inplace``); :func:`codec_spy`
wraps it with a counter, so a test can prove that the library's hot path
really reaches fastws.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

__all__ = ["CodecSpy", "codec_spy"]


@dataclass
class CodecSpy:
    """Counts the calls an adapter makes into fastws' codec."""

    calls: int = 0
    sizes: list[int] = field(default_factory=list)


@pytest.fixture
def codec_spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``codec_spy("wsproto")`` -> a :class:`CodecSpy` counting that adapter's codec calls."""

    def attach(name: str) -> CodecSpy:
        module = importlib.import_module(f"fastws.integrations.{name}")
        attr = "_apply_mask_inplace" if hasattr(module, "_apply_mask_inplace") else "_apply_mask"
        real = getattr(module, attr)
        spy = CodecSpy()

        def counting(data: Any, *args: Any) -> Any:
            spy.calls += 1
            spy.sizes.append(len(data))
            return real(data, *args)

        monkeypatch.setattr(module, attr, counting)
        return spy

    yield attach
