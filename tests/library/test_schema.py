"""Schema versions: creation, step-by-step migration, refusal of newer and foreign files."""

from __future__ import annotations

import sqlite3

import pytest

from clipdesk.library import schema
from clipdesk.library.errors import LibraryTooNewError, NotALibraryError
from clipdesk.library.store import Library


def test_new_library_is_at_latest_version_and_marked_as_ours(tmp_path):
    path = tmp_path / "lib.sqlite3"
    Library(path).close()
    conn = sqlite3.connect(path)
    assert schema.read_version(conn) == (schema.latest_version(), schema.APPLICATION_ID)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"folders", "photos", "embeddings", "settings"} <= tables
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_appended_migration_upgrades_an_older_library_keeping_its_data(tmp_path, monkeypatch):
    path = tmp_path / "lib.sqlite3"
    with Library(path) as lib:
        lib.set_setting("theme", "dark")
        folder = lib.add_folder(tmp_path)

    def _v2(db):
        db["notes"].create({"id": int, "folder_id": int, "text": str}, pk="id")
        db["folders"].transform(add_foreign_keys=[])  # a table rebuild under foreign keys
        db["folders"].add_column("colour", str)

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, _v2])
    with Library(path) as lib:
        assert lib.version == schema.latest_version()
        assert lib.get_setting("theme") == "dark"
        assert lib.folder(folder.id) is not None
        cols = {r[1] for r in lib.connection().execute("PRAGMA table_info(folders)")}
        assert "colour" in cols


def test_a_failing_migration_leaves_the_file_exactly_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "lib.sqlite3"
    with Library(path) as lib:
        lib.set_setting("kept", 1)

    def _v2_broken(db):
        db["half"].create({"id": int}, pk="id")
        db.execute("UPDATE settings SET value = '2'")
        raise RuntimeError("boom in the middle of a migration")

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, _v2_broken])
    with pytest.raises(RuntimeError, match="boom"):
        Library(path)
    monkeypatch.undo()
    conn = sqlite3.connect(path)
    assert schema.read_version(conn)[0] == schema.latest_version()
    assert conn.execute("SELECT value FROM settings").fetchone()[0] == "1"
    assert conn.execute("SELECT name FROM sqlite_master WHERE name='half'").fetchone() is None


