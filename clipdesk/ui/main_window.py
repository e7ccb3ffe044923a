"""The main window: a sidebar of pages (Search, Folders, Tags, Train), menus, status bar, drops.

It is built and shown before the library or the model exists (they load in the background), so
the window is painted at once; pages fill in when the controller says the library is ready.
It fits half of a 1920-px screen (800 px wide): the Search page's filters wrap onto more lines
and the status bar's texts shorten (…, in full in their tooltips) rather than widen it.
The thumbnail size (the status bar's slider, View > Larger / Smaller: Ctrl+= / Ctrl+-) and how
scores show (View > Scores) apply to every photo grid and are remembered (ui/settings.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
    QPainter,
    QPalette,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QSlider,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from clipdesk.ui import desktop, drops, icons
from clipdesk.ui.controller import AppController
from clipdesk.ui.folders_page import FoldersPage
from clipdesk.ui.marks import apply_mark
from clipdesk.ui.photo_grid import PhotoGrid
from clipdesk.ui.photo_model import PhotoItem
from clipdesk.ui.photo_view import PhotoView
from clipdesk.ui.search_page import SearchPage
from clipdesk.ui.settings import CELL, CELL_MAX, CELL_MIN, CELL_STEP, ScoreShown
from clipdesk.ui.tags_page import TagsPage
from clipdesk.ui.welcome import WelcomePage

log = logging.getLogger(__name__)
PAGES = ("Search", "Folders", "Tags", "Train")
SCORES = (("On the thumbnail", "badge"), ("On hover", "hover"), ("Hidden", "off"))


def _keys(*keys: str | QKeySequence.StandardKey) -> list[QKeySequence]:
    """Key sequences for one action, each once: a key listed twice makes Qt call the shortcut
    ambiguous and run nothing."""
    found: list[QKeySequence] = []
    for key in keys:
        for seq in [QKeySequence(key)] if isinstance(key, str) else QKeySequence.keyBindings(key):
            if seq not in found:
                found.append(seq)
    return found


class _StatusText(QLabel):
    """A status bar text that shortens itself (…) instead of widening the window; its tooltip
    holds it in full."""

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text)

    def minimumSizeHint(self) -> QSize:
        # a short text ("Library: 1,234 photos") stays whole; a long one gives way down to that
        hint = super().minimumSizeHint()
        short = self.fontMetrics().horizontalAdvance("Library: 123,456 photos")
        return QSize(min(hint.width(), short), hint.height())

    def paintEvent(self, _event) -> None:
        area = self.contentsRect()
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, area.width())
        painter = QPainter(self)
        self.style().drawItemText(
            painter,
            area,
            int(self.alignment() | Qt.AlignmentFlag.AlignVCenter),
            self.palette(),
            self.isEnabled(),
            text,
            QPalette.ColorRole.WindowText,
        )


class _LazyPage(QWidget):
    """Builds its page the first time it is shown: the Train tab pulls in pyqtgraph and friends
    (half a second of imports) that the first paint of the window must not wait for."""

    def __init__(self, build, parent: QWidget) -> None:
        super().__init__(parent)
        self._build = build
        self.page: QWidget | None = None
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    def showEvent(self, event) -> None:
        if self.page is None:
            self.page = self._build(self)
            self._layout.addWidget(self.page)
        super().showEvent(event)


def _train_page(controller: AppController, parent: QWidget) -> QWidget:
    """The Train tab, from its own module (imported when first shown: pyqtgraph is slow to
    import). A failure to import it is a bug, reported as one, never a placeholder."""
    from clipdesk.ui.train_page import TrainPage

    return TrainPage(controller, parent)


class MainWindow(QMainWindow):
    def __init__(self, controller: AppController) -> None:
        super().__init__()
        self.controller = controller
        self.setWindowTitle("ClipDesk")
        self.setWindowIcon(icons.app_icon())
        self.setAcceptDrops(True)
        self.resize(1280, 820)

        self.search = SearchPage(controller, self)
        self.folders = FoldersPage(controller, self)
        self.tags = TagsPage(controller, self)
        self._train = _LazyPage(lambda parent: _train_page(controller, parent), self)
        self.welcome = WelcomePage(controller, self)
        self.stack = QStackedWidget(self)
        self.nav = QListWidget(self)
        self.nav.setObjectName("Sidebar")
        self.nav.setIconSize(QSize(20, 20))
        self.nav.setFixedWidth(150)
        for page, name in zip(
            (self.search, self.folders, self.tags, self._train), PAGES, strict=True
        ):
            self.stack.addWidget(page)
            self.nav.addItem(name)
        self.stack.addWidget(self.welcome)
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        central = QWidget(self)
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.nav)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self._status_library = _StatusText(self)
        self._status_model = _StatusText(self)
        self._status_index = _StatusText(self)
        self._status_ocr = _StatusText(self)  # reading text: a pass of its own, after indexing
        for w in (self._status_index, self._status_ocr, self._status_library, self._status_model):
            self.statusBar().addPermanentWidget(w)
        self.thumb_size = QSlider(Qt.Orientation.Horizontal, self)
        self.thumb_size.setRange(CELL_MIN // CELL_STEP, CELL_MAX // CELL_STEP)
        self.thumb_size.setPageStep(2)
        self.thumb_size.setFixedWidth(100)
        self.thumb_size.setToolTip("Thumbnail size (Ctrl+= larger, Ctrl+- smaller)")
        self.thumb_size.setAccessibleName("Thumbnail size")
        self.thumb_size.setValue(controller.settings.thumbnail_px // CELL_STEP)
        self.thumb_size.valueChanged.connect(lambda v: self.set_thumbnail_size(v * CELL_STEP))
        self.statusBar().addPermanentWidget(self.thumb_size)
        self._build_menus()
        settings = controller.settings
        for grid in self.grids():
            grid.set_cell(settings.thumbnail_px)
            grid.set_score_shown(settings.score_shown)
        self._connect()
        self.refresh_status()
        if controller.settings.welcome_done:
            self.show_page("Search")
        else:
            self.stack.setCurrentWidget(self.welcome)
            self.nav.setEnabled(False)
        geometry = controller.settings.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)

    @property
    def train(self) -> QWidget:
        """The Train page (built the first time it is shown)."""
        return self._train.page or self._train

    # --- wiring -----------------------------------------------------------------------------
    def _build_menus(self) -> None:
        def action(menu, text, slot, shortcut=None) -> QAction:
            a = QAction(text, self)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
            a.triggered.connect(slot)
            menu.addAction(a)
            return a

        file = self.menuBar().addMenu("&File")
        action(file, "Add photo folder…", self._add_folder, QKeySequence.StandardKey.Open)
        action(file, "Settings…", self.open_settings, QKeySequence.StandardKey.Preferences)
        file.addSeparator()
        action(file, "Quit", self.close, QKeySequence.StandardKey.Quit)
        edit = self.menuBar().addMenu("&Edit")
        action(edit, "Find", self.focus_search, QKeySequence.StandardKey.Find)
        action(edit, "Search with the image on the clipboard", self.paste_image, "Ctrl+Shift+V")
        action(edit, "Tag selected photos…", self.tag_selected, "Ctrl+T")
        view = self.menuBar().addMenu("&View")
        for i, name in enumerate(PAGES):
            action(view, name, lambda _=False, n=name: self.show_page(n), f"Ctrl+{i + 1}")
        view.addSeparator()
        step = 2 * CELL_STEP
        larger = action(
            view, "Larger thumbnails", lambda: self.set_thumbnail_size(self.cell + step)
        )
        # Ctrl+= is Ctrl++ without Shift on most keyboards: both work, and the platform's zoom keys
        larger.setShortcuts(_keys("Ctrl+=", QKeySequence.StandardKey.ZoomIn))
        smaller = action(
            view, "Smaller thumbnails", lambda: self.set_thumbnail_size(self.cell - step)
        )
        smaller.setShortcuts(_keys("Ctrl+-", QKeySequence.StandardKey.ZoomOut))
        action(view, "Default thumbnail size", lambda: self.set_thumbnail_size(CELL), "Ctrl+0")
        scores = view.addMenu("Scores")
        group = QActionGroup(self)
        self.score_actions: dict[str, QAction] = {}
        for text, how in SCORES:
            a = action(scores, text, lambda _=False, h=how: self.set_score_shown(h))
            a.setCheckable(True)
            a.setChecked(how == self.controller.settings.score_shown)
            group.addAction(a)
            self.score_actions[how] = a
        # The tag panel takes ~180 px: on a narrow window the grid may want them back.
        self.tag_panel_action = action(view, "Tag panel", self.show_tag_panel, "Ctrl+Shift+T")
        self.tag_panel_action.setCheckable(True)
        self.tag_panel_action.setChecked(self.controller.settings.tag_panel_shown)
        help_menu = self.menuBar().addMenu("&Help")
        action(help_menu, "About ClipDesk", self._about)

    def _connect(self) -> None:
        c = self.controller
        c.stateChanged.connect(self.refresh_status)
        c.errorRaised.connect(self.show_error)
        c.libraryFailed.connect(self.library_problem)
        c.noticeRaised.connect(lambda text: self.statusBar().showMessage(text, 30_000))
        self.welcome.finished.connect(self._welcome_done)
        for grid in (self.search.grid, self.tags.preview):
            grid.openRequested.connect(self.open_photo)
            grid.previewRequested.connect(self.open_photo)
            # a file gone, or no program to open or show it with: said, never silent
            grid.openExternally.connect(
                lambda item: self.hand_on(desktop.open_in_default_app, item.path)
            )
            grid.revealRequested.connect(
                lambda item: self.hand_on(desktop.reveal_in_file_manager, item.path)
            )
            grid.copyPathRequested.connect(lambda item: desktop.copy_path(item.path))
            grid.tagRequested.connect(self.tag_selected)
        preview = self.tags.preview  # the Search page rates its own grid (keys 0-9)
        preview.markRequested.connect(
            lambda ids, mark: apply_mark(
                c, ids, mark, lambda fields: preview.photos.change_items(ids, **fields)
            )
        )
        self.tags.preview.moreLikeThis.connect(self._more_like_this)

    # --- the grids ----------------------------------------------------------------------
    def grids(self) -> tuple[PhotoGrid, ...]:
        """Every photo grid of the window: the thumbnail size and score setting apply to all."""
        return (self.search.grid, self.tags.preview, self.tags.review.batch.grid)

    @property
    def cell(self) -> int:
        """The thumbnail size the grids show, in logical pixels."""
        return self.search.grid.cell

    def set_thumbnail_size(self, px: int) -> None:
        for grid in self.grids():
            grid.set_cell(px)
        px = self.cell  # within the range, on a step
        self.controller.settings.thumbnail_px = px
        self.thumb_size.blockSignals(True)
        self.thumb_size.setValue(px // CELL_STEP)
        self.thumb_size.blockSignals(False)

    def show_tag_panel(self, shown: bool) -> None:
        """Show or hide the Search page's tag panel (remembered)."""
        self.search.tag_panel.setVisible(shown)
        self.controller.settings.tag_panel_shown = shown
        self.tag_panel_action.setChecked(shown)

    def set_score_shown(self, how: ScoreShown) -> None:
        for grid in self.grids():
            grid.set_score_shown(how)
        self.controller.settings.score_shown = how
        self.score_actions[how].setChecked(True)

    def refresh_status(self) -> None:
        c = self.controller
        self._status_library.setText(c.library_state)
        self._status_model.setText(c.model_state)
        self._status_index.setText(c.index_state)
        self._status_ocr.setText(c.ocr_state)

    # --- actions ----------------------------------------------------------------------------
    def show_page(self, name: str) -> None:
        if not self.nav.isEnabled():
            return  # the welcome page is still open
        self.nav.setCurrentRow(PAGES.index(name))

    def focus_search(self) -> None:
        self.show_page("Search")
        self.search.box.focus()

    def _add_folder(self) -> None:
        if self.stack.currentWidget() is self.welcome:
            self.welcome._add()
        else:
            self.show_page("Folders")
            self.folders.choose_folder()

    def paste_image(self) -> None:
        image = drops.query_image_from(QGuiApplication.clipboard().mimeData())
        if image is None:
            self.statusBar().showMessage("The clipboard holds no image. Copy a photo first.", 5000)
            return
        self.search_image(image)

    def search_image(self, image: drops.QueryImage) -> None:
        self.show_page("Search")
        self.search.set_query_image(image)

    def search_image_paths(self, paths) -> None:
        """Images opened "with" ClipDesk (arguments, a second launch): the first one is the query."""
        for path in map(str, paths):
            if drops.is_image_path(path):
                self.search_image(drops.QueryImage(label=os.path.basename(path), path=path))
                return

    def _more_like_this(self, item: PhotoItem) -> None:
        self.show_page("Search")
        self.search.more_like_this(item)

    def open_photo(self, item: PhotoItem) -> None:
        grid = self.tags.preview if self.stack.currentWidget() is self.tags else self.search.grid
        view = PhotoView(self.controller, item, self, siblings=grid.photos.items())
        view.moreLikeThis.connect(self._more_like_this)
        view.marksChanged.connect(lambda ids, fields: grid.photos.change_items(ids, **fields))
        view.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        view.open()

    def tag_selected(self) -> None:
        """The tag action on the selection of the grid in sight (Search, or the Tags preview)."""
        from clipdesk.ui.bulk_tag import open_bulk_tag

        grid = self.tags.preview if self.stack.currentWidget() is self.tags else self.search.grid
        open_bulk_tag(self.controller, grid.selected_ids(), self)

    def open_settings(self) -> None:
        from clipdesk.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.controller, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def hand_on(self, how: Callable[[str], desktop.HandOnProblem | None], path: str) -> None:
        """Open or show ``path`` with the desktop (``how``: a :mod:`~clipdesk.ui.desktop`
        function); when that fails, say why and what to do."""
        problem = how(path)
        if problem is not None:
            self.show_error(problem.message, problem.hint)

    def show_error(self, message: str, hint: str) -> None:
        self.statusBar().showMessage(message, 10_000)
        box = QMessageBox(QMessageBox.Icon.Warning, "ClipDesk", message, parent=self)
        if hint:
            box.setInformativeText(hint)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def library_problem(self, message: str, hint: str) -> None:
        """No library could be opened: offer another, a new one or a retry - not a dead window."""
        from clipdesk.ui.library_problem import LibraryProblemDialog

        self.statusBar().showMessage(message, 10_000)
        dialog = LibraryProblemDialog(self.controller, message, hint, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def _welcome_done(self, folders: list[str], model: str) -> None:
        c = self.controller
        c.settings.welcome_done = True
        self.nav.setEnabled(True)
        self.show_page("Search" if not folders else "Folders")
        for folder in folders:
            c.add_folder(folder)
        if model != (c.shared_settings.model() or ""):
            c.activate_model(model)  # for the CLI too

    def _about(self) -> None:
        from clipdesk import __version__

        QMessageBox.about(
            self,
            "About ClipDesk",
            f"<h3>ClipDesk {__version__}</h3><p>Local photo search and tagging with "
            "an on-device CLIP model. Your photos never leave this computer.</p>",
        )

    # --- drops ------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if drops.has_image(mime) or drops.folders_in(mime):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        mime = event.mimeData()
        folders = drops.folders_in(mime)
        if folders:
            event.acceptProposedAction()
            for folder in folders:
                if self.stack.currentWidget() is self.welcome:
                    self.welcome.add_folder(folder)
                else:
                    self.controller.add_folder(folder)
            if self.stack.currentWidget() is not self.welcome:
                self.show_page("Folders")
            return
        image = drops.query_image_from(mime)
        if image is not None:
            event.acceptProposedAction()
            self.search_image(image)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.controller.settings.set_geometry(self.saveGeometry())
        self.statusBar().clearMessage()  # and its timer
        super().closeEvent(event)
