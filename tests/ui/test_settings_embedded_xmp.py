"""Settings: writing into JPEG/TIFF/PNG files is off until ticked, and the tick is the shared
setting clipdesk-cli reads."""

from __future__ import annotations

import pytest

from clipdesk.services.settings import SettingsService
from clipdesk.ui.settings_dialog import SettingsDialog

pytestmark = pytest.mark.usefixtures("no_leaks")


def test_the_write_into_files_box_is_off_by_default_and_saved_as_the_shared_setting(
    qtbot, make_app, tiny_model
):
    controller, window = make_app(tiny_model)
    dialog = SettingsDialog(controller, window)
    qtbot.addWidget(dialog)
    assert not dialog.xmp_embedded.isChecked()
    assert "JPEG, TIFF and PNG" in dialog.xmp_embedded.text()
    dialog.xmp_embedded.setChecked(True)
    dialog.accept()
    assert SettingsService().xmp_embedded() is True  # what `clipdesk-cli tags xmp` shows
    SettingsService().set_xmp(embedded=False)  # changed by the CLI meanwhile
    again = SettingsDialog(controller, window)
    qtbot.addWidget(again)
    assert not again.xmp_embedded.isChecked()
    again.reject()
    qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=30_000)


def test_the_write_xmp_question_says_when_photo_files_change_too():
    from clipdesk.ui.tags_page import xmp_question

    assert "inside the file" in xmp_question("fullname", False, True)
    assert "inside the file" not in xmp_question("fullname", False)
