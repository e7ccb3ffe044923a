"""Small pieces the Train tab's panels share: a read-only table model and number formatting."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

Index = QModelIndex | QPersistentModelIndex


class Relay(QObject):
    """Signals a worker thread emits and the GUI thread receives (queued across threads)."""

    progress = Signal(object)  # clipdesk.common.progress.Progress
    point = Signal(str, int, object)  # (kind, step, {series: value}) for live plots
    stopped = Signal()  # the run ended by cancel (its checkpoint is saved)
    # a run cancelled while its saved version was being prepared for ONNX Runtime: the version
    # stands, and the result is delivered through here (a cancelled task's never is)
    saved = Signal(object)


class RowsModel(QAbstractTableModel):
    """Rows of cells for a QTableView; cells are shown as text, ``keys[i]`` rides along on
    ``Qt.UserRole`` (e.g. a photo id or a model name) and ``tips[i]`` as the tooltip."""

    def __init__(self, headers: Sequence[str], parent: Any = None) -> None:
        super().__init__(parent)
        self.headers = list(headers)
        self.rows: list[list[str]] = []
        self.keys: list[Any] = []
        self.tips: list[str] = []

    def set_rows(
        self,
        rows: Sequence[Sequence[Any]],
        keys: Sequence[Any] | None = None,
        tips: Sequence[str] | None = None,
    ) -> None:
        self.beginResetModel()
        self.rows = [[_cell(v) for v in r] for r in rows]
        self.keys = list(keys) if keys is not None else [None] * len(self.rows)
        self.tips = list(tips) if tips is not None else [""] * len(self.rows)
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
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

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


def _cell(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def table(model: RowsModel, parent: QWidget | None = None) -> QTableView:
    view = QTableView(parent)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.verticalHeader().setVisible(False)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    view.horizontalHeader().setStretchLastSection(True)
    view.setAlternatingRowColors(True)
    return view


def eta_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(seconds)
    if s < 60:
        return f"about {s} s left"
    if s < 3600:
        return f"about {s // 60} min {s % 60:02d} s left"
    return f"about {s // 3600} h {s % 3600 // 60:02d} min left"


def delta(before: float | None, after: float | None) -> str:
    if before is None or after is None:
        return "–"
    return f"{after - before:+.3f}"
