"""Tags: the category list model, editing with validation, review decisions that survive a restart."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from clipdesk.tags.categories import Category, Label
from clipdesk.ui.tags_page import CategoryListModel
from tests.ui.conftest import add_and_index, wait_idle

pytestmark = pytest.mark.usefixtures("no_leaks")


def test_category_model_passes_qtmodeltester(qtmodeltester):
    model = CategoryListModel()
    qtmodeltester.check(model, force_py=True)
    model.set_categories([Category("Scene", (Label("beach"), Label("city")))])
    model.set_categories([])


def test_editor_shows_what_is_wrong_and_saves_nothing(qtbot, make_app, tiny_model):
    controller, window = make_app(tiny_model)
    page = window.tags
    qtbot.waitUntil(lambda: page.cats.rowCount() > 0, timeout=10_000)
    before = page.cats.rowCount()
    page._new()
    page.editor.labels.item(0, 0).setText("bad|label")
    page._save()
    assert "|" in page.problem.text()
    wait_idle(qtbot, controller)
    assert page.cats.rowCount() == before


def test_confirm_and_reject_persist_across_a_restart(
    qtbot, make_app, tiny_model, synth_photos, tmp_path
):
    root, _photos = synth_photos
    controller, window = make_app(tiny_model)
    add_and_index(qtbot, controller, str(root))
    window.show_page("Tags")
    window.tags.tabs.setCurrentWidget(window.tags.review)
    review = window.tags.review
    review.load()
    qtbot.waitUntil(lambda: len(review.queue) >= 2, timeout=30_000)
    first, second = review.queue[0], review.queue[1]
    review.setFocus()
    qtbot.keyClick(review, Qt.Key.Key_C)
    qtbot.keyClick(review, Qt.Key.Key_R)
    assert review.pos == 2
    wait_idle(qtbot, controller)
    window.close()
    controller.shutdown()

    controller2, _window2 = make_app(tiny_model, library=tmp_path / "library.sqlite3")
    states = {}

    def record(key, details):
        states[key] = {(t.category, t.label): t.state for t in details.tags}

    for key, item in (("first", first), ("second", second)):
        controller2.call(
            lambda b, _t, i=item: b.photo_details(i.photo.id), lambda d, k=key: record(k, d)
        )
    qtbot.waitUntil(lambda: len(states) == 2, timeout=10_000)
    assert states["first"][(first.category, first.label)] == "confirmed"
    assert states["second"][(second.category, second.label)] == "rejected"


def test_indexing_in_the_app_brings_in_keywords_other_tools_wrote(
    qtbot, make_app, tiny_model, tmp_path
):
    from clipdesk.tags.records import TagState
    from tests.support.xmp_helpers import folder_with_a_sidecar

    # a keyword of ours and one of the other tool's own
    tagged = folder_with_a_sidecar(tmp_path / "pics", 3, ["Scene|beach", "Trip|Rome"])
    controller, _window = make_app(tiny_model)
    add_and_index(qtbot, controller, str(tagged.parent))
    wait_idle(qtbot, controller)
    tags = controller.backend.tags
    (photo,) = [p for p in controller.backend.library.photos() if p.path == tagged]
    mine = {(t.category, t.label): t.state for t in tags.tags_of(photo.id)}
    assert mine[("Scene", "beach")] is TagState.IMPORTED  # the user's keyword, not a suggestion
    assert mine[("Keywords", "Trip|Rome")] is TagState.IMPORTED


def test_label_preview_shows_the_photos_of_that_label(qtbot, make_app, demo_model, colour_photos):
    from clipdesk.common.progress import CancelToken
    from clipdesk.tags.categories import Mode

    root, _paths = colour_photos  # 6 photos of each of 4 colours
    controller, _window = make_app(demo_model)
    add_and_index(qtbot, controller, str(root))
    wait_idle(qtbot, controller)
    draft = Category(
        "Colour", tuple(Label(c) for c in ("red", "blue", "green", "yellow")), Mode.SINGLE
    )
    items = controller.backend.preview_label(draft, "green", 6, CancelToken())
    assert [it.name.split("-")[0] for it in items] == ["green"] * 6
    assert all(0.5 < it.score <= 1.0 for it in items)
