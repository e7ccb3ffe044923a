"""The photo view's words: its XMP title and description, the text OCR read in it (selectable and
copyable), and that text's boxes drawn over the photo on request.

The boxes are fractions of the upright photo (:class:`clipdesk.services.records.OcrBox`), the
same frame the preview is decoded in (EXIF orientation applied), so they map onto whatever size
the preview is shown at.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:  # the window is built before numpy and the library code load (test_layering)
    from clipdesk.services.records import OcrBox, PhotoText

NOT_READ = "Text not read yet"
NO_TEXT = "No text found in this photo"
_BOX = QColor(255, 196, 0)
_BOX_FILL = QColor(255, 196, 0, 48)
_BOX_EDGE = QColor(0, 0, 0, 160)  # a dark rim keeps the yellow visible on light photos


def text_status(text: PhotoText | None) -> str:
    """One line on the state of a photo's OCR: not read yet, failed (with why), or read."""
    if text is None or (text.ocr_at is None and not text.ocr_error):
        return NOT_READ
    if text.ocr_error:
        return f"Text could not be read: {text.ocr_error}"
    if text.ocr is None or not text.ocr.strip():
        return NO_TEXT
    lines = len(text.boxes) or len(text.ocr.splitlines())
    status = f"{lines} line{'s' if lines != 1 else ''} of text"
    if text.ocr_confidence is not None:
        status += f", {text.ocr_confidence:.0%} confidence"
    return status


class TextBoxOverlay(QWidget):
    """Draws OCR boxes over the pixmap a QLabel shows centred; lets every click through."""

    def __init__(self, label: QLabel) -> None:
        super().__init__(label)
        self._label = label
        self._boxes: tuple[OcrBox, ...] = ()
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setGeometry(label.rect())
        label.installEventFilter(self)
        self.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._label and event.type() == QEvent.Type.Resize:
            self.setGeometry(self._label.rect())
        return False

    def set_boxes(self, boxes: Sequence[OcrBox]) -> None:
        self._boxes = tuple(boxes)
        self.update()

    def image_rect(self) -> QRectF:
        """Where the label's pixmap lies, in this widget's coordinates (empty: none shown)."""
        pixmap = self._label.pixmap()
        if pixmap is None or pixmap.isNull():
            return QRectF()
        size = pixmap.deviceIndependentSize()
        area = QRectF(self._label.contentsRect())
        return QRectF(
            area.x() + (area.width() - size.width()) / 2,
            area.y() + (area.height() - size.height()) / 2,
            size.width(),
            size.height(),
        )

    def polygons(self) -> list[QPolygonF]:
        """The boxes as drawn now (none while no photo is shown)."""
        rect = self.image_rect()
        if rect.isEmpty():
            return []
        return [
            QPolygonF(
                [
                    QPointF(rect.x() + x * rect.width(), rect.y() + y * rect.height())
                    for x, y in b.points
                ]
            )
            for b in self._boxes
            if len(b.points) >= 3
        ]

    def paintEvent(self, event: QPaintEvent) -> None:
        polygons = self.polygons()
        if not polygons:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for pen in (QPen(_BOX_EDGE, 3.5), QPen(_BOX, 1.75)):
            painter.setPen(pen)
            painter.setBrush(_BOX_FILL if pen.color() == _BOX else Qt.BrushStyle.NoBrush)
            for polygon in polygons:
                painter.drawPolygon(polygon)
        painter.end()


class PhotoTextPanel(QWidget):
    """The recognised text of one photo; its title and description are in :attr:`caption`, a
    widget of their own for the view to place beside the photo's other facts."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QWidget(parent)
        self.title = QLabel(self.caption)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.description = QLabel(self.caption)
        caption = QVBoxLayout(self.caption)
        caption.setContentsMargins(0, 0, 0, 0)
        caption.addWidget(self.title)
        caption.addWidget(self.description)
        for label in (self.title, self.description):
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.PlainText)  # another tool's words, never markup
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.hide()
        self.status = QLabel(NOT_READ, self)
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.text.setPlaceholderText("The words OCR finds in the photo appear here.")
        self.text.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # arrows stay the dialog's
        self.show_boxes = QCheckBox("Show text boxes", self)
        self.show_boxes.setToolTip("Draw where each line of text was found (T)")
        self.show_boxes.setEnabled(False)
        self.copy = QPushButton("Copy text", self)
        self.copy.setToolTip("Copy the selected text, or all of it")
        self.copy.setEnabled(False)
        self.copy.clicked.connect(self.copy_text)
        row = QHBoxLayout()
        row.addWidget(self.show_boxes, 1)
        row.addWidget(self.copy)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Text in the photo", self))
        layout.addWidget(self.status)
        layout.addWidget(self.text, 1)
        layout.addLayout(row)
        self.pending = True  # nothing read yet: worth asking again when the library changes

    def show_loading(self) -> None:
        self._fill(None, "Loading…")

    def show_text(self, text: PhotoText | None) -> None:
        self._fill(text, text_status(text))

    def show_problem(self, message: str) -> None:
        self._fill(None, f"Text unavailable: {message}")

    def _fill(self, text: PhotoText | None, status: str) -> None:
        self.pending = status == NOT_READ
        for label, value in (
            (self.title, text.title if text else None),
            (self.description, text.description if text else None),
        ):
            label.setText(value or "")
            label.setVisible(bool(value))
        self.caption.setVisible(bool(text is not None and (text.title or text.description)))
        self.status.setText(status)
        self.status.setToolTip((text.ocr_engine or "") if text is not None else "")
        words = (text.ocr or "") if text is not None and not text.ocr_error else ""
        self.text.setPlainText(words)
        self.copy.setEnabled(bool(words))
        self.show_boxes.setEnabled(bool(text is not None and text.boxes))

    def copy_text(self) -> None:
        selected = self.text.textCursor().selectedText().replace("\u2029", "\n")
        QGuiApplication.clipboard().setText(selected or self.text.toPlainText())
