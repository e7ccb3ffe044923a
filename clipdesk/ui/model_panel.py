"""Choose the model: a table of installed and downloadable models (size, speed on this
computer, published quality, languages), import from disk, download.

Shared by the welcome page and Settings. The first time the table is shown on a computer, a short
probe (a few seconds) measures its speed so the table's speeds are its own. It runs in the
``jobs`` pool, so neither a search nor a model load waits for it, and an index run (the same
one-thread pool) is never timed alongside it; while indexing runs it waits until the run ends,
and hiding the panel cancels it (nothing is cached then). Import and download run in the
``jobs`` pool too, with a progress bar and a Cancel button; nothing reaches the network unless
the user clicks Download. An install ends with the model's preparation for ONNX Runtime (its
export), on the same progress bar; cancelling that keeps the model, on PyTorch. Under the table,
a line says which runtime serves the active model (:meth:`ModelPanel.show_runtime`).

While the demo model is chosen and no real model is installed, a line says plainly what the demo
knows and a button offers the suggested real model with its size and the download's estimated
time (this computer's last download speed, else an assumed speed, said as such); the Download
button says the same for any catalog row selected.
"""

from __future__ import annotations

import os
from dataclasses import replace

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from clipdesk.services.records import CatalogRow, CatalogTable
from clipdesk.ui import rows as models_api
from clipdesk.ui.controller import describe_error, error_sentence
from clipdesk.ui.jobs import JobRunner
from clipdesk.ui.model_table import ModelTableModel
from clipdesk.ui.query_examples import DEMO, DEMO_NOTE
from clipdesk.ui.rows import Installed
from clipdesk.ui.workers import ProgressRelay, Ticket, Workers


