"""The photo view's keyword field: type a label (completion over every "Category › label") or a
new keyword, Enter adds it to the photo as a confirmed tag.

A word no category has becomes a keyword of the user's own in the manual Keywords category, as
the grid's tag action and ``clipdesk-cli tags add`` do: the same services call, for one photo.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QLabel, QLineEdit, QVBoxLayout, QWidget

from clipdesk.services.records import LABEL_ARROW, BulkTagging
from clipdesk.ui.bulk_tag import set_choices, tag_completer
from clipdesk.ui.controller import AppController, describe_error, error_sentence


class _KeywordLine(QLineEdit):
    def keyPressEvent(self, event: QKeyEvent) -> None:
        super().keyPressEvent(event)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()  # the keyword's Enter, not the photo view's (open in default app)


class KeywordField(QWidget):
    added = Signal(int)  # photo id: a tag was added to it

    def __init__(self, controller: AppController, photo_id: Callable[[], int], parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._photo_id = photo_id  # the photo shown now (the view steps through the grid)
        self.line = _KeywordLine(self)
        self.line.setPlaceholderText(f"Add a keyword or Category{LABEL_ARROW}label, Enter")
        self.line.setToolTip(
            "Enter adds it to this photo as your tag; a new word becomes a keyword of your own"
        )
        self.completer = tag_completer(self)
        self.line.setCompleter(self.completer)
        self.line.returnPressed.connect(self.add)
        # picking a completion adds it: one Enter, not one to pick and one to add
        self.completer.activated.connect(self.add)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.line)
        layout.addWidget(self.message)
        self.load_choices()

    def load_choices(self) -> None:
        self.controller.call(
            lambda b, _t: b.services.tags.tag_choices(),
            lambda choices: set_choices(self.completer, choices),
            owner=self,
        )

    def add(self, text: str | None = None) -> None:
        text = self.line.text() if text is None else text
        if not text.strip():
            return
        pid = self._photo_id()

        def run(b, _token) -> BulkTagging:
            tags = b.services.tags
            category, label = tags.keyword_tag(text)
            return tags.tag_photos([pid], category, label, "add")

        def done(result: BulkTagging) -> None:
            self.message.hide()
            if self.line.text() == text:  # not a word typed meanwhile
                self.line.clear()
            if result.created:
                self.load_choices()
            self.added.emit(pid)

        def failed(exc: BaseException) -> None:
            self.message.setText(error_sentence(*describe_error(exc)))
            self.message.show()

        self.controller.call(run, done, failed, owner=self)
