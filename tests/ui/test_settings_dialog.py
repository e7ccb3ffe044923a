"""Settings: devices this machine lacks are shown but cannot be chosen; choices are saved."""

from __future__ import annotations

import pytest

from clipdesk.ui.settings_dialog import SettingsDialog

pytestmark = pytest.mark.usefixtures("no_leaks")


def test_unavailable_devices_are_disabled_and_choice_persists(qtbot, make_app, tiny_model):
    controller, window = make_app(tiny_model)
    dialog = SettingsDialog(controller, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.device_note.text().startswith("Available here"), timeout=30_000)
    model = dialog.device.model()
    rows = {
        dialog.device.itemData(r): model.item(r).isEnabled() for r in range(dialog.device.count())
    }
    assert rows["auto"] and rows["cpu"]
    import torch

    assert rows["cuda"] == torch.cuda.is_available()
    qtbot.waitUntil(lambda: len(dialog.models.rows()) > 0, timeout=10_000)
    assert dialog.models.selected() == str(tiny_model)
    # the defaults: photo.jpg.xmp, confirmed and imported tags only
    assert dialog.xmp_confirmed.isChecked() and dialog.xmp_naming.currentData() == "fullname"
    dialog.xmp_confirmed.setChecked(False)
    dialog.xmp_naming.setCurrentIndex(dialog.xmp_naming.findData("basename"))
    dialog.accept()
    # saved where clipdesk-cli reads them too
    from clipdesk.common import config

    saved = config.load()
    assert saved.xmp_write_suggestions and saved.xmp_naming == "basename"
    assert saved.model == str(tiny_model) and saved.device == "cpu"  # unchanged
    qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=30_000)


def test_choosing_another_library_and_model_reopens_with_both(
    qtbot, make_app, tiny_model, tmp_path
):
    from clipdesk.common import config

    controller, window = make_app(tiny_model)
    dialog = SettingsDialog(controller, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: len(dialog.models.rows()) > 0, timeout=10_000)
    other = tmp_path / "other" / "library.sqlite3"
    other.parent.mkdir()
    dialog.library.setText(str(other))
    with qtbot.waitSignal(controller.modelReady, timeout=60_000):
        dialog.accept()
    assert config.load().library == str(other.resolve())
    assert controller.backend.services.library_path == other.resolve()
    qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=30_000)


def test_a_folder_is_refused_as_the_library_file(
    qtbot, make_app, tiny_model, tmp_path, monkeypatch
):
    from PySide6.QtWidgets import QMessageBox

    from clipdesk.common import config

    controller, window = make_app(tiny_model)
    before = config.load().library
    dialog = SettingsDialog(controller, window)
    qtbot.addWidget(dialog)
    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warned.append(a[2]))
    dialog.library.setText(str(tmp_path))
    dialog.accept()
    assert warned and "folder" in warned[0]
    assert config.load().library == before
    qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=30_000)
