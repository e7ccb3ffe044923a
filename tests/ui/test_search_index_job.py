"""The app keeps a large library's approximate search index as a job of its own (issue #20, item
3): built after the index job when one is due, its progress on the indexing line, before the
text is read; stopped by an index job and built by the next; its threshold one Settings row,
kept in the library for the CLI too."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from clipdesk.common.errors import CancelledError
from clipdesk.services.app import ClipDeskServices
from tests.support.ann_library import THRESHOLD, vectors_library

pytestmark = pytest.mark.usefixtures("no_leaks")


def large_library(tmp_path: Path, model: Path, threshold: int | None = THRESHOLD) -> Path:
    """400 photos with vectors, past the test threshold (None: the automatic one)."""
    path = tmp_path / "library.sqlite3"
    with ClipDeskServices(path, model=str(model), device="cpu") as app:
        vectors_library(app, tmp_path, {"pics": 400})
        app.ann.set_threshold(threshold)
    return path


def settled(qtbot, controller, timeout=60_000) -> None:
    qtbot.waitUntil(
        lambda: (
            not controller.jobs.running
            and not controller.ann_jobs.running
            and not controller.ocr_jobs.running
            and controller.workers.pending == 0
        ),
        timeout=timeout,
    )


def test_the_search_index_is_built_after_the_index_job_and_before_the_text(
    qtbot, make_app, tiny_model, tmp_path, monkeypatch
):
    library = large_library(tmp_path, tiny_model)
    from clipdesk.ui.controller import AppController

    order, lines, reports = [], [], []
    original = AppController.__init__

    def watched(self, *args, **kwargs):  # the start-up jobs start before make_app returns
        original(self, *args, **kwargs)
        self.jobs.started.connect(lambda _n: order.append("index"))
        # each with whether the job before it was still running
        self.ann_jobs.started.connect(lambda _n: order.append(("search index", self.jobs.running)))
        self.ann_jobs.progress.connect(lambda _p: lines.append(self.index_state))
        self.ann_jobs.finished.connect(reports.append)
        self.ocr_jobs.started.connect(lambda _n: order.append(("text", self.ann_jobs.running)))

    monkeypatch.setattr(AppController, "__init__", watched)
    controller, _window = make_app(tiny_model, library=library)
    qtbot.waitUntil(lambda: bool(reports), timeout=60_000)
    settled(qtbot, controller)
    assert order[:3] == ["index", ("search index", False), ("text", False)]
    assert [r.action for r in reports] == ["built"]
    assert any(line.startswith("Adding photos to the search index ") for line in lines)
    services = controller.backend.services
    assert services.searcher().ann is not None and services.ann.status().built == 400
    assert not controller.index_state.startswith("Adding")  # the line is the index's again


def test_an_index_job_stops_the_build_and_the_next_one_finishes_it(
    qtbot, make_app, tiny_model, tmp_path, monkeypatch
):
    from clipdesk.services import ann as ann_service

    library = large_library(tmp_path, tiny_model, threshold=None)  # nothing due at start
    controller, _window = make_app(tiny_model, library=library)
    settled(qtbot, controller)
    real = ann_service._train_and_fill
    building, idle = threading.Event(), threading.Event()

    def slow(lib, model_id, dim, progress, cancel):
        building.set()
        while not cancel.cancelled:  # a long build, cancellable between its chunks
            idle.wait(0.01)
        raise CancelledError("cancelled")

    monkeypatch.setattr(ann_service, "_train_and_fill", slow)
    stopped, reports = [], []
    controller.ann_jobs.stopped.connect(lambda: stopped.append(controller.jobs.running))
    controller.ann_jobs.finished.connect(reports.append)
    controller.set_ann_threshold(THRESHOLD)
    qtbot.waitUntil(building.is_set, timeout=30_000)
    monkeypatch.setattr(ann_service, "_train_and_fill", real)
    controller.index_now()
    qtbot.waitUntil(lambda: bool(stopped), timeout=30_000)
    assert stopped == [True]  # the index job went first
    qtbot.waitUntil(lambda: any(r.action == "built" for r in reports), timeout=60_000)
    settled(qtbot, controller)
    assert controller.backend.services.searcher().ann is not None


def test_the_settings_row_sets_the_librarys_threshold(qtbot, make_app, tiny_model, tmp_path):
    from clipdesk.ui.settings_dialog import SettingsDialog

    library = large_library(tmp_path, tiny_model, threshold=None)
    controller, window = make_app(tiny_model, library=library)
    settled(qtbot, controller)
    dialog = SettingsDialog(controller, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(dialog.ann_threshold.isEnabled, timeout=30_000)
    assert dialog.ann_threshold.value() == 0  # automatic
    assert dialog.ann_threshold.specialValueText().startswith("Automatic (")
    assert dialog.ann_note.text().startswith("Exact search of 400 photos")
    dialog.ann_threshold.setValue(THRESHOLD)
    with qtbot.waitSignal(controller.ann_jobs.finished, timeout=60_000) as done:
        dialog.accept()
    assert done.args[0].action == "built"
    settled(qtbot, controller)
    with ClipDeskServices(library, model=str(tiny_model)) as cli_side:  # what the CLI reads
        assert cli_side.ann.threshold_setting() == THRESHOLD
