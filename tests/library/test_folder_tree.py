"""A folder filter down to a subfolder: photos counted per directory in one grouped query, and
a subfolder selected as a range of the path index - with names that are not UTF-8, names that
SQL's LIKE would take for wildcards, and a sibling that shares the subfolder's name as a prefix."""

from __future__ import annotations

import os
from pathlib import Path

from clipdesk.library.records import FileFacts
from clipdesk.library.store import Library

LATIN1 = b"\xe9t\xe9"  # "été" as an old camera or a Samba share writes it


def _facts(path: str, n: int) -> FileFacts:
    return FileFacts(path=path, size=10, mtime_ns=1, kind="jpeg", content_hash=f"{n:032x}")


def _library(tmp_path: Path) -> tuple[Library, int, dict[str, str]]:
    """A watched folder holding photos at several depths; {name: directory}."""
    root = tmp_path / "pics"
    dirs = {
        "root": str(root),
        "a": str(root / "a"),
        "a/b": str(root / "a" / "b"),
        "a/bc": str(root / "a" / "bc"),  # shares "a/b" as a prefix, is not inside it
        "a/b/deep": str(root / "a" / "b" / "deep"),
        "like": str(root / "100%_x"),  # % and _ are LIKE's wildcards
        "odd": os.fsdecode(os.fsencode(root) + b"/" + LATIN1),
    }
    photos = {"root": 1, "a": 2, "a/b": 3, "a/bc": 4, "a/b/deep": 5, "like": 1, "odd": 2}
    lib = Library(tmp_path / "lib.sqlite3")
    folder = lib.add_folder(root)
    facts, n = [], 0
    for key, count in photos.items():
        for i in range(count):
            n += 1
            facts.append(_facts(os.path.join(dirs[key], f"p{i}.jpg"), n))
    lib.add_or_update_photos(folder.id, facts)
    return lib, folder.id, dirs


def test_photos_are_counted_per_directory_in_one_grouped_query(tmp_path) -> None:
    lib, folder_id, dirs = _library(tmp_path)
    with lib:
        counts = {d: n for f, d, n in lib.directory_counts() if f == folder_id}
        assert counts == {
            dirs["root"]: 1,
            dirs["a"]: 2,
            dirs["a/b"]: 3,
            dirs["a/bc"]: 4,
            dirs["a/b/deep"]: 5,
            dirs["like"]: 1,
            dirs["odd"]: 2,  # the exact str: it opens the directory again
        }
        assert lib.directory_counts(statuses=["ok"]) == []  # all pending still


def test_a_name_that_sqlite_splits_oddly_still_counts_in_its_own_directory(tmp_path) -> None:
    """A lead byte just before a separator and a continuation byte just after it: SQLite's
    rtrim stops inside the name; the directory is still the right one."""
    root = tmp_path / "pics"
    odd_dir = os.fsdecode(os.fsencode(root) + b"/x\xc3")
    with Library(tmp_path / "lib.sqlite3") as lib:
        folder = lib.add_folder(root)
        lib.add_or_update_photos(
            folder.id,
            [
                _facts(os.fsdecode(os.fsencode(odd_dir) + b"/\xa9.jpg"), 1),
                _facts(os.path.join(odd_dir, "plain.jpg"), 2),
            ],
        )
        assert lib.directory_counts() == [(folder.id, odd_dir, 2)]


def test_a_subfolder_selects_its_photos_and_its_subfolders_never_a_sibling_prefix(
    tmp_path,
) -> None:
    lib, folder_id, dirs = _library(tmp_path)
    with lib:

        def under(key: str) -> set[str]:
            ids = lib.photo_ids_matching(under=[dirs[key]])
            return {str(p.path) for p in lib.photos(ids=ids)}

        got = under("a/b")
        assert len(got) == 3 + 5
        assert all(p.startswith(dirs["a/b"] + os.sep) for p in got)
        assert len(under("a/bc")) == 4
        assert len(under("a")) == 2 + 3 + 4 + 5
        assert len(under("like")) == 1  # no wildcard: "100%_x" only
        assert len(under("odd")) == 2
        ids, _ = lib.photo_dates(under=[dirs["a/bc"]], statuses=["pending"])
        assert len(ids) == 4
        # a folder and a subfolder together: photos in either
        both = lib.photo_ids_matching(folder_ids=[folder_id], under=[dirs["a/b"]])
        assert len(both) == 18
        assert lib.photo_ids_matching(folder_ids=[], under=[]) == []


def test_a_subfolder_filter_is_a_range_of_the_path_index_not_a_scan(tmp_path) -> None:
    from clipdesk.library.photos import _filters

    lib, _folder_id, dirs = _library(tmp_path)
    with lib:
        for statuses in (None, ["ok"]):  # browsing asks for a status too: still the range
            where, params = _filters(None, statuses, None, None, under=[dirs["a/b"]])
            plan = lib.query(
                "EXPLAIN QUERY PLAN SELECT id, taken_at, mtime_ns FROM photos "
                f"WHERE {' AND '.join(where)} ORDER BY path",
                params,
            )
            detail = " ".join(str(r["detail"]) for r in plan)
            assert "INDEX idx_photos_path (path>? AND path<?)" in detail, (statuses, detail)


def test_folder_scope_tells_watched_folders_subfolders_and_strangers_apart(tmp_path) -> None:
    lib, folder_id, dirs = _library(tmp_path)
    with lib:
        scope = lib.folder_scope(
            [folder_id, dirs["root"], dirs["a/b"] + os.sep, tmp_path / "elsewhere", 999]
        )
        assert scope.folder_ids == (folder_id, folder_id)
        assert scope.under == (dirs["a/b"],)
        assert scope.unknown == (tmp_path / "elsewhere", 999)
