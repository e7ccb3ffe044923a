"""The main window: a sidebar of pages (Search, Folders, Tags, Train), menus, status bar, drops.

It is built and shown before the library or the model exists (they load in the background), so
the window is painted at once; pages fill in when the controller says the library is ready.
"""

from __future__ import annotations

import logging
import os

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from clipdesk.ui import desktop, drops, icons
from clipdesk.ui.controller import AppController
from clipdesk.ui.folders_page import FoldersPage
from clipdesk.ui.photo_model import PhotoItem
from clipdesk.ui.photo_view import PhotoView
from clipdesk.ui.search_page import SearchPage
from clipdesk.ui.tags_page import TagsPage
from clipdesk.ui.welcome import WelcomePage

log = logging.getLogger(__name__)
PAGES = ("Search", "Folders", "Tags", "Train")


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
    """The Train tab comes from its own module; until it exists, the area says so."""
    try:
        from clipdesk.ui.train_page import TrainPage
    except ImportError:
        label = QLabel("Fine-tuning the model on your own photos will appear here.", parent)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        return label
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

        self._status_library = QLabel(self)
        self._status_model = QLabel(self)
        self._status_index = QLabel(self)
        self._status_ocr = QLabel(self)  # reading text: a pass of its own, after indexing
        for w in (self._status_index, self._status_ocr, self._status_library, self._status_model):
            self.statusBar().addPermanentWidget(w)
        self._build_menus()
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
        view = self.menuBar().addMenu("&View")
        for i, name in enumerate(PAGES):
            action(view, name, lambda _=False, n=name: self.show_page(n), f"Ctrl+{i + 1}")
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
            grid.openExternally.connect(lambda item: desktop.open_in_default_app(item.path))
            grid.revealRequested.connect(lambda item: desktop.reveal_in_file_manager(item.path))
            grid.copyPathRequested.connect(lambda item: desktop.copy_path(item.path))
        self.tags.preview.moreLikeThis.connect(self._more_like_this)

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
        view.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        view.open()

    def open_settings(self) -> None:
        from clipdesk.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.controller, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

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
