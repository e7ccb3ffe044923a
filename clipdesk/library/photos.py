"""Photo queries of :class:`clipdesk.library.store.Library` (a mixin; see store.py for threads).

The scanner writes files' facts here; the indexing pipeline asks for pending work and reports
each photo back with :meth:`~PhotoQueries.mark_error` or ``store_embeddings`` / ``mark_indexed``
(store_vectors.py). A photo's id never changes while its content lives on: a move or rename
updates the row, so vectors and tags stay attached.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np

from clipdesk.common.fsnames import sql_text
from clipdesk.library.base import LibraryBase, inserted_id
from clipdesk.library.dates import DateLike, taken_between, taken_bound, taken_seconds_of
from clipdesk.library.folders import normalise_path, subtree_range, under_any
from clipdesk.library.records import PHOTO_COLUMNS, FileFacts, Photo, PhotoStatus

_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit
_DATES_KEPT = 6  # photo_dates answers cached (1.6 MB each at 100,000 photos)
_DATES_LOCK = threading.Lock()
T = TypeVar("T")


@dataclass(frozen=True, slots=True)  # a reconcile holds one per photo of the library
class KnownFile:
    """What the store remembers of a file: enough to tell unchanged from changed."""

    id: int
    size: int
    mtime_ns: int
    status: PhotoStatus
    content_hash: str | None


# (photo id, reason, stamp or None[, path or None]) - what the pipeline hands mark_errors
ErrorMark = (
    tuple[int, str, tuple[int, int] | None]
    | tuple[int, str, tuple[int, int] | None, str | Path | None]
)


def chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marks(n: int) -> str:
    """``n`` SQL parameter marks for an ``IN (...)`` list: ``?,?,?``."""
    return ",".join("?" * n)


def _filters(
    folder_ids: Sequence[int] | None,
    statuses: Iterable[PhotoStatus | str] | None,
    taken_from: DateLike | None,
    taken_to: DateLike | None,
    under: Sequence[str | Path] | None = None,
) -> tuple[list[str], list[object]]:
    """(WHERE clauses, parameters) of the photos in ``folder_ids`` or inside a directory of
    ``under`` (subfolders of watched folders), of ``statuses`` and taken within the inclusive
    date range; None means no restriction, an empty list matches nothing. A directory is a
    range of the path index (``a/b/ <= path < a/b0``), never a scan, and never ``a/bc``."""
    where: list[str] = []
    params: list[object] = []
    if folder_ids is not None or under is not None:
        places: list[str] = []
        if folder_ids:
            places.append(f"folder_id IN ({','.join('?' * len(folder_ids))})")
            params += [int(f) for f in folder_ids]
        if under:
            inside, ranges = under_any([normalise_path(d) for d in under])
            places.append(inside)
            params += ranges
        where.append("(" + " OR ".join(places) + ")" if places else "0")
    if statuses is not None:
        st = [str(s) for s in statuses]
        # Inside a subfolder the path range is the narrow index; SQLite, without statistics,
        # would take the status index (every ok photo of the library) instead: "+" rules it out.
        column = "+status" if under else "status"
        where.append(f"{column} IN ({','.join('?' * len(st)) or 'NULL'})")
        params += st
    dated, bounds = taken_between(taken_from, taken_to)
    return where + dated, params + bounds


def fact_values(facts: FileFacts) -> tuple[object, ...]:
    """The file's columns after (folder_id, path, status, error, added_at, updated_at)."""
    m = facts.meta
    return (
        facts.kind,
        facts.size,
        facts.mtime_ns,
        facts.content_hash,
        m.width,
        m.height,
        m.taken_at,
        m.camera_make,
        m.camera_model,
        m.gps_lat,
        m.gps_lon,
    )


_META_COLUMNS = (
    "kind, size, mtime_ns, content_hash, width, height, taken_at, "
    "camera_make, camera_model, gps_lat, gps_lon"
)
_PRESENT = (PhotoStatus.PENDING.value, PhotoStatus.OK.value, PhotoStatus.ERROR.value)

