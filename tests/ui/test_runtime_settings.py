"""The runtime in the app: a background job prepares the model for ONNX Runtime after start-up
and after the setting changes, Settings stores the choice, and the model panel names it."""

from __future__ import annotations

import pytest

from clipdesk.common import config
from clipdesk.ui.settings_dialog import SettingsDialog
from tests.support.runtime_exports import SharedExport, export_once

pytestmark = pytest.mark.usefixtures("no_leaks")


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> SharedExport:
    return export_once(tmp_path_factory)


def _served_by(window, runtime: str) -> bool:
    return f"with {runtime}" in window._status_model.text()


def test_after_start_up_a_background_job_prepares_the_model_then_serves_it_with_onnx(
    qtbot, make_app, tiny_model, shared, monkeypatch
):
    monkeypatch.delenv("CLIPDESK_RUNTIME")  # the setting: auto
    shared.seed()  # the same tiny weights: prepared in milliseconds, by the real code
    started: list[str] = []
    controller, window = make_app(tiny_model, start=False)
    controller.jobs.started.connect(started.append)
    with qtbot.waitSignal(controller.modelReady, timeout=60_000):
        controller.start()
    assert "with PyTorch fp32; preparing it for ONNX Runtime" in window._status_model.text()
    qtbot.waitUntil(lambda: _served_by(window, "ONNX Runtime int8"), timeout=60_000)
    assert started[0] == "Preparing the model"
    qtbot.waitUntil(lambda: "Indexing" in started, timeout=30_000)  # then the index run
    assert controller.backend.services.model.runtime_label == "onnx-int8"
    dialog = SettingsDialog(controller, window)
    qtbot.addWidget(dialog)
    assert dialog.models.runtime_note.text() == "The active model runs on ONNX Runtime int8."
    assert dialog.runtime.currentData() == "auto" and not dialog.runtime_note.isVisible()
    dialog.reject()
    qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=30_000)


def test_choosing_a_runtime_in_settings_stores_it_and_loads_the_model_on_it(
    qtbot, make_app, tiny_model, shared, monkeypatch
):
    monkeypatch.delenv("CLIPDESK_RUNTIME")
    config.update(runtime="torch")
    shared.seed()
    controller, window = make_app(tiny_model)
    assert _served_by(window, "PyTorch fp32")
    qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=30_000)
    dialog = SettingsDialog(controller, window)
    qtbot.addWidget(dialog)
    assert dialog.runtime.currentData() == "torch"
    assert dialog.models.runtime_note.text() == "The active model runs on PyTorch fp32."
    dialog.runtime.setCurrentIndex(dialog.runtime.findData("onnx"))
    with qtbot.waitSignal(controller.modelReady, timeout=60_000):
        dialog.accept()
    assert config.load().runtime == "onnx"  # where clipdesk-cli reads it too
    qtbot.waitUntil(lambda: _served_by(window, "ONNX Runtime int8"), timeout=60_000)
    qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=30_000)


def test_settings_say_when_the_environment_overrides_the_runtime(qtbot, make_app, tiny_model):
    controller, window = make_app(tiny_model)  # the suite runs with CLIPDESK_RUNTIME=torch
    dialog = SettingsDialog(controller, window)
    qtbot.addWidget(dialog)
    assert "CLIPDESK_RUNTIME=torch is set" in dialog.runtime_note.text()
    assert not dialog.runtime_note.isHidden()
    dialog.reject()
    qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=30_000)


def test_an_install_whose_export_failed_says_so_and_keeps_the_model(
    qtbot, shared, monkeypatch, tmp_path
):
    from clipdesk.common.errors import ModelError
    from clipdesk.model.runtime import export
    from clipdesk.ui import rows
    from clipdesk.ui.model_panel import ModelPanel
    from clipdesk.ui.workers import Workers

    monkeypatch.delenv("CLIPDESK_RUNTIME")
    config.update(device="cpu")

    def broken(*_a, **_k):
        raise ModelError("the ONNX export of tiny-random does not match PyTorch")

    monkeypatch.setattr(export, "export_model", broken)
    reports = []
    done = rows.import_model(str(shared.model), reports.append, _token())
    assert done.name == "tiny-random" and "could not be prepared for ONNX Runtime" in done.note
    workers = Workers(thumb_threads=1)
    panel = ModelPanel(workers)
    qtbot.addWidget(panel)
    panel._done(done)
    assert panel.message.text().startswith("Installed tiny-random. tiny-random could not be")
    assert "runs on PyTorch" in panel.message.text()
    qtbot.waitUntil(lambda: workers.pending == 0, timeout=30_000)
    workers.shutdown()


def _token():
    from clipdesk.common.progress import CancelToken

    return CancelToken()
