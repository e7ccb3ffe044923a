"""The app finishes an install a crash interrupted before it looks for the model, and says so
once in the status bar (issue #14, item 5)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("no_leaks")


def test_a_model_left_aside_by_a_crash_is_restored_and_the_app_says_so(
    qtbot, make_app, tiny_model, monkeypatch
):
    from clipdesk.common import paths
    from clipdesk.model import manager

    info = manager.import_model(tiny_model)
    root = paths.models_dir()
    (root / info.name).rename(root / f".{info.name}.old")  # killed between the two renames
    monkeypatch.setattr(manager, "_sweeps", {}, raising=False)  # the app's start is a new one

    controller, window = make_app(info.name)
    assert f"Model: {info.name} on cpu" in window._status_model.text()  # not the demo model
    qtbot.waitUntil(lambda: "Models folder:" in window.statusBar().currentMessage(), timeout=5000)
    assert (
        f"restored {info.name}: an interrupted replacement had moved it aside"
        in window.statusBar().currentMessage()
    )
    notices = []
    controller.noticeRaised.connect(notices.append)
    with qtbot.waitSignal(controller.modelReady, timeout=60_000):
        controller.load_model()  # loading again does not repeat it
    assert notices == []
