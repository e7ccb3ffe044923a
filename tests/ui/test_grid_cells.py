"""The grid's cells: a thumbnail size the user picks (slider, Ctrl+= / Ctrl+-) and keeps, the
file name readable in full, the score as a badge on the thumbnail (always, on hover, or never)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QObject, QPoint, QRect, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionViewItem

from clipdesk.ui.delegate import PAD, ThumbnailDelegate
from clipdesk.ui.photo_model import PhotoItem, PhotoListModel
from clipdesk.ui.settings import CELL, CELL_MAX, CELL_MIN, AppSettings

pytestmark = pytest.mark.usefixtures("no_leaks")
_CTRL = Qt.KeyboardModifier.ControlModifier


def test_ctrl_equals_and_ctrl_minus_resize_every_grid_and_the_size_outlives_a_restart(
    qtbot, make_app, tiny_model, tmp_path
):
    controller, window = make_app(tiny_model, start=False)
    grids = (window.search.grid, window.tags.preview, window.tags.review.batch.grid)
    assert {g.cell for g in grids} == {CELL}
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window, Qt.Key.Key_Equal, _CTRL)
    assert {g.cell for g in grids} == {CELL + 32}
    assert window.thumb_size.value() * 16 == CELL + 32
    for _ in range(4):
        qtbot.keyClick(window, Qt.Key.Key_Minus, _CTRL)
    assert {g.cell for g in grids} == {CELL_MIN}  # never below the smallest size
    window.thumb_size.setValue(CELL_MAX // 16)  # the status bar's slider
    assert {g.cell for g in grids} == {CELL_MAX}
    assert grids[0].gridSize().width() > CELL_MAX
    assert AppSettings(tmp_path / "ui.ini").thumbnail_px == CELL_MAX

    _controller, again = make_app(tiny_model, start=False)  # the next start
    assert again.search.grid.cell == again.tags.preview.cell == CELL_MAX
    assert again.thumb_size.value() * 16 == CELL_MAX


def test_how_scores_show_is_chosen_in_the_view_menu_and_remembered(
    qtbot, make_app, tiny_model, tmp_path
):
    controller, window = make_app(tiny_model, start=False)
    assert window.score_actions["badge"].isChecked()
    window.score_actions["hover"].trigger()
    assert window.search.grid.score_shown == window.tags.preview.score_shown == "hover"
    assert AppSettings(tmp_path / "ui.ini").score_shown == "hover"
    _controller, again = make_app(tiny_model, start=False)
    assert again.score_actions["hover"].isChecked() and again.search.grid.score_shown == "hover"


def test_settings_out_of_range_or_unknown_fall_back_to_what_the_app_knows(tmp_path):
    settings = AppSettings(tmp_path / "ui.ini")
    settings.thumbnail_px = 10_000
    assert settings.thumbnail_px == CELL_MAX
    settings._set("grid/thumbnail_px", "large")
    settings._set("grid/score_shown", "sideways")
    again = AppSettings(tmp_path / "ui.ini")
    assert (again.thumbnail_px, again.score_shown) == (CELL, "badge")
    with pytest.raises(ValueError, match="badge, hover, off"):
        again.score_shown = "sideways"  # type: ignore[assignment]


# --- painting one cell -----------------------------------------------------------------------
_GREEN = QColor(0, 160, 0)


class _SolidThumbs(QObject):
    """Every photo's thumbnail is a green square of the cell's size."""

    ready = Signal(int)
    failed = Signal(int, str)

    def get(self, _photo_id, _path, cell=CELL):
        pixmap = QPixmap(cell, cell)
        pixmap.fill(_GREEN)
        return pixmap

    def error(self, _photo_id):
        return None


def _paint(delegate: ThumbnailDelegate, item: PhotoItem, hover: bool = False) -> QImage:
    model = PhotoListModel()
    model.set_items([item])
    size = delegate.cell_size()
    image = QImage(size, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    option = QStyleOptionViewItem()
    option.rect = QRect(QPoint(0, 0), size)
    option.palette = QApplication.palette()
    option.state = QStyle.StateFlag.State_Enabled
    if hover:
        option.state |= QStyle.StateFlag.State_MouseOver
    painter = QPainter(image)
    delegate.paint(painter, option, model.index(0, 0))
    painter.end()
    return image


def _badge_shown(image: QImage, cell: int) -> bool:
    """Whether the thumbnail's bottom-right corner is covered (by the dark score badge)."""
    corner = image.pixelColor(PAD + cell - 5, PAD + cell - 5)
    return corner.green() < 100


def test_the_score_is_a_badge_on_the_thumbnail_always_on_hover_or_never(qapp):
    delegate = ThumbnailDelegate(_SolidThumbs())
    item = PhotoItem(1, "/p/a.jpg", score=0.73)
    assert _badge_shown(_paint(delegate, item), CELL)
    delegate.score_shown = "hover"
    assert not _badge_shown(_paint(delegate, item), CELL)
    assert _badge_shown(_paint(delegate, item, hover=True), CELL)
    delegate.score_shown = "off"
    assert not _badge_shown(_paint(delegate, item, hover=True), CELL)
    delegate.score_shown = "badge"
    assert not _badge_shown(_paint(delegate, PhotoItem(2, "/p/b.jpg")), CELL)  # browsed: none
    delegate.cell = 256
    assert _badge_shown(_paint(delegate, item), 256)  # on the corner of a bigger cell too


def test_the_file_name_has_the_captions_whole_width_beside_a_score(qapp):
    delegate = ThumbnailDelegate(_SolidThumbs())
    probe = QImage(1, 1, QImage.Format.Format_ARGB32)
    painter = QPainter(probe)
    metrics = painter.fontMetrics()
    painter.end()
    # a name that fits the cell's width, but not the width a score beside it would leave
    crowded = CELL - metrics.horizontalAdvance("0.73") - 4
    name = "IMG_0"
    while metrics.horizontalAdvance(name + "0.webp") <= crowded:
        name += "0"
    name += "0.webp"
    assert crowded < metrics.horizontalAdvance(name) <= CELL

    image = _paint(delegate, PhotoItem(1, f"/p/{name}", score=0.73))
    expected = QImage(image.size(), image.format())
    expected.fill(QColor("white"))
    caption = QRect(PAD, PAD + CELL + 1, CELL, image.height() - PAD - CELL - 1)
    painter = QPainter(expected)
    painter.setPen(QApplication.palette().text().color())
    text = QRect(PAD, PAD + CELL + 1, CELL, 18)
    painter.drawText(text, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
    painter.end()
    # the caption strip holds the whole name and nothing else
    assert image.copy(caption) == expected.copy(caption)


def test_the_tag_panel_can_be_hidden_for_the_grid_and_stays_hidden_at_the_next_start(
    qtbot, make_app, tiny_model, tmp_path
):
    _controller, window = make_app(tiny_model, start=False)
    window.show()
    qtbot.waitExposed(window)
    assert window.search.tag_panel.isVisible() and window.tag_panel_action.isChecked()
    columns = window.search.grid.viewport().width()
    window.tag_panel_action.trigger()  # View › Tag panel
    assert not window.search.tag_panel.isVisible()
    qtbot.waitUntil(lambda: window.search.grid.viewport().width() > columns)
    assert AppSettings(tmp_path / "ui.ini").tag_panel_shown is False

    _controller, again = make_app(tiny_model, start=False)
    again.show()
    qtbot.waitExposed(again)
    assert not again.search.tag_panel.isVisible() and not again.tag_panel_action.isChecked()
