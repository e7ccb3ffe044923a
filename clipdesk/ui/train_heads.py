"""Train tab, "Teach tags": train a category's head from the user's decisions, show held-out
before/after figures and the held-out photos (as thumbnails), apply or revert it, and list the
photos to label next. A category's last training is kept in the library
(:meth:`clipdesk.services.heads.HeadService.train`), so it is shown again after a restart."""

from __future__ import annotations

import time
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
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from clipdesk.common import fsnames
from clipdesk.ui.train_layout import Reflow, scrolled
from clipdesk.ui.train_tables import FitTable, RowsModel, table
from clipdesk.ui.train_widgets import Relay, delta, pct

if TYPE_CHECKING:
    from clipdesk.services.training_results import HeadReport
    from clipdesk.ui.backend import Backend
    from clipdesk.ui.controller import AppController

NEXT_UP = 20  # photos listed to label next
WIDE_AT = 760  # from this width the four tables stand two by two


class HeadsPanel(QWidget):
    trained = Signal(object)  # services.training_results.HeadReport
    applied = Signal(str)  # category

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.report: HeadReport | None = None  # the training shown (just now, or kept)
        self.relay = Relay(self)
        self.relay.progress.connect(self._on_progress)

        self.category = QComboBox(self)
        self.category.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.category.setMinimumContentsLength(12)
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

        thumbs = controller.thumbs
        self.counts = RowsModel(["Label", "Confirmed", "Rejected"], self)
        self.metrics = RowsModel(["Held-out", "Zero-shot", "Trained", "Change (points)"], self)
        self.compare = RowsModel(["Photo", "Your label", "Zero-shot", "Trained"], self, thumbs)
        # The services rank by margin (the gap between the top two labels, or to the threshold):
        # shown as that gap, where a smaller one is a less sure photo.
        self.next_up = RowsModel(["Photo", "Margin (smaller: less sure)"], self, thumbs)
        self._layout()
        self._set_buttons(busy=False)

    def _layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(QLabel("Category:", self))
        top.addWidget(self.category, 1)
        top.addWidget(self.train_button)
        top.addWidget(self.apply_button)
        top.addWidget(self.revert_button)
        options = QHBoxLayout()
        options.addWidget(self.calibrate)
        options.addWidget(self.precision)
        options.addStretch(1)
        content = QWidget(self)
        lay = QVBoxLayout(content)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addLayout(options)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        self.views: dict[str, FitTable] = {}
        boxes: list[QGroupBox] = []
        for title, model, stretch in (
            ("Your labels", self.counts, 1),
            ("Before / after (held-out)", self.metrics, 1),
            ("Held-out examples", self.compare, 2),
            ("Least sure: label these next", self.next_up, 1),
        ):
            box = QGroupBox(title, content)
            view = table(model, box, rows=2 if model.shows_photos else 4)
            self.views[title] = view
            QVBoxLayout(box).addWidget(view)
            policy = box.sizePolicy()
            policy.setVerticalStretch(stretch)
            policy.setVerticalPolicy(QSizePolicy.Policy.Expanding)
            box.setSizePolicy(policy)
            boxes.append(box)
        labels, metrics, held_out, least_sure = boxes
        self.tables = Reflow(
            [[labels, metrics], [held_out, least_sure]], WIDE_AT, stretches=[2, 3], parent=content
        )
        lay.addWidget(self.tables, 1)
        self.scroll_area = scrolled(content, self)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll_area)

    # --- state ------------------------------------------------------------------------------
    def _set_buttons(self, busy: bool) -> None:
        self.train_button.setEnabled(not busy and bool(self.category.currentText()))
        self.apply_button.setEnabled(not busy and self.report is not None)
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
        """The category's label counts, whether a head is applied, and its last training."""
        self.report = None
        self._show_report(None, {})
        self._set_buttons(busy=False)
        if not name or self.controller.backend is None or self.controller.model is None:
            return

        def work(backend, _t):
            heads = backend.services.heads
            last = heads.last(name)
            return heads.examples(name), heads.applied(name), last, _paths(backend, last)

        self.controller.call(work, self._show_counts, pool="model")

    def _show_counts(self, found: tuple[Any, Any, HeadReport | None, dict[int, str]]) -> None:
        ex, applied, last, paths = found
        if ex.category.name.casefold() != self.category.currentText().casefold():
            return  # another category was chosen meanwhile; its own answer follows
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
        text = f"{ex.category.name}: {ex.data.n} labelled photos, {state}{missing}."
        if last is not None:
            self.report = last
            self._show_report(last, paths)
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(last.trained_at))
            text += f" The figures below are from the last training, {when}."
        self.status.setText(text)
        self._set_buttons(busy=False)

    # --- train / apply ----------------------------------------------------------------------
    def train(self) -> None:
        name = self.category.currentText()
        target = self.precision.value() if self.calibrate.isChecked() else None
        self._set_buttons(busy=True)
        self.progress.setValue(0)
        self.status.setText(f"Training {name}…")
        relay = self.relay

        def work(backend, token):
            report = backend.services.heads.train(
                name,
                target_precision=target,
                suggest=NEXT_UP,
                progress=relay.progress.emit,
                cancel=token,
            )
            return report, _paths(backend, report)

        self.controller.call(work, self._trained, self._failed, pool="model")

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

    def _trained(self, found: tuple[HeadReport, dict[int, str]]) -> None:
        report, paths = found
        self.report = report
        self._show_report(report, paths)
        self.progress.setValue(3)
        reason = report.summary.get("reason")  # the choice of head, in one sentence
        kept = (
            f" {reason}"
            if reason
            else " Zero-shot did best on your labels, so the head equals it."
            if report.head.is_zero_shot
            else f" Held-out checks chose a {report.head.method} head."
        )
        # a kept head is the one tagging already uses: nothing new to apply
        apply = "" if report.summary.get("kept") else " Apply it to use it for tagging."
        self.status.setText(
            f"Trained on {report.head.n_examples} labelled photos in "
            f"{report.summary.get('seconds', 0):.1f} s.{kept}{apply}"
        )
        self._set_buttons(busy=False)
        self.trained.emit(report)

    def _show_report(self, report: HeadReport | None, paths: dict[int, str]) -> None:
        """The figures, the held-out photos and the photos to label next of ``report``."""
        if report is None:
            for model in (self.metrics, self.compare, self.next_up):
                model.set_rows([])
            return
        self.metrics.set_rows(metric_rows(report.summary))
        shown = [c for c in report.compare if c.photo_id in paths]  # photos since removed: gone
        self.compare.set_rows(
            [
                [
                    "",
                    c.truth or "(rejections)",
                    f"{c.before} {c.before_score:.2f}",
                    f"{c.after} {c.after_score:.2f}",
                ]
                for c in shown
            ],
            keys=[c.photo_id for c in shown],
            tips=[fsnames.shown(paths[c.photo_id]) for c in shown],
            photos=[(c.photo_id, paths[c.photo_id]) for c in shown],
        )
        nxt = [(pid, u) for pid, u in report.next_up if pid in paths]
        self.next_up.set_rows(
            [["", -u] for _pid, u in nxt],  # uncertainty is the margin negated
            keys=[pid for pid, _ in nxt],
            tips=[fsnames.shown(paths[pid]) for pid, _ in nxt],
            photos=[(pid, paths[pid]) for pid, _ in nxt],
        )

    def apply(self) -> None:
        if self.report is None:
            return
        head = self.report.head
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


