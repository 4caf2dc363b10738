"""The ``fastws`` command, one module per subcommand.

:mod:`fastws.__main__` lists the subcommands and their options; here,
:func:`main` builds the parser from :data:`SUBCOMMANDS`. Each subcommand is
a module of this package with:

* ``HELP``: one line for ``fastws --help``;
* ``configure(parser)``: adds its options to its ``argparse`` subparser;
* ``run(args) -> int``: runs it and returns the exit status.

A subcommand module imports nothing heavy at module level (asyncio, the
protocol, the network): what it needs is imported inside ``run``, so that
``fastws --help`` stays instant and ``fastws bench`` never loads asyncio.
Adding a subcommand is one module and one name in :data:`SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from ..version import __version__

__all__ = ["SUBCOMMANDS", "build_parser", "main", "version_line"]

#: The subcommands, in the order ``fastws --help`` lists them.
SUBCOMMANDS = ("serve", "connect", "bench", "integrations")


def version_line() -> str:
    """What ``fastws --version`` prints: the version, the codec twin in use and its SIMD kernels.

    For example ``fastws 0.1.0 (codec: compiled, SIMD: mask avx2, utf8 avx2)``;
    the pure twin has no SIMD kernels: ``(codec: pure, SIMD: none)``.
    """
    from .. import codec

    if codec.IMPLEMENTATION != "cython":
        return f"fastws {__version__} (codec: pure, SIMD: none)"
    # The compiled twin reports the kernels it chose for this CPU.
    twin = sys.modules[type(codec.Utf8Validator()).__module__]
    info = getattr(twin, "_simd_info", None)
    simd = "not reported"
    if callable(info):
        found = info()
        simd = f"mask {found['mask']}, utf8 {found['utf8']}"
    return f"fastws {__version__} (codec: compiled, SIMD: {simd})"


class _VersionAction(argparse.Action):
    # argparse's own "version" action formats its text when the parser is
    # built; this one imports the codec only when --version is given.
    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        print(version_line())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The ``fastws`` parser, with one subparser per entry of :data:`SUBCOMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="fastws",
        description="fastws: the fastest correct WebSocket library for Python.",
    )
    parser.add_argument(
        "--version",
        action=_VersionAction,
        help="print the version, the codec twin in use (compiled or pure) and its SIMD kernels, and exit",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        sub_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(sub_parser)
        sub_parser.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fastws`` command.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        The subcommand's exit status; 2 (after the help) without one.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    status: int = args.run(args)
    return status
