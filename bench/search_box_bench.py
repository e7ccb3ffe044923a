"""The search box at 100,000 photos: keystroke to a filled grid model, the text encoder excluded.

    python3 bench/search_box_bench.py                  # 100,000 photos (the real run)
    python3 bench/search_box_bench.py --photos 5000 --queries 6    # run_all --quick

A library of random unit vectors of the demo model's width, written through the library's own
API in batches and kept in the temp folder for the next run, behind the app's real search page
(offscreen): each query goes in as a keystroke does once typing pauses (``SearchBox.set_text``),
through the model pool, ranking and the rows of the first screen, until the grid's model holds
the answer (``resultsShown``). Every phrase is embedded once before the timed rounds, so the
query encoder's cache answers: the time is everything but the text encoder.

Beside it, in the same run and the same window, the path before issue #15: every match's full
row read from the library (``SearchRequest.limit`` = 100,000), one grid item per match, then the
whole list set on the model. Three cases: a phrase ranked best first, a phrase with the newest
first, and the box cleared (the library browsed, newest first). Ratios matter more than the
milliseconds: the machines are shared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _report import quick, record  # noqa: E402

import clipdesk.ui  # noqa: E402, F401  (PySide6 6.12 on Python 3.11, see pyside_compat)

DEMO_MODEL = ROOT / "models" / "clipdesk-mini"
QUERIES = (
    "a red car",
    "kids on a beach at sunset",
    "a dog in the snow",
    "mountains under clouds",
    "a birthday cake with candles",
    "the city at night",
    "a cat asleep on a sofa",
    "yellow flowers",
    "a sailing boat",
    "people dancing at a wedding",
    "a green field with cows",
    "an old castle",
)
BATCH = 5000  # photos per transaction while the library is built
LAYOUT = "v1"  # bump when the synthetic library changes shape


def library_for(n: int, model, cache: Path) -> Path:
    """A library of ``n`` photos with vectors for ``model``, built once and kept in ``cache``."""
    from clipdesk.library.records import FileFacts, PhotoMeta
    from clipdesk.library.store import Library

    path = cache / f"search-box-{LAYOUT}-{n}-{model.id.replace(':', '_')[:40]}.sqlite3"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    building = path.with_suffix(".building")
    for leftover in cache.glob(building.name + "*"):
        leftover.unlink()
    rng = np.random.default_rng(15)
    photos = cache / "photos"  # never scanned: the page is driven without the index job
    photos.mkdir(exist_ok=True)
    start = time.perf_counter()
    runtime = getattr(model, "runtime_label", None)
    extra = {"runtime": runtime} if runtime else {}
    with Library(building) as lib:
        folder = lib.add_folder(photos)
        for first in range(0, n, BATCH):
            count = min(BATCH, n - first)
            taken = rng.integers(1_420_000_000, 1_720_000_000, count)  # 2015 .. 2024
            facts = []
            for i, seconds in zip(range(first, first + count), taken.tolist(), strict=True):
                # Two photos in three carry an EXIF date, the rest are dated by their mtime.
                exif = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(seconds))
                facts.append(
                    FileFacts(
                        path=photos / f"{i // 1000:04d}" / f"IMG_{i:07d}.jpg",
                        size=200_000 + i,
                        mtime_ns=(int(seconds) + 3600) * 1_000_000_000,
                        kind="jpeg",
                        content_hash=f"{i:032x}",
                        meta=PhotoMeta(4000, 3000, exif if i % 3 else None),
                    )
                )
            ids = [pid for pid, _ in lib.add_or_update_photos(folder.id, facts)]
            vectors = rng.standard_normal((count, model.dim), dtype=np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            lib.store_embeddings(model.id, ids, vectors, **extra)
    for suffix in ("-wal", "-shm"):
        Path(str(building) + suffix).unlink(missing_ok=True)
    building.rename(path)
    print(f"built {path.name}: {n:,} photos in {time.perf_counter() - start:.0f} s")
    return path


def old_answer(backend, req) -> list:
    """The search box's path before issue #15 (ui.backend.Backend.search over services.find):
    every match's full row read, up to the request's limit of 100,000, one PhotoItem each."""
    from clipdesk.services.search import PhotoSearch, filters_of, query_of, taken_timestamp
    from clipdesk.ui.rows import photo_item

    app = backend.services
    request = PhotoSearch(
        text=req.text, min_score=req.min_score or None, sort=req.sort, limit=req.limit
    )
    filters = filters_of(app, request)
    if request.needs_model:
        results = app.search(query_of(request), k=request.limit, filters=filters)
        found = [(r.photo, r.score) for r in results if r.photo is not None]
        if request.sort == "relevance":
            return [photo_item(p, s) for p, s in found]
    else:
        photos = app.library.photos(
            statuses=list(filters.statuses), taken_from=filters.date_from, taken_to=filters.date_to
        )
        found = [(p, None) for p in photos]
    found.sort(key=lambda f: taken_timestamp(f[0]), reverse=request.sort != "oldest")
    return [photo_item(p, s) for p, s in found[: request.limit]]


def breakdown(backend, page_rows: int) -> tuple[float, float]:
    """Median ms of the new path's two library-side steps, off the event loop: ranking every
    match, and reading the first screen's rows."""
    from clipdesk.services.search import PhotoSearch
    from clipdesk.ui.rows import RESULT_LIMIT

    ranked, rows = [], []
    for text in QUERIES:
        start = time.perf_counter()
        ranking = backend.services.rank(PhotoSearch(text=text, limit=RESULT_LIMIT))
        middle = time.perf_counter()
        backend.photo_items(ranking.ids[:page_rows], ranking.scores[:page_rows])
        ranked.append(middle - start)
        rows.append(time.perf_counter() - middle)
    return statistics.median(ranked) * 1000, statistics.median(rows) * 1000


