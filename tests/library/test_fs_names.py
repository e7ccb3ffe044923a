"""File names that are not valid UTF-8 are stored as their own bytes and read back as the very
str that opens the file (issue 14.10); lookups, subtree ranges and moves treat them like any
other path, and the rows of ordinary paths are unaffected."""

from __future__ import annotations

import os
import re
from pathlib import Path

from clipdesk.common import fsnames
from clipdesk.library.records import FileFacts, PhotoStatus
from clipdesk.library.store import Library

LATIN1 = b"caf\xe9.webp"  # what an old camera or a Samba share writes for "café.webp"


def _facts(path: str, digest: str) -> FileFacts:
    return FileFacts(path=path, size=10, mtime_ns=1, kind="webp", content_hash=digest)


def _bytes_path(folder: Path, name: bytes) -> str:
    return os.fsdecode(os.path.join(os.fsencode(folder), name))


def test_a_non_utf8_name_round_trips_to_its_exact_bytes(tmp_path):
    folder = tmp_path / "pics"
    odd, plain = _bytes_path(folder, LATIN1), str(folder / "plain.jpg")
    with Library(tmp_path / "lib.sqlite3") as lib:
        f = lib.add_folder(folder)
        [(odd_id, _), (plain_id, _)] = lib.add_or_update_photos(
            f.id, [_facts(odd, "h1"), _facts(plain, "h2")]
        )
        photo = lib.photo(odd_id)
        assert photo is not None and os.fsencode(photo.path) == os.fsencode(folder) + b"/" + LATIN1
        assert lib.photo_by_path(odd).id == odd_id  # equality on the stored bytes
        assert set(lib.known_files(under=folder)) == {odd, plain}  # the subtree range
        assert set(lib.known_files(folder_id=f.id)) == {odd, plain}
        stored = lib.query(
            "SELECT hex(path) AS h, typeof(path) AS t FROM photos WHERE id = ?", (odd_id,)
        )
        assert stored[0]["t"] == "text" and bytes.fromhex(stored[0]["h"]).endswith(LATIN1)
        # the ordinary row is stored as it always was
        assert lib.photo(plain_id).path == Path(plain)
        assert lib.query("SELECT path FROM photos WHERE path = ?", (plain,))


def test_a_move_to_and_from_a_non_utf8_name_keeps_the_photo(tmp_path):
    folder = tmp_path / "pics"
    plain, odd = str(folder / "cafe.webp"), _bytes_path(folder, LATIN1)
    with Library(tmp_path / "lib.sqlite3") as lib:
        f = lib.add_folder(folder)
        [(pid, _)] = lib.add_or_update_photos(f.id, [_facts(plain, "h1")])
        lib.move_photo(pid, f.id, _facts(odd, "h1"))
        assert lib.photo_by_path(odd).id == pid and lib.photo_by_path(plain) is None
        [(again, change)] = lib.add_or_update_photos(f.id, [_facts(odd, "h1")])
        assert (again, change) == (pid, "same")
        lib.move_photo(pid, f.id, _facts(plain, "h1"))
        assert lib.photo_by_path(plain).id == pid


def test_a_folder_whose_own_name_is_not_utf8(tmp_path):
    folder = Path(_bytes_path(tmp_path, b"F\xf6rien"))  # Latin-1 "Förien"
    inside = str(folder / "a.jpg")
    with Library(tmp_path / "lib.sqlite3") as lib:
        f = lib.add_folder(folder)
        assert lib.folder(folder).id == f.id and lib.folders()[0].path == folder
        lib.add_or_update_photos(f.id, [_facts(inside, "h1")])
        assert set(lib.known_files(under=folder)) == {inside}
        assert lib.folder_for_path(inside).id == f.id


def test_text_that_is_not_utf8_in_any_column_reads_instead_of_failing(tmp_path):
    """A byte-flipped library used to fail whole queries ("Could not decode to UTF-8")."""
    with Library(tmp_path / "lib.sqlite3") as lib:
        f = lib.add_folder(tmp_path / "pics")
        [(pid, _)] = lib.add_or_update_photos(f.id, [_facts(str(tmp_path / "pics/a.jpg"), "h")])
        with lib.transaction() as conn:
            conn.execute(
                "UPDATE photos SET camera_make = CAST(? AS TEXT) WHERE id = ?", (b"N\xffkon", pid)
            )
        photo = lib.photo(pid)
        assert photo is not None and photo.status is PhotoStatus.PENDING
        assert photo.camera_make == "N\udcffkon"


def test_shown_replaces_only_what_is_not_utf8():
    odd = os.fsdecode(b"/p/caf\xe9 \xc3\xa9t\xc3\xa9.webp")  # one Latin-1 byte, then real UTF-8
    assert fsnames.shown(odd) == "/p/caf\ufffd été.webp"
    assert fsnames.shown("/p/été.jpg") == "/p/été.jpg"
    assert fsnames.file_url(odd) == "file:///p/caf%E9%20%C3%A9t%C3%A9.webp"


def test_every_path_parameter_in_the_librarys_sql_is_cast_from_the_file_names_bytes():
    """A path bound as a plain ``?`` fails (UnicodeEncodeError) for a name that is not UTF-8:
    every comparison or assignment of ``path`` takes ``CAST(? AS TEXT)`` and ``sql_text``."""
    root = Path(__file__).parents[2] / "clipdesk"
    bare = re.compile(r"\bpath\s*(=|==|!=|<>|>=|<=|<|>)\s*\?")
    offenders = [
        f"{py.relative_to(root)}:{n}"
        for folder in ("library", "tags/store")
        for py in sorted((root / folder).glob("*.py"))
        for n, line in enumerate(py.read_text().splitlines(), 1)
        if bare.search(line)
    ]
    assert offenders == []


def test_a_plain_name_is_one_entry_of_its_folder_and_nothing_else():
    for name in ("model.onnx", "spiece.model", " ", "..hidden", os.fsdecode(LATIN1)):
        assert fsnames.is_plain_name(name), name
    for bad in ("", ".", "..", "../x", "a/b", "a\\b", "/etc/passwd", "x\0y", None, 3, b"x"):
        assert not fsnames.is_plain_name(bad), bad
