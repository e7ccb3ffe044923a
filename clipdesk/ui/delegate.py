"""Paints one grid cell: the cached thumbnail (or a placeholder while it loads), the file name
under it (the caption's whole width), the score as a small badge on the thumbnail's corner (always,
on hover, or never: :data:`~clipdesk.ui.settings.SCORE_SHOWN`), and for a photo a search found by
its words a small badge saying where ("text" for recognised text, "name", "caption", "tag"; the
tooltip says it in full, with the snippet), and a dashed "?" mark on the top-right corner for
tags the model suggested that nobody confirmed (:func:`suggestion_mark`), and the photo's rating
and colour label as stars and a coloured dot on the bottom-left corner (:meth:`_paint_marks`). The cell's size is the grid's (:attr:`cell`)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from clipdesk.ui.marks import LABEL_COLOURS
from clipdesk.ui.photo_model import PhotoItem, Role
from clipdesk.ui.settings import CELL, ScoreShown
from clipdesk.ui.thumbnails import ThumbnailCache

_SELECTED = QStyle.StateFlag.State_Selected
_HOVER = QStyle.StateFlag.State_MouseOver
_FOCUS = QStyle.StateFlag.State_HasFocus
CAPTION = 18
PAD = 6
_BADGE_BACK = QColor(0, 0, 0, 170)
_BADGE_TEXT = QColor(255, 255, 255)
_STARS = QColor(255, 204, 64)  # the rating's stars (gold)
_REJECTED = QColor(240, 90, 90)
SUGGESTED_COLOUR = QColor(255, 196, 0)  # the suggestion mark's outline and text (amber)
# The badge of the first word source a photo matched by (services.search.WORD_SOURCES' order).
BADGES = {"ocr": "text", "name": "name", "meta": "caption", "tags": "tag"}


def suggestion_mark(item: PhotoItem | None) -> str | None:
    """The thumbnail's mark for tags the model suggested and nobody confirmed: "?" for one,
    "3?" for three; None for a photo whose tags (of the grid's tag filter) are all confirmed,
    or that has none. A suggestion must never look like the user's own tag."""
    if item is None or item.suggested <= 0:
        return None
    return "?" if item.suggested == 1 else f"{item.suggested}?"


def badge_of(matched_by: tuple[str, ...]) -> str | None:
    """The badge of a photo found by its words; None for CLIP's matches alone (and browsing)."""
    for source in matched_by:
        badge = BADGES.get(source)
        if badge is not None:
            return badge
    return None


class ThumbnailDelegate(QStyledItemDelegate):
    def __init__(
        self, thumbs: ThumbnailCache, parent=None, score_shown: ScoreShown = "badge"
    ) -> None:
        super().__init__(parent)
        self._thumbs = thumbs
        self.score_shown: ScoreShown = score_shown
        self.cell = CELL  # logical pixels of the thumbnail square
        # the score badge's font, made from the view's: (view font, badge font, its metrics)
        self._badge_font: tuple[QFont, QFont, QFontMetrics] | None = None
        self._badge_widths: dict[str, int] = {}

    def cell_size(self) -> QSize:
        return QSize(self.cell + 2 * PAD, self.cell + CAPTION + 2 * PAD)

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        return self.cell_size()

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        painter.save()
        palette = option.palette
        rect = option.rect
        state = option.state
        selected = _SELECTED in state
        if selected:
            painter.fillRect(rect, palette.color(QPalette.ColorRole.Highlight))
        elif _HOVER in state:
            painter.fillRect(rect, palette.color(QPalette.ColorRole.AlternateBase))

        cell = self.cell
        box = QRect(rect.x() + PAD, rect.y() + PAD, cell, cell)
        item = index.data(Role.Item)  # a Python object: its path keeps bytes Qt's text drops
        photo_id = item.id if item is not None else None
        pixmap = self._thumbs.get(item.id, item.path, cell) if item is not None else None
        target = box
        if pixmap is not None and not pixmap.isNull():
            # Made at the cell's size in device pixels: drawn 1:1, no resampling per frame -
            # but for a stand-in of another size while the cells change size, scaled to fit.
            size = pixmap.deviceIndependentSize().toSize()
            if max(size.width(), size.height()) != cell:
                size = size.scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            target = QRect(0, 0, size.width(), size.height())
            target.moveCenter(box.center())
            painter.drawPixmap(target, pixmap)
        else:
            painter.fillRect(box, palette.color(QPalette.ColorRole.Mid).lighter(130))
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            broken = photo_id is not None and self._thumbs.error(photo_id)
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "unreadable" if broken else "…")
        badge = badge_of(item.matched_by) if item is not None and item.matched_by else None
        if badge is not None:
            metrics = painter.fontMetrics()
            tag = QRect(
                box.x() + 3, box.y() + 3, metrics.horizontalAdvance(badge) + 8, metrics.height()
            )
            painter.fillRect(tag, palette.color(QPalette.ColorRole.Highlight))
            painter.setPen(palette.color(QPalette.ColorRole.HighlightedText))
            painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, badge)

        score = index.data(Role.Score)
        shown = self.score_shown
        if score is not None and (shown == "badge" or (shown == "hover" and _HOVER in state)):
            self._paint_score(painter, target, f"{score:.2f}")
        mark = suggestion_mark(item)
        if mark is not None:
            self._paint_suggested(painter, target, mark)
        if item is not None and (item.rating or item.label):
            self._paint_marks(painter, target, item.rating, item.label)

        # the name has the caption's whole width: the score is on the thumbnail, not beside it
        caption = QRect(rect.x() + PAD, box.bottom() + 2, cell, CAPTION)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(palette.color(role))
        text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        elided = painter.fontMetrics().elidedText(
            text, Qt.TextElideMode.ElideMiddle, caption.width()
        )
        painter.drawText(
            caption, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, elided
        )
        if _FOCUS in state:
            painter.setPen(QColor(palette.color(QPalette.ColorRole.Highlight)))
            painter.drawRect(rect.adjusted(0, 0, -1, -1))
        painter.restore()

    def _paint_score(self, painter: QPainter, image: QRect, text: str) -> None:
        """The score in the image's bottom-right corner: white on a dark, mostly opaque chip,
        which reads on any photo, in a font a little smaller than the caption's."""
        font, metrics = self._score_font(painter.font())
        width = self._badge_widths.get(text)
        if width is None:  # a few hundred texts at most (0.00 to 1.00, and below 0)
            width = self._badge_widths[text] = metrics.horizontalAdvance(text)
        chip = QRect(0, 0, width + 6, metrics.height())
        chip.moveBottomRight(image.bottomRight() - QPoint(2, 2))
        painter.fillRect(chip, _BADGE_BACK)
        painter.save()
        painter.setFont(font)
        painter.setPen(_BADGE_TEXT)
        painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def _paint_suggested(self, painter: QPainter, image: QRect, mark: str) -> None:
        """The suggestion mark in the image's top-right corner: a dashed, open chip (a
        suggestion is tentative), amber on dark so it reads on any photo, and unlike the solid
        badges of what is known (the score, why a photo matched)."""
        font, metrics = self._score_font(painter.font())
        chip = QRect(0, 0, metrics.horizontalAdvance(mark) + 8, metrics.height())
        chip.moveTopRight(image.topRight() + QPoint(-2, 2))
        painter.save()
        painter.fillRect(chip, _BADGE_BACK)
        pen = QPen(SUGGESTED_COLOUR)
        pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawRect(chip.adjusted(0, 0, -1, -1))
        painter.setFont(font)
        painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, mark)
        painter.restore()

    def _paint_marks(self, painter: QPainter, image: QRect, rating: int, label: str | None) -> None:
        """The rating and colour label in the image's bottom-left corner, on a dark chip: a dot
        of the label's colour, then gold stars (a red cross for a rejected photo)."""
        font, metrics = self._score_font(painter.font())
        stars = "✕" if rating < 0 else "★" * rating
        height = metrics.height()
        dot = height - 6 if label else 0
        gap = 3 if label and stars else 0
        width = 6 + dot + gap + (metrics.horizontalAdvance(stars) if stars else 0)
        chip = QRect(0, 0, width, height)
        chip.moveBottomLeft(image.bottomLeft() + QPoint(2, -2))
        painter.save()
        painter.fillRect(chip, _BADGE_BACK)
        if label:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(LABEL_COLOURS.get(label, _BADGE_TEXT))
            painter.drawEllipse(QRect(chip.x() + 3, chip.y() + 3, dot, dot))
        if stars:
            painter.setFont(font)
            painter.setPen(_REJECTED if rating < 0 else _STARS)
            text = QRect(chip.x() + 3 + dot + gap, chip.y(), chip.width() - 3 - dot - gap, height)
            painter.drawText(
                text, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, stars
            )
        painter.restore()

    def _score_font(self, base: QFont) -> tuple[QFont, QFontMetrics]:
        # Made once per view font: a new QFont a cell costs a font lookup a cell (0.1 ms).
        if self._badge_font is None or self._badge_font[0] != base:
            font = QFont(base)
            if font.pointSizeF() > 0:
                font.setPointSizeF(max(6.0, font.pointSizeF() * 0.85))
            else:  # a font sized in pixels
                font.setPixelSize(max(8, round(font.pixelSize() * 0.85)))
            self._badge_font = (QFont(base), font, QFontMetrics(font))
            self._badge_widths.clear()
        return self._badge_font[1], self._badge_font[2]
