"""Train tab, model versions: the WiSE-FT trade-off of the last run (save another blend), and the
fine-tuned versions with their metrics, to activate or roll back."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from clipdesk.ui.train_tables import RowsModel, table
from clipdesk.ui.train_widgets import pct

if TYPE_CHECKING:
    from clipdesk.services.records import Activation
    from clipdesk.services.training import TrainingService
    from clipdesk.ui.controller import AppController


class VersionsBox(QWidget):
    message = Signal(str)  # what happened, for the panel's status line
    changed = Signal()  # versions or the active model changed: refresh the summary

    def __init__(
        self, controller: AppController, alpha: Callable[[], float], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self._alpha = alpha
        self.job_folder: str | None = None
        self.last_name: str | None = None
        self.sweep = RowsModel(
            ["Blend alpha", "Text → image R@1", "Text → image R@5", "Image → text R@1"], self
        )
        self.save_blend_button = QPushButton("Save another version at the slider's blend", self)
        self.save_blend_button.clicked.connect(self.save_blend)
        self.save_blend_button.setEnabled(False)
        # the base model and the full name ride in the tooltip; the active one is marked
        self.versions = RowsModel(["Version", "Towers", "Blend", "R@5 before", "R@5 after"], self)
        self.versions_view = table(self.versions, self)
        self.activate_button = QPushButton("Activate selected", self)
        self.activate_button.clicked.connect(self.activate)
        self.rollback_button = QPushButton("Roll back", self)
        self.rollback_button.clicked.connect(self.rollback)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Blend with the original (validation pairs)", self))
        layout.addWidget(table(self.sweep, self, rows=3), 1)
        layout.addWidget(self.save_blend_button)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Model versions", self))
        bar.addStretch(1)
        bar.addWidget(self.activate_button)
        bar.addWidget(self.rollback_button)
        layout.addLayout(bar)
        layout.addWidget(self.versions_view, 2)

    def set_busy(self, busy: bool) -> None:
        self.activate_button.setEnabled(not busy)
        self.rollback_button.setEnabled(not busy)
        self.save_blend_button.setEnabled(not busy and self.job_folder is not None)

    def show_versions(self, found: list[Any]) -> None:
        rows = []
        for v in found:
            b, a = v.metrics.get("before") or {}, v.metrics.get("after") or {}
            rows.append(
                [
                    f"{v.name} (active)" if v.active else v.name,
                    v.towers,
                    f"{v.alpha:.2f}",
                    pct(b.get("t2i_recall@5")),
                    pct(a.get("t2i_recall@5")),
                ]
            )
        self.versions.set_rows(
            rows,
            keys=[v.name for v in found],
            tips=[
                f"{v.name}, fine-tuned from {v.base_model}"
                + (" (the active model)" if v.active else "")
                for v in found
            ],
        )

    def show_run(self, job_folder: str, result: Any) -> None:
        self.job_folder, self.last_name = job_folder, result.model_name
        self.sweep.set_rows(
            [
                [
                    f"{float(a):.2f}",
                    pct(m.get("t2i_recall@1")),
                    pct(m.get("t2i_recall@5")),
                    pct(m.get("i2t_recall@1")),
                ]
                for a, m in result.sweep.items()
            ]
        )
        self.save_blend_button.setEnabled(True)

    def save_blend(self) -> None:
        """The finished run again at the slider's alpha, as one more version (no retraining)."""
        folder, alpha = self.job_folder, self._alpha()
        if not folder:
            return

        def work(backend, _t):
            return backend.services.training.save_blend(folder, alpha)

        def saved(path: Any) -> None:
            self.message.emit(f"Saved {path.name} (blend {alpha:.2f}).")
            self.changed.emit()

        self.controller.call(work, saved, self._failed, pool="model")

    def selected_version(self) -> str | None:
        rows = self.versions_view.selectionModel().selectedRows()
        if rows:
            return self.versions.keys[rows[0].row()]
        return self.last_name

    def activate(self) -> None:
        name = self.selected_version()
        if name:
            self._switch(lambda training: training.activate(name))

    def rollback(self) -> None:
        self._switch(lambda training: training.rollback())

    def _switch(self, fn: Callable[[TrainingService], Activation]) -> None:
        """Activate through the services (the settings the CLI reads too, the vectors shared),
        then load the model the open library switched to."""
        self.controller.jobs.cancel()  # an index run must not go on with the old model

        def done(out: Activation) -> None:
            self.message.emit(
                f"Active model: {out.active}"
                + (
                    " — embedding the library again in the background."
                    if out.reembed
                    else " (its image vectors were shared: no re-indexing)."
                )
            )
            self.controller.load_model()
            self.changed.emit()

        self.controller.call(lambda b, _t: fn(b.services.training), done, self._failed)

    def _failed(self, exc: BaseException) -> None:
        from clipdesk.ui.controller import describe_error

        message, hint = describe_error(exc)
        self.message.emit(f"{message} {hint}".strip())
