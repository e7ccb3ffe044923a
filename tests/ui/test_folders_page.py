"""Folders: adding one indexes it and the grid fills; counts, errors with reasons, pause/resume."""

from __future__ import annotations

import shutil

import pytest

from clipdesk.ui.folders_page import FolderTableModel
from clipdesk.ui.rows import FolderRow
from tests.ui.conftest import wait_idle

pytestmark = pytest.mark.usefixtures("no_leaks")


def test_folder_model_passes_qtmodeltester(qtmodeltester):
    model = FolderTableModel()
    qtmodeltester.check(model, force_py=True)
    model.set_rows(
        [
            FolderRow(1, "/a", "ok", None, 10, 8, 1, 1),
            FolderRow(2, "/b", "offline", "drive not connected", 3, 3, 0, 0),
        ]
    )
    model.set_rows([])


def test_adding_a_folder_indexes_it_and_the_grid_updates(
    qtbot, make_app, tiny_model, synth_photos, tmp_path
):
    root, photos = synth_photos
    folder = tmp_path / "holiday"
    shutil.copytree(root, folder)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    controller, window = make_app(tiny_model)
    assert window.search.grid.photos.rowCount() == 0
    progress = []
    controller.jobs.progress.connect(progress.append)
    with qtbot.waitSignal(controller.jobs.finished, timeout=120_000):
        window.folders.controller.add_folder(str(folder))
    wait_idle(qtbot, controller)
    qtbot.waitUntil(lambda: window.search.grid.photos.rowCount() == len(photos), timeout=30_000)
    assert progress and progress[-1].done == progress[-1].total
    qtbot.waitUntil(lambda: window.folders.model.rowCount() == 1, timeout=10_000)
    row = window.folders.model.folder(0)
    assert (row.total, row.indexed, row.errors) == (len(photos) + 1, len(photos), 1)
    errors = []
    controller.call(lambda b, _t: b.folder_errors(row.id), errors.extend)
    qtbot.waitUntil(lambda: bool(errors), timeout=10_000)
    assert errors[0][0].endswith("broken.jpg") and errors[0][1]


def test_pause_stops_indexing_and_resume_finishes(
    qtbot, make_app, tiny_model, synth_photos, tmp_path
):
    root, photos = synth_photos
    folder = tmp_path / "more"
    shutil.copytree(root, folder)
    controller, window = make_app(tiny_model)
    window.folders.pause_button.setChecked(True)
    assert controller.jobs.paused
    controller.add_folder(str(folder))
    wait_idle(qtbot, controller)
    assert window.search.grid.photos.rowCount() == 0 or controller.jobs.paused
    with qtbot.waitSignal(controller.jobs.finished, timeout=120_000):
        window.folders.pause_button.setChecked(False)
    wait_idle(qtbot, controller)
    qtbot.waitUntil(lambda: window.search.grid.photos.rowCount() == len(photos), timeout=30_000)


@pytest.mark.parametrize("case", ["missing", "a file", "inside a watched folder"])
def test_app_and_cli_refuse_the_same_bad_folder_with_the_same_words(
    qtbot, make_app, tiny_model, tmp_path, capsys, case
):
    """Both faces add folders through FolderService: one check, one message, one hint."""
    from clipdesk.cli import main

    watched = tmp_path / "watched"
    (watched / "inner").mkdir(parents=True)
    (watched / "note.txt").write_text("not a folder")
    library = tmp_path / "library.sqlite3"
    bad = {
        "missing": tmp_path / "nope",
        "a file": watched / "note.txt",
        "inside a watched folder": watched / "inner",
    }[case]
    controller, _window = make_app(tiny_model, library=library)
    if case == "inside a watched folder":
        with qtbot.waitSignal(controller.jobs.finished, timeout=120_000):
            controller.add_folder(str(watched))
        wait_idle(qtbot, controller)
    with qtbot.waitSignal(controller.errorRaised, timeout=10_000) as shown:
        controller.add_folder(str(bad))
    app_message, app_hint = shown.args

    code = main(["--library", str(library), "folders", "add", str(bad)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.splitlines()[0] == f"error: {app_message}" and str(bad) in app_message
    if app_hint:
        assert f"hint: {app_hint}" in err.splitlines()
    rows = []
    controller.call(lambda b, _t: b.folders(), rows.extend)
    qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=10_000)
    assert [r.path for r in rows] == ([str(watched)] if case == "inside a watched folder" else [])