_META_SET = (
    "kind = ?, size = ?, mtime_ns = ?, content_hash = ?, width = ?, height = ?, taken_at = ?, "
    "camera_make = ?, camera_model = ?, gps_lat = ?, gps_lon = ?"
)


class PhotoQueries(LibraryBase):
    # --- reading ---------------------------------------------------------------------------

    def photo(self, photo_id: int) -> Photo | None:
        rows = self.query(f"SELECT {PHOTO_COLUMNS} FROM photos WHERE id = ?", (photo_id,))
        return Photo.from_row(rows[0]) if rows else None

    def photo_by_path(self, path: str | Path) -> Photo | None:
        rows = self.query(
            f"SELECT {PHOTO_COLUMNS} FROM photos WHERE path = CAST(? AS TEXT)",
            (sql_text(normalise_path(path)),),
        )
        return Photo.from_row(rows[0]) if rows else None

    def photos(
        self,
        *,
        folder_id: int | None = None,
        statuses: Iterable[PhotoStatus | str] | None = None,
        ids: Sequence[int] | None = None,
        limit: int | None = None,
        taken_from: DateLike | None = None,
        taken_to: DateLike | None = None,
    ) -> list[Photo]:
        """Photos ordered by path, filtered by folder, status, ids and/or the date they were
        taken (inclusive; see :mod:`clipdesk.library.dates`)."""
        folder_ids = None if folder_id is None else [folder_id]
        where, params = _filters(folder_ids, statuses, taken_from, taken_to)
        sql = f"SELECT {PHOTO_COLUMNS} FROM photos"
        if ids is not None:
            out: list[Photo] = []
            for part in chunks(list(ids)):
                cond = where + [f"id IN ({','.join('?' * len(part))})"]
                rows = self.query(f"{sql} WHERE {' AND '.join(cond)}", [*params, *part])
                out += [Photo.from_row(r) for r in rows]
            return sorted(out, key=lambda p: str(p.path))[:limit]
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY path"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [Photo.from_row(r) for r in self.query(sql, params)]

    def photo_ids_matching(
        self,
        *,
        folder_ids: Sequence[int] | None = None,
        taken_from: DateLike | None = None,
        taken_to: DateLike | None = None,
        under: Sequence[str | Path] | None = None,
    ) -> list[int]:
        """Ids of the photos (any status) in ``folder_ids`` or inside a directory of ``under``,
        and taken within the inclusive date range; None means no restriction. Search turns its
        folder and date filters into this."""
        where, params = _filters(folder_ids, None, taken_from, taken_to, under)
        sql = "SELECT id FROM photos" + (f" WHERE {' AND '.join(where)}" if where else "")
        return [int(r[0]) for r in self.query(sql, params)]

    def photo_dates(
        self,
        *,
        folder_ids: Sequence[int] | None = None,
        statuses: Iterable[PhotoStatus | str] | None = None,
        taken_from: DateLike | None = None,
        taken_to: DateLike | None = None,
        order: Literal["path", "newest", "oldest"] = "path",
        under: Sequence[str | Path] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids int64, taken float64 POSIX seconds) of the photos passing the filters (None: no
        restriction; ``under``: directories inside watched folders, as for
        :meth:`photo_ids_matching`), ordered by path, or by date (newest or oldest first; the same date: by
        path): what browsing shows and the date orders sort by, without reading whole rows.
        Dates as :func:`clipdesk.library.dates.taken_seconds` tells them.

        Read-only arrays, cached until the file changes (:meth:`change_stamp`: a commit from
        any thread or program), so browsing 100,000 photos again costs no query and no sort."""
        key = (
            order,
            tuple(int(f) for f in folder_ids) if folder_ids is not None else None,
            tuple(sorted(str(s) for s in statuses)) if statuses is not None else None,
            taken_bound(taken_from, end=False),
            taken_bound(taken_to, end=True),
            tuple(normalise_path(d) for d in under) if under is not None else None,
        )
        stamp = self.change_stamp()  # before the read: a commit during it makes the next miss
        with _DATES_LOCK:
            cache: dict[object, tuple[int, np.ndarray, np.ndarray]]
            cache = self.__dict__.setdefault("_photo_dates", {})
            hit = cache.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1], hit[2]
        if order != "path":
            by_path, when = self.photo_dates(
                folder_ids=folder_ids,
                statuses=statuses,
                taken_from=taken_from,
                taken_to=taken_to,
                under=under,
            )
            dated = np.argsort(-when if order == "newest" else when, kind="stable")
            ids, taken = by_path[dated], when[dated]
        else:
            ids, taken = self._photo_dates_by_path(
                folder_ids, statuses, taken_from, taken_to, under
            )
        ids.flags.writeable = taken.flags.writeable = False  # shared by every caller
        if self.connection().in_transaction:
            return ids, taken  # it may see changes of its own that are rolled back yet
        with _DATES_LOCK:
            cache[key] = (stamp, ids, taken)
            while len(cache) > _DATES_KEPT:
                del cache[next(iter(cache))]
        return ids, taken

    def _photo_dates_by_path(
        self,
        folder_ids: Sequence[int] | None,
        statuses: Iterable[PhotoStatus | str] | None,
        taken_from: DateLike | None,
        taken_to: DateLike | None,
        under: Sequence[str | Path] | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        where, params = _filters(folder_ids, statuses, taken_from, taken_to, under)
        sql = "SELECT id, taken_at, mtime_ns FROM photos"
        sql += (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY path"
        rows = self.query(sql, params)
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        taken = np.asarray(taken_seconds_of((r[1], r[2]) for r in rows), np.float64)
        return ids, taken

    def known_files(
        self, *, folder_id: int | None = None, under: str | Path | None = None
    ) -> dict[str, KnownFile]:
        """{path: KnownFile} for a folder, or for every photo inside the directory ``under``."""
        if under is not None:
            lo, hi = subtree_range(normalise_path(under))
            rows = self.query(
                "SELECT id, path, size, mtime_ns, status, content_hash FROM photos "
                "WHERE path >= CAST(? AS TEXT) AND path < CAST(? AS TEXT)",
                (sql_text(lo), sql_text(hi)),
            )
        else:
            rows = self.query(
                "SELECT id, path, size, mtime_ns, status, content_hash FROM photos "
                "WHERE folder_id = ?",
                (folder_id,),
            )
        return {
            r["path"]: KnownFile(
                r["id"], r["size"], r["mtime_ns"], PhotoStatus(r["status"]), r["content_hash"]
            )
            for r in rows
        }

    def missing_by_hash(self, hashes: Iterable[str]) -> dict[str, list[tuple[int, str]]]:
        """{content hash: [(photo id, old path)]} among missing photos - candidates for a move."""
        wanted = list(set(hashes))
        out: dict[str, list[tuple[int, str]]] = {}
        for part in chunks(wanted):
            rows = self.query(
                f"SELECT id, path, content_hash FROM photos WHERE status = ? AND content_hash IN "
                f"({','.join('?' * len(part))}) ORDER BY updated_at DESC",
                [PhotoStatus.MISSING.value, *part],
            )
            for r in rows:
                out.setdefault(r["content_hash"], []).append((r["id"], r["path"]))
        return out

    def present_by_hash(self, hashes: Iterable[str]) -> dict[str, list[tuple[int, str, int]]]:
        """{content hash: [(photo id, path, folder id)]} among photos the store believes are on
        disk (pending, ok, error): a new file with one of these hashes is a move when that
        photo's own file has gone meanwhile and the watcher has not told the store yet."""
        wanted = list(set(hashes))
        out: dict[str, list[tuple[int, str, int]]] = {}
        for part in chunks(wanted):
            rows = self.query(
                f"SELECT id, path, folder_id, content_hash FROM photos WHERE status IN (?, ?, ?) "
                f"AND content_hash IN ({','.join('?' * len(part))}) ORDER BY updated_at DESC",
                [*_PRESENT, *part],
            )
            for r in rows:
                out.setdefault(r["content_hash"], []).append((r["id"], r["path"], r["folder_id"]))
        return out

    def fresh_twins(self, photo_ids: Sequence[int], since: float) -> dict[int, tuple[int, str]]:
        """{photo id: (twin id, twin path)}: for photos whose files just went, a newer photo of
        the same content first seen after ``since`` that the user has not decided anything on -
        the far end of a move that was seen as a new file first (a copy-then-delete move across
        drives, or the new file reconciled before the old one was found gone)."""
        out: dict[int, tuple[int, str]] = {}
        for part in chunks(list(photo_ids)):
            rows = self.query(
                f"SELECT x.id AS old, y.id AS new, y.path AS path FROM photos x "
                f"JOIN photos y ON y.content_hash = x.content_hash AND y.id != x.id "
                f"WHERE x.id IN ({','.join('?' * len(part))}) AND x.content_hash IS NOT NULL "
                f"AND y.status IN (?, ?, ?) AND y.added_at >= ? AND y.added_at > x.added_at "
                # decisions are the user's: a copy that has some is a photo in its own right
                f"AND NOT EXISTS (SELECT 1 FROM photo_tags t WHERE t.photo_id = y.id "
                f"AND t.state IN ('confirmed', 'rejected')) ORDER BY y.added_at DESC",
                [*part, *_PRESENT, since],
            )
            taken = {new for _, (new, _p) in out.items()}
            for r in rows:
                if r["old"] not in out and r["new"] not in taken:
                    out[r["old"]] = (r["new"], r["path"])
                    taken.add(r["new"])
        return out

    def counts(self) -> dict[str, int]:
        """{status: number of photos} with every status present (zeros included)."""
        out = {s.value: 0 for s in PhotoStatus}
        for row in self.query("SELECT status, count(*) AS n FROM photos GROUP BY status"):
            out[row["status"]] = row["n"]
        return out

    def errors(self, limit: int | None = None) -> list[Photo]:
        """Photos in error, with their reasons, by path."""
        return self.photos(statuses=[PhotoStatus.ERROR], limit=limit)

    # --- writing (scanner) -----------------------------------------------------------------

    def add_or_update_photos(
        self, folder_id: int, facts: Sequence[FileFacts]
    ) -> list[tuple[int, str]]:
        """Record files as seen on disk, in one transaction. Returns [(photo id, change)].

        change is ``"new"`` (inserted, pending), ``"changed"`` (content differs: pending again,
        old vectors dropped), ``"same"`` (content unchanged: stamp/metadata refreshed, status kept;
        a missing/offline photo returns to its earlier status). A file known bad before decoding
        (``facts.error``) is stored with status error and that reason.
        """
        now = time.time()
        out: list[tuple[int, str]] = []
        with self.transaction() as conn:
            for f in facts:
                path = normalise_path(f.path)
                row = conn.execute(
                    "SELECT id, status, prev_status, content_hash FROM photos "
                    "WHERE path = CAST(? AS TEXT)",
                    (sql_text(path),),
                ).fetchone()
                status = PhotoStatus.ERROR.value if f.error else PhotoStatus.PENDING.value
                if row is None:
                    cur = conn.execute(
                        f"INSERT INTO photos(folder_id, path, status, error, added_at, updated_at, "
                        f"kind, size, mtime_ns, content_hash, width, height, taken_at, "
                        f"camera_make, camera_model, gps_lat, gps_lon) "
                        f"VALUES(?, CAST(? AS TEXT), {','.join('?' * 15)})",
                        (folder_id, sql_text(path), status, f.error, now, now, *fact_values(f)),
                    )
                    out.append((inserted_id(cur), "new"))
                elif (
                    f.error is None
                    and f.content_hash is not None
                    and row["content_hash"] == f.content_hash
                ):
                    keep = row["status"]
                    if keep in (PhotoStatus.MISSING.value, PhotoStatus.OFFLINE.value):
                        keep = row["prev_status"] or PhotoStatus.PENDING.value
                    if keep == PhotoStatus.ERROR.value:
                        # the file was touched (or came back): its decoding error may be
                        # gone with whatever caused it (a permission, a move mid-decode)
                        keep = PhotoStatus.PENDING.value
                    conn.execute(
                        f"UPDATE photos SET folder_id = ?, status = ?, prev_status = NULL, "
                        f"error = CASE WHEN ? = ? THEN NULL ELSE error END, "
                        f"updated_at = ?, {_META_SET} WHERE id = ?",
                        (
                            folder_id,
                            keep,
                            keep,
                            PhotoStatus.PENDING.value,
                            now,
                            *fact_values(f),
                            row["id"],
                        ),
                    )
                    out.append((row["id"], "same"))
                else:
                    conn.execute(
                        f"UPDATE photos SET folder_id = ?, status = ?, prev_status = NULL, "
                        f"error = ?, updated_at = ?, indexed_at = NULL, {_META_SET} WHERE id = ?",
                        (folder_id, status, f.error, now, *fact_values(f), row["id"]),
                    )
                    conn.execute("DELETE FROM embeddings WHERE photo_id = ?", (row["id"],))
                    out.append((row["id"], "changed"))
        return out

    def move_photo(self, photo_id: int, folder_id: int, facts: FileFacts) -> None:
        """The file of ``photo_id`` now lives at ``facts.path`` (a move or rename).

        Keeps the id, vectors, tags and status (a missing photo returns to its earlier status).
        A decoding error is not kept: it was recorded for the old path (often "file not found",
        the move racing the decoder), so the photo is tried again at the new one. A stale row
        already at the destination (a file the move overwrote) is removed.
        """
        path = normalise_path(facts.path)
        with self.transaction() as conn:
            conn.execute(
                "DELETE FROM photos WHERE path = CAST(? AS TEXT) AND id != ?",
                (sql_text(path), photo_id),
            )
            self._move_row(conn, photo_id, folder_id, path, fact_values(facts))

    def merge_duplicate(self, photo_id: int, duplicate_id: int) -> bool:
        """``duplicate_id`` is ``photo_id``'s file seen at its new path before the old path was
        found gone: ``photo_id`` (its id, vectors, tags, decisions) moves to the duplicate's
        path and the duplicate row is deleted; a vector only the duplicate had is kept. False
        if either row is gone."""
        with self.transaction() as conn:
            dup = conn.execute(
                f"SELECT path, folder_id, {_META_COLUMNS} FROM photos WHERE id = ?",
                (duplicate_id,),
            ).fetchone()
            if (
                dup is None
                or conn.execute("SELECT 1 FROM photos WHERE id = ?", (photo_id,)).fetchone() is None
            ):
                return False
            conn.execute(
                "UPDATE OR IGNORE embeddings SET photo_id = ? WHERE photo_id = ?",
                (photo_id, duplicate_id),
            )
            self._adopt_imports(conn, photo_id, duplicate_id)
            conn.execute("DELETE FROM photos WHERE id = ?", (duplicate_id,))
            self._move_row(conn, photo_id, dup["folder_id"], dup["path"], tuple(dup)[2:])
        return True

    @staticmethod
    def _adopt_imports(conn: sqlite3.Connection, photo_id: int, duplicate_id: int) -> None:
        """What the duplicate read at the new path comes along: keywords other tools wrote there
        (imported tags, over the model's suggestions but never over a decision), who wrote each
        keyword (another tool's stays another tool's), and the steps it was still owed."""
        conn.execute(
            "INSERT INTO photo_tags(photo_id, label_id, state, score, model_id, updated_at) "
            "SELECT ?, label_id, state, score, model_id, updated_at FROM photo_tags "
            "WHERE photo_id = ? AND state = 'imported' "
            "ON CONFLICT(photo_id, label_id) DO UPDATE SET state = excluded.state, "
            "updated_at = excluded.updated_at "
            "WHERE photo_tags.state NOT IN ('confirmed', 'rejected', 'imported')",
            (photo_id, duplicate_id),
        )
        conn.execute(
            "INSERT INTO keyword_sources(photo_id, field, keyword, origin, updated_at) "
            "SELECT ?, field, keyword, origin, updated_at FROM keyword_sources "
            "WHERE photo_id = ? "
            "ON CONFLICT(photo_id, field, keyword) DO UPDATE SET origin = excluded.origin "
            "WHERE excluded.origin = 'other'",
            (photo_id, duplicate_id),
        )
        conn.execute(
            "INSERT OR IGNORE INTO photo_steps(photo_id, step, model_id, attempts, error, "
            "created_at, updated_at) SELECT ?, step, model_id, attempts, error, created_at, "
            "updated_at FROM photo_steps WHERE photo_id = ?",
            (photo_id, duplicate_id),
        )

    @staticmethod
    def _move_row(
        conn: sqlite3.Connection,
        photo_id: int,
        folder_id: int,
        path: str,
        meta: tuple[object, ...],
    ) -> None:
        conn.execute(
            f"UPDATE photos SET folder_id = ?, path = CAST(? AS TEXT), "
            f"status = CASE WHEN status IN (?, ?) THEN coalesce(prev_status, ?) "
            f"WHEN status = ? THEN ? ELSE status END, "
            f"error = CASE WHEN status = ? THEN NULL ELSE error END, "
            f"prev_status = NULL, updated_at = ?, {_META_SET} WHERE id = ?",
            (
                folder_id,
                sql_text(path),
                PhotoStatus.MISSING.value,
                PhotoStatus.OFFLINE.value,
                PhotoStatus.PENDING.value,
                PhotoStatus.ERROR.value,
                PhotoStatus.PENDING.value,
                PhotoStatus.ERROR.value,
                time.time(),
                *meta,
                photo_id,
            ),
        )

    def mark_missing(self, photo_ids: Sequence[int]) -> int:
        """The files are gone: keep the rows (vectors, tags) as missing, in case they return."""
        now, n = time.time(), 0
        with self.transaction() as conn:
            for part in chunks(list(photo_ids)):
                cur = conn.execute(
                    f"UPDATE photos SET prev_status = status, status = ?, updated_at = ? "
                    f"WHERE status NOT IN (?, ?) AND id IN ({','.join('?' * len(part))})",
                    (
                        PhotoStatus.MISSING.value,
                        now,
                        PhotoStatus.MISSING.value,
                        PhotoStatus.OFFLINE.value,
                        *part,
                    ),
                )
                n += cur.rowcount
        return n

    def restamp(self, photo_id: int, size: int, mtime_ns: int, content_hash: str) -> None:
        """The file was rewritten with the same pixels (its embedded XMP): the row takes its new
        size, time and hash, so the next scan sees it unchanged and nothing is embedded again."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE photos SET size = ?, mtime_ns = ?, content_hash = ?, updated_at = ? "
                "WHERE id = ?",
                (size, mtime_ns, content_hash, time.time(), photo_id),
            )

    def delete_photos(self, photo_ids: Sequence[int]) -> int:
        """Forget photos for good (vectors and tags cascade)."""
        n = 0
        with self.transaction() as conn:
            for part in chunks(list(photo_ids)):
                cur = conn.execute(
                    f"DELETE FROM photos WHERE id IN ({','.join('?' * len(part))})", part
                )
                n += cur.rowcount
        return n

    def purge_missing(self, older_than_s: float) -> int:
        """Delete photos missing for longer than ``older_than_s`` seconds. Returns how many.

        Never a photo of an offline folder (nor an offline photo): what cannot be looked at is
        not known to be gone. Removing such a folder is the user's deliberate act."""
        with self.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM photos WHERE status = ? AND updated_at <= ? AND folder_id IN "
                "(SELECT id FROM folders WHERE status != ?)",
                (PhotoStatus.MISSING.value, time.time() - older_than_s, "offline"),
            )
            return cur.rowcount

    def missing_since(self) -> dict[int, tuple[int, float, float]]:
        """{folder id: (photos missing, since when the oldest, since when the newest)}: the
        missing clock the purge reads (``updated_at`` of a missing photo)."""
        rows = self.query(
            "SELECT folder_id, count(*) AS n, min(updated_at) AS lo, max(updated_at) AS hi "
            "FROM photos WHERE status = ? GROUP BY folder_id",
            (PhotoStatus.MISSING.value,),
        )
        return {int(r["folder_id"]): (int(r["n"]), float(r["lo"]), float(r["hi"])) for r in rows}

    # --- writing (pipeline) ----------------------------------------------------------------

    def mark_error(
        self,
        photo_id: int,
        reason: str,
        stamp: tuple[int, int] | None = None,
        path: str | Path | None = None,
    ) -> bool:
        """Record that a photo could not be decoded, and why. False if the photo is gone, moved
        away from ``path`` or changed since ``stamp`` (its ``Photo.path`` and ``Photo.stamp``
        when the work was handed out)."""
        return self.mark_errors([(photo_id, reason, stamp, path)]) == 1

    def mark_errors(self, items: Iterable[ErrorMark]) -> int:
        """Batch form of :meth:`mark_error`, one transaction. Returns how many were recorded.

        A mark is for the file the decoder was given: a photo moved meanwhile keeps its status
        (a rename keeps size and mtime, so the stamp alone cannot tell)."""
        now, n = time.time(), 0
        with self.transaction() as conn:
            for photo_id, reason, stamp, *rest in items:
                sql = (
                    "UPDATE photos SET status = ?, error = ?, updated_at = ?, indexed_at = ? "
                    "WHERE id = ? AND status IN (?, ?)"
                )
                params: list[object] = [
                    PhotoStatus.ERROR.value,
                    reason,
                    now,
                    now,
                    photo_id,
                    PhotoStatus.PENDING.value,
                    PhotoStatus.OK.value,
                ]
                if stamp is not None:
                    sql += " AND size = ? AND mtime_ns = ?"
                    params += list(stamp)
                if rest and rest[0] is not None:
                    sql += " AND path = CAST(? AS TEXT)"
                    params.append(sql_text(normalise_path(rest[0])))
                n += conn.execute(sql, params).rowcount
        return n

    def retry_errors(
        self, *, folder_id: int | None = None, reasons: Sequence[str] | None = None
    ) -> int:
        """Put photos in error back to pending (the user's "Retry failed"; or, with
        ``reasons``, only those whose reason contains one of them, any case). Returns how many.
        A file the scanner found bad (empty, not an image) fails again at once, cheaply."""
        sql = "UPDATE photos SET status = ?, error = NULL, updated_at = ? WHERE status = ?"
        params: list[object] = [PhotoStatus.PENDING.value, time.time(), PhotoStatus.ERROR.value]
        if folder_id is not None:
            sql += " AND folder_id = ?"
            params.append(folder_id)
        if reasons is not None:
            if not reasons:
                return 0
            sql += " AND (" + " OR ".join("instr(lower(error), ?) > 0" for _ in reasons) + ")"
            params += [r.lower() for r in reasons]
        with self.transaction() as conn:
            return conn.execute(sql, params).rowcount
