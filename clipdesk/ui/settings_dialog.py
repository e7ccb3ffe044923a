"""Settings: compute device, model, library location and XMP options; saved on OK.

Every choice here is a shared setting (:mod:`clipdesk.services.settings`): ``clipdesk-cli`` uses
the same library, model, device and XMP rules."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
)

from clipdesk.common.errors import ClipDeskError
from clipdesk.ui import rows as models_api
from clipdesk.ui.controller import AppController, describe_error
from clipdesk.ui.model_panel import ModelPanel

DEVICE_LABELS = {
    "auto": "Automatic (best available)",
    "cuda": "NVIDIA GPU (CUDA)",
    "mps": "Apple GPU (Metal)",
    "cpu": "CPU",
}


class SettingsDialog(QDialog):
    def __init__(self, controller: AppController, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        shared = controller.shared_settings.current()
        self._library_was = controller.shared_settings.library_path()
        self._model_was = shared.model or ""
        self._device_was = shared.device
        self.setWindowTitle("ClipDesk settings")
        self.resize(640, 560)

        self.device = QComboBox(self)
        for key, text in DEVICE_LABELS.items():
            self.device.addItem(text, key)
        self.device.setCurrentIndex(max(0, self.device.findData(shared.device.split(":")[0])))
        self.device_note = QLabel("Checking which devices this computer has…", self)
        controller.workers.run(
            controller.workers.model,
            lambda _t: models_api.device_names(),
            self._devices_found,
            lambda exc: self.device_note.setText(f"Could not check devices: {exc}"),
            owner=self,
        )

        self.models = ModelPanel(controller.workers, self._model_was, self)
        self.library = QLineEdit(str(self._library_was), self)
        browse = QPushButton("Choose…", self)
        browse.clicked.connect(self._choose_library)
        self.xmp_confirmed = QCheckBox("Write only tags I confirmed (not the suggestions)", self)
        self.xmp_confirmed.setChecked(not shared.xmp_write_suggestions)
        self.xmp_naming = QComboBox(self)
        self.xmp_naming.addItem("photo.jpg.xmp (keeps RAW+JPEG pairs apart; darktable)", "fullname")
        self.xmp_naming.addItem("photo.xmp (Lightroom)", "basename")
        self.xmp_naming.setCurrentIndex(max(0, self.xmp_naming.findData(shared.xmp_naming)))

        device_box = QGroupBox("Compute device", self)
        form = QFormLayout(device_box)
        form.addRow("Run the model on", self.device)
        form.addRow("", self.device_note)
        model_box = QGroupBox("Model", self)
        QVBoxLayout(model_box).addWidget(self.models)
        lib_box = QGroupBox("Library", self)
        row = QHBoxLayout(lib_box)
        row.addWidget(self.library, 1)
        row.addWidget(browse)
        xmp_box = QGroupBox("XMP sidecars", self)
        xmp_form = QFormLayout(xmp_box)
        xmp_form.addRow(self.xmp_confirmed)
        xmp_form.addRow("File name", self.xmp_naming)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for w in (device_box, model_box, lib_box, xmp_box):
            layout.addWidget(w)
        layout.addWidget(buttons)

    def _devices_found(self, names: list[str]) -> None:
        kinds = {n.split(":")[0] for n in names}
        model = self.device.model()
        assert isinstance(model, QStandardItemModel)
        for row in range(self.device.count()):
            key = self.device.itemData(row)
            available = key == "auto" or key in kinds
            model.item(row).setEnabled(available)
            if not available:
                self.device.setItemText(row, f"{DEVICE_LABELS[key]} — not available here")
        self.device_note.setText("Available here: " + ", ".join(names))

    def _choose_library(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Library file",
            self.library.text(),
            "ClipDesk library (*.sqlite3)",
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if path:
            self.library.setText(path)

    def accept(self) -> None:
        shared = self.controller.shared_settings
        model, device = self.models.selected(), self.device.currentData()
        if device == self._device_was.split(":")[0]:
            device = self._device_was  # the combo lists kinds: keep the user's cuda:1 as it was
        model_changed = model != self._model_was or device != self._device_was
        library = Path(self.library.text()).expanduser()
        library_changed = library != self._library_was
        try:
            if library_changed:
                shared.set_library_path(library)
            shared.set_xmp(self.xmp_naming.currentData(), not self.xmp_confirmed.isChecked())
        except (ClipDeskError, OSError) as exc:
            message, hint = describe_error(exc)
            QMessageBox.warning(self, "ClipDesk settings", f"{message}\n\n{hint}".strip())
            return  # the dialog stays open to correct it
        super().accept()
        if library_changed:
            # the other library opens with the model chosen here (if that changed too)
            self.controller.reopen_library(*((model, device) if model_changed else ()))
        elif model_changed:
            # for the CLI too; the open library switches over (search keeps the old vectors
            # until the photos are embedded again)
            self.controller.activate_model(model, device)
