"""``python -m tests.conformance``: run the suite and print the report."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the conformance cases against the fastws peers; 0 if all are OK."""
    from .runner import ROLES, report, run_all, select_cases

    parser = argparse.ArgumentParser(prog="python -m tests.conformance", description=__doc__)
    parser.add_argument("cases", nargs="*", help="case names or fnmatch patterns (e.g. 6.4.* 7.9.1)")
    parser.add_argument("--role", choices=ROLES, action="append", help="test only this role (repeatable)")
    parser.add_argument("--skip-slow", action="store_true", help="skip the cases marked slow")
    parser.add_argument("-v", "--verbose", action="store_true", help="also list notes on OK cases")
    args = parser.parse_args(argv)
    cases = select_cases(args.cases, skip_slow=args.skip_slow)
    if not cases:
        print("no case matches", file=sys.stderr)
        return 2
    import fastws

    print(f"fastws {fastws.__version__}, codec twin: {fastws.implementation}; {len(cases)} cases", flush=True)
    results = run_all(cases, args.role or ROLES, progress=True)
    print(report(results, verbose=args.verbose))
    return 0 if all(r.verdict == "OK" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