def test_library_from_a_newer_clipdesk_is_refused_untouched(tmp_path):
    path = tmp_path / "lib.sqlite3"
    Library(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(LibraryTooNewError) as err:
        Library(path)
    assert "newer ClipDesk" in err.value.message and err.value.hint
    assert schema.read_version(sqlite3.connect(path))[0] == 99


def test_another_programs_database_is_not_taken_over(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance REAL)")
    conn.commit()
    conn.close()
    with pytest.raises(NotALibraryError):
        Library(path)
    tables = [r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")]
    assert tables == ["accounts"]


def test_a_v1_library_is_migrated_step_by_step_to_the_latest(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    assert schema.migrate(conn, target=1) == 1
    conn.execute("INSERT INTO folders(id, path, status, added_at) VALUES(1, '/p', 'ok', 0)")
    conn.execute(
        "INSERT INTO photos(id, folder_id, path, size, mtime_ns, status, added_at, updated_at) "
        "VALUES(7, 1, '/p/a.jpg', 10, 1, 'ok', 0, 0)"
    )
    conn.execute("INSERT INTO embeddings VALUES(7, 'm', 2, ?, 0)", (b"\x00" * 8,))
    conn.close()
    with Library(path) as lib:
        assert lib.version == schema.latest_version()
        assert lib.photo(7).path.as_posix() == "/p/a.jpg"
        assert lib.load_vectors("m")[0].tolist() == [7]
        assert lib.integrity_check() == "ok"
        fk = lib.connection().execute("PRAGMA foreign_key_check").fetchall()
        assert fk == []


def test_a_v4_library_gains_vector_runtimes_in_place_keeping_its_vectors(tmp_path):
    path = tmp_path / "v4.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    assert schema.migrate(conn, target=4) == 4
    conn.execute("INSERT INTO folders(id, path, status, added_at) VALUES(1, '/p', 'ok', 0)")
    for pid in (7, 8):
        conn.execute(
            "INSERT INTO photos(id, folder_id, path, size, mtime_ns, status, added_at, "
            "updated_at) VALUES(?, 1, ?, 10, 1, 'ok', 0, 0)",
            (pid, f"/p/{pid}.jpg"),
        )
        conn.execute(
            "INSERT INTO embeddings(photo_id, model_id, dim, vector, created_at) "
            "VALUES(?, 'm', 2, ?, 5)",
            (pid, bytes([pid]) * 8),
        )
    conn.close()
    with Library(path) as lib:
        assert lib.version == schema.latest_version()
        rows = lib.connection().execute(
            "SELECT photo_id, vector, created_at, runtime FROM embeddings ORDER BY photo_id"
        )
        assert [tuple(r) for r in rows] == [
            (7, bytes([7]) * 8, 5.0, None),  # NULL: made before runtimes were recorded
            (8, bytes([8]) * 8, 5.0, None),
        ]
        assert lib.vector_runtimes("m") == {"torch-fp32": 2}
        assert lib.integrity_check() == "ok"
        plan = lib.connection().execute(
            "EXPLAIN QUERY PLAN SELECT runtime, count(*) FROM embeddings WHERE model_id = ? "
            "GROUP BY runtime",
            ("m",),
        )
        assert "COVERING INDEX embeddings_model_runtime" in " ".join(r[3] for r in plan)


def _v5_library(path):
    """A v5 file as the code before words wrote it: a folder under a home directory, an indexed
    photo with keywords and tags, a pending one, one whose name is not UTF-8."""
    conn = sqlite3.connect(path, isolation_level=None)
    assert schema.migrate(conn, target=5) == 5
    conn.execute(
        "INSERT INTO folders(id, path, status, added_at) VALUES(1, '/home/ann/Pictures', 'ok', 0)"
    )
    photos = [
        (7, "/home/ann/Pictures/Trips 2019/astronaut.png", "ok"),
        (8, "/home/ann/Pictures/zürich.jpg", "pending"),
        (9, b"/home/ann/Pictures/caf\xe9.webp", "ok"),
    ]
    for pid, path, status in photos:
        conn.execute(
            "INSERT INTO photos(id, folder_id, path, size, mtime_ns, status, added_at, "
            "updated_at) VALUES(?, 1, CAST(? AS TEXT), 10, 1, ?, 0, 0)",
            (pid, path, status),
        )
    conn.execute("INSERT INTO embeddings VALUES(7, 'm', 2, ?, 0, NULL)", (b"\x00" * 8,))
    conn.execute(
        "INSERT INTO keyword_sources VALUES(7, 'hierarchy', 'Places|Moon Base', 'other', 0)"
    )
    conn.execute(
        "INSERT INTO categories(id, name, mode, threshold, templates, updated_at) "
        "VALUES(1, 'Things', 'multi', 0.5, '[]', 0)"
    )
    conn.execute("INSERT INTO labels(id, category_id, name) VALUES(1, 1, 'rocket'), (2, 1, 'dog')")
    conn.execute(
        "INSERT INTO photo_tags(photo_id, label_id, state, updated_at) "
        "VALUES(7, 1, 'confirmed', 0), (7, 2, 'suggested', 0)"
    )
    conn.close()


def test_a_v5_library_gains_its_words_index_filled_and_keeps_its_data(tmp_path):
    path = tmp_path / "v5.sqlite3"
    _v5_library(path)
    with Library(path) as lib:
        assert lib.version == schema.latest_version() == 8
        assert lib.photo(7).path.as_posix() == "/home/ann/Pictures/Trips 2019/astronaut.png"
        assert lib.load_vectors("m")[0].tolist() == [7]
        assert lib.folder(1).ocr is True  # on by default
        found = {w: lib.match_words([w]).ids.tolist() for w in ("astronaut", "trips", "moon")}
        assert found == {"astronaut": [7], "trips": [7], "moon": [7]}  # name, folder, keyword
        assert lib.match_words(["rocket"]).ids.tolist() == [7]  # confirmed
        assert lib.match_words(["dog"]).ids.tolist() == []  # only suggested
        assert lib.match_words(["zurich"]).ids.tolist() == [8]  # any status
        assert lib.match_words(["café"]).ids.tolist() == [9]  # its Latin-1 name
        assert sorted(lib.match_words(["pictures"]).ids.tolist()) == [7, 8, 9]
        assert lib.match_words(["ann"]).ids.tolist() == []  # above the watched folder
        steps = lib.query("SELECT photo_id, step, attempts FROM photo_steps ORDER BY 1, 2")
        assert [tuple(r) for r in steps] == [
            (7, "ocr", 0),
            (7, "xmp_marks", 0),  # v8's
            (7, "xmp_text", 0),
            (9, "ocr", 0),
            (9, "xmp_marks", 0),
            (9, "xmp_text", 0),
        ]  # indexed photos only
        assert lib.integrity_check() == "ok"
        assert lib.connection().execute("PRAGMA foreign_key_check").fetchall() == []
        # FTS5's own check of its index against its rows (raises when they disagree)
        lib.connection().execute(
            "INSERT INTO photo_words(photo_words, rank) VALUES('integrity-check', 1)"
        )


def test_the_schema_check_builds_the_words_index_without_a_library_connection():
    # schema_check migrates an in-memory database of its own to know the expected tables
    conn = sqlite3.connect(":memory:", isolation_level=None)
    assert schema.migrate(conn) == schema.latest_version()
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"photo_text", "photo_words"} <= tables
