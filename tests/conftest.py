"""Shared fixtures: the two codec twins, hypothesis profiles, the report header.

Every codec test takes the session-scoped ``codec`` fixture and so runs once
per twin in the same process: ``cython`` (``fastws._codec``, marked
``c_extension``) and ``python`` (``fastws._codec_py``). The twins are imported
directly, not through ``fastws.codec``, so both are tested whatever the
selector picked for this process.

* ``--no-c-extensions`` drops the ``cython`` parameter (and every other test
  marked ``c_extension``);
* without the compiled twin the ``cython`` tests are skipped, unless
  ``FASTWS_REQUIRE_EXTENSIONS=1`` is set: then they fail, so that a broken
  build cannot pass for green;
* ``HYPOTHESIS_PROFILE`` picks ``default`` (quick), ``ci`` or ``thorough``.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

__all__ = [
    "COMPILED",
    "PURE",
    "REQUIRE_EXTENSIONS",
    "codec",
    "compiled_codec",
    "import_twin",
    "pure_codec",
    "pytest_configure",
    "pytest_pyfunc_call",
]

COMPILED = "fastws._codec"
PURE = "fastws._codec_py"


def _flag(name: str) -> bool:
    # Same reading of a boolean environment variable as fastws.codec.
    return os.environ.get(name, "").strip().lower() not in ("", "0", "no", "false")


REQUIRE_EXTENSIONS = _flag("FASTWS_REQUIRE_EXTENSIONS")

# -- hypothesis ------------------------------------------------------------------

settings.register_profile(
    "default",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "thorough",
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# -- options and collection --------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--no-c-extensions",
        action="store_true",
        default=False,
        help="do not run the tests of the compiled codec twin (fastws._codec)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--no-c-extensions"):
        return
    kept, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker("c_extension") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = []
    try:
        import fastws

        lines.append(f"fastws codec selected: {fastws.implementation}")
    except Exception as exc:  # report, never break the header
        lines.append(f"fastws codec selected: import failed: {exc!r}")
    try:
        compiled = importlib.import_module(COMPILED)
    except ImportError as exc:
        lines.append(f"fastws compiled twin: not importable ({exc})")
    else:
        simd: Any = getattr(compiled, "_SIMD", None)
        info = getattr(compiled, "_simd_info", None)
        if callable(info):
            try:
                simd = info()
            except Exception as exc:
                simd = f"_simd_info() failed: {exc!r}"
        lines.append(
            f"fastws compiled twin: importable, SIMD: {simd if simd is not None else 'not reported'}"
        )
    if config.getoption("--no-c-extensions"):
        lines.append("fastws compiled twin tests: dropped (--no-c-extensions)")
    return lines


# -- the twins ---------------------------------------------------------------------


def import_twin(name: str) -> ModuleType:
    """Import a codec twin, skipping when the compiled one is not built.

    Raises:
        ImportError: the compiled twin does not import and
            ``FASTWS_REQUIRE_EXTENSIONS=1`` is set (or the pure twin fails).
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if name == COMPILED and not REQUIRE_EXTENSIONS:
            pytest.skip(f"compiled codec twin {COMPILED} is not built or does not import: {exc}")
        raise


@pytest.fixture(
    scope="session",
    params=[
        pytest.param(COMPILED, id="cython", marks=pytest.mark.c_extension),
        pytest.param(PURE, id="python"),
    ],
)
def codec(request: pytest.FixtureRequest) -> ModuleType:
    """Each codec twin in turn."""
    return import_twin(request.param)


@pytest.fixture(scope="session")
def pure_codec() -> ModuleType:
    """The pure-Python twin, for differential tests."""
    return import_twin(PURE)


@pytest.fixture(scope="session")
def compiled_codec() -> ModuleType:
    """The compiled twin, for differential tests (mark them ``c_extension``)."""
    return import_twin(COMPILED)


# -- async def tests ---------------------------------------------------------------
# No plugin is needed: a coroutine test function (tests/asyncio, tests/hostile)
# runs in a fresh event loop under asyncio.wait_for, bounded by 30 s or by
# @pytest.mark.timeout_s(N). FASTWS_TEST_LOOP=uvloop runs them on uvloop.

DEFAULT_TIMEOUT = 30.0


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
    names = pyfuncitem._fixtureinfo.argnames
    kwargs: dict[str, Any] = {name: pyfuncitem.funcargs[name] for name in names}
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
