"""The conformance cases as pytest tests: one per case, role and target.

``test_server[<target>-<case>]`` drives a fastws echo server with the fuzzing
client; ``test_client[<target>-<case>]`` drives a fastws echo client with the
fuzzing server. Every target runs: ``asyncio`` (``fastws.serve`` /
``fastws.connect`` with an ``async for`` echo handler), ``sansio`` (the
sans-IO protocol objects under a minimal socket loop) and ``sync``
(``fastws.sync.serve`` / ``fastws.sync.connect`` with a ``for`` echo
handler); see :mod:`.harness`.
A case passes only with the verdict OK: NON-STRICT fails the test, as it
would fail the project's goal of being strict where the RFC leaves room.
CI runs this file once per codec twin (FASTWS_NO_EXTENSIONS=1 and
FASTWS_REQUIRE_EXTENSIONS=1).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .cases import CASES, Case
from .harness import TARGETS
from .runner import ServerPool, run_against_client, run_against_server


def _params() -> list[object]:
    return [pytest.param(case, id=case.name, marks=[pytest.mark.slow] if case.slow else []) for case in CASES]


@pytest.fixture(scope="module", params=TARGETS)
def target(request: pytest.FixtureRequest) -> str:
    """The fastws peers under test: ``asyncio``, ``sansio`` or ``sync``."""
    return str(request.param)


@pytest.fixture(scope="module")
def servers(target: str) -> Iterator[ServerPool]:
    """fastws echo servers of ``target``, one per configuration used by the cases."""
    pool = ServerPool(target)
    yield pool
    pool.close()


@pytest.mark.parametrize("case", _params())
def test_server(case: Case, servers: ServerPool) -> None:
    """The fuzzing client plays ``case`` against a fastws server."""
    result = run_against_server(case, servers)
    assert result.verdict == "OK", f"{case.description}\n{result}"


@pytest.mark.parametrize("case", _params())
def test_client(case: Case, target: str) -> None:
    """The fuzzing server plays ``case`` against a fastws client."""
    result = run_against_client(case, target)
    assert result.verdict == "OK", f"{case.description}\n{result}"
