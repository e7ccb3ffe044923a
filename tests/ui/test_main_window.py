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


def test_window_settings_persist_and_shared_ones_are_not_in_the_ini(tmp_path):
    s = AppSettings(tmp_path / "ui.ini")
    s.min_score = 0.25
    s.welcome_done = True
    again = AppSettings(tmp_path / "ui.ini")
    assert (again.min_score, again.welcome_done) == (0.25, True)
    # the library, model, device and XMP rules are the CLI's too: not kept in the app's INI
    for shared in ("library_path", "model_name", "device", "xmp_naming", "xmp_confirmed_only"):
        assert not hasattr(again, shared)


def test_command_line_choices_become_the_shared_settings(qtbot, tmp_path, tiny_model):
    from clipdesk.app import create_window, parse_args
    from clipdesk.services.settings import SettingsService
    from clipdesk.ui.controller import AppController

    library = tmp_path / "chosen.sqlite3"
    args = parse_args(["clipdesk", "--library", str(library), "--model", str(tiny_model)])
    args.device = "cpu"
    controller, window = create_window(args, AppSettings(tmp_path / "ui.ini"))
    qtbot.addWidget(window)
    assert isinstance(controller, AppController)
    shared = SettingsService()
    assert shared.library_path() == library.resolve()
    assert (shared.model(), shared.device()) == (str(tiny_model), "cpu")
    # a model that is not there is refused with a message; the choice before it is kept
    args = parse_args(["clipdesk", "--model", "no-such-model"])
    controller2, window2 = create_window(args, AppSettings(tmp_path / "ui.ini"))
    qtbot.addWidget(window2)
    with qtbot.waitSignal(controller2.errorRaised, timeout=5_000) as err:
        pass
    assert "no-such-model" in err.args[0]
    assert shared.model() == str(tiny_model)
    controller.shutdown()
    controller2.shutdown()


def test_missing_model_says_what_to_do(qtbot, make_app, tmp_path):
    controller, window = make_app(tmp_path / "no-such-model", start=False)
    with qtbot.waitSignal(controller.errorRaised, timeout=30_000) as err:
        controller.start()
    message, hint = err.args
    assert "model" in message.lower() and hint
    assert "search is off" in window._status_model.text()
    qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=10_000)


def test_a_train_tab_that_cannot_be_imported_is_an_error_not_a_placeholder(
    qtbot, make_app, tiny_model, monkeypatch
):
    import sys

    from clipdesk.ui.main_window import _train_page

    controller, window = make_app(tiny_model, start=False)
    # what a missing dependency of the tab (pyqtgraph, a module of its own) looks like
    monkeypatch.setitem(sys.modules, "clipdesk.ui.train_page", None)
    with pytest.raises(ImportError):
        _train_page(controller, window)
