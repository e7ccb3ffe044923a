"""The model picker's table: one row a model (installed ones first, then the catalog's others)
with its size, speed on this computer, published quality and languages; a downloadable row's
size tooltip says about how long its download takes here.

Rows are :class:`clipdesk.services.model_catalog.CatalogRow` records made in a worker; each
quality cell's tooltip names the figure's source, the speed cell's says how it was measured.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

from clipdesk.services.model_catalog import size_text
from clipdesk.services.records import CatalogRow, CatalogTable

COLUMNS = ("Model", "Status", "Size", "Photos/s here", "ImageNet", "Search recall", "Languages")
NAME_ROLE = Qt.ItemDataRole.UserRole
Index = QModelIndex | QPersistentModelIndex


def status_text(row: CatalogRow) -> str:
    if row.active:
        return "Active"
    if row.demo:
        return "Demo"
    return "Installed" if row.installed else "Download"


class ModelTableModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._table = CatalogTable.empty()

    def set_table(self, table: CatalogTable) -> None:
        self.beginResetModel()
        self._table = table
        self.endResetModel()

    @property
    def table(self) -> CatalogTable:
        return self._table

    def row_at(self, row: int) -> CatalogRow:
        return self._table.rows[row]

    def row_of(self, name: str) -> int:
        return next((i for i, r in enumerate(self._table.rows) if r.name == name), -1)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._table.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section] if 0 <= section < len(COLUMNS) else None
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return _HEADER_TIPS.get(section)
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._table.rows):
            return None
        row = self._table.rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, col)
        if role == NAME_ROLE:
            return row.name
        if role == Qt.ItemDataRole.FontRole and row.active:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and 2 <= col <= 5:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _display(self, row: CatalogRow, col: int) -> str:
        if col == 0:
            return row.title or row.name
        if col == 1:
            return status_text(row)
        if col == 2:
            return size_text(row.size_bytes, approx=not row.installed)
        if col == 3:
            return f"{row.images_per_s:.1f}" if row.images_per_s is not None else ""
        if col == 4:
            return f"{row.imagenet.value:.1f}%" if row.imagenet else ""
        if col == 5:
            return f"{row.recall.value:.1f}%" if row.recall else ""
        return row.languages_text

    def _tooltip(self, row: CatalogRow, col: int) -> str | None:
        if col == 0:
            return "\n".join(x for x in (row.name, row.description, row.repo_id or "") if x)
        if col == 2 and row.size_bytes and not row.installed:
            return (
                f"{self._table.download_text(row)}, at {self._table.download.describe()}\n"
                "The size is about: float32 weights; the download states the exact size"
            )
        if col == 3:
            if row.images_per_s is None:
                return "No speed measured for this model"
            text = (
                f"{row.images_per_s:.1f} photos/s embedding, {row.text_ms:.0f} ms a search phrase; "
                if row.text_ms is not None
                else ""
            )
            return text + self._table.basis.describe(row.speed_scaled)
        if col == 4:
            return row.imagenet.describe() if row.imagenet else "No published ImageNet figure"
        if col == 5:
            return row.recall.describe() if row.recall else "No published search-recall figure"
        if col == 6:
            return row.languages_tip() or None
        return None


_HEADER_TIPS = {
    3: "Photos embedded per second while indexing, on this computer",
    4: "ImageNet-1k zero-shot top-1 accuracy, as published (hover a cell for its source)",
    5: "Text-to-image search recall in English, as published (hover a cell for its source)",
    6: "The query languages it was trained for (hover a cell for its figures by language)",
}
