"""The Search page's folder filter: a button that opens the library's folders as a tree.

"All folders" first, then each watched folder with its subfolders, each with the photos search
finds there (its subfolders' included). Choosing a subfolder narrows the search to it and the
folders below it.

The watched folders and their counts come with every library change (the Folders page's rows);
the subfolders from one grouped query of the library
(:meth:`clipdesk.ui.backend.Backend.folder_tree`, a scan of the photos table: seconds at a
million photos), asked for only when they are wanted - the tree is opened, or a subfolder is
the filter - and not again until the library changes (``treeWanted``).

Keyboard: Space, Enter or Alt+Down open the tree; arrows move, Right/Left open and close a
folder, typing jumps to a name, Enter chooses, Escape closes without a change. The tree keeps
which folders are open, and the choice, when the counts change under it. A folder's exact path
(a name that is not UTF-8 keeps its bytes) stays on the Python side: Qt's item data would drop
the surrogates that stand for such bytes, so items carry an index into a list instead.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QKeyEvent, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHeaderView,
    QPushButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from clipdesk.ui.rows import FolderChoice, FolderRow

log = logging.getLogger(__name__)

ALL = "All folders"
COUNTING = "Counting the photos in subfolders…"
_KEY = Qt.ItemDataRole.UserRole + 1  # index into FolderFilter._choices; -1: all folders
_LABEL_PX = 240  # the button's text is elided beyond this: a long path must not widen the row
_Index = QModelIndex | QPersistentModelIndex
Key = int | str  # a watched folder's id, or a folder inside one by its exact path


class FolderFilter(QPushButton):
    folderChanged = Signal(object)  # the chosen folder's key (FolderChoice.key), None: all
    treeWanted = Signal()  # the subfolders are wanted and not known: answer with set_tree

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(ALL, parent)
        self.setAccessibleName("Folder filter")
        self._roots: list[FolderChoice] = []
        self._choices: list[FolderChoice] = []  # item key -> folder
        self._known: dict[Key, FolderChoice] = {}
        self._current: Key | None = None
        self._stale = True  # the subfolders are not known for the library as it is
        self._asked = False  # a tree was asked for and has not come yet
        self._problem = ""  # why the last tree asked for did not come
        self._open: set[Key] = set()  # folders open in the tree
        self._seen: set[Key] = set()  # watched folders listed before (opened the first time)
        self.model = QStandardItemModel(0, 2, self)
        self.popup = QFrame(self, Qt.WindowType.Popup)
        self.popup.setFrameShape(QFrame.Shape.StyledPanel)
        self.tree = QTreeView(self.popup)
        self.tree.setModel(self.model)
        self.tree.setHeaderHidden(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.clicked.connect(self._chosen)
        self.tree.expanded.connect(lambda index: self._opened(index, True))
        self.tree.collapsed.connect(lambda index: self._opened(index, False))
        self.tree.installEventFilter(self)
        layout = QVBoxLayout(self.popup)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree)
        self.clicked.connect(self.show_tree)
        self._fill()
        self._show_current()

    # --- what it holds ---------------------------------------------------------------------
    def current(self) -> Key | None:
        """The chosen folder: a watched folder's id, a subfolder's exact path; None: all."""
        return self._current

    def paths(self) -> list[str]:
        """Every folder the tree lists, watched folders and subfolders, depth first."""
        return [c.path for c in self._walk()]

    def key_of(self, path: str) -> Key:
        """The key of the folder the tree lists at ``path``."""
        return next(c.key for c in self._walk() if c.path == path)

    def set_folders(self, rows: Sequence[FolderRow]) -> None:
        """The library changed; these are its watched folders now (their counts the photos
        search finds). The subfolders known are kept on show until the new ones come, which
        are asked for at once where they are in use (the tree is open, a subfolder is the
        filter); a chosen watched folder that is gone falls back to all folders."""
        before = {r.folder_id: r for r in self._roots}
        self._roots = [
            FolderChoice(
                r.path,
                r.path,
                r.indexed,
                before[r.id].children if r.id in before else (),
                r.id,
            )
            for r in rows
        ]
        self._stale = True
        self._refill()
        if isinstance(self._current, int) and self._current not in self._known:
            self.select(None)
        elif self.popup.isVisible() or isinstance(self._current, str):
            self._want_tree()

    def tree_failed(self, message: str) -> None:
        """``treeWanted`` could not be answered: the tree says why (and asks again when it is
        next opened)."""
        log.warning("the folder filter's subfolders could not be counted: %s", message)
        self._asked = False
        self._problem = message
        self._refill()

    def set_tree(self, roots: Sequence[FolderChoice]) -> None:
        """The watched folders with all their subfolders and counts (``treeWanted``'s answer).
        The choice stays while its folder is listed; one that is gone falls back to all
        folders, said by ``folderChanged`` so that the search follows."""
        self._asked = False
        self._stale = False
        self._problem = ""
        self._roots = list(roots)
        self._refill()
        if self._current is not None and self._current not in self._known:
            self.select(None)

    def select(self, key: Key | None) -> None:
        """Choose a folder by its key (None: all folders); ``folderChanged`` tells."""
        if key is not None and key not in self._known:
            raise ValueError(f"{key!r} is not a folder of the filter")
        changed = key != self._current
        self._current = key
        self._show_current()
        if changed:
            self.folderChanged.emit(key)

    # --- the tree --------------------------------------------------------------------------
    def show_tree(self) -> None:
        if self._stale:
            self._want_tree()
        width = max(self.width(), 380)
        rows = len(self._choices) + 2
        height = min(420, max(120, rows * (self.fontMetrics().height() + 8) + 8))
        self.popup.resize(width, height)
        self.popup.move(self.mapToGlobal(QPoint(0, self.height())))
        self.popup.show()
        self.tree.setFocus()
        index = self._index_of(self._current)
        self.tree.setCurrentIndex(index)
        self.tree.scrollTo(index)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.tree
            and isinstance(event, QKeyEvent)
            and event.type() == QEvent.Type.KeyPress
        ):
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self._chosen(self.tree.currentIndex())
                return True
            if event.key() == Qt.Key.Key_Escape:
                self.popup.hide()
                self.setFocus()
                return True
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        alt_down = event.key() == Qt.Key.Key_Down and bool(
            event.modifiers() & Qt.KeyboardModifier.AltModifier
        )
        if alt_down or event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_F4):
            self.show_tree()
            return
        super().keyPressEvent(event)  # Space clicks the button, which opens the tree

    def _want_tree(self) -> None:
        if not self._asked:
            self._asked = True
            self._problem = ""
            self.treeWanted.emit()
            self._refill()  # says that the subfolders are being counted

    def _chosen(self, index: _Index) -> None:
        key = index.data(_KEY) if index.isValid() else None
        if key is None:  # the "counting" line
            return
        self.popup.hide()
        self.setFocus()
        self.select(None if key < 0 else self._choices[key].key)

    def _opened(self, index: _Index, opened: bool) -> None:
        key = index.data(_KEY)
        if key is not None and key >= 0:
            (self._open.add if opened else self._open.discard)(self._choices[key].key)

    def _index_of(self, key: Key | None) -> QModelIndex:
        row = -1
        if key is not None:
            row = next((i for i, c in enumerate(self._choices) if c.key == key), -2)
        found = self.model.match(self.model.index(0, 0), _KEY, row, 1, Qt.MatchFlag.MatchRecursive)
        return found[0] if found else self.model.index(0, 0)

    def _walk(self) -> list[FolderChoice]:
        return [c for root in self._roots for c in root.walk()]

    def _refill(self) -> None:
        self._fill()
        self._show_current()

    def _fill(self) -> None:
        self.model.removeRows(0, self.model.rowCount())
        self._choices = []
        total = sum(root.photos for root in self._roots)
        self.model.appendRow(self._row(ALL, f"{total:,}", -1))
        for root in self._roots:
            self.model.appendRow(self._branch(root))
        self._known = {c.key: c for c in self._choices}
        if self._asked or self._problem:
            said = (
                COUNTING if self._asked else f"The subfolders could not be counted: {self._problem}"
            )
            note = QStandardItem(said)
            note.setEnabled(False)
            note.setToolTip(said)
            self.model.appendRow([note, QStandardItem("")])
        # A watched folder shows its subfolders the first time; later, what the user left open.
        roots = {root.key for root in self._roots}
        self._open |= roots - self._seen
        self._seen |= roots
        for key in self._open & set(self._known):
            self.tree.setExpanded(self._index_of(key), True)

    def _branch(self, choice: FolderChoice) -> list[QStandardItem]:
        self._choices.append(choice)
        row = self._row(choice.name, f"{choice.photos:,}", len(self._choices) - 1)
        row[0].setToolTip(choice.name if choice.folder_id is not None else "")
        for child in choice.children:
            row[0].appendRow(self._branch(child))
        return row

    @staticmethod
    def _row(name: str, photos: str, key: int) -> list[QStandardItem]:
        label = QStandardItem(name)
        label.setData(key, _KEY)
        count = QStandardItem(photos)
        count.setData(key, _KEY)
        count.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return [label, count]

    def _show_current(self) -> None:
        trail = self._trail(self._current) if self._current is not None else []
        if not trail:
            words, tip = ALL, "Only photos in one folder and its subfolders"
        else:
            # a subfolder under its watched folder's own name: "Pictures › 2023 › june"
            top = os.path.basename(trail[0].name.rstrip(os.sep)) or trail[0].name
            words = " › ".join([top, *(c.name for c in trail[1:])]) if len(trail) > 1 else top
            tip = f"Only photos in {' › '.join(c.name for c in trail)} and its subfolders"
        self.setText(self.fontMetrics().elidedText(words, Qt.TextElideMode.ElideMiddle, _LABEL_PX))
        self.setToolTip(tip)

    def _trail(self, key: Key) -> list[FolderChoice]:
        """The folders from a watched folder down to ``key``'s ([] when it is not listed)."""
        for root in self._roots:
            trail = _trail(root, key)
            if trail:
                return trail
        return []


def _trail(choice: FolderChoice, key: Key) -> list[FolderChoice]:
    if choice.key == key:
        return [choice]
    for child in choice.children:
        below = _trail(child, key)
        if below:
            return [choice, *below]
    return []
