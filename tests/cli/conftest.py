"""The ``fastws`` command as a real process: fixtures that start ``fastws serve``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

Serve = Callable[..., tuple[subprocess.Popen[str], str]]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """``serve(*options)`` starts ``fastws serve --echo --port 0 OPTIONS``: the process and its URL.

    Every process started is killed at the end of the test.
    """
    started: list[subprocess.Popen[str]] = []

    def start(*options: str) -> tuple[subprocess.Popen[str], str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "fastws", "serve", "--echo", "--port", "0", *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        started.append(process)
        assert process.stdout is not None
        line = process.stdout.readline()  # bounded: the process prints it or dies
        match = re.match(r"listening on (wss?://\S+)", line)
        if match is None:
            process.kill()
            raise AssertionError(f"unexpected first line: {line!r} {process.stderr.read()!r}")  # type: ignore[union-attr]
        return process, match.group(1)

    try:
        yield start
    finally:
        for process in started:
            process.kill()
            process.wait(10)


@pytest.fixture
def echo_server(serve: Serve) -> str:
    """The URL of a ``fastws serve --echo`` process."""
    return serve()[1]
