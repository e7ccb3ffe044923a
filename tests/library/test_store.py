"""The library store: transactions, known failures, photos, vectors, offline round trips."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from clipdesk.common.errors import LibraryError
from clipdesk.library.errors import (
    FolderError,
    LibraryCorruptError,
    LibraryDiskFullError,
    LibraryLockedError,
    LibraryReadOnlyError,
    NotALibraryError,
    translate,
)
from clipdesk.library.records import FileFacts, PhotoMeta, PhotoStatus
from clipdesk.library.store import Library


@pytest.fixture
def lib(tmp_path):
    with Library(tmp_path / "lib.sqlite3") as library:
        yield library


def facts(path: Path, content: str = "h", size: int = 10, mtime: int = 1) -> FileFacts:
    return FileFacts(
        path=path,
        size=size,
        mtime_ns=mtime,
        kind="jpeg",
        content_hash=content,
        meta=PhotoMeta(width=4, height=3),
    )


def add_photos(lib: Library, root: Path, n: int) -> list[int]:
    folder = lib.folder(root) or lib.add_folder(root)
    made = lib.add_or_update_photos(
        folder.id, [facts(root / f"p{i}.jpg", f"h{i}") for i in range(n)]
    )
    return [pid for pid, _ in made]


def test_default_path_comes_from_paths_module(monkeypatch, tmp_path):
    monkeypatch.setenv("CLIPDESK_LIBRARY", str(tmp_path / "x" / "chosen.sqlite3"))
    with Library() as library:
        assert library.path == tmp_path / "x" / "chosen.sqlite3"
        assert library.path.exists()


def test_transaction_rolls_back_everything_on_error(lib, tmp_path):
    add_photos(lib, tmp_path, 2)
    with pytest.raises(RuntimeError), lib.transaction() as conn:
        conn.execute("DELETE FROM photos")
        lib.set_setting("inner", 1)  # a nested transaction joins the outer one
        raise RuntimeError("fail half way")
    assert lib.counts()["pending"] == 2
    assert lib.get_setting("inner") is None


def test_nested_failure_rolls_back_only_the_inner_part(lib):
    with lib.transaction():
        lib.set_setting("outer", 1)
        with pytest.raises(ValueError), lib.transaction():
            lib.set_setting("inner", 2)
            raise ValueError
    assert lib.get_setting("outer") == 1 and lib.get_setting("inner") is None


def test_locked_library_gives_a_clear_error_and_writes_nothing(tmp_path):
    path = tmp_path / "lib.sqlite3"
    Library(path).close()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with Library(path, timeout=0.1) as library:
        with pytest.raises(LibraryLockedError) as err:
            library.set_setting("k", 1)
        assert "locked" in err.value.message and err.value.hint
        other.execute("ROLLBACK")
        assert library.get_setting("k") is None
        library.set_setting("k", 2)  # usable again once the other writer is gone
        assert library.get_setting("k") == 2


def test_full_disk_rolls_back_and_says_so(lib, tmp_path):
    conn = lib.connection()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count={pages + 2}")
    folder = lib.add_folder(tmp_path)
    many = [facts(tmp_path / f"{i:05}-{'x' * 200}.jpg", f"h{i}") for i in range(2000)]
    with pytest.raises(LibraryDiskFullError) as err:
        lib.add_or_update_photos(folder.id, many)
    assert "full" in err.value.message
    assert sum(lib.counts().values()) == 0
    assert lib.integrity_check() == "ok"


def test_not_a_database(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are my holiday notes, not a database\n" * 100)
    with pytest.raises(NotALibraryError):
        Library(path)
    assert path.read_text().startswith("these are my holiday notes")


def test_corrupt_file_is_reported_as_damaged(tmp_path):
    path = tmp_path / "lib.sqlite3"
    with Library(path) as library:
        add_photos(library, tmp_path, 300)
        library.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(page, len(data), page):  # keep the header page, scramble the rest
        data[offset : offset + page] = os.urandom(page)
    path.write_bytes(bytes(data))
    with pytest.raises(LibraryError) as err:
        library = Library(path)
        library.counts()
        library.photos()
    assert isinstance(err.value, LibraryCorruptError | NotALibraryError)


def test_read_only_error_is_translated(tmp_path):
    path = tmp_path / "lib.sqlite3"
    Library(path).close()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.Error) as raw:
        conn.execute("INSERT INTO settings VALUES('a', '1')")
    mapped = translate(raw.value, path)
    assert isinstance(mapped, LibraryReadOnlyError) and mapped.hint


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores modes")
def test_read_only_file(tmp_path):
    path = tmp_path / "lib.sqlite3"
    Library(path).close()
    path.chmod(0o444)
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(LibraryError):
            Library(path).set_setting("k", 1)
    finally:
        tmp_path.chmod(0o755)


def test_bugs_are_not_disguised_as_library_errors(lib):
    with pytest.raises(sqlite3.OperationalError), lib.transaction() as conn:
        conn.execute("SELECT * FROM no_such_table")


def test_writes_from_many_threads_all_land(lib, tmp_path):
    folder = lib.add_folder(tmp_path)

    def work(t: int) -> None:
        for i in range(25):
            lib.add_or_update_photos(folder.id, [facts(tmp_path / f"t{t}-{i}.jpg", f"{t}-{i}")])

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert lib.counts()["pending"] == 100


def test_settings_hold_json(lib):
    lib.set_setting("device", {"kind": "cpu", "threads": [1, 2]})
    assert lib.get_setting("device") == {"kind": "cpu", "threads": [1, 2]}
    assert lib.get_setting("absent", 7) == 7
    lib.delete_setting("device")
    assert lib.get_setting("device") is None


def test_folders_nested_and_duplicates(lib, tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    inner = lib.add_folder(tmp_path / "a" / "b")
    add_photos(lib, tmp_path / "a" / "b", 2)
    with pytest.raises(FolderError):
        lib.add_folder(tmp_path / "a" / "b")
    outer = lib.add_folder(tmp_path / "a")  # absorbs the inner folder and its photos
    assert [f.path for f in lib.folders()] == [tmp_path / "a"]
    assert lib.folder(inner.id) is None
    assert {p.folder_id for p in lib.photos()} == {outer.id}
    with pytest.raises(FolderError):
        lib.add_folder(tmp_path / "a" / "b" / "c")
    assert lib.remove_folder(tmp_path / "a") == 2
    assert lib.photos() == []
    with pytest.raises(FolderError):
        lib.remove_folder(tmp_path / "a")


def test_pipeline_round_trip_and_stale_results_are_dropped(lib, tmp_path):
    ids = add_photos(lib, tmp_path, 3)
    work = lib.pending_photos("m1")
    assert [p.id for p in work] == ids
    # photo 2 changes on disk while being embedded
    lib.add_or_update_photos(work[1].folder_id, [facts(work[1].path, "new", size=11, mtime=5)])
    vecs = np.eye(2, 4, dtype=np.float32)
    stored = lib.store_embeddings("m1", [p.id for p in work[:2]], vecs, [p.stamp for p in work[:2]])
    assert stored == 1
    assert lib.mark_error(work[2].id, "truncated JPEG", work[2].stamp)
    assert [p.id for p in lib.pending_photos("m1")] == [ids[1]]
    assert lib.errors()[0].error == "truncated JPEG"
    got_ids, mat = lib.load_vectors("m1")
    assert got_ids.tolist() == [ids[0]] and mat.dtype == np.float32
    np.testing.assert_array_equal(mat[0], vecs[0])
    # a second model: every ok photo is pending for it, the first model's vectors stay
    assert [p.id for p in lib.pending_photos("m2")] == [ids[0], ids[1]]
    assert [p.id for p in lib.pending_photos("m2", limit=1, after_id=ids[0])] == [ids[1]]
    assert lib.count_pending("m2") == 2
    assert lib.embedding_models() == {"m1": 1}


def test_load_vectors_many_rows_in_id_order(lib, tmp_path):
    ids = add_photos(lib, tmp_path, 40_000 // 1000)
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((len(ids), 16)).astype(np.float32)
    lib.store_embeddings("m", ids[::-1], vecs[::-1])
    got_ids, mat = lib.load_vectors("m")
    assert got_ids.tolist() == ids
    np.testing.assert_array_equal(mat, vecs)
    sub_ids, sub = lib.vectors_for("m", [ids[3], ids[1]])
    assert sub_ids.tolist() == [ids[1], ids[3]]
    np.testing.assert_array_equal(sub, vecs[[1, 3]])
    empty_ids, empty = lib.load_vectors("unknown")
    assert empty_ids.shape == (0,) and empty.shape[0] == 0


def test_deleting_a_photo_deletes_its_vectors(lib, tmp_path):
    ids = add_photos(lib, tmp_path, 2)
    lib.store_embeddings("m", ids, np.ones((2, 4)))
    lib.delete_photos([ids[0]])
    assert lib.embedding_models() == {"m": 1}


def test_changed_content_drops_vectors_same_content_keeps_them(lib, tmp_path):
    ids = add_photos(lib, tmp_path, 2)
    lib.store_embeddings("m", ids, np.ones((2, 4)))
    folder_id = lib.photo(ids[0]).folder_id
    changes = lib.add_or_update_photos(
        folder_id,
        [
            facts(tmp_path / "p0.jpg", "h0", mtime=9),  # touched only
            facts(tmp_path / "p1.jpg", "other", mtime=9),  # edited
        ],
    )
    assert changes == [(ids[0], "same"), (ids[1], "changed")]
    assert lib.photo(ids[0]).status == PhotoStatus.OK
    assert lib.photo(ids[1]).status == PhotoStatus.PENDING
    assert lib.load_vectors("m")[0].tolist() == [ids[0]]


def test_offline_and_back_restores_every_status(lib, tmp_path):
    ids = add_photos(lib, tmp_path, 3)
    lib.store_embeddings("m", ids[:1], np.ones((1, 4)))
    lib.mark_error(ids[1], "bad")
    folder = lib.folder(tmp_path)
    before = {p.id: p.status for p in lib.photos()}
    assert lib.set_folder_offline(folder.id, "drive unplugged") == 3
    assert set(lib.counts().items()) >= {("offline", 3)}
    assert lib.folder(folder.id).status == "offline"
    assert lib.set_folder_online(folder.id) == 3
    assert {p.id: p.status for p in lib.photos()} == before
    assert lib.load_vectors("m")[0].tolist() == ids[:1]


def test_missing_then_moved_keeps_the_row_and_vector(lib, tmp_path):
    ids = add_photos(lib, tmp_path, 1)
    lib.store_embeddings("m", ids, np.ones((1, 4)))
    assert lib.mark_missing(ids) == 1
    assert lib.photo(ids[0]).status == PhotoStatus.MISSING
    assert lib.missing_by_hash(["h0"]) == {"h0": [(ids[0], str(tmp_path / "p0.jpg"))]}
    lib.move_photo(ids[0], lib.photo(ids[0]).folder_id, facts(tmp_path / "renamed.jpg", "h0"))
    moved = lib.photo_by_path(tmp_path / "renamed.jpg")
    assert moved.id == ids[0] and moved.status == PhotoStatus.OK
    assert lib.load_vectors("m")[0].tolist() == ids
    assert lib.purge_missing(0) == 0


def test_closed_library_refuses_use(tmp_path):
    library = Library(tmp_path / "lib.sqlite3")
    library.close()
    with pytest.raises(LibraryError):
        library.counts()


def test_a_finished_threads_connection_is_released(lib):
    def work() -> None:
        lib.set_setting("from-thread", True)

    for _ in range(5):
        t = threading.Thread(target=work)
        t.start()
        t.join()
    import gc

    gc.collect()
    assert len(lib._all) == 1  # only this thread's connection remains open
    assert lib.get_setting("from-thread") is True
