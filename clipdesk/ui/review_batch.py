"""Review's batch mode: a grid of the most uncertain photos for one label at a time.

The user clicks the photos that are wrong (a click or Space toggles one), then one key, Enter, confirms the label on every other photo of the grid and rejects it on the
selected ones: one step, which Ctrl+Z or Backspace takes back whole (the review panel keeps the
steps and makes the calls; this widget only shows a batch and says what the user chose).
"""

from __future__ import annotations

import html
from collections.abc import Collection
from dataclasses import replace

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from clipdesk.services.records import Category
from clipdesk.ui.controller import AppController
from clipdesk.ui.photo_grid import PhotoGrid
from clipdesk.ui.photo_model import PhotoItem
from clipdesk.ui.rows import ReviewItem

BATCH_SIZE = 48  # 6 x 8 cells at the default size: a screenful to scan at a glance


class ReviewBatch(QWidget):
    """One batch on screen; :attr:`submitted` carries (its items, the ids selected as wrong)."""

    submitted = Signal(object, object)  # list[ReviewItem], set[int]
    changed = Signal()  # the batch on screen or its selection changed

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.items: list[ReviewItem] = []
        self._asked = 0  # batches shown or asked for: a read answered after a newer one is dropped
        self.label = QComboBox(self)
        self.label.setAccessibleName("Label to review")
        self.label.currentIndexChanged.connect(lambda _i: self.load())
        self.hint = QLabel(self)
        self.hint.setWordWrap(True)
        self.hint.setTextFormat(Qt.TextFormat.RichText)
        self.grid = PhotoGrid(controller.thumbs, self, score_shown="hover")
        # a plain click toggles: marking the wrong ones should not need Ctrl held down
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        self.grid.selectionModel().selectionChanged.connect(lambda *_: self._say())
        self.grid.previewRequested.connect(self._toggle)
        self.apply_button = QPushButton(self)
        self.apply_button.clicked.connect(self.submit)
        for key in ("Return", "Enter"):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(self.submit)
        top = QHBoxLayout()
        top.addWidget(QLabel("Label:", self))
        top.addWidget(self.label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.hint)
        layout.addWidget(self.grid, 1)
        layout.addWidget(self.apply_button)
        self._say()

    def set_categories(self, cats: list[Category]) -> None:
        """Offer every label of the categories the model suggests."""
        current = self.label.currentData()
        self.label.blockSignals(True)
        self.label.clear()
        for cat in cats:
            if cat.auto:
                for name in cat.label_names:
                    self.label.addItem(f"{cat.name} › {name}", (cat.name, name))
        self.label.setCurrentIndex(max(0, self._find(current)))
        self.label.blockSignals(False)

    def _find(self, tag: object) -> int:
        # findData compares Python objects by identity: an equal tuple is not found
        for i in range(self.label.count()):
            if self.label.itemData(i) == tag:
                return i
        return -1

    def select_tag(self, category: str, label: str) -> None:
        """Choose that label without reading a batch for it (an undone batch comes back)."""
        self.label.blockSignals(True)
        self.label.setCurrentIndex(max(0, self._find((category, label))))
        self.label.blockSignals(False)

    def tag(self) -> tuple[str, str] | None:
        """(category, label) chosen, None when no category is suggested by the model."""
        data = self.label.currentData()
        return None if data is None else (str(data[0]), str(data[1]))

    def load(self) -> None:
        """Read the next batch for the chosen label: its most uncertain photos first."""
        tag = self.tag()
        if tag is None:
            self.show_items([])
            return
        category, label = tag
        self._asked += 1
        asked = self._asked

        def show(items: list[ReviewItem]) -> None:
            if asked == self._asked:  # else another label, or an undone batch, came since
                self.show_items(items)

        self.controller.call(
            lambda b, _t: b.tags.review_queue(category, BATCH_SIZE, label), show, owner=self
        )

    def show_items(self, items: list[ReviewItem], wrong: Collection[int] = ()) -> None:
        """Show a batch, with the photos in ``wrong`` selected (a batch undone comes back as
        the user had marked it)."""
        self._asked += 1
        self.items = list(items)
        self.grid.photos.set_items([replace(i.photo, score=i.score) for i in self.items])
        selection = self.grid.selectionModel()
        selection.clearSelection()
        flags = QItemSelectionModel.SelectionFlag
        for row, item in enumerate(self.items):
            if item.photo.id in wrong:
                selection.select(self.grid.photos.index(row), flags.Select)
        if self.items:  # the keyboard starts on the first photo, selecting nothing
            selection.setCurrentIndex(self.grid.photos.index(0), flags.NoUpdate)
        self._say()

    def _toggle(self, item: PhotoItem) -> None:
        """Space marks (or unmarks) the photo under the keyboard, as a click does."""
        row = self.grid.photos.row_of(item.id)
        if row is not None:
            self.grid.selectionModel().select(
                self.grid.photos.index(row), QItemSelectionModel.SelectionFlag.Toggle
            )

    def wrong_ids(self) -> set[int]:
        return {item.id for item in self.grid.selected_items()}

    def submit(self) -> None:
        """Confirm the unselected photos and reject the selected ones (one step)."""
        if not self.items:
            return
        items, wrong = self.items, self.wrong_ids()
        self._asked += 1
        self.items = []
        self.grid.photos.set_items([])
        self._say()
        self.submitted.emit(items, wrong)

    def _say(self) -> None:
        tag = self.tag()
        if tag is None:
            self.hint.setText(
                "No category is suggested by the model yet: add one in the Categories tab."
            )
        elif not self.items:
            self.hint.setText(
                f"Nothing to review for {html.escape(tag[0])}: <b>{html.escape(tag[1])}</b>. "
                "Pick another label, or refresh later."
            )
        else:
            self.hint.setText(
                f"Is each of these {html.escape(tag[0])}: <b>{html.escape(tag[1])}</b>? "
                "Click the ones that are not, then press Enter. Ctrl+Z takes a batch back."
            )
        wrong = len(self.wrong_ids())
        right = len(self.items) - wrong
        self.apply_button.setEnabled(bool(self.items))
        self.apply_button.setText(
            f"Confirm {right} · reject {wrong} selected (Enter)"
            if self.items
            else "Confirm (Enter)"
        )
        self.changed.emit()
