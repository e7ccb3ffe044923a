"""ClipDesk beside rclip 4.x in one run: indexing rate, peak memory, the CLI text query as a
whole process, and the warm text query, quiet and with one busy process on the cores.

rclip (https://github.com/yurijmikhalevich/rclip) is the command-line tool users compare us
with: ONNX Runtime, OpenCLIP's ViT-B-32-256 by default. It runs from a side virtualenv (it needs
Python >= 3.12) on the same random ViT-B-32-256 weights as ClipDesk, written by ClipDesk's own
code in both layouts (bench/_peer_rclip_model.py), so nothing is downloaded and neither tool
has an edge in its weights. Both see the same photos, the same page-cache state and the same
machine, and alternate:

  indexing      a fresh index per round, ROUNDS rounds, the first tool alternating: ClipDesk's
                ``folders add`` + ``index``, rclip's first search in the folder (it indexes as
                part of a search; one text query is the rest); images/s and peak RSS of the
                processes, ratios paired per round (median, and the range)
  CLI query     ``search "a red car"`` as a whole process over a library of QUERY_PHOTOS small
                photos that both tools indexed once (cached: what a text query costs does not
                depend on the photos' size); ClipDesk with no ClipDesk process running, rclip
                as it runs by default (checking the folder for changes first) and with
                ``--no-indexing``; median of paired ratios
  warm query    each tool held warm in its own process (bench/_peer_rclip_serve.py), single
                text searches interleaved 0.25 s apart (ONNX Runtime's threads spin a while
                after a request), quiet and with one busy process on the cores

ClipDesk runs with the runtime it picks by default, or ``--runtime`` (CLIPDESK_RUNTIME).
The first run generates the photos, the model and the query library (minutes; cached under
.peer-rclip/); ``--setup`` does that and creates rclip's virtualenv.

    python3 bench/peer_rclip.py --setup               # once: rclip's venv, model, photos, indexes
    python3 bench/peer_rclip.py                       # 200 photos 4000x3000, 5 rounds, 10,000 to query
    python3 bench/peer_rclip.py --photos 20 --rounds 2 --query-photos 200 --runtime torch
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(1, str(BENCH.parent))

import _peer_rclip_work as work  # noqa: E402
import numpy as np  # noqa: E402
from _peer_rclip_serve import Server  # noqa: E402
from _report import JSON_ENV, record  # noqa: E402

PHRASE = "a red car"
PHRASES = [
    "kids playing on a beach at sunset",
    "a dog running in the snow",
    "mountains reflected in a lake",
    "birthday cake with candles",
    "a city street at night in the rain",
    "an old wooden boat",
    "people hiking in a forest",
    "a plate of pasta",
    "sunflowers in a field",
    "a cat sleeping on a sofa",
    "fireworks over a river",
    "a bicycle leaning against a wall",
    "the eiffel tower",
    "a crowded market with fruit stalls",
    "a lighthouse on a cliff",
    "two people dancing at a wedding",
    "a snowy cabin in the woods",
    "a red double decker bus",
    "a waterfall in a jungle",
    "a child holding a balloon",
]


def _size(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    return int(w), int(h)


def spread(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.2f}x [{min(values):.2f}–{max(values):.2f}]"


@dataclass
class Compared:
    """One row of the table: ClipDesk's and rclip's values, paired (by round, by run, by
    request), and the ratio of each pair."""

    name: str
    ours: Sequence[float]
    peer: Sequence[float]
    fmt: str
    goal: tuple[str, float]  # (">=" or "<=", the ClipDesk / rclip target)

    @property
    def ratios(self) -> list[float]:
        return [a / b for a, b in zip(self.ours, self.peer, strict=True)]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    def cells(self) -> list[str]:
        def col(values: Sequence[float]) -> str:
            f = self.fmt.format
            return f"{f(statistics.median(values))} [{f(min(values))}–{f(max(values))}]"

        op, target = self.goal
        met = self.ratio >= target if op == ">=" else self.ratio <= target
        return [
            self.name,
            col(self.ours),
            col(self.peer),
            spread(self.ratios),
            f"{op} {target:g}x: {'met' if met else 'MISSED'}",
        ]


# --- indexing ----------------------------------------------------------------------------------


@dataclass
class Indexed:
    wall_s: float
    cpu_s: float
    peak_mb: float
    photos: int

    @property
    def rate(self) -> float:
        return self.photos / self.wall_s


def index_round(
    tools: work.Tools, r: int, photos: Path, model_data: Path, n: int, name: str | None = None
) -> dict[str, Indexed]:
    """Both tools index ``photos`` into fresh indexes (``rounds/*-NAME``), in round ``r``'s
    order."""
    name = name or str(r)
    order = ("rclip", "clipdesk") if r % 2 == 0 else ("clipdesk", "rclip")
    rounds = tools.work / "rounds"
    rounds.mkdir(parents=True, exist_ok=True)
    out: dict[str, Indexed] = {}
    for tool in order:
        if tool == "rclip":
            datadir = work.rclip_datadir(rounds / f"rclip-{name}", model_data, fresh=True)
            run = work.measure(
                tools.rclip("-f", PHRASE), tools.rclip_env(datadir), photos, sample_memory=True
            ).check()
            out[tool] = Indexed(run.wall_s, run.cpu_s, run.peak_rss_mb, work.rclip_count(datadir))
        else:
            lib = rounds / f"clipdesk-{name}.sqlite3"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{lib}{suffix}").unlink(missing_ok=True)
            env = tools.clipdesk_env()
            runs = [
                work.measure(tools.clipdesk("--library", lib, *args), env, sample_memory=True)
                # rclip reads no text: the same work is the embedding, without the OCR pass
                for args in (("folders", "add", photos), ("index", "--no-ocr"))
            ]
            for run in runs:
                run.check()
            out[tool] = Indexed(
                sum(x.wall_s for x in runs),
                sum(x.cpu_s for x in runs),
                max(x.peak_rss_mb for x in runs),
                work.clipdesk_count(lib),
            )
        if out[tool].photos != n:
            raise RuntimeError(f"round {name}: {tool} indexed {out[tool].photos} of {n} photos")
    return out


def same_photo_cosines(tools: work.Tools) -> tuple[float, float, float]:
    """(min and median cosine of one photo's two vectors, median cosine of different photos)
    over round 1's indexes: the same weights and preprocessing give the same vectors."""
    rounds = tools.work / "rounds"
    ours = work.clipdesk_vectors(rounds / "clipdesk-0.sqlite3")
    theirs = work.rclip_vectors(rounds / "rclip-0")
    common = sorted(set(ours) & set(theirs))
    a = np.stack([ours[p] for p in common])
    b = np.stack([theirs[p] for p in common])
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    same = (a * b).sum(axis=1)
    other = (a * np.roll(b, 1, axis=0)).sum(axis=1)
    return float(same.min()), float(np.median(same)), float(np.median(other))


# --- whole-process CLI query -------------------------------------------------------------------


def cli_queries(
    tools: work.Tools, lib: work.QueryLibrary, runs: int
) -> tuple[dict[str, list[work.Run]], Any]:
    cd_env, rc_env = tools.clipdesk_env(), tools.rclip_env(lib.rclip)
    kinds: dict[str, Callable[[], work.Run]] = {
        "clipdesk": lambda: work.measure(
            tools.clipdesk("--library", lib.clipdesk, "search", "-k", "10", PHRASE), cd_env
        ),
        "rclip": lambda: work.measure(tools.rclip("-f", PHRASE), rc_env, lib.photos),
        "rclip -n": lambda: work.measure(tools.rclip("-n", "-f", PHRASE), rc_env, lib.photos),
    }
    # The same page-cache state for all: every file they read is read once, and each runs once
    # untimed (its Python modules, the model and the index then come from memory alike).
    work.read_files(
        [*tools.home.rglob("*"), *(tools.work / "model" / "rclip-data").rglob("*"), *lib.files()]
    )
    for run in kinds.values():
        run().check()
    if running := work.clipdesk_processes(tools.home):
        raise RuntimeError(f"ClipDesk processes {running} run on {tools.home}: not a cold CLI")
    described = json.loads(
        work.measure(
            tools.clipdesk("--library", lib.clipdesk, "--json", "search", "-k", "10", PHRASE),
            cd_env,
        )
        .check()
        .stdout
    ).get("runtime")
    names = list(kinds)
    out: dict[str, list[work.Run]] = {k: [] for k in names}
    for i in range(runs):
        for j in range(len(names)):
            kind = names[(i + j) % len(names)]
            out[kind].append(kinds[kind]().check())
    return out, described


# --- warm queries ------------------------------------------------------------------------------


@contextlib.contextmanager
def servers(tools: work.Tools, lib: work.QueryLibrary) -> Iterator[dict[str, Server]]:
    serve = str(BENCH / "_peer_rclip_serve.py")
    started: dict[str, Server] = {}
    try:
        started["clipdesk"] = Server(
            "ClipDesk",
            [sys.executable, serve, "clipdesk", str(lib.clipdesk)],
            dict(tools.clipdesk_env(), PYTHONPATH=str(BENCH.parent)),
            None,
        )
        started["rclip"] = Server(
            "rclip",
            [str(tools.rclip_python), serve, "rclip"],
            tools.rclip_env(lib.rclip),
            lib.photos,
        )
        yield started
    finally:
        for server in started.values():
            server.close()


def interleaved(
    procs: dict[str, Server], n: int, tag: str
) -> tuple[list[tuple[float, float]], int]:
    """(ClipDesk ms, rclip ms) per pair of single requests, and for how many phrases both
    found the same best photo. Every phrase is new to both (the pass tag keeps ClipDesk's
    phrase cache out of it)."""
    pairs, same_top = [], 0
    for i in range(n):
        q = f"{PHRASES[i % len(PHRASES)]} {tag}{i // len(PHRASES)}"
        order = ("rclip", "clipdesk") if i % 2 == 0 else ("clipdesk", "rclip")
        got = {}
        for tool in order:
            time.sleep(0.25)  # the other runtime's worker threads stop spinning first
            got[tool] = procs[tool].ask({"op": "text", "q": q})
        pairs.append((float(got["clipdesk"]["ms"]), float(got["rclip"]["ms"])))
        same_top += Path(got["clipdesk"]["top"]).name == Path(got["rclip"]["top"]).name
    return pairs, same_top


@contextlib.contextmanager
def busy_process() -> Iterator[None]:
    """One other process keeping a core busy, as another job on the user's machine would."""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        yield
    finally:
        busy.kill()
        busy.wait()


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))


# --- the run -----------------------------------------------------------------------------------


def not_set_up(tools: work.Tools, why: str, options: list[str]) -> int:
    command = work.setup_command(tools.work, options)
    print(
        f"{why}; nothing measured. Set it up once (rclip {work.RCLIP_VERSION} in a Python >= 3.12 "
        "virtualenv, ~250 MB, no torch; the random model; the photos; the query library indexed "
        f"by both tools):\n\n    {command}\n\n"
        f"rclip's virtualenv by hand: python3.12 -m venv {tools.venv} && "
        f"{tools.venv}/bin/pip install rclip=={work.RCLIP_VERSION}"
    )
    record(metrics={"status": f"not set up: {command}"})
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--setup", action="store_true", help="create rclip's venv and every cache, then stop"
    )
    ap.add_argument(
        "--work", type=Path, default=work.DEFAULT_WORK, help="work folder (default .peer-rclip/)"
    )
    ap.add_argument("--python", help="the Python >= 3.12 for rclip's venv (default: found)")
    ap.add_argument(
        "--runtime",
        choices=["auto", "torch", "onnx"],
        help="ClipDesk's runtime (default: its own default)",
    )
    ap.add_argument("--clipdesk-threads", type=int, help="CLIPDESK_THREADS (default: unset)")
    ap.add_argument(
        "--photos", type=int, default=200, help="photos to index per round (default 200)"
    )
    ap.add_argument(
        "--size", type=_size, default=(4000, 3000), help="their size (default 4000x3000)"
    )
    ap.add_argument("--rounds", type=int, default=5, help="indexing rounds (default 5)")
    ap.add_argument(
        "--query-photos", type=int, default=10000, help="photos the queries search (default 10000)"
    )
    ap.add_argument(
        "--query-size", type=_size, default=(400, 300), help="their size (default 400x300)"
    )
    ap.add_argument(
        "--rclip-query-index",
        action="store_true",
        help="rclip indexes the query library itself (half an hour for 10,000 here) instead of "
        "its index being written, by rclip's own code, from ClipDesk's vectors",
    )
    ap.add_argument("--queries", type=int, default=7, help="CLI query runs per tool (default 7)")
    ap.add_argument(
        "--warm", type=int, default=30, help="warm requests per tool and condition (default 30)"
    )
    args = ap.parse_args(argv)
    tools = work.Tools(args.work.resolve(), args.runtime, args.clipdesk_threads)

    sizing = [
        flag if value is True else f"{flag} {value}"
        for flag, value, default in (
            ("--photos", args.photos, 200),
            ("--size", "x".join(map(str, args.size)), "4000x3000"),
            ("--query-photos", args.query_photos, 10000),
            ("--query-size", "x".join(map(str, args.query_size)), "400x300"),
            ("--rclip-query-index", args.rclip_query_index, False),
        )
        if value != default
    ]
    if not tools.rclip_ready():
        if not args.setup:
            return not_set_up(tools, f"rclip is not installed in {tools.venv}", sizing)
        work.setup_venv(tools, args.python)
    missing = work.missing_caches(
        tools, args.photos, args.size, args.query_photos, args.query_size, args.rclip_query_index
    )
    if missing and os.environ.get(JSON_ENV) and not args.setup:
        # Under bench/run_all making them would eat its time limit; alone, a run makes them.
        return not_set_up(tools, f"not made yet: {', '.join(missing)}", sizing)
    started = time.perf_counter()
    facts = work.ensure_model(tools)
    model_data = Path(str(facts["rclip_data"]))
    photos = work.photo_folder(tools.work, args.photos, args.size, "photos")
    lib = work.ensure_query_library(
        tools, model_data, args.query_photos, args.query_size, rclip_indexes=args.rclip_query_index
    )
    if args.setup:
        print(f"set up in {time.perf_counter() - started:.0f} s; run: python3 bench/peer_rclip.py")
        return 0

    files = sorted(photos.glob("*.jpg"))
    mb = sum(p.stat().st_size for p in files) / len(files) / 1e6
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"ClipDesk beside rclip {work.RCLIP_VERSION}: the same random {facts['arch']} "
        f"({facts['params_m']} M parameters, {facts['act']}) in both; ClipDesk runtime: "
        f"{args.runtime or 'its default'}; {cores} usable cores, load {os.getloadavg()[0]:.1f}"
    )
    if facts.get("clipdesk_prepare"):
        print(
            "ClipDesk's `models prepare`: " + str(facts["clipdesk_prepare"]).replace("\n", "\n  ")
        )
    work.read_files(files)
    print(
        f"(this process's own peak RSS {work.own_peak_mb():.0f} MB: a floor under each peak "
        "below, as Linux counts a child's pages before exec)"
    )

    # 1. indexing
    print(
        f"\nindexing {len(files)} photos {args.size[0]}x{args.size[1]} ({mb:.1f} MB each), "
        f"{args.rounds} rounds, a fresh index each, tools alternating"
    )
    # Untimed, on two photos: whatever a tool does once on its first index (bytecode, a
    # runtime's graphs) is not in round 1.
    index_round(
        tools, 0, work.photo_folder(tools.work, 2, args.size, "warmup"), model_data, 2, "warmup"
    )
    rounds = []
    for r in range(args.rounds):
        res = index_round(tools, r, photos, model_data, len(files))
        rounds.append(res)
        cd, rc = res["clipdesk"], res["rclip"]
        print(
            f"  round {r + 1} ({'rclip' if r % 2 == 0 else 'ClipDesk'} first): "
            f"ClipDesk {cd.rate:5.2f} img/s, cpu {cd.cpu_s:5.1f} s, peak {cd.peak_mb:5.0f} MB | "
            f"rclip {rc.rate:5.2f} img/s, cpu {rc.cpu_s:5.1f} s, peak {rc.peak_mb:5.0f} MB | "
            f"{cd.rate / rc.rate:.2f}x",
            flush=True,
        )
    same_min, same_med, other_med = same_photo_cosines(tools)
    index_runtimes = work.vector_runtimes(
        tools.work / "rounds" / f"clipdesk-{args.rounds - 1}.sqlite3"
    )
    print(f"  ClipDesk's vectors made by: {index_runtimes or 'unrecorded (no runtime column)'}")

    # 2. whole-process CLI query
    print(
        f"\nCLI text query {PHRASE!r} as a whole process over {args.query_photos:,} photos, "
        f"{args.queries} runs each, alternating, page cache warm for all; rclip's index "
        f"{lib.rclip_index}"
    )
    cli, described = cli_queries(tools, lib, args.queries)
    for kind, runs in cli.items():
        print(
            f"  {kind:9} median {statistics.median(x.wall_s for x in runs):5.2f} s wall, "
            f"cpu {statistics.median(x.cpu_s for x in runs):5.2f} s, "
            f"peak {statistics.median(x.peak_rss_mb for x in runs):5.0f} MB"
        )
    print(f"  ClipDesk's search --json says: runtime {described or 'not reported'}")
    for line in cli["clipdesk"][-1].stderr.strip().splitlines()[-2:]:
        print(f"  ClipDesk's search stderr: {line}")

    # 3. warm queries
    print(
        f"\nwarm text search (ten photos), both held warm, {args.warm} single requests each, "
        "interleaved 0.25 s apart"
    )
    with servers(tools, lib) as procs:
        infos = {name: server.info for name, server in procs.items()}
        for name, info in infos.items():
            print(f"  {name}: {json.dumps(info)}")
        red = {name: s.ask({"op": "vector", "q": PHRASE})["vector"] for name, s in procs.items()}
        text_cos = cosine(red["clipdesk"], red["rclip"])
        quiet, same_quiet = interleaved(procs, args.warm, "q")
        with busy_process():
            busy, same_busy = interleaved(procs, args.warm, "b")
    for label, pairs in (("quiet", quiet), ("one busy process", busy)):
        cd_ms, rc_ms = zip(*pairs, strict=True)
        print(
            f"  {label:16} ClipDesk median {statistics.median(cd_ms):7.1f} ms, "
            f"rclip {statistics.median(rc_ms):7.1f} ms, pairs {spread([a / b for a, b in pairs])}"
        )
    print(
        f"  the same best photo from both for {same_quiet + same_busy} of {2 * args.warm} phrases"
    )

    # 4. the table
    said = described.get("query") if isinstance(described, dict) else None
    label = str(said or infos["clipdesk"].get("runtime") or "torch-fp32")
    w, h = args.size
    cd_cli = [x.wall_s for x in cli["clipdesk"]]
    rows = [
        Compared(
            f"indexing {len(files)} photos {w}x{h}, img/s",
            [x["clipdesk"].rate for x in rounds],
            [x["rclip"].rate for x in rounds],
            "{:.2f}",
            (">=", 1.5),
        ),
        Compared(
            "peak RSS while indexing, MB",
            [x["clipdesk"].peak_mb for x in rounds],
            [x["rclip"].peak_mb for x in rounds],
            "{:.0f}",
            ("<=", 1.0),
        ),
        Compared(
            f"CLI text query over {args.query_photos:,} photos, s",
            cd_cli,
            [x.wall_s for x in cli["rclip"]],
            "{:.2f}",
            ("<=", 0.5),
        ),
        Compared(
            "  the same, against rclip --no-indexing, s",
            cd_cli,
            [x.wall_s for x in cli["rclip -n"]],
            "{:.2f}",
            ("<=", 0.5),
        ),
        Compared(
            "warm text query, quiet, ms",
            [ours for ours, _ in quiet],
            [peer for _, peer in quiet],
            "{:.1f}",
            ("<=", 0.5),
        ),
        Compared(
            "warm text query, one busy process, ms",
            [ours for ours, _ in busy],
            [peer for _, peer in busy],
            "{:.1f}",
            ("<=", 0.5),
        ),
    ]
    print(
        f"\n| median [min–max] | ClipDesk ({label}) | rclip {work.RCLIP_VERSION} | "
        "ClipDesk / rclip, median of pairs [range] | goal |"
    )
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row.cells()) + " |")
    print(
        f"\nsame weights, same preprocessing: text vector {PHRASE!r} cosine ClipDesk vs rclip "
        f"{text_cos:.7f}; one photo's two vectors cosine min {same_min:.6f} (median "
        f"{same_med:.6f}), different photos median {other_med:.3f}; rclip's ONNX files vs the torch "
        f"module, max abs diff {facts['onnx_vs_torch_max_abs_diff']}"
    )
    metrics: dict[str, float | str] = {"ClipDesk runtime": label}
    metrics.update({f"{row.name.strip()}: ClipDesk / rclip": row.ratio for row in rows})
    metrics.update(
        {
            "text vector cosine ClipDesk vs rclip": text_cos,
            "same-photo vector cosine, min": same_min,
        }
    )
    lines = {
        f"ClipDesk ({label})": [[r + 1, x["clipdesk"].rate] for r, x in enumerate(rounds)],
        f"rclip {work.RCLIP_VERSION}": [[r + 1, x["rclip"].rate] for r, x in enumerate(rounds)],
    }
    series = {"title": f"Indexing rate beside rclip, {w}x{h} photos, per round"}
    record(
        metrics=metrics,
        series=[{**series, "x_label": "round", "y_label": "images/s", "lines": lines}],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
