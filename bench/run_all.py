"""Run every benchmark in bench/ and write one Markdown report with PNG plots.

    python3 bench/run_all.py                 # full sizes -> docs/benchmarks.md (+ docs/benchmarks/)
    python3 bench/run_all.py --quick         # small sizes, for a quick look
    python3 bench/run_all.py --only search   # scripts whose name contains "search"
    bench/run_all --out bench/out/report.md

Each ``bench/*.py`` script (not ``_*.py``) runs in its own process with a private ClipDesk home,
offscreen Qt and a time limit; its printed side-by-side table goes into the report verbatim.
While it runs, the process tree's memory is sampled, so every benchmark gets its peak RSS and a
memory-over-time curve without doing anything. Benchmarks that also call ``_report.record(...)``
add metrics and series, drawn as plots (indexing rate, search latency vs library size, ...).
A script that fails or times out is reported as such; the others still run. Benchmarks that do
not exist yet are simply absent, and the report says which of the expected plots is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
from _report import JSON_ENV, QUICK_ENV  # noqa: E402

# Smaller sizes for --quick, for the scripts we know; others run with their defaults.
QUICK_ARGS: dict[str, list[str]] = {
    "startup_bench": ["--runs", "3"],
    "tag_bench": ["--photos", "20000", "--repeat", "3"],
    # retrieval P@10 needs the 1,000 renders (~12 per colour-shape pair); fewer caps it.
    "mini_eval": ["--n-single", "200"],
    "store_bench": ["--vectors", "20000", "--files", "1000"],
    # the real run is 100,000 photos (its default); the old full-rows path costs seconds a query
    "search_box_bench": ["--photos", "5000", "--queries", "6"],
    # the first 20 of the cached photos, the same query library (set up by peer_rclip --setup)
    "peer_rclip": ["--photos", "20", "--rounds", "3", "--queries", "3", "--warm", "10"],
    # the real runs: 1M and 2M vectors (~4 min); 500 photos on Ray and in `index`
    "ann_bench": ["--sizes", "100000", "--queries", "50", "--library", "20000"],
    "cluster_bench": ["--n", "60"],
}
# Plots the report should contain, by a word in the series title; absent ones are listed.
EXPECTED_PLOTS = {
    "indexing rate": ("index",),
    "search latency vs library size": ("search", "latency"),
    "memory": ("memory",),
}
SAMPLE_S = 0.2


@dataclass
class BenchResult:
    name: str
    command: list[str]
    exit_code: int | None = None
    timed_out: bool = False
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    rss: list[tuple[float, float]] = field(default_factory=list)  # (seconds, MB)
    output: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    series: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.timed_out:
            return "timed out"
        return "ok" if self.exit_code == 0 else f"failed (exit {self.exit_code})"


def discover(only: list[str] | None = None) -> list[Path]:
    scripts = [
        p
        for p in sorted(BENCH.glob("*.py"))
        if not p.name.startswith("_")
        and p.name != "run_all.py"
        and "__main__" in p.read_text(encoding="utf-8", errors="replace")
    ]
    if only:
        scripts = [p for p in scripts if any(word in p.stem for word in only)]
    return scripts


def _tree_rss(proc: psutil.Process) -> int:
    gone = (psutil.NoSuchProcess, psutil.AccessDenied)
    total = 0
    with contextlib.suppress(*gone):
        for member in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(*gone):
                total += member.memory_info().rss
    return total


def run_one(script: Path, *, quick: bool, timeout_s: float, threads: int | None) -> BenchResult:
    command = [sys.executable, str(script), *(QUICK_ARGS.get(script.stem, []) if quick else [])]
    result = BenchResult(script.stem, command)
    with tempfile.TemporaryDirectory(prefix=f"bench-{script.stem}-") as scratch:
        json_path = Path(scratch) / "result.json"
        env = {
            **os.environ,
            "CLIPDESK_HOME": str(Path(scratch) / "home"),
            "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
            JSON_ENV: str(json_path),
            QUICK_ENV: "1" if quick else "0",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        if threads:
            env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        log_path = Path(scratch) / "output.txt"
        start = time.monotonic()
        with log_path.open("w", encoding="utf-8") as log:
            proc = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True
            )
            watcher = psutil.Process(proc.pid)
            while proc.poll() is None:
                elapsed = time.monotonic() - start
                if elapsed > timeout_s:
                    result.timed_out = True
                    for child in watcher.children(recursive=True):
                        child.kill()
                    proc.kill()
                    proc.wait()
                    break
                rss = _tree_rss(watcher) / 1e6
                if rss:
                    result.rss.append((round(elapsed, 2), round(rss, 1)))
                time.sleep(SAMPLE_S)
        result.exit_code = proc.returncode
        result.seconds = round(time.monotonic() - start, 1)
        result.peak_rss_mb = max((mb for _, mb in result.rss), default=0.0)
        result.output = log_path.read_text(encoding="utf-8", errors="replace")
        if json_path.exists():
            try:
                data = json.loads(json_path.read_text(encoding="utf-8"))
                result.metrics = dict(data.get("metrics", {}))
                result.series = list(data.get("series", []))
            except ValueError as exc:
                result.output += f"\n[run_all: unreadable result JSON: {exc}]"
    return result


# --- plots -------------------------------------------------------------------------------------

COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563"]


def _qt_app() -> Any:
    # Plots are drawn offscreen: the report is written on headless machines too.
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg

    # exitCleanup off: its atexit sweep of graphics items crashes when Qt already shut down.
    pg.setConfigOptions(background="w", foreground="k", antialias=True, exitCleanup=False)
    return pg.mkQApp()


def _plot_lines(
    path: Path,
    title: str,
    x_label: str,
    y_label: str,
    lines: dict[str, list[list[float]]],
    *,
    log_x: bool = False,
    log_y: bool = False,
) -> None:
    import pyqtgraph as pg

    _qt_app()
    widget = pg.PlotWidget(title=title)
    widget.addLegend(offset=(10, 10))
    widget.showGrid(x=True, y=True, alpha=0.2)
    widget.setLabel("bottom", x_label)
    widget.setLabel("left", y_label)
    widget.setLogMode(x=log_x, y=log_y)
    xs_all, ys_all = [], []
    for i, (label, points) in enumerate(lines.items()):
        points = [p for p in points if p[1] is not None and (not log_x or p[0] > 0)]
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        xs_all += xs
        ys_all += [y for y in ys if y > 0]
        colour = COLOURS[i % len(COLOURS)]
        widget.plot(
            list(xs),
            list(ys),
            pen=pg.mkPen(colour, width=2),
            symbol="o",
            symbolBrush=colour,
            symbolSize=6,
            name=label,
        )
    # Label whole decades only on log axes; pyqtgraph's minor log labels overlap.
    for axis, used, values in (("bottom", log_x, xs_all), ("left", log_y, ys_all)):
        if used and values:
            lo, hi = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
            widget.getAxis(axis).setTicks([[(d, _si(10**d)) for d in range(lo, hi + 1)], []])
    _export(widget, path)


def _plot_bars(path: Path, title: str, y_label: str, values: dict[str, float]) -> None:
    import pyqtgraph as pg

    _qt_app()
    widget = pg.PlotWidget(title=title)
    names = list(values)
    widget.addItem(
        pg.BarGraphItem(
            x=list(range(len(names))), height=list(values.values()), width=0.6, brush=COLOURS[0]
        )
    )
    widget.getAxis("bottom").setTicks([list(enumerate(names)), []])
    widget.setLabel("left", y_label)
    _export(widget, path)


def _export(widget: Any, path: Path) -> None:
    from pyqtgraph.exporters import ImageExporter
    from shiboken6 import delete

    try:
        exporter = ImageExporter(widget.plotItem)
        exporter.parameters()["width"] = 900
        exporter.export(str(path))
    finally:
        # Free the C++ side now: left to interpreter shutdown, Qt objects outlive the app.
        delete(widget)


def _si(value: float) -> str:
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:g}{unit}"
    return f"{value:g}"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")[:60]


# --- the report --------------------------------------------------------------------------------


def write_report(results: list[BenchResult], out: Path, *, quick: bool) -> list[str]:
    """Write the Markdown report and its PNGs; returns the expected plots nobody produced."""
    image_dir = out.parent / out.stem
    image_dir.mkdir(parents=True, exist_ok=True)
    for old in image_dir.glob("*.png"):
        old.unlink()
    rel = image_dir.name
    lines = [
        "# ClipDesk benchmarks",
        "",
        f"Generated by `bench/run_all.py{' --quick' if quick else ''}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {platform.platform()}, "
        f"{os.cpu_count()} CPU cores, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM, "
        f"Python {platform.python_version()}{_torch_version()}. Figures are from one run on a "
        "shared machine: compare the columns of one table (ratios to the peer), not absolute "
        "times across runs.",
        "",
        "| benchmark | status | wall time | peak memory (RSS) |",
        "|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| `{r.name}` | {r.status} | {r.seconds:.1f} s | {r.peak_rss_mb:.0f} MB |")
    lines.append("")

    titles: list[str] = []
    plot_lines: list[str] = []
    for r in results:
        for series in r.series:
            title = str(series.get("title", r.name))
            name = f"{_slug(r.name)}-{_slug(title)}.png"
            try:
                _plot_lines(
                    image_dir / name,
                    title,
                    str(series.get("x_label", "")),
                    str(series.get("y_label", "")),
                    series.get("lines", {}),
                    log_x=bool(series.get("log_x")),
                    log_y=bool(series.get("log_y")),
                )
            except Exception as exc:  # noqa: BLE001 - one bad series must not sink the report
                plot_lines += [f"*{title}: cannot plot ({exc})*", ""]
                continue
            titles.append(title.lower())
            plot_lines += [
                f"### {title}",
                "",
                f"![{title}]({rel}/{name})",
                "",
                f"<sub>from `bench/{r.name}.py`</sub>",
                "",
            ]
    if any(r.rss for r in results):
        _plot_lines(
            image_dir / "memory-over-time.png",
            "Memory while each benchmark runs",
            "seconds",
            "RSS (MB)",
            {r.name: [list(p) for p in r.rss] for r in results if r.rss},
        )
        _plot_bars(
            image_dir / "memory-peak.png",
            "Peak memory per benchmark",
            "MB",
            {r.name: r.peak_rss_mb for r in results},
        )
        titles.append("memory")
        plot_lines += [
            "### Memory",
            "",
            f"![memory over time]({rel}/memory-over-time.png)",
            "",
            f"![peak memory]({rel}/memory-peak.png)",
            "",
        ]
    missing = [
        plot
        for plot, words in EXPECTED_PLOTS.items()
        if not any(any(w in t for w in words) for t in titles)
    ]
    if plot_lines:
        lines += ["## Plots", "", *plot_lines]
    if missing:
        lines += [
            "Not measured in this run (no benchmark reported it): " + ", ".join(missing) + ".",
            "",
        ]

    lines += ["## Results by benchmark", ""]
    for r in results:
        lines += [
            f"### `bench/{r.name}.py` — {r.status}",
            "",
            f"`{' '.join(['python3', *[_short(c) for c in r.command[1:]]])}`",
            "",
        ]
        if r.metrics:
            lines += ["| metric | value |", "|---|---|"]
            lines += [f"| {k} | {_fmt(v)} |" for k, v in r.metrics.items()]
            lines.append("")
        text = r.output.strip() or "(no output)"
        if len(text) > 6000:
            text = "…\n" + text[-6000:]
        lines += ["```text", text, "```", ""]
    out.write_text("\n".join(lines), encoding="utf-8")
    return missing


def _short(part: str) -> str:
    path = Path(part)
    return str(path.relative_to(ROOT)) if path.is_absolute() and ROOT in path.parents else part


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _torch_version() -> str:
    try:
        from importlib.metadata import version

        return f", torch {version('torch')}"
    except Exception:  # noqa: BLE001
        return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "docs" / "benchmarks.md",
        help="Markdown report; PNGs go to a folder named after it",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (where known)")
    parser.add_argument("--only", nargs="*", help="run scripts whose name contains a word")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per benchmark")
    parser.add_argument("--threads", type=int, help="OMP/MKL threads for the benchmarks")
    parser.add_argument("--bench-dir", type=Path, help=argparse.SUPPRESS)  # tests
    args = parser.parse_args(argv)
    if args.bench_dir:
        global BENCH
        BENCH = args.bench_dir.resolve()

    scripts = discover(args.only)
    if not scripts:
        print("no benchmark scripts found", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results = []
    for script in scripts:
        print(f"running {script.name} ...", flush=True)
        result = run_one(script, quick=args.quick, timeout_s=args.timeout, threads=args.threads)
        print(
            f"  {result.status} in {result.seconds:.1f} s, peak {result.peak_rss_mb:.0f} MB",
            flush=True,
        )
        results.append(result)
    missing = write_report(results, args.out, quick=args.quick)
    print(f"report: {args.out}")
    if missing:
        print(f"not measured: {', '.join(missing)}")
    return 0 if all(r.exit_code == 0 for r in results) else 1


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: pyqtgraph's Qt objects can crash it after the report is written.
    os._exit(code)
