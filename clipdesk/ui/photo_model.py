"""The list model behind every photo grid: one answer's photo ids, with custom roles.

The rows are a :class:`~clipdesk.ui.photo_rows.PhotoRows`: every match's id and score, with a
:class:`PhotoItem` (path, date) only for the rows read so far. Painting a row that is not read
yet asks for its page; the pages a frame asks for are read together, in the background when the
page gave the model a way to run work there (:attr:`PhotoListModel.background`), and the rows
repaint when they arrive. Thumbnails come from a :class:`~clipdesk.ui.thumbnails.ThumbnailCache`
that the delegate asks at paint time, so a model of 100k results costs two arrays and a
screenful of small records, and no pixmaps. Dragging rows out gives the files' URLs. A search's
row says why it matched in its tooltip: CLIP, and the words found in it with a snippet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import IntEnum
from functools import partial

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    QUrl,
)

from clipdesk.common.fsnames import file_url, shown
from clipdesk.ui.photo_rows import PhotoItem, PhotoRows

__all__ = [
    "Background",
    "PhotoItem",
    "PhotoListModel",
    "PhotoRows",
    "Role",
    "describe_date",
    "describe_match",
    "describe_suggested",
]

log = logging.getLogger(__name__)
_Index = QModelIndex | QPersistentModelIndex
Items = list[PhotoItem]
# run(work, on_result, on_error): run work() off the GUI thread and deliver its result (or its
# error) on the GUI thread - what ui.workers.Workers.run does for a pool.
Background = Callable[
    [Callable[[], Items], Callable[[Items], None], Callable[[BaseException], None]], object
]


# Computed once: the view asks for flags many times per painted frame, and enum arithmetic in
# Python is not free.
_ITEM_FLAGS = (
    Qt.ItemFlag.ItemIsEnabled
    | Qt.ItemFlag.ItemIsSelectable
    | Qt.ItemFlag.ItemIsDragEnabled
    | Qt.ItemFlag.ItemNeverHasChildren
)


class Role(IntEnum):
    PhotoId = Qt.ItemDataRole.UserRole + 1
    Path = Qt.ItemDataRole.UserRole + 2
    Score = Qt.ItemDataRole.UserRole + 3
    TakenAt = Qt.ItemDataRole.UserRole + 4
    Item = Qt.ItemDataRole.UserRole + 5
    MatchedBy = Qt.ItemDataRole.UserRole + 6  # tuple of "clip", "ocr", "name", "meta", "tags"
    Snippet = Qt.ItemDataRole.UserRole + 7


def describe_suggested(n: int) -> str:
    """What a thumbnail's "?" mark means, for its tooltip."""
    tags = "1 tag" if n == 1 else f"{n} tags"
    return f"{tags} suggested by the model, not confirmed (? on the thumbnail)"


def describe_match(matched_by: Sequence[str]) -> str:
    """Why a photo matched, for people: "CLIP and file name"."""
    from clipdesk.services.search import SOURCE_NAMES  # a tooltip's first hover: loaded by then

    names = [SOURCE_NAMES.get(s, s) for s in matched_by]  # type: ignore[call-overload]
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


def describe_date(ts: float | None) -> str:
    return (
        datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts is not None else "unknown date"
    )


