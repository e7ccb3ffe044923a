"""``library backup``: SQLite's online backup of the library in use, checked, written atomically."""

from __future__ import annotations

import os
import sqlite3
import threading
import time

import numpy as np
import pytest

from clipdesk.library.backup import BackupError, backup_library
from clipdesk.library.records import FileFacts
from clipdesk.library.store import Library


@pytest.fixture
def lib(tmp_path):
    with Library(tmp_path / "lib.sqlite3") as library:
        folder = library.add_folder(tmp_path / "photos")
        library.add_or_update_photos(folder.id, [_facts(tmp_path, i) for i in range(50)])
        yield library


def _facts(tmp_path, i):
    return FileFacts(tmp_path / "photos" / f"p{i}.jpg", 100 + i, i, "jpeg", f"{i:032x}")


def _counts(path):
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        photos = conn.execute("SELECT count(*) FROM photos").fetchone()[0]
        vectors = conn.execute("SELECT count(*) FROM embeddings").fetchone()[0]
        return photos, vectors
    finally:
        conn.close()


def test_a_backup_taken_while_another_connection_writes_is_one_consistent_library(lib, tmp_path):
    """The writer adds a photo and its vector in one transaction; a snapshot has both or
    neither, so every photo of a consistent copy has its vector."""
    stop = threading.Event()
    written = []

    def writer():
        with Library(lib.path) as other:  # another connection, as the app would be
            folder = other.folders()[0]
            i = 1000
            while not stop.is_set():
                with other.transaction():
                    [(pid, _)] = other.add_or_update_photos(folder.id, [_facts(tmp_path, i)])
                    other.store_embeddings("m", [pid], np.ones((1, 8), np.float32))
                written.append(i)
                i += 1

    with lib.transaction():  # the 50 photos of the fixture get vectors too
        ids = [p.id for p in lib.photos()]
        lib.store_embeddings("m", ids, np.ones((len(ids), 8), np.float32))
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20:
            time.sleep(0.01)
        copies = [backup_library(lib, tmp_path / f"backup{n}.sqlite3") for n in range(3)]
    finally:
        stop.set()
        thread.join(30)
    for copy in copies:
        photos, vectors = _counts(copy.path)
        assert photos == vectors == copy.photos and photos >= 70
        with Library(copy.path) as restored:  # opens as a ClipDesk library
            assert restored.counts()["pending"] == 0
    final = backup_library(lib, tmp_path / "final.sqlite3")
    assert _counts(final.path) == _counts(lib.path)
    assert not os.path.exists(str(final.path) + "-wal")  # one self-contained file


def test_the_live_library_and_an_existing_file_are_not_overwritten(lib, tmp_path):
    for target in (lib.path, str(lib.path) + "-wal", tmp_path / "." / "lib.sqlite3"):
        with pytest.raises(BackupError, match="library itself"):
            backup_library(lib, target, overwrite=True)
    os.symlink(lib.path, tmp_path / "link.sqlite3")
    with pytest.raises(BackupError, match="library itself"):
        backup_library(lib, tmp_path / "link.sqlite3", overwrite=True)
    (tmp_path / "old.sqlite3").write_bytes(b"yesterday's backup")
    with pytest.raises(BackupError, match="already exists") as refused:
        backup_library(lib, tmp_path / "old.sqlite3")
    assert "--overwrite" in refused.value.cli_hint and "--" not in refused.value.hint
    assert (tmp_path / "old.sqlite3").read_bytes() == b"yesterday's backup"
    backup_library(lib, tmp_path / "old.sqlite3", overwrite=True)
    assert _counts(tmp_path / "old.sqlite3") == (50, 0)
    with pytest.raises(BackupError, match="does not exist"):
        backup_library(lib, tmp_path / "no-such-dir" / "b.sqlite3")


def test_an_interrupted_backup_leaves_the_previous_one_and_no_temporary_file(
    lib, tmp_path, monkeypatch
):
    target = tmp_path / "nightly.sqlite3"
    backup_library(lib, target)
    before = target.read_bytes()
    with lib.transaction() as conn:
        conn.execute("DELETE FROM photos WHERE id % 2 = 0")

    def crash(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(BackupError, match="No space left"):
        backup_library(lib, target, overwrite=True)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if "nightly" in p.name) == [target.name]
