"""Model choice: import from disk with progress, the new model listed and selected; bad ones refused."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QFileDialog

from clipdesk.ui.model_panel import ModelPanel

pytestmark = pytest.mark.usefixtures("no_leaks")


@pytest.fixture
def panel(qtbot, workers):
    widget = ModelPanel(workers)
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    widget.close()


def test_import_a_model_folder(qtbot, panel, tiny_model, monkeypatch):
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", lambda *a, **k: (str(tiny_model / "config.json"), "")
    )
    chosen = []
    panel.chosen.connect(chosen.append)
    panel.import_button.click()
    assert panel.progress.isVisible() and not panel.import_button.isEnabled()
    qtbot.waitUntil(lambda: panel.message.text().startswith("Installed"), timeout=180_000)
    qtbot.waitUntil(lambda: panel.selected() == "tiny-random", timeout=10_000)
    assert not panel.progress.isVisible() and panel.import_button.isEnabled()
    assert "tiny-random" in chosen


def test_a_broken_model_file_is_refused_with_a_reason(qtbot, panel, tmp_path, monkeypatch):
    bad = tmp_path / "weights.safetensors"
    bad.write_bytes(b"not a safetensors file")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), ""))
    panel.import_button.click()
    qtbot.waitUntil(lambda: panel.import_button.isEnabled(), timeout=180_000)
    assert "weights.safetensors" in panel.message.text() or "safetensors" in panel.message.text()
    assert not panel.message.text().startswith("Installed")
