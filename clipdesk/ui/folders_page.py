"""The Folders page: watched folders with counts, errors and state; indexing progress; pause/resume.

Each folder has its own "Read text" switch (OCR of its photos, on by default); the pass that
reads the text has its own progress line and pause below the indexing one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from PySide6.QtCore import (
    QAbstractTableModel,
    QElapsedTimer,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from clipdesk.ui.controller import AppController
from clipdesk.ui.rows import FolderRow

_Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("Folder", "Photos", "Indexed", "Waiting", "Errors", "State", "Read text")
STATE, READ_TEXT = 5, 6
READ_TEXT_TIP = (
    "Read the text in this folder's photos (signs, documents, screenshots), so that they can be "
    "found by the words in them. It runs after indexing, at low priority, about a second a photo."
)


class FolderTableModel(QAbstractTableModel):
    ocrToggled = Signal(int, bool)  # (folder id, on): the user flipped a folder's Read text

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[FolderRow] = []
        self._paused = False

    def set_paused(self, paused: bool) -> None:
        """Indexing is paused: a folder with photos waiting says so, not "Indexing"."""
        self._paused = paused
        if self._rows:
            self.dataChanged.emit(self.index(0, STATE), self.index(len(self._rows) - 1, STATE))

    def state_text(self, f: FolderRow) -> str:
        if self._paused and f.status == "ok" and f.pending:
            return f"Paused: {f.pending:,} waiting to be indexed"
        return f.state_text

    def set_rows(self, rows: Sequence[FolderRow]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def folder(self, row: int) -> FolderRow:
        return self._rows[row]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ):
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(COLUMNS)
        ):
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        f = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                f.path,
                f"{f.total:,}",
                f"{f.indexed:,}",
                f"{f.pending:,}",
                f"{f.errors:,}",
                self.state_text(f),
                "",
            )[col]
        if role == Qt.ItemDataRole.CheckStateRole and col == READ_TEXT:
            return Qt.CheckState.Checked if f.ocr else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == READ_TEXT:
                return READ_TEXT_TIP
            if col == 4 and f.errors:
                return "Double-click to see which files could not be read, and why"
            tips = [t for t in (f.error, f.purge_text) if t]
            return "\n".join(tips) if tips else f.path
        if role == Qt.ItemDataRole.ForegroundRole and col == STATE and f.status != "ok":
            return QColor("#c0392b") if f.status == "error" else QColor("#b9770e")
        if role == Qt.ItemDataRole.TextAlignmentRole and 1 <= col <= 4:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.UserRole:
            return f.id
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        flags = super().flags(index)
        if index.isValid() and index.column() == READ_TEXT:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def setData(self, index: _Index, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        """The Read text switch: shown at once, stored by whoever listens to ``ocrToggled``."""
        if (
            role != Qt.ItemDataRole.CheckStateRole
            or not index.isValid()
            or index.column() != READ_TEXT
            or not 0 <= index.row() < len(self._rows)
        ):
            return False
        f = self._rows[index.row()]
        on = Qt.CheckState(value) == Qt.CheckState.Checked
        if on != f.ocr:
            self._rows[index.row()] = replace(f, ocr=on)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
            self.ocrToggled.emit(f.id, on)
        return True


class FoldersPage(QWidget):
    def __init__(self, controller: AppController, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.model = FolderTableModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(self._show_errors)

        self.add_button = QPushButton("Add folder…", self)
        self.add_button.clicked.connect(self.choose_folder)
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.setToolTip(
            "Stop watching this folder. Your photos on disk are not touched."
        )
        self.remove_button.clicked.connect(self._remove_selected)
        self.relocate_button = QPushButton("Relocate…", self)
        self.relocate_button.setToolTip(
            "The photos of this folder moved to another drive or place: point the folder there "
            "and keep their tags and decisions."
        )
        self.relocate_button.clicked.connect(self._relocate_selected)
        self.pause_button = QPushButton("Pause indexing", self)
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._pause_toggled)
        self.errors_button = QPushButton("Show errors", self)
        self.errors_button.clicked.connect(lambda: self._show_errors(self.table.currentIndex()))
        self.retry_button = QPushButton("Retry failed", self)
        self.retry_button.setToolTip("Try the files of this folder that could not be read again.")
        self.retry_button.clicked.connect(self._retry_selected)
        self.progress = QProgressBar(self)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.progress_label = QLabel(self)
        self.ocr_progress = QProgressBar(self)  # reading text: its own pass, after indexing
        self.ocr_progress.setTextVisible(True)
        self.ocr_progress.hide()
        self.ocr_label = QLabel(self)
        self.ocr_pause_button = QPushButton("Pause reading text", self)
        self.ocr_pause_button.setCheckable(True)
        self.ocr_pause_button.setToolTip(
            "Stop reading the text in photos for now; what is left is read when you resume."
        )
        self.ocr_pause_button.toggled.connect(self._ocr_pause_toggled)
        hint = QLabel("Drop a folder anywhere on the window to add it.", self)
        # missing photos and when they are removed; the rule itself (services' words)
        self.purge_label = QLabel(self)
        self.purge_label.setWordWrap(True)
        hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        buttons = QHBoxLayout()
        for b in (
            self.add_button,
            self.remove_button,
            self.relocate_button,
            self.errors_button,
            self.retry_button,
        ):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.pause_button)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.purge_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.progress_label)
        ocr_row = QHBoxLayout()
        ocr_row.addWidget(self.ocr_progress, 1)
        ocr_row.addWidget(self.ocr_pause_button)
        layout.addLayout(ocr_row)
        layout.addWidget(self.ocr_label)
        layout.addWidget(hint)

        self._last_reload = QElapsedTimer()
        controller.libraryChanged.connect(self.reload)
        controller.jobs.progress.connect(self._progress)
        controller.jobs.started.connect(lambda _n: self._running(True))
        controller.jobs.finished.connect(lambda _r: self._running(False))
        controller.jobs.failed.connect(lambda _e: self._running(False))
        controller.jobs.stopped.connect(lambda: self._running(False))
        self.model.ocrToggled.connect(controller.set_folder_ocr)
        controller.stateChanged.connect(lambda: self.ocr_label.setText(controller.ocr_state))
        controller.ocr_jobs.progress.connect(self._ocr_progress)
        for ended in (controller.ocr_jobs.finished, controller.ocr_jobs.failed):
            ended.connect(lambda _r: self.ocr_progress.hide())
        controller.ocr_jobs.stopped.connect(self.ocr_progress.hide)

    def reload(self) -> None:
        if self.controller.backend is None:  # none open: not the last library's folders
            self._show_rows(([], ""))
            return
        self.controller.call(
            lambda b, _t: (b.folders(), b.purge_rule()), self._show_rows, owner=self
        )

    def _show_rows(self, result: tuple[list[FolderRow], str]) -> None:
        rows, rule = result
        self.model.set_rows(rows)
        lines = [f"{r.path}: {r.purge_text}" for r in rows if r.purge_text]
        self.purge_label.setText("\n".join([*lines, rule]) if rows else "")

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a photo folder")
        if folder:
            self.controller.add_folder(folder)

    def _remove_selected(self) -> None:
        index = self.table.currentIndex()
        if not index.isValid():
            return
        f = self.model.folder(index.row())
        if f.status == "offline":
            text = (
                f"{f.path} is offline: its drive or share is not connected.\n\n"
                f"Remove it anyway? Its {f.total:,} photos leave the library for good, with "
                "their tags and your decisions. If the drive comes back later, its photos are "
                "new photos again, without your decisions. The files on the drive are not "
                "touched.\n\nIf the photos moved to another place, use Relocate… instead."
            )
        else:
            text = (
                f"Stop watching {f.path}?\n\nIts {f.total:,} photos leave the library (with "
                "their tags). The files on disk are not touched."
            )
        answer = QMessageBox.question(
            self,
            "Remove folder",
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.controller.remove_folder(f.id)

    def _relocate_selected(self) -> None:
        index = self.table.currentIndex()
        if not index.isValid():
            return
        f = self.model.folder(index.row())
        new = QFileDialog.getExistingDirectory(self, f"New location of {f.path}")
        if not new:
            return

        def done(summary: str) -> None:
            box = QMessageBox(
                QMessageBox.Icon.Information,
                "Folder relocated",
                f"{f.path} is now {new}.",
                parent=self,
            )
            box.setInformativeText(summary)
            box.open()

        self.controller.relocate_folder(f.id, new, done)

    def _show_errors(self, index: QModelIndex) -> None:
        if not index.isValid():
            return
        f = self.model.folder(index.row())

        def show(errors: list[tuple[str, str]]) -> None:
            lines = [f.error] if f.error else []
            lines += [f"{path}: {reason}" for path, reason in errors[:200]]
            if len(errors) > 200:
                lines.append(f"… and {len(errors) - 200:,} more")
            box = QMessageBox(
                QMessageBox.Icon.Information,
                "Problems in this folder",
                f"{len(errors):,} files in {f.path} could not be read.",
                parent=self,
            )
            box.setDetailedText("\n".join(lines) or "No problems.")
            box.setInformativeText(
                "Fix or replace a file and it is retried automatically; "
                "Retry failed tries them all again now."
            )
            box.open()

        self.controller.call(lambda b, _t: b.folder_errors(f.id), show)

    def _retry_selected(self) -> None:
        index = self.table.currentIndex()
        if not index.isValid():
            return
        folder_id = self.model.folder(index.row()).id

        def queued(_n: int) -> None:
            self.controller.libraryChanged.emit()
            self.controller.index_now()

        self.controller.call(lambda b, _t: b.retry_errors(folder_id), queued, owner=self)

    def _pause_toggled(self, paused: bool) -> None:
        self.pause_button.setText("Resume indexing" if paused else "Pause indexing")
        self.model.set_paused(paused)
        if paused:
            self.controller.pause_indexing()
        else:
            self.controller.resume_indexing()

    def _ocr_pause_toggled(self, paused: bool) -> None:
        self.ocr_pause_button.setText("Resume reading text" if paused else "Pause reading text")
        if paused:
            self.controller.pause_text()
        else:
            self.controller.resume_text()

    def _ocr_progress(self, p) -> None:
        self.ocr_progress.show()
        if p.total:
            self.ocr_progress.setRange(0, p.total)
            self.ocr_progress.setValue(p.done)
        else:
            self.ocr_progress.setRange(0, 0)

    def _running(self, running: bool) -> None:
        self.progress.setVisible(running)
        if not running:
            paused = self.controller.jobs.paused
            self.progress_label.setText(
                "Indexing paused." if paused else self.controller.index_state
            )

    def _progress(self, p) -> None:
        if not self._last_reload.isValid() or self._last_reload.elapsed() > 1000:
            self._last_reload.start()  # counts follow the run, at most once a second
            self.reload()
        self.progress.show()
        if p.total:
            self.progress.setRange(0, p.total)
            self.progress.setValue(p.done)
        else:
            self.progress.setRange(0, 0)  # busy indicator while scanning
        self.progress_label.setText(self.controller.index_state)
