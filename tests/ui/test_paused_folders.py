"""While indexing is paused the Folders page still counts what waits (issue #14, item 15): a
folder added, or new files arriving in a watched one, show as waiting, never "Up to date"."""

from __future__ import annotations

import shutil

import pytest

from tests.ui.conftest import add_and_index, wait_idle

pytestmark = pytest.mark.usefixtures("no_leaks")


def state_of(window, row: int = 0) -> str:
    model = window.folders.model
    return model.data(model.index(row, 5))


def test_a_paused_folder_counts_its_new_files_instead_of_saying_up_to_date(
    qtbot, make_app, tiny_model, synth_photos, tmp_path
):
    from clipdesk.services.app import ClipDeskServices

    root, photos = synth_photos
    files = sorted(p.path for p in photos)
    watched, added = tmp_path / "watched", tmp_path / "added"
    watched.mkdir()
    for path in files[:6]:
        shutil.copy(path, watched / path.name)
    with ClipDeskServices(tmp_path / "library.sqlite3", model=str(tiny_model)) as services:
        services.folders.add(watched, scan=False)  # watched from the app's start
    controller, window = make_app(tiny_model)
    model = window.folders.model
    qtbot.waitUntil(lambda: model.rowCount() == 1 and model.folder(0).indexed == 6, timeout=60_000)
    wait_idle(qtbot, controller)
    assert state_of(window) == "Up to date"

    window.folders.pause_button.setChecked(True)
    wait_idle(qtbot, controller)
    for path in files[6:11]:  # new files while paused: the watcher sees them, nothing embeds
        shutil.copy(path, watched / f"new-{path.name}")
    qtbot.waitUntil(lambda: model.folder(0).pending == 5, timeout=30_000)
    assert state_of(window) == "Paused: 5 waiting to be indexed"
    assert model.folder(0).indexed == 6

    added.mkdir()
    for path in files[11:15]:
        shutil.copy(path, added / path.name)
    controller.add_folder(str(added))  # added while paused: scanned and counted, not embedded
    qtbot.waitUntil(lambda: model.rowCount() == 2 and model.folder(0).pending == 4, timeout=30_000)
    assert state_of(window, 0) == "Paused: 4 waiting to be indexed"  # rows are by path
    assert model.folder(0).indexed == 0

    with qtbot.waitSignal(controller.jobs.finished, timeout=120_000):
        window.folders.pause_button.setChecked(False)
    wait_idle(qtbot, controller)
    qtbot.waitUntil(
        lambda: (model.folder(0).indexed, model.folder(1).indexed) == (4, 11), timeout=30_000
    )
    assert state_of(window, 0) == state_of(window, 1) == "Up to date"


def test_a_folder_indexed_before_the_pause_is_up_to_date(
    qtbot, make_app, tiny_model, synth_photos, tmp_path
):
    root, photos = synth_photos
    folder = tmp_path / "done"
    shutil.copytree(root, folder)
    controller, window = make_app(tiny_model)
    add_and_index(qtbot, controller, folder)
    window.folders.pause_button.setChecked(True)
    wait_idle(qtbot, controller)
    qtbot.waitUntil(lambda: window.folders.model.rowCount() == 1, timeout=10_000)
    assert state_of(window) == "Up to date"
    assert window.folders.progress_label.text() == "Indexing paused."
