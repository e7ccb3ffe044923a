"""The search box: debounced typing, the query-image chip, drops and pastes of images."""

from __future__ import annotations

import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QGuiApplication, QImage

from clipdesk.ui.search_box import SearchBox

pytestmark = pytest.mark.usefixtures("no_leaks")


@pytest.fixture
def box(qtbot):
    widget = SearchBox()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_typing_emits_once_after_a_pause(qtbot, box):
    seen = []
    box.queryChanged.connect(lambda text, image: seen.append((text, image)))
    with qtbot.waitSignal(box.queryChanged, timeout=2000):
        qtbot.keyClicks(box.line, "red star")
    assert seen == [("red star", None)]


def test_enter_searches_at_once(qtbot, box):
    qtbot.keyClicks(box.line, "circle")
    with qtbot.waitSignal(box.queryChanged, timeout=50) as sig:
        qtbot.keyClick(box.line, Qt.Key.Key_Return)
    assert sig.args[0] == "circle"


def test_dropping_a_file_url_sets_the_chip_and_combines_with_text(qtbot, box, tmp_path, drop):
    path = tmp_path / "query.png"
    Image.new("RGB", (64, 48), (0, 200, 0)).save(path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    qtbot.keyClicks(box.line, "at night")
    with qtbot.waitSignal(box.queryChanged, timeout=1000) as sig:
        assert drop(box, mime)
    text, image = sig.args
    assert text == "at night" and image.path == str(path)
    assert box.chip.isVisible()
    with qtbot.waitSignal(box.queryChanged, timeout=1000) as sig:
        box.chip.click()
    assert sig.args == ["at night", None] and not box.chip.isVisible()


def test_browser_drop_uses_the_image_data_not_the_web(qtbot, box, drop):
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.com/cat.jpg")])
    image = QImage(32, 32, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.blue)
    mime.setImageData(image)
    with qtbot.waitSignal(box.queryChanged, timeout=1000) as sig:
        assert drop(box, mime)
    query = sig.args[1]
    assert query.path is None and query.label == "cat.jpg"
    assert query.pil().getpixel((5, 5))[2] > 200


def test_paste_image_from_clipboard(qtbot, box):
    image = QImage(20, 20, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.red)
    QGuiApplication.clipboard().setImage(image)
    box.line.setFocus()
    with qtbot.waitSignal(box.queryChanged, timeout=1000) as sig:
        qtbot.keyClick(box.line, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert sig.args[1] is not None and sig.args[1].label == "pasted image"
    assert box.line.text() == ""


def test_the_examples_wait_for_the_model_then_fit_it(qtbot, box):
    from clipdesk.ui.query_examples import DEMO_NOTE

    placeholder = box.line.placeholderText
    assert "beach" not in placeholder() and "red circle" not in placeholder()  # none known yet
    box.suit_model(demo=True)
    assert "a red circle" in placeholder() and "blue star" in placeholder()
    assert DEMO_NOTE in box.help.toolTip() and "kids on a beach" not in box.help.toolTip()
    box.suit_model(demo=False)
    assert "kids on a beach" in placeholder() and DEMO_NOTE not in box.line.toolTip()


def test_an_image_query_is_refined_in_the_models_words(qtbot, box, tmp_path):
    from clipdesk.ui.drops import QueryImage

    path = tmp_path / "q.png"
    Image.new("RGB", (8, 8), (200, 0, 0)).save(path)
    box.suit_model(demo=True)
    with qtbot.waitSignal(box.queryChanged, timeout=1000):
        box.set_image(QueryImage(label="q.png", path=str(path)))
    assert "but blue" in box.line.placeholderText()
    with qtbot.waitSignal(box.queryChanged, timeout=1000):
        box.clear_image()
    assert "a red circle" in box.line.placeholderText()
