"""The app reads the text in photos as a job of its own (issue #17, item 1): after each index job,
with its own progress line and rate, stopped by any index job and by a pause, switched in
Settings (kept in the library, for the CLI too) and per folder on the Folders page; quitting
mid-photo does not wait for the photo."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import Qt

from tests.support.text_photos import StemReader, made_by_services, text_folder

pytestmark = pytest.mark.usefixtures("no_leaks", "reading_text")


def wait_read(qtbot, controller, timeout=60_000) -> None:
    """Until the index and text jobs are over and everything is delivered."""
    qtbot.waitUntil(
        lambda: (
            not controller.jobs.running
            and not controller.ocr_jobs.running
            and controller.workers.pending == 0
        ),
        timeout=timeout,
    )


def test_the_text_is_read_after_the_index_job_with_its_own_progress_and_rate(
    qtbot, make_app, tiny_model, tmp_path
):
    text_folder(tmp_path / "signs", ["BAKERY OPEN", "HARBOUR BRIDGE"])
    controller, window = make_app(tiny_model)
    wait_read(qtbot, controller)  # the start-up jobs, with nothing to do
    services = controller.backend.services
    starts, lines, bars, reports = [], [], [], []
    controller.ocr_jobs.started.connect(  # (an index job running, photos left to embed)
        lambda _n: starts.append((controller.jobs.running, services.pending_count()))
    )
    controller.ocr_jobs.progress.connect(lambda _p: lines.append(controller.ocr_state))
    controller.ocr_jobs.progress.connect(
        lambda _p: bars.append(not window.folders.ocr_progress.isHidden())  # page not shown
    )
    controller.ocr_jobs.finished.connect(reports.append)
    controller.add_folder(str(tmp_path / "signs"))  # the real engine reads them
    qtbot.waitUntil(lambda: bool(reports), timeout=120_000)
    wait_read(qtbot, controller)
    assert starts == [(False, 0)]  # search first: the text once every photo is embedded
    assert lines[-1].startswith("Reading text 2/2 · ") and "photos/s" in lines[-1]
    assert bars and all(bars)
    assert [(r.read, r.failed) for r in reports] == [(2, 0)]
    assert controller.ocr_state == "" and window.folders.ocr_progress.isHidden()
    lib = services.library
    assert {lib.photo(int(i)).path.name for i in lib.match_words(["bridge"]).ids} == {"card-1.jpg"}


def test_an_index_job_stops_the_reading_which_starts_again_after_it(
    qtbot, make_app, tiny_model, tmp_path, monkeypatch
):
    gate = threading.Event()
    reader = made_by_services(monkeypatch, StemReader(gate=gate))
    text_folder(tmp_path / "first", ["one", "two"])
    text_folder(tmp_path / "second", ["three"])
    controller, window = make_app(tiny_model)
    wait_read(qtbot, controller)
    stopped = []
    controller.ocr_jobs.stopped.connect(lambda: stopped.append(controller.jobs.running))
    controller.add_folder(str(tmp_path / "first"))
    qtbot.waitUntil(reader.reading.is_set, timeout=120_000)  # reading the first photo
    controller.add_folder(str(tmp_path / "second"))  # a new index job goes first
    qtbot.waitUntil(lambda: bool(stopped), timeout=60_000)
    assert stopped == [True]
    gate.set()  # the photo being read is finished on the pass's thread, and not stored
    qtbot.waitUntil(lambda: controller.backend.services.ocr.backlog().done == 3, timeout=60_000)
    wait_read(qtbot, controller)
    assert controller.backend.services.ocr.backlog().waiting == 0
    # the photo the index job interrupted was read again by the next pass: 3 photos, 4 reads
    assert len(reader.read_paths) == 4 and len(set(reader.read_paths)) == 3


def test_pausing_the_reading_stops_it_and_resuming_finishes_it(
    qtbot, make_app, tiny_model, tmp_path, monkeypatch
):
    gate = threading.Event()
    reader = made_by_services(monkeypatch, StemReader(gate=gate))
    text_folder(tmp_path / "cards", ["a", "b"])
    controller, window = make_app(tiny_model)
    wait_read(qtbot, controller)
    page = window.folders
    controller.add_folder(str(tmp_path / "cards"))
    qtbot.waitUntil(reader.reading.is_set, timeout=120_000)
    page.ocr_pause_button.setChecked(True)
    assert not controller.ocr_jobs.running and page.ocr_pause_button.text() == "Resume reading text"
    assert page.ocr_label.text() == "Reading text paused" == window._status_ocr.text()
    gate.set()
    wait_read(qtbot, controller)
    controller.index_now()  # an index job while paused: the reading stays paused after it
    wait_read(qtbot, controller)
    services = controller.backend.services
    assert services.ocr.backlog().waiting == 2 and page.ocr_label.text() == "Reading text paused"
    with qtbot.waitSignal(controller.ocr_jobs.finished, timeout=60_000):
        page.ocr_pause_button.setChecked(False)
    wait_read(qtbot, controller)
    assert services.ocr.backlog().waiting == 0 and services.ocr.backlog().done == 2


def test_the_settings_switch_is_kept_in_the_library_and_stops_the_reading(
    qtbot, make_app, tiny_model, tmp_path, monkeypatch
):
    from clipdesk.services.app import ClipDeskServices
    from clipdesk.ui.settings_dialog import SettingsDialog

    reader = made_by_services(monkeypatch, StemReader())
    controller, window = make_app(tiny_model)
    wait_read(qtbot, controller)
    dialog = SettingsDialog(controller, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(dialog.read_text.isEnabled, timeout=30_000)
    assert dialog.read_text.isChecked()  # on by default
    dialog.read_text.setChecked(False)
    dialog.accept()
    wait_read(qtbot, controller)
    with ClipDeskServices(controller.backend.services.library_path) as other:  # the CLI's view
        assert not other.ocr.enabled

    text_folder(tmp_path / "cards", ["c"])
    controller.add_folder(str(tmp_path / "cards"))
    off = "Reading text is off (1 photo waiting)"
    qtbot.waitUntil(lambda: controller.ocr_state == off, timeout=120_000)
    wait_read(qtbot, controller)
    assert reader.read_paths == []

    again = SettingsDialog(controller, window)
    qtbot.addWidget(again)
    qtbot.waitUntil(again.read_text.isEnabled, timeout=30_000)
    assert not again.read_text.isChecked() and again.read_text_note.text() == off
    again.read_text.setChecked(True)
    with qtbot.waitSignal(controller.ocr_jobs.finished, timeout=60_000):
        again.accept()
    wait_read(qtbot, controller)
    assert len(reader.read_paths) == 1


def test_a_folder_s_read_text_switch_is_stored_and_leaves_its_photos_owed(
    qtbot, make_app, tiny_model, tmp_path, monkeypatch
):
    from clipdesk.ui.folders_page import READ_TEXT

    reader = made_by_services(monkeypatch, StemReader())
    text_folder(tmp_path / "kept", ["k"])
    text_folder(tmp_path / "left", ["l1", "l2"])
    controller, window = make_app(tiny_model)
    wait_read(qtbot, controller)
    page, model = window.folders, window.folders.model
    page.ocr_pause_button.setChecked(True)  # so that the switch comes before any reading
    for name in ("kept", "left"):
        with qtbot.waitSignal(controller.jobs.finished, timeout=120_000):
            controller.add_folder(str(tmp_path / name))
    qtbot.waitUntil(lambda: model.rowCount() == 2, timeout=30_000)
    cell = model.index(1, READ_TEXT)  # rows by path: "kept", "left"
    assert model.folder(1).path.endswith("left")
    assert model.flags(cell) & Qt.ItemFlag.ItemIsUserCheckable
    assert model.data(cell, Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    assert model.setData(cell, Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    assert model.data(cell, Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked  # at once
    services = controller.backend.services
    qtbot.waitUntil(lambda: not services.library.folder(str(tmp_path / "left")).ocr, timeout=30_000)
    with qtbot.waitSignal(controller.ocr_jobs.finished, timeout=60_000):
        page.ocr_pause_button.setChecked(False)
    wait_read(qtbot, controller)
    assert [p.parent.name for p in reader.read_paths] == ["kept"]
    assert services.ocr.backlog().off == 2
    assert controller.ocr_state == "Reading text: 2 photos in folders with text reading off"
    page.reload()
    qtbot.waitUntil(lambda: not model.folder(1).ocr, timeout=30_000)  # read back from the library


def test_quitting_while_a_photo_is_read_does_not_wait_for_it(
    qtbot, make_app, tiny_model, tmp_path, monkeypatch
):
    from clipdesk.library.store import Library

    gate = threading.Event()
    reader = made_by_services(monkeypatch, StemReader(gate=gate))
    text_folder(tmp_path / "cards", ["slow"])
    controller, window = make_app(tiny_model)
    wait_read(qtbot, controller)
    controller.add_folder(str(tmp_path / "cards"))
    qtbot.waitUntil(reader.reading.is_set, timeout=120_000)
    library = controller.backend.services.library_path
    window.close()
    began = time.monotonic()
    controller.shutdown()
    took = time.monotonic() - began
    assert took < 3.0, f"quitting took {took:.1f} s"  # far below the photo's 30 s
    assert controller.backend is None
    gate.set()  # the photo ends after the quit; nothing of it is written
    qtbot.waitUntil(
        lambda: not [t for t in threading.enumerate() if t.name == "clipdesk-ocr"], timeout=10_000
    )
    with Library(library) as reopened:
        count = reopened.count_ocr()
        assert (count.waiting, count.done) == (1, 0)  # still owed, for the next start
