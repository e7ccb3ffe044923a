"""The search box: text typed as you go (debounced), plus an optional query-image chip.

``queryChanged(text, image)`` fires once typing pauses, at once on Enter, and whenever the chip is
set or removed. Dropping an image (file, browser image, image data) on the box or pasting one sets
the chip; the text then refines it ("this, but at night"). The box's tooltip and its "?" button
show the query syntax (the table of :mod:`clipdesk.search.query`). Its examples fit the model
(:meth:`SearchBox.suit_model`: the demo model's coloured shapes, or real photos; see
:mod:`clipdesk.ui.query_examples`); until a model has loaded they name none.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QToolButton, QToolTip, QWidget

from clipdesk.ui.drops import QueryImage, has_image, query_image_from
from clipdesk.ui.query_examples import NEUTRAL_PLACEHOLDER, PHOTOS, QueryExamples, for_model

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
        self._examples: QueryExamples | None = None  # None until a model has loaded
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
        self.line.setClearButtonEnabled(True)
        self.line.setAcceptDrops(False)  # drops go to the box, which knows about images
        self.line.imagePasted.connect(self.set_image)
        self.help = QToolButton(self)
        self.help.setObjectName("SearchHelp")
        self.help.setText("?")
        self.help.setAccessibleName("Search syntax")
        self._show_examples()
        self.help.clicked.connect(self.show_help)
        layout.addWidget(self.chip)
        layout.addWidget(self.line, 1)
        layout.addWidget(self.help)
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

    @property
    def examples(self) -> QueryExamples | None:
        """The examples shown (None: no model has loaded yet, so none)."""
        return self._examples

    def suit_model(self, demo: bool) -> None:
        """Show the examples of the model that loaded: the demo model's coloured shapes (and
        that real photos need a real model), or real-world phrases."""
        self._examples = for_model(demo)
        self._show_examples()

    @property
    def help_html(self) -> str:
        return (self._examples or PHOTOS).help_html

    def _show_examples(self) -> None:
        if self._image is not None:
            refine = self._examples.refine if self._examples else PHOTOS.refine
            self.line.setPlaceholderText(f"Add words to refine, e.g. “{refine}”")
        elif self._examples is None:
            self.line.setPlaceholderText(NEUTRAL_PLACEHOLDER)
        else:
            self.line.setPlaceholderText(self._examples.placeholder)
        self.line.setToolTip(self.help_html)
        self.help.setToolTip(self.help_html)

    def set_image(self, image: QueryImage) -> None:
        self._image = image
        self.chip.setIcon(image.preview(56))
        label = image.label if len(image.label) <= 24 else image.label[:21] + "…"
        self.chip.setText(f"{label}  ✕")
        self.chip.show()
        self._show_examples()
        self._emit()

    def clear_image(self) -> None:
        if self._image is None:
            return
        self._image = None
        self.chip.hide()
        self._show_examples()
        self._emit()

    def show_help(self) -> None:
        """The query syntax at once, under the "?" button (a tooltip needs a hover)."""
        QToolTip.showText(
            self.help.mapToGlobal(QPoint(0, self.help.height())), self.help_html, self.help
        )

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
