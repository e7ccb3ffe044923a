"""Review: undo takes decisions back (several steps, the stored tags exactly as they were), the
photo's file name and folder are shown, and batch mode decides a grid in one key and takes it
back as one step."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import Qt

from tests.ui.conftest import add_and_index, wait_idle

pytestmark = pytest.mark.usefixtures("no_leaks")


def stored(controller, photo_ids) -> dict[int, set[tuple]]:
    """Every tag of the photos, all it holds: what "as it was" compares. Read on the test's
    thread (its own connection), once the app's writes have landed."""
    tags = controller.backend.services.tags
    return {
        pid: {(t.category, t.label, t.state, t.score, t.model_id) for t in tags.tags_of(pid)}
        for pid in photo_ids
    }


@pytest.fixture
def review(qtbot, make_app, tiny_model, synth_photos):
    root, _photos = synth_photos
    controller, window = make_app(tiny_model)
    add_and_index(qtbot, controller, str(root))
    window.show_page("Tags")
    window.tags.tabs.setCurrentWidget(window.tags.review)
    panel = window.tags.review
    panel.load()
    qtbot.waitUntil(lambda: len(panel.queue) >= 3, timeout=30_000)
    return controller, panel


def test_undo_takes_several_decisions_back_and_the_stored_tags_are_as_they_were(qtbot, review):
    controller, panel = review
    first, second, third = panel.queue[:3]
    ids = {i.photo.id for i in (first, second, third)}
    before = stored(controller, ids)
    panel.setFocus()
    qtbot.keyClick(panel, Qt.Key.Key_C)
    qtbot.keyClick(panel, Qt.Key.Key_R)
    qtbot.keyClick(panel, Qt.Key.Key_S)
    assert panel.position == 3 and len(panel.history) == 3
    wait_idle(qtbot, controller)
    assert stored(controller, ids) != before

    qtbot.keyClick(panel, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the skip
    assert panel.current() is third
    qtbot.keyClick(panel, Qt.Key.Key_Backspace)  # the reject
    assert panel.current() is second
    qtbot.keyClick(panel, Qt.Key.Key_Left)  # the confirm
    assert panel.current() is first and panel.position == 0
    assert not panel.history and not panel.undo_button.isEnabled()
    wait_idle(qtbot, controller)
    assert stored(controller, ids) == before
    qtbot.keyClick(panel, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert panel.status.text() == "Nothing to take back."


def test_a_decision_taken_back_after_a_refresh_comes_back_to_the_queue(qtbot, review):
    controller, panel = review
    first = panel.queue[0]
    before = stored(controller, {first.photo.id})
    panel.setFocus()
    qtbot.keyClick(panel, Qt.Key.Key_C)
    old_queue = panel.queue
    panel.load()  # read again: the decided photo is no longer in it
    qtbot.waitUntil(lambda: panel.queue is not old_queue, timeout=10_000)
    qtbot.keyClick(panel, Qt.Key.Key_Backspace)
    assert panel.current() is first
    wait_idle(qtbot, controller)
    assert stored(controller, {first.photo.id}) == before


def test_the_photos_file_name_and_folder_are_shown(qtbot, review):
    _controller, panel = review
    path = panel.current().photo.path
    text = panel.file_label.text()
    assert os.path.basename(path) in text and os.path.dirname(path) in text
    panel.setFocus()
    qtbot.keyClick(panel, Qt.Key.Key_S)
    assert os.path.basename(panel.current().photo.path) in panel.file_label.text()


def test_batch_mode_confirms_the_rest_and_rejects_the_selected_in_one_key_and_undo_reverts_it(
    qtbot, review
):
    controller, panel = review
    tags = controller.backend.services.tags
    # the label with the most photos to review
    counts = {
        (c.name, name): len(tags.review(c.name, name, limit=50))
        for c in tags.categories()
        if c.auto
        for name in c.label_names
    }
    category, label = max(counts, key=counts.get)
    assert counts[(category, label)] >= 3
    panel.set_batch_mode(True)
    batch = panel.batch
    batch.label.setCurrentIndex(batch.label.findText(f"{category} › {label}"))
    qtbot.waitUntil(lambda: len(batch.items) == counts[(category, label)], timeout=10_000)
    items = list(batch.items)
    ids = {i.photo.id for i in items}
    before = stored(controller, ids)
    grid = batch.grid
    for row in (0, 2):  # two clicks mark two photos as wrong
        rect = grid.visualRect(grid.photos.index(row))
        qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    wrong = {items[0].photo.id, items[2].photo.id}
    assert batch.wrong_ids() == wrong
    assert batch.apply_button.text().startswith(f"Confirm {len(items) - 2} · reject 2")

    qtbot.keyClick(grid, Qt.Key.Key_Return)  # the one key
    wait_idle(qtbot, controller)
    now = {
        pid: next(s for c, lab, s, *_ in tags_ if (c, lab) == (category, label))
        for pid, tags_ in stored(controller, ids).items()
    }
    assert now == {pid: "rejected" if pid in wrong else "confirmed" for pid in ids}
    assert len(panel.history) == 1  # the whole batch is one step
    qtbot.waitUntil(lambda: {i.photo.id for i in batch.items}.isdisjoint(ids), timeout=10_000)

    qtbot.keyClick(grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [i.photo.id for i in batch.items] == [i.photo.id for i in items]
    assert batch.wrong_ids() == wrong  # as the user had marked it
    wait_idle(qtbot, controller)
    assert stored(controller, ids) == before
    assert batch.items == items  # no later read replaced the batch that came back
