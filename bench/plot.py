"""Draw the benchmark results as SVG charts: ``python bench/plot.py`` (``make bench-plots``).

Reads the JSON that the benchmarks write, from ``docs/_static/bench/data/``:

* ``codec_peers.json``: ``python bench/codec_peers.py --quick --json FILE``;
* ``echo_servers.json``: ``python bench/echo_servers.py --quick --json FILE``;
* ``broadcast.json``: ``python bench/broadcast.py --quick --json FILE``;
* ``pytest_benchmark.json``: ``pytest bench/... --benchmark-json FILE``,
  slimmed by ``python bench/plot.py --import-pytest-benchmark FILE`` (the
  medians, the groups and the machine; not the host name nor the folder);

and writes one SVG per file into ``docs/_static/bench/``, and ``runs.inc``,
the table of when and where each ran, which the documentation includes. The output is
deterministic: the same data gives the same bytes (a fixed ``svg.hashsalt``,
no date in the metadata), so regenerated charts only change when the data
does. Needs matplotlib (the ``docs`` extra).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "docs" / "_static" / "bench" / "data"
OUT = ROOT / "docs" / "_static" / "bench"

COLORS = {
    "fastws": "#1f6fb4",
    "fastws-callback": "#5aa9e6",
    "fastws-cython": "#1f6fb4",
    "fastws-python": "#9ecae1",
    "websockets": "#e6550d",
    "aiohttp": "#31a354",
    "picows": "#756bb1",
    "floor": "#636363",
    "memcpy": "#636363",
    "fastws-broadcast": "#1f6fb4",
    "fastws-send": "#5aa9e6",
}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("svg")
    matplotlib.rcParams.update(
        {
            "svg.hashsalt": "fastws",  # element ids from this salt: the same bytes each time
            "svg.fonttype": "none",  # text stays text: small files, no embedded glyph paths
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None, "Creator": None})
    _pyplot().close(fig)


#: How the charts name some implementations.
LABELS = {"fastws": "fastws (async for)", "fastws-callback": "fastws (on_message)"}


def _color(name: str, index: int) -> str:
    return COLORS.get(name, f"C{index % 10}")


def _grouped_bars(
    ax: Any, groups: list[str], series: dict[str, list[float | None]], *, log: bool = False
) -> None:
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        heights = [v if v is not None else 0.0 for v in values]
        ax.bar(xs, heights, width, label=LABELS.get(name, name), color=_color(name, i))
    ax.set_xticks(range(len(groups)), groups, rotation=30, ha="right")
    if log:
        ax.set_yscale("log")
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)


def _size(n: int) -> str:
    if n >= 1 << 20:
        return f"{n >> 20} MiB"
    if n >= 1024:
        return f"{n >> 10} KiB"
    return f"{n} B"


def plot_echo(data: dict[str, Any], path: Path) -> None:
    """Server CPU per echoed message, per cell, one bar per server."""
    plt = _pyplot()
    rows = [r for r in data["results"] if r["loop"] == "asyncio"]
    cells = sorted({(r["mode"], r["size"]) for r in rows}, key=lambda c: (c[0] != "roundtrip", c[1]))
    impls = sorted({r["impl"] for r in rows}, key=lambda i: (not i.startswith("fastws"), i))
    series: dict[str, list[float | None]] = {}
    for impl in impls:
        series[impl] = [
            next(
                (r["cpu_us_per_message"] for r in rows if (r["mode"], r["size"], r["impl"]) == (m, s, impl)),
                None,
            )
            for m, s in cells
        ]
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    _grouped_bars(
        ax, [f"{_size(s)} {'round trips' if m == 'roundtrip' else 'burst'}" for m, s in cells], series
    )
    ax.set_ylabel("server CPU µs per message\n(lower is better)")
    ax.set_title(f"Echo servers on asyncio ({data.get('date', '')}, {data['machine']['cpus']} CPUs)")
    _save(fig, path)


def plot_codec(data: dict[str, Any], path: Path) -> None:
    """Throughput of masking and UTF-8 validation, compiled and pure twins against the peers."""
    plt = _pyplot()
    rows = [
        r for r in data["results"] if r.get("unit") == "GB/s" and r.get("throughput") and not r.get("error")
    ]
    families = [f for f in ("mask", "utf8") if any(r["family"] == f for r in rows)]
    fig, axes = plt.subplots(len(families), 1, figsize=(7.5, 3.2 * len(families)), squeeze=False)
    for ax, family in zip((a for (a,) in axes), families, strict=True):
        mine = [r for r in rows if r["family"] == family]
        cases = list(dict.fromkeys(r["case"] for r in mine))
        impls = list(dict.fromkeys(r["impl"] for r in mine))
        series: dict[str, list[float | None]] = {
            impl: [
                next((r["throughput"] for r in mine if (r["case"], r["impl"]) == (c, impl)), None)
                for c in cases
            ]
            for impl in impls
        }
        _grouped_bars(ax, cases, series, log=True)
        ax.set_ylabel("GB/s (higher is better)")
        ax.set_title(f"{'Masking' if family == 'mask' else 'UTF-8 validation'}: fastws' twins and the peers")
    _save(fig, path)


def plot_broadcast(data: dict[str, Any], path: Path) -> None:
    """Server CPU time of one broadcast, per method, against the floor."""
    plt = _pyplot()
    cells = data["cells"]
    keys = list(dict.fromkeys((c["compression"], c["size"], c["connections"]) for c in cells))
    methods = list(dict.fromkeys(c["method"] for c in cells))
    series: dict[str, list[float | None]] = {
        m: [
            next(
                (
                    c["cpu_ms"]
                    for c in cells
                    if (c["compression"], c["size"], c["connections"], c["method"]) == (*k, m)
                ),
                None,
            )
            for k in keys
        ]
        for m in methods
    }
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    _grouped_bars(ax, [f"{comp}, {_size(size)}, {n} conns" for comp, size, n in keys], series, log=True)
    ax.set_ylabel("server CPU ms per broadcast (lower is better)")
    ax.set_title("One message to every connection")
    _save(fig, path)


def slim_pytest_benchmark(data: dict[str, Any]) -> dict[str, Any]:
    """What the chart needs from a ``--benchmark-json`` file: no host name, no folder, no flags."""
    machine = data.get("machine_info", {})
    cpu = machine.get("cpu", {})
    collector = sorted({str(b.get("extra_info", {}).get("gc", "?")) for b in data["benchmarks"]})
    return {
        "benchmark": "pytest_benchmark",
        "date": str(data.get("datetime", ""))[:10],
        "gc": "/".join(collector),
        "machine": {
            "python": machine.get("python_version"),
            "cpus": cpu.get("count"),
            "cpu": cpu.get("brand_raw"),
        },
        "benchmarks": [
            {
                "group": b.get("group") or b["name"].split("[")[0],
                "name": b["name"],
                "param": b.get("param"),
                "median_s": b["stats"]["median"],
                "min_s": b["stats"]["min"],
                "rounds": b["stats"]["rounds"],
            }
            for b in data["benchmarks"]
        ],
    }


#: Implementations in pytest-benchmark's parameter ids, longest first.
KNOWN_IMPLS = sorted(
    (
        "fastws-cython",
        "fastws-python",
        "memcpy",
        "websockets-c",
        "websockets-py",
        "websockets",
        "wsaccel",
        "wsproto",
        "aiohttp-cython",
        "aiohttp-python",
        "picows",
    ),
    key=len,
    reverse=True,
)


def _impl(bench: dict[str, Any]) -> str:
    param = bench.get("param") or bench["name"].partition("[")[2].rstrip("]")
    return next((name for name in KNOWN_IMPLS if param.endswith(name)), param.rpartition("-")[2])


def plot_pytest_benchmark(data: dict[str, Any], path: Path) -> None:
    """Each benchmark's median relative to fastws' compiled twin in its group, one panel per function."""
    plt = _pyplot()
    benches = data["benchmarks"]
    families = list(dict.fromkeys(b["group"].split(" ")[0] for b in benches))
    fig, axes = plt.subplots(len(families), 1, figsize=(8, 2.9 * len(families)), squeeze=False)
    for ax, family in zip((a for (a,) in axes), families, strict=True):
        mine = [b for b in benches if b["group"].split(" ")[0] == family]
        groups = list(dict.fromkeys(b["group"] for b in mine))
        impls = list(dict.fromkeys(_impl(b) for b in mine))
        base = {
            g: next((b["median_s"] for b in mine if b["group"] == g and _impl(b) == "fastws-cython"), None)
            for g in groups
        }
        series: dict[str, list[float | None]] = {
            i: [
                next(
                    (b["median_s"] / base[g] for b in mine if b["group"] == g and _impl(b) == i and base[g]),
                    None,
                )
                for g in groups
            ]
            for i in impls
        }
        labels = [g.removeprefix(family).strip().replace("masked frames", "frames") for g in groups]
        _grouped_bars(ax, labels, series, log=True)
        ax.axhline(1.0, color="#1f6fb4", linewidth=0.8)
        ax.set_ylabel("time / fastws compiled")
        ax.set_title(f"{family}: median time relative to fastws' compiled twin (lower is faster)")
    _save(fig, path)


def runs_table(found: dict[str, dict[str, Any]]) -> str:
    """A Markdown table: each data file, when it ran, on what, in quick mode or not, collector on or off."""
    lines = [
        "| chart | data | date | machine | mode | garbage collector |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, data in found.items():
        machine = data.get("machine") or {}
        env = data.get("environment") or {}
        where = ", ".join(
            str(x)
            for x in (
                machine.get("cpu") or env.get("cpu"),
                f"{machine['cpus']} CPUs" if machine.get("cpus") else None,
                f"Python {machine['python']}" if machine.get("python") else env.get("python"),
            )
            if x
        )
        mode = "quick" if data.get("quick", True) else "full"
        collector = data.get("gc") or env.get("gc") or "not recorded"
        lines.append(
            f"| `{name}.svg` | `data/{name}.json` | {data.get('date', '?')} | {where} | {mode} | {collector} |"
        )
    return "\n".join(lines) + "\n"


PLOTS = {
    "echo_servers": plot_echo,
    "codec_peers": plot_codec,
    "broadcast": plot_broadcast,
    "pytest_benchmark": plot_pytest_benchmark,
}


def main(argv: list[str] | None = None) -> int:
    """Render every chart whose data file exists; return 1 if none does."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder of the JSON results")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the SVG charts")
    parser.add_argument(
        "--import-pytest-benchmark",
        metavar="FILE",
        type=Path,
        help="slim a --benchmark-json file into the data folder (pytest_benchmark.json) first",
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.import_pytest_benchmark:
        slim = slim_pytest_benchmark(json.loads(args.import_pytest_benchmark.read_text(encoding="utf-8")))
        args.data.mkdir(parents=True, exist_ok=True)
        (args.data / "pytest_benchmark.json").write_text(json.dumps(slim, indent=1) + "\n", encoding="utf-8")
    found: dict[str, dict[str, Any]] = {}
    for name, plot in PLOTS.items():
        source = args.data / f"{name}.json"
        if not source.exists():
            print(f"[plot] no {source.name}: skipping {name}", file=sys.stderr)
            continue
        found[name] = json.loads(source.read_text(encoding="utf-8"))
        target = args.out / f"{name}.svg"
        plot(found[name], target)
        print(f"[plot] {target.name}")
    (args.out / "runs.inc").write_text(runs_table(found), encoding="utf-8")
    return 0 if found else 1


if __name__ == "__main__":
    sys.exit(main())
