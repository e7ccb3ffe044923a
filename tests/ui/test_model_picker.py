"""Settings › Models: the table of installed and catalog models (size, speed on this computer,
published quality with its source, languages), the speed probe the first time it is shown (in a
worker), and the re-embedding time shown before a switch is confirmed."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QMessageBox

from clipdesk.common import paths
from clipdesk.model import speed
from clipdesk.model.catalog import CATALOG
from clipdesk.model.testing import tiny_random_model
from clipdesk.ui.model_panel import ModelPanel
from clipdesk.ui.model_table import COLUMNS
from clipdesk.ui.settings_dialog import SettingsDialog
from tests.support.catalog_speeds import use_catalog_speeds
from tests.ui.conftest import add_and_index

pytestmark = pytest.mark.usefixtures("no_leaks")

B32 = "clip-vit-base-patch32"
COL = {name: i for i, name in enumerate(COLUMNS)}


@pytest.fixture(autouse=True)
def catalog_speeds(tmp_path, monkeypatch):
    """The catalog machine ran the reference model at 20 photos/s; the probe (conftest's
    instant one) finds 40 here, so this computer is twice as fast."""
    archs = {
        speed.REFERENCE: speed.ArchSpeed(20.0, 16.0, 2, 151_277_313),
        "ViT-L-14": speed.ArchSpeed(1.5, 40.0, 2, 427_616_513),
    }
    use_catalog_speeds(monkeypatch, tmp_path / "catalog_speeds.json", archs)


@pytest.fixture
def panel(qtbot, workers):
    widget = ModelPanel(workers)
    qtbot.addWidget(widget)
    yield widget
    widget.close()


def _cell(panel: ModelPanel, name: str, column: str, role=Qt.ItemDataRole.DisplayRole):
    row = panel.model.row_of(name)
    assert row >= 0, f"{name} is not in the table"
    return panel.model.index(row, COL[column]).data(role)


def test_the_table_shows_catalog_and_installed_models(qtbot, panel, qtmodeltester):
    tiny_random_model(paths.models_dir(), name="my-model")
    with qtbot.waitSignal(panel.probed, timeout=30_000):
        panel.show()
    qtbot.waitUntil(lambda: _cell(panel, B32, "Photos/s here") == "40.0", timeout=10_000)
    qtmodeltester.check(panel.model)
    names = [r.name for r in panel.rows()]
    assert names[0] == "my-model" and set(CATALOG) <= set(names)
    assert panel.model.rowCount() == len(panel.rows())
    assert _cell(panel, B32, "Model") == "OpenAI ViT-B/32"
    assert _cell(panel, B32, "Status") == "Download"
    assert _cell(panel, B32, "Size") == "~605 MB"
    assert _cell(panel, B32, "ImageNet") == "63.3%"
    assert _cell(panel, B32, "Search recall") == "59.4%"
    assert _cell(panel, B32, "Languages") == "English"
    # every published figure names its source; the speed says where it was measured
    tip = _cell(panel, B32, "ImageNet", Qt.ItemDataRole.ToolTipRole)
    assert "OpenCLIP results table" in tip and "openclip_results.csv" in tip
    assert "Immich" in _cell(panel, B32, "Search recall", Qt.ItemDataRole.ToolTipRole)
    speed_tip = _cell(panel, B32, "Photos/s here", Qt.ItemDataRole.ToolTipRole)
    assert "Catalog CPU" in speed_tip and "scaled to this computer" in speed_tip
    assert _cell(panel, "laion-clip-vit-l-14", "Photos/s here") == "3.0"  # 1.5 x 2
    assert _cell(panel, "laion-clip-vit-h-14", "Photos/s here") == ""  # not measured
    assert _cell(panel, "siglip2-base-patch16-224", "ImageNet") == ""  # none published
    assert _cell(panel, "xlm-roberta-base-clip-vit-b-32", "Languages") == "36 languages"
    assert _cell(panel, "my-model", "Status") == "Installed"
    assert "scaled to this computer" in panel.speed_note.text()
    # a catalog model that is not installed is downloaded, not chosen
    panel.table.selectionModel().setCurrentIndex(
        panel.model.index(panel.model.row_of(B32), 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    assert panel.download_button.text() == "Download OpenAI ViT-B/32…"
    assert panel.selected() != B32


def test_the_probe_runs_once_and_off_the_gui_thread(qtbot, workers, monkeypatch):
    threads = []

    def timed(arch, **kwargs):
        threads.append(threading.current_thread())
        return speed.ArchSpeed(images_per_s=10.0, text_ms=32.0, iterations=2, params=0)

    monkeypatch.setattr(speed, "time_architecture", timed)
    first = ModelPanel(workers)
    qtbot.addWidget(first)
    assert "Measuring" not in first.speed_note.text()  # nothing measured before it is shown
    with qtbot.waitSignal(first.probed, timeout=30_000):
        first.show()
        assert "Measuring this computer's speed" in first.speed_note.text()
    assert threads and threads[0] is not threading.main_thread()
    qtbot.waitUntil(lambda: _cell(first, B32, "Photos/s here") == "10.0", timeout=10_000)
    first.close()
    second = ModelPanel(workers)  # measured once: the cached result serves the next picker
    qtbot.addWidget(second)
    second.show()
    qtbot.waitUntil(lambda: _cell(second, B32, "Photos/s here") == "10.0", timeout=10_000)
    qtbot.waitUntil(lambda: workers.pending == 0, timeout=10_000)
    assert len(threads) == 1
    second.close()


def test_switching_models_says_how_long_re_embedding_takes_before_it_happens(
    qtbot, make_app, tiny_model, synth_photos, monkeypatch
):
    from clipdesk.common import config

    controller, window = make_app(tiny_model)
    add_and_index(qtbot, controller, synth_photos[0])
    tiny_random_model(paths.models_dir(), seed=5, name=B32)  # "downloaded": its catalog facts
    dialog = SettingsDialog(controller, window)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.models.probed, timeout=30_000):
        dialog.show()
    qtbot.waitUntil(lambda: _cell(dialog.models, B32, "Status") == "Installed", timeout=10_000)
    assert dialog.reembed_note.text() == ""  # the current model: nothing to say
    dialog.models.table.selectionModel().setCurrentIndex(
        dialog.models.model.index(dialog.models.model.row_of(B32), 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    assert dialog.models.selected() == B32
    qtbot.waitUntil(lambda: "embeds" in dialog.reembed_note.text(), timeout=30_000)
    note = dialog.reembed_note.text()
    assert f"Switching to {B32} embeds 24 photos again" in note
    assert "about a minute or less on this computer (~40.0 photos/s)" in note

    asked = []
    answer = [QMessageBox.StandardButton.No]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: (asked.append(a[2]), answer[0])[1])
    dialog.accept()  # declined: nothing changes, the dialog stays open
    assert asked and asked[0].startswith(note) and asked[0].endswith(f"Switch to {B32}?")
    assert dialog.isVisible() and config.load().model == str(tiny_model)
    answer[0] = QMessageBox.StandardButton.Yes
    with qtbot.waitSignal(controller.modelReady, timeout=60_000):
        dialog.accept()
    assert len(asked) == 2 and not dialog.isVisible()
    assert config.load().model == B32
    qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=120_000)
