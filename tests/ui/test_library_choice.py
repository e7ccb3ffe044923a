"""Choosing the library in the app (issue 14.9): Settings checks a path before saving it, a start
that cannot open the saved library offers another one or a new one instead of a dead window, and
no message names the CLI's flags."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

from clipdesk.common import config
from clipdesk.ui.library_problem import LibraryProblemDialog
from clipdesk.ui.settings_dialog import SettingsDialog
from tests.ui.conftest import add_and_index

pytestmark = pytest.mark.usefixtures("no_leaks")


def _foreign(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE moz_places(id INTEGER PRIMARY KEY, url TEXT)")
    conn.commit()
    conn.close()
    return path


def _too_new(path: Path) -> Path:
    from clipdesk.library import schema

    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA application_id={schema.APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version={schema.latest_version() + 1}")
    conn.commit()
    conn.close()
    return path


def _problem_dialog() -> LibraryProblemDialog | None:
    found = [w for w in QApplication.topLevelWidgets() if isinstance(w, LibraryProblemDialog)]
    return found[0] if found else None


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("another program's database", "not a ClipDesk library"),
        ("a newer ClipDesk's library", "newer ClipDesk"),
        ("a locked library", "locked"),
        ("not a database at all", "not a ClipDesk library"),
    ],
)
def test_settings_refuses_a_library_it_cannot_use_and_keeps_the_old_one(
    qtbot, make_app, tiny_model, tmp_path, monkeypatch, case, reason
):
    controller, window = make_app(tiny_model)
    before = config.load().library
    target = tmp_path / "chosen.sqlite3"
    holder = None
    if case == "another program's database":
        _foreign(target)
    elif case == "a newer ClipDesk's library":
        _too_new(target)
    elif case == "not a database at all":
        target.write_bytes(b"\xff\xd8\xff\xe0 a photo, not a library" * 50)
    else:
        from clipdesk.library.store import Library

        Library(target).close()
        holder = sqlite3.connect(target, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another program writing, for longer than we wait
    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warned.append(a[2]))
    dialog = SettingsDialog(controller, window)
    qtbot.addWidget(dialog)
    dialog.library.setText(str(target))
    try:
        dialog.accept()
    finally:
        if holder is not None:
            holder.close()
    assert warned and reason in warned[0]
    assert "--" not in warned[0]  # no CLI flag in the app
    assert dialog.result() != QDialog.DialogCode.Accepted  # open, to choose again
    assert config.load().library == before
    assert controller.backend is not None and controller.backend.services.library_path != target
    qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=30_000)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores modes")
def test_settings_refuses_a_new_library_in_a_folder_it_cannot_write(
    qtbot, make_app, tiny_model, tmp_path, monkeypatch
):
    controller, window = make_app(tiny_model)
    locked = tmp_path / "readonly"
    locked.mkdir()
    locked.chmod(0o555)
    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warned.append(a[2]))
    dialog = SettingsDialog(controller, window)
    qtbot.addWidget(dialog)
    dialog.library.setText(str(locked / "library.sqlite3"))
    try:
        dialog.accept()
    finally:
        locked.chmod(0o755)
    assert warned and "read-only" in warned[0]
    assert not (locked / "library.sqlite3").exists()
    qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=30_000)


def test_a_start_that_cannot_open_the_saved_library_offers_a_new_one(
    qtbot, make_app, tiny_model, tmp_path
):
    bad = _foreign(tmp_path / "places.sqlite")
    controller, window = make_app(tiny_model, library=bad, start=False)
    with qtbot.waitSignal(controller.libraryFailed, timeout=30_000) as failed:
        controller.start()
    message, hint = failed.args
    assert "not a ClipDesk library" in message and "--library" not in message + hint
    qtbot.waitUntil(lambda: _problem_dialog() is not None, timeout=5_000)
    dialog = _problem_dialog()
    assert dialog is not None and dialog.isVisible()
    assert "No library open" in window._status_library.text()

    # a second bad choice is refused in the dialog, with its reason; nothing is saved
    assert not dialog.use(_too_new(tmp_path / "future.sqlite3"))
    assert "newer ClipDesk" in dialog.refusal.text() and "--" not in dialog.refusal.text()
    assert config.load().library == str(bad)

    fresh = tmp_path / "new" / "library.sqlite3"
    with qtbot.waitSignal(controller.libraryReady, timeout=30_000):
        assert dialog.use(fresh)
    assert config.load().library == str(fresh.resolve())
    assert controller.backend.services.library_path == fresh.resolve()
    qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=60_000)


def test_a_library_that_fails_to_reopen_leaves_no_stale_grid(
    qtbot, make_app, tiny_model, tmp_path, synth_photos
):
    root, _specs = synth_photos
    controller, window = make_app(tiny_model)
    add_and_index(qtbot, controller, root)
    window.search.refresh()
    qtbot.waitUntil(lambda: window.search.grid.photos.rowCount() > 0, timeout=30_000)
    bad = _foreign(tmp_path / "places.sqlite")
    config.update(library=str(bad))  # changed behind the app's back (another tool, a sync)
    with qtbot.waitSignal(controller.libraryFailed, timeout=30_000):
        controller.reopen_library()
    assert window.search.grid.photos.rowCount() == 0
    assert window.folders.model.rowCount() == 0
    assert "No library open" in window.search.summary.text()
    qtbot.waitUntil(lambda: _problem_dialog() is not None, timeout=5_000)
    qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=30_000)
