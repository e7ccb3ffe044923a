"""Counts are true from the first second of a run: the status bar and the folder's row follow
the photos as they arrive, and a folder no scan has finished yet never says "Up to date"."""

from __future__ import annotations

import shutil
import threading

import pytest

from tests.ui.conftest import wait_idle

pytestmark = pytest.mark.usefixtures("no_leaks")


def _state(window) -> str:
    model = window.folders.model
    return model.data(model.index(0, 5))


def test_the_counts_follow_a_run_before_it_ends(
    qtbot, make_app, tiny_model, synth_photos, tmp_path, monkeypatch
):
    """Held after its scan and again before its embedding: the scanned photos are counted in
    the status bar and the folder's row while the job still runs."""
    from clipdesk.common.progress import Progress
    from clipdesk.services.app import ClipDeskServices
    from clipdesk.services.folders import FolderService

    root, photos = synth_photos
    folder = tmp_path / "new"
    shutil.copytree(root, folder)
    scan_gate, index_gate = threading.Event(), threading.Event()
    real_scan, real_index = FolderService.scan, ClipDeskServices.index

    def held_scan(self, cancel=None, progress=None):
        scan_gate.wait(60)
        return real_scan(self, cancel=cancel, progress=progress)

    def held_index(self, progress=None, cancel=None, **options):
        # as the pipeline reports: every photo's step is a progress line
        progress(Progress(0, len(photos), message="Indexing"))
        index_gate.wait(60)
        return real_index(self, progress=progress, cancel=cancel, **options)

    monkeypatch.setattr(FolderService, "scan", held_scan)
    monkeypatch.setattr(ClipDeskServices, "index", held_index)
    controller, window = make_app(tiny_model, start=False)
    controller.start()
    qtbot.waitUntil(lambda: controller.jobs.running, timeout=60_000)  # the start's run
    scan_gate.set()
    qtbot.waitUntil(lambda: "Library: 0 photos" in window._status_library.text(), timeout=30_000)
    index_gate.set()
    wait_idle(qtbot, controller)

    scan_gate.clear()
    index_gate.clear()
    controller.add_folder(str(folder))
    qtbot.waitUntil(lambda: window.folders.model.rowCount() == 1, timeout=30_000)
    qtbot.waitUntil(lambda: controller.jobs.running, timeout=30_000)
    assert _state(window) == "Scanning…"  # not scanned yet, whatever its (zero) counts say
    assert window.folders.model.folder(0).total == 0
    scan_gate.set()  # the scan runs; the run then holds before embedding
    qtbot.waitUntil(
        lambda: f"Library: {len(photos)} photos" in window._status_library.text(),
        timeout=30_000,
    )
    qtbot.waitUntil(lambda: window.folders.model.folder(0).total == len(photos), timeout=30_000)
    assert controller.jobs.running  # all of it while the run still runs
    assert _state(window) == "Indexing"
    index_gate.set()
    wait_idle(qtbot, controller)
    qtbot.waitUntil(lambda: _state(window) == "Up to date", timeout=30_000)
