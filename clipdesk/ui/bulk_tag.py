"""The grid selection's tag action (Edit > Tag selected photos…, Ctrl+T, the grid's context menu):
add or remove a label on every selected photo, or confirm or reject the model's suggestion of it.

The tag is typed with completion over every "Category › label"; a word no category has becomes a
keyword of the user's own (the service decides which: ``TagService.keyword_tag``). The action is
one services call, in one transaction, on the database pool; its result carries the undo step
(:attr:`BulkTagDialog.tagged`). A refused tag (a label the model's category lacks) is said in
the dialog, which stays open to correct it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from clipdesk.services.records import LABEL_ARROW, BulkTagging
from clipdesk.ui.controller import AppController, describe_error, error_sentence

ACTIONS = (
    ("Add the tag", "add"),
    ("Remove the tag", "remove"),
    ("Confirm the model's suggestion", "confirm"),
    ("Reject the model's suggestion", "reject"),
)


def tag_completer(parent: QWidget) -> QCompleter:
    """Completion over "Category › label", matching any part of it, in any case."""
    completer = QCompleter([], parent)
    completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    completer.setFilterMode(Qt.MatchFlag.MatchContains)
    completer.setMaxVisibleItems(12)
    return completer


def set_choices(completer: QCompleter, choices: list[tuple[str, str]]) -> None:
    model = completer.model()
    texts = [f"{c}{LABEL_ARROW}{lab}" for c, lab in choices]
    model.setStringList(texts)  # type: ignore[attr-defined]  # a QStringListModel


class BulkTagDialog(QDialog):
    """Ask which tag and which action, then apply it to ``photo_ids``."""

    tagged = Signal(object)  # BulkTagging: what changed, with the step undo takes

    def __init__(self, controller: AppController, photo_ids: list[int], parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.photo_ids = photo_ids
        n = len(photo_ids)
        self.setWindowTitle(f"Tag {n:,} photo{'s' * (n != 1)}")
        self.action = QComboBox(self)
        for text, value in ACTIONS:
            self.action.addItem(text, value)
        self.tag = QLineEdit(self)
        self.tag.setPlaceholderText(f"Category{LABEL_ARROW}label, or a new keyword")
        self.tag.setClearButtonEnabled(True)
        self.completer = tag_completer(self)
        self.tag.setCompleter(self.completer)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.apply)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Action", self.action)
        form.addRow("Tag", self.tag)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.resize(420, self.sizeHint().height())
        controller.call(
            lambda b, _t: b.services.tags.tag_choices(),
            lambda choices: set_choices(self.completer, choices),
            owner=self,
        )

    def apply(self) -> None:
        text = self.tag.text()
        if not text.strip():
            self.message.setText("Type a tag, or pick one from the list as you type.")
            return
        ids, action = list(self.photo_ids), str(self.action.currentData())

        def run(b, _token) -> BulkTagging:
            tags = b.services.tags
            category, label = tags.keyword_tag(text)
            return tags.tag_photos(ids, category, label, action)

        self.buttons.setEnabled(False)
        self.message.setText("Tagging…")
        self.controller.call(run, self._done, self._failed, owner=self)

    def _done(self, done: BulkTagging) -> None:
        self.controller.noticeRaised.emit(done.describe()[:1].upper() + done.describe()[1:] + ".")
        self.tagged.emit(done)
        self.controller.libraryChanged.emit()  # the grid, the tag filter and panel show it
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.buttons.setEnabled(True)
        self.message.setText(error_sentence(*describe_error(exc)))


def open_bulk_tag(controller: AppController, photo_ids: list[int], parent: QWidget) -> None:
    """The tag dialog for these photos, or a word in the status bar when none are selected."""
    if not photo_ids:
        controller.noticeRaised.emit("Select photos first (Ctrl+A selects every photo shown).")
        return
    dialog = BulkTagDialog(controller, photo_ids, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
