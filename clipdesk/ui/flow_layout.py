"""A layout that places its items left to right and wraps them onto more lines when the width
runs out (Qt's flow layout example, typed), so a row of filters never forces the window wider.

Its minimum width is its widest item's; its height follows its width (``heightForWidth``), so the
layout above it gives it a second line when it needs one. Items keep their size hints; an item
whose line has room left stays at its hint (a filter row is not stretched across the window).
"""

from __future__ import annotations

from PySide6.QtCore import QMargins, QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QLayoutItem, QSizePolicy, QStyle, QWidget


class FlowLayout(QLayout):
    def __init__(self, parent: QWidget | None = None, spacing: int = -1) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing
        if parent is None:
            self.setContentsMargins(0, 0, 0, 0)

    # --- QLayout's item list ----------------------------------------------------------------
    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    # --- sizes ------------------------------------------------------------------------------
    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QRect(0, 0, width, 0), apply=False)

    def sizeHint(self) -> QSize:
        # One line: what the items ask for when there is room for all of them.
        width = sum(item.sizeHint().width() for item in self._visible())
        width += self._gap(Qt.Orientation.Horizontal) * max(0, len(self._visible()) - 1)
        height = max((item.sizeHint().height() for item in self._visible()), default=0)
        return self._with_margins(QSize(width, height))

    def minimumSize(self) -> QSize:
        # One item a line at worst: the widest item is all the width this layout insists on.
        size = QSize()
        for item in self._visible():
            size = size.expandedTo(item.minimumSize())
        return self._with_margins(size)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, apply=True)

    # --- placing ----------------------------------------------------------------------------
    def _visible(self) -> list[QLayoutItem]:
        return [item for item in self._items if not item.isEmpty()]

    def _with_margins(self, size: QSize) -> QSize:
        m: QMargins = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    def _gap(self, orientation: Qt.Orientation) -> int:
        if self._spacing >= 0:
            return self._spacing
        # The style's spacing between two push buttons, as QBoxLayout uses by default.
        parent = self.parentWidget()
        if parent is None:
            return 6
        metric = (
            QStyle.PixelMetric.PM_LayoutHorizontalSpacing
            if orientation == Qt.Orientation.Horizontal
            else QStyle.PixelMetric.PM_LayoutVerticalSpacing
        )
        gap = parent.style().pixelMetric(metric, None, parent)
        if gap < 0:
            gap = parent.style().layoutSpacing(
                QSizePolicy.ControlType.PushButton, QSizePolicy.ControlType.PushButton, orientation
            )
        return max(0, gap)

    def _arrange(self, rect: QRect, apply: bool) -> int:
        """Place the items in ``rect`` (when ``apply``); returns the height they take."""
        m = self.contentsMargins()
        area = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        dx, dy = self._gap(Qt.Orientation.Horizontal), self._gap(Qt.Orientation.Vertical)
        x, y, line = area.x(), area.y(), 0
        placed: list[tuple[QLayoutItem, QPoint, QSize]] = []
        lines: list[tuple[int, int, int]] = []  # (first of placed, count, line height)
        start = 0
        for item in self._visible():
            hint = item.sizeHint().expandedTo(item.minimumSize())
            width = min(hint.width(), max(item.minimumSize().width(), area.width()))
            if x > area.x() and x + width > area.right() + 1:
                lines.append((start, len(placed) - start, line))
                start = len(placed)
                x, y, line = area.x(), y + line + dy, 0
            placed.append((item, QPoint(x, y), QSize(width, hint.height())))
            x += width + dx
            line = max(line, hint.height())
        lines.append((start, len(placed) - start, line))
        if apply:
            for first, count, height in lines:
                for item, at, size in placed[first : first + count]:
                    # centred on its line: a checkbox beside a combo box sits on the same middle
                    top = at.y() + (height - size.height()) // 2
                    item.setGeometry(QRect(QPoint(at.x(), top), size))
        return y + line - rect.y() + m.bottom()
