"""Settings › Models: the table of installed and catalog models (size, speed on this computer,
published quality with its source, languages), the speed probe the first time it is shown (in a
worker, never alongside an index run, stopped when hidden), and the re-embedding time shown
before a switch is confirmed (counted on the database thread, any hashing in the jobs pool)."""

from __future__ import annotations

import json
import threading
import time

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QMessageBox

from clipdesk.common import paths
from clipdesk.model import checkpoint, manager, speed
from clipdesk.model.catalog import CATALOG
from clipdesk.model.testing import tiny_random_model
from clipdesk.services.models import ModelService
from clipdesk.ui.jobs import JobRunner
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


def _downloaded(name: str, seed: int = 5):
    """A tiny model installed as the download of catalog entry ``name`` records it."""
    folder = tiny_random_model(paths.models_dir(), seed=seed, name=name)
    meta = json.loads((folder / manager.META_FILE).read_text())
    meta.update(source="download", origin=f"https://huggingface.co/{CATALOG[name].repo_id}")
    (folder / manager.META_FILE).write_text(json.dumps(meta))
    return folder


def _select(panel: ModelPanel, name: str) -> None:
    panel.table.selectionModel().setCurrentIndex(
        panel.model.index(panel.model.row_of(name), 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )


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
    assert _cell(panel, "xlm-roberta-base-clip-vit-b-32", "Languages") == "Multilingual"
    # the model's own claim; the languages its figures were measured in are in the tooltip
    assert _cell(panel, "siglip2-base-patch16-224", "Languages") == "Multilingual"
    tip = _cell(panel, "siglip2-base-patch16-224", "Languages", Qt.ItemDataRole.ToolTipRole)
    assert "German 86.4%" in tip and "Chinese 64.4%" in tip
    assert _cell(panel, "my-model", "Status") == "Installed"
    assert "scaled to this computer" in panel.speed_note.text()
    # a catalog model that is not installed is downloaded, not chosen
    panel.table.selectionModel().setCurrentIndex(
        panel.model.index(panel.model.row_of(B32), 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    # with its size and the download's time here (no download measured yet: an assumed speed)
    assert (
        panel.download_button.text()
        == "Download OpenAI ViT-B/32 (~605 MB, about 1 min at 10 MB/s)…"
    )
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
    _downloaded(B32)  # its catalog facts (the speed) come from the origin its download recorded
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


def test_a_switch_whose_cost_cannot_be_counted_leaves_no_working_out_note(
    qtbot, make_app, tiny_model, monkeypatch
):
    """switch_cost has no answer for a model find_model cannot find (one given by path): the
    note must not keep saying the answer is being worked out."""
    controller, window = make_app(tiny_model)
    _downloaded(B32)
    monkeypatch.setattr(controller.backend, "switch_cost", lambda name: None)
    dialog = SettingsDialog(controller, window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.models.model.row_of(B32) >= 0, timeout=10_000)
    _select(dialog.models, B32)
    assert dialog.reembed_note.text().startswith(f"Working out what switching to {B32} takes")
    qtbot.waitUntil(lambda: dialog.reembed_note.text() == "", timeout=10_000)
    dialog.reject()
    qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=30_000)


def test_hiding_the_picker_stops_its_probe_and_caches_nothing(qtbot, workers, monkeypatch):
    started, stopped = threading.Event(), threading.Event()

    def timed(arch, *, cancel=None, **kwargs):  # a probe that runs until it is cancelled
        started.set()
        deadline = time.monotonic() + 30
        while not cancel.cancelled and time.monotonic() < deadline:
            time.sleep(0.01)  # the real one checks its token between timed batches
        stopped.set()
        cancel.raise_if_cancelled()
        return speed.ArchSpeed(images_per_s=1.0, text_ms=1.0, iterations=2, params=0)

    monkeypatch.setattr(speed, "time_architecture", timed)
    panel = ModelPanel(workers)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitUntil(started.is_set, timeout=10_000)
    panel.hide()  # the dialog closed
    qtbot.waitUntil(stopped.is_set, timeout=5_000)
    qtbot.waitUntil(lambda: workers.pending == 0, timeout=10_000)
    assert speed.cached_probe(ModelService().probe_device()) is None
    assert "Measuring" not in panel.speed_note.text()


def test_the_probe_waits_until_an_index_run_has_ended(qtbot, workers, monkeypatch):
    """Timed while photos are being embedded, this computer would look slow for good: the
    probe waits for the run, in the same one-thread pool so the two never overlap."""
    order: list[str] = []

    def timed(arch, **kwargs):
        order.append("probe")
        return speed.ArchSpeed(images_per_s=10.0, text_ms=32.0, iterations=2, params=0)

    monkeypatch.setattr(speed, "time_architecture", timed)
    jobs = JobRunner(workers)
    release = threading.Event()

    def index(report, token):
        release.wait(20)
        order.append("index")

    assert jobs.start("Indexing", index)
    panel = ModelPanel(workers, jobs=jobs)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitUntil(lambda: "once indexing is done" in panel.speed_note.text(), timeout=10_000)
    assert order == []
    with qtbot.waitSignal(panel.probed, timeout=30_000):
        release.set()
    assert order == ["index", "probe"]
    qtbot.waitUntil(lambda: _cell(panel, B32, "Photos/s here") == "20.0", timeout=10_000)
    panel.close()


def test_the_estimate_reads_weights_off_the_database_thread_and_closing_cancels_it(
    qtbot, make_app, tiny_model, synth_photos, monkeypatch
):
    """The library holds vectors under the chosen model's name (an earlier version of it):
    only the hash of its weights tells whether they are its own. That hashing runs in the jobs
    pool (the database thread stays free) and stops with the dialog."""
    controller, window = make_app(tiny_model)
    add_and_index(qtbot, controller, synth_photos[0])
    _downloaded(B32)
    library = controller.backend.services.library
    library.copy_embeddings(controller.model.id, f"{B32}@ffffffffffff")
    (paths.cache_dir() / "weight-hashes.json").unlink(missing_ok=True)
    reading, release = threading.Event(), threading.Event()
    real = checkpoint.weights_hash

    def slow(files, **kwargs):
        if files[0].parent.name == B32:
            reading.set()
            release.wait(30)
        return real(files, **kwargs)

    monkeypatch.setattr(checkpoint, "weights_hash", slow)
    dialog = SettingsDialog(controller, window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.models.model.row_of(B32) >= 0, timeout=10_000)
    _select(dialog.models, B32)
    qtbot.waitUntil(reading.is_set, timeout=30_000)
    counted = []
    controller.workers.run(controller.workers.db, lambda _t: "free", counted.append)
    qtbot.waitUntil(lambda: counted == ["free"], timeout=5_000)  # not behind the hashing
    assert f"Reading the weights of {B32}" in dialog.reembed_note.text()
    dialog.reject()
    release.set()
    qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=30_000)
    assert "embeds" not in dialog.reembed_note.text()  # the cancelled answer is dropped

    # The cancel reached the hashing itself, so no hash was kept: the next dialog reads again.
    again = SettingsDialog(controller, window)
    qtbot.addWidget(again)
    reading.clear()
    again.show()
    qtbot.waitUntil(lambda: again.models.model.row_of(B32) >= 0, timeout=10_000)
    _select(again.models, B32)
    qtbot.waitUntil(lambda: "embeds 24 photos again" in again.reembed_note.text(), timeout=30_000)
    assert reading.is_set()
    again.reject()
    qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=30_000)
