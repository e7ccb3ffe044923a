"""The list model behind every photo grid: a list of photo ids with custom roles, nothing more.

Rows are :class:`PhotoItem` (id, path, score, date); thumbnails come from a
:class:`~clipdesk.ui.thumbnails.ThumbnailCache` that the delegate asks at paint time, so a model of
100k results costs 100k small tuples and no pixmaps. Dragging rows out gives the files' URLs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QUrl,
)

from clipdesk.common.fsnames import file_url, shown

_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True, slots=True)
class PhotoItem:
    id: int
    path: str
    score: float | None = None  # of the last query (cosine, or a match probability); None: browsed
    taken_at: float | None = None  # POSIX seconds (EXIF date, else file mtime)

    @property
    def name(self) -> str:
        return shown(os.path.basename(self.path))


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


def describe_date(ts: float | None) -> str:
    return (
        datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts is not None else "unknown date"
    )


class PhotoListModel(QAbstractListModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._items: list[PhotoItem] = []
        self._rows: dict[int, int] = {}

    # --- content ---------------------------------------------------------------------------
    def set_items(self, items: Sequence[PhotoItem]) -> None:
        self.beginResetModel()
        self._items = list(items)
        self._rows = {item.id: row for row, item in enumerate(self._items)}
        self.endResetModel()

    def items(self) -> list[PhotoItem]:
        return list(self._items)

    def item(self, row: int) -> PhotoItem:
        return self._items[row]

    def row_of(self, photo_id: int) -> int | None:
        return self._rows.get(photo_id)

    def photo_changed(self, photo_id: int) -> None:
        """Repaint one photo (its thumbnail arrived)."""
        row = self._rows.get(photo_id)
        if row is not None:
            index = self.index(row, 0)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def remove_ids(self, photo_ids: set[int]) -> None:
        rows = sorted((self._rows[i] for i in photo_ids if i in self._rows), reverse=True)
        for row in rows:
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._items[row]
            self.endRemoveRows()
        if rows:
            self._rows = {item.id: row for row, item in enumerate(self._items)}

    # --- Qt model interface ----------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return item.name
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [shown(item.path)]
            if item.score is not None:
                lines.append(f"Score: {item.score:.3f}")
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
            }
        )
        return names

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list"]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        mime = QMimeData()
        rows = sorted({i.row() for i in indexes if i.isValid()})
        # percent-escaped bytes: a name that is not UTF-8 still names the file for the receiver
        urls = [QUrl.fromEncoded(file_url(self._items[r].path).encode("ascii")) for r in rows]
        mime.setUrls(urls)
        mime.setText("\n".join(shown(self._items[r].path) for r in rows))
        return mime

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction
