"""The library could not be opened: say why, and offer a way on instead of a window that does
nothing - open another library, create a new one, go back to the default, or try again.

Every choice goes through the shared settings' check (:meth:`SettingsService.check_library_path`)
before it is saved, so a second bad choice is refused here, with its reason, not at the next start.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from clipdesk.common import paths
from clipdesk.common.errors import ClipDeskError
from clipdesk.ui import start_dirs
from clipdesk.ui.controller import AppController, describe_error

LIBRARY_FILTER = "ClipDesk library (*.sqlite3);;All files (*)"


class LibraryProblemDialog(QDialog):
    def __init__(
        self, controller: AppController, message: str, hint: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.failed = controller.shared_settings.library_path()
        self.setWindowTitle("ClipDesk: library")
        self.message = QLabel(message, self)
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.hint = QLabel(hint, self)
        self.hint.setWordWrap(True)
        self.hint.setTextFormat(Qt.TextFormat.PlainText)
        self.refusal = QLabel("", self)  # why another choice was refused, if one was
        self.refusal.setWordWrap(True)
        self.refusal.setTextFormat(Qt.TextFormat.PlainText)
        self.refusal.setStyleSheet("color: #c0392b")
        self.refusal.hide()

        buttons = QDialogButtonBox(self)
        self.open_other = self._button(buttons, "Open another library…", self._choose_existing)
        self.create_new = self._button(buttons, "Create a new library…", self._choose_new)
        self.use_default = self._button(buttons, "Use the default library", self._default)
        self.use_default.setVisible(self.failed != paths.default_library_path())
        self.retry = self._button(buttons, "Try again", self._try_again)
        buttons.addButton(QDialogButtonBox.StandardButton.Close).clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.message, self.hint, self.refusal):
            layout.addWidget(widget)
        layout.addWidget(buttons)

    def _button(self, box: QDialogButtonBox, text: str, slot) -> QPushButton:
        button = box.addButton(text, QDialogButtonBox.ButtonRole.ActionRole)
        button.clicked.connect(slot)
        return button

    # --- choices -------------------------------------------------------------------------------
    def use(self, path: str | Path | None) -> bool:
        """Switch to ``path`` (None: the default library) if it can be used; else say why here
        and stay open. True when the library is being opened."""
        try:
            self.controller.shared_settings.set_library_path(path)
        except (ClipDeskError, OSError) as exc:
            message, hint = describe_error(exc)
            self.refusal.setText(f"{message}\n{hint}".strip())
            self.refusal.show()
            return False
        self.accept()
        self.controller.reopen_library()
        return True

    def _choose_existing(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a ClipDesk library", start_dirs.library_dir(self.failed), LIBRARY_FILTER
        )
        if path:
            self.use(path)

    def _choose_new(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Create a new library",
            os.path.join(start_dirs.library_dir(self.failed), "library.sqlite3"),
            LIBRARY_FILTER,
            options=QFileDialog.Option.DontConfirmOverwrite,  # an existing one is checked, not lost
        )
        if path:
            self.use(path)

    def _default(self) -> None:
        self.use(None)

    def _try_again(self) -> None:
        self.accept()
        self.controller.reopen_library()
