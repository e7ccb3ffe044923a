"""The Train tab's tables: a read-only rows model (with photo thumbnails from the app's cache) and
a table view whose columns always fit its width, so no table needs a horizontal scrollbar.

Columns get what their cells and their word-wrapped header need; when the view is narrower than
that, the widest columns give way first (:func:`fit_widths`), their text elided, the tooltip
holding it whole."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
)
from PySide6.QtGui import QIcon, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

if TYPE_CHECKING:
    from clipdesk.ui.thumbnails import ThumbnailCache

Index = QModelIndex | QPersistentModelIndex
THUMB = 56  # logical pixels of a photo's thumbnail in a table row
_WRAP = Qt.AlignmentFlag(int(Qt.TextFlag.TextWordWrap))


class RowsModel(QAbstractTableModel):
    """Rows of cells for a QTableView; cells are shown as text, ``keys[i]`` rides along on
    ``Qt.UserRole`` (e.g. a photo id or a model name) and ``tips[i]`` as the tooltip. Given a
    thumbnail cache, rows set with ``photos`` show the photo's thumbnail in their first column
    (made in the cache's worker pool; the cell repaints when it arrives)."""

    def __init__(
        self, headers: Sequence[str], parent: Any = None, thumbs: ThumbnailCache | None = None
    ) -> None:
        super().__init__(parent)
        self.headers = list(headers)
        self.rows: list[list[str]] = []
        self.keys: list[Any] = []
        self.tips: list[str] = []
        self.photos: list[tuple[int, str] | None] = []
        self._thumbs = thumbs
        self._icons: dict[int, QIcon] = {}
        if thumbs is not None:
            thumbs.ready.connect(self._thumb_ready)

    def set_rows(
        self,
        rows: Sequence[Sequence[Any]],
        keys: Sequence[Any] | None = None,
        tips: Sequence[str] | None = None,
        photos: Sequence[tuple[int, str] | None] | None = None,
    ) -> None:
        self.beginResetModel()
        self.rows = [[cell(v) for v in r] for r in rows]
        self.keys = list(keys) if keys is not None else [None] * len(self.rows)
        self.tips = list(tips) if tips is not None else [""] * len(self.rows)
        self.photos = list(photos) if photos is not None else [None] * len(self.rows)
        self._icons.clear()
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.headers)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self.rows)):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.rows[index.row()][index.column()]
        if role == Qt.ItemDataRole.UserRole:
            return self.keys[index.row()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tips[index.row()] or None
        if role == Qt.ItemDataRole.DecorationRole and index.column() == 0:
            return self.thumbnail(index.row())
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @property
    def shows_photos(self) -> bool:
        return self._thumbs is not None

    def thumbnail(self, row: int) -> QIcon | None:
        """The row's photo as an icon once its thumbnail is made (asked for on first paint)."""
        photo = self.photos[row] if self._thumbs is not None else None
        if photo is None:
            return None
        photo_id, path = photo
        icon = self._icons.get(photo_id)
        if icon is None:
            assert self._thumbs is not None
            # made at the row's size in the cache's workers (a grid's size stands in meanwhile)
            pixmap = self._thumbs.get(photo_id, path, THUMB)
            if pixmap is None or pixmap.isNull():
                return None
            icon = self._icons[photo_id] = QIcon(pixmap)
        return icon

    def _thumb_ready(self, photo_id: int) -> None:
        self._icons.pop(photo_id, None)  # a stand-in's, or none yet
        for row, photo in enumerate(self.photos):
            if photo is not None and photo[0] == photo_id:
                at = self.index(row, 0)
                self.dataChanged.emit(at, at, [Qt.ItemDataRole.DecorationRole])

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(self.headers)
        ):
            return self.headers[section]
        return None


def cell(v: Any) -> str:
    """A value as a compact cell: floats with two decimals, nothing as a dash."""
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def fit_widths(wanted: Sequence[int], available: int, stretch: int | None = 0) -> list[int]:
    """Column widths summing to ``available``: each its ``wanted`` width and column ``stretch``
    the rest (None: every column a share) when all fit; otherwise the widest are cut to one
    common width (water-filling), so narrow columns of numbers stay whole while long names are
    elided."""
    wanted = [max(0, int(w)) for w in wanted]
    if not wanted:
        return []
    available = max(0, available)
    spare = available - sum(wanted)
    if spare >= 0:
        if stretch is not None:
            out = list(wanted)
            out[stretch] += spare
            return out
        share, rest = divmod(spare, len(wanted))
        return [w + share + (1 if i < rest else 0) for i, w in enumerate(wanted)]
    remaining, left, cap = available, len(wanted), 0
    for w in sorted(wanted):
        if w * left > remaining:
            cap = remaining // left
            break
        remaining -= w
        left -= 1
    out = [min(w, cap) for w in wanted]
    out[stretch or 0] += available - sum(out)  # the rounding's few pixels
    return out


class WrapHeader(QHeaderView):
    """A horizontal header whose labels wrap at spaces: a column needs only its longest word."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setDefaultAlignment(Qt.AlignmentFlag.AlignCenter | _WRAP)
        self.setMinimumSectionSize(16)

    def sectionSizeFromContents(self, logicalIndex: int) -> QSize:  # noqa: N802, N803 - Qt's
        size = super().sectionSizeFromContents(logicalIndex)
        model = self.model()
        text = str(
            model.headerData(logicalIndex, self.orientation(), Qt.ItemDataRole.DisplayRole) or ""
        )
        if not text.strip():
            return size
        fm = self.fontMetrics()
        margins = size.width() - fm.horizontalAdvance(text)
        longest = max(fm.horizontalAdvance(word) for word in text.split())
        lines = fm.boundingRect(QRect(0, 0, longest + 1, 10_000), int(_WRAP), text).height()
        return QSize(longest + margins, size.height() - fm.height() + lines)


class FitTable(QTableView):
    """A read-only, row-selecting table whose columns always fit the view's width."""

    def __init__(self, model: RowsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # a name column takes the spare width; a photo's row spreads it over its cells
        self.stretch = None if model.shows_photos else 0
        self.setHorizontalHeader(WrapHeader(self))
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a file name's end says most
        self.setWordWrap(False)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.setAlternatingRowColors(True)
        if model.shows_photos:
            self.setIconSize(QSize(THUMB, THUMB))
            self.verticalHeader().setDefaultSectionSize(THUMB + 6)
        model.modelReset.connect(self.fit_columns)
        model.layoutChanged.connect(self.fit_columns)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.fit_columns()

    def fit_columns(self) -> None:
        model = self.model()
        header = self.horizontalHeader()
        n = model.columnCount()
        if n == 0:
            return
        wanted = [max(self.sizeHintForColumn(c), header.sectionSizeHint(c)) for c in range(n)]
        for c, width in enumerate(fit_widths(wanted, self.viewport().width(), self.stretch)):
            header.resizeSection(c, width)

    def columns_fit(self) -> bool:
        """True when every column is within the view (what no horizontal scrollbar promises)."""
        return self.horizontalHeader().length() <= self.viewport().width()


def table(model: RowsModel, parent: QWidget | None = None, rows: int = 3) -> FitTable:
    """A :class:`FitTable` of ``model``, tall enough for its header and ``rows`` rows."""
    view = FitTable(model, parent)
    view.setMinimumHeight(
        view.horizontalHeader().sizeHint().height()
        + rows * view.verticalHeader().defaultSectionSize()
        + 2 * view.frameWidth()
    )
    return view