class ModelPanel(QWidget):
    chosen = Signal(str)  # model name (installed) the user selected
    probed = Signal()  # this computer's speed was measured; the speeds are its own now
    rowChanged = Signal(object)  # the CatalogRow now current (None: none)

    def __init__(
        self, workers: Workers, active: str = "", parent=None, jobs: JobRunner | None = None
    ) -> None:
        super().__init__(parent)
        self._workers = workers
        self._active = active
        self._choice = ""  # the installed model last selected ("": none yet)
        self._ticket: Ticket | None = None
        self._probe: Ticket | None = None
        self._probe_checked = False
        self._waiting = False  # the probe waits for an index run to end
        # The app's index runs: the probe waits while one runs (its timing would be the
        # computer's speed under load); None where no library is open (the welcome page).
        self._jobs = jobs
        if jobs is not None:
            for ended in (jobs.finished, jobs.failed, jobs.stopped):
                ended.connect(self._jobs_ended)
        self._relay = ProgressRelay()
        self._relay.progress.connect(self._progress)
        self.model = ModelTableModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.speed_note = QLabel(self)
        self.speed_note.setWordWrap(True)
        self.runtime_note = QLabel(self)  # what serves the active model (show_runtime)
        self.runtime_note.setWordWrap(True)
        self.runtime_note.hide()
        self.import_button = QPushButton("Import from disk…", self)
        self.import_button.setToolTip(
            "A Hugging Face CLIP or SigLIP folder, an OpenCLIP hub folder, or a weights file"
        )
        self.import_button.clicked.connect(self._import)
        self.download_button = QPushButton("Download…", self)
        self.download_button.setToolTip("Download a model from the Hugging Face hub")
        self.download_button.clicked.connect(self._download)
        # The demo chosen and no real model here: what it knows, and the model to get instead.
        self.demo_note = QLabel(self)
        self.demo_note.setWordWrap(True)
        self.demo_note.hide()
        self.suggest_button = QPushButton(self)
        self.suggest_button.clicked.connect(self._download_suggested)
        self.suggest_button.hide()
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
        layout.addWidget(self.table, 1)
        layout.addWidget(self.speed_note)
        layout.addWidget(self.runtime_note)
        layout.addWidget(self.demo_note)
        layout.addWidget(self.suggest_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        self.reload()

    def show_runtime(self, text: str) -> None:
        """Say what runs the active model ("ONNX Runtime int8"); "" hides the line."""
        self.runtime_note.setText(f"The active model runs on {text}." if text else "")
        self.runtime_note.setVisible(bool(text))

    def rows(self) -> tuple[CatalogRow, ...]:
        """What the table shows, top to bottom."""
        return self.model.table.rows

    def selected(self) -> str:
        """The installed model chosen (the active one until the user picks another)."""
        return self._choice or self._active

    def current_row(self) -> CatalogRow | None:
        index = self.table.currentIndex()
        return self.model.row_at(index.row()) if index.isValid() else None

    def reload(self, select: str | None = None) -> None:
        self._workers.run(
            self._workers.db,
            lambda _t: models_api.catalog_table(),
            lambda table: self._fill(table, select or self.selected()),
            lambda exc: self.message.setText(describe_error(exc)[0]),
            owner=self,
        )

    def _fill(self, table: CatalogTable, select: str) -> None:
        rows = table.rows
        by_path = {r.path: r.name for r in rows if r.path}
        select = by_path.get(select, select)  # a path to an installed model is that model
        if select and not any(r.name == select and r.installed for r in rows):
            # a model given by path (command line, earlier choice) is still a choice
            table = replace(table, rows=(CatalogRow.for_path(select), *rows))
        self.model.set_table(table)
        self._show_speed_basis()
        target = self.model.row_of(select) if select else -1
        if target < 0:
            target = next((i for i, r in enumerate(table.rows) if r.demo), -1)
        if target >= 0:
            self.table.selectionModel().setCurrentIndex(
                self.model.index(target, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows,
            )
        if not any(r.installed for r in table.rows):
            self.message.setText("No model is installed. Import one from disk or download one.")

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        row = self.model.row_at(current.row()) if current.isValid() else None
        self._show_demo_note(row)
        self.rowChanged.emit(row)
        if row is not None and not row.installed:
            table = self.model.table
            cost = table.download_text(row)
            self.download_button.setText(f"Download {row.title}" + (f" ({cost})…" if cost else "…"))
            self.download_button.setToolTip(self._download_tip(row))
            return
        self.download_button.setText("Download…")
        self.download_button.setToolTip("Download a model from the Hugging Face hub")
        if row is not None and row.name != self._choice:
            self._choice = row.name
            self.chosen.emit(row.name)

    def _download_tip(self, row: CatalogRow) -> str:
        rate = self.model.table.download
        return (
            f"Download {row.title} from the Hugging Face hub; the time is estimated at "
            f"{rate.describe()}"
        )

    def _show_demo_note(self, row: CatalogRow | None) -> None:
        suggested = self.model.table.suggested_download()
        demo = row is not None and row.demo
        self.demo_note.setVisible(demo)
        self.suggest_button.setVisible(demo and suggested is not None)
        if not demo:
            return
        self.demo_note.setText(
            f"<b>{DEMO_NOTE}</b> It finds {DEMO.quoted()} in pictures like the ones it was "
            "trained on; on your photos its scores mean nothing."
        )
        if suggested is not None:
            self.suggest_button.setText(
                f"Download {suggested.title} ({self.model.table.download_text(suggested)})…"
            )
            self.suggest_button.setToolTip(self._download_tip(suggested))

    def select(self, name: str) -> bool:
        """Make the row of ``name`` current; False when the table has none."""
        target = self.model.row_of(name)
        if target < 0:
            return False
        self.table.selectionModel().setCurrentIndex(
            self.model.index(target, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        return True

    def _download_suggested(self) -> None:
        suggested = self.model.table.suggested_download()
        if suggested is not None and self.select(suggested.name):
            self._download()

    # --- this computer's speed ---------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._probe_checked:
            self._probe_checked = True
            self.measure_speed(only_if_unmeasured=True)

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802
        """Nobody is looking: stop the probe (it asks again when shown again)."""
        super().hideEvent(event)
        if self._probe is not None and not self._probe.finished:
            self._probe.cancel()  # checked between timed batches; nothing is cached
            self._probe = None
            self._probe_checked = False
            self._show_speed_basis()
        elif self._waiting:
            self._waiting = False
            self._probe_checked = False

    def _show_speed_basis(self) -> None:
        table = self.model.table
        if not table.basis.catalog_machine:
            self.speed_note.setText("")
            return
        scaled = any(r.speed_scaled for r in table.rows)
        text = "Speeds: " + table.basis.describe(scaled)
        if self._waiting and not scaled:
            text += " (it is measured once indexing is done: timed alongside it, it would be slow)"
        self.speed_note.setText(text)

    def _indexing(self) -> bool:
        return self._jobs is not None and self._jobs.running

    def _jobs_ended(self, *_args: object) -> None:
        # Only measure_speed sets _waiting (with no probe running) and hideEvent clears it.
        if self._waiting:
            self.measure_speed(only_if_unmeasured=True)

    def measure_speed(self, only_if_unmeasured: bool = False) -> None:
        """Time a small reference model on this computer (in the jobs pool, once no index
        run is under way) and show the table's speeds scaled to it."""
        if self._probe is not None and not self._probe.finished:
            return
        self._waiting = self._indexing()
        if self._waiting:
            self._show_speed_basis()
            return

        def probe(token) -> bool:
            if only_if_unmeasured and models_api.speed_probed():
                return False
            models_api.probe_speed(token)
            return True

        self.speed_note.setText("Measuring this computer's speed (a few seconds)…")
        self._probe = self._workers.run(
            self._workers.jobs, probe, self._probe_done, self._probe_failed, owner=self
        )

    def _probe_done(self, measured: bool) -> None:
        self._probe = None
        self.reload()
        if measured:
            self.probed.emit()

    def _probe_failed(self, exc: BaseException) -> None:
        self._probe = None
        self.speed_note.setText(
            f"Could not measure this computer's speed: {describe_error(exc)[0]}"
        )

    def _import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Import a model",
            "",
            "Model (*.safetensors *.bin *.pt config.json open_clip_config.json);;All files (*)",
        )
        if not path:
            return
        if os.path.basename(path) in ("config.json", "open_clip_config.json"):
            path = os.path.dirname(path)  # the folder of a Hugging Face or OpenCLIP checkpoint
        self._run("Importing", lambda report, token: models_api.import_model(path, report, token))

    def _download(self) -> None:
        row = self.current_row()
        if row is not None and not row.installed:
            cost = self.model.table.download_text(row)
            rate = self.model.table.download.describe()
            basis = f"\nThe time is estimated at {rate}." if cost else ""
            answer = QMessageBox.question(
                self,
                "Download a model",
                f"Download {row.title} ({row.name}{', ' + cost if cost else ''}) from the "
                f"Hugging Face hub?{basis}\n"
                "This download is the only time ClipDesk uses the network.",
            )
            if answer == QMessageBox.StandardButton.Yes:
                name = row.name
                self._run(
                    "Downloading",
                    lambda report, token: models_api.download_model(name, report, token),
                )
            return
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

    def _done(self, done: Installed) -> None:
        self._finish()
        self.message.setText(f"Installed {done.name}." + (f" {done.note}." if done.note else ""))
        self.reload(select=done.name)

    def _failed(self, exc: BaseException) -> None:
        self._finish()
        message, hint = describe_error(exc)
        self.message.setText(error_sentence(message, hint))

    def _cancel(self) -> None:
        if self._ticket is not None:
            self._ticket.cancel()
        self._finish()
        self.message.setText("Cancelled.")
        # a cancel during the export after an install keeps the model: the table shows it
        self.reload()
