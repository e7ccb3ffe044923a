"""File dialogs start in the user's Pictures folder (else their home), a library's dialogs in
the library's own folder - never the directory the app was started from."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from clipdesk.ui import start_dirs
from clipdesk.ui.rows import FolderRow

pytestmark = pytest.mark.usefixtures("no_leaks")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A home of its own, with a Pictures folder where the desktop says it is, and the app
    started from somewhere else."""
    home = tmp_path / "home"
    (home / "Bilder").mkdir(parents=True)
    (home / ".config").mkdir()
    (home / ".config" / "user-dirs.dirs").write_text('XDG_PICTURES_DIR="$HOME/Bilder"\n')
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return home


@pytest.fixture
def asked(monkeypatch) -> list[str]:
    """The directory (or proposed file) each file dialog is opened with; every one cancelled."""
    seen: list[str] = []

    def folder(_parent, _caption="", directory="", *_a, **_k) -> str:
        seen.append(directory)
        return ""

    def file(_parent, _caption="", directory="", *_a, **_k) -> tuple[str, str]:
        seen.append(directory)
        return "", ""

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", folder)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", file)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", file)
    return seen


def test_the_pictures_folder_is_the_desktops_and_home_stands_in_without_one(home):
    assert start_dirs.pictures_dir() == str(home / "Bilder")
    assert start_dirs.in_pictures("categories.json") == str(home / "Bilder" / "categories.json")
    (home / "Bilder").rmdir()
    assert start_dirs.pictures_dir() == str(home)


def test_every_photo_and_category_dialog_starts_in_pictures(
    qtbot, make_app, tiny_model, home, asked
):
    controller, window = make_app(tiny_model, start=False, welcome_done=False)
    pictures = str(home / "Bilder")
    window.welcome._add()
    window.folders.choose_folder()
    window.folders.model.set_rows([FolderRow(1, "/gone/Photos", "offline", None, 3, 3, 0, 0)])
    window.folders.table.setCurrentIndex(window.folders.model.index(0, 0))
    window.folders._relocate_selected()
    window.tags._import()
    window.tags._export()
    assert asked == [pictures] * 4 + [str(home / "Bilder" / "categories.json")]


def test_library_dialogs_start_in_the_librarys_folder(
    qtbot, make_app, tiny_model, home, asked, tmp_path
):
    from clipdesk.ui.library_problem import LibraryProblemDialog
    from clipdesk.ui.settings_dialog import SettingsDialog

    libraries = tmp_path / "libraries"
    libraries.mkdir()
    controller, window = make_app(tiny_model, library=libraries / "mine.sqlite3", start=False)
    problem = LibraryProblemDialog(controller, "It could not be opened.", "", window)
    problem._choose_existing()
    problem._choose_new()
    settings = SettingsDialog(controller, window)
    settings._choose_library()
    settings.library.setText(str(tmp_path / "gone" / "away.sqlite3"))  # its folder is gone
    settings._choose_library()
    assert asked == [
        str(libraries),
        str(libraries / "library.sqlite3"),
        str(libraries / "mine.sqlite3"),
        str(home / "Bilder" / "away.sqlite3"),
    ]
    problem.close()
    settings.close()
