"""The codec against the other WebSocket libraries: ``python bench/codec_peers.py``.

Prints one table per case (``apply_mask 64 KiB``, ``validate_utf8 cjk 4 KiB``,
``parse 10,000 x 8 B masked frames, 64 KiB chunks``, ``encode_frame 125 B
masked``), one row per implementation (:mod:`peers`: both fastws twins,
websockets, aiohttp, picows, wsaccel, wsproto, ``bytes.decode``) with a
fresh copy of the same bytes (memcpy) as the physical reference, the ratios
to memcpy and to the best peer, then the project's speed targets. The
README's codec table comes from ``--quick``. Usage::

    python bench/codec_peers.py                      # everything, a few minutes
    python bench/codec_peers.py --quick              # fewer sizes and repeats, under 30 s
    python bench/codec_peers.py --only mask,parse    # groups: mask, utf8, parse, encode
    python bench/codec_peers.py --sizes 8,4K,1M      # your own payload sizes
    python bench/codec_peers.py --simd sse2          # force the compiled twin's kernels
    python bench/codec_peers.py --json results.json  # also write every row as JSON

Peers that are not installed are skipped with the reason (``pip install -e
".[bench]"`` installs them all). ``python -m fastws bench`` is the small,
dependency-free timing of the twins alone that ships with fastws.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TextIO

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fastws.cli.timing import (
    FULL,
    QUICK,
    UTF8_KINDS,
    Case,
    KiB,
    MiB,
    Op,
    Progress,
    encode_case,
    environment,
    gc_note,
    load_note,
    mask_case,
    measure,
    parse_case,
    parse_size,
    utf8_case,
)
from fastws.codec import load_twins
from peers import (
    ENCODE_IMPLS,
    FAMILIES,
    MASK_IMPLS,
    MASK_INPLACE_IMPLS,
    PARSE_CHUNK,
    PARSE_IMPLS,
    PEER_DISTRIBUTIONS,
    UTF8_IMPLS,
    Impl,
    Unavailable,
    prepare,
)

__all__ = ["Result", "add_arguments", "cases", "main", "render_table", "run"]


def cases(
    only: Iterable[str], quick: bool, sizes: Sequence[int] | None = None
) -> list[tuple[Case, list[Impl]]]:
    """The benchmark plan: each case with the implementations to time on it."""
    plan: list[tuple[Case, list[Impl]]] = []
    for family in only:
        full, fast = FAMILIES[family]
        chosen = tuple(sizes) if sizes else (fast if quick else full)
        if family == "mask":
            plan += [(mask_case(n), MASK_IMPLS) for n in chosen]
            plan += [(mask_case(n, inplace=True), MASK_INPLACE_IMPLS) for n in chosen]
        elif family == "utf8":
            plan += [(utf8_case(kind, n), UTF8_IMPLS) for kind in UTF8_KINDS for n in chosen]
        elif family == "parse":
            feeds = (PARSE_CHUNK,) if quick else (PARSE_CHUNK, 0)
            plan += [(parse_case(n, chunk), PARSE_IMPLS) for chunk in feeds for n in chosen]
        elif family == "encode":
            plan += [(encode_case(n, masked), ENCODE_IMPLS) for masked in (False, True) for n in chosen]
    return plan


@dataclass
class Result:
    """One row of a table."""

    case: Case
    impl: str
    ns: float | None = None  # per call
    skipped: str = ""
    error: str = ""
    reference: bool = False
    peer: bool = False

    @property
    def throughput(self) -> float | None:
        """In :attr:`Case.unit`."""
        if self.ns is None:
            return None
        if self.case.unit == "GB/s":
            return self.case.nbytes / self.ns
        return self.case.frames / self.ns * 1e3

    def to_json(self, memcpy: float | None, best_peer: float | None) -> dict[str, Any]:
        return {
            "family": self.case.family,
            "case": self.case.title,
            "size": self.case.size,
            "kind": self.case.kind or None,
            "chunk": self.case.chunk if self.case.family == "parse" else None,
            "masked": self.case.masked if self.case.family == "encode" else None,
            "frames": self.case.frames or None,
            "impl": self.impl,
            "ns_per_call": self.ns,
            "throughput": self.throughput,
            "unit": self.case.unit,
            "vs_memcpy": memcpy / self.ns if memcpy and self.ns else None,
            "vs_best_peer": best_peer / self.ns if best_peer and self.ns else None,
            "skipped": self.skipped or None,
            "error": self.error or None,
        }


def _ref_times(rows: list[Result]) -> tuple[float | None, float | None, str]:
    memcpy = next((r.ns for r in rows if r.reference and r.ns), None)
    peers = [r for r in rows if r.peer and r.ns]
    best = min(peers, key=lambda r: r.ns or 0.0, default=None)
    return memcpy, (best.ns if best else None), (best.impl if best else "")


def _fmt_ratio(ref: float | None, ns: float | None) -> str:
    return f"{ref / ns:.2f}x" if ref and ns else "-"


def _fmt_rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.3g}" if value < 100 else f"{value:,.0f}"


def render_table(rows: list[Result], out: TextIO) -> None:
    """Print one case's rows as an aligned table."""
    case = rows[0].case
    memcpy, best_peer, best_name = _ref_times(rows)
    per = "ns/frame" if case.family == "parse" else "ns/call"
    detail = f"{case.nbytes:,} bytes per call"
    if case.family == "parse":
        detail += f", {case.frames:,} frames"
    out.write(f"\n{case.title}  ({detail})\n")
    header = ("implementation", f"throughput ({case.unit})", per, "vs memcpy", "vs best peer")
    lines = [header]
    notes: list[str] = []
    for r in rows:
        if r.ns is None:
            notes.append(f"  {r.impl}: {r.error or r.skipped}")
            continue
        per_value = r.ns / case.frames if case.family == "parse" else r.ns
        mark = "  (best peer)" if r.impl == best_name else ""
        lines.append(
            (
                r.impl,
                _fmt_rate(r.throughput),
                f"{per_value:,.1f}" if per_value < 100 else f"{per_value:,.0f}",
                _fmt_ratio(memcpy, r.ns),
                _fmt_ratio(best_peer, r.ns) + mark,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    for line in lines:
        cells = [line[0].ljust(widths[0])] + [line[i].rjust(widths[i]) for i in range(1, 4)]
        out.write("  " + "  ".join(cells) + "  " + line[4].rjust(len(header[4])) + "\n")
    if notes:
        out.write("  not measured:\n" + "\n".join("  " + n for n in notes) + "\n")


# -- targets ----------------------------------------------------------------------------------------------


def _targets(tables: list[list[Result]]) -> list[tuple[str, float, float, bool]]:
    """The project's speed targets, as (what, measured ratio, required ratio, met)."""
    found: list[tuple[str, float, float, bool]] = []

    def ns(rows: list[Result], name: str) -> float | None:
        return next((r.ns for r in rows if r.impl == name and r.ns), None)

    def add(what: str, ours: float | None, theirs: float | None, need: float) -> None:
        if ours and theirs:
            ratio = theirs / ours
            found.append((what, ratio, need, ratio >= need))

    for rows in tables:
        case = rows[0].case
        ours = ns(rows, "fastws-cython")
        memcpy, _, _ = _ref_times(rows)
        if case.family == "mask":
            if case.size >= MiB:
                add(f"{case.title}: vs memcpy", ours, memcpy, 0.9)
            add(f"{case.title}: vs websockets-c", ours, ns(rows, "websockets-c"), 1.0)
        elif case.family == "mask_inplace":
            add(f"{case.title}: vs aiohttp-cython", ours, ns(rows, "aiohttp-cython"), 1.0)
        elif case.family == "utf8":
            if case.kind == "ascii":
                add(f"{case.title}: vs bytes.decode", ours, ns(rows, "bytes.decode"), 1.0)
            elif case.size >= 4 * KiB:
                add(f"{case.title}: vs bytes.decode", ours, ns(rows, "bytes.decode"), 3.0)
        elif case.family == "parse" and case.chunk == PARSE_CHUNK:
            add(f"{case.title}: vs aiohttp-cython", ours, ns(rows, "aiohttp-cython"), 3.0)
            add(f"{case.title}: vs picows", ours, ns(rows, "picows"), 1.0)
    return found


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python bench/codec_peers.py``."""
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats (under 30 s)")
    parser.add_argument(
        "--only",
        default=",".join(FAMILIES),
        metavar="GROUPS",
        help=f"comma-separated groups among {','.join(FAMILIES)} (default: all)",
    )
    parser.add_argument(
        "--sizes",
        default=None,
        metavar="SIZES",
        help="comma-separated payload sizes to use instead of the defaults, e.g. 8,1K,64K,1M",
    )
    parser.add_argument(
        "--simd",
        default=None,
        metavar="LEVEL",
        help="force the compiled twin's SIMD level (generic, sse2, avx2, avx512, neon) to compare kernels",
    )
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the results as JSON")
    parser.add_argument(
        "--no-gc",
        action="store_true",
        help="turn the garbage collector off while timing (it is on by default, as in applications)",
    )


def _selection(text: str) -> list[str]:
    chosen = [g.strip() for g in text.split(",") if g.strip()]
    unknown = [g for g in chosen if g not in FAMILIES]
    if unknown or not chosen:
        raise SystemExit(f"codec_peers: --only takes {','.join(FAMILIES)}; got {text!r}")
    return chosen


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run the selected benchmarks, print the tables, return the exit status.

    The status is 1 when a fastws twin gave a wrong result, else 0.
    """
    only = _selection(args.only)
    try:
        sizes = [parse_size(s) for s in args.sizes.split(",")] if args.sizes else None
    except ValueError as exc:
        raise SystemExit(f"codec_peers: {exc}") from None
    timing = QUICK if args.quick else FULL
    twins = load_twins()
    if args.simd:
        compiled = twins.get("cython")
        chooser = getattr(compiled, "_set_simd", None)
        if not callable(chooser):
            raise SystemExit("codec_peers: --simd needs the compiled twin, with SIMD selection")
        try:
            chooser(args.simd)
        except (ValueError, TypeError) as exc:
            raise SystemExit(f"codec_peers: --simd {args.simd}: {exc}") from None
    env = environment(twins, PEER_DISTRIBUTIONS)
    gc_on = not args.no_gc
    env["gc"] = "on" if gc_on else "off"

    out.write("fastws codec against its peers" + (" (quick)" if args.quick else "") + "\n")
    out.write(f"  active twin: {env['active_twin']}; compiled twin: {env['compiled_twin']}")
    out.write(f"; SIMD: {env['simd']}\n" if env["simd"] else "\n")
    out.write(f"  {env['python']} on {env['platform']}\n  CPU: {env['cpu']}\n")
    peers = ", ".join(f"{k} {v}" for k, v in env["peers"].items() if v) or "none installed"
    out.write(f"  peers: {peers}\n")
    out.write(f"  {gc_note(gc_on)}\n")
    busy = load_note()
    if busy:
        out.write(f"  note: {busy}\n")
    out.write("  throughput: higher is better; ratios are speed relative to the row named (>1: faster)\n")
    out.flush()

    plan = cases(only, args.quick, sizes)
    progress = Progress(err, sum(len(impls) for _, impls in plan))
    tables: list[list[Result]] = []
    status = 0
    for case, impls in plan:
        rows: list[Result] = []
        ready: list[tuple[Result, Op]] = []
        for impl in impls:
            progress.step(f"{case.title} {impl.name}")
            row = Result(case, impl.name, reference=impl.reference, peer=impl.is_peer)
            try:
                ready.append((row, prepare(case, impl, twins)))
            except Unavailable as exc:
                row.skipped = f"skipped: {exc}"
            except Exception as exc:  # a peer's failure must not end the comparison
                row.error = f"error: {type(exc).__name__}: {exc}"
                if impl.is_fastws:
                    status = 1
            rows.append(row)
        progress.note(f"{case.title}: timing {len(ready)} implementations")
        for (row, _), ns in zip(ready, measure([op for _, op in ready], timing, gc_on=gc_on), strict=True):
            row.ns = ns
        progress.close()
        render_table(rows, out)
        out.flush()
        tables.append(rows)

    targets = _targets(tables)
    if targets:
        out.write("\ntargets (compiled twin, ratio of speeds; met when >= required)\n")
        width = max(len(t[0]) for t in targets)
        for what, ratio, need, met in targets:
            out.write(
                f"  {what.ljust(width)}  {ratio:6.2f}x  (>= {need:.1f}x)  {'met' if met else 'MISSED'}\n"
            )
    elif not isinstance(twins.get("cython"), ModuleType):
        out.write("\ntargets: not checked, they apply to the compiled twin, which did not run\n")

    if args.json:
        payload: dict[str, Any] = {
            "environment": env,
            "date": time.strftime("%Y-%m-%d", time.gmtime()),
            "quick": bool(args.quick),
            "results": [],
        }
        for rows in tables:
            memcpy, best_peer, _ = _ref_times(rows)
            payload["results"] += [r.to_json(memcpy, best_peer) for r in rows]
        payload["targets"] = [{"what": w, "ratio": r, "required": n, "met": m} for w, r, n, m in targets]
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=2)
            f.write("\n")
        out.write(f"\nresults written to {args.json}\n")
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the comparison, return the status."""
    parser = argparse.ArgumentParser(prog="python bench/codec_peers.py", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
