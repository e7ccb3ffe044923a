"""Recompute time of zero-shot tags: 100k photos x 50 labels on CPU, beside plain numpy.

    python3 bench/tag_bench.py                  # 100k x 50, d=512, all cores
    python3 bench/tag_bench.py --threads 1      # one BLAS thread
    python3 bench/tag_bench.py --photos 20000 --no-library

Printed side by side, best of ``--repeat`` runs:

- numpy reference: ``X @ W.T`` alone, the same product written plainly;
- numpy reference + softmax: the reference with a textbook softmax and argmax;
- ClipDesk scoring: :func:`clipdesk.tags.zero_shot.propose` (product, temperature, softmax or
  sigmoid, user decisions, thresholds, review candidates), single and multi mode;
- full recompute through a real library (unless ``--no-library``): load the vectors from SQLite,
  score, and rewrite the model's tags in one transaction (goal: < 1 s for the scoring; the SQLite
  part is reported on its own line);
- the Tags page's label preview (top 50 photos of one label) the old way, reading every vector
  from the library file, beside the new way, over the search index already in memory.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--photos", type=int, default=100_000)
    p.add_argument("--labels", type=int, default=50)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--threads", type=int, default=None, help="BLAS threads (default: all)")
    p.add_argument("--no-library", action="store_true", help="skip the SQLite recompute")
    return p.parse_args()


ARGS = parse_args()
if ARGS.threads:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402  (after the thread settings)

from clipdesk.tags.categories import Category, Mode  # noqa: E402
from clipdesk.tags.zero_shot import Classifier, Decisions, propose  # noqa: E402


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def classifier(mode: Mode, w: np.ndarray, n_labels: int) -> Classifier:
    cat = Category("Bench", tuple(f"label {i}" for i in range(n_labels)), mode, 0.5)
    if mode is Mode.MULTI:
        w = np.vstack([w, w.mean(axis=0, keepdims=True)])
    return Classifier(cat, "bench@0", w, 100.0, np.full(n_labels, 0.5, np.float32))


class FixedModel:
    """A text model returning the bench's label vectors (so no text encoder runs)."""

    def __init__(self, weights: np.ndarray) -> None:
        self.id, self.logit_scale, self._w = "bench@0", 100.0, weights

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        rows = [
            int(t.split("label ")[1].split(maxsplit=1)[0].rstrip(".,")) % len(self._w)
            if "label " in t
            else 0
            for t in texts
        ]
        return self._w[rows]


