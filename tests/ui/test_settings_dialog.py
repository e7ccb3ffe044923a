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
    qtbot.waitUntil(lambda: dialog.models.list.count() > 0, timeout=10_000)
    assert dialog.models.selected() == str(tiny_model)
    dialog.xmp_confirmed.setChecked(False)
    dialog.xmp_naming.setCurrentIndex(dialog.xmp_naming.findData("ext"))
    dialog.accept()
    assert not controller.settings.xmp_confirmed_only
    assert controller.settings.xmp_naming == "ext"
    qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=30_000)
