"""Fast manual tagging in the app: select many photos (Ctrl/Shift-click, Ctrl+A, a rubber band
from empty space), one tag action on all of them; the tag panel's counts and its click filter;
the photo view's keyword field with completion."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QDialogButtonBox

from clipdesk.ui.bulk_tag import BulkTagDialog
from clipdesk.ui.photo_view import PhotoView
from tests.ui.conftest import add_and_index, wait_idle

pytestmark = pytest.mark.usefixtures("no_leaks")

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
LEFT = Qt.MouseButton.LeftButton


def _keyword_photos(controller, label: str) -> set[int]:
    tags = controller.backend.services.tags
    found = tags.photos_with_tag("Keywords", label)
    return {f.photo.id for f in found if f.tag.state == "confirmed"}


@pytest.fixture
def indexed(qtbot, make_app, tiny_model, synth_photos):
    root, photos = synth_photos
    controller, window = make_app(tiny_model)
    add_and_index(qtbot, controller, str(root))
    grid = window.search.grid
    qtbot.waitUntil(lambda: grid.photos.rowCount() == len(photos), timeout=30_000)
    return controller, window, grid  # each test waits until idle at its end (wait_idle)


def test_shift_ctrl_click_ctrl_a_and_a_rubber_band_select_and_one_action_tags_them_all(
    qtbot, indexed
):
    controller, window, grid = indexed
    view = grid.viewport()

    def centre(row: int) -> QPoint:
        return grid.visualRect(grid.photos.index(row, 0)).center()

    qtbot.mouseClick(view, LEFT, pos=centre(0))
    qtbot.mouseClick(view, LEFT, SHIFT, centre(3))
    qtbot.mouseClick(view, LEFT, CTRL, centre(6))
    assert grid.selected_ids() == [grid.photos.items().ids[r] for r in (0, 1, 2, 3, 6)]
    qtbot.keyClick(grid, Qt.Key.Key_A, CTRL)
    assert grid.selected_count() == grid.photos.rowCount()

    # a rubber band: pressed in the gap right of the first cell, dragged into the second row
    first = grid.visualRect(grid.photos.index(0, 0))
    start = QPoint(first.right() + 2, first.top() + 5)
    assert not grid.indexAt(start).isValid()  # empty space, not a photo (that would drag it)
    columns = max(1, grid.viewport().width() // grid.gridSize().width())
    end = centre(columns + 1)
    qtbot.mousePress(view, LEFT, pos=start)
    qtbot.mouseMove(view, end)
    qtbot.mouseRelease(view, LEFT, pos=end)
    band = grid.selected_ids()
    assert band == [grid.photos.items().ids[r] for r in (1, columns + 1)]

    qtbot.keyClick(grid, Qt.Key.Key_A, CTRL)
    chosen = set(grid.selected_ids())
    window.tag_selected()  # Edit > Tag selected photos… (Ctrl+T)
    dialog = window.findChildren(BulkTagDialog)[-1]
    qtbot.waitUntil(lambda: dialog.completer.model().rowCount() > 0, timeout=10_000)
    assert dialog.windowTitle() == f"Tag {len(chosen)} photos"
    dialog.tag.setText("picnic")
    with qtbot.waitSignal(dialog.tagged, timeout=10_000) as done:
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert done.args[0].changed == len(chosen) and done.args[0].step.photo_ids
    assert _keyword_photos(controller, "picnic") == chosen

    # remove it from the first two only: a new selection, the same action
    grid.clearSelection()
    qtbot.mouseClick(view, LEFT, pos=centre(0))
    qtbot.mouseClick(view, LEFT, CTRL, centre(1))
    window.tag_selected()
    dialog = window.findChildren(BulkTagDialog)[-1]
    dialog.action.setCurrentIndex(dialog.action.findData("remove"))
    dialog.tag.setText("Keywords › picnic")
    with qtbot.waitSignal(dialog.tagged, timeout=10_000):
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    first_two = {grid.photos.items().ids[r] for r in (0, 1)}
    assert _keyword_photos(controller, "picnic") == chosen - first_two
    wait_idle(qtbot, controller)


def test_a_refused_tag_is_said_in_the_dialog_which_stays_open(qtbot, indexed):
    controller, window, grid = indexed
    grid.selectAll()
    window.tag_selected()
    dialog = window.findChildren(BulkTagDialog)[-1]
    dialog.tag.setText("Scene › moon")  # Scene's labels are the model's
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: "has no label 'moon'" in dialog.message.text(), timeout=10_000)
    assert dialog.isVisible() and dialog.buttons.isEnabled()
    dialog.reject()
    wait_idle(qtbot, controller)


def test_the_tag_panel_counts_confirmed_and_suggested_and_a_click_filters(qtbot, indexed):
    controller, window, grid = indexed
    panel = window.search.tag_panel
    ids = [int(i) for i in grid.photos.items().ids[:3]]
    controller.backend.services.tags.tag_photos(ids, "Keywords", "picnic", "add")
    controller.libraryChanged.emit()
    qtbot.waitUntil(lambda: panel.label_item("Keywords", "picnic") is not None, timeout=10_000)
    item = panel.label_item("Keywords", "picnic")
    assert (item.text(1), item.text(2)) == ("3", "")
    counts = {(c.category, c.label): c for c in controller.backend.services.tags.label_counts()}
    for (category, label), c in counts.items():  # the model's suggestions, as the query gives
        row = panel.label_item(category, label)
        assert row is not None and row.text(2) == (f"{c.suggested:,}" if c.suggested else "")

    rect = panel.visualItemRect(item)
    qtbot.mouseClick(panel.viewport(), LEFT, pos=rect.center())
    qtbot.waitUntil(lambda: grid.photos.rowCount() == 3, timeout=10_000)
    assert window.search.tag.currentData() == ["Keywords", "picnic"]
    assert sorted(int(i) for i in grid.photos.items().ids) == sorted(ids)
    every = panel.topLevelItem(0)
    qtbot.mouseClick(panel.viewport(), LEFT, pos=panel.visualItemRect(every).center())
    qtbot.waitUntil(lambda: grid.photos.rowCount() == 24, timeout=10_000)
    assert window.search.tag.currentData() is None
    wait_idle(qtbot, controller)


# typing opens the completion popup, whose keyboard grab the offscreen platform lacks
@pytest.mark.qt_log_ignore("This plugin does not support grabbing the keyboard")
def test_the_keyword_field_completes_labels_and_enter_adds_the_tag(qtbot, indexed):
    controller, window, grid = indexed
    window.open_photo(grid.photos.item(0))
    view = window.findChildren(PhotoView)[-1]
    field = view.keywords
    qtbot.waitUntil(lambda: field.completer.model().rowCount() > 0, timeout=10_000)
    field.completer.setCompletionPrefix("beac")
    assert field.completer.currentCompletion() == "Scene › beach"

    field.line.setFocus()
    qtbot.keyClicks(field.line, "picnic")
    with qtbot.waitSignal(field.added, timeout=10_000):
        qtbot.keyClick(field.line, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: any(
            "Keywords: picnic" in view.tags.item(i).text()
            and "(confirmed)" in view.tags.item(i).text()
            for i in range(view.tags.count())
        ),
        timeout=10_000,
    )
    assert field.line.text() == ""
    assert _keyword_photos(controller, "picnic") == {view.item.id}
    # the new keyword is offered from now on
    qtbot.waitUntil(
        lambda: "Keywords › picnic" in field.completer.model().stringList(), timeout=10_000
    )
    view.close()
    wait_idle(qtbot, controller)
