"""The search box: text typed as you go (debounced), plus an optional query-image chip.

``queryChanged(text, image)`` fires once typing pauses, at once on Enter, and whenever the chip is
set or removed. Dropping an image (file, browser image, image data) on the box or pasting one sets
the chip; the text then refines it ("this, but at night"). The box's tooltip and its "?" button
show the query syntax (:data:`HELP`, the table of :mod:`clipdesk.search.query`).
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QToolButton, QToolTip, QWidget

from clipdesk.ui.drops import QueryImage, has_image, query_image_from

DEBOUNCE_MS = 180

_SYNTAX = (
    ("kids on a beach at sunset", "a phrase: found by CLIP and by the words of photos"),
    ("beach +0.5 sunset -people", "weights: sunset counts half, people pushes away"),
    (
        "text:invoice",
        "only the words: text in the photo, file and folder names, captions, "
        "keywords, tags (no model needed)",
    ),
    ("clip:a red sign", "only CLIP: the words of photos are not searched"),
    ("sunset -text:watermark", "no photo whose words hold “watermark”"),
    ("red car +photo:42", "a phrase and a photo's look (as More like this)"),
    ('"-80s poster" +2 neon', "double quotes keep + - and text: as plain words"),
)
HELP = (
    "<p><b>Search</b>: type what a photo shows or the words in it, or drop an image.</p><table>"
    + "".join(
        f"<tr><td><code>{q.replace('<', '&lt;')}</code>&nbsp;&nbsp;</td><td>{what}</td></tr>"
        for q, what in _SYNTAX
    )
    + "</table><p>Each result says why it matched: CLIP, or where its words were found.</p>"
)


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
            'Describe a photo or the words in it ("kids on a beach", "text:invoice"), '
            "or drop an image here"
        )
        self.line.setClearButtonEnabled(True)
        self.line.setAcceptDrops(False)  # drops go to the box, which knows about images
        self.line.setToolTip(HELP)
        self.line.imagePasted.connect(self.set_image)
        self.help = QToolButton(self)
        self.help.setObjectName("SearchHelp")
        self.help.setText("?")
        self.help.setToolTip(HELP)
        self.help.setAccessibleName("Search syntax")
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
        self.line.setPlaceholderText("Describe a photo or the words in it, or drop an image here")
        self._emit()

    def show_help(self) -> None:
        """The query syntax at once, under the "?" button (a tooltip needs a hover)."""
        QToolTip.showText(self.help.mapToGlobal(QPoint(0, self.help.height())), HELP, self.help)

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
