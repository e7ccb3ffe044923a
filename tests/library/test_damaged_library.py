"""A damaged library file is reported as "the library is damaged: ..." with what to do, whatever
part of it the damage hit: a value, the schema's text, a column's name, a stored JSON value."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from clipdesk.library.errors import LibraryCorruptError, translate
from clipdesk.library.health import library_file_health
from clipdesk.library.records import FileFacts
from clipdesk.library.store import Library
from clipdesk.tags.store.tag_store import TagStore


def make_library(tmp_path: Path, photos: int = 5) -> Path:
    """A library with photos and the starter categories, every change checkpointed into the
    main file (so bytes can be changed in it)."""
    path = tmp_path / "lib.sqlite3"
    root = tmp_path / "photos"
    with Library(path) as lib:
        folder = lib.add_folder(root)
        lib.add_or_update_photos(
            folder.id,
            [FileFacts(root / f"p{i}.jpg", 100 + i, 1, "jpeg", f"h{i}") for i in range(photos)],
        )
        TagStore(lib).categories()  # installs the starter categories
        lib.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def change_schema(path: Path, sql: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA writable_schema=ON")
    conn.execute(sql)
    conn.commit()
    conn.close()


def assert_damaged(err: pytest.ExceptionInfo[LibraryCorruptError]) -> None:
    assert "is damaged: " in err.value.message
    assert err.value.hint and "backup" in err.value.hint and "clipdesk-cli" not in err.value.hint
    assert err.value.cli_hint and "clipdesk-cli doctor" in err.value.cli_hint


def test_a_value_that_is_not_utf8_is_damage_not_a_bug(tmp_path):
    raw = sqlite3.OperationalError(
        "Could not decode to UTF-8 column 'path' with text '/photos/locked/readonly/caf\ufffd'"
    )
    mapped = translate(raw, tmp_path / "lib.sqlite3")
    # The quoted value says "locked" and "readonly": it is still damage.
    assert isinstance(mapped, LibraryCorruptError)
    assert "damaged" in mapped.message and "doctor" in (mapped.cli_hint or "")


def test_schema_text_that_is_not_utf8_is_damage(tmp_path):
    path = make_library(tmp_path)
    data = bytearray(path.read_bytes())
    at = data.find(b"sqlite_autoindex_labels_1")
    assert at > 0
    data[at + 20] |= 0x80  # an invalid UTF-8 byte in the schema record's name
    path.write_bytes(bytes(data))
    with pytest.raises(LibraryCorruptError) as err:
        Library(path).photos()
    assert_damaged(err)


def test_a_renamed_column_is_damage(tmp_path):
    path = make_library(tmp_path)
    change_schema(
        path,
        "UPDATE sqlite_master SET sql = replace(sql, '\"path\"', '\"pbth\"') WHERE name = 'photos'",
    )
    with pytest.raises(LibraryCorruptError) as err, Library(path) as lib:
        lib.photos()
    assert_damaged(err)
    assert "'photos'" in err.value.message and "'path'" in err.value.message


def test_a_query_for_a_column_that_never_existed_stays_a_bug(tmp_path):
    with Library(make_library(tmp_path)) as lib, pytest.raises(sqlite3.OperationalError):
        lib.query("SELECT no_such_column FROM photos")


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE categories SET templates = 'Z' || substr(templates, 2) WHERE name = 'Scene'",
        "UPDATE labels SET prompts = '[\"a' WHERE name = 'beach'",
        "UPDATE categories SET templates = '42' WHERE name = 'Scene'",
    ],
    ids=["templates", "prompts", "not-a-list"],
)
def test_a_damaged_stored_category_is_damage(tmp_path, sql):
    path = make_library(tmp_path)
    conn = sqlite3.connect(path)
    conn.execute(sql)
    conn.commit()
    conn.close()
    with Library(path) as lib, pytest.raises(LibraryCorruptError) as err:
        TagStore(lib).categories()
    assert_damaged(err)
    assert "not" in err.value.message and "JSON" in err.value.message


def test_a_damaged_setting_is_damage(tmp_path):
    path = make_library(tmp_path)
    with Library(path) as lib:
        lib.set_setting("some.key", {"a": 1})
        lib.connection().execute("UPDATE settings SET value = '{\"a\": ' WHERE key = 'some.key'")
        with pytest.raises(LibraryCorruptError) as err:
            lib.get_setting("some.key")
    assert_damaged(err)


def test_doctor_describes_a_schema_that_is_not_utf8(tmp_path):
    path = make_library(tmp_path)
    data = bytearray(path.read_bytes())
    data[data.find(b"sqlite_autoindex_labels_1") + 20] |= 0x80
    path.write_bytes(bytes(data))
    section = library_file_health(path)
    assert section["status"] == "fail" and "damaged" in str(section["error"])
