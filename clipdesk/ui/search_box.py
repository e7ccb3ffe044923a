"""The search box: text typed as you go (debounced), plus an optional query-image chip.

``queryChanged(text, image)`` fires once typing pauses, at once on Enter, and whenever the chip is
set or removed. Dropping an image (file, browser image, image data) on the box or pasting one sets
the chip; the text then refines it ("this, but at night").
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QToolButton, QWidget

from clipdesk.ui.drops import QueryImage, has_image, query_image_from

DEBOUNCE_MS = 180


class _Line(QLineEdit):
    imagePasted = Signal(object)

    def keyPressEvent(self, event) -> None:
        if event.matches(QKeySequence.StandardKey.Paste):
            image = query_image_from(QGuiApplication.clipboard().mimeData())
            if image is not None:
                self.imagePasted.emit(image)
                return
        super().keyPressEvent(event)


class SearchBox(QWidget):
    queryChanged = Signal(str, object)  # text, QueryImage | None

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("SearchBox")
        self.setAcceptDrops(True)
        self._image: QueryImage | None = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.chip = QToolButton(self)
        self.chip.setObjectName("QueryChip")
        self.chip.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.chip.setIconSize(QSize(28, 28))
        self.chip.setToolTip("Searching with this image. Click to remove it.")
        self.chip.clicked.connect(self.clear_image)
        self.chip.hide()
        self.line = _Line(self)
        self.line.setPlaceholderText(
            'Describe a photo ("kids on a beach at sunset") or drop an image here'
        )
        self.line.setClearButtonEnabled(True)
        self.line.setAcceptDrops(False)  # drops go to the box, which knows about images
        self.line.imagePasted.connect(self.set_image)
        layout.addWidget(self.chip)
        layout.addWidget(self.line, 1)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._emit)
        self.line.textEdited.connect(lambda _t: self._debounce.start())
        self.line.returnPressed.connect(self._emit)
        self.line.textChanged.connect(self._cleared)

    # --- state -----------------------------------------------------------------------------
    def text(self) -> str:
        return self.line.text().strip()

    def image(self) -> QueryImage | None:
        return self._image

    def set_text(self, text: str) -> None:
        self.line.setText(text)
        self._emit()

    def set_image(self, image: QueryImage) -> None:
        self._image = image
        self.chip.setIcon(image.preview(56))
        label = image.label if len(image.label) <= 24 else image.label[:21] + "…"
        self.chip.setText(f"{label}  ✕")
        self.chip.show()
        self.line.setPlaceholderText('Add words to refine, e.g. "but at night"')
        self._emit()

    def clear_image(self) -> None:
        if self._image is None:
            return
        self._image = None
        self.chip.hide()
        self.line.setPlaceholderText("Describe a photo or drop an image here")
        self._emit()

    def focus(self) -> None:
        self.line.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.line.selectAll()

    def _cleared(self, text: str) -> None:
        if not text and not self._debounce.isActive():
            self._debounce.start()  # the clear button does not emit textEdited

    def _emit(self) -> None:
        self._debounce.stop()
        self.queryChanged.emit(self.text(), self._image)

    # --- drops -----------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if has_image(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        image = query_image_from(event.mimeData())
        if image is not None:
            event.acceptProposedAction()
            self.set_image(image)
