"""A thumbnail grid (QListView in icon mode) over a :class:`PhotoListModel`.

Enter or a double-click opens a photo, Space previews it, the context menu offers the selection's
tag action (Ctrl+T), "More like this", open, reveal and copy path; Ctrl/Shift-click, Ctrl+A and
a rubber band from empty space select; dragging photos out gives other apps their files. A cell
painted before its row was read (the model reads rows by page) shows a placeholder and offers
nothing until the row arrives, a few milliseconds later.

The view holds still while its rows change under it (photos arriving while indexing, photos
leaving, the cells changing size): the first photo on screen stays where it was, and the
selection and the current photo stay (see :meth:`PhotoGrid._hold_view`); only a grid at its very
top with nothing selected lets new photos come in at the top, in sight. A new query (its page
scrolls to the top) moves it.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionRange, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QListView, QMenu

from clipdesk.ui.delegate import ThumbnailDelegate
from clipdesk.ui.marks import mark_of_key
from clipdesk.ui.photo_model import PhotoItem, PhotoListModel, Role
from clipdesk.ui.settings import CELL, ScoreShown, clamp_cell
from clipdesk.ui.thumbnails import ThumbnailCache

_GAP = 4  # pixels between two cells


class PhotoGrid(QListView):
    openRequested = Signal(object)  # PhotoItem: Enter / double-click
    previewRequested = Signal(object)  # PhotoItem: Space
    moreLikeThis = Signal(object)  # PhotoItem
    revealRequested = Signal(object)
    openExternally = Signal(object)
    copyPathRequested = Signal(object)
    tagRequested = Signal()  # the selection's tag action (ui/bulk_tag.py)
    # (photo ids, ui.marks.Mark): keys 0-5 rate, 6-9 label the selection (ui/marks.py)
    markRequested = Signal(list, object)

    def __init__(
        self,
        thumbs: ThumbnailCache,
        parent=None,
        score_shown: ScoreShown = "badge",
        cell: int = CELL,
    ) -> None:
        super().__init__(parent)
        self.photos = PhotoListModel(self)
        self.setModel(self.photos)
        self._delegate = ThumbnailDelegate(thumbs, self, score_shown=score_shown)
        self._delegate.cell = clamp_cell(cell)
        self.setItemDelegate(self._delegate)
        # (photo id, top in the viewport) of the cells on screen, first first, while the rows
        # change under them; None when the view is not held
        self._anchor: list[tuple[int, int]] | None = None
        for signal in (
            self.photos.layoutAboutToBeChanged,
            self.photos.rowsAboutToBeInserted,
            self.photos.rowsAboutToBeRemoved,
        ):
            signal.connect(self._hold_view)
        self.photos.modelAboutToBeReset.connect(self._let_go)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)  # O(1) layout: 100k rows scroll like 100
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(2000)
        self.setGridSize(self._delegate.cell_size() + QSize(_GAP, _GAP))
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        # a press on empty space drags a rubber band (a press on a photo drags its file out)
        self.setSelectionRectVisible(True)
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

    def selected_ids(self) -> list[int]:
        """The selected photos' ids in grid order, from the selection's ranges: Ctrl+A over
        100k photos reads no rows for it."""
        ids = self.photos.items().ids
        rows = sorted(row for r in self._ranges() for row in range(r.top(), r.bottom() + 1))
        return [int(ids[row]) for row in rows]

    def selected_count(self) -> int:
        return sum(r.height() for r in self._ranges())

    def _ranges(self) -> list[QItemSelectionRange]:
        selection = self.selectionModel().selection()
        return [selection.at(i) for i in range(selection.count())]

    def selected_items(self) -> list[PhotoItem]:
        """The selected photos in grid order (rows never painted are read for it)."""
        rows = sorted(i.row() for i in self.selectedIndexes())
        return [self.photos.item(r) for r in rows]

    # --- cell size and scores -------------------------------------------------------------
    @property
    def cell(self) -> int:
        """The thumbnail square's side, in logical pixels."""
        return self._delegate.cell

    def set_cell(self, px: int) -> None:
        """Make the thumbnails ``px`` logical pixels square (within the allowed range); the
        first photo on screen stays on screen."""
        px = clamp_cell(px)
        if px == self._delegate.cell:
            return
        self._hold_view()
        self._delegate.cell = px
        self.setGridSize(self._delegate.cell_size() + QSize(_GAP, _GAP))
        self.scheduleDelayedItemsLayout()  # uniform item sizes: the one size is measured again

    @property
    def score_shown(self) -> ScoreShown:
        return self._delegate.score_shown

    def set_score_shown(self, how: ScoreShown) -> None:
        self._delegate.score_shown = how
        self.viewport().update()

    # --- holding the view while rows change ---------------------------------------------
    def on_screen(self) -> list[tuple[int, int]]:
        """(photo id, top of its cell in the viewport) of every cell on screen, in grid order."""
        grid = self.gridSize()
        area = self.viewport().rect()
        rows: set[int] = set()
        # a point in the middle of each column, every half cell down: every cell on screen is hit
        for y in range(0, max(1, area.height()), max(1, grid.height() // 2)):
            for x in range(max(1, grid.width() // 2), max(2, area.width()), max(1, grid.width())):
                index = self.indexAt(QPoint(x, y))
                if index.isValid():
                    rows.add(index.row())
        ids = self.photos.items().ids
        return [(int(ids[r]), self.visualRect(self.photos.index(r, 0)).top()) for r in sorted(rows)]

    def _hold_view(self, *_change: object) -> None:
        """Before the rows change: remember what is on screen, and paint nothing until it is
        back in place (the list view lays 100k rows out in batches, over a few event-loop turns,
        and would show the top meanwhile)."""
        if self._anchor is not None:
            return  # a second change before the view was restored: the first view counts
        at_top = self.verticalScrollBar().value() == 0
        if at_top and not self.selectionModel().hasSelection():
            return  # as a mail client's inbox: at the top, new photos come into sight there
        on_screen = self.on_screen()
        if not on_screen:
            return
        self._anchor = on_screen
        self.viewport().setUpdatesEnabled(False)

    def _let_go(self) -> None:
        if self._anchor is not None:
            self._anchor = None
            self.viewport().setUpdatesEnabled(True)

    def updateGeometries(self) -> None:
        super().updateGeometries()
        if self._anchor is not None:
            self._restore_view()

    def _restore_view(self) -> None:
        """Scroll so that the first photo still on screen is where it was, once the view has laid
        its row out (called after each layout pass until then)."""
        assert self._anchor is not None
        found = [
            (row, top)
            for row, (_pid, top) in zip(
                self.photos.items().rows_of([pid for pid, _top in self._anchor]),
                self._anchor,
                strict=True,
            )
            if row >= 0
        ]
        if not found:  # every photo that was on screen left: the view stays where it is
            self._let_go()
            return
        row, top = found[0]
        rect = self.visualRect(self.photos.index(row, 0))
        if not rect.isValid():
            return  # not laid out yet: the next layout pass tries again
        bar = self.verticalScrollBar()
        wanted = bar.value() + rect.top() - top
        bar.setValue(wanted)
        last = self.visualRect(self.photos.index(self.photos.rowCount() - 1, 0))
        if bar.value() == wanted or last.isValid():  # in place, or as near as the rows allow
            self._let_go()

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
        mark = mark_of_key(event)
        if mark is not None:  # a digit is a rating or a label here, never a type-ahead search
            ids = self.selected_ids() or ([item.id] if item is not None else [])
            if ids:
                self.markRequested.emit(ids, mark)
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
        count = self.selected_count()
        tag = QAction(f"Tag {count:,} selected photo{'s' * (count != 1)}…", menu)
        tag.setShortcut("Ctrl+T")  # shown as the hint; the window's Edit menu owns the key
        tag.triggered.connect(self.tagRequested.emit)
        menu.addAction(tag)
        menu.addSeparator()
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
