"""Ratings and colour labels in the app, with Lightroom's keys: 0-5 rate and 6-9 label the grid's
whole selection (the same label again clears it), the photo view takes the same keys, the
thumbnails show them at once, and the Search page filters and sorts by them."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from clipdesk.ui.photo_view import PhotoView
from tests.ui.conftest import add_and_index, wait_idle

pytestmark = pytest.mark.usefixtures("no_leaks")

CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def indexed(qtbot, make_app, tiny_model, synth_photos):
    root, photos = synth_photos
    controller, window = make_app(tiny_model)
    add_and_index(qtbot, controller, str(root))
    grid = window.search.grid
    qtbot.waitUntil(lambda: grid.photos.rowCount() == len(photos), timeout=30_000)
    yield controller, window, grid
    wait_idle(qtbot, controller)


def _stored(controller, ids):
    return controller.backend.services.ratings.marks_of(ids)


def test_keys_rate_and_label_the_whole_selection_and_the_thumbnails_show_it(qtbot, indexed):
    controller, window, grid = indexed
    qtbot.keyClick(grid, Qt.Key.Key_A, CTRL)
    ids = grid.selected_ids()
    qtbot.keyClick(grid, Qt.Key.Key_4)
    qtbot.waitUntil(lambda: set(_stored(controller, ids).values()) == {(4, None)})
    qtbot.waitUntil(lambda: all(grid.photos.item(r).rating == 4 for r in range(len(ids))))
    qtbot.keyClick(grid, Qt.Key.Key_6)  # red
    qtbot.waitUntil(lambda: set(_stored(controller, ids).values()) == {(4, "Red")})
    qtbot.waitUntil(lambda: grid.photos.item(0).label == "Red")
    grid.viewport().grab()  # the thumbnails paint their stars and label dot
    qtbot.keyClick(grid, Qt.Key.Key_6)  # the same label again: taken off
    qtbot.waitUntil(lambda: set(_stored(controller, ids).values()) == {(4, None)})
    qtbot.keyClick(grid, Qt.Key.Key_0)
    qtbot.waitUntil(lambda: set(_stored(controller, ids).values()) == {(0, None)})
    wait_idle(qtbot, controller)


def test_the_photo_view_takes_the_same_keys_and_the_grid_follows(qtbot, indexed):
    controller, window, grid = indexed
    item = grid.photos.item(0)
    view = PhotoView(controller, item, window, siblings=grid.photos.items())
    view.marksChanged.connect(lambda ids, fields: grid.photos.change_items(ids, **fields))
    qtbot.addWidget(view)
    view.show()
    qtbot.keyClick(view.preview, Qt.Key.Key_5)
    qtbot.keyClick(view.preview, Qt.Key.Key_9)  # blue
    qtbot.waitUntil(lambda: _stored(controller, [item.id]) == {item.id: (5, "Blue")})
    qtbot.waitUntil(lambda: view.marks.text() == "★★★★★ · Blue")
    qtbot.waitUntil(lambda: grid.photos.item(0).label == "Blue")
    view.close()
    wait_idle(qtbot, controller)


def test_the_search_page_filters_and_sorts_by_rating_and_label(qtbot, indexed):
    controller, window, grid = indexed
    page = window.search
    ids = [int(i) for i in grid.photos.items().ids]
    ratings = controller.backend.services.ratings
    ratings.set_rating(ids[3:5], 5)
    ratings.set_rating(ids[5:6], 3)
    ratings.set_label(ids[5:7], "Yellow")
    page.rating.setCurrentIndex(page.rating.findData(3))
    qtbot.waitUntil(lambda: sorted(map(int, grid.photos.items().ids)) == sorted(ids[3:6]))
    page.label.setCurrentIndex(page.label.findData("Yellow"))
    qtbot.waitUntil(lambda: list(map(int, grid.photos.items().ids)) == [ids[5]])
    page.rating.setCurrentIndex(0)
    page.label.setCurrentIndex(0)
    page.sort.setCurrentIndex(page.sort.findData("rating"))
    qtbot.waitUntil(
        lambda: (
            len(grid.photos.items()) == len(ids)
            and sorted(map(int, grid.photos.items().ids[:2])) == sorted(ids[3:5])
            and int(grid.photos.items().ids[2]) == ids[5]
        )
    )
    wait_idle(qtbot, controller)