class PhotoListModel(QAbstractListModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows = PhotoRows([])
        self.background: Background | None = None  # None: pages are read on the GUI thread
        self._wanted: set[int] = set()  # rows painted before their page was read
        self._loading: set[int] = set()  # pages of these rows being read
        self._later = QTimer(self)  # gathers one frame's wanted rows into page reads
        self._later.setSingleShot(True)
        self._later.setInterval(0)
        self._later.timeout.connect(self._read_wanted)

    # --- content ---------------------------------------------------------------------------
    def set_items(self, items: Sequence[PhotoItem]) -> None:
        """Rows whose every item is known (a short list)."""
        self.set_rows(PhotoRows.of(list(items)))

    def set_rows(self, rows: PhotoRows) -> None:
        """A new answer; pages still being read for the old one fill the old one only."""
        self.beginResetModel()
        self._rows = rows
        self._wanted.clear()
        self._loading.clear()
        self.endResetModel()

    def update_rows(self, rows: PhotoRows) -> None:
        """The same query answered again over a library that changed: photos that left go,
        new ones come in at their places, and nothing the views hold moves with the rows -
        their selection and current photo (persistent indexes) follow their photos, the grid
        keeps its first visible photo where it was (:class:`~clipdesk.ui.photo_grid.PhotoGrid`).
        The rows read so far stay painted (no placeholders flash) and are read again when
        painted next, so they show this answer's scores and reasons.

        One layout change, not an insert or remove per row: a few new photos scattered through
        100,000 results cost one relayout (Qt's way for changes of any shape)."""
        old = self._rows
        rows.carry(old)
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        ids = [int(old.ids[p.row()]) if 0 <= p.row() < len(old) else -1 for p in persistent]
        self._rows = rows
        self._wanted.clear()
        self._loading.clear()  # reads under way fill the old rows they were asked for
        if persistent:
            moved = [self.index(r, 0) if r >= 0 else QModelIndex() for r in rows.rows_of(ids)]
            self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()

    def items(self) -> PhotoRows:
        """Every row, as a sequence that reads a page when asked for a row not read yet (the
        photo view walks through it): not a copy, but it stays this answer's."""
        return self._rows

    def item(self, row: int) -> PhotoItem:
        return self._rows[row]

    def row_of(self, photo_id: int) -> int | None:
        return self._rows.row_of(photo_id)

    def photo_changed(self, photo_id: int) -> None:
        """Repaint one photo (its thumbnail arrived)."""
        row = self._rows.loaded_row_of(photo_id)
        if row is not None:
            index = self.index(row, 0)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def change_items(self, photo_ids: Sequence[int], **fields: object) -> None:
        """Show new values of some fields of these photos' rows (a rating, a label) without
        reading them again."""
        for row in self._rows.change(photo_ids, **fields):
            index = self.index(row, 0)
            self.dataChanged.emit(index, index, [Role.Item])

    def remove_ids(self, photo_ids: set[int]) -> None:
        found = (self._rows.row_of(i) for i in photo_ids)
        for row in sorted((r for r in found if r is not None), reverse=True):
            self.beginRemoveRows(QModelIndex(), row, row)
            self._rows = self._rows.without({int(self._rows.ids[row])})
            self._loading.clear()  # reads under way fill the rows they were asked for
            self.endRemoveRows()

    # --- reading pages ---------------------------------------------------------------------
    def _want(self, row: int) -> None:
        self._wanted.add(row)
        if not self._later.isActive():
            self._later.start()

    def _read_wanted(self) -> None:
        rows, wanted = self._rows, self._wanted
        self._wanted = set()
        for page in rows.missing(wanted):
            if page in self._loading or not rows.readable:
                continue
            self._loading.add(page)
            if self.background is None:
                self._arrived(rows, page, rows.read_only(page))
            else:
                self.background(
                    partial(rows.read_only, page),
                    partial(self._arrived, rows, page),
                    partial(self._failed, rows, page),
                )

    def _arrived(self, rows: PhotoRows, page: int, items: Items) -> None:
        start, stop = rows.span(page)
        rows.fill(start, stop, items)
        if rows is self._rows:
            self._loading.discard(page)
            if stop > start:
                self.dataChanged.emit(self.index(start, 0), self.index(stop - 1, 0))

    def _failed(self, rows: PhotoRows, page: int, exc: BaseException) -> None:
        log.warning("cannot read rows %s-%s of the grid: %s", *rows.span(page), exc)
        if rows is self._rows:
            self._loading.discard(page)  # painted again, the rows are asked for again

    # --- Qt model interface ----------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        row = index.row()
        if not index.isValid() or not 0 <= row < len(self._rows):
            return None
        item = self._rows.loaded(row)
        if item is not None and self._rows.is_stale(row):
            self._want(row)  # carried over from the answer before: shown until read afresh
        if item is None:  # painted before its page was read: a placeholder meanwhile
            self._want(row)
            if role == Role.PhotoId:
                return int(self._rows.ids[row])
            if role == Role.Score and self._rows.scores is not None:
                score = float(self._rows.scores[row])
                return None if score != score else score  # NaN: found by its words only
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return item.name
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [shown(item.path)]
            if item.score is not None:
                lines.append(f"Score: {item.score:.3f}")
            if item.matched_by:
                lines.append(f"Matched by {describe_match(item.matched_by)}")
            if item.snippet:
                lines.append(f"“{item.snippet}”")
            if item.suggested:
                lines.append(describe_suggested(item.suggested))
            lines.append(describe_date(item.taken_at))
            return "\n".join(lines)
        if role == Role.PhotoId:
            return item.id
        if role == Role.Path:  # through Qt: readable; the exact path is Role.Item's
            return shown(item.path)
        if role == Role.Score:
            return item.score
        if role == Role.TakenAt:
            return item.taken_at
        if role == Role.Item:
            return item
        if role == Role.MatchedBy:
            return item.matched_by
        if role == Role.Snippet:
            return item.snippet
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        return _ITEM_FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def roleNames(self) -> dict[int, QByteArray]:
        names = super().roleNames()
        names.update(
            {
                Role.PhotoId: QByteArray(b"photoId"),
                Role.Path: QByteArray(b"path"),
                Role.Score: QByteArray(b"score"),
                Role.TakenAt: QByteArray(b"takenAt"),
                Role.Item: QByteArray(b"item"),
                Role.MatchedBy: QByteArray(b"matchedBy"),
                Role.Snippet: QByteArray(b"snippet"),
            }
        )
        return names

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list"]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        mime = QMimeData()
        # Rows selected but never painted are read here, a page at a time: the drag needs them.
        items = [self._rows[r] for r in sorted({i.row() for i in indexes if i.isValid()})]
        items = [i for i in items if i.path]  # not photos that left the library meanwhile
        # percent-escaped bytes: a name that is not UTF-8 still names the file for the receiver
        urls = [QUrl.fromEncoded(file_url(i.path).encode("ascii")) for i in items]
        mime.setUrls(urls)
        mime.setText("\n".join(shown(i.path) for i in items))
        return mime

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction
