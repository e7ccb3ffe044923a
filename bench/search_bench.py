"""Search latency and memory, side by side with faiss-cpu ``IndexFlatIP`` on the same vectors.

For 10k, 100k and 1M unit vectors (dim 512, like ViT-B/32): p50/p99 latency of one top-50 query
for ClipDesk's VectorIndex (float16 storage, the default; float32 too) and for faiss IndexFlatIP
(float32, exact), plus ClipDesk's recall@50 against exact float32 scores. Then resident memory
(RSS) of a fresh process holding the index for 100k and 1M photos, and of the app's real path -
Searcher.load() streaming a 100k-photo SQLite library into the index.

Goal: ClipDesk latency <= 1.5x faiss.

    python3 bench/search_bench.py [--sizes 10000,100000,1000000] [--queries 100] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

DIM = 512
K = 50


def unit_vectors(n: int, seed: int = 0) -> np.ndarray:
    # Clustered like real photo embeddings (many near-duplicates), in chunks to bound memory.
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((1000, DIM)).astype(np.float32)
    out = np.empty((n, DIM), np.float32)
    for i in range(0, n, 100_000):
        m = min(100_000, n - i)
        x = centres[rng.integers(0, 1000, m)] + 0.8 * rng.standard_normal((m, DIM), np.float32)
        out[i : i + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def paired_latencies(fns: list, queries: np.ndarray) -> list[np.ndarray]:
    """Each query runs through every contender back to back, so a load spike on this shared
    machine hits them alike."""
    for fn in fns:
        fn(queries[0])
    out: list[list[float]] = [[] for _ in fns]
    for q in queries:
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn(q)
            out[i].append(time.perf_counter() - start)
    return [np.array(o) * 1000 for o in out]


def bench_latency(sizes: list[int], n_queries: int) -> None:
    import faiss

    from clipdesk.search.vector_index import VectorIndex

    print(
        f"\n{'vectors':>9} {'':22}{'p50 ms':>9}{'p99 ms':>9}{'vs faiss p50':>14}{'recall@50':>11}"
    )
    for n in sizes:
        vecs = unit_vectors(n)
        rng = np.random.default_rng(1)
        picks = vecs[rng.integers(0, n, n_queries)]
        queries = picks + 0.3 * rng.standard_normal(picks.shape).astype(np.float32) / np.sqrt(DIM)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        flat = faiss.IndexFlatIP(DIM)
        flat.add(vecs)
        ids = np.arange(n, dtype=np.int64)
        indexes = {}
        for dtype in ("float16", "float32"):
            indexes[dtype] = VectorIndex(DIM, dtype, capacity=n)
            indexes[dtype].add(ids, vecs)
        del vecs
        fns = [lambda q, flat=flat: flat.search(q[None], K)]
        fns += [lambda q, ix=ix: ix.search(q, K) for ix in indexes.values()]
        lats = paired_latencies(fns, queries)
        exact = [set(flat.search(q[None], K)[1][0].tolist()) for q in queries[:20]]
        names = ["faiss IndexFlatIP f32"] + [f"ClipDesk {d}" for d in indexes]
        for j, (name, lat) in enumerate(zip(names, lats, strict=True)):
            recall = None
            if j:
                ix = list(indexes.values())[j - 1]
                recall = np.mean(
                    [
                        len(exact[i] & set(ix.search(q, K).ids.tolist())) / K
                        for i, q in enumerate(queries[:20])
                    ]
                )
            ratio = np.percentile(lat, 50) / np.percentile(lats[0], 50)
            print(
                f"{n:>9,} {name:22}{np.percentile(lat, 50):>9.2f}{np.percentile(lat, 99):>9.2f}"
                f"{ratio:>13.2f}x{'' if recall is None else f'{recall:>11.3f}'}",
                flush=True,
            )
        del flat, indexes


_RSS_CHILD = r"""
import json, sys, psutil, numpy as np
sys.path.insert(0, sys.argv[3])
from clipdesk.search.vector_index import VectorIndex
import torch
n, mode = int(sys.argv[1]), sys.argv[2]
proc = psutil.Process()
before = proc.memory_info().rss
if mode == "index":
    index = VectorIndex(512, "float16", capacity=n)
    rng = np.random.default_rng(0)
    for i in range(0, n, 50_000):
        m = min(50_000, n - i)
        x = rng.standard_normal((m, 512), np.float32)
        index.add(np.arange(i, i + m), x / np.linalg.norm(x, axis=1, keepdims=True))
    index.search(x[0], 50)
