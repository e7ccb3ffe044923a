"""Schema v8: a v7 library opens with ratings and colour labels, its data kept, every indexed
photo owed a read of its XMP ratings, and the filters read from partial indexes."""

from __future__ import annotations

import sqlite3
import time

from clipdesk.library import schema
from clipdesk.library.store import Library


def _v7_library(path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    assert schema.migrate(conn, target=7) == 7
    now = time.time()
    conn.execute(
        "INSERT INTO folders(id, path, status, added_at) VALUES (1, '/pics', 'ok', ?)", (now,)
    )
    for pid, status in ((1, "ok"), (2, "pending")):
        conn.execute(
            "INSERT INTO photos(id, folder_id, path, kind, size, mtime_ns, status, added_at, "
            "updated_at) VALUES (?, 1, ?, 'jpeg', 10, 1, ?, ?, ?)",
            (pid, f"/pics/{pid}.jpg", status, now, now),
        )
    conn.close()


def test_a_v7_library_opens_as_v8_with_its_photos_and_owes_them_their_ratings(tmp_path):
    path = tmp_path / "lib.sqlite3"
    _v7_library(path)
    with Library(path) as lib:
        assert lib.version == 8
        photos = {p.id: p for p in lib.photos()}
        assert sorted(photos) == [1, 2] and str(photos[1].path) == "/pics/1.jpg"
        assert photos[1].rating is None and photos[1].color_label is None
        assert lib.pending_steps("xmp_marks") == [1]  # indexed photos only
        assert lib.set_marks([1, 2], rating=4, label="Red") == 2
        assert lib.marks_of([1, 2]) == {1: (4, "Red"), 2: (4, "Red")}


def test_rating_and_label_filters_and_owed_marks_use_the_partial_indexes(tmp_path):
    with Library(tmp_path / "lib.sqlite3") as lib:
        plans = [
            " ".join(str(r[3]) for r in lib.query(f"EXPLAIN QUERY PLAN {sql}"))
            for sql in (
                "SELECT id FROM photos WHERE rating >= 3",
                "SELECT id FROM photos WHERE color_label IN ('Red', 'Blue')",
                "SELECT id, rating FROM photos WHERE rating IS NOT NULL",
                "SELECT id, rating FROM photos WHERE marks_pending <> 0",
            )
        ]
    assert "INDEX photos_rating" in plans[0] and "INDEX photos_color_label" in plans[1], plans
    assert "INDEX photos_rating" in plans[2] and "INDEX photos_marks_pending" in plans[3], plans
