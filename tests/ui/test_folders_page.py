"""Folders: adding one indexes it and the grid fills; counts, errors with reasons, pause/resume."""

from __future__ import annotations

import os
import shutil

import pytest
from PySide6.QtCore import Qt

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


def test_problems_model_passes_qtmodeltester(qtmodeltester):
    from clipdesk.ui.folders_page import ProblemsModel
    from clipdesk.ui.rows import FolderProblem

    model = ProblemsModel()
    qtmodeltester.check(model, force_py=True)
    model.set_rows(
        [FolderProblem("a.jpg", "/a", "truncated", "/a/a.jpg"), FolderProblem("", "/b", "denied")]
    )
    qtmodeltester.check(model, force_py=True)


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
    assert errors[0].file == "broken.jpg" and errors[0].folder == str(folder) and errors[0].reason


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


def _problem_rows(dialog) -> list[tuple[str, str, str]]:
    model = dialog.table.model()
    return [
        tuple(model.index(r, c).data() for c in range(model.columnCount()))
        for r in range(model.rowCount())
    ]


def test_show_errors_lists_every_folders_files_with_their_reasons_without_a_selection(
    qtbot, make_app, tiny_model, synth_photos, tmp_path
):
    from clipdesk.ui.folders_page import ProblemsDialog

    root, _photos = synth_photos
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, bad in ((first, "broken.jpg"), (second, "nested/empty.png")):
        shutil.copytree(root / "misc", folder)
        (folder / bad).parent.mkdir(exist_ok=True)
        (folder / bad).write_bytes(b"\xff\xd8\xff\xe0 truncated" if bad.endswith("jpg") else b"")
    controller, window = make_app(tiny_model)
    for folder in (first, second):
        with qtbot.waitSignal(controller.jobs.finished, timeout=120_000):
            controller.add_folder(str(folder))
    wait_idle(qtbot, controller)
    page = window.folders
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=10_000)
    assert not page.table.currentIndex().isValid()  # nothing selected

    qtbot.mouseClick(page.errors_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.problems is not None and page.problems.isVisible(), timeout=10_000)
    dialog = page.problems
    assert isinstance(dialog, ProblemsDialog)
    rows = _problem_rows(dialog)
    assert [(file, folder) for file, folder, _reason in rows] == [
        ("broken.jpg", str(first)),
        (os.path.join("nested", "empty.png"), str(second)),
    ]
    assert all(reason for _f, _d, reason in rows)  # the reason in the list itself
    assert "2 files in your folders (2 folders) could not be read" in dialog.summary.text()

    page.table.doubleClicked.emit(page.model.index(1, 0))  # one folder's, by its row
    qtbot.waitUntil(lambda: len(_problem_rows(dialog)) == 1, timeout=10_000)
    assert _problem_rows(dialog)[0][1] == str(second)

    retried = []
    backend = controller.backend
    real = backend.retry_errors
    backend.retry_errors = lambda folder_id=None: retried.append(folder_id) or real(folder_id)
    page.table.setCurrentIndex(page.model.index(-1, -1))
    qtbot.mouseClick(page.retry_button, Qt.MouseButton.LeftButton)  # no selection: every folder
    qtbot.waitUntil(lambda: retried == [None], timeout=10_000)
    wait_idle(qtbot, controller)
    qtbot.waitUntil(lambda: [r.errors for r in page.model._rows] == [1, 1], timeout=30_000)
    dialog.close()


def test_a_folder_no_scan_has_finished_is_never_up_to_date(qtbot):
    from clipdesk.ui.folders_page import STATE, FolderTableModel

    model = FolderTableModel()
    model.set_rows([FolderRow(1, "/a", "ok", None, 0, 0, 0, 0, scanned=False)])
    assert model.data(model.index(0, STATE)) == "Not scanned yet"
    model.set_scanning(True)
    assert model.data(model.index(0, STATE)) == "Scanning…"
    model.set_rows([FolderRow(1, "/a", "ok", None, 128, 0, 128, 0, scanned=False)])
    assert model.data(model.index(0, STATE)) == "Scanning… 128 found so far"
    model.set_rows([FolderRow(1, "/a", "ok", None, 128, 128, 0, 0, scanned=True)])
    assert model.data(model.index(0, STATE)) == "Up to date"