def wait_for(signal, action: Callable[[], None], timeout_s: float = 120.0) -> float:
    """Seconds from ``action()`` until ``signal`` fires (the event loop runs meanwhile)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    fired: list[bool] = []

    def done(*_args: object) -> None:
        fired.append(True)
        loop.quit()

    limit = QTimer()
    limit.setSingleShot(True)
    limit.timeout.connect(loop.quit)
    signal.connect(done)
    limit.start(int(timeout_s * 1000))
    start = time.perf_counter()
    action()
    if not fired:
        loop.exec()
    elapsed = time.perf_counter() - start
    limit.stop()
    signal.disconnect(done)
    if not fired:
        raise SystemExit(f"no answer within {timeout_s:.0f} s")
    return elapsed


def settle(qt, workers, grid, limit_s: float = 10.0) -> None:
    """Let the last answer lay out and paint and its background work (thumbnails) finish, with
    the repaints that work asked for: keystrokes come at least a debounce apart, so each timed
    one starts from a quiet window."""
    end = time.perf_counter() + limit_s
    bar, previous, quiet = grid.verticalScrollBar(), -1, 0
    while time.perf_counter() < end and quiet < 3:
        qt.processEvents()
        qt.sendPostedEvents()
        busy = workers.pending or bar.maximum() != previous  # a batched layout still growing
        previous = bar.maximum()
        quiet = 0 if busy else quiet + 1
        time.sleep(0.002)


def percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in seconds)
    return statistics.median(ms), ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=5000 if quick() else 100_000)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of the new path")
    parser.add_argument("--old-rounds", type=int, default=1, help="timed rounds of the old path")
    parser.add_argument(
        "--queries", type=int, default=len(QUERIES), help="how many of the phrases to time"
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "clipdesk-bench",
        help="where the synthetic library is kept between runs",
    )
    args = parser.parse_args()
    if "CLIPDESK_HOME" not in os.environ:  # never the user's settings or library
        os.environ["CLIPDESK_HOME"] = tempfile.mkdtemp(prefix="clipdesk-search-box-")

    from PySide6.QtWidgets import QApplication

    from clipdesk.model import load_model
    from clipdesk.search.query import Query
    from clipdesk.services.app import ClipDeskServices
    from clipdesk.ui.backend import Backend
    from clipdesk.ui.controller import AppController
    from clipdesk.ui.photo_rows import PAGE
    from clipdesk.ui.search_page import SearchPage
    from clipdesk.ui.settings import AppSettings
    from clipdesk.ui.workers import Workers

    qt = QApplication(sys.argv)
    model = load_model(str(DEMO_MODEL), device="cpu")
    library = library_for(args.photos, model, args.cache)

    home = Path(os.environ["CLIPDESK_HOME"])
    workers = Workers(thumb_threads=2)
    controller = AppController(AppSettings(home / "ui.ini"), workers)
    backend = Backend(ClipDeskServices(library, model=model, device="cpu"))
    controller.backend = backend  # no index job: the photos are not on disk to be scanned
    controller.model = backend.load_model()
    page = SearchPage(controller)
    page.resize(1280, 800)
    page.show()
    grid = page.grid
    for text in QUERIES:  # vectors cached and the index loaded: no encoder in the timings
        backend.services.query_vector(Query.parse(text))
    wait_for(page.resultsShown, lambda: page.box.set_text(QUERIES[0]))
    first_rows = max(PAGE, grid.screenful())  # what the page reads with each answer
    rank_ms, rows_ms = breakdown(backend, first_rows)

    reads: list[int] = []
    read_rows = backend.photo_items

    def counted(ids, *rest, **why):  # scores; matches: why each matched; focus: the tag filter
        reads.append(len(ids))
        return read_rows(ids, *rest, **why)

    backend.photo_items = counted  # type: ignore[method-assign]

    def old_path(text: str) -> None:
        req = replace(page.request(), text=text)

        def show(items: list) -> None:
            grid.photos.set_items(items)
            page.resultsShown.emit(len(items))

        workers.run(workers.model, lambda _t: old_answer(backend, req), show)

    print(
        f"search box, {args.photos:,} photos x {model.dim} dims ({model.name}): keystroke to "
        f"filled grid model, text vectors cached (ms; {min(len(QUERIES), args.queries)} queries, "
        f"{args.rounds} rounds new, {args.old_rounds} old)"
    )
    print(
        f"{'':24s} {'new p50':>8s} {'new p95':>8s} {'old p50':>8s} {'old p95':>8s} {'old/new':>8s}"
    )
    metrics: dict[str, float | str] = {"photos": args.photos}
    sort_row = {page.sort.itemData(i): i for i in range(page.sort.count())}
    phrases = QUERIES[: max(1, args.queries)]
    cases = (
        ("phrase, best match", "relevance", phrases),
        ("phrase, newest first", "newest", phrases),
        ("box cleared (browse)", "relevance", ("",) * len(phrases)),
    )
    for name, sort, texts in cases:
        page.sort.blockSignals(True)  # the order changes quietly: the next query runs with it
        page.sort.setCurrentIndex(sort_row[sort])
        page.sort.blockSignals(False)
        new = []
        for _ in range(args.rounds):
            for text in texts:
                settle(qt, workers, grid)
                new.append(wait_for(page.resultsShown, lambda t=text: page.box.set_text(t)))
        shown = grid.photos.rowCount()
        assert shown == args.photos, f"the grid holds {shown:,} rows, not every photo"
        old = []
        for _ in range(args.old_rounds):
            for text in texts:
                settle(qt, workers, grid)
                old.append(wait_for(page.resultsShown, lambda t=text: old_path(t)))
        (n50, n95) = percentiles(new)
        key = name.split(" (")[0].replace(",", "")
        metrics.update({f"{key}: new p50 ms": n50, f"{key}: new p95 ms": n95})
        if not old:  # --old-rounds 0
            print(f"{name:24s} {n50:8.1f} {n95:8.1f} {'-':>8s} {'-':>8s} {'-':>8s}")
            continue
        (o50, o95) = percentiles(old)
        print(f"{name:24s} {n50:8.1f} {n95:8.1f} {o50:8.0f} {o95:8.0f} {o50 / n50:7.0f}x")
        metrics.update({f"{key}: old p50 ms": o50, f"{key}: old p95 ms": o95})
    print(
        f"new path, phrase best match, off the event loop: ranking {rank_ms:.1f} ms, "
        f"first screen's rows ({first_rows}) {rows_ms:.1f} ms"
    )
    print(
        f"rows read per search: at most {max(reads):,} (the first screen); the old path read "
        f"every match's ({args.photos:,}); the grid's row count is every match either way"
    )
    metrics.update({"ranking ms": rank_ms, "first screen rows ms": rows_ms})
    metrics["rows read per search (new)"] = max(reads)
    record(metrics=metrics)
    page.close()
    workers.shutdown()
    backend.close()
    del qt


if __name__ == "__main__":
    main()
