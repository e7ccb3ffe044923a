"""Library store and scanner figures, each beside a plain peer measured in the same run.

    python3 bench/store_bench.py                 # 100k vectors x 512, 5k files
    python3 bench/store_bench.py --vectors 1000000 --files 20000

- load_vectors (one snapshot query streamed into a preallocated matrix) vs the usual
  ``np.stack([np.frombuffer(blob) for blob in rows])`` after ``fetchall()``: time and peak memory.
- store_embeddings (stamp-checked batches, status updates) vs a bare ``executemany`` INSERT.
- Scanner: first scan and an unchanged rescan (mark-and-sweep) of a folder of small JPEGs vs a bare
  ``os.walk`` + ``stat`` of the same tree (the floor for any rescan).
Ratios matter, not absolute times: the machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clipdesk.library.records import FileFacts  # noqa: E402
from clipdesk.library.store import Library  # noqa: E402
from clipdesk.scanning.scanner import Scanner  # noqa: E402

MODEL = "bench@0"


def timed(fn, repeat: int = 3):
    """(best seconds, peak traced bytes of one run, result)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak, result


def build(lib: Library, root: Path, n: int, dim: int) -> None:
    folder = lib.add_folder(root)
    rng = np.random.default_rng(0)
    step = 20_000
    for start in range(0, n, step):
        k = min(step, n - start)
        facts = [
            FileFacts(
                path=root / f"{i:08}.jpg",
                size=1000 + i,
                mtime_ns=i,
                kind="jpeg",
                content_hash=f"{i:032x}",
            )
            for i in range(start, start + k)
        ]
        ids = [pid for pid, _ in lib.add_or_update_photos(folder.id, facts)]
        vecs = rng.standard_normal((k, dim), dtype=np.float32)
        lib.store_embeddings(MODEL, ids, vecs / np.linalg.norm(vecs, axis=1, keepdims=True))


def naive_load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT e.photo_id, e.vector FROM embeddings e JOIN photos p "
        "ON p.id = e.photo_id WHERE e.model_id = ? AND p.status = 'ok' "
        "ORDER BY e.photo_id",
        (MODEL,),
    ).fetchall()
    conn.close()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    return ids, np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])


def bench_vectors(tmp: Path, n: int, dim: int) -> None:
    path = tmp / "vectors.sqlite3"
    t = time.perf_counter()
    with Library(path) as lib:
        build(lib, tmp / "v", n, dim)
        build_s = time.perf_counter() - t
        ours_s, ours_mem, (ids, mat) = timed(lambda: lib.load_vectors(MODEL))
    peer_s, peer_mem, (pids, pmat) = timed(lambda: naive_load(path))
    assert np.array_equal(ids, pids) and np.array_equal(mat, pmat)
    mib = mat.nbytes / 2**20
    print(
        f"\nvectors: {n:,} x {dim} float32 ({mib:,.0f} MiB matrix), "
        f"file {path.stat().st_size / 2**20:,.0f} MiB, built in {build_s:.1f} s "
        f"({n / build_s:,.0f} photos+vectors/s incl. photo rows)"
    )
    print(f"{'load all vectors':34} {'ours':>10} {'fetchall+stack':>15} {'ratio':>7}")
    print(f"{'  time (s)':34} {ours_s:10.3f} {peer_s:15.3f} {ours_s / peer_s:7.2f}x")
    print(
        f"{'  peak traced memory (MiB)':34} {ours_mem / 2**20:10.0f} {peer_mem / 2**20:15.0f} "
        f"{ours_mem / peer_mem:7.2f}x"
    )
    print(f"{'  rows/s':34} {n / ours_s:10,.0f} {n / peer_s:15,.0f}")

    batch = 256
    rng = np.random.default_rng(1)
    vecs = rng.standard_normal((batch * 40, dim), dtype=np.float32)
    with Library(path) as lib:
        some = ids[: batch * 40].tolist()

        def ours() -> None:
            for s in range(0, len(some), batch):
                lib.store_embeddings("other@1", some[s : s + batch], vecs[s : s + batch])

        ours_s = timed(ours, repeat=2)[0]
    conn = sqlite3.connect(path, isolation_level=None)

    def bare() -> None:
        for s in range(0, len(some), batch):
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT OR REPLACE INTO embeddings(photo_id, model_id, dim, vector, created_at) "
                "VALUES(?, 'raw@1', ?, ?, 0)",
                [
                    (i, dim, v.tobytes())
                    for i, v in zip(some[s : s + batch], vecs[s : s + batch], strict=True)
                ],
            )
            conn.execute("COMMIT")

    bare_s = timed(bare, repeat=2)[0]
    conn.close()
    k = len(some)
    print(f"{'store_embeddings, batches of 256':34} {'ours':>10} {'bare INSERT':>15} {'ratio':>7}")
    print(f"{'  vectors/s':34} {k / ours_s:10,.0f} {k / bare_s:15,.0f} {bare_s / ours_s:7.2f}x")


def bench_scan(tmp: Path, files: int) -> None:
    from PIL import Image

    root = tmp / "photos"
    img = Image.new("RGB", (64, 48), (120, 80, 40))
    for i in range(files):
        sub = root / f"{i // 500:03}"
        sub.mkdir(parents=True, exist_ok=True)
        img.putpixel((0, 0), (i % 256, (i // 256) % 256, 0))  # unique content
        img.save(sub / f"IMG_{i:06}.jpg", quality=80)

    def walk_stat() -> int:
        n = 0
        for d, _, fs in os.walk(root):
            for f in fs:
                os.stat(os.path.join(d, f))
                n += 1
        return n

    floor_s = timed(walk_stat)[0]
    with Library(tmp / "scan.sqlite3") as lib:
        scanner = Scanner(lib)
        t = time.perf_counter()
        scanner.add_folder(root)
        first_s = time.perf_counter() - t
        rescan_s = timed(scanner.reconcile)[0]
    print(f"\nscanner: {files:,} JPEGs")
    print(f"{'':34} {'ours':>10} {'walk+stat':>15} {'ratio':>7}")
    print(
        f"{'  first scan (files/s)':34} {files / first_s:10,.0f} {files / floor_s:15,.0f} "
        f"{first_s / floor_s:7.1f}x"
    )
    print(
        f"{'  unchanged rescan (files/s)':34} {files / rescan_s:10,.0f} {files / floor_s:15,.0f} "
        f"{rescan_s / floor_s:7.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--files", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clipdesk-bench-") as tmp:
        bench_vectors(Path(tmp), args.vectors, args.dim)
        bench_scan(Path(tmp), args.files)


if __name__ == "__main__":
    main()
