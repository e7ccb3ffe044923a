"""Search in the window: typed phrases, dropped images, "more like this", sort and score cut-off."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QUrl

from clipdesk.ui.photo_model import Role
from clipdesk.ui.search_page import SLIDER_SCALE
from tests.ui.conftest import add_and_index

pytestmark = pytest.mark.usefixtures("no_leaks")


def _indexed(qtbot, make_app, model, folder):
    controller, window = make_app(model)
    add_and_index(qtbot, controller, folder)
    return controller, window


def _grid_paths(window) -> list[str]:
    model = window.search.grid.photos
    return [model.index(r, 0).data(Role.Path) for r in range(model.rowCount())]


def test_typing_a_phrase_fills_the_grid_with_the_right_photos(
    qtbot, make_app, demo_model, colour_photos
):
    root, paths = colour_photos
    controller, window = _indexed(qtbot, make_app, demo_model, root)
    window.focus_search()
    with qtbot.waitSignal(window.search.resultsShown, timeout=30_000):
        qtbot.keyClicks(window.search.box.line, "a red shape")
    top = [os.path.basename(p) for p in _grid_paths(window)[:6]]
    assert len(_grid_paths(window)) == len(paths)
    assert sum(name.startswith("red-") for name in top) >= 5, top
    with qtbot.waitSignal(window.search.resultsShown, timeout=30_000):
        window.search.box.set_text("a blue star")
    assert os.path.basename(_grid_paths(window)[0]).startswith("blue-")


def test_drop_of_a_file_url_on_the_window_runs_an_image_query(
    qtbot, make_app, tiny_model, synth_photos, drop
):
    root, photos = synth_photos
    controller, window = _indexed(qtbot, make_app, tiny_model, root)
    query = str(photos[5].path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(query)])
    with qtbot.waitSignal(window.search.resultsShown, timeout=30_000):
        assert drop(window, mime)
    assert window.search.box.image().path == query
    # the photo itself is its own best match, whatever the model
    assert _grid_paths(window)[0] == query
    scores = [window.search.grid.photos.item(r).score for r in range(3)]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0.99


def test_a_dropped_file_named_like_a_more_like_this_chip_is_searched_as_an_image(
    qtbot, make_app, tiny_model, synth_photos, tmp_path, drop
):
    import shutil

    root, photos = synth_photos
    controller, window = _indexed(qtbot, make_app, tiny_model, root)
    grid = window.search.grid
    qtbot.waitUntil(lambda: grid.photos.rowCount() == len(photos), timeout=30_000)
    with qtbot.waitSignal(window.search.resultsShown, timeout=30_000):
        window.search.more_like_this(grid.photos.item(3))
    liked = window.search.box.image()
    assert (
        liked.label.startswith("like ") and window.search.request().like_photo_id == liked.photo_id
    )

    # a file that is not in the library, whose name reads like the chip of "More like this"
    dropped = tmp_path / "like me.jpg"
    shutil.copyfile(photos[5].path, dropped)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(dropped))])
    with qtbot.waitSignal(window.search.resultsShown, timeout=30_000):
        assert drop(window, mime)
    request = window.search.request()
    assert request.like_photo_id is None and request.image.path == str(dropped)
    # the dropped file is the query: the library's copy of it is its best match
    assert _grid_paths(window)[0] == str(photos[5].path)
    assert grid.photos.item(0).score > 0.99


def test_more_like_this_sort_and_min_score(qtbot, make_app, tiny_model, synth_photos):
    root, photos = synth_photos
    controller, window = _indexed(qtbot, make_app, tiny_model, root)
    grid = window.search.grid
    qtbot.waitUntil(lambda: grid.photos.rowCount() == len(photos), timeout=30_000)
    item = grid.photos.item(3)
    with qtbot.waitSignal(window.search.resultsShown, timeout=30_000):
        grid.moreLikeThis.emit(item)
    similar = [grid.photos.item(r) for r in range(grid.photos.rowCount())]
    assert len(similar) == len(photos) - 1 and item.id not in {i.id for i in similar}
    assert [i.score for i in similar] == sorted((i.score for i in similar), reverse=True)
    assert window.search.box.image().label == f"like {item.name}"

    with qtbot.waitSignal(window.search.resultsShown, timeout=30_000):
        window.search.sort.setCurrentIndex(window.search.sort.findData("newest"))
    dates = [grid.photos.item(r).taken_at for r in range(grid.photos.rowCount())]
    assert dates == sorted(dates, reverse=True)

    every = grid.photos.rowCount()
    median = sorted(i.score for i in similar)[len(similar) // 2]
    slider = window.search.min_score
    with qtbot.waitSignal(window.search.resultsShown, timeout=30_000):
        slider.setValue(int(median * SLIDER_SCALE) + 1)
    cut = slider.value() / SLIDER_SCALE
    assert 0 < grid.photos.rowCount() < every
    assert all(grid.photos.item(r).score >= cut for r in range(grid.photos.rowCount()))


def _direct_search_paths(library: Path, model, text: str, limit: int, min_score: float):
    """What the services (the layer both faces call) return for ``text``, without the window."""
    from clipdesk.services.app import ClipDeskServices
    from clipdesk.services.records import SearchFilters

    with ClipDeskServices(library_path=library, model=str(model), device="cpu") as services:
        results = services.search(text, k=limit, filters=SearchFilters(min_score=min_score or None))
        return [str(r.photo.path) for r in results]


def test_stale_query_never_overwrites_a_newer_one(
    qtbot, make_app, tiny_model, synth_photos, tmp_path
):
    root, _photos = synth_photos
    library = tmp_path / "stale.sqlite3"
    controller, window = make_app(tiny_model, library=library)
    add_and_index(qtbot, controller, root)
    shown = []
    window.search.resultsShown.connect(shown.append)
    typed = ("r", "re", "red", "red s", "red star")
    for text in typed:
        window.search.box.set_text(text)
    qtbot.waitUntil(lambda: bool(shown) and controller.workers.pending == 0, timeout=30_000)
    assert len(shown) <= 2  # superseded queries were cancelled, not all delivered

    req = window.search.request()
    expected = {
        text: _direct_search_paths(library, tiny_model, text, req.limit, req.min_score)
        for text in typed
    }
    # The check below can only catch a stale result if the stale queries rank differently.
    assert any(expected[text] != expected["red star"] for text in typed[:-1])
    assert _grid_paths(window) == expected["red star"]


def test_folder_and_tag_filters(qtbot, make_app, tiny_model, synth_photos, tmp_path):
    import shutil

    root, photos = synth_photos
    other = tmp_path / "other"
    shutil.copytree(root, other)
    controller, window = _indexed(qtbot, make_app, tiny_model, root)
    add_and_index(qtbot, controller, str(other))
    page = window.search
    qtbot.waitUntil(
        lambda: str(other) in page.folder.paths() and page.tag.count() > 1, timeout=30_000
    )
    qtbot.waitUntil(lambda: page.grid.photos.rowCount() == 2 * len(photos), timeout=30_000)
    with qtbot.waitSignal(page.resultsShown, timeout=30_000):
        page.folder.select(page.folder.key_of(str(other)))
    assert page.grid.photos.rowCount() == len(photos)
    assert all(p.startswith(str(other)) for p in _grid_paths(window))

    page.box.set_text("a red star")
    qtbot.waitUntil(lambda: " matches" in page.summary.text(), timeout=30_000)
    assert all(p.startswith(str(other)) for p in _grid_paths(window))
    counts = []
    controller.call(lambda b, _t: b.services.tags.store.tag_counts(), counts.append)
    qtbot.waitUntil(lambda: bool(counts), timeout=10_000)
    category, label = next(key for key, n in counts[0].items() if n.get("suggested"))
    tagged = []
    controller.call(
        lambda b, _t: b.services.tags.allowed_ids([f"{category}|{label}"]), tagged.append
    )
    qtbot.waitUntil(lambda: bool(tagged), timeout=10_000)
    with qtbot.waitSignal(page.resultsShown, timeout=30_000):
        page.tag.setCurrentIndex(page.tag.findData([category, label]))
    shown = {page.grid.photos.item(r).id for r in range(page.grid.photos.rowCount())}
    assert shown and shown <= set(tagged[0].tolist())


def test_a_result_says_why_it_matched_in_its_tooltip_and_badge(
    qtbot, make_app, tiny_model, tmp_path
):
    from PIL import Image
    from PySide6.QtCore import Qt

    folder = tmp_path / "Trips"
    folder.mkdir()
    for i, name in enumerate(("astronaut", "beach", "city", "forest")):
        Image.new("RGB", (96, 64), (60 * i, 200 - 40 * i, 90)).save(folder / f"{name}.png")
    controller, window = _indexed(qtbot, make_app, tiny_model, folder)
    page = window.search
    with qtbot.waitSignal(page.resultsShown, timeout=30_000):
        page.box.set_text("astronaut")
    first = page.grid.photos.index(0, 0)
    assert os.path.basename(first.data(Role.Path)) == "astronaut.png"
    tip = first.data(Qt.ItemDataRole.ToolTipRole)
    assert "Matched by CLIP and file name" in tip and "“Trips/[astronaut].png”" in tip
    assert "Score: " in tip
    other = page.grid.photos.index(1, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert "Matched by CLIP\n" in other and "“" not in other
    page.grid.grab()  # paints the cells, the badge of the file-name hit among them

    with qtbot.waitSignal(page.resultsShown, timeout=30_000):
        page.box.set_text("text:astro")
    assert page.grid.photos.rowCount() == 1 and page.summary.text().startswith("1 match")
    only = page.grid.photos.index(0, 0)
    assert only.data(Role.Score) is None and only.data(Role.MatchedBy) == ("name",)
    assert "Matched by file name" in only.data(Qt.ItemDataRole.ToolTipRole)


def test_a_search_of_text_phrases_alone_does_not_wait_for_the_model() -> None:
    from clipdesk.ui.rows import SearchRequest

    assert not SearchRequest(text="text:invoice -text:draft").needs_model
    assert SearchRequest(text="text:invoice").is_search
    assert SearchRequest(text="invoice").needs_model
    assert SearchRequest(text="clip:sunset").needs_model
    assert not SearchRequest().needs_model and not SearchRequest().is_search
