"""The search page reads only the rows its grid shows: a search over a few thousand photos ranks
them all, reads about a screenful of rows, reads more as the grid scrolls, and shows the right
photos in the order the services rank them (the CLI's ``-k`` rows are the grid's first rows)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from clipdesk.library.records import FileFacts, PhotoMeta
from clipdesk.library.store import Library
from clipdesk.services.search import PhotoSearch, taken_timestamp
from clipdesk.ui.photo_rows import PAGE

pytestmark = pytest.mark.usefixtures("no_leaks")

N = 3000


def _library(path: Path, model, photos: Path) -> list[Path]:
    """N photos with random unit vectors for ``model``, written through the library's API (the
    files are never read: the page is driven without the index job). Vectors are rounded so that
    many photos tie on score, and dates collide, to pin the tie orders down."""
    rng = np.random.default_rng(7)
    paths = [photos / f"{i % 7}" / f"IMG_{i:05d}.jpg" for i in range(N)]
    with Library(path) as lib:
        folder = lib.add_folder(photos)
        days = rng.integers(0, 400, N)
        facts = [
            FileFacts(
                path=p,
                size=1000 + i,
                mtime_ns=int(1.6e18) + int(day) * 86_400_000_000_000,
                kind="jpeg",
                content_hash=f"{i:032x}",
                meta=PhotoMeta(
                    taken_at=(dt.datetime(2022, 1, 1) + dt.timedelta(days=int(day))).isoformat()
                    if i % 2
                    else None
                ),
            )
            for i, (p, day) in enumerate(zip(paths, days, strict=True))
        ]
        ids = [pid for pid, _ in lib.add_or_update_photos(folder.id, facts)]
        vectors = rng.integers(-2, 3, (N, model.dim)).astype(np.float32)
        vectors[~vectors.any(axis=1), 0] = 1.0
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        lib.store_embeddings(model.id, ids, vectors)
    return paths


@pytest.fixture
def paged(qtbot, tmp_path, tiny_model, workers):
    """(page, backend, reads): the app's search page over an N-photo library, and the number of
    rows each library read of photo rows asked for."""
    from clipdesk.model import load_model
    from clipdesk.services.app import ClipDeskServices
    from clipdesk.ui.backend import Backend
    from clipdesk.ui.controller import AppController
    from clipdesk.ui.search_page import SearchPage
    from clipdesk.ui.settings import AppSettings

    model = load_model(str(tiny_model), device="cpu")
    _library(tmp_path / "lib.sqlite3", model, tmp_path / "photos")
    controller = AppController(AppSettings(tmp_path / "ui.ini"), workers)
    backend = Backend(ClipDeskServices(tmp_path / "lib.sqlite3", model=model, device="cpu"))
    controller.backend = backend
    controller.model = backend.load_model()
    reads: list[int] = []
    library = backend.services.library
    photos = library.photos

    def counted(**kwargs):
        reads.append(len(kwargs["ids"]) if kwargs.get("ids") is not None else -1)
        return photos(**kwargs)

    library.photos = counted  # type: ignore[method-assign]
    page = SearchPage(controller)
    qtbot.addWidget(page)
    page.resize(1000, 700)
    page.show()
    qtbot.waitExposed(page)
    yield page, backend, reads
    page.close()
    workers.shutdown()
    backend.close()


def _search(qtbot, page, text: str) -> None:
    with qtbot.waitSignal(page.resultsShown, timeout=30_000):
        page.box.set_text(text)


def _uncounted(reads: list[int], fn):
    """``fn()`` without its library reads counted (the test's own look at the answer)."""
    before = len(reads)
    try:
        return fn()
    finally:
        del reads[before:]


def test_a_search_reads_a_screenful_of_rows_and_scrolling_reads_more(qtbot, paged):
    page, backend, reads = paged
    grid = page.grid
    _search(qtbot, page, "a red car")
    screen = max(PAGE, grid.screenful())
    assert reads == [screen] and screen < N / 10, reads  # one read: the first screen's rows
    assert grid.photos.rowCount() == N and page.summary.text().startswith(f"{N:,} matches")
    # the services' own ranking, rows and all, as the CLI asks for it
    every = _uncounted(reads, lambda: backend.services.search("a red car", k=N))
    rows = grid.photos.items()
    assert rows.ids.tolist() == [r.photo_id for r in every]
    first = [grid.photos.item(r) for r in range(screen)]
    assert [i.path for i in first] == [str(r.photo.path) for r in every[:screen]]
    assert [i.score for i in first] == pytest.approx([r.score for r in every[:screen]])
    assert len(reads) == 1  # rows already read are not read again

    def at_the_bottom() -> bool:
        # again until the batched layout has reached the last row and it is painted
        grid.scrollTo(grid.photos.index(N - 1, 0))
        return rows.loaded(N - 1) is not None

    qtbot.waitUntil(at_the_bottom, timeout=10_000)
    assert 1 < len(reads) <= 3 and sum(reads[1:]) <= 2 * screen, reads  # the bottom's page
    assert all(rows.loaded(r) is None for r in range(screen, N - 2 * screen))  # not the middle
    bottom = [r for r in range(N) if rows.loaded(r) is not None][screen:]
    assert [rows.loaded(r).path for r in bottom] == [str(every[r].photo.path) for r in bottom]
    qtbot.waitUntil(lambda: page.controller.workers.pending == 0, timeout=10_000)


def test_the_grid_orders_by_date_and_browses_as_the_old_full_rows_did(qtbot, paged):
    page, backend, reads = paged
    services = backend.services
    page.sort.setCurrentIndex(page.sort.findData("newest"))
    _search(qtbot, page, "a blue star")
    rows = page.grid.photos.items()
    assert rows.ids.tolist() == _uncounted(reads, lambda: _newest_matches(services, "a blue star"))
    assert len(reads) == 1

    reads.clear()
    _search(qtbot, page, "")  # the box cleared: the library browsed, newest first
    assert page.grid.photos.rowCount() == N and page.summary.text() == f"{N:,} photos"
    assert reads == [max(PAGE, page.grid.screenful())]
    by_path = _uncounted(reads, lambda: services.library.photos(statuses=["ok"]))
    by_path.sort(key=taken_timestamp, reverse=True)  # stable: the same date stays by path
    assert page.grid.photos.items().ids.tolist() == [p.id for p in by_path]
    assert len({taken_timestamp(p) for p in by_path}) < N  # dates tie: the tie order is tested

    # the CLI's -k rows: the grid's first rows, ties at the cut included
    k = 25
    cli = services.find(PhotoSearch(text="a blue star", limit=k))
    ranked = services.rank(PhotoSearch(text="a blue star", limit=N))
    assert [f.photo.id for f in cli] == ranked.ids[:k].tolist()


def _newest_matches(services, text: str) -> list[int]:
    """What the search box showed before it read rows by page: every match with its row, best
    first, then sorted by date (stable: the same date stays in score order)."""
    found = [r.photo for r in services.search(text, k=N)]
    found.sort(key=taken_timestamp, reverse=True)
    return [p.id for p in found]


def test_stepping_through_photos_reads_the_next_page_when_it_gets_there(qtbot, paged):
    from clipdesk.ui.photo_view import PhotoView

    page, backend, reads = paged
    _search(qtbot, page, "mountains")
    rows = page.grid.photos.items()
    screen = max(PAGE, page.grid.screenful())
    assert rows.loaded(screen) is None
    view = PhotoView(page.controller, rows[screen - 1], page, siblings=rows)
    qtbot.addWidget(view)
    before = len(reads)
    view.step(1)
    assert view.item.id == int(rows.ids[screen]) and view.item.path
    # the one page it stepped onto (besides the view's own read of the photo's details)
    assert [n for n in reads[before:] if n != 1] == [screen]
    view.step(-1)
    assert view.item.id == int(rows.ids[screen - 1])
    assert [n for n in reads[before:] if n != 1] == [screen]
    qtbot.waitUntil(lambda: page.controller.workers.pending == 0, timeout=10_000)
    view.close()
