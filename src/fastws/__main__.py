"""The ``fastws`` command (also ``python -m fastws``).

Subcommands:

* ``bench``: compare the codec twins with the peers and a plain memory copy.

Each subcommand is one entry in :data:`COMMANDS`: a function that adds its
options to a subparser and the import path of the function that runs it.
The runner is imported only when its subcommand is chosen, so ``fastws
--help`` stays instant and a subcommand may depend on layers (asyncio, the
network) that the others never load. Adding ``serve`` or ``connect`` is one
more entry.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple

__all__ = ["COMMANDS", "Command", "build_parser", "main"]


class Command(NamedTuple):
    """One subcommand of ``fastws``.

    Attributes:
        help: one line for ``fastws --help``.
        configure: adds the subcommand's options to its parser.
        runner: ``"module:function"``; the function takes the parsed
            ``argparse.Namespace`` and returns the exit status.
    """

    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    runner: str


def _configure_bench(parser: argparse.ArgumentParser) -> None:
    from ._benchmark import add_arguments

    add_arguments(parser)


def _asyncio_commands() -> dict[str, Command]:
    from .asyncio.cli import SUBCOMMANDS

    return {name: Command(*spec) for name, spec in SUBCOMMANDS.items()}


COMMANDS: dict[str, Command] = {
    "bench": Command(
        help="benchmark the codec against the peers and a plain memory copy",
        configure=_configure_bench,
        runner="fastws._benchmark:run",
    ),
}
# serve and connect: defined beside the asyncio layer, which they load only
# when they run.
COMMANDS.update(_asyncio_commands())


def build_parser() -> argparse.ArgumentParser:
    """The ``fastws`` parser with one subparser per entry of :data:`COMMANDS`."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="fastws",
        description="fastws: the fastest correct WebSocket library for Python.",
    )
    parser.add_argument("--version", action="version", version=f"fastws {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=command.help, description=command.help)
        command.configure(sub_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the subcommand, return its status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module, _, function = COMMANDS[args.command].runner.partition(":")
    runner = getattr(importlib.import_module(module), function)
    status: int = runner(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
