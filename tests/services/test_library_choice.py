"""The shared settings check a library path before saving it (issue 14.9), without creating or
changing anything; errors carry a hint for the app and one for the CLI."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from clipdesk.cli import main
from clipdesk.common import config
from clipdesk.common.errors import ClipDeskError
from clipdesk.library.store import Library
from clipdesk.services.settings import SettingsService


def _foreign(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE moz_places(id INTEGER PRIMARY KEY, url TEXT)")
    conn.commit()
    conn.close()
    return path


def test_a_new_file_or_a_library_is_accepted_and_nothing_is_created(tmp_path):
    shared = SettingsService()
    new = tmp_path / "not" / "yet" / "library.sqlite3"
    assert shared.check_library_path(new) == new
    assert not (tmp_path / "not").exists()
    Library(tmp_path / "mine.sqlite3").close()
    assert shared.set_library_path(tmp_path / "mine.sqlite3") == tmp_path / "mine.sqlite3"
    assert config.load().library == str(tmp_path / "mine.sqlite3")


def test_a_foreign_file_is_refused_unsaved_and_unchanged(tmp_path):
    shared = SettingsService()
    shared.set_library_path(tmp_path / "good.sqlite3")
    bad = _foreign(tmp_path / "places.sqlite")
    before = hashlib.sha256(bad.read_bytes()).hexdigest()
    with pytest.raises(ClipDeskError) as err:
        shared.set_library_path(bad)
    assert "not a ClipDesk library" in err.value.message
    assert "--library" not in (err.value.hint or "") and "--library" in (err.value.cli_hint or "")
    assert config.load().library == str(tmp_path / "good.sqlite3")
    assert hashlib.sha256(bad.read_bytes()).hexdigest() == before
    assert sorted(os.listdir(tmp_path)) == ["places.sqlite"]


def test_a_locked_library_is_refused(tmp_path):
    path = tmp_path / "busy.sqlite3"
    Library(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(ClipDeskError, match="locked"):
            SettingsService().check_library_path(path)
    finally:
        holder.close()


def test_the_cli_keeps_naming_its_flag(tmp_path, capsys):
    bad = _foreign(tmp_path / "places.sqlite")
    assert main(["--library", str(bad), "status"]) == 1
    err = capsys.readouterr().err
    assert "not a ClipDesk library" in err and "hint: Point --library at" in err
