"""Photo view: the text read in a photo (selectable, copyable), its boxes drawn on request, the
XMP title and description, and what it says when the text failed or is not read yet."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QGuiApplication

from clipdesk.services.records import OcrBox
from clipdesk.ui.photo_text import NOT_READ
from clipdesk.ui.photo_view import PhotoView
from tests.ui.conftest import add_and_index, wait_idle

pytestmark = pytest.mark.usefixtures("no_leaks")

WORDS = "OPEN 24 HOURS\nCafé Zürich 東京"
BOXES = (
    OcrBox("OPEN 24 HOURS", 0.97, ((0.1, 0.1), (0.6, 0.1), (0.6, 0.25), (0.1, 0.25))),
    OcrBox("Café Zürich 東京", 0.88, ((0.2, 0.6), (0.9, 0.55), (0.92, 0.7), (0.22, 0.75))),
)


def yellowish(colour: QColor) -> bool:
    return colour.red() > 200 and colour.green() > 150 and colour.blue() < 90


def test_photo_view_shows_the_text_its_boxes_and_why_there_is_none(
    qtbot, make_app, tiny_model, synth_photos
):
    root, _photos = synth_photos
    controller, window = make_app(tiny_model)
    services = controller.backend.services
    services.ocr.set_enabled(False)  # the text is written below: no OCR pass of its own
    add_and_index(qtbot, controller, str(root))
    grid = window.search.grid
    qtbot.waitUntil(lambda: grid.photos.rowCount() >= 3, timeout=30_000)
    read, failed, unread = (grid.photos.item(i).id for i in range(3))
    lib = services.library
    lib.save_ocr(read, WORDS, 0.92, BOXES, "test engine")
    lib.set_xmp_text(read, "Night shift", "The corner shop\nat midnight")
    lib.save_ocr_failure(failed, "timed out after 60 s", "test engine")

    window.open_photo(grid.photos.item(0))
    view = window.findChildren(PhotoView)[-1]
    words = view.words
    qtbot.waitUntil(
        lambda: (
            words.text.toPlainText() == WORDS
            and view.preview.pixmap() is not None
            and not view.preview.pixmap().isNull()
        ),
        timeout=20_000,
    )
    assert words.title.text() == "Night shift" and words.title.isVisible()
    assert words.description.text() == "The corner shop\nat midnight"
    assert words.status.text() == "2 lines of text, 92% confidence"

    # selectable and copyable, never editable
    assert words.text.isReadOnly()
    assert words.text.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse
    words.text.setFocus()
    words.text.selectAll()
    with qtbot.assertNotEmitted(view.tagsChanged, wait=200):  # Ctrl+C is not C (confirm)
        qtbot.keyClick(words.text, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == WORDS
    QGuiApplication.clipboard().clear()
    words.text.moveCursor(words.text.textCursor().MoveOperation.End)  # nothing selected
    qtbot.mouseClick(words.copy, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == WORDS

    # the boxes: none drawn until asked, then one polygon per line, on the photo
    assert words.show_boxes.isEnabled() and not view.boxes.isVisible()
    before = view.preview.grab().toImage()
    words.show_boxes.setChecked(True)
    assert view.boxes.isVisible()
    polygons = view.boxes.polygons()
    assert len(polygons) == len(BOXES)
    image = view.boxes.image_rect()
    assert all(image.contains(p) for poly in polygons for p in poly)
    edge = polygons[0][0] * 0.5 + polygons[0][1] * 0.5  # the middle of the first box's top
    ratio = before.devicePixelRatio()
    at = QPoint(round(edge.x() * ratio), round(edge.y() * ratio))
    qtbot.waitUntil(lambda: yellowish(view.preview.grab().toImage().pixelColor(at)), timeout=5000)
    assert not yellowish(before.pixelColor(at))
    qtbot.keyClick(view, Qt.Key.Key_T)  # T toggles them too
    assert not view.boxes.isVisible()

    # a photo whose OCR failed says why; one not read yet says so, and shows its text once read
    qtbot.keyClick(view, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: "timed out after 60 s" in words.status.text(), timeout=10_000)
    assert words.status.text() == "Text could not be read: timed out after 60 s"
    assert words.text.toPlainText() == "" and not words.show_boxes.isEnabled()
    assert not words.copy.isEnabled() and not words.title.isVisible()
    qtbot.keyClick(view, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: words.status.text() == NOT_READ, timeout=10_000)
    lib.save_ocr(unread, "LATE", 0.7, (), "test engine")
    controller.stateChanged.emit()  # what an OCR pass signals as each photo is read
    qtbot.waitUntil(lambda: words.text.toPlainText() == "LATE", timeout=10_000)
    view.close()
    wait_idle(qtbot, controller)
