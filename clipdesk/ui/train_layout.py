"""Layout of the Train tab's panels at any window width: columns side by side when they fit,
stacked when they do not, inside a scroll area that scrolls vertically only when the stack is
taller than the window (never sideways: every part is narrower than the narrowest window)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QBoxLayout, QFrame, QScrollArea, QVBoxLayout, QWidget


class Reflow(QWidget):
    """Columns of widgets, side by side from ``wide_at`` pixels (or more, when the columns need
    more), one under the other below that. Its minimum width is the widest column's, so a scroll
    area can always give it the viewport's width."""

    def __init__(
        self,
        columns: Sequence[Sequence[QWidget]],
        wide_at: int,
        stretches: Sequence[int] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.wide_at = wide_at
        self.box = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self.box.setContentsMargins(0, 0, 0, 0)
        self.columns: list[QWidget] = []
        for i, parts in enumerate(columns):
            column = QWidget(self)
            lay = QVBoxLayout(column)
            lay.setContentsMargins(0, 0, 0, 0)
            for part in parts:
                lay.addWidget(part, part.sizePolicy().verticalStretch())
            self.box.addWidget(column, stretches[i] if stretches else 1)
            self.columns.append(column)

    @property
    def wide(self) -> bool:
        return self.box.direction() == QBoxLayout.Direction.LeftToRight

    def threshold(self) -> int:
        """The width from which the columns stand side by side: ``wide_at``, or what they need."""
        side_by_side = sum(c.minimumSizeHint().width() for c in self.columns)
        spacing = self.box.spacing() * (len(self.columns) - 1)
        return max(self.wide_at, side_by_side + spacing)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        width = max((c.minimumSizeHint().width() for c in self.columns), default=0)
        return QSize(width, self.box.minimumSize().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.reflow(event.size().width())

    def reflow(self, width: int) -> None:
        wide = width >= self.threshold()
        if wide != self.wide:
            self.box.setDirection(
                QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
            )
            self.updateGeometry()  # a stack is taller: the scroll area must know


def scrolled(content: QWidget, parent: QWidget | None = None) -> QScrollArea:
    """``content`` in a frameless scroll area that gives it the viewport's width."""
    area = QScrollArea(parent)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    # as needed, not off: were a part ever wider than the window, it must not be cut silently
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    area.setWidget(content)
    return area
