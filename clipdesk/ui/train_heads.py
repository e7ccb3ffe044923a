"""Train tab, "Teach tags": train a category's head from the user's decisions, show held-out
before/after figures and examples, apply or revert it, and list the photos to label next."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from clipdesk.common import fsnames
from clipdesk.ui.train_widgets import Relay, RowsModel, delta, table

if TYPE_CHECKING:
    from clipdesk.ui.controller import AppController


class HeadsPanel(QWidget):
    trained = Signal(object)  # head_teach.TeachResult
    applied = Signal(str)  # category

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.result: Any = None  # the last TeachResult
        self.examples: Any = None  # its CategoryExamples
        self.relay = Relay(self)
        self.relay.progress.connect(self._on_progress)

        self.category = QComboBox(self)
        self.category.currentTextChanged.connect(self.load_counts)
        self.calibrate = QCheckBox("Calibrate thresholds to precision", self)
        self.precision = QDoubleSpinBox(self)
        self.precision.setRange(0.5, 1.0)
        self.precision.setSingleStep(0.05)
        self.precision.setValue(0.9)
        self.train_button = QPushButton("Train", self)
        self.train_button.clicked.connect(self.train)
        self.apply_button = QPushButton("Apply to tagging", self)
        self.apply_button.clicked.connect(self.apply)
        self.revert_button = QPushButton("Back to zero-shot", self)
        self.revert_button.clicked.connect(self.revert)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 3)
        self.status = QLabel("Confirm or reject tags in the Tags page, then train here.", self)
        self.status.setWordWrap(True)

        self.counts = RowsModel(["Label", "Confirmed", "Rejected"], self)
        self.metrics = RowsModel(["Held-out", "Zero-shot", "Trained", "Change"], self)
        self.compare = RowsModel(["Photo", "Your label", "Zero-shot", "Trained"], self)
        self.next_up = RowsModel(["Label these next", "Uncertainty"], self)

        top = QHBoxLayout()
        top.addWidget(QLabel("Category:", self))
        top.addWidget(self.category, 1)
        top.addWidget(self.calibrate)
        top.addWidget(self.precision)
        top.addWidget(self.train_button)
        top.addWidget(self.apply_button)
        top.addWidget(self.revert_button)
        grid = QHBoxLayout()
        for title, model in (
            ("Your labels", self.counts),
            ("Before / after", self.metrics),
            ("Held-out examples", self.compare),
            ("Least sure", self.next_up),
        ):
            box = QGroupBox(title, self)
            lay = QVBoxLayout(box)
            lay.addWidget(table(model, box))
            grid.addWidget(box, 2 if model is self.compare else 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(grid, 1)
        self._set_buttons(busy=False)

    # --- state ------------------------------------------------------------------------------
    def _set_buttons(self, busy: bool) -> None:
        self.train_button.setEnabled(not busy and bool(self.category.currentText()))
        self.apply_button.setEnabled(not busy and self.result is not None)
        self.revert_button.setEnabled(not busy and bool(self.category.currentText()))

    def refresh(self) -> None:
        """Reload the categories the model tags (after the library or model changed)."""

        def names(backend, _t) -> list[str]:
            return [c.name for c in backend.services.tags.categories() if c.auto]

        self.controller.call(names, self._set_categories)

    def _set_categories(self, names: list[str]) -> None:
        current = self.category.currentText()
        self.category.blockSignals(True)
        self.category.clear()
        self.category.addItems(names)
        if current in names:
            self.category.setCurrentText(current)
        self.category.blockSignals(False)
        self.load_counts(self.category.currentText())

    def load_counts(self, name: str) -> None:
        self.result = None
        self._set_buttons(busy=False)
        if not name or self.controller.backend is None or self.controller.model is None:
            return

        def work(backend, _t):
            heads = backend.services.heads
            return heads.examples(name), heads.applied(name)

        self.controller.call(work, self._show_counts, pool="model")

    def _show_counts(self, found: tuple[Any, Any]) -> None:
        ex, applied = found
        pos, neg = ex.data.counts()
        self.counts.set_rows(
            [[n, int(p), int(q)] for n, p, q in zip(ex.init.labels, pos, neg, strict=True)]
        )
        state = "a trained head is applied" if applied else "zero-shot (no head applied)"
        missing = (
            f"; {ex.missing_vectors} labelled photos are not indexed yet"
            if ex.missing_vectors
            else ""
        )
        self.status.setText(f"{ex.category.name}: {ex.data.n} labelled photos, {state}{missing}.")

    # --- train / apply ----------------------------------------------------------------------
    def train(self) -> None:
        name = self.category.currentText()
        target = self.precision.value() if self.calibrate.isChecked() else None
        self._set_buttons(busy=True)
        self.progress.setValue(0)
        self.status.setText(f"Training {name}…")
        relay = self.relay

        def work(backend, token):
            heads = backend.services.heads
            ex, result = heads.teach(
                name, target_precision=target, progress=relay.progress.emit, cancel=token
            )
            nxt = heads.next_to_label(result.head, 20)
            comp = heads.before_after(ex, result)
            shown = [c.photo_id for c in comp] + [pid for pid, _ in nxt]
            paths = {p.id: p.path for p in backend.services.photos(shown)}
            return ex, result, nxt, comp, paths

        self.controller.call(work, self._show_result, self._failed, pool="model")

    def _on_progress(self, p: Any) -> None:
        if p.total:
            self.progress.setValue(p.done)
            self.status.setText(p.message[:1].upper() + p.message[1:] + "…")

    def _failed(self, exc: BaseException) -> None:
        self._set_buttons(busy=False)
        self.progress.setValue(0)
        from clipdesk.ui.controller import describe_error

        message, hint = describe_error(exc)
        self.status.setText(f"{message} {hint}".strip())

    def _show_result(self, found: tuple[Any, Any, Any, Any, dict[int, Path]]) -> None:
        ex, result, nxt, comp, paths = found
        self.examples, self.result = ex, result
        ev = result.evaluation
        rows = []
        if ev is not None:
            for label, key in (("Accuracy", "accuracy"), ("Mean AP", "mean_ap")):
                b, a = getattr(ev.before, key), getattr(ev.after, key)
                rows.append([label, b, a, delta(b, a)])
            for lab, ap in ev.after.per_label_ap.items():
                b = ev.before.per_label_ap.get(lab)
                rows.append([f"AP {lab}", b, ap, delta(b, ap)])
        rows += _calibration_rows(result.calibration)
        self.metrics.set_rows(rows)
        self.compare.set_rows(
            [
                [
                    fsnames.shown(Path(paths.get(c.photo_id, f"#{c.photo_id}")).name),
                    c.truth or "(rejections)",
                    f"{c.before} {c.before_score:.2f}",
                    f"{c.after} {c.after_score:.2f}",
                ]
                for c in comp
            ],
            keys=[c.photo_id for c in comp],
            tips=[fsnames.shown(paths.get(c.photo_id, "")) for c in comp],
        )
        self.next_up.set_rows(
            [[fsnames.shown(Path(paths.get(pid, f"#{pid}")).name), u] for pid, u in nxt],
            keys=[pid for pid, _ in nxt],
            tips=[fsnames.shown(paths.get(pid, "")) for pid, _ in nxt],
        )
        self.progress.setValue(3)
        kept = (
            " Zero-shot did best on your labels, so the head equals it."
            if result.head.is_zero_shot
            else f" Held-out checks chose a {result.head.method} head."
        )
        self.status.setText(
            f"Trained on {result.head.n_examples} labelled photos in "
            f"{result.seconds:.1f} s.{kept} Apply it to use it for tagging."
        )
        self._set_buttons(busy=False)
        self.trained.emit(result)

    def apply(self) -> None:
        if self.result is None:
            return
        head = self.result.head
        self._set_buttons(busy=True)

        def work(backend, token):
            backend.services.heads.apply(head, cancel=token)  # retags the category now
            return head.category

        self.controller.call(work, self._applied, self._failed, pool="model")

    def _applied(self, category: str) -> None:
        self.status.setText(
            f"{category}: tagging now uses the trained head "
            "(suggestions recomputed; your decisions are kept)."
        )
        self._set_buttons(busy=False)
        self.controller.libraryChanged.emit()
        self.applied.emit(category)

    def revert(self) -> None:
        name = self.category.currentText()

        def work(backend, token):
            return backend.services.heads.revert(name, cancel=token) is not None

        def reverted(had: bool) -> None:
            if not had:
                self.status.setText(f"{name}: no trained head was applied.")
                return
            self.status.setText(f"{name}: back to zero-shot (suggestions recomputed).")
            self.controller.libraryChanged.emit()

        self.controller.call(work, reverted, self._failed, pool="model")


def _calibration_rows(cal: dict[str, Any] | None) -> list[list[Any]]:
    """Rows "threshold for precision >= P" with the recall it keeps, for the metrics table."""
    if not cal:
        return []
    target = cal["target_precision"]
    found = {"category": cal["category"]} if "category" in cal else cal.get("labels", {})
    rows: list[list[Any]] = []
    for name, got in found.items():
        what = f"Threshold {name}" if name != "category" else "Threshold"
        if got is None:
            rows.append([f"{what} (precision {target:.2f})", None, "not reachable", "–"])
        else:
            rows.append(
                [
                    f"{what} (precision {target:.2f})",
                    None,
                    got["threshold"],
                    f"recall {got['recall']:.2f}",
                ]
            )
    return rows