def _paths(backend: Backend, report: HeadReport | None) -> dict[int, str]:
    """Worker-side: the paths of the photos ``report`` shows that are still in the library."""
    if report is None:
        return {}
    return {p.id: str(p.path) for p in backend.services.photos(report.photo_ids)}


def metric_rows(summary: dict[str, Any]) -> list[list[Any]]:
    """The before/after table of a training's summary: accuracy, mean AP, AP per label (in %,
    the change in points), then the calibrated thresholds."""
    rows: list[list[Any]] = []
    ev = summary.get("evaluation")
    if ev:
        before, after = ev["before"], ev["after"]
        for label, key in (("Accuracy", "accuracy"), ("Mean AP", "mean_ap")):
            b, a = before.get(key), after.get(key)
            rows.append([label, pct(b), pct(a), delta(b, a)])
        for lab, ap in (after.get("per_label_ap") or {}).items():
            b = (before.get("per_label_ap") or {}).get(lab)
            rows.append([f"AP {lab}", pct(b), pct(ap), delta(b, ap)])
    return rows + _calibration_rows(summary.get("calibration"))


def _calibration_rows(cal: dict[str, Any] | None) -> list[list[Any]]:
    """Rows "threshold for P precision" with the recall it keeps, for the metrics table."""
    if not cal:
        return []
    target = cal["target_precision"]
    found = {"category": cal["category"]} if "category" in cal else cal.get("labels", {})
    rows: list[list[Any]] = []
    for name, got in found.items():
        what = f"Threshold {name}" if name != "category" else "Threshold"
        label = f"{what} ({pct(target)} precision)"
        if got is None:
            rows.append([label, None, "not reachable", "–"])
        else:
            rows.append([label, None, f"{got['threshold']:.2f}", f"recall {pct(got['recall'])}"])
    return rows
