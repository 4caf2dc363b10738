"""The code examples of the documentation and the README, and how each is run.

Every fenced Python block (```` ```python ````) and every shell block
(```` ```sh ````, ``bash``, ``console``) is an example. A Python block runs
as it is, in a child process; a shell block must say what it is. The line
just above a block may hold one marker, an HTML comment that the rendered
page does not show::

    <!-- example: skip REASON -->         not run; the reason says where it is covered
    <!-- example: run -->                 a shell block that runs as it is
    <!-- example: server PORT -->         runs in the background until the clients are done;
                                          PORT is replaced by a free port in it and its clients
    <!-- example: client -->              runs against the server block above it
    <!-- example: requires MODULE ... --> runs when every MODULE is importable, skipped otherwise

A shell block without a marker is an error: an example nobody runs must be
listed as such, with its reason.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

__all__ = ["Example", "Unit", "collect", "units"]

PYTHON = {"python", "py", "python3"}
SHELL = {"sh", "bash", "console", "shell"}
_FENCE = re.compile(r"^(`{3,})([\w+-]*)\s*$")
_MARKER = re.compile(r"^<!--\s*example:\s*(\w+)\s*(.*?)\s*-->\s*$")
KINDS = {"skip", "run", "server", "client", "requires"}


@dataclasses.dataclass
class Example:
    """One fenced code block."""

    path: Path
    line: int
    language: str
    code: str
    marker: str | None = None
    argument: str = ""

    @property
    def shell(self) -> bool:
        return self.language in SHELL

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"


@dataclasses.dataclass
class Unit:
    """What one test runs: a block alone, or a server block and its clients."""

    examples: list[Example]

    @property
    def id(self) -> str:
        first = self.examples[0]
        return f"{first.path.parent.name}/{first.where}"


def collect(path: Path) -> list[Example]:
    """The Python and shell blocks of a Markdown file, with their markers."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Example] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, language = match.group(1), match.group(2).lower()
        start = i
        i += 1
        body = []
        while i < len(lines) and lines[i].rstrip() != fence:
            body.append(lines[i])
            i += 1
        i += 1
        if language not in PYTHON | SHELL:
            continue
        example = Example(path, start + 1, language, "\n".join(body) + "\n")
        previous = lines[start - 1] if start else ""
        marker = _MARKER.match(previous)
        if marker:
            example.marker, example.argument = marker.group(1), marker.group(2)
        found.append(example)
    return found


def units(examples: list[Example]) -> list[Unit]:
    """Group each server block with the client blocks that follow it.

    Raises:
        ValueError: an unknown marker, a client with no server before it,
            a server without a port or without clients.
    """
    result: list[Unit] = []
    server: Unit | None = None
    for example in examples:
        if example.marker is not None and example.marker not in KINDS:
            raise ValueError(f"{example.where}: unknown marker {example.marker!r}")
        if example.marker == "client":
            if server is None:
                raise ValueError(f"{example.where}: a client block with no server block before it")
            server.examples.append(example)
            continue
        if server is not None and len(server.examples) == 1:
            raise ValueError(f"{server.examples[0].where}: a server block with no client block after it")
        server = None
        unit = Unit([example])
        if example.marker == "server":
            if not example.argument.isdigit():
                raise ValueError(f"{example.where}: 'server' needs the port the example uses")
            server = unit
        result.append(unit)
    if server is not None and len(server.examples) == 1:
        raise ValueError(f"{server.examples[0].where}: a server block with no client block after it")
    return result
