"""The Train tab: "Teach tags" (heads from your decisions, no re-index) and "Fine-tune the model"
(contrastive fine-tuning into a new model version). Both reload when the library or model changes."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from clipdesk.ui.train_finetune import FinetunePanel
from clipdesk.ui.train_heads import HeadsPanel

if TYPE_CHECKING:
    from clipdesk.ui.controller import AppController

REFRESH_EVERY_S = 5.0


class TrainTab(QWidget):
    def __init__(self, controller: AppController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.heads = HeadsPanel(controller, self)
        self.finetune = FinetunePanel(controller, self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.heads, "Teach tags")
        self.tabs.addTab(self.finetune, "Fine-tune the model")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.tabs)
        self._stale = True
        self._last_refresh = 0.0
        controller.modelReady.connect(self._mark_stale)
        controller.libraryChanged.connect(self._mark_stale)

    def _mark_stale(self, *_args: object) -> None:
        self._stale = True
        # indexing reports library changes often; counting pairs again every few seconds is enough
        if self.isVisible() and time.monotonic() - self._last_refresh > REFRESH_EVERY_S:
            self.refresh()

    def refresh(self) -> None:
        """Reload categories, label counts, pair counts and versions (cheap, in the background)."""
        self._stale = False
        self._last_refresh = time.monotonic()
        if self.controller.backend is None or self.controller.model is None:
            return
        self.heads.refresh()
        if not self.finetune.running:
            self.finetune.refresh()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._stale:
            self.refresh()
