"""Library.photo_dates: the ids and dates browsing sorts, by path, filtered as the date filter
filters, dated as the grid dates (EXIF, else mtime), and cached only until the file changes."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from clipdesk.library.dates import taken_seconds, taken_seconds_of
from clipdesk.library.records import FileFacts, PhotoMeta, PhotoStatus
from clipdesk.library.store import Library

NOON = dt.datetime(2023, 6, 2, 12, 0)


@pytest.fixture
def library(tmp_path: Path):
    lib = Library(tmp_path / "lib.sqlite3")
    yield lib
    lib.close()


def _facts(folder: Path, name: str, taken: str | None, mtime: dt.datetime) -> FileFacts:
    return FileFacts(
        path=folder / name,
        size=len(name),
        mtime_ns=int(mtime.timestamp()) * 1_000_000_000,
        kind="jpeg",
        content_hash=name,
        meta=PhotoMeta(taken_at=taken),
    )


def _fill(library: Library, root: Path) -> dict[str, int]:
    a, b = library.add_folder(root / "a"), library.add_folder(root / "b")
    rows = [
        (a.id, _facts(root / "a", "3.jpg", "2023-06-03T08:00:00", NOON)),
        (a.id, _facts(root / "a", "1.jpg", None, NOON - dt.timedelta(days=1))),  # mtime: June 1
        (b.id, _facts(root / "b", "2.jpg", "not a date", NOON)),  # unreadable EXIF: mtime
        (b.id, _facts(root / "b", "0.jpg", "2023-06-04T08:00:00", NOON)),
    ]
    ids = {}
    for folder_id, facts in rows:
        [(pid, _)] = library.add_or_update_photos(folder_id, [facts])
        ids[Path(facts.path).name] = pid
    return ids


def test_ids_by_path_dated_as_the_grid_dates_them(library, tmp_path) -> None:
    ids = _fill(library, tmp_path)
    got, taken = library.photo_dates()
    by_path = ["a/1.jpg", "a/3.jpg", "b/0.jpg", "b/2.jpg"]
    assert got.tolist() == [ids[p.split("/")[1]] for p in by_path]
    assert taken.tolist() == [
        (NOON - dt.timedelta(days=1)).timestamp(),
        dt.datetime(2023, 6, 3, 8).timestamp(),
        dt.datetime(2023, 6, 4, 8).timestamp(),
        NOON.timestamp(),
    ]
    folder_b = library.folder(tmp_path / "b").id
    assert library.photo_dates(folder_ids=[folder_b])[0].tolist() == [ids["0.jpg"], ids["2.jpg"]]
    june_1_to_3 = library.photo_dates(taken_from=dt.date(2023, 6, 1), taken_to=dt.date(2023, 6, 3))
    assert june_1_to_3[0].tolist() == [ids["1.jpg"], ids["3.jpg"]]  # the last day included
    assert len(library.photo_dates(statuses=[PhotoStatus.OK])[0]) == 0  # all still pending
    assert not got.flags.writeable  # shared with the next caller
    newest, when = library.photo_dates(order="newest")
    assert when.tolist() == sorted(taken.tolist(), reverse=True)
    assert newest.tolist() == [ids["0.jpg"], ids["3.jpg"], ids["2.jpg"], ids["1.jpg"]]
    oldest, _ = library.photo_dates(order="oldest")
    assert oldest.tolist() == newest.tolist()[::-1]


def test_taken_seconds_of_many_is_taken_seconds_of_each() -> None:
    rows = [("2023-06-03T08:00:00", 5), (None, 7_500_000_000), ("", 3), ("junk", 9)] * 3
    assert taken_seconds_of(rows) == [taken_seconds(t, m) for t, m in rows]


def test_cached_until_the_file_changes_from_here_or_elsewhere(library, tmp_path) -> None:
    ids = _fill(library, tmp_path)
    reads = []
    query = library.query

    def counted(sql, params=()):
        if "taken_at, mtime_ns FROM photos" in sql:
            reads.append(sql)
        return query(sql, params)

    library.query = counted  # type: ignore[method-assign]
    first = library.photo_dates()
    again = library.photo_dates()
    assert len(reads) == 1 and again[0] is first[0]

    library.mark_missing([ids["3.jpg"]])  # a change made on this thread's connection
    assert len(library.photo_dates(statuses=["pending"])[0]) == 3 and len(reads) == 2

    worker = threading.Thread(target=lambda: library.mark_missing([ids["0.jpg"]]))
    worker.start()  # another connection's commit
    worker.join()
    assert len(library.photo_dates(statuses=["pending"])[0]) == 2 and len(reads) == 3

    other = sqlite3.connect(library.path)  # another program's
    with other:
        other.execute("UPDATE photos SET taken_at = ? WHERE id = ?", ("2020-01-01T00:00:00", 1))
    other.close()
    got, taken = library.photo_dates()
    assert len(reads) == 4
    assert taken[np.flatnonzero(got == 1)[0]] == dt.datetime(2020, 1, 1).timestamp()
