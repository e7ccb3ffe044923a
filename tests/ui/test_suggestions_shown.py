"""Suggestions are shown as suggestions: a dashed "?" mark on the thumbnail (not for confirmed
tags), apart from the user's tags in the photo view, and the Tags page's calibration panel shows
the precision and recall a target gives and applies the thresholds."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QListWidget

from clipdesk.services.records import Category, Label, Mode, TagState
from clipdesk.ui.delegate import PAD, SUGGESTED_COLOUR, ThumbnailDelegate, suggestion_mark
from clipdesk.ui.photo_model import PhotoItem
from clipdesk.ui.rows import TagRow
from clipdesk.ui.settings import CELL
from clipdesk.ui.tag_list import fill_tag_list, tag_of
from clipdesk.ui.tags_page import xmp_question
from tests.ui.conftest import add_and_index, wait_idle
from tests.ui.test_grid_cells import _paint as paint_cell
from tests.ui.test_grid_cells import _SolidThumbs

pytestmark = pytest.mark.usefixtures("no_leaks")


def _paint(item: PhotoItem) -> QImage:
    return paint_cell(ThumbnailDelegate(_SolidThumbs()), item)


def _amber_pixels(image: QImage) -> int:
    """Pixels of the suggestion mark's colour in the thumbnail's top-right quarter."""
    found = 0
    for x in range(PAD + CELL // 2, PAD + CELL):
        for y in range(PAD, PAD + CELL // 4):
            c = image.pixelColor(x, y)
            found += (
                abs(c.red() - SUGGESTED_COLOUR.red()) < 40
                and abs(c.green() - SUGGESTED_COLOUR.green()) < 40
                and c.blue() < 80
            )
    return found


def test_a_suggested_tag_is_marked_on_the_thumbnail_and_a_confirmed_one_is_not(qapp):
    assert suggestion_mark(PhotoItem(1, "/p/a.jpg")) is None  # all its tags confirmed, or none
    assert suggestion_mark(PhotoItem(1, "/p/a.jpg", suggested=1)) == "?"
    assert suggestion_mark(PhotoItem(1, "/p/a.jpg", suggested=3)) == "3?"
    assert _amber_pixels(_paint(PhotoItem(1, "/p/a.jpg", suggested=1))) > 20
    assert _amber_pixels(_paint(PhotoItem(1, "/p/a.jpg"))) == 0


def test_the_photo_view_lists_suggestions_apart_from_the_users_tags(qapp):
    widget = QListWidget()
    tags = [
        TagRow("Scene", "beach", 0.9, "confirmed"),
        TagRow("Pets", "dog", 0.7, "suggested"),
        TagRow("Scene", "city", 0.2, "rejected"),
        TagRow("Pets", "cat", 0.6, "suggested"),
    ]
    fill_tag_list(widget, tags)
    rows = [widget.item(i) for i in range(widget.count())]
    shown = [(tag_of(r).label if tag_of(r) else r.text()) for r in rows]
    assert shown == [
        "Suggested by the model: C confirms, R rejects",
        "dog",
        "cat",
        "Your tags",
        "beach",
        "Rejected",
        "city",
    ]
    assert tag_of(widget.currentItem()) == tags[1]  # the next C or R decides a suggestion
    headings = [r for r in rows if tag_of(r) is None]
    assert all(not r.flags() for r in headings)  # never selected: keys act on tags only
    suggested, confirmed = rows[1], rows[4]
    assert suggested.font().italic() and not confirmed.font().italic()
    assert confirmed.font().bold() and not suggested.font().bold()
    assert suggested.foreground().color() != confirmed.foreground().color()
    assert "not confirmed" in suggested.toolTip() and "XMP" in suggested.toolTip()
    assert rows[6].font().strikeOut()
    widget.deleteLater()


def test_the_xmp_dialog_says_suggestions_are_written_only_when_asked_for():
    assert "suggestions are not" in xmp_question("fullname", False)
    assert "you chose this in Settings" in xmp_question("fullname", True)


def test_the_calibration_panel_shows_precision_and_recall_and_applies_thresholds(
    qtbot, make_app, tiny_model, synth_photos
):
    root, _photos = synth_photos
    controller, window = make_app(tiny_model)
    add_and_index(qtbot, controller, str(root))
    services = controller.backend.services
    cat = Category("Shade", (Label("light"), Label("dark")), Mode.MULTI, 0.5)
    services.tags.add_category(cat)
    # the three photos the model scores highest for "light" confirmed, the next five rejected
    ids, vectors = services.library.load_vectors(services.tags.model().id)
    light = services.tags.tagger().classifier(services.tags.category("Shade")).scores(vectors)
    order = np.argsort(-light[:, 0])
    services.tags.decide(ids[order[:3]].tolist(), "Shade", "light", "confirmed")
    services.tags.decide(ids[order[3:8]].tolist(), "Shade", "light", "rejected")
    page = window.tags
    window.nav.setCurrentRow(window.stack.indexOf(page))
    page.reload()
    panel = page.calibration
    page.tabs.setCurrentWidget(panel)
    qtbot.waitUntil(lambda: panel.category.findText("Shade") >= 0, timeout=10_000)
    panel.show_category("Shade")
    panel.target.setValue(1.0)
    qtbot.waitUntil(
        lambda: (
            panel.calibration is not None
            and panel.calibration.category == "Shade"
            and panel.calibration.target == 1.0
        ),
        timeout=20_000,
    )
    cal = panel.calibration
    assert cal is not None
    row = cal.rows[0]
    expected = float(light[order[2], 0])  # all confirmed above all rejected: 100% there
    assert row.threshold == pytest.approx(expected, abs=1e-5)
    texts = [panel.table.item(0, c).text() for c in range(panel.table.columnCount())]
    assert texts[0] == "light" and texts[2] == f"{expected:.3f}"
    assert texts[3].startswith("100%") and texts[4].startswith("100%")
    assert texts[5] == "8 (3 yes)"
    assert panel.table.item(1, 2).text() == "keeps it"  # "dark" has no decisions
    assert panel.apply_button.isEnabled()

    with qtbot.waitSignal(panel.applied, timeout=30_000):
        panel.apply_button.click()
    wait_idle(qtbot, controller)
    assert services.tags.category("Shade").labels[0].threshold == pytest.approx(expected, abs=1e-5)
    # the photos without a decision score below the third-highest: none is suggested "light"
    states = {
        t.state
        for pid in ids.tolist()
        for t in services.tags.tags_of(pid)
        if (t.category, t.label) == ("Shade", "light")
    }
    assert TagState.SUGGESTED not in states and row.would_suggest == 0
    # calibrated again after applying: nothing left to change
    qtbot.waitUntil(
        lambda: panel.calibration is not None and panel.calibration is not cal, timeout=20_000
    )
    assert panel.calibration.changes == 0 and not panel.apply_button.isEnabled()
