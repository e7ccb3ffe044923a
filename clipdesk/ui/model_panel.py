"""Choose the model: installed ones (the demo clearly marked), import from disk, download.

Shared by the welcome page and Settings. Import and download run in the ``jobs`` pool with a
progress bar and a Cancel button; nothing reaches the network unless the user clicks Download.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from clipdesk.ui import rows as models_api
from clipdesk.ui.controller import describe_error
from clipdesk.ui.workers import ProgressRelay, Ticket, Workers


class ModelPanel(QWidget):
    chosen = Signal(str)  # model name (installed) the user selected

    def __init__(self, workers: Workers, active: str = "", parent=None) -> None:
        super().__init__(parent)
        self._workers = workers
        self._active = active
        self._ticket: Ticket | None = None
        self._relay = ProgressRelay()
        self._relay.progress.connect(self._progress)
        self.list = QListWidget(self)
        self.list.currentItemChanged.connect(self._current_changed)
        self.import_button = QPushButton("Import from disk…", self)
        self.import_button.setToolTip("A Hugging Face CLIP folder or a .safetensors file")
        self.import_button.clicked.connect(self._import)
        self.download_button = QPushButton("Download…", self)
        self.download_button.setToolTip("Download a CLIP model from the Hugging Face hub")
        self.download_button.clicked.connect(self._download)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self._cancel)
        self.cancel_button.hide()
        self.progress = QProgressBar(self)
        self.progress.hide()
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.download_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        self.reload()

    def selected(self) -> str:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else self._active

    def reload(self, select: str | None = None) -> None:
        self._workers.run(
            self._workers.db,
            lambda _t: models_api.list_models(),
            lambda entries: self._fill(entries, select or self._active),
            lambda exc: self.message.setText(describe_error(exc)[0]),
            owner=self,
        )

    def _fill(self, entries, select: str) -> None:
        self.list.clear()
        known = {e.path: e.name for e in entries}
        select = known.get(select, select)  # a path to an installed model is that model
        if select and not any(e.name == select for e in entries):
            # a model given by path (command line, earlier choice) is still a choice
            entries = [
                models_api.ModelEntry(select, select, False, f"Loaded from {select}"),
                *entries,
            ]
        for entry in entries:
            item = QListWidgetItem(entry.title)
            item.setToolTip(entry.description)
            item.setData(Qt.ItemDataRole.UserRole, entry.name)
            self.list.addItem(item)
            if entry.name == select or (not select and entry.is_demo):
                self.list.setCurrentItem(item)
        if not entries:
            self.message.setText("No model is installed. Import one from disk or download one.")

    def _current_changed(self, item: QListWidgetItem | None, _prev) -> None:
        if item is not None:
            self.chosen.emit(item.data(Qt.ItemDataRole.UserRole))

    def _import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import a model", "", "Model (*.safetensors config.json);;All files (*)"
        )
        if not path:
            return
        if path.endswith("config.json"):
            path = path[: -len("config.json")].rstrip("/\\")  # the folder of a HF checkpoint
        self._run("Importing", lambda report, token: models_api.import_model(path, report, token))

    def _download(self) -> None:
        names = [e.name for e in models_api.download_catalog()]
        name, ok = QInputDialog.getItem(
            self,
            "Download a model",
            "A model from the list, or any Hugging Face CLIP repository (owner/name).\n"
            "This download is the only time ClipDesk uses the network.",
            names,
            0,
            True,
        )
        if ok and name.strip():
            repo = name.strip()
            self._run(
                "Downloading", lambda report, token: models_api.download_model(repo, report, token)
            )

    def _run(self, what: str, fn) -> None:
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.show()
        self.import_button.setEnabled(False)
        self.download_button.setEnabled(False)
        self.message.setText(f"{what}…")
        emit = self._relay.progress.emit
        self._ticket = self._workers.run(
            self._workers.jobs, lambda token: fn(emit, token), self._done, self._failed, owner=self
        )

    def _progress(self, p) -> None:
        if p.total:
            self.progress.setRange(0, p.total)
            self.progress.setValue(p.done)
        if p.message:
            self.message.setText(p.message)

    def _finish(self) -> None:
        self._ticket = None
        self.progress.hide()
        self.cancel_button.hide()
        self.import_button.setEnabled(True)
        self.download_button.setEnabled(True)

    def _done(self, name: str) -> None:
        self._finish()
        self.message.setText(f"Installed {name}.")
        self.reload(select=name)

    def _failed(self, exc: BaseException) -> None:
        self._finish()
        message, hint = describe_error(exc)
        self.message.setText(f"{message}. {hint}".strip())

    def _cancel(self) -> None:
        if self._ticket is not None:
            self._ticket.cancel()
        self._finish()
        self.message.setText("Cancelled.")
