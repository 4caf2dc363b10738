"""``fastws bench``: time the installed codec twins against a plain memory copy.

One table, one row per case (masking, UTF-8 validation, frame parsing and
encoding at a few sizes), with the speed of the compiled twin, of the pure
twin and of a fresh copy of the same bytes (the physical reference), and
the ratios between them. ``--quick`` keeps the run under 30 seconds; a
progress line runs on stderr, so stdout can be redirected. Standard library
only: it works from an installed wheel.

The comparison with other WebSocket libraries (websockets, aiohttp, picows,
wsaccel, wsproto) lives in the source tree: ``python bench/codec_peers.py``.
Both time the same calls with the same clock (:mod:`fastws.cli.timing`).

Each row's result is checked once before it is timed: a twin that computes
the wrong thing shows ``error`` and the command exits with status 1.
``FASTWS_NO_EXTENSIONS=1`` leaves the compiled twin out, as it does for
``import fastws``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TextIO

from . import timing
from .timing import Case, KiB, MiB

__all__ = ["COLUMNS", "HELP", "Row", "configure", "plan", "run"]

#: The subcommand's line in ``fastws --help``.
HELP = "time the codec twins against a plain memory copy (--quick: under 30 s)"

#: The columns of the table, after the case and its unit.
COLUMNS = ("compiled", "pure", "copy", "compiled vs copy", "pure vs compiled")


def plan(quick: bool) -> list[Case]:
    """The cases, in table order; ``quick`` keeps the ones that tell the most."""
    masks = (8, KiB, 64 * KiB) if quick else (8, 125, KiB, 64 * KiB, MiB)
    cases = [timing.mask_case(size) for size in masks]
    cases.append(timing.mask_case(64 * KiB, inplace=True))
    kinds = ("ascii", "cjk") if quick else timing.UTF8_KINDS
    cases += [timing.utf8_case(kind, 64 * KiB) for kind in kinds]
    frames = (125,) if quick else (8, 125, KiB)
    cases += [timing.parse_case(size) for size in frames]
    cases += [timing.encode_case(125, masked=False), timing.encode_case(64 * KiB, masked=True)]
    if not quick:
        cases += [timing.encode_case(8, masked=False), timing.encode_case(64 * KiB, masked=False)]
    return cases


@dataclass
class Row:
    """One case: nanoseconds per call of each column (None: not measured), and why."""

    case: Case
    ns: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def speed(self, name: str) -> float | None:
        """The throughput of column ``name``, in the case's unit."""
        ns = self.ns.get(name)
        return None if not ns else self.case.throughput(ns)

    def ratio(self, name: str, reference: str) -> float | None:
        """How many times faster ``name`` is than ``reference`` (None if either is missing)."""
        ns, ref = self.ns.get(name), self.ns.get(reference)
        return ref / ns if ns and ref else None


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``fastws bench`` to ``parser``."""
    parser.add_argument("--quick", action="store_true", help="fewer cases and repeats (under 30 s)")
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the results as JSON")
    parser.add_argument(
        "--no-gc",
        action="store_true",
        help="turn the garbage collector off while timing (it is on by default, as in applications)",
    )


def _measure_row(
    case: Case,
    twins: dict[str, ModuleType | str],
    speed: timing.Timing,
    progress: timing.Progress,
    gc_on: bool,
) -> tuple[Row, bool]:
    """Check, then time, the two twins and the copy on one case; whether a twin was wrong."""
    row = Row(case)
    ready: list[tuple[str, timing.Op]] = []
    wrong = False
    for name, twin in (("compiled", twins["cython"]), ("pure", twins["python"])):
        progress.step(f"{case.title}: {name} twin")
        row.ns[name] = None
        if isinstance(twin, str):  # absent: the header says why
            continue
        try:
            ready.append((name, timing.check(timing.twin_op(twin, case), f"the {name} twin")))
        except Exception as exc:  # report it in the table; the exit status says it too
            row.notes.append(f"{name}: error: {type(exc).__name__}: {exc}")
            wrong = True
    progress.step(f"{case.title}: plain copy")
    ready.append(("copy", timing.check(timing.memcpy(timing.case_bytes(case)), "the copy")))
    progress.note(f"{case.title}: timing {len(ready)} rows")
    for (name, _), ns in zip(ready, timing.measure([op for _, op in ready], speed, gc_on=gc_on), strict=True):
        row.ns[name] = ns
    return row, wrong


def _cell(value: float | None, ratio: bool = False) -> str:
    if value is None:
        return "-"
    if ratio:
        return f"{value:.2f}x" if value < 10 else f"{value:.0f}x"
    return f"{value:,.3g}" if value < 100 else f"{value:,.0f}"


def _render(rows: list[Row], out: TextIO) -> None:
    header = ("case", "unit", *COLUMNS)
    lines = [header]
    for row in rows:
        lines.append(
            (
                row.case.title,
                row.case.unit,
                _cell(row.speed("compiled")),
                _cell(row.speed("pure")),
                _cell(row.speed("copy")),
                _cell(row.ratio("compiled", "copy"), ratio=True),
                _cell(row.ratio("pure", "compiled"), ratio=True),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        cells = [line[0].ljust(widths[0]), line[1].ljust(widths[1])]
        cells += [line[i].rjust(widths[i]) for i in range(2, len(header))]
        out.write("  " + "  ".join(cells) + "\n")
    notes = [f"  {row.case.title}: {note}" for row in rows for note in row.notes]
    if notes:
        out.write("\nnot measured:\n" + "\n".join(notes) + "\n")


def _to_json(rows: list[Row], env: dict[str, Any], quick: bool) -> dict[str, Any]:
    results = []
    for row in rows:
        for name in ("compiled", "pure", "copy"):
            results.append(
                {
                    "case": row.case.title,
                    "family": row.case.family,
                    "size": row.case.size,
                    "impl": name,
                    "ns_per_call": row.ns.get(name),
                    "throughput": row.speed(name),
                    "unit": row.case.unit,
                    "vs_copy": row.ratio(name, "copy"),
                }
            )
    return {"environment": env, "quick": quick, "results": results}


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Time the cases and print the table; 1 when a twin gave a wrong result, else 0."""
    from ..codec import load_twins

    twins = load_twins()
    env = timing.environment(twins)
    gc_on = not args.no_gc
    env["gc"] = "on" if gc_on else "off"
    out.write(
        "fastws bench" + (" --quick" if args.quick else "") + ": the codec twins against a plain copy\n"
    )
    out.write(f"  fastws {env['fastws']}; import fastws uses the {env['active_twin']} twin")
    out.write(f"; compiled twin: {env['compiled_twin']}")
    out.write(f" (SIMD: {env['simd']})\n" if env["simd"] else "\n")
    out.write(f"  {env['python']} on {env['platform']}\n  CPU: {env['cpu']}\n")
    out.write(f"  {timing.gc_note(gc_on)}\n")
    busy = timing.load_note()
    if busy:
        out.write(f"  note: {busy}\n")
    out.write("  speeds: higher is better; 'A vs B' is A's speed over B's (above 1.00x: A is faster)\n\n")
    out.flush()

    cases = plan(args.quick)
    speed = timing.QUICK if args.quick else timing.FULL
    progress = timing.Progress(err, 3 * len(cases))
    rows: list[Row] = []
    status = 0
    for case in cases:
        row, wrong = _measure_row(case, twins, speed, progress, gc_on)
        rows.append(row)
        status |= wrong
    progress.close()
    _render(rows, out)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(_to_json(rows, env, bool(args.quick)), f, indent=2)
            f.write("\n")
        out.write(f"\nresults written to {args.json}\n")
    out.write("\nother libraries side by side: python bench/codec_peers.py (in the source tree)\n")
    return status