def library_recompute(x: np.ndarray, w: np.ndarray, n_labels: int) -> dict[str, float]:
    from clipdesk.library.records import FileFacts
    from clipdesk.library.store import Library
    from clipdesk.tags.store.tag_store import TagStore
    from clipdesk.tags.tagger import Tagger

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CLIPDESK_HOME"] = tmp
        folder = Path(tmp) / "photos"
        folder.mkdir()
        with Library(Path(tmp) / "lib.sqlite3") as lib:
            t0 = time.perf_counter()
            f = lib.add_folder(folder)
            facts = [
                FileFacts(folder / f"{i:07d}.jpg", 1000, 1, "jpeg", f"{i:x}") for i in range(len(x))
            ]
            ids = [pid for pid, _ in lib.add_or_update_photos(f.id, facts)]
            lib.store_embeddings("bench@0", ids, x)
            build = time.perf_counter() - t0
            store = TagStore(lib, install_starters=False)
            cat = Category(
                "Bench",
                tuple(f"label {i}" for i in range(n_labels)),
                Mode.SINGLE,
                0.5,
                templates=("a photo of a {label}.",),
            )
            store.add_category(cat)
            tagger = Tagger(lib, FixedModel(w), store)
            tagger.classifier(store.category("Bench"))  # text vectors cached, as in the app
            # a few hundred user decisions, as a real library would have
            store.set_decision(ids[::500], "Bench", "label 3", "confirmed")
            times = {}
            t0 = time.perf_counter()
            vids, vecs = lib.load_vectors("bench@0")
            times["load vectors from SQLite"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            tagger._recompute([store.category("Bench")], vids, vecs, True, None, None)
            times["score + write tags (one transaction)"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            tagger.recompute()
            times["full recompute (load + score + write)"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            tagger.recompute(vectors=(vids, vecs))
            times["recompute, vectors from memory (score+write)"] = time.perf_counter() - t0
            times.update(label_preview(lib, tagger.classifier(store.category("Bench")), w.shape[1]))
            times["(building the bench library)"] = build
            n_rows = lib._query("SELECT count(*) FROM photo_tags")[0][0]
            times["tag rows written"] = float(n_rows)
    return times


def label_preview(lib: Any, clf: Classifier, dim: int) -> dict[str, float]:
    """The Tags page's top photos for one label, as it was (every vector read from the library
    file) and as it is (the search index the app already holds in memory, float16)."""
    from clipdesk.search.searcher import Searcher

    searcher = Searcher(lib, "bench@0", dim, dtype="float16")
    searcher.load()

    def from_file() -> np.ndarray:
        ids, vecs = lib.load_vectors("bench@0")
        return ids[np.argsort(-clf.scores(vecs)[:, 3], kind="stable")[:50]]

    def from_index() -> np.ndarray:
        ids, sims = searcher.similarities(clf.weights)
        return ids[np.argsort(-clf.scores_from_similarities(sims)[:, 3], kind="stable")[:50]]

    same = len(set(from_file().tolist()) & set(from_index().tolist())) / 50
    n = len(searcher)
    return {
        "label preview, vectors read from SQLite (before)": best_of(from_file, 3),
        "label preview, search index in memory (now)": best_of(from_index, 3),
        "label preview: top 50 in common (share)": same,
        # what each way allocates per preview: every vector, or one score per photo and row
        "label preview, MB allocated (before)": n * dim * 4 / 1e6,
        "label preview, MB allocated (now)": n * len(clf.weights) * 4 / 1e6,
    }


def main() -> None:
    n, k, d = ARGS.photos, ARGS.labels, ARGS.dim
    rng = np.random.default_rng(0)
    x = unit(rng, n, d)
    w = unit(rng, k, d)
    rows = {}

    rows["numpy reference: X @ W.T"] = best_of(lambda: x @ w.T, ARGS.repeat)

    def numpy_softmax():
        z = 100.0 * (x @ w.T)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        return p.argmax(axis=1)

    rows["numpy reference + softmax + argmax"] = best_of(numpy_softmax, ARGS.repeat)
    single = classifier(Mode.SINGLE, w, k)
    multi = classifier(Mode.MULTI, w, k)
    dec_rows = np.arange(0, n, 500)
    decisions = Decisions(dec_rows, np.full(len(dec_rows), 3), np.ones(len(dec_rows), bool))
    rows["ClipDesk scoring, single choice"] = best_of(
        lambda: propose(single, x, decisions), ARGS.repeat
    )
    rows["ClipDesk scoring, multi-label"] = best_of(
        lambda: propose(multi, x, decisions), ARGS.repeat
    )

    ref = rows["numpy reference: X @ W.T"]
    threads = ARGS.threads or os.cpu_count()
    print(
        f"tag recompute: {n:,} photos x {k} labels, d={d}, float32, {threads} thread(s), "
        f"best of {ARGS.repeat}"
    )
    print(f"{'':44s} {'seconds':>9s} {'x numpy':>8s}")
    for name, t in rows.items():
        print(f"{name:44s} {t:9.3f} {t / ref:8.2f}")
    if not ARGS.no_library:
        print(f"through a library (SQLite, {n:,} photos):")
        for name, t in library_recompute(x, w, k).items():
            shown = (
                f"{int(t):9d}"
                if name == "tag rows written"
                else f"{t:9.2f}"
                if "share" in name
                else f"{t:9.1f}"
                if "MB" in name
                else f"{t:9.3f}"
            )
            print(f"  {name:50s} {shown}")
    goal = rows["ClipDesk scoring, single choice"]
    print(
        f"goal < 1 s for scoring {n:,} x {k}: {'met' if goal < 1.0 else 'NOT met'} ({goal:.3f} s)"
    )
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _report import record

    record(
        metrics={
            f"tag scoring {n} x {k} single (s)": round(goal, 4),
            f"tag scoring {n} x {k} multi (s)": round(rows["ClipDesk scoring, multi-label"], 4),
            f"numpy X @ W.T {n} x {k} (s)": round(ref, 4),
            "tag scoring / numpy product": round(goal / ref, 2),
        }
    )


if __name__ == "__main__":
    main()
