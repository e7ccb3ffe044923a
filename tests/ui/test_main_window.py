"""The window: first-run welcome, status bar, shortcuts, settings persisted."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from clipdesk.ui.settings import AppSettings

pytestmark = pytest.mark.usefixtures("no_leaks")


def test_first_run_welcome_then_search(qtbot, make_app, tiny_model, synth_photos):
    root, _photos = synth_photos
    controller, window = make_app(tiny_model, welcome_done=False)
    assert window.stack.currentWidget() is window.welcome
    assert not window.nav.isEnabled()
    window.welcome.add_folder(str(root))
    with qtbot.waitSignal(controller.jobs.finished, timeout=120_000):
        window.welcome.start_button.click()
    assert controller.settings.welcome_done
    assert window.stack.currentWidget() is window.folders
    qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=30_000)


def test_status_bar_reports_library_and_model(qtbot, make_app, tiny_model):
    controller, window = make_app(tiny_model)
    assert "Model: tiny-random" in window._status_model.text()
    assert "Library" in window._status_library.text()


def test_ctrl_f_focuses_the_search_box(qtbot, make_app, tiny_model):
    controller, window = make_app(tiny_model)
    window.show_page("Folders")
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.stack.currentWidget() is window.search
    qtbot.waitUntil(window.search.box.line.hasFocus, timeout=2000)


def test_settings_persist(tmp_path):
    s = AppSettings(tmp_path / "ui.ini")
    s.device = "cpu"
    s.model_name = "my-model"
    s.min_score = 0.25
    again = AppSettings(tmp_path / "ui.ini")
    assert (again.device, again.model_name, again.min_score) == ("cpu", "my-model", 0.25)
    again.device = "tpu"  # never a value the app cannot use
    assert AppSettings(tmp_path / "ui.ini").device == "auto"


def test_missing_model_says_what_to_do(qtbot, make_app, tmp_path):
    controller, window = make_app(tmp_path / "no-such-model", start=False)
    with qtbot.waitSignal(controller.errorRaised, timeout=30_000) as err:
        controller.start()
    message, hint = err.args
    assert "model" in message.lower() and hint
    assert "search is off" in window._status_model.text()
    qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=10_000)
