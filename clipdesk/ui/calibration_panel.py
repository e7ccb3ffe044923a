"""The Tags page's "Calibrate thresholds" tab: pick a category and a target precision, see for each
label (one row for a single-choice category) the threshold that reaches it on your decisions,
the precision and recall it gives there and how many decisions that rests on, and how many
photos of the library it would suggest against today's threshold; then apply.

The figures are :meth:`clipdesk.services.heads.HeadService.calibrate`'s, the same as
``clipdesk-cli tags calibrate``; applying is ``apply_calibration`` (the category is retagged at
once). Both run on the model pool: scoring the library takes a moment on a large one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from clipdesk.ui.controller import AppController, describe_error, error_sentence
from clipdesk.ui.workers import LatestOnly

if TYPE_CHECKING:  # the window is built before the library code loads
    from clipdesk.services.records import Calibration, Category, LabelCalibration

COLUMNS = (
    "Label",
    "Threshold now",
    "New threshold",
    "Precision",
    "Recall",
    "Decisions",
    "Photos suggested",
)
DEFAULT_TARGET = 0.9


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.0%}"


def row_texts(row: LabelCalibration) -> list[str]:
    """The table's cells for one threshold: the new figures, with today's in brackets."""
    now = f"{_pct(row.current_precision)} now"
    if row.threshold is None:
        new, precision, recall = "keeps it", now, f"{_pct(row.current_recall)} now"
    else:
        new = f"{row.threshold:.3f}"
        precision = f"{_pct(row.precision)} ({now})"
        recall = f"{_pct(row.recall)} ({_pct(row.current_recall)} now)"
    return [
        row.label or "(the category's one threshold)",
        f"{row.current:.3f}",
        new,
        precision,
        recall,
        f"{row.decisions} ({row.positives} yes)",
        f"{row.would_suggest} (now {row.suggested_now})",
    ]


class CalibrationPanel(QWidget):
    applied = Signal(str)  # category name: its thresholds and tags changed

    def __init__(self, controller: AppController, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.category = QComboBox(self)
        self.category.currentIndexChanged.connect(lambda _i: self.refresh_soon())
        self.target = QDoubleSpinBox(self)
        self.target.setRange(0.5, 1.0)
        self.target.setSingleStep(0.05)
        self.target.setDecimals(2)
        self.target.setValue(DEFAULT_TARGET)
        self.target.setToolTip(
            "Of the photos a label is suggested for, the share that should be right, "
            "judged on the photos you confirmed or rejected"
        )
        self.target.valueChanged.connect(lambda _v: self.refresh_soon())
        self.apply_button = QPushButton("Apply thresholds", self)
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply)
        top = QHBoxLayout()
        top.addWidget(QLabel("Category", self))
        top.addWidget(self.category, 1)
        top.addWidget(QLabel("Target precision", self))
        top.addWidget(self.target)
        top.addWidget(self.apply_button)

        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                "Thresholds that reach a target precision on your own decisions (the photos "
                "you confirmed or rejected), for the classifier tagging uses now. Nothing "
                "changes until you apply; the category is then tagged again, your decisions kept.",
                self,
                wordWrap=True,
            )
        )
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)

        self.calibration: Calibration | None = None
        self._stale = True
        self._runs = LatestOnly(controller.workers, controller.workers.model)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self.refresh)

    # --- categories -------------------------------------------------------------------------
    def set_categories(self, cats: Sequence[Category]) -> None:
        """The automatic categories (a manual one has no threshold), keeping the one shown."""
        current = self.category.currentText()
        self.category.blockSignals(True)
        self.category.clear()
        self.category.addItems([c.name for c in cats if c.auto])
        self.category.setCurrentIndex(max(0, self.category.findText(current)))
        self.category.blockSignals(False)
        self.refresh_soon()

    def show_category(self, name: str) -> None:
        index = self.category.findText(name)
        if index >= 0:
            self.category.setCurrentIndex(index)

    # --- calibrating ------------------------------------------------------------------------
    def refresh_soon(self) -> None:
        self.apply_button.setEnabled(False)  # the figures shown are for another choice now
        if self.isVisible():
            self._debounce.start()
        else:
            self._stale = True  # calibrated when the tab is shown, not for nobody

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self._stale = False
            self._debounce.start()

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        if self._debounce.isActive():
            self._debounce.stop()
            self._stale = True

    def refresh(self) -> None:
        backend = self.controller.backend
        name = self.category.currentText()
        if backend is None or not name:
            self._show(None)
            self.status.setText("No category the model suggests labels for.")
            return
        target = round(self.target.value(), 4)
        self.status.setText(f"Calibrating {name} to {target:.0%} precision…")
        self._runs.submit(
            lambda t: backend.tags.calibrate(name, target, t), self._show, self._failed
        )

    def _failed(self, exc: BaseException) -> None:
        self._show(None)
        self.status.setText("⚠ " + error_sentence(*describe_error(exc)))

    def _show(self, cal: Calibration | None) -> None:
        self.calibration = cal
        rows = cal.rows if cal is not None else ()
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row_texts(row)):
                cell = QTableWidgetItem(text)
                if row.reason:
                    cell.setToolTip(row.reason)
                if c > 0:
                    cell.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(r, c, cell)
        self.apply_button.setEnabled(cal is not None and cal.changes > 0)
        if cal is not None:
            self.status.setText(self._summary(cal))

    @staticmethod
    def _summary(cal: Calibration) -> str:
        kind = "zero-shot" if cal.method == "zero-shot" else f"the applied {cal.method} head"
        parts = [f"{cal.category} with {kind}, {cal.model_id}."]
        if cal.changes:
            n = cal.changes
            parts.append(f"Applying changes {n} threshold{'s' if n != 1 else ''}.")
        else:
            parts.append("Nothing to change at this target.")
        kept = [r for r in cal.rows if r.reason]
        if kept:
            first = kept[0]
            parts.append(f"{first.label or cal.category} keeps its threshold: {first.reason}.")
        if cal.in_sample:
            parts.append(
                "The applied head learned from these decisions, so its figures on them are "
                "optimistic (the Train tab calibrates on held-out photos)."
            )
        return " ".join(parts)

    def apply(self) -> None:
        cal = self.calibration
        if cal is None or not cal.changes:
            return
        self.apply_button.setEnabled(False)
        self.status.setText(f"Applying the thresholds and tagging {cal.category} again…")

        def done(_r: object) -> None:
            self.applied.emit(cal.category)
            self.controller.libraryChanged.emit()  # grids and counts show the new suggestions
            self.refresh()

        self.controller.call(
            lambda b, t: b.tags.apply_calibration(cal, t),
            done,
            self._failed,
            pool="model",
            owner=self,
        )
