"""The window and ``clipdesk-cli`` on one machine agree on the library in use and the active
model: each fact is stored once (the shared settings), whichever face changed it."""

from __future__ import annotations

from clipdesk.ui.settings_dialog import SettingsDialog
from tests.support.cli_process import cli_json


def test_the_cli_uses_the_library_chosen_in_the_window(qtbot, make_app, tiny_model, tmp_path):
    controller, window = make_app(tiny_model)
    dialog = SettingsDialog(controller, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: len(dialog.models.rows()) > 0, timeout=10_000)
    chosen = tmp_path / "elsewhere" / "photos.sqlite3"
    chosen.parent.mkdir()
    dialog.library.setText(str(chosen))
    with qtbot.waitSignal(controller.modelReady, timeout=60_000):
        dialog.accept()
    qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=30_000)

    status = cli_json("status")
    assert status["library"] == str(chosen.resolve())
    assert chosen.is_file()  # the app opened it; the CLI read that same file


def test_a_model_the_cli_activates_is_the_one_the_window_loads(qtbot, tmp_path):
    from clipdesk.common import config, paths
    from clipdesk.model.testing import tiny_random_model
    from clipdesk.ui.controller import AppController
    from clipdesk.ui.main_window import MainWindow
    from clipdesk.ui.settings import AppSettings
    from clipdesk.ui.workers import Workers

    tiny_random_model(paths.models_dir(), name="tiny-shared")
    config.update(library=str(tmp_path / "library.sqlite3"), device="cpu")
    assert cli_json("models", "activate", "tiny-shared")["active"] == "tiny-shared"

    settings = AppSettings(tmp_path / "ui.ini")
    settings.welcome_done = True
    controller = AppController(settings, Workers(thumb_threads=2))
    window = MainWindow(controller)
    qtbot.addWidget(window)
    window.show()
    try:
        with qtbot.waitSignal(controller.modelReady, timeout=60_000):
            controller.start()
        qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=30_000)
        assert controller.model is not None and controller.model.name == "tiny-shared"
    finally:
        window.close()
        controller.shutdown()

    listed = cli_json("models", "list")
    assert [m["name"] for m in listed["models"] if m["active"]] == ["tiny-shared"]
    assert cli_json("status")["model"] == "tiny-shared"