else:
    from clipdesk.library.store import Library
    from clipdesk.search.searcher import Searcher
    lib = Library(mode)
    s = Searcher(lib, "bench@0")
    s.load()
    s.search(np.ones(512, np.float32) / 512 ** 0.5, 50)
after = proc.memory_info().rss
print(json.dumps({"before": before, "after": after,
                  "peak": getattr(proc.memory_info(), "peak_wset", None)}))
"""


def rss(n: int, mode: str) -> dict:
    root = str(Path(__file__).resolve().parents[1])
    out = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(n), mode, root],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def make_library(path: Path, n: int) -> None:
    """A library with n photos and one 512-d vector each (rows written directly, fast)."""
    import time as _t

    from clipdesk.library.store import Library

    lib = Library(path)
    now = _t.time()
    rng = np.random.default_rng(0)
    with lib.transaction() as conn:
        conn.execute(
            "INSERT INTO folders(path, status, added_at) VALUES('/bench', 'ok', ?)", (now,)
        )
        for i in range(0, n, 10_000):
            m = min(10_000, n - i)
            x = rng.standard_normal((m, DIM), np.float32)
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            conn.executemany(
                "INSERT INTO photos(id, folder_id, path, size, mtime_ns, status, added_at, "
                "updated_at) VALUES(?, 1, ?, 1, 1, 'ok', ?, ?)",
                [(i + j + 1, f"/bench/{i + j}.jpg", now, now) for j in range(m)],
            )
            conn.executemany(
                "INSERT INTO embeddings(photo_id, model_id, dim, vector, created_at) "
                "VALUES(?, 'bench@0', 512, ?, ?)",
                [(i + j + 1, x[j].astype("<f4").tobytes(), now) for j in range(m)],
            )
    lib.close()


def bench_memory(sizes: list[int], library_n: int) -> None:
    print(
        f"\n{'resident memory (fresh process)':44}{'RSS MB':>9}{'index MB':>10}{'bytes/photo':>13}"
    )
    for n in sizes:
        r = rss(n, "index")
        grown = (r["after"] - r["before"]) / 1e6
        print(
            f"{'VectorIndex float16, ' + f'{n:,} photos':44}{r['after'] / 1e6:>9.0f}"
            f"{grown:>10.0f}{(r['after'] - r['before']) / n:>13.0f}"
        )
    if library_n:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "lib.sqlite3"
            start = time.perf_counter()
            make_library(path, library_n)
            made = time.perf_counter() - start
            start = time.perf_counter()
            r = rss(library_n, str(path))
            loaded = time.perf_counter() - start
            grown = (r["after"] - r["before"]) / 1e6
            print(
                f"{'Searcher.load from SQLite, ' + f'{library_n:,} photos':44}"
                f"{r['after'] / 1e6:>9.0f}{grown:>10.0f}{(r['after'] - r['before']) / library_n:>13.0f}"
                f"   (library built in {made:.0f} s; process incl. load {loaded:.1f} s)"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2, help="torch and faiss threads")
    ap.add_argument(
        "--library",
        type=int,
        default=100_000,
        help="photos in the SQLite library for the load test (0: skip)",
    )
    args = ap.parse_args()
    import faiss
    import torch

    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"dim {DIM}, top-{K}, {args.queries} queries, {args.threads} thread(s) for both; "
        f"faiss {faiss.__version__}, torch {torch.__version__}"
    )
    bench_latency(sizes, args.queries)
    bench_memory([s for s in sizes if s >= 100_000] or sizes, args.library)


if __name__ == "__main__":
    main()
