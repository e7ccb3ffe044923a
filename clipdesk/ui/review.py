"""Review mode: triage of tag suggestions, the most uncertain first, one photo at a time or in
batches (:mod:`clipdesk.ui.review_batch`).

One at a time: C / Y / Enter confirms, R / N / Delete rejects, S / Space / Right skips. Ctrl+Z,
Backspace or Left takes the last one back, as many times as wanted: the photo comes back to the
queue and its tag is as it was before (the model's suggestion, or an earlier decision; the
services keep each step's previous states, :meth:`clipdesk.services.tags.TagService.undo`). In a
batch, Enter decides the whole grid and Ctrl+Z or Backspace takes the whole batch back. Each
decision is written at once (on the database pool, one thread, so an undo always runs after the
write it takes back), so quitting half way loses nothing.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from clipdesk.common.fsnames import shown
from clipdesk.services.records import Category, DecisionStep
from clipdesk.ui.controller import AppController
from clipdesk.ui.photo_view import load_preview
from clipdesk.ui.review_batch import ReviewBatch
from clipdesk.ui.rows import ReviewItem

QUEUE_SIZE = 300
HISTORY = 1000  # steps Ctrl+Z can take back; each is a few small records
UNDO_KEYS = ("Ctrl+Z", "Backspace")  # in both modes; Left too, one at a time (arrows move a grid)


@dataclass(eq=False)
class Step:
    """One thing Review did, to take back: a decision on one photo, a skip, or a whole batch."""

    items: list[ReviewItem]
    decision: str  # "confirmed" | "rejected" | "skipped" | "batch"
    wrong: frozenset[int] = frozenset()  # a batch's photos the user marked as wrong
    queue: list[ReviewItem] | None = None  # one at a time: the queue it was taken from
    position: int = 0  # and its place there
    # what the services changed, set on the database thread once written (None: a skip, or a
    # write that failed, which the error dialog reported)
    written: DecisionStep | None = field(default=None, repr=False)

    def describe(self) -> str:
        first = self.items[0]
        tag = f"{first.category}: {first.label}"
        if self.decision == "batch":
            n = len(self.items)
            return (
                f"the batch of {tag} ({n - len(self.wrong)} confirmed, {len(self.wrong)} rejected)"
            )
        return f"{self.decision} {tag} on {first.photo.name}"


class ReviewPanel(QWidget):
    decided = Signal(object, str)  # ReviewItem, "confirmed" | "rejected" | "skipped"

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.queue: list[ReviewItem] = []
        # Not `pos`: that would shadow QWidget.pos().
        self.position = 0
        self.history: list[Step] = []
        self.category = QComboBox(self)
        self.category.addItem("All categories", None)
        self.category.currentIndexChanged.connect(lambda _i: self.load())
        self.refresh_button = refresh = QPushButton("Refresh", self)
        refresh.clicked.connect(self.refresh)
        self.one_button = QPushButton("One at a time", self)
        self.batch_button = QPushButton("Batch", self)
        self.batch_button.setToolTip(
            "A grid of the most uncertain photos for one label: select the wrong ones, "
            "Enter confirms the rest"
        )
        modes = QButtonGroup(self)
        for button in (self.one_button, self.batch_button):
            button.setCheckable(True)
            modes.addButton(button)
        self.one_button.setChecked(True)
        self.one_button.clicked.connect(lambda: self.set_batch_mode(False))
        self.batch_button.clicked.connect(lambda: self.set_batch_mode(True))
        self.counter = QLabel(self)

        self.image = QLabel(self)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.image.setMinimumHeight(240)
        self.file_label = QLabel(self)
        self.file_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.file_label.setTextFormat(Qt.TextFormat.RichText)
        self.file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.question = QLabel(self)
        self.question.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.question.setObjectName("ReviewQuestion")
        self.question.setWordWrap(True)  # a long label wraps rather than widen the window
        font = self.question.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        self.question.setFont(font)
        buttons = QHBoxLayout()
        # keys of one-at-a-time mode only: in a batch, Enter is the batch's and arrows move
        self._single_keys: list[QShortcut] = []
        for text, decision, keys in (
            ("✓ Confirm (C)", "confirmed", ("C", "Y", "Return")),
            ("✗ Reject (R)", "rejected", ("R", "N", "Delete")),
            ("Skip (S)", "skipped", ("S", "Space", "Right")),
        ):
            button = QPushButton(text, self)
            button.clicked.connect(lambda _=False, d=decision: self.decide(d))
            buttons.addWidget(button)
            for key in keys:
                self._single_keys.append(self._shortcut(key, partial(self.decide, decision)))
        self._single_keys.append(self._shortcut("Left", self.undo))
        for key in UNDO_KEYS:
            self._shortcut(key, self.undo)
        self.single = single = QWidget(self)
        one = QVBoxLayout(single)
        one.setContentsMargins(0, 0, 0, 0)
        one.addWidget(self.image, 1)
        one.addWidget(self.file_label)
        one.addWidget(self.question)
        one.addLayout(buttons)
        self.batch = ReviewBatch(controller, self)
        self.batch.submitted.connect(self._batch_submitted)
        self.batch.changed.connect(self._count)
        self.pages = QStackedWidget(self)
        self.pages.addWidget(single)
        self.pages.addWidget(self.batch)

        self.undo_button = QPushButton("↶ Undo (Ctrl+Z)", self)
        self.undo_button.clicked.connect(self.undo)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("Review"))
        top.addWidget(self.one_button)
        top.addWidget(self.batch_button)
        top.addWidget(self.category)
        top.addWidget(refresh)
        top.addStretch(1)
        top.addWidget(self.counter)
        bottom = QHBoxLayout()
        bottom.addWidget(self.undo_button)
        bottom.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.pages, 1)
        layout.addLayout(bottom)
        self._pixmap = QPixmap()
        self._show()
        self._history_changed()

    def _shortcut(self, key: str, slot: Callable[[], Any]) -> QShortcut:
        shortcut = QShortcut(QKeySequence(key), self)
        shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        shortcut.activated.connect(slot)
        return shortcut

    def set_categories(self, cats: list[Category]) -> None:
        current = self.category.currentData()
        self.category.blockSignals(True)
        self.category.clear()
        self.category.addItem("All categories", None)
        for cat in cats:
            if cat.auto:
                self.category.addItem(cat.name, cat.name)
        self.category.setCurrentIndex(max(0, self.category.findData(current)))
        self.category.blockSignals(False)
        self.batch.set_categories(cats)

    # --- modes ------------------------------------------------------------------------------
    def batch_mode(self) -> bool:
        return self.pages.currentWidget() is self.batch

    def set_batch_mode(self, on: bool) -> None:
        (self.batch_button if on else self.one_button).setChecked(True)
        self.pages.setCurrentWidget(self.batch if on else self.single)
        self.category.setVisible(not on)
        for shortcut in self._single_keys:
            shortcut.setEnabled(not on)
        if on:
            if not self.batch.items:
                self.batch.load()
            self.batch.grid.setFocus()
        else:
            self.setFocus()
        self._count()

    def refresh(self) -> None:
        if self.batch_mode():
            self.batch.load()
        else:
            self.load()

    # --- one at a time ----------------------------------------------------------------------
    def load(self) -> None:
        name = self.category.currentData()

        def show(queue: list[ReviewItem]) -> None:
            self.queue, self.position = queue, 0
            self._show()

        self.controller.call(lambda b, _t: b.tags.review_queue(name, QUEUE_SIZE), show, owner=self)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self.queue:
            self.load()
        if self.batch_mode():
            self.batch.grid.setFocus()
        else:
            self.setFocus()

    def current(self) -> ReviewItem | None:
        return self.queue[self.position] if 0 <= self.position < len(self.queue) else None

    def decide(self, decision: str) -> None:
        item = self.current()
        if item is None:
            return
        step = Step([item], decision, queue=self.queue, position=self.position)
        if decision != "skipped":
            self._write(step, {decision: [item.photo.id]})
            self._say(f"{step.describe().capitalize()}. Ctrl+Z takes it back.")
        self._remember(step)
        self.decided.emit(item, decision)
        self.position += 1
        self._show()

    # --- batches ----------------------------------------------------------------------------
    def _batch_submitted(self, items: list[ReviewItem], wrong: set[int]) -> None:
        step = Step(items, "batch", wrong=frozenset(wrong))
        decisions = {
            "confirmed": [i.photo.id for i in items if i.photo.id not in wrong],
            "rejected": sorted(wrong),
        }
        self._write(step, {d: ids for d, ids in decisions.items() if ids})
        self._remember(step)
        self._say(f"Decided {step.describe()}. Ctrl+Z takes the batch back.")
        self.batch.load()  # read after the write: one database thread, in order

    # --- writing and taking back ----------------------------------------------------------
    def _write(self, step: Step, decisions: dict[str, list[int]]) -> None:
        first = step.items[0]

        def write(backend: Any, _token: Any) -> None:
            # set here, on the database thread, so that an undo queued after it finds it
            step.written = backend.tags.decide_batch(first.category, first.label, decisions)

        self.controller.call(write)

    def _remember(self, step: Step) -> None:
        self.history.append(step)
        del self.history[:-HISTORY]
        self._history_changed()

    def undo(self) -> None:
        """Take the last step back: the store's tags as they were, the photo (or the batch)
        on screen again."""
        if not self.history:
            self._say("Nothing to take back.")
            return
        step = self.history.pop()
        self._history_changed()
        if step.decision != "skipped":
            # step.written is read on the database thread, after the write it takes back
            self.controller.call(
                lambda b, _t: b.tags.undo(step.written) if step.written is not None else 0
            )
        if step.decision == "batch":
            first = step.items[0]
            self.set_batch_mode(True)
            self.batch.select_tag(first.category, first.label)
            self.batch.show_items(step.items, step.wrong)
        else:
            self.set_batch_mode(False)
            if step.queue is self.queue:
                self.position = step.position
            else:  # the queue was read again since: the photo comes back at the front
                self.queue.insert(self.position, step.items[0])
            self._show()
        self._say(f"Took back {step.describe()}.")

    def _history_changed(self) -> None:
        self.undo_button.setEnabled(bool(self.history))
        self.undo_button.setToolTip(
            f"Take back {self.history[-1].describe()} (Ctrl+Z, Backspace)"
            if self.history
            else "Nothing to take back yet"
        )

    def _say(self, text: str) -> None:
        self.status.setText(text)

    # --- showing ----------------------------------------------------------------------------
    def _count(self) -> None:
        if self.batch_mode():
            n = len(self.batch.items)
            self.counter.setText(f"{n} photo{'s' * (n != 1)}" if n else "")
        elif self.current() is not None:
            self.counter.setText(f"{self.position + 1} of {len(self.queue)}")
        else:
            self.counter.setText("")

    def _show(self) -> None:
        self._count()
        item = self.current()
        if item is None:
            self.image.clear()
            self._pixmap = QPixmap()
            self.file_label.setText("")
            self.file_label.setToolTip("")
            self.question.setText(
                "Nothing to review. New suggestions appear as photos are tagged."
                if not self.queue
                else "All done: refresh for more."
            )
            return
        path = item.photo.path
        self.file_label.setText(
            f"<b>{html.escape(item.photo.name)}</b> in {html.escape(shown(os.path.dirname(path)))}"
        )
        self.file_label.setToolTip(shown(path))
        self.question.setText(
            f"{html.escape(item.category)}: <b>{html.escape(item.label)}</b>?  "
            f"<span>score {item.score:.2f}, threshold {item.threshold:.2f}</span>"
        )
        self.image.setText("Loading…")
        workers = self.controller.workers
        workers.run(
            workers.thumbs,
            lambda _t: load_preview(path, 900),
            partial(self._image_ready, path),
            lambda exc: self.image.setText(str(exc)),
            owner=self,
        )

    def _image_ready(self, path: str, image: QImage) -> None:
        item = self.current()
        if item is None or item.photo.path != path:
            return  # the user moved on while it loaded
        self._pixmap = QPixmap.fromImage(image)
        self._fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if not self._pixmap.isNull():
            self.image.setPixmap(
                self._pixmap.scaled(
                    self.image.size(),
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )
