"""The grid updates in place: photos arriving (or leaving) while the user scrolls or reviews never
move the view, the selection or the current photo; a new query starts at the top."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QItemSelectionModel, QObject, Signal
from PySide6.QtWidgets import QListView

from clipdesk.ui.photo_grid import PhotoGrid
from clipdesk.ui.photo_model import PhotoItem, PhotoListModel, Role
from clipdesk.ui.photo_rows import PhotoRows
from tests.ui.conftest import add_and_index, wait_idle

pytestmark = pytest.mark.usefixtures("no_leaks")
_Select = QItemSelectionModel.SelectionFlag


def _rows(ids, reads: list[int] | None = None, tag: str = "") -> PhotoRows:
    def read(page_ids, _scores):
        if reads is not None:
            reads.append(int(page_ids[0]))
        return [PhotoItem(int(i), f"/photos/p{int(i):05d}{tag}.jpg") for i in page_ids]

    return PhotoRows(np.asarray(list(ids), dtype=np.int64), None, read=read, page=50)


def _read_all(model: PhotoListModel) -> None:
    for row in range(model.rowCount()):
        model.item(row)  # reads its page now


def test_an_update_keeps_the_selection_and_current_photo_on_their_photos(qtmodeltester):
    model = PhotoListModel()
    model.set_rows(_rows(range(0, 400, 2)))
    qtmodeltester.check(model, force_py=True)  # stays connected: checks the update below
    selection = QItemSelectionModel(model)
    selection.setCurrentIndex(model.index(100, 0), _Select.NoUpdate)  # photo 200
    for row in (5, 120):  # photos 10 and 240
        selection.select(model.index(row, 0), _Select.Select)

    # new photos before and after them, photo 10 gone from the library
    new_ids = sorted({*range(0, 400, 2), *range(1, 400, 10)} - {10})
    model.update_rows(_rows(new_ids))

    assert model.rowCount() == len(new_ids)
    assert selection.currentIndex().data(Role.PhotoId) == 200
    assert selection.currentIndex().row() == new_ids.index(200)
    assert [i.data(Role.PhotoId) for i in selection.selectedIndexes()] == [240]


def test_rows_read_before_an_update_stay_painted_and_are_read_again(qtbot):
    reads: list[int] = []
    model = PhotoListModel()
    model.set_rows(_rows(range(200), reads))
    _read_all(model)
    reads.clear()

    model.update_rows(_rows([-1, *range(200)], reads, tag="-new"))
    index = model.index(120, 0)
    # at once: the photo as it was read before (no placeholder where the user looks) ...
    assert index.data(Role.Item).path == "/photos/p00119.jpg"
    with qtbot.waitSignal(model.dataChanged, timeout=5000):
        pass  # ... its page read again, fresh
    assert index.data(Role.Item).path == "/photos/p00119-new.jpg"
    assert reads == [99]  # the painted row's page only (rows 100-149), not every page


class _Thumbs(QObject):
    ready = Signal(int)
    failed = Signal(int, str)

    def get(self, _photo_id, _path, _cell=None):
        return None

    def error(self, _photo_id):
        return None


def _grid(qtbot, ids) -> PhotoGrid:
    grid = PhotoGrid(_Thumbs())
    qtbot.addWidget(grid)
    grid.resize(640, 480)
    grid.photos.set_rows(_rows(ids))
    grid.show()
    last = grid.photos.index(grid.photos.rowCount() - 1, 0)
    qtbot.waitUntil(lambda: grid.visualRect(last).isValid())  # laid out, batch after batch
    return grid


def test_photos_arriving_above_a_scrolled_grid_leave_the_first_visible_photo_in_place(qtbot):
    ids = list(range(0, 10_000, 2))  # 5,000 photos: laid out in batches over several turns
    grid = _grid(qtbot, ids)
    grid.scrollTo(grid.photos.index(3000, 0), QListView.ScrollHint.PositionAtTop)
    grid.selectionModel().setCurrentIndex(grid.photos.index(3010, 0), _Select.NoUpdate)
    grid.selectionModel().select(grid.photos.index(3012, 0), _Select.Select)
    first, top = grid.on_screen()[0]

    # 1,000 new photos, most of them above what is on screen
    grid.photos.update_rows(_rows(sorted([*ids, *range(1, 10_000, 10)])))
    qtbot.waitUntil(lambda: grid.viewport().updatesEnabled(), timeout=10_000)

    row = grid.photos.row_of(first)
    assert row is not None and row > 3000
    assert grid.visualRect(grid.photos.index(row, 0)).top() == top
    assert grid.currentIndex().data(Role.PhotoId) == 6020
    assert [i.data(Role.PhotoId) for i in grid.selectedIndexes()] == [6024]


def test_at_the_top_with_nothing_selected_new_photos_come_into_sight(qtbot):
    grid = _grid(qtbot, range(100, 200))
    grid.photos.update_rows(_rows(range(0, 200)))
    qtbot.waitUntil(lambda: grid.on_screen()[0][0] == 0)
    assert grid.verticalScrollBar().value() == 0 and grid.viewport().updatesEnabled()


def test_a_larger_thumbnail_size_keeps_the_first_visible_photo_on_screen(qtbot):
    grid = _grid(qtbot, range(3000))
    grid.scrollTo(grid.photos.index(1500, 0), QListView.ScrollHint.PositionAtTop)
    first, top = grid.on_screen()[0]
    grid.set_cell(256)
    qtbot.waitUntil(lambda: grid.viewport().updatesEnabled(), timeout=10_000)
    assert grid.gridSize().width() > 256
    assert grid.visualRect(grid.photos.index(first, 0)).top() == top


def test_photos_arriving_while_the_user_scrolls_the_search_page_never_move_it(
    qtbot, make_app, tiny_model, tmp_path
):
    from clipdesk.model import synth

    synth.write_photo_folder(tmp_path / "first", 40, seed=1, formats=("jpg",))
    controller, window = make_app(tiny_model)
    add_and_index(qtbot, controller, tmp_path / "first")
    window.resize(800, 600)
    window.set_thumbnail_size(320)  # a few photos a screen: 40 of them scroll
    grid = window.search.grid
    qtbot.waitUntil(lambda: grid.photos.rowCount() == 40, timeout=30_000)
    bar = grid.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    bar.setValue(bar.maximum() // 2)
    current = grid.on_screen()[1][0]
    grid.selectionModel().setCurrentIndex(  # as a click on the second photo on screen would
        grid.photos.index(grid.photos.row_of(current), 0), _Select.ClearAndSelect
    )  # (which scrolls it fully into view)
    first, top = grid.on_screen()[0]

    # newer files: at the top of the library, newest first, above what the user looks at
    synth.write_photo_folder(tmp_path / "second", 12, seed=2, formats=("jpg",))
    add_and_index(qtbot, controller, tmp_path / "second")
    qtbot.waitUntil(lambda: grid.photos.rowCount() == 52, timeout=30_000)
    qtbot.waitUntil(lambda: grid.viewport().updatesEnabled(), timeout=10_000)

    assert grid.visualRect(grid.photos.index(grid.photos.row_of(first), 0)).top() == top
    assert grid.currentIndex().data(Role.PhotoId) == current
    assert [i.data(Role.PhotoId) for i in grid.selectedIndexes()] == [current]

    # a new query starts at the top
    with qtbot.waitSignal(window.search.resultsShown, timeout=30_000):
        window.search.box.set_text("a red circle")
    assert bar.value() == 0
    wait_idle(qtbot, controller)
