"""Edits one tag category: name, mode, threshold, templates, and labels with prompts/thresholds.

``changed`` fires on every edit (the page debounces it into a live preview); ``category()`` builds a
validated :class:`~clipdesk.services.records.Category` or raises ``CategoryError`` naming the problem.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from clipdesk.services.records import DEFAULT_TEMPLATES, Category, CategoryError, Label, Mode

PROMPT_SEP = ";"


class CategoryEditor(QWidget):
    changed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.name = QLineEdit(self)
        self.mode = QComboBox(self)
        self.mode.addItem("One label per photo", Mode.SINGLE.value)
        self.mode.addItem("Any number of labels", Mode.MULTI.value)
        self.threshold = QDoubleSpinBox(self)
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setDecimals(2)
        self.auto = QCheckBox("Suggest with the model", self)
        self.auto.setChecked(True)
        self.templates = QPlainTextEdit(self)
        self.templates.setPlaceholderText("One template per line, e.g. a photo of a {label}.")
        self.templates.setMaximumHeight(90)
        self.labels = QTableWidget(0, 3, self)
        self.labels.setHorizontalHeaderLabels(["Label", "Extra prompts", "Threshold"])
        header_tips = {
            1: f"Phrases that describe the label, separated by '{PROMPT_SEP}', e.g. "
            f"a sandy beach{PROMPT_SEP} people swimming in the sea",
            2: "Only for 'any number of labels': this label's own threshold (empty: the category's)",
        }
        for column, tip in header_tips.items():
            header_item = self.labels.horizontalHeaderItem(column)
            if header_item is not None:  # made by setHorizontalHeaderLabels above
                header_item.setToolTip(tip)
        self.labels.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.labels.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.labels.verticalHeader().hide()
        add = QPushButton("Add label", self)
        remove = QPushButton("Remove label", self)
        add.clicked.connect(lambda: self._add_row(Label("new label")))
        remove.clicked.connect(self._remove_row)

        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Kind", self.mode)
        form.addRow("Threshold", self.threshold)
        form.addRow("", self.auto)
        form.addRow("Templates", self.templates)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addWidget(self.labels, 1)
        layout.addLayout(row)

        self.name.textEdited.connect(lambda _t: self.changed.emit())
        self.mode.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.threshold.valueChanged.connect(lambda _v: self.changed.emit())
        self.auto.toggled.connect(lambda _v: self.changed.emit())
        self.templates.textChanged.connect(self.changed)
        self.labels.itemChanged.connect(lambda _i: self.changed.emit())

    def set_category(self, cat: Category | None) -> None:
        self.blockSignals(True)
        self.labels.blockSignals(True)
        cat = cat or Category("New category", (Label("first label"),))
        self.name.setText(cat.name)
        self.mode.setCurrentIndex(self.mode.findData(cat.mode.value))
        self.threshold.setValue(cat.threshold)
        self.auto.setChecked(cat.auto)
        self.templates.setPlainText("\n".join(cat.templates))
        self.labels.setRowCount(0)
        for label in cat.labels:
            self._add_row(label)
        self.labels.blockSignals(False)
        self.blockSignals(False)

    def _add_row(self, label: Label) -> None:
        row = self.labels.rowCount()
        self.labels.insertRow(row)
        threshold = "" if label.threshold is None else f"{label.threshold:.2f}"
        for col, text in enumerate((label.name, f"{PROMPT_SEP} ".join(label.prompts), threshold)):
            self.labels.setItem(row, col, QTableWidgetItem(text))
        self.changed.emit()

    def _remove_row(self) -> None:
        row = self.labels.currentRow()
        if row >= 0:
            self.labels.removeRow(row)
            self.changed.emit()

    def selected_label(self) -> str | None:
        row = self.labels.currentRow()
        item = self.labels.item(row, 0) if row >= 0 else None
        return item.text().strip() if item is not None else None

    def _cell_text(self, row: int, column: int) -> str:
        item = self.labels.item(row, column)
        return item.text() if item else ""

    def category(self) -> Category:
        """The edited category, validated (raises CategoryError with the problem)."""
        labels = []
        for row in range(self.labels.rowCount()):
            name, prompt_text, threshold = (self._cell_text(row, c) for c in range(3))
            if not name.strip():
                continue
            prompts = tuple(p.strip() for p in prompt_text.split(PROMPT_SEP) if p.strip())
            labels.append(Label(name, prompts, _parse_threshold(threshold, name)))
        templates = tuple(t.strip() for t in self.templates.toPlainText().splitlines() if t.strip())
        return Category(
            name=self.name.text(),
            labels=tuple(labels),
            mode=Mode(self.mode.currentData()),
            threshold=self.threshold.value(),
            templates=templates if templates or not self.auto.isChecked() else DEFAULT_TEMPLATES,
            auto=self.auto.isChecked(),
        )


def _parse_threshold(text: str, label: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise CategoryError(
            f"threshold of label {label!r} is {text!r}",
            "enter a number between 0 and 1, or leave it empty",
        ) from None
