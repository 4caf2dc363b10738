"""Run the ``async def`` hostile-peer tests in a fresh event loop, bounded in time.

Same mechanism as ``tests/asyncio/conftest.py`` (no plugin): each coroutine
test runs under ``asyncio.wait_for`` with a time limit of 20 s, or
``@pytest.mark.timeout_s(N)``; ``FASTWS_TEST_LOOP=uvloop`` runs them on uvloop.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from typing import Any

import pytest

__all__ = ["pytest_configure", "pytest_pyfunc_call"]

DEFAULT_TIMEOUT = 20.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "timeout_s(seconds): time limit of an async test")


def _new_loop() -> asyncio.AbstractEventLoop:
    if os.environ.get("FASTWS_TEST_LOOP", "") == "uvloop":
        import uvloop

        return uvloop.new_event_loop()  # type: ignore[no-any-return]
    return asyncio.new_event_loop()


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    function = pyfuncitem.obj
    if not inspect.iscoroutinefunction(function):
        return None
    marker = pyfuncitem.get_closest_marker("timeout_s")
    timeout = float(marker.args[0]) if marker else DEFAULT_TIMEOUT
    kwargs: dict[str, Any] = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    loop = _new_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(function(**kwargs), timeout))
    finally:
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
    return True
