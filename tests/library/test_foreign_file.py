"""A file that is not a ClipDesk library is refused without a byte of it changing (issue 14.8):
it is looked at read-only until it proves to be a library, so no journal-mode switch, no page
size, no -wal/-shm files beside it."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from clipdesk.library import schema
from clipdesk.library.errors import LibraryTooNewError, NotALibraryError
from clipdesk.library.store import Library


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _other_programs_file(path: Path, journal: str = "delete") -> Path:
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode={journal}")
    conn.execute("CREATE TABLE moz_places(id INTEGER PRIMARY KEY, url TEXT)")
    conn.executemany("INSERT INTO moz_places(url) VALUES(?)", [("https://a",), ("https://b",)])
    conn.commit()
    conn.close()
    return path


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_another_programs_database_is_refused_and_left_byte_for_byte(tmp_path, journal):
    db = _other_programs_file(tmp_path / "places.sqlite", journal)
    before, listing = _sha(db), sorted(os.listdir(tmp_path))

    with pytest.raises(NotALibraryError) as err:
        Library(db)

    assert _sha(db) == before
    assert sorted(os.listdir(tmp_path)) == listing  # no -wal, -shm or -journal left beside it
    assert "not a ClipDesk library" in err.value.message
    assert "--library" not in (err.value.hint or "")  # the app shows this hint
    assert "--library" in (err.value.cli_hint or "")  # the CLI still says which flag


def test_a_file_that_is_not_sqlite_is_refused_unchanged(tmp_path):
    photo = tmp_path / "holiday.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(4000))
    before = _sha(photo)
    with pytest.raises(NotALibraryError):
        Library(photo)
    assert _sha(photo) == before
    assert sorted(os.listdir(tmp_path)) == ["holiday.jpg"]


def test_a_library_from_a_newer_clipdesk_is_refused_unchanged(tmp_path):
    db = tmp_path / "future.sqlite3"
    conn = sqlite3.connect(db)  # rollback journal: opening it read-write would switch it to WAL
    conn.execute(f"PRAGMA application_id={schema.APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version={schema.latest_version() + 1}")
    conn.execute("CREATE TABLE photos(id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    before = _sha(db)
    with pytest.raises(LibraryTooNewError):
        Library(db)
    assert _sha(db) == before
    assert sorted(os.listdir(tmp_path)) == ["future.sqlite3"]


def test_a_new_library_still_in_its_write_ahead_log_opens(tmp_path):
    """Right after creation a library's tables and marks may live only in its -wal (a crash
    before the first checkpoint): the read-only look must read the log, not refuse the file."""
    lib = Library(tmp_path / "a.sqlite3")
    lib.add_folder(tmp_path)
    header = (tmp_path / "a.sqlite3").read_bytes()[:100]
    copy = tmp_path / "copy" / "b.sqlite3"
    copy.parent.mkdir()
    shutil.copyfile(tmp_path / "a.sqlite3", copy)
    shutil.copyfile(tmp_path / "a.sqlite3-wal", f"{copy}-wal")
    lib.close()
    assert int.from_bytes(header[68:72], "big") == 0  # the mark is not in the main file yet

    with Library(copy) as again:
        assert again.version == schema.latest_version()
        assert [f.path for f in again.folders()] == [tmp_path]


@pytest.mark.parametrize("content", [b"", None])
def test_an_empty_or_missing_file_becomes_a_new_library(tmp_path, content):
    path = tmp_path / "sub" / "library.sqlite3"
    if content is not None:
        path.parent.mkdir()
        path.write_bytes(content)
    with Library(path) as lib:
        assert lib.version == schema.latest_version()


def test_a_fifo_named_like_a_library_is_refused_at_once(tmp_path):
    fifo = tmp_path / "library.sqlite3"
    os.mkfifo(fifo)
    with pytest.raises(NotALibraryError, match="not a regular file"):
        Library(fifo, timeout=1)
