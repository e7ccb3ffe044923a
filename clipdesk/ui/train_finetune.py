"""Train tab, "Fine-tune the model": caption sources with their pair counts, options, a run with
progress, ETA and live plots, the before/after figures, and the model versions to activate or roll
back. The run is :meth:`clipdesk.services.training.TrainingService.finetune` (what
``clipdesk-cli train finetune`` runs) on the jobs pool. The last finished run made from the
model (its figures, curves and blend sweep, read from its job folder) is shown again after a
restart."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from clipdesk.services.training import CAPTION_SOURCE_TITLES, CAPTION_SOURCES, FinetuneOptions
from clipdesk.ui.train_layout import Reflow, scrolled
from clipdesk.ui.train_plots import LivePlot
from clipdesk.ui.train_tables import RowsModel, table
from clipdesk.ui.train_versions import VersionsBox
from clipdesk.ui.train_widgets import Relay, eta_text, metric_name, metric_value

if TYPE_CHECKING:
    from clipdesk.services.training_results import RunReport
    from clipdesk.ui.controller import AppController

PLOTTED = ("t2i_recall@1", "t2i_recall@5", "i2t_recall@1")
WIDE_AT = 820  # from this width the set-up and the results stand side by side
_LIVE = "(this run)"  # what the plots show while a run goes: not a kept run's folder


class FinetunePanel(QWidget):
    finished = Signal(object)  # FinetuneResult
    cancelled = Signal()

    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.ticket: Any = None
        self.result: Any = None
        self.shown_job: str | None = None  # the run whose figures are shown (or _LIVE)
        self.relay = Relay(self)
        self.relay.progress.connect(self._on_progress)
        self.relay.point.connect(self._on_point)
        self.relay.stopped.connect(self._on_stopped)
        self.relay.saved.connect(self._finished)

        self.sources = {s: QCheckBox(CAPTION_SOURCE_TITLES[s], self) for s in CAPTION_SOURCES}
        self.sources["tags"].setChecked(True)
        # reading every photo's XMP is slow on big libraries: counted only once asked for
        self.sources["xmp"].toggled.connect(self._xmp_toggled)
        self.towers = QComboBox(self)
        self.towers.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.towers.setMinimumContentsLength(16)
        self.towers.addItem("Text tower only — no re-indexing", "text")
        self.towers.addItem("Both towers — re-embeds the library when activated", "both")
        self.epochs = _spin(QDoubleSpinBox(self), 0.1, 100, 5.0, 1)
        self.lr = _spin(QDoubleSpinBox(self), 1e-7, 1e-2, 5e-5, 7)
        self.batch = _spin(QSpinBox(self), 2, 1024, 64)
        self.alpha = QSlider(Qt.Orientation.Horizontal, self)
        self.alpha.setRange(0, 100)
        self.alpha.setValue(50)
        self.alpha_label = QLabel(self)
        self.alpha.valueChanged.connect(self._alpha_changed)
        self._alpha_changed(50)
        self.device = QComboBox(self)
        self.device.addItem("auto")
        self.precision = QComboBox(self)
        self.precision.addItems(["auto", "fp32", "bf16", "fp16"])

        self.start_button = QPushButton("Start", self)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.clicked.connect(self.cancel)
        self.resume_button = QPushButton("Resume interrupted run", self)
        self.resume_button.clicked.connect(self.resume)
        self.progress = QProgressBar(self)
        self.eta = QLabel(self)
        self.status = QLabel("Pick caption sources and options, then start.", self)
        self.status.setWordWrap(True)
        self.loss_plot = LivePlot(
            "Training loss",
            "training step",
            "contrastive loss (nats)",
            self,
            names={"train loss": "training batches", "validation loss": "held-out pairs"},
        )
        self.val_plot = LivePlot(
            "Recall on held-out pairs",
            "training step",
            "recall (%)",
            self,
            y_scale=100,
            y_range=(0, 100),
            names={k: metric_name(k) for k in PLOTTED},
        )
        self.metrics = RowsModel(
            ["Held-out pairs", "Original", "Fine-tuned", "Saved (blend)"], self
        )
        self.box = VersionsBox(controller, lambda: self.alpha.value() / 100, self)
        self.box.message.connect(self.status.setText)
        self.box.changed.connect(self.refresh)
        # the box's parts, for tests and keyboard users of this panel
        self.versions, self.versions_view = self.box.versions, self.box.versions_view
        self.sweep, self.save_blend_button = self.box.sweep, self.box.save_blend_button
        self.activate_button, self.rollback_button = (
            self.box.activate_button,
            self.box.rollback_button,
        )
        self._layout()
        self._set_running(False)

    def _layout(self) -> None:
        setup = QWidget(self)
        left = QVBoxLayout(setup)
        left.setContentsMargins(0, 0, 0, 0)
        data = QGroupBox("Image-caption pairs from your library", setup)
        dl = QVBoxLayout(data)
        for box in self.sources.values():
            dl.addWidget(box)
        opts = QGroupBox("Options", setup)
        form = QFormLayout(opts)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow("Train", self.towers)
        form.addRow("Epochs", self.epochs)
        form.addRow("Learning rate", self.lr)
        self.batch.setToolTip("Halved automatically if the device runs out of memory.")
        form.addRow("Batch size", self.batch)
        blend = QHBoxLayout()
        blend.addWidget(self.alpha, 1)
        blend.addWidget(self.alpha_label)
        form.addRow("Blend (WiSE-FT)", blend)
        form.addRow("Device", self.device)
        form.addRow("Precision", self.precision)
        left.addWidget(data)
        left.addWidget(opts)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.cancel_button, self.resume_button):
            buttons.addWidget(b)
        left.addLayout(buttons)
        left.addWidget(self.progress)
        left.addWidget(self.eta)
        left.addWidget(self.status)
        left.addStretch(1)
        plots = QWidget(self)
        pl = QHBoxLayout(plots)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.addWidget(self.loss_plot)
        pl.addWidget(self.val_plot)
        figures = QGroupBox("Before / after", self)
        QVBoxLayout(figures).addWidget(table(self.metrics, figures, rows=3))
        # spare height to the plots and to the versions, not to the set-up's fixed rows
        for part, stretch in ((plots, 1), (figures, 2), (self.box, 3)):
            policy = part.sizePolicy()
            policy.setVerticalStretch(stretch)
            part.setSizePolicy(policy)
        self.columns = Reflow([[setup, plots], [figures, self.box]], WIDE_AT, parent=self)
        self.scroll_area = scrolled(self.columns, self)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll_area)

    def _xmp_toggled(self, on: bool) -> None:
        if on:
            self.refresh()

    def _alpha_changed(self, value: int) -> None:
        self.alpha_label.setText(f"{value / 100:.2f}")
        self.alpha.setToolTip(
            f"Saved weights: {value}% fine-tuned, {100 - value}% original (0 = the original "
            "model, 1 = fully fine-tuned)."
        )

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.resume_button.setEnabled(
            not running and self.resume_button.property("job") is not None
        )
        self.box.set_busy(running)

    @property
    def running(self) -> bool:
        return self.ticket is not None

    # --- data summary, devices, versions ------------------------------------------------------
    def refresh(self) -> None:
        wanted = [s for s in CAPTION_SOURCES if s != "xmp" or self.sources["xmp"].isChecked()]

        def work(backend, token):
            training = backend.services.training
            pending = training.pending_job()
            return (
                training.pair_counts(wanted, cancel=token).counts,
                backend.services.models.devices(),
                training.versions(),
                str(pending) if pending else None,
                training.last_run(),
            )

        self.controller.call(work, self._show_summary, pool="model")

    def _show_summary(
        self, found: tuple[dict[str, int], list[str], list[Any], str | None, RunReport | None]
    ) -> None:
        counts, devices, found_versions, pending, last = found
        for s, box in self.sources.items():
            box.setText(
                f"{CAPTION_SOURCE_TITLES[s]}: {counts[s]:,} pairs"
                if s in counts
                else f"{CAPTION_SOURCE_TITLES[s]} (tick to count)"
            )
        current = self.device.currentText()
        self.device.clear()
        self.device.addItems(["auto", *devices])
        self.device.setCurrentText(current if current in devices else "auto")
        self.resume_button.setProperty("job", pending)
        self.box.show_versions(found_versions)
        if last is not None and self.shown_job is None and not self.running:
            self.show_last_run(last)
        self._set_running(self.running)

    def show_last_run(self, last: RunReport) -> None:
        """A finished run's figures, curves and blend sweep, as they were when it ended."""
        self.shown_job = str(last.job_folder)
        self.result = last.result
        self.loss_plot.clear()
        self.val_plot.clear()
        history = last.result.history
        for step, loss in history.get("loss", []):
            self._on_point("loss", int(step), {"loss": loss})
        for step, values in history.get("val", []):
            self._on_point("val", int(step), values)
        self._show_metrics(last.result)
        self.box.show_run(str(last.job_folder), last.result)
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(last.finished_at))
        self.eta.setText(
            f"Last run, {when}: {last.result.steps} steps in {last.result.seconds:.0f} s"
        )
        self.status.setText(
            f"The figures are those of the last run from {last.base_name}, which saved "
            f"{last.result.model_name}."
        )

    # --- a run --------------------------------------------------------------------------------
    def options(self) -> FinetuneOptions:
        return FinetuneOptions(
            towers=self.towers.currentData(),
            epochs=self.epochs.value(),
            lr=self.lr.value(),
            batch_size=self.batch.value(),
            alpha=self.alpha.value() / 100,
            device=self.device.currentText(),
            precision=self.precision.currentText(),
        )

    def start(self, resume_folder: str | None = None) -> None:
        if self.running or self.controller.backend is None:
            return
        sources = [s for s, box in self.sources.items() if box.isChecked()]
        opts = None if resume_folder else self.options().validate()
        relay = self.relay

        def work(backend, token):
            from clipdesk.common.errors import CancelledError

            try:
                run = backend.services.training.finetune(
                    sources,
                    opts,
                    resume=resume_folder or None,  # clicked(bool) may pass False
                    progress=relay.progress.emit,
                    cancel=token,
                    on_point=relay.point.emit,
                )
            except CancelledError:
                relay.stopped.emit()
                raise
            runtime = run.runtime
            note = runtime.note if runtime is not None and runtime.outcome == "failed" else ""
            found = (str(run.job_folder), run.result, note)
            if token.cancelled:  # during the export that follows the run: the version stands
                relay.saved.emit(found)
            return found

        self.loss_plot.clear()
        self.val_plot.clear()
        self.metrics.set_rows([])
        self.shown_job = _LIVE
        self.progress.setValue(0)
        self.status.setText("Preparing the pairs and the model…")
        self.ticket = self.controller.workers.run(
            self.controller.workers.jobs,
            lambda t: work(self.controller.backend, t),
            self._finished,
            self._failed,
        )
        self._set_running(True)

    def resume(self) -> None:
        folder = self.resume_button.property("job")
        if folder:
            self.start(resume_folder=str(folder))

    def cancel(self) -> None:
        if self.ticket is not None:
            self.ticket.cancel()
            self.status.setText("Stopping after the current step…")
            self.cancel_button.setEnabled(False)

    def _on_progress(self, p: Any) -> None:
        if p.total:
            self.progress.setRange(0, int(p.total))
            self.progress.setValue(int(p.done))
        rate = getattr(p, "images_per_s", 0.0)
        self.eta.setText(
            f"{eta_text(p.eta_s)}  ·  {rate:.1f} images/s" if rate else eta_text(p.eta_s)
        )
        if p.message:
            self.status.setText(p.message)

    def _on_point(self, kind: str, step: int, values: dict[str, float]) -> None:
        if kind == "loss":
            self.loss_plot.add_point("train loss", step, values["loss"])
        else:
            for key in PLOTTED:
                if key in values:
                    self.val_plot.add_point(key, step, values[key])
            if "loss" in values:
                self.loss_plot.add_point("validation loss", step, values["loss"])

    def _on_stopped(self) -> None:
        self.ticket = None
        self.status.setText("Stopped. The run is saved; resume it whenever you like.")
        self.eta.setText("")
        self.refresh()
        self._set_running(False)
        self.cancelled.emit()

    def _failed(self, exc: BaseException) -> None:
        from clipdesk.ui.controller import describe_error

        self.ticket = None
        message, hint = describe_error(exc)
        self.status.setText(f"Fine-tuning failed: {message} {hint}".strip())
        self._set_running(False)

    def _finished(self, found: tuple[str, Any, str]) -> None:
        self.ticket = None
        job_folder, result, runtime_note = found
        self.result = result
        self.shown_job = job_folder
        self._show_metrics(result)
        self.box.show_run(job_folder, result)
        self.status.setText(
            f"Saved as a new model version {result.model_name}. Activate it to "
            "use it"
            + (
                " (the library will be embedded again)."
                if result.reembed_needed
                else " (no re-indexing needed)."
            )
            + (f" Note: {runtime_note}." if runtime_note else "")
        )
        self.eta.setText(f"{result.steps} steps in {result.seconds:.0f} s")
        self.refresh()
        self._set_running(False)
        self.finished.emit(result)

    def _show_metrics(self, result: Any) -> None:
        self.metrics.set_rows(
            [
                [metric_name(k)]
                + [
                    metric_value(k, m.get(k))
                    for m in (result.before, result.fine_tuned, result.after)
                ]
                for k in result.before
            ],
            keys=list(result.before),
        )


def _spin(box: Any, lo: float, hi: float, value: float, decimals: int | None = None) -> Any:
    if decimals is not None:
        box.setDecimals(decimals)
    box.setRange(lo, hi)
    box.setValue(value)
    return box
