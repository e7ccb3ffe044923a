"""A thumbnail grid (QListView in icon mode) over a :class:`PhotoListModel`.

Enter or a double-click opens a photo, Space previews it, the context menu offers "More like this",
open, reveal and copy path; dragging photos out gives other apps their files. A cell painted
before its row was read (the model reads rows by page) shows a placeholder and offers nothing
until the row arrives, a few milliseconds later.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QListView, QMenu

from clipdesk.ui.delegate import CAPTION, CELL, PAD, ThumbnailDelegate
from clipdesk.ui.photo_model import PhotoItem, PhotoListModel, Role
from clipdesk.ui.thumbnails import ThumbnailCache


class PhotoGrid(QListView):
    openRequested = Signal(object)  # PhotoItem: Enter / double-click
    previewRequested = Signal(object)  # PhotoItem: Space
    moreLikeThis = Signal(object)  # PhotoItem
    revealRequested = Signal(object)
    openExternally = Signal(object)
    copyPathRequested = Signal(object)

    def __init__(self, thumbs: ThumbnailCache, parent=None, show_score: bool = True) -> None:
        super().__init__(parent)
        self.photos = PhotoListModel(self)
        self.setModel(self.photos)
        self.setItemDelegate(ThumbnailDelegate(thumbs, self, show_score=show_score))
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)  # O(1) layout: 100k rows scroll like 100
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(2000)
        self.setGridSize(QSize(CELL + 2 * PAD + 4, CELL + CAPTION + 2 * PAD + 4))
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setMouseTracking(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self.doubleClicked.connect(self._double_clicked)
        thumbs.ready.connect(self.photos.photo_changed)
        thumbs.failed.connect(lambda pid, _reason: self.photos.photo_changed(pid))

    def current_item(self) -> PhotoItem | None:
        index = self.currentIndex()
        return index.data(Role.Item) if index.isValid() else None

    def selected_items(self) -> list[PhotoItem]:
        """The selected photos in grid order (rows never painted are read for it)."""
        rows = sorted(i.row() for i in self.selectedIndexes())
        return [self.photos.item(r) for r in rows]

    def screenful(self) -> int:
        """How many cells one screen of the grid shows (a row more, for a partly shown one)."""
        grid = self.gridSize()
        area = self.viewport().size()
        columns = max(1, area.width() // max(1, grid.width()))
        rows = max(1, area.height() // max(1, grid.height())) + 1
        return columns * rows

    def _double_clicked(self, index) -> None:
        item = index.data(Role.Item)
        if item is not None:
            self.openRequested.emit(item)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        item = self.current_item()
        if item is not None and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.openRequested.emit(item)
            return
        if item is not None and event.key() == Qt.Key.Key_Space:
            self.previewRequested.emit(item)
            return
        super().keyPressEvent(event)

    def _context_menu(self, pos) -> None:
        index = self.indexAt(pos)
        if not index.isValid():
            return
        item: PhotoItem | None = index.data(Role.Item)
        if item is None:
            return
        menu = QMenu(self)
        for text, signal in (
            ("More like this", self.moreLikeThis),
            ("Open photo view", self.openRequested),
            ("Open in default app", self.openExternally),
            ("Show in file manager", self.revealRequested),
            ("Copy path", self.copyPathRequested),
        ):
            action = QAction(text, menu)
            action.triggered.connect(lambda _=False, s=signal: s.emit(item))
            menu.addAction(action)
        menu.exec(self.viewport().mapToGlobal(pos))
