"""The window fits half of a 1920-px screen: 800 px wide, every page laid out without overlapping
or squeezed widgets (the Search page's filters wrap, the status bar's texts shorten)."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QAbstractScrollArea, QLayout, QSizePolicy, QWidget

from tests.ui.conftest import add_and_index, wait_idle

pytestmark = pytest.mark.usefixtures("no_leaks")
PAGES_AT_800 = ("Search", "Folders", "Tags", "Train")  # every page of the sidebar


def _managed(layout: QLayout) -> list[QWidget]:
    """The widgets a layout places, those of the layouts inside it included."""
    found: list[QWidget] = []
    for i in range(layout.count()):
        item = layout.itemAt(i)
        if item.widget() is not None:
            found.append(item.widget())
        elif item.layout() is not None:
            found.extend(_managed(item.layout()))
    return found


def _problems(widget: QWidget) -> list[str]:
    """Widgets a layout of ``widget`` (or of any widget inside it) placed outside its parent,
    over a sibling, or narrower than they can be drawn."""
    problems: list[str] = []
    layout = widget.layout()
    shown = [w for w in _managed(layout) if w.isVisible()] if layout is not None else []

    def name(w: QWidget) -> str:
        text = getattr(w, "text", None)
        return f"{type(w).__name__}({text() if callable(text) else w.objectName()!r})"

    for i, child in enumerate(shown):
        box = child.geometry()
        if not widget.rect().contains(box):
            problems.append(f"{name(child)} {box} is outside {name(widget)} {widget.rect()}")
        ignored = child.sizePolicy().horizontalPolicy() == QSizePolicy.Policy.Ignored
        if not ignored and box.width() < child.minimumSizeHint().width():
            problems.append(
                f"{name(child)} is {box.width()} px wide, needs {child.minimumSizeHint().width()}"
            )
        for other in shown[i + 1 :]:
            if box.intersects(other.geometry()):
                problems.append(f"{name(child)} {box} overlaps {name(other)} {other.geometry()}")
    if isinstance(widget, QAbstractScrollArea):
        return problems  # what scrolls inside it may be any size
    for child in widget.findChildren(QWidget):
        if child.parentWidget() is widget and child.isVisible():
            problems.extend(_problems(child))
    return problems


def test_the_window_is_800_px_wide_with_every_page_laid_out(
    qtbot, make_app, tiny_model, synth_photos
):
    root, _photos = synth_photos
    controller, window = make_app(tiny_model)
    add_and_index(qtbot, controller, root)
    # the longest texts the status bar shows: they shorten, they do not widen the window
    controller.index_state = "Indexing 123,456/234,567 · 12.3 images/s, about 3 hours left"
    controller.ocr_state = "Reading text 12,345/234,567 · 4.5 photos/s"
    controller.stateChanged.emit()
    window.resize(800, 600)
    for page in PAGES_AT_800:
        window.show_page(page)
        qtbot.waitUntil(lambda: window.width() == 800)
        assert window.minimumSizeHint().width() <= 800, page
        assert window.minimumWidth() <= 800
        current = window.stack.currentWidget()
        qtbot.waitUntil(lambda c=current: c.isVisible())
        assert _problems(window.centralWidget()) == [], page
        assert _problems(window.statusBar()) == []
    wait_idle(qtbot, controller)


def test_the_search_filters_wrap_onto_more_lines_when_the_window_narrows(
    qtbot, make_app, tiny_model
):
    controller, window = make_app(tiny_model, start=False)
    page = window.search

    def middle(w: QWidget) -> int:
        return w.mapTo(page, w.rect().center()).y()

    window.resize(1600, 800)
    qtbot.waitUntil(lambda: page.width() > 1300)
    assert abs(middle(page.sort) - middle(page.folder)) < page.folder.height() // 2  # one line
    window.resize(800, 600)
    qtbot.waitUntil(lambda: window.width() == 800)
    # the sort menu went down a line, the grid below it too, and nothing overlaps
    assert middle(page.sort) - middle(page.folder) >= page.folder.height()
    # (the grid sits in a splitter beside the tag panel: its top in the page's coordinates)
    grid_top = page.grid.mapTo(page, page.grid.rect().topLeft()).y()
    assert grid_top > page.sort.mapTo(page, page.sort.rect().bottomLeft()).y()
    assert _problems(page) == []


@pytest.fixture
def larger_font(qapp):
    """A desktop whose font is a fifth larger than Qt's default (GNOME's, a user's choice)."""
    font = qapp.font()
    bigger = type(font)(font)
    bigger.setPointSizeF(font.pointSizeF() * 1.2)
    qapp.setFont(bigger)
    yield
    qapp.setFont(font)


def test_with_a_fifth_larger_font_every_page_still_fits_800_px(
    qtbot, make_app, tiny_model, larger_font
):
    _controller, window = make_app(tiny_model, start=False)
    window.resize(800, 600)
    for page in PAGES_AT_800:
        window.show_page(page)
        current = window.stack.currentWidget()
        qtbot.waitUntil(lambda c=current: c.isVisible())
        assert window.minimumSizeHint().width() <= 800, (page, window.minimumSizeHint())
