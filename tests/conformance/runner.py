"""Run cases against the fastws peers: one function per role, and a report.

``python -m tests.conformance`` (or ``python tests/conformance/run.py``)
runs every case in both roles and prints an Autobahn-style summary, against
the peers of ``FASTWS_CONFORMANCE_TARGET`` (``asyncio`` by default,
``sansio`` or ``sync``; see :mod:`.harness`).
"""

from __future__ import annotations

import fnmatch
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from .cases import CASES, Case
from .fuzzing_client import run_case as run_client_case
from .fuzzing_server import FuzzingServer
from .harness import DEFAULT_TARGET, EchoServer, start_echo_client
from .session import FAILED, Result

__all__ = ["ROLES", "ServerPool", "report", "run_against_client", "run_against_server", "select_cases"]

#: "server": the fuzzing client tests a fastws server; "client": the other way.
ROLES = ("server", "client")
_PEER_TIMEOUT = 10.0


def _key(config: Mapping[str, object]) -> tuple[tuple[str, object], ...]:
    return tuple(sorted(config.items()))


class ServerPool:
    """One fastws echo server per distinct configuration, reused across cases.

    Args:
        target: ``"asyncio"``, ``"sansio"`` or ``"sync"`` (see :mod:`.harness`); None for
            the harness' default.
    """

    def __init__(self, target: str | None = None) -> None:
        self.target = target or DEFAULT_TARGET
        self._servers: dict[tuple[tuple[str, object], ...], Any] = {}

    def get(self, config: Mapping[str, object]) -> Any:
        """The echo server for ``config`` (started on first use)."""
        key = _key(config)
        server = self._servers.get(key)
        if server is None:
            server = self._servers[key] = EchoServer(config, self.target)
        return server

    def close(self) -> None:
        """Stop every server."""
        for server in self._servers.values():
            server.close()
        self._servers.clear()


def _peer_outcome(result: Result, record: object) -> None:
    if record is None:
        result.fail("the fastws peer's connection was never seen")
        return
    if not record.wait(_PEER_TIMEOUT):  # type: ignore[attr-defined]
        result.fail(f"the fastws peer's connection did not end within {_PEER_TIMEOUT} s")
    error = record.error  # type: ignore[attr-defined]
    if error:
        result.fail("the fastws peer raised:\n" + error.rstrip())


def run_against_server(case: Case, pool: ServerPool) -> Result:
    """Run ``case`` with the fuzzing client against a fastws echo server."""
    server = pool.get(case.config)
    ports: list[int] = []
    result = run_client_case(case, server.host, server.port, on_connect=ports.append)
    _peer_outcome(result, server.record_for(ports[0]) if ports else None)
    return result


def run_against_client(case: Case, target: str | None = None) -> Result:
    """Run ``case`` with the fuzzing server against a fastws echo client of ``target``."""
    with FuzzingServer() as fuzzer:
        record = start_echo_client(fuzzer.host, fuzzer.port, case.config, target)
        result = fuzzer.run_case(case)
    _peer_outcome(result, record)
    return result


def select_cases(patterns: Iterable[str] = (), *, skip_slow: bool = False) -> list[Case]:
    """Cases whose name matches one of ``patterns`` (fnmatch; all if none)."""
    pats = list(patterns)
    return [
        c
        for c in CASES
        if (not pats or any(fnmatch.fnmatchcase(c.name, p) or c.name == p for p in pats))
        and not (skip_slow and c.slow)
    ]


def report(results: list[Result], *, verbose: bool = False) -> str:
    """An Autobahn-style summary: per group and role, OK / NON-STRICT / FAILED."""
    lines: list[str] = []
    by_group: dict[tuple[int, str], Counter[str]] = defaultdict(Counter)
    for r in results:
        by_group[(int(r.case.split(".")[0]), r.role)][r.verdict] += 1
    lines.append(f"{'group':>5}  {'role':<6}  {'OK':>5}  {'NON-STRICT':>10}  {'FAILED':>6}")
    for (group, role), counts in sorted(by_group.items()):
        lines.append(
            f"{group:>5}  {role:<6}  {counts['OK']:>5}  {counts['NON-STRICT']:>10}  {counts[FAILED]:>6}"
        )
    total = Counter(r.verdict for r in results)
    lines.append(f"{'all':>5}  {'':<6}  {total['OK']:>5}  {total['NON-STRICT']:>10}  {total[FAILED]:>6}")
    bad = [r for r in results if r.verdict != "OK" or (verbose and r.reasons)]
    if bad:
        lines.append("")
        lines.extend(str(r) for r in bad)
    return "\n".join(lines)


def run_all(
    cases: list[Case], roles: Iterable[str] = ROLES, *, progress: bool = False, target: str | None = None
) -> list[Result]:
    """Run ``cases`` in each role against ``target``'s peers; return every result."""
    results: list[Result] = []
    pool = ServerPool(target)
    try:
        for role in roles:
            start = time.monotonic()
            for case in cases:
                if role == "server":
                    result = run_against_server(case, pool)
                else:
                    result = run_against_client(case, pool.target)
                results.append(result)
                if progress and result.verdict != "OK":
                    print(result, flush=True)
            if progress:
                print(
                    f"# {role} ({pool.target}): {len(cases)} cases in {time.monotonic() - start:.1f} s",
                    flush=True,
                )
    finally:
        pool.close()
    return results
