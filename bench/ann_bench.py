"""ANN search (faiss IVF-PQ, re-ranked exactly) beside exact flat search, at 1M and 2M vectors.

The vectors are photo-like, not Gaussian noise: a few thousand clusters (events, subjects) of
varied sizes (Zipf) and spreads, grouped in themes, all sharing the image embeddings' common
direction (two random photos have a cosine of ~0.37, as CLIP image vectors do). The queries are
text-like: a cluster's meaning, the text embeddings' own common direction and noise, so that a
query's best photos score ~0.35 and the average photo ~0.10 (CLIP's text-image cosines), far
from every photo as text queries are (the modality gap). Recall@10 is measured against exact
float32 search, unfiltered and under a filter that keeps a random 1% of the photos.

Each side runs in a child process of its own, so its resident memory (RSS) is its index's:

- exact: ClipDesk's ``VectorIndex`` (float16 matrix, torch's half-precision product: the app's
  flat search), loaded from the vectors;
- ANN: ``AnnIndex`` trained and filled (the build), saved and loaded again the way the app
  starts, then searched; the exact re-rank reads the candidates' float32 vectors from the
  vectors file with ``pread``, as the app reads them from the library file (page cache, not
  RSS). ``--library N`` also times that read from a real SQLite library of N photos.

Prints one table (with the ratios ANN / exact) and the figures for docs/scale.md.

    python3 bench/ann_bench.py [--sizes 1000000,2000000] [--queries 200] [--threads 2]
                               [--library 100000] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

DIM = 512
K = 10
CLUSTERS = 4000
THEMES = 64
FILTER_SHARE = 0.01
_CHUNK = 100_000
_ADD = 8192  # vectors a build adds at a time, as clipdesk.services.ann reads them


# --- the photo-like world ------------------------------------------------------------------


def _unit(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = x / np.linalg.norm(x, axis=-1, keepdims=True)
    return out


def world(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    image_mean = _unit(rng.standard_normal(DIM))
    text_mean = _unit(rng.standard_normal(DIM))
    themes = _unit(rng.standard_normal((THEMES, DIM)))
    theme_of = rng.integers(0, THEMES, CLUSTERS)
    meaning = _unit(0.8 * themes[theme_of] + 0.6 * _unit(rng.standard_normal((CLUSTERS, DIM))))
    weights = 1.0 / np.arange(1, CLUSTERS + 1) ** 0.8
    return {
        "image_mean": image_mean,
        "text_mean": text_mean,
        "meaning": meaning,
        "centres": _unit(0.75 * image_mean + 0.66 * meaning),
        "spread": rng.uniform(0.45, 1.05, CLUSTERS),
        "weights": rng.permutation(weights / weights.sum()),
    }


def write_photos(w: dict[str, np.ndarray], n: int, path: Path, seed: int = 1) -> None:
    """``n`` unit vectors (float32, raw rows) to ``path``, in chunks: memory stays ~200 MB."""
    rng = np.random.default_rng(seed)
    with open(path, "wb") as fh:
        for start in range(0, n, _CHUNK):
            m = min(_CHUNK, n - start)
            c = rng.choice(CLUSTERS, m, p=w["weights"])
            noise = rng.standard_normal((m, DIM), np.float32) / np.sqrt(DIM)
            x = w["centres"][c] + w["spread"][c, None] * noise
            fh.write(_unit(x).astype("<f4").tobytes())


def text_queries(w: dict[str, np.ndarray], n: int, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.choice(CLUSTERS, n, p=w["weights"])
    noise = _unit(rng.standard_normal((n, DIM)))
    q = 0.42 * w["meaning"][c] + 0.12 * w["image_mean"] + 0.75 * w["text_mean"] + 0.5 * noise
    return _unit(q).astype(np.float32)


def photos(path: Path, n: int) -> np.ndarray:
    return np.memmap(path, dtype="<f4", mode="r", shape=(n, DIM))


def exact_top(path: Path, n: int, queries: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
    """Exact float32 top-K ids of each query (over ``allowed`` only when given)."""
    x = photos(path, n)
    best_s = np.full((len(queries), K), -np.inf, np.float32)
    best_i = np.zeros((len(queries), K), np.int64)
    rows = allowed if allowed is not None else None
    for start in range(0, n if rows is None else len(rows), _CHUNK):
        if rows is None:
            ids = np.arange(start, min(n, start + _CHUNK))
            block = np.asarray(x[start : start + len(ids)])
        else:
            ids = rows[start : start + _CHUNK]
            block = np.asarray(x[ids])
        s = queries @ block.T
        all_s = np.concatenate([best_s, s], axis=1)
        all_i = np.concatenate([best_i, np.broadcast_to(ids, s.shape)], axis=1)
        top = np.argpartition(-all_s, K - 1, axis=1)[:, :K]
        best_s = np.take_along_axis(all_s, top, 1)
        best_i = np.take_along_axis(all_i, top, 1)
    return best_i


# --- the children ----------------------------------------------------------------------------


class FileVectors:
    """The stored float32 vectors, read by ``pread`` for the re-rank (the library file's role)."""

    def __init__(self, path: Path, n: int) -> None:
        self.fd = os.open(path, os.O_RDONLY)
        self.n = n
        self.row = DIM * 4

    def __call__(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids = np.unique(np.asarray(ids, np.int64))
        ids = ids[(ids >= 0) & (ids < self.n)]
        out = np.empty((len(ids), DIM), np.float32)
        for j, i in enumerate(ids.tolist()):
            out[j] = np.frombuffer(os.pread(self.fd, self.row, i * self.row), "<f4")
        return ids, out


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _peak() -> int:
    """This process's peak RSS (VmHWM: ru_maxrss would keep the parent's from before the exec)."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # not Linux: KiB


def _timed(fn, queries: np.ndarray) -> tuple[list[list[int]], list[float]]:
    fn(queries[0])
    ids, lat = [], []
    for q in queries:
        start = time.perf_counter()
        hits = fn(q)
        lat.append((time.perf_counter() - start) * 1000)
        ids.append(hits.ids.tolist())
    return ids, lat


def child_exact(path: Path, n: int, queries: np.ndarray, allowed: np.ndarray) -> dict:
    import torch

    from clipdesk.search.vector_index import VectorIndex

    base = _rss()
    start = time.perf_counter()
    index = VectorIndex(DIM, "float16", capacity=n)
    x = photos(path, n)
    for s in range(0, n, _CHUNK):
        index.add(np.arange(s, min(n, s + _CHUNK)), np.asarray(x[s : s + _CHUNK]))
    built = time.perf_counter() - start
    del x
    plain = _timed(lambda q: index.search(q, K), queries)
    narrow = _timed(lambda q: index.search(q, K, allowed=allowed), queries)
    return {
        "build_s": built,
        "rss": _rss() - base,
        "peak": _peak(),
        "plain": plain,
        "filtered": narrow,
        "torch": torch.__version__,
    }


def child_build(path: Path, n: int, queries: np.ndarray, allowed: np.ndarray) -> dict:
    """The ANN build: trained on a random sample, filled, saved next to the vectors."""
    from clipdesk.search import ann_store
    from clipdesk.search.ann_index import AnnIndex, AnnParams, training_size

    base = _rss()
    fetch = FileVectors(path, n)  # read as the app reads the library: a sample, then chunks
    params = AnnParams.for_count(n, DIM)
    rng = np.random.default_rng(3)
    start = time.perf_counter()
    _, sample = fetch(rng.choice(n, training_size(n, params.nlist), replace=False))
    ann = AnnIndex.train(sample, n, fetch)
    trained = time.perf_counter() - start
    del sample
    for s in range(0, n, _ADD):
        m = min(_ADD, n - s)
        chunk = np.fromfile(path, "<f4", m * DIM, offset=s * DIM * 4).reshape(m, DIM)
        ann.add(np.arange(s, s + m), chunk)
    built = time.perf_counter() - start
    del chunk
    built_rss = _rss() - base
    start = time.perf_counter()
    folder = path.parent / f"ann-{n}"
    ann_store.save(folder, "bench@0", ann, np.arange(n), np.zeros(n), built_at=time.time())
    return {
        "build_s": built,
        "train_s": trained,
        "save_s": time.perf_counter() - start,
        "disk": sum(f.stat().st_size for f in folder.iterdir()),
        "built_rss": built_rss,
        "peak": _peak() - base,
        "params": ann.params.as_json(),
    }


def child_ann(path: Path, n: int, queries: np.ndarray, allowed: np.ndarray) -> dict:
    """The ANN side as the app runs it after a start: the saved index loaded, then searched."""
    from clipdesk.search import ann_store

    base = _rss()
    start = time.perf_counter()
    loaded = ann_store.load(path.parent / f"ann-{n}", "bench@0", DIM, FileVectors(path, n))
    load_s = time.perf_counter() - start
    ann = loaded.index
    del loaded
    plain = _timed(lambda q: ann.search(q, K), queries)
    narrow = _timed(lambda q: ann.search(q, K, allowed=allowed), queries)
    return {
        "load_s": load_s,
        "rss": _rss() - base,
        "index_bytes": ann.nbytes,
        "plain": plain,
        "filtered": narrow,
    }


def run_child(side: str, data: Path, n: int, threads: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", side, "--n", str(n), "--data", str(data)]
        + ["--threads", str(threads)],
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(f"{side} child failed:\n{out.stderr[-4000:]}")
    result: dict = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# --- the SQLite read of the re-rank ------------------------------------------------------


def library_reads(n: int, queries: int, count: int) -> dict[str, float]:
    """From a SQLite library of ``n`` photos (warm): ms to read ``count`` random vectors with
    Library.vectors_for (p50, p99: the re-rank's read), and seconds for Library.vector_stamps
    (what every sync and every load of a saved index reads) as the schema has it and with a
    covering (model_id, photo_id, created_at) index."""
    from clipdesk.library.store import Library

    w = world()
    rng = np.random.default_rng(5)
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library(Path(tmp) / "lib.sqlite3")
        start = time.perf_counter()
        now = time.time()
        vec_path = Path(tmp) / "v.f32"
        write_photos(w, n, vec_path)
        x = photos(vec_path, n)
        with lib.transaction() as conn:
            conn.execute(
                "INSERT INTO folders(path, status, added_at) VALUES('/bench', 'ok', ?)", (now,)
            )
            for s in range(0, n, 10_000):
                m = min(10_000, n - s)
                conn.executemany(
                    "INSERT INTO photos(id, folder_id, path, size, mtime_ns, status, added_at, "
                    "updated_at) VALUES(?, 1, ?, 1, 1, 'ok', ?, ?)",
                    [(s + j + 1, f"/bench/{s + j}.jpg", now, now) for j in range(m)],
                )
                conn.executemany(
                    "INSERT INTO embeddings(photo_id, model_id, dim, vector, created_at) "
                    "VALUES(?, 'bench@0', 512, ?, ?)",
                    [(s + j + 1, np.asarray(x[s + j]).tobytes(), now) for j in range(m)],
                )
        out["made_s"] = time.perf_counter() - start
        lat = []
        for _ in range(queries):
            ids = np.sort(rng.choice(n, count, replace=False) + 1)
            t = time.perf_counter()
            lib.vectors_for("bench@0", ids.tolist())
            lat.append((time.perf_counter() - t) * 1000)
        out["read_p50"], out["read_p99"] = np.percentile(lat, [50, 99]).tolist()
        for name in ("stamps_s", "stamps_covered_s"):
            lib.vector_stamps("bench@0")  # warm
            t = time.perf_counter()
            lib.vector_stamps("bench@0")
            out[name] = time.perf_counter() - t
            with lib.transaction() as conn:
                conn.execute(
                    "CREATE INDEX IF NOT EXISTS bench_stamps "
                    "ON embeddings(model_id, photo_id, created_at)"
                )
        lib.close()
    return out


# --- the parent ------------------------------------------------------------------------------


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    pairs = zip(found, truth, strict=True)
    return float(np.mean([len(set(f[:K]) & set(t.tolist())) / K for f, t in pairs]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000000,2000000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2, help="torch and faiss threads")
    ap.add_argument("--library", type=int, default=100_000, help="SQLite re-rank read (0: skip)")
    ap.add_argument("--data", help="folder for the generated vectors (default: a temporary one)")
    ap.add_argument("--child", choices=("exact", "build", "ann"), help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        import faiss

        faiss.omp_set_num_threads(args.threads)
        if args.child == "exact":  # the app's flat search multiplies with torch; ANN needs none
            import torch

            torch.set_num_threads(args.threads)
        data = Path(args.data)
        queries = np.load(data / "queries.npy")
        allowed = np.load(data / f"allowed-{args.n}.npy")
        fn = {"exact": child_exact, "build": child_build, "ann": child_ann}[args.child]
        print(json.dumps(fn(data / "photos.f32", args.n, queries, allowed)))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(args.data or tmp)
        data.mkdir(parents=True, exist_ok=True)
        bench(args, sizes, data)


def bench(args: argparse.Namespace, sizes: list[int], data: Path) -> None:
    import faiss
    from _report import record

    started = time.perf_counter()
    w = world()
    path = data / "photos.f32"
    start = time.perf_counter()
    write_photos(w, max(sizes), path)
    queries = text_queries(w, args.queries)
    np.save(data / "queries.npy", queries)
    print(
        f"dim {DIM}, {CLUSTERS} clusters in {THEMES} themes, {args.queries} text-like queries, "
        f"top-{K}, filter keeps {FILTER_SHARE:.0%}; {args.threads} thread(s); faiss "
        f"{faiss.__version__}; vectors written in {time.perf_counter() - start:.0f} s"
    )
    x = photos(path, min(sizes))
    sims = queries @ np.asarray(x[:_CHUNK]).T
    pairs = np.asarray(x[:2000]) @ np.asarray(x[2000:4000]).T
    print(
        f"cosines: photo-photo {pairs.mean():.2f}; query-photo mean {sims.mean():.2f}, "
        f"best-10 of 100k {np.sort(sims, 1)[:, -10:].mean():.2f}"
    )
    del x, sims, pairs
    rows = []
    for n in sizes:
        rng = np.random.default_rng(4)
        allowed = np.sort(rng.choice(n, int(n * FILTER_SHARE), replace=False)).astype(np.int64)
        np.save(data / f"allowed-{n}.npy", allowed)
        truth = exact_top(path, n, queries, None)
        truth_f = exact_top(path, n, queries, allowed)
        exact = run_child("exact", data, n, args.threads)
        ann = run_child("build", data, n, args.threads) | run_child("ann", data, n, args.threads)
        rows.append((n, exact, ann, truth, truth_f))
    print(
        f"\n{'vectors':>9} {'side':6}{'build s':>9}{'RSS MB':>8}{'B/vec':>7}"
        f"{'recall@10':>10}{'p50 ms':>8}{'p99 ms':>8}{'1% recall':>10}{'1% p50':>8}{'1% p99':>8}"
    )
    metrics: dict[str, float | str] = {}
    lines: dict[str, list[list[float]]] = {"exact p50": [], "ANN p50": []}
    for n, exact, ann, truth, truth_f in rows:
        for side, r in (("exact", exact), ("ANN", ann)):
            rec, rec_f = recall(r["plain"][0], truth), recall(r["filtered"][0], truth_f)
            p50, p99 = np.percentile(r["plain"][1], [50, 99])
            f50, f99 = np.percentile(r["filtered"][1], [50, 99])
            r["figures"] = (rec, rec_f, p50, p99, f50, f99)
            print(
                f"{n:>9,} {side:6}{r['build_s']:>9.1f}{r['rss'] / 1e6:>8.0f}{r['rss'] / n:>7.0f}"
                f"{rec:>10.3f}{p50:>8.2f}{p99:>8.2f}{rec_f:>10.3f}{f50:>8.2f}{f99:>8.2f}"
            )
            lines[f"{side} p50"].append([n, float(p50)])
            metrics[f"{side} recall@10 {n}"] = round(rec, 4)
            metrics[f"{side} recall@10 1% {n}"] = round(rec_f, 4)
        e, a = exact["figures"], ann["figures"]
        print(
            f"{'':>9} {'ratio':6}{ann['build_s'] / exact['build_s']:>9.1f}"
            f"{ann['rss'] / exact['rss']:>8.2f}{'':>7}{'':>10}{a[2] / e[2]:>8.2f}{a[3] / e[3]:>8.2f}"
            f"{'':>10}{a[4] / e[4]:>8.2f}{a[5] / e[5]:>8.2f}   (ANN / exact)"
        )
        metrics[f"ANN / exact RSS {n}"] = round(ann["rss"] / exact["rss"], 3)
    print("\nANN index details")
    for n, _, ann, _, _ in rows:
        p = ann["params"]
        print(
            f"{n:>9,}: nlist {p['nlist']}, PQ {p['m']}x{p['nbits']} bits, nprobe {p['nprobe']}, "
            f"re-rank {p['rerank']}; train {ann['train_s']:.1f} s + add "
            f"{ann['build_s'] - ann['train_s']:.1f} s, save {ann['save_s']:.1f} s, load "
            f"{ann['load_s']:.1f} s; {ann['disk'] / 1e6:.0f} MB on disk; index "
            f"{ann['index_bytes'] / n:.0f} B/vector; the build's RSS {ann['built_rss'] / 1e6:.0f} MB "
            f"at its end, {ann['peak'] / 1e6:.0f} MB at its peak; searching after a load "
            f"{ann['rss'] / 1e6:.0f} MB"
        )
    if args.library:
        rerank = rows[-1][2]["params"]["rerank"]
        r = library_reads(args.library, 100, rerank)
        print(
            f"\nfrom a library file of {args.library:,} photos (warm; written in "
            f"{r['made_s']:.0f} s): the re-rank's read of {rerank} vectors p50 "
            f"{r['read_p50']:.1f} ms, p99 {r['read_p99']:.1f} ms (the app adds it to the ANN "
            f"latency above, which reads them from a flat file); vector_stamps (each sync, each "
            f"load of a saved index) {r['stamps_s']:.2f} s, {r['stamps_covered_s']:.2f} s with a "
            "covering (model_id, photo_id, created_at) index"
        )
        metrics["re-rank read p50 ms"] = round(r["read_p50"], 2)
    print(f"\nbench wall time {time.perf_counter() - started:.0f} s")
    record(
        metrics=metrics,
        series=[
            {
                "title": "ANN vs exact search latency vs library size",
                "x_label": "vectors",
                "y_label": "ms (p50, one query)",
                "log_x": False,
                "lines": lines,
            }
        ],
    )


if __name__ == "__main__":
    main()
