"""The Tags page: categories on the left, the editor in the middle, a live preview on the right.

Every edit is debounced into a preview: the draft category (not yet saved) scores the library on
the model pool and the grid shows the top photos of the selected label. Saving stores the category
and recomputes its tags in the background; user decisions are never overridden.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListView,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from clipdesk.common.errors import ClipDeskError
from clipdesk.services.records import Category
from clipdesk.ui import start_dirs
from clipdesk.ui.calibration_panel import CalibrationPanel
from clipdesk.ui.category_editor import CategoryEditor
from clipdesk.ui.controller import AppController, describe_error, error_sentence
from clipdesk.ui.photo_grid import PhotoGrid
from clipdesk.ui.review import ReviewPanel
from clipdesk.ui.starter_offer import StarterCategoriesOffer
from clipdesk.ui.workers import LatestOnly

_Index = QModelIndex | QPersistentModelIndex
PREVIEW_COUNT = 60


class CategoryListModel(QAbstractListModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._cats: list[Category] = []

    def set_categories(self, cats: Sequence[Category]) -> None:
        self.beginResetModel()
        self._cats = list(cats)
        self.endResetModel()

    def category(self, row: int) -> Category:
        return self._cats[row]

    def row_of(self, name: str) -> int | None:
        return next((i for i, c in enumerate(self._cats) if c.name == name), None)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._cats)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._cats):
            return None
        cat = self._cats[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return cat.name
        if role == Qt.ItemDataRole.ToolTipRole:
            kind = "one label" if cat.mode.value == "single" else "any labels"
            return f"{cat.name} ({kind}): {', '.join(cat.label_names)}"
        if role == Qt.ItemDataRole.UserRole:
            return cat.name
        return None


def xmp_question(naming: str, suggestions: bool, embedded: bool = False) -> str:
    """What the XMP dialog asks: what is written (the model's suggestions only when the user
    asked for them in Settings: another tool cannot tell a suggestion from a tag), and how."""
    mine = "your tags (confirmed or imported)"
    if suggestions:
        which = (
            f"Both {mine} and the model's suggestions are written (you chose this in "
            "Settings; other tools will not tell the suggestions apart)"
        )
    else:
        which = (
            f"Only {mine} are written: the model's suggestions are not, unless you ask for "
            "them in Settings"
        )
    name = "photo.xmp" if naming == "basename" else "photo.jpg.xmp"
    return (
        "Write tags as keywords to XMP sidecar files next to your photos?\n\n"
        f"{which}. Sidecars are named {name}; existing ones are merged, never overwritten, "
        "and one ClipDesk wrote under the other name is merged into it."
        + (
            "\n\nAs chosen in Settings, JPEG, TIFF and PNG photos get the same keywords and "
            "ratings inside the file too: only their XMP changes, checked pixel for pixel "
            "before a photo is replaced."
            if embedded
            else ""
        )
    )


class TagsPage(QWidget):
    def __init__(self, controller: AppController, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.cats = CategoryListModel(self)
        self.list = QListView(self)
        self.list.setModel(self.cats)
        self.list.selectionModel().currentChanged.connect(lambda cur, _prev: self._select(cur))
        buttons = QVBoxLayout()
        for text, fn in (
            ("New category", self._new),
            ("Delete", self._delete),
            ("Import…", self._import),
            ("Export…", self._export),
            ("Write XMP…", self._write_xmp),
        ):
            b = QPushButton(text, self)
            b.clicked.connect(fn)
            buttons.addWidget(b)
            if fn == self._write_xmp:
                b.setToolTip(
                    "Write your tags, ratings and colour labels to XMP sidecars that digiKam, "
                    "Lightroom and darktable read (and into JPEG, TIFF and PNG files when "
                    "Settings says so)"
                )
        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(self.list, 1)
        left_layout.addLayout(buttons)

        self.editor = CategoryEditor(self)
        self.problem = QLabel(self)
        self.problem.setWordWrap(True)
        self.problem.setObjectName("ProblemLabel")
        self.save_button = QPushButton("Save and tag photos", self)
        self.save_button.clicked.connect(self._save)
        middle = QWidget(self)
        mid_layout = QVBoxLayout(middle)
        mid_layout.addWidget(self.editor, 1)
        mid_layout.addWidget(self.problem)
        mid_layout.addWidget(self.save_button)

        self.preview_label = QComboBox(self)
        self.preview_label.currentIndexChanged.connect(lambda _i: self._preview_soon())
        self.preview_info = QLabel("Top photos for", self)
        self.preview = PhotoGrid(controller.thumbs, self)
        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        head = QHBoxLayout()
        head.addWidget(self.preview_info)
        head.addWidget(self.preview_label, 1)
        right_layout.addLayout(head)
        right_layout.addWidget(self.preview, 1)

        splitter = QSplitter(self)
        for w, stretch in ((left, 0), (middle, 1), (right, 2)):
            splitter.addWidget(w)
            splitter.setStretchFactor(splitter.count() - 1, stretch)
        self.review = ReviewPanel(controller, self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(splitter, "Categories")
        self.tabs.addTab(self.review, "Review suggestions")
        # thresholds per label calibrated to a target precision on the user's decisions
        self.calibration = CalibrationPanel(controller, self)
        self.calibration.applied.connect(lambda _name: self.reload())
        self.tabs.addTab(self.calibration, "Calibrate thresholds")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)

        self._current: str | None = None
        self._preview_stale = True
        self._previews = LatestOnly(controller.workers, controller.workers.model)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(350)
        self._debounce.timeout.connect(self._run_preview)
        self.editor.changed.connect(self._edited)
        controller.libraryReady.connect(self.reload)
        controller.modelReady.connect(lambda _m: self._preview_soon())
        controller.libraryChanged.connect(self._preview_soon)  # new photos may be top ones
        # a switch from the demo model to a real one offers the real-world starter categories
        self.starters = StarterCategoriesOffer(controller, self, added=self._starters_added)

    # --- categories -------------------------------------------------------------------------
    def _starters_added(self) -> None:
        self.reload()
        self.controller.libraryChanged.emit()  # the Search page's tag filter lists them

    def reload(self, select: str | None = None) -> None:
        def show(cats: list[Category]) -> None:
            self.cats.set_categories(cats)
            self.review.set_categories(cats)
            self.calibration.set_categories(cats)
            row = self.cats.row_of(select or self._current or "") or 0
            if cats:
                self.list.setCurrentIndex(self.cats.index(row, 0))

        self.controller.call(lambda b, _t: b.tags.categories(), show)

    def _select(self, index: QModelIndex) -> None:
        if not index.isValid():
            return
        cat = self.cats.category(index.row())
        self._current = cat.name
        self.editor.set_category(cat)
        self._edited()

    def _new(self) -> None:
        self._current = None
        self.list.clearSelection()
        self.editor.set_category(None)
        self.editor.name.setFocus()
        self.editor.name.selectAll()
        self._edited()

    def _save(self) -> None:
        try:
            cat = self.editor.category()
        except ClipDeskError as exc:
            self._show_problem(exc)
            return
        old = self._current

        def saved(_r) -> None:
            self._current = cat.name
            self.reload(cat.name)
            self.controller.libraryChanged.emit()

        self.controller.call(
            lambda b, t: b.tags.save_category(cat, replacing=old, token=t), saved, pool="model"
        )

    def _delete(self) -> None:
        if self._current is None:
            return
        name = self._current
        if (
            QMessageBox.question(
                self,
                "Delete category",
                f"Delete the category {name!r} and all its tags, including the ones you confirmed?",
            )
            != QMessageBox.StandardButton.Yes
        ):
            return
        self._current = None
        self.controller.call(lambda b, _t: b.tags.remove_category(name), lambda _r: self.reload())

    def _import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import categories", start_dirs.pictures_dir(), "Categories (*.json)"
        )
        if path:
            self.controller.call(
                lambda b, t: b.tags.import_categories(path, t),
                lambda _r: self.reload(),
                pool="model",
            )

    def _export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Export categories",
            start_dirs.in_pictures("categories.json"),
            "Categories (*.json)",
        )
        if path:
            self.controller.call(lambda b, _t: b.tags.export_categories(path))

    def _write_xmp(self) -> None:
        """Ask, then write: the naming and what is written are the shared settings (the same
        that ``clipdesk-cli tags write-xmp`` uses), read on a worker, not decided here."""
        self.controller.call(lambda b, _t: b.tags.xmp_rules(), self._confirm_write_xmp)

    def _confirm_write_xmp(self, rules: tuple[str, bool, bool]) -> None:
        naming, suggestions, embedded = rules
        answer = QMessageBox.question(
            self, "Write XMP", xmp_question(naming, suggestions, embedded)
        )
        if answer != QMessageBox.StandardButton.Yes:
            return

        def done(summary: str) -> None:
            QMessageBox.information(self, "XMP sidecars", summary)

        # the rules the user just agreed to, even if the CLI or Settings changed them meanwhile
        self.controller.call(
            lambda b, t: b.tags.write_xmp(t, naming, suggestions, embedded), done, pool="jobs"
        )

    # --- live preview -----------------------------------------------------------------------
    def _edited(self) -> None:
        try:
            cat = self.editor.category()
        except ClipDeskError as exc:
            self._show_problem(exc)
            return
        self.problem.clear()
        current = self.preview_label.currentText()
        self.preview_label.blockSignals(True)
        self.preview_label.clear()
        self.preview_label.addItems(cat.label_names)
        index = self.preview_label.findText(current)
        self.preview_label.setCurrentIndex(max(0, index))
        self.preview_label.blockSignals(False)
        self._preview_soon()

    def _show_problem(self, exc: ClipDeskError) -> None:
        message, hint = describe_error(exc)
        self.problem.setText("⚠ " + error_sentence(message, hint))

    def _preview_soon(self) -> None:
        if self.isVisible():
            self._debounce.start()
        else:
            self._preview_stale = True  # computed when the page is shown, not for nobody

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._preview_stale:
            self._preview_stale = False
            self._debounce.start()

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        if self._debounce.isActive():
            self._debounce.stop()
            self._preview_stale = True

    def _run_preview(self) -> None:
        backend = self.controller.backend
        label = self.preview_label.currentText()
        if backend is None or self.controller.model is None or not label:
            return
        try:
            cat = self.editor.category()
        except ClipDeskError:
            return
        self.preview_info.setText("Top photos for")
        self._previews.submit(
            lambda t: backend.tags.preview_label(cat, label, PREVIEW_COUNT, t),
            self.preview.photos.set_items,
            lambda exc: self.preview_info.setText(describe_error(exc)[0]),
        )
