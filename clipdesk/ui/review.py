"""Review mode: keyboard triage of tag suggestions, the most uncertain first.

C / Y / Enter confirms, R / N / Delete rejects, S / Space / Right skips. Each decision is written at
once (on the database pool), so quitting half way loses nothing.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from clipdesk.ui.controller import AppController
from clipdesk.ui.photo_view import load_preview
from clipdesk.ui.rows import ReviewItem

QUEUE_SIZE = 300


class ReviewPanel(QWidget):
    decided = Signal(object, str)  # ReviewItem, "confirmed" | "rejected" | "skipped"

    def __init__(self, controller: AppController, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.queue: list[ReviewItem] = []
        # Not `pos`: that would shadow QWidget.pos().
        self.position = 0
        self.category = QComboBox(self)
        self.category.addItem("All categories", None)
        self.category.currentIndexChanged.connect(lambda _i: self.load())
        refresh = QPushButton("Refresh", self)
        refresh.clicked.connect(self.load)
        self.counter = QLabel(self)
        self.image = QLabel(self)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.image.setMinimumHeight(240)
        self.question = QLabel(self)
        self.question.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.question.setObjectName("ReviewQuestion")
        font = self.question.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        self.question.setFont(font)
        buttons = QHBoxLayout()
        for text, decision, keys in (
            ("✓ Confirm (C)", "confirmed", ("C", "Y", "Return")),
            ("✗ Reject (R)", "rejected", ("R", "N", "Delete")),
            ("Skip (S)", "skipped", ("S", "Space", "Right")),
        ):
            button = QPushButton(text, self)
            button.clicked.connect(lambda _=False, d=decision: self.decide(d))
            buttons.addWidget(button)
            for key in keys:
                shortcut = QShortcut(QKeySequence(key), self)
                shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                shortcut.activated.connect(lambda d=decision: self.decide(d))
        top = QHBoxLayout()
        top.addWidget(QLabel("Review"))
        top.addWidget(self.category)
        top.addWidget(refresh)
        top.addStretch(1)
        top.addWidget(self.counter)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.image, 1)
        layout.addWidget(self.question)
        layout.addLayout(buttons)
        self._pixmap = QPixmap()
        self._show()

    def set_categories(self, cats) -> None:
        current = self.category.currentData()
        self.category.blockSignals(True)
        self.category.clear()
        self.category.addItem("All categories", None)
        for cat in cats:
            if cat.auto:
                self.category.addItem(cat.name, cat.name)
        self.category.setCurrentIndex(max(0, self.category.findData(current)))
        self.category.blockSignals(False)

    def load(self) -> None:
        name = self.category.currentData()

        def show(queue: list[ReviewItem]) -> None:
            self.queue, self.position = queue, 0
            self._show()

        self.controller.call(lambda b, _t: b.tags.review_queue(name, QUEUE_SIZE), show)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self.queue:
            self.load()
        self.setFocus()

    def current(self) -> ReviewItem | None:
        return self.queue[self.position] if 0 <= self.position < len(self.queue) else None

    def decide(self, decision: str) -> None:
        item = self.current()
        if item is None:
            return
        if decision != "skipped":
            self.controller.call(
                lambda b, _t: b.tags.decide_tag(item.photo.id, item.category, item.label, decision)
            )
        self.decided.emit(item, decision)
        self.position += 1
        self._show()

    def _show(self) -> None:
        item = self.current()
        if item is None:
            self.counter.setText("")
            self.image.clear()
            self.question.setText(
                "Nothing to review. New suggestions appear as photos are tagged."
                if not self.queue
                else "All done: refresh for more."
            )
            return
        self.counter.setText(f"{self.position + 1} of {len(self.queue)}")
        self.question.setText(
            f"{item.category}: <b>{item.label}</b>?  "
            f"<span>score {item.score:.2f}, threshold {item.threshold:.2f}</span>"
        )
        self.image.setText("Loading…")
        path = item.photo.path
        workers = self.controller.workers
        workers.run(
            workers.thumbs,
            lambda _t: load_preview(path, 900),
            partial(self._image_ready, path),
            lambda exc: self.image.setText(str(exc)),
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
