"""Settings: compute device, model, library location and XMP options; saved on OK."""

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
    QPushButton,
    QVBoxLayout,
)

from clipdesk.ui import rows as models_api
from clipdesk.ui.controller import AppController
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
        settings = controller.settings
        self.setWindowTitle("ClipDesk settings")
        self.resize(640, 560)

        self.device = QComboBox(self)
        for key, text in DEVICE_LABELS.items():
            self.device.addItem(text, key)
        self.device.setCurrentIndex(max(0, self.device.findData(settings.device.split(":")[0])))
        self.device_note = QLabel("Checking which devices this computer has…", self)
        controller.workers.run(
            controller.workers.model,
            lambda _t: models_api.device_names(),
            self._devices_found,
            lambda exc: self.device_note.setText(f"Could not check devices: {exc}"),
            owner=self,
        )

        self.models = ModelPanel(controller.workers, settings.model_name, self)
        self.library = QLineEdit(str(settings.library_path), self)
        browse = QPushButton("Choose…", self)
        browse.clicked.connect(self._choose_library)
        self.xmp_confirmed = QCheckBox("Write only tags I confirmed", self)
        self.xmp_confirmed.setChecked(settings.xmp_confirmed_only)
        self.xmp_naming = QComboBox(self)
        self.xmp_naming.addItem("photo.xmp (Lightroom, digiKam)", "stem")
        self.xmp_naming.addItem("photo.jpg.xmp (darktable)", "ext")
        self.xmp_naming.setCurrentIndex(max(0, self.xmp_naming.findData(settings.xmp_naming)))

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
        s = self.controller.settings
        model_changed = (
            self.models.selected() != s.model_name or self.device.currentData() != s.device
        )
        library = Path(self.library.text()).expanduser()
        library_changed = library != s.library_path
        s.device = self.device.currentData()
        s.model_name = self.models.selected()
        s.xmp_confirmed_only = self.xmp_confirmed.isChecked()
        s.xmp_naming = self.xmp_naming.currentData()
        if library_changed:
            s.library_path = library
        super().accept()
        if library_changed:
            self.controller.reopen_library()
        elif model_changed:
            self.controller.load_model()  # the next index run re-embeds for the new model
