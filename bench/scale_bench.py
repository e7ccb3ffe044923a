"""Library scale: search latency and memory vs library size, and the indexing rate, beside peers.

    python3 bench/scale_bench.py                       # 1k..1M vectors, 100/200/400 photos
    python3 bench/scale_bench.py --max 100000 --photos 50 100

- Search: ClipDesk's ``VectorIndex`` (float16, one GEMV + argpartition) vs the plain peer every
  project starts with, a float32 numpy matrix product + argpartition, on the same random unit
  vectors; median of 20 top-50 queries at each library size.
- Memory: the vectors' bytes in ClipDesk's index vs the float32 peer matrix at each size.
- Indexing: photos per second through the real path (scan a folder, then ``ClipDeskServices.index``:
  threaded decode, batched model, SQLite commits) vs a peer loop that only decodes and encodes
  (no database, no threads) with the same model, at several folder sizes.
Ratios matter, not absolute times: the machines are shared and noisy. ``bench/run_all.py`` draws
the series recorded here.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import quick, record  # noqa: E402

DIM = 512
K = 50


def unit_rows(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    rows = rng.standard_normal((n, dim), dtype=np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows


def median_ms(func, queries: np.ndarray) -> float:
    func(queries[0])  # warm-up
    times = []
    for q in queries:
        start = time.perf_counter()
        func(q)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def search_scaling(sizes: list[int]) -> tuple[dict, dict]:
    from clipdesk.search.vector_index import VectorIndex

    rng = np.random.default_rng(0)
    queries = unit_rows(rng, 20)
    latency: dict[str, list[list[float]]] = {
        "ClipDesk VectorIndex (fp16)": [],
        "numpy fp32 peer": [],
    }
    memory: dict[str, list[list[float]]] = {
        "ClipDesk VectorIndex (fp16)": [],
        "numpy fp32 peer": [],
    }
    print(f"search, top-{K} of {DIM}-d vectors (median ms of {len(queries)} queries)")
    print(
        f"{'photos':>10s} {'ClipDesk':>10s} {'peer':>10s} {'ratio':>7s} {'MB ours':>9s} {'MB peer':>9s}"
    )
    for n in sizes:
        matrix = unit_rows(rng, n)
        index = VectorIndex(DIM, capacity=n)
        index.add(np.arange(n), matrix)

        def peer(q: np.ndarray, matrix: np.ndarray = matrix) -> np.ndarray:
            scores = matrix @ q
            top = np.argpartition(-scores, min(K, len(scores) - 1))[:K]
            return top[np.argsort(-scores[top])]

        ours_ms = median_ms(lambda q, index=index: index.search(q, K), queries)
        peer_ms = median_ms(peer, queries)
        ours_mb, peer_mb = index.nbytes / 1e6, matrix.nbytes / 1e6
        print(
            f"{n:>10,d} {ours_ms:>9.2f}  {peer_ms:>9.2f}  {ours_ms / peer_ms:>6.2f}x "
            f"{ours_mb:>9.1f} {peer_mb:>9.1f}"
        )
        latency["ClipDesk VectorIndex (fp16)"].append([n, ours_ms])
        latency["numpy fp32 peer"].append([n, peer_ms])
        memory["ClipDesk VectorIndex (fp16)"].append([n, ours_mb])
        memory["numpy fp32 peer"].append([n, peer_mb])
        del matrix, index
    return latency, memory


def make_photos(folder: Path, n: int, rng: np.random.Generator) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    base = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    for i in range(n):
        # Different pixels per file, so content hashes differ and every photo is embedded.
        pixels = np.roll(base, i * 7, axis=1) // 2 + np.uint8(i % 128)
        Image.fromarray(pixels).save(folder / f"photo_{i:05d}.jpg", quality=88)


def indexing_rates(model_path: str, counts: list[int]) -> dict:
    import torch
    from PIL import Image

    from clipdesk.model import load_model
    from clipdesk.services.app import ClipDeskServices

    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = load_model(model_path, device="cpu")
    rng = np.random.default_rng(1)
    rates: dict[str, list[list[float]]] = {"ClipDesk scan + index": [], "decode + encode peer": []}
    print(f"\nindexing rate with {model.name} on cpu (photos/s, 640x480 JPEGs)")
    print(f"{'photos':>10s} {'ClipDesk':>10s} {'peer':>10s} {'ratio':>7s}")
    for n in counts:
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch) / "photos"
            make_photos(folder, n, rng)
            start = time.perf_counter()
            with ClipDeskServices(Path(scratch) / "library.sqlite3", model=model) as services:
                services.folders.add(folder)
                report = services.index()
            ours = report.embedded / (time.perf_counter() - start)

            files = sorted(folder.glob("*.jpg"))
            start = time.perf_counter()
            for i in range(0, len(files), 32):
                images = [Image.open(p).convert("RGB") for p in files[i : i + 32]]
                model.encode_images(images)
            peer = len(files) / (time.perf_counter() - start)
        print(f"{n:>10,d} {ours:>10.1f} {peer:>10.1f} {ours / peer:>6.2f}x")
        rates["ClipDesk scan + index"].append([n, ours])
        rates["decode + encode peer"].append([n, peer])
    return rates


def default_model() -> str:
    demo = ROOT / "models" / "clipdesk-mini"
    if (demo / "config.json").is_file():
        return str(demo)
    from clipdesk.model.testing import tiny_random_model

    return str(tiny_random_model(tempfile.mkdtemp(prefix="scale-bench-")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--max",
        type=int,
        default=100_000 if quick() else 1_000_000,
        help="largest library size for the search figures",
    )
    parser.add_argument(
        "--photos",
        type=int,
        nargs="*",
        default=[50, 100] if quick() else [100, 200, 400],
        help="folder sizes for the indexing rate",
    )
    parser.add_argument("--model", help="model folder (default: the demo model, else tiny random)")
    args = parser.parse_args()

    sizes = [n for n in (1_000, 10_000, 100_000, 300_000, 1_000_000) if n <= args.max]
    latency, memory = search_scaling(sizes)
    series = [
        {
            "title": "Search latency vs library size",
            "x_label": "photos in the library",
            "y_label": "ms per top-50 query (median)",
            "log_x": True,
            "log_y": True,
            "lines": latency,
        },
        {
            "title": "Index memory vs library size",
            "x_label": "photos in the library",
            "y_label": "MB of vectors",
            "log_x": True,
            "log_y": True,
            "lines": memory,
        },
    ]
    largest = sizes[-1]
    metrics = {
        f"search ms at {largest:,} photos (ClipDesk)": latency["ClipDesk VectorIndex (fp16)"][-1][
            1
        ],
        f"search ms at {largest:,} photos (peer)": latency["numpy fp32 peer"][-1][1],
    }
    if args.photos:
        rates = indexing_rates(args.model or default_model(), args.photos)
        series.append(
            {
                "title": "Indexing rate",
                "x_label": "photos in the folder",
                "y_label": "photos per second",
                "lines": rates,
            }
        )
        metrics["indexing photos/s (ClipDesk, largest folder)"] = rates["ClipDesk scan + index"][
            -1
        ][1]
        metrics["indexing photos/s (peer, largest folder)"] = rates["decode + encode peer"][-1][1]
    record(metrics=metrics, series=series)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
