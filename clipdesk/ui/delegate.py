"""Paints one grid cell: the cached thumbnail (or a placeholder while it loads), a caption, and
for a photo a search found by its words a small badge on the thumbnail saying where ("text" for
recognised text, "name", "caption", "tag"; the tooltip says it in full, with the snippet)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from clipdesk.ui.photo_model import Role
from clipdesk.ui.thumbnails import ThumbnailCache

CELL = 128  # logical pixels of the thumbnail square
_SELECTED = QStyle.StateFlag.State_Selected
_HOVER = QStyle.StateFlag.State_MouseOver
_FOCUS = QStyle.StateFlag.State_HasFocus
CAPTION = 18
PAD = 6
# The badge of the first word source a photo matched by (services.search.WORD_SOURCES' order).
BADGES = {"ocr": "text", "name": "name", "meta": "caption", "tags": "tag"}


def badge_of(matched_by: tuple[str, ...]) -> str | None:
    """The badge of a photo found by its words; None for CLIP's matches alone (and browsing)."""
    for source in matched_by:
        badge = BADGES.get(source)
        if badge is not None:
            return badge
    return None


class ThumbnailDelegate(QStyledItemDelegate):
    def __init__(self, thumbs: ThumbnailCache, parent=None, show_score: bool = True) -> None:
        super().__init__(parent)
        self._thumbs = thumbs
        self.show_score = show_score

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        return QSize(CELL + 2 * PAD, CELL + CAPTION + 2 * PAD)

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

        box = QRect(rect.x() + PAD, rect.y() + PAD, CELL, CELL)
        item = index.data(Role.Item)  # a Python object: its path keeps bytes Qt's text drops
        photo_id = item.id if item is not None else None
        pixmap = self._thumbs.get(item.id, item.path) if item is not None else None
        if pixmap is not None and not pixmap.isNull():
            # Made at the cell's size in device pixels: drawn 1:1, no resampling per frame.
            size = pixmap.deviceIndependentSize().toSize()
            if size.width() > box.width() or size.height() > box.height():
                size = size.scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
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

        caption = QRect(rect.x() + PAD, box.bottom() + 2, CELL, CAPTION)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(palette.color(role))
        score = index.data(Role.Score)
        text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        if self.show_score and score is not None:
            badge = f"{score:.2f}"
            painter.drawText(
                caption, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, badge
            )
            caption.setRight(caption.right() - painter.fontMetrics().horizontalAdvance(badge) - 4)
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
