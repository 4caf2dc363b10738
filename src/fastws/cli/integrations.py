"""``fastws integrations`` (also ``python -m fastws.integrations``): the adapters without changing any code.

Commands::

    fastws integrations status [--json]
    fastws integrations run [--only websockets,aiohttp] [--verbose] [--force] -- python app.py

``status`` lists each adapter: the library version found, the range the
adapter supports, and whether it would install. ``run`` starts the command
with every available adapter installed in each Python process it starts: it
puts a ``sitecustomize`` module on ``PYTHONPATH`` (which Python imports at
start-up), which installs the adapters and then runs the ``sitecustomize``
it shadows, if there is one. The command's exit status is returned.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence

from ..integrations import ADAPTERS, ENVIRONMENT_VARIABLE, FORCE_VARIABLE, status

__all__ = ["HELP", "SHIM", "configure", "main", "run"]

#: The subcommand's line in ``fastws --help``.
HELP = "speed up websockets, wsproto, aiohttp and Tornado with fastws' codec"

VERBOSE_VARIABLE = "FASTWS_INTEGRATIONS_VERBOSE"

#: The ``sitecustomize`` that ``run`` puts first on ``PYTHONPATH``.
SHIM = '''\
"""Installed by `python -m fastws.integrations run`: load fastws' adapters."""
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
try:
    from fastws.integrations import install_from_environment

    _done = install_from_environment()
    if os.environ.get("{verbose}"):
        print("fastws.integrations: installed " + (", ".join(_done) or "nothing"), file=sys.stderr)
except Exception as exc:  # never keep the program from starting
    print("fastws.integrations: adapters not installed: %r" % (exc,), file=sys.stderr)
finally:
    # Run the sitecustomize this one shadows, if any.
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]
    _me = sys.modules.pop("sitecustomize", None)
    try:
        import sitecustomize  # noqa: F401
    except ImportError:
        pass
    finally:
        # The import system expects a module under this name when we return.
        sys.modules.setdefault("sitecustomize", _me)
'''


def _status(args: argparse.Namespace) -> int:
    rows = status()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        state = "installed" if row["installed"] else ("available" if row["available"] else "unavailable")
        version = row["version"] or "-"
        print(f"{row['name']:<11} {version:<10} {row['supported']:<22} {state}")
        if row["reason"] and row["version"]:
            print(f"{'':<11} {row['reason']}")
    return 0


def _run(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        print("fastws.integrations run: no command given (run -- python app.py)", file=sys.stderr)
        return 2
    env = dict(os.environ)
    if args.only is not None:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(names) - set(ADAPTERS))
        if unknown:
            print(f"fastws.integrations run: unknown adapter(s): {', '.join(unknown)}", file=sys.stderr)
            return 2
        env[ENVIRONMENT_VARIABLE] = ",".join(names) or "none"
    if args.verbose:
        env[VERBOSE_VARIABLE] = "1"
    if args.force:
        env[FORCE_VARIABLE] = "1"
    with tempfile.TemporaryDirectory(prefix="fastws-integrations-") as shim_dir:
        with open(os.path.join(shim_dir, "sitecustomize.py"), "w", encoding="utf-8") as f:
            f.write(SHIM.replace("{verbose}", VERBOSE_VARIABLE))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (shim_dir, env.get("PYTHONPATH", "")) if p)
        try:
            return subprocess.call(command, env=env)
        except FileNotFoundError:
            print(f"fastws.integrations run: command not found: {command[0]}", file=sys.stderr)
            return 127
        except KeyboardInterrupt:
            return 130


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``status`` and ``run`` to the parser of ``fastws integrations``."""
    sub = parser.add_subparsers(dest="action", required=True)
    p_status = sub.add_parser("status", help="show each adapter's library version and state")
    p_status.add_argument("--json", action="store_true", help="machine-readable output")
    p_status.set_defaults(action_run=_status)
    p_run = sub.add_parser("run", help="run a command with the adapters installed in its Python processes")
    p_run.add_argument("--only", metavar="NAMES", help=f"comma-separated subset of: {', '.join(ADAPTERS)}")
    p_run.add_argument("--verbose", action="store_true", help="each process reports what it installed")
    p_run.add_argument(
        "--force", action="store_true", help="install even when fastws runs its pure-Python codec (slower)"
    )
    p_run.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command and its arguments")
    p_run.set_defaults(action_run=_run)


def run(args: argparse.Namespace) -> int:
    """Run ``fastws integrations status`` or ``run``; return the exit status."""
    code: int = args.action_run(args)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fastws.integrations ...``: the same as ``fastws integrations ...``.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(prog="python -m fastws.integrations", description=HELP)
    configure(parser)
    return run(parser.parse_args(argv))
