"""The Folders page: watched folders with counts, errors and state; indexing progress; pause/resume.

Each folder has its own "Read text" switch (OCR of its photos, on by default); the pass that
reads the text has its own progress line and pause below the indexing one. "Show errors" lists
every folder's files that could not be read, each with its folder and reason, in a table (a
double-click on a folder's row: that folder's); "Retry failed" retries the selected folder's, or
without a selection every folder's. A folder no scan has finished yet never says "Up to date":
its counts are still arriving.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
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

from clipdesk.ui import start_dirs
from clipdesk.ui.controller import AppController
from clipdesk.ui.rows import FolderProblem, FolderRow

_Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("Folder", "Photos", "Indexed", "Waiting", "Errors", "State", "Read text")
STATE, READ_TEXT = 5, 6
PROBLEM_COLUMNS = ("File", "Folder", "Reason")
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
        self._scanning = False  # a job runs: a folder not scanned yet is being scanned

    def set_paused(self, paused: bool) -> None:
        """Indexing is paused: a folder with photos waiting says so, not "Indexing"."""
        self._paused = paused
        if self._rows:
            self.dataChanged.emit(self.index(0, STATE), self.index(len(self._rows) - 1, STATE))

    def set_scanning(self, scanning: bool) -> None:
        """An index job runs (or not): it scans the folders no scan has finished yet."""
        self._scanning = scanning
        if self._rows:
            self.dataChanged.emit(self.index(0, STATE), self.index(len(self._rows) - 1, STATE))

    def state_text(self, f: FolderRow) -> str:
        if self._paused and f.status == "ok" and f.pending:
            return f"Paused: {f.pending:,} waiting to be indexed"
        if self._scanning and f.status == "ok" and not f.scanned:
            return f"Scanning… {f.total:,} found so far" if f.total else "Scanning…"
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


class ProblemsModel(QAbstractTableModel):
    """The files that could not be read: file (as its folder holds it), folder and reason."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[FolderProblem] = []

    def set_rows(self, rows: Sequence[FolderProblem]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def problem(self, row: int) -> FolderProblem:
        return self._rows[row]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(PROBLEM_COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ):
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(PROBLEM_COLUMNS)
        ):
            return PROBLEM_COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        p = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (p.file or "(the folder itself)", p.folder, p.reason)[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{p.path or p.folder}\n{p.reason}"
        return None


class ProblemsDialog(QDialog):
    """Every file that could not be read, with its folder and the reason, in one table."""

    retryRequested = Signal(object)  # the folder id shown (None: every folder)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Files that could not be read")
        self.resize(860, 420)
        self.folder_id: int | None = None
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.model = ProblemsModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        hint = QLabel(
            "Fix or replace a file and it is tried again automatically; Retry failed tries "
            "them all again now.",
            self,
        )
        hint.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.retry = buttons.addButton("Retry failed", QDialogButtonBox.ButtonRole.ActionRole)
        self.retry.clicked.connect(lambda: self.retryRequested.emit(self.folder_id))
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(hint)
        layout.addWidget(buttons)

    def show_problems(
        self, problems: Sequence[FolderProblem], folder: FolderRow | None = None
    ) -> None:
        """List ``problems``: of ``folder``, or (None) of every folder."""
        self.folder_id = folder.id if folder is not None else None
        self.model.set_rows(problems)
        files = sum(1 for p in problems if p.file)
        where = folder.path if folder is not None else "your folders"
        if not problems:
            self.summary.setText(f"Every file in {where} could be read.")
        else:
            folders = len({p.folder for p in problems})
            across = f" ({folders:,} folders)" if folder is None and folders > 1 else ""
            said = f"{files:,} file{'s' if files != 1 else ''} in {where}{across} could not be read"
            unreadable = len(problems) - files
            if unreadable:
                said += f"; {unreadable:,} folder{'s' if unreadable != 1 else ''} cannot be read"
            self.summary.setText(said + ".")
        self.retry.setEnabled(files > 0)
        self.table.resizeColumnToContents(0)
        self.table.resizeColumnToContents(1)
        self.show()
        self.raise_()

    def queued(self, n: int) -> None:
        """The files shown were queued to be read again (Retry failed)."""
        self.model.set_rows([])
        self.retry.setEnabled(False)
        self.summary.setText(
            f"{n:,} file{'s' if n != 1 else ''} will be read again; Show errors lists those "
            "that still cannot be read once indexing has tried them."
        )


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
        self.table.doubleClicked.connect(self._show_folder_errors)
        self.problems: ProblemsDialog | None = None  # built the first time it is shown

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
        self.errors_button.setToolTip(
            "List every file that could not be read, with its folder and the reason "
            "(double-click a folder for its own)."
        )
        self.errors_button.clicked.connect(lambda: self.show_errors())
        self.retry_button = QPushButton("Retry failed", self)
        self.retry_button.setToolTip(
            "Try the files that could not be read again: the selected folder's, or without a "
            "selection every folder's."
        )
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

        controller.libraryChanged.connect(self.reload)
        # While a run goes on, the rows follow it as the status bar's count does: once a
        # second at most, the last progress of a second included (the controller's throttle).
        controller.photosCounted.connect(self._counted)
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
        folder = QFileDialog.getExistingDirectory(
            self, "Add a photo folder", start_dirs.pictures_dir()
        )
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
        new = QFileDialog.getExistingDirectory(
            self, f"New location of {f.path}", start_dirs.pictures_dir()
        )
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

    def show_errors(self, folder: FolderRow | None = None) -> None:
        """The files that could not be read, with folder and reason: of ``folder``, or of
        every folder (read in the db pool)."""
        folder_id = folder.id if folder is not None else None

        def show(problems: list[FolderProblem]) -> None:
            if self.problems is None:
                self.problems = ProblemsDialog(self)
                self.problems.retryRequested.connect(self.retry_errors)
            self.problems.show_problems(problems, folder)

        self.controller.call(lambda b, _t: b.folder_errors(folder_id), show, owner=self)

    def _show_folder_errors(self, index: QModelIndex) -> None:
        if index.isValid():
            self.show_errors(self.model.folder(index.row()))

    def _retry_selected(self) -> None:
        index = self.table.currentIndex()
        self.retry_errors(self.model.folder(index.row()).id if index.isValid() else None)

    def retry_errors(self, folder_id: int | None = None) -> None:
        """Queue the files in error again (one folder's, or every folder's) and index them."""

        def queued(n: int) -> None:
            self.controller.libraryChanged.emit()
            self.controller.index_now()
            if self.problems is not None and self.problems.isVisible():
                self.problems.queued(n)

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
        self.model.set_scanning(running)
        if not running:
            paused = self.controller.jobs.paused
            self.progress_label.setText(
                "Indexing paused." if paused else self.controller.index_state
            )

    def _counted(self) -> None:
        if self.controller.jobs.running:  # a run's end reloads anyway (libraryChanged)
            self.reload()

    def _progress(self, p) -> None:
        self.progress.show()
        if p.total:
            self.progress.setRange(0, p.total)
            self.progress.setValue(p.done)
        else:
            self.progress.setRange(0, 0)  # busy indicator while scanning
        self.progress_label.setText(self.controller.index_state)
