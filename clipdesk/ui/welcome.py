"""First run: pick photo folders and a model, then start.

The hints fit the model chosen in the table: with the demo model, the words it knows ("a red
circle") and, plainly, that real photos need a real model (the panel offers one, with its size and
download time); with a real model, examples of real photos.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from clipdesk.services.records import CatalogRow
from clipdesk.ui import start_dirs
from clipdesk.ui.controller import AppController
from clipdesk.ui.model_panel import ModelPanel
from clipdesk.ui.query_examples import DEMO, PHOTOS


class WelcomePage(QWidget):
    finished = Signal(list, str)  # folders, model name

    def __init__(self, controller: AppController, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        title = QLabel(
            "<h1>Welcome to ClipDesk</h1>"
            "<p>Find your photos by describing them, and tag them with categories of "
            "your own. Everything runs on this computer: your photos and searches never "
            "leave it.</p>",
            self,
        )
        title.setWordWrap(True)
        self.folders = QListWidget(self)
        self.folders.setToolTip("ClipDesk watches these folders and their subfolders")
        add = QPushButton("Add folder…", self)
        add.clicked.connect(self._add)
        remove = QPushButton("Remove", self)
        remove.clicked.connect(lambda: self.folders.takeItem(self.folders.currentRow()))
        folder_box = QGroupBox("1. Where are your photos?", self)
        fl = QVBoxLayout(folder_box)
        fl.addWidget(self.folders)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        fl.addLayout(row)

        model_box = QGroupBox("2. Which model?", self)
        ml = QVBoxLayout(model_box)
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        active = controller.shared_settings.model() or ""
        self.models = ModelPanel(controller.workers, active, self)
        self.models.rowChanged.connect(self._model_row)
        self._model_row(None)
        ml.addWidget(self.note)
        ml.addWidget(self.models)

        # A few folders are typical: the list stays short and the catalog gets the height.
        self.folders.setMaximumHeight(6 * self.folders.fontMetrics().height() + 12)
        # Four catalog rows at least: below that the window scrolls rather than squash it.
        self.models.table.setMinimumHeight(6 * self.models.table.fontMetrics().height() + 40)

        self.start_button = QPushButton("Start", self)
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self._start)
        content = QWidget(self)
        inner = QVBoxLayout(content)
        inner.setContentsMargins(48, 24, 48, 0)
        inner.addWidget(title)
        inner.addWidget(folder_box)
        inner.addWidget(model_box, 1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 48, 24)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.start_button, 0, Qt.AlignmentFlag.AlignRight)

    def _model_row(self, row: CatalogRow | None) -> None:
        """The hint for the model chosen: what to search for with it."""
        if row is None or row.demo:
            self.note.setText(
                "<b>ClipDesk-Mini (demo)</b> is bundled so you can try ClipDesk right away. "
                "It is a small model trained on generated pictures of coloured shapes: search "
                f"for {DEMO.quoted()}, not for real-world scenes. <b>Real photos need a real "
                "model</b>: download one (OpenAI ViT-B/32 works well on a laptop) or import one."
            )
            return
        self.note.setText(
            f"With <b>{html.escape(row.title or row.name)}</b>, describe your photos as you would to a "
            f"friend: {PHOTOS.quoted(3)}."
        )

    def add_folder(self, path: str) -> None:
        if not self.folders.findItems(path, Qt.MatchFlag.MatchExactly):
            self.folders.addItem(path)

    def _add(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Add a photo folder", start_dirs.pictures_dir()
        )
        if folder:
            self.add_folder(folder)

    def _start(self) -> None:
        folders = [self.folders.item(i).text() for i in range(self.folders.count())]
        self.finished.emit(folders, self.models.selected())
