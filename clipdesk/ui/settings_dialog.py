"""Settings: compute device and runtime, model, library location, XMP options and reading the text
in photos; saved on OK.

The runtime is what runs the model: PyTorch, ONNX Runtime (on the CPU, int8 where it agrees with
fp32), or Automatic (the faster measured on this computer; PyTorch on a GPU). Changing it loads
the model again; the model panel says which one serves the active model.

Choosing another model shows what the switch costs the open library (how many photos are
embedded again and about how long that takes on this computer) and asks before switching. The
counting runs on the database thread; the rare model whose weights must be hashed to tell which
vectors are its own is hashed in the jobs pool, and closing the dialog cancels both.

Reading the text in photos (OCR) is the open library's switch (``clipdesk-cli ocr on|off``); its
state and what is left to read, with the cost, are read on the database thread when the dialog
opens, and the box stays disabled until they are in. The size from which search goes through an
approximate index (``clipdesk-cli ann threshold``) is the open library's too, read the same way.

Every choice here is a shared setting (:mod:`clipdesk.services.settings`): ``clipdesk-cli`` uses
the same library, model, device and XMP rules."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

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
    QSpinBox,
    QVBoxLayout,
)

from clipdesk.common.errors import ClipDeskError
from clipdesk.common.progress import Progress
from clipdesk.services.records import ReembedEstimate, SwitchCost
from clipdesk.ui import rows as models_api
from clipdesk.ui import start_dirs
from clipdesk.ui.controller import AppController, describe_error, error_sentence
from clipdesk.ui.model_panel import ModelPanel
from clipdesk.ui.workers import ProgressRelay, Ticket

if TYPE_CHECKING:  # the library's word records import numpy: not while the dialog opens
    from clipdesk.services.ann import AnnStatus
    from clipdesk.services.records import OcrBacklog

DEVICE_LABELS = {
    "auto": "Automatic (best available)",
    "cuda": "NVIDIA GPU (CUDA)",
    "mps": "Apple GPU (Metal)",
    "cpu": "CPU",
}
RUNTIME_LABELS = {
    "auto": "Automatic (the faster measured on this computer)",
    "torch": "PyTorch",
    "onnx": "ONNX Runtime (CPU; int8 where it agrees with full precision)",
}


class SettingsDialog(QDialog):
    def __init__(self, controller: AppController, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        shared = controller.shared_settings.current()
        self._library_was = controller.shared_settings.library_path()
        self._model_was = shared.model or ""
        self._device_was = shared.device
        self._runtime_was = shared.runtime
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
            lambda exc: self.device_note.setText(
                f"Could not check devices: {describe_error(exc)[0]}"
            ),
            owner=self,
        )

        self.runtime = QComboBox(self)
        for key, text in RUNTIME_LABELS.items():
            self.runtime.addItem(text, key)
        self.runtime.setCurrentIndex(max(0, self.runtime.findData(shared.runtime)))
        override = controller.shared_settings.runtime_override()
        self.runtime_note = QLabel(
            f"CLIPDESK_RUNTIME={override} is set: this app runs {override} whatever is chosen here."
            if override
            else "",
            self,
        )
        self.runtime_note.setWordWrap(True)
        self.runtime_note.setVisible(bool(override))

        self.models = ModelPanel(controller.workers, self._model_was, self, jobs=controller.jobs)
        loaded = controller.model
        self.models.show_runtime(loaded.runtime_text() if loaded is not None else "")
        # What switching to the selected model costs the open library, worked out in workers
        # when a model is selected, so OK can say it before anything changes.
        self.reembed_note = QLabel(self)
        self.reembed_note.setWordWrap(True)
        self._estimate: ReembedEstimate | None = None
        self._estimating: Ticket | None = None  # the step under way for the selected model
        self._identify_progress = ProgressRelay()
        self._identify_progress.progress.connect(self._identifying)
        self.models.chosen.connect(self._model_chosen)
        self.library = QLineEdit(str(self._library_was), self)
        browse = QPushButton("Choose…", self)
        browse.clicked.connect(self._choose_library)
        self.xmp_confirmed = QCheckBox("Write only tags I confirmed (not the suggestions)", self)
        self.xmp_confirmed.setChecked(not shared.xmp_write_suggestions)
        self.xmp_naming = QComboBox(self)
        self.xmp_naming.addItem("photo.jpg.xmp (keeps RAW+JPEG pairs apart; darktable)", "fullname")
        self.xmp_naming.addItem("photo.xmp (Lightroom)", "basename")
        self.xmp_naming.setCurrentIndex(max(0, self.xmp_naming.findData(shared.xmp_naming)))
        self.xmp_embedded = QCheckBox(
            "Write keywords and ratings into JPEG, TIFF and PNG files too", self
        )
        self.xmp_embedded.setToolTip(
            "Lightroom reads these formats' own metadata, not their sidecars. ClipDesk then "
            "changes the photo file itself: only its XMP, written to a copy that must decode "
            "to the same pixels before it replaces the photo. Camera RAW files are never "
            "changed."
        )
        self.xmp_embedded.setChecked(shared.xmp_embedded)
        self.read_text = QCheckBox("Read the text in photos, so that they can be found by it", self)
        self.read_text.setToolTip(
            "Signs, documents, screenshots: their words become searchable. It runs after "
            "indexing at low priority; each folder can be left out on the Folders page."
        )
        self.read_text.setEnabled(False)  # until the library says what it is
        self.read_text_note = QLabel(self)
        self.read_text_note.setWordWrap(True)
        self._read_text_was: bool | None = None
        asked = controller.call(
            lambda b, _t: (b.ocr_enabled(), b.text_backlog()),
            self._text_state,
            lambda exc: self.read_text_note.setText(
                f"Could not read the library's setting: {describe_error(exc)[0]}"
            ),
            owner=self,
        )
        if asked is None:
            self.read_text_note.setText("It is a setting of the library: open one first.")

        # 0 is "Automatic": a threshold below the 256 photos an index needs acts as 256 anyway
        self.ann_threshold = QSpinBox(self)
        self.ann_threshold.setRange(0, 2_000_000_000)
        self.ann_threshold.setSingleStep(100_000)
        self.ann_threshold.setGroupSeparatorShown(True)
        self.ann_threshold.setSuffix(" photos")
        self.ann_threshold.setSpecialValueText("Automatic")
        self.ann_threshold.setToolTip(
            "Past this many photos, search goes through an approximate index (about 72 bytes "
            "a photo instead of 1 KB, built in the background) instead of holding every vector "
            "in memory. Automatic: where that would take a quarter of this computer's memory."
        )
        self.ann_threshold.setEnabled(False)  # until the library says what it is
        self.ann_note = QLabel(self)
        self.ann_note.setWordWrap(True)
        self._ann_threshold_was: int | None = None
        asked_ann = controller.call(
            lambda b, _t: b.search_index_status(),
            self._search_state,
            lambda exc: self.ann_note.setText(
                f"Could not read the library's setting: {describe_error(exc)[0]}"
            ),
            owner=self,
        )
        if asked_ann is None:
            self.ann_note.setText("It is a setting of the library: open one first.")

        device_box = QGroupBox("Compute device", self)
        form = QFormLayout(device_box)
        form.addRow("Run the model on", self.device)
        form.addRow("", self.device_note)
        form.addRow("Run it with", self.runtime)
        form.addRow("", self.runtime_note)
        model_box = QGroupBox("Model", self)
        model_layout = QVBoxLayout(model_box)
        model_layout.addWidget(self.models)
        model_layout.addWidget(self.reembed_note)
        lib_box = QGroupBox("Library", self)
        row = QHBoxLayout(lib_box)
        row.addWidget(self.library, 1)
        row.addWidget(browse)
        xmp_box = QGroupBox("XMP sidecars", self)
        xmp_form = QFormLayout(xmp_box)
        xmp_form.addRow(self.xmp_confirmed)
        xmp_form.addRow("File name", self.xmp_naming)
        xmp_form.addRow(self.xmp_embedded)
        text_box = QGroupBox("Text in photos", self)
        text_layout = QVBoxLayout(text_box)
        text_layout.addWidget(self.read_text)
        text_layout.addWidget(self.read_text_note)
        search_box = QGroupBox("Search", self)
        search_form = QFormLayout(search_box)
        search_form.addRow("Approximate index from", self.ann_threshold)
        search_form.addRow("", self.ann_note)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for w in (device_box, model_box, lib_box, xmp_box, text_box, search_box):
            layout.addWidget(w)
        layout.addWidget(buttons)

    def _text_state(self, state: tuple[bool, OcrBacklog]) -> None:
        on, backlog = state
        self._read_text_was = on
        self.read_text.setChecked(on)
        self.read_text.setEnabled(True)
        note = backlog.describe()
        self.read_text_note.setText(note[:1].upper() + note[1:] if note else "")

    def _search_state(self, status: AnnStatus) -> None:
        setting = status.threshold if not status.automatic else 0
        self._ann_threshold_was = setting
        if status.automatic:
            self.ann_threshold.setSpecialValueText(f"Automatic ({status.threshold:,} photos here)")
        self.ann_threshold.setValue(setting)
        self.ann_threshold.setEnabled(True)
        note = status.describe()
        self.ann_note.setText(note[:1].upper() + note[1:])

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

    def _is_current(self, name: str) -> bool:
        """Whether ``name`` is the model in use (no choice stored: the bundled demo model)."""
        if name == self._model_was:
            return True
        row = next((r for r in self.models.rows() if r.name == name), None)
        return not self._model_was and row is not None and row.demo

    def _cancel_estimate(self) -> None:
        if self._estimating is not None:
            self._estimating.cancel()  # a cancelled step is never delivered
            self._estimating = None

    def _model_chosen(self, name: str) -> None:
        self._estimate = None
        self._cancel_estimate()
        backend = self.controller.backend
        if self._is_current(name) or backend is None:
            self.reembed_note.setText("")
            return
        self.reembed_note.setText(f"Working out what switching to {name} takes…")
        workers = self.controller.workers
        self._estimating = workers.run(
            workers.db,
            lambda _t: backend.switch_cost(name),
            self._costed,
            self._estimate_failed,
            owner=self,
        )

    def _costed(self, cost: SwitchCost | None) -> None:
        """The counts are in; hash the weights the answer still depends on, if any."""
        self._estimating = None
        backend = self.controller.backend
        if cost is None:
            # Nothing to count it by (a model given by path): the confirmation says so.
            self.reembed_note.setText("")
            return
        if backend is None or cost.model != self.models.selected():
            return
        unknown = cost.unknown()
        if not unknown:
            self._estimated(cost.estimate())
            return
        names = ", ".join(m.name for m in unknown)
        after = " when indexing pauses or ends" if self.controller.jobs.running else ""
        self.reembed_note.setText(
            f"Reading the weights of {names} once{after}, to tell which stored vectors are its own…"
        )
        workers, emit = self.controller.workers, self._identify_progress.progress.emit
        self._estimating = workers.run(
            workers.jobs,
            lambda token: backend.identify_models(cost, emit, token),
            lambda known: self._estimated(known.estimate()),
            self._estimate_failed,
            owner=self,
        )

    def _identifying(self, p: Progress) -> None:
        if self._estimating is None:
            return
        if p.done and p.fraction is not None:
            self.reembed_note.setText(f"{p.message}… ({100 * p.fraction:.0f}% read)")
        else:  # the first report of each model comes before any of its bytes are read
            self.reembed_note.setText(f"{p.message}…")

    def _estimated(self, estimate: ReembedEstimate) -> None:
        self._estimating = None
        if estimate.model != self.models.selected():
            return
        self._estimate = estimate
        self.reembed_note.setText(estimate.describe())

    def _estimate_failed(self, exc: BaseException) -> None:
        self._estimating = None
        message, hint = describe_error(exc)
        self.reembed_note.setText(
            "Could not work out the re-embedding time: " + error_sentence(message, hint)
        )

    def done(self, result: int) -> None:
        """Closing (OK, Cancel, the window's close button) stops the estimate's workers."""
        self._cancel_estimate()
        super().done(result)

    def _confirm_switch(self, model: str) -> bool:
        """Say what switching costs (photos to embed again, how long) and let the user decline;
        True: go ahead."""
        estimate = self._estimate if self._estimate and self._estimate.model == model else None
        if estimate is not None and (estimate.shared or estimate.photos == 0):
            return True
        text = (
            estimate.describe()
            if estimate is not None
            else f"Your photos are embedded again with {model}; search keeps using the current "
            "model until it is done."
        )
        answer = QMessageBox.question(
            self,
            "Change the model",
            f"{text}\n\nSwitch to {model}?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _choose_library(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Library file",
            start_dirs.library_file(self.library.text().strip()),
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
        if (
            not self._is_current(model)
            and not library_changed
            and self.controller.backend is not None
            and not self._confirm_switch(model)
        ):
            return  # the dialog stays open for another choice
        runtime = self.runtime.currentData()
        runtime_changed = runtime != self._runtime_was
        try:
            if library_changed:
                shared.set_library_path(library)
            shared.set_xmp(
                self.xmp_naming.currentData(),
                not self.xmp_confirmed.isChecked(),
                self.xmp_embedded.isChecked(),
            )
            if runtime_changed:
                shared.set_runtime(runtime)
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
        elif runtime_changed:
            self.controller.reload_model()  # the same model, on the runtime chosen now
        read_text = self.read_text.isChecked()
        if (
            self._read_text_was is not None
            and read_text != self._read_text_was
            and not library_changed  # the switch was the open library's, not the next one's
        ):
            self.controller.set_ocr_enabled(read_text)
        threshold = self.ann_threshold.value()
        if (
            self._ann_threshold_was is not None
            and threshold != self._ann_threshold_was
            and not library_changed
        ):
            self.controller.set_ann_threshold(threshold or None)
