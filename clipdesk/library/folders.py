"""Folder queries of :class:`clipdesk.library.store.Library` (a mixin; see store.py for threads).

Besides the ``folders`` rows, a folder's drives: the device of its root (``folders.device``) and
the mount points inside it (:class:`~clipdesk.library.records.Drive`, table ``folder_drives``,
relative to the root), both written by each good scan, so that the
next scan can tell a drive that is not there from photos that were deleted.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from clipdesk.common.fsnames import sql_text
from clipdesk.library.base import LibraryBase, inserted_id
from clipdesk.library.errors import FolderError
from clipdesk.library.records import Drive, Folder, FolderStatus, PhotoStatus


def normalise_path(path: str | Path) -> str:
    """The form paths are stored in: absolute, normalised, symlinks kept as the user named them."""
    return os.path.abspath(os.path.expanduser(os.fspath(path)))


def subtree_range(prefix: str) -> tuple[str, str]:
    """(lo, hi) such that ``lo <= path < hi`` selects every path strictly inside ``prefix``."""
    base = prefix.rstrip(os.sep) + os.sep
    return base, base[:-1] + chr(ord(os.sep) + 1)


def is_inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


_COUNTS_LOCK = threading.Lock()


@dataclass(frozen=True)
class FolderScope:
    """Where a folder filter looks (:meth:`FolderQueries.folder_scope`): watched folders by id,
    directories inside them (stored form), and the references that are neither."""

    folder_ids: tuple[int, ...] = ()
    under: tuple[str, ...] = ()
    unknown: tuple[int | str | Path, ...] = ()


def under_any(dirs: Sequence[str]) -> tuple[str, list[str | bytes]]:
    """An SQL condition (and its parameters) true for a photo path inside any of ``dirs``."""
    if not dirs:
        return "0", []
    parts: list[str] = []
    params: list[str | bytes] = []
    for d in dirs:
        lo, hi = subtree_range(d)
        parts.append("(path >= CAST(? AS TEXT) AND path < CAST(? AS TEXT))")
        params += [sql_text(lo), sql_text(hi)]
    return "(" + " OR ".join(parts) + ")", params


class FolderQueries(LibraryBase):
    def add_folder(self, path: str | Path) -> Folder:
        """Register a folder to watch (the scanner checks it exists and scans it).

        A folder inside one already watched is refused; watched folders inside the new one are
        absorbed (their photos, vectors and tags move to it).
        """
        target = normalise_path(path)
        existing = self.folders()
        for folder in existing:
            if str(folder.path) == target:
                raise FolderError(f"{target} is already in the library.")
            if is_inside(target, str(folder.path)):
                raise FolderError(
                    f"{target} is inside {folder.path}, which is already watched.",
                    "Its photos are already part of the library.",
                )
        children = [f.id for f in existing if is_inside(str(f.path), target)]
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO folders(path, status, added_at) VALUES(CAST(? AS TEXT), ?, ?)",
                (sql_text(target), FolderStatus.OK.value, time.time()),
            )
            new_id = inserted_id(cur)
            for child in children:
                conn.execute("UPDATE photos SET folder_id = ? WHERE folder_id = ?", (new_id, child))
                # its folder_drives go with it (cascade): they were relative to its root
                conn.execute("DELETE FROM folders WHERE id = ?", (child,))
        found = self.folder(new_id)
        assert found is not None
        return found

    def remove_folder(self, folder: int | str | Path) -> int:
        """Forget a folder and all its photos (vectors and tags too). Returns photos removed.

        Files on disk are never touched.
        """
        found = self.folder(folder)
        if found is None:
            raise FolderError(
                f"{folder} is not a folder of this library.",
                "List them with `clipdesk-cli folders list`.",
            )
        with self.transaction() as conn:
            count = conn.execute(
                "SELECT count(*) FROM photos WHERE folder_id = ?", (found.id,)
            ).fetchone()[0]
            conn.execute("DELETE FROM folders WHERE id = ?", (found.id,))
        return int(count)

    def folders(self) -> list[Folder]:
        return [Folder.from_row(r) for r in self.query("SELECT * FROM folders ORDER BY path")]

    def folder(self, folder: int | str | Path) -> Folder | None:
        """A folder by id or by path."""
        if isinstance(folder, int):
            rows = self.query("SELECT * FROM folders WHERE id = ?", (folder,))
        else:
            rows = self.query(
                "SELECT * FROM folders WHERE path = CAST(? AS TEXT)",
                (sql_text(normalise_path(folder)),),
            )
        return Folder.from_row(rows[0]) if rows else None

    def folder_for_path(self, path: str | Path) -> Folder | None:
        """The watched folder that contains ``path`` (or is it), if any."""
        target = normalise_path(path)
        for folder in self.folders():
            if is_inside(target, str(folder.path)):
                return folder
        return None

    def folder_scope(self, refs: Iterable[int | str | Path]) -> FolderScope:
        """What a folder filter of ``refs`` covers: a watched folder by id or path, or a
        directory inside one by path (its photos and those of its subfolders)."""
        folders = self.folders()
        by_id = {f.id: f for f in folders}
        ids: list[int] = []
        under: list[str] = []
        unknown: list[int | str | Path] = []
        for ref in refs:
            if isinstance(ref, int):
                (ids if ref in by_id else unknown).append(ref)
                continue
            target = normalise_path(ref)
            watched = next((f for f in folders if is_inside(target, str(f.path))), None)
            if watched is None:
                unknown.append(ref)
            elif str(watched.path) == target:
                ids.append(watched.id)
            else:
                under.append(target)
        return FolderScope(tuple(ids), tuple(under), tuple(unknown))

    def directory_counts(self, statuses: Iterable[str] | None = None) -> list[tuple[int, str, int]]:
        """[(folder id, directory, photos)] for every directory that holds photos itself (of
        ``statuses``; None: any), by folder and directory: what a folder tree with counts is
        built from, in one grouped query. The directory is the path up to its last separator:
        ``rtrim(path, <path without separators>)`` strips the name, and stops at the separator,
        which is not among the characters it strips. Cached until the file changes (one scan
        of the photos table: ~2 s at 1M photos on a busy laptop core)."""
        wanted = tuple(sorted(statuses)) if statuses is not None else None
        stamp = self.change_stamp()
        with _COUNTS_LOCK:
            cache: dict[object, tuple[int, list[tuple[int, str, int]]]]
            cache = self.__dict__.setdefault("_directory_counts", {})
            hit = cache.get(wanted)
        if hit is not None and hit[0] == stamp:
            return list(hit[1])
        sql = (
            "SELECT folder_id, rtrim(path, replace(path, ?, '')) AS dir, count(*) AS n FROM photos"
        )
        params: list[object] = [os.sep]
        if wanted is not None:
            sql += f" WHERE status IN ({','.join('?' * len(wanted)) or 'NULL'})"
            params += wanted
        counted: dict[tuple[int, str], int] = {}
        for row in self.query(sql + " GROUP BY folder_id, dir", params):
            found = str(row["dir"])
            # A name whose bytes are not UTF-8 can stop rtrim inside the name (SQLite splits
            # such bytes into characters its own way): the directory is the same, cut here.
            if found.endswith(os.sep):
                found = found[: -len(os.sep)] or os.sep
            else:
                found = os.path.dirname(found)
            key = (int(row["folder_id"]), found)
            counted[key] = counted.get(key, 0) + int(row["n"])
        out = sorted((folder, found, n) for (folder, found), n in counted.items())
        if not self.connection().in_transaction:
            with _COUNTS_LOCK:
                cache[wanted] = (stamp, list(out))
        return out

    def folder_photo_counts(self) -> dict[int, dict[str, int]]:
        """{folder id: {status: count}} for every folder."""
        out: dict[int, dict[str, int]] = {f.id: {} for f in self.folders()}
        rows = self.query(
            "SELECT folder_id, status, count(*) AS n FROM photos GROUP BY folder_id, status"
        )
        for row in rows:
            out.setdefault(row["folder_id"], {})[row["status"]] = row["n"]
        return out

    def set_folder_scanned(
        self,
        folder_id: int,
        problems: str | None = None,
        *,
        device: int | None = None,
        drives: Mapping[str, Drive] | None = None,
    ) -> None:
        """Record a finished reconcile; ``problems`` lists subfolders that could not be read.
        ``device`` is the root's st_dev as the scan found it, ``drives`` the mount points inside
        the folder by path relative to its root (None: leave both as they were)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE folders SET status = ?, error = ?, last_scan = ?, "
                "device = coalesce(?, device) WHERE id = ?",
                (FolderStatus.OK.value, problems, time.time(), device, folder_id),
            )
            if drives is not None:
                self._write_drives(conn, folder_id, drives)

    def _write_drives(
        self, conn: sqlite3.Connection, folder_id: int, drives: Mapping[str, Drive]
    ) -> None:
        conn.execute("DELETE FROM folder_drives WHERE folder_id = ?", (folder_id,))
        conn.executemany(
            "INSERT INTO folder_drives(folder_id, rel_path, device, seen) "
            "VALUES(?, CAST(? AS TEXT), ?, ?)",
            [(folder_id, sql_text(rel), d.device, d.seen) for rel, d in sorted(drives.items())],
        )

    def folder_drives(self, folder_id: int) -> dict[str, Drive]:
        """The mount points inside a folder as its last good scan left them, by relative path."""
        rows = self.query(
            "SELECT rel_path, device, seen FROM folder_drives WHERE folder_id = ?", (folder_id,)
        )
        return {str(r["rel_path"]): Drive(int(r["device"]), r["seen"]) for r in rows}

    def set_folder_reachable(
        self, folder_id: int, offline_dirs: Sequence[str] = ()
    ) -> tuple[list[int], int]:
        """The folder can be scanned: it is online; its photos inside ``offline_dirs`` (drives
        within it that are not there) are offline, remembering their status; every other
        offline photo of it returns to its earlier status. Returns (ids back, newly offline)."""
        inside, params = under_any([normalise_path(d) for d in offline_dirs])
        now = time.time()
        with self.transaction() as conn:
            conn.execute(
                "UPDATE folders SET status = ?, "
                "error = CASE WHEN status = ? THEN NULL ELSE error END WHERE id = ?",
                (FolderStatus.OK.value, FolderStatus.OFFLINE.value, folder_id),
            )
            back = [
                int(r[0])
                for r in conn.execute(
                    f"SELECT id FROM photos WHERE folder_id = ? AND status = ? AND NOT {inside}",
                    (folder_id, PhotoStatus.OFFLINE.value, *params),
                )
            ]
            conn.execute(
                f"UPDATE photos SET status = coalesce(prev_status, ?), prev_status = NULL, "
                f"updated_at = ? WHERE folder_id = ? AND status = ? AND NOT {inside}",
                (PhotoStatus.PENDING.value, now, folder_id, PhotoStatus.OFFLINE.value, *params),
            )
            cur = conn.execute(
                f"UPDATE photos SET prev_status = status, status = ?, updated_at = ? "
                f"WHERE folder_id = ? AND status NOT IN (?, ?) AND {inside}",
                (
                    PhotoStatus.OFFLINE.value,
                    now,
                    folder_id,
                    PhotoStatus.OFFLINE.value,
                    PhotoStatus.MISSING.value,
                    *params,
                ),
            )
            return back, cur.rowcount

    def set_folder_error(self, folder_id: int, reason: str) -> None:
        """The folder exists but cannot be read: its photos are left as they are."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE folders SET status = ?, error = ? WHERE id = ?",
                (FolderStatus.ERROR.value, reason, folder_id),
            )

    def set_folder_offline(self, folder_id: int, reason: str) -> int:
        """The folder is unreachable: its photos become offline (remembering their status).

        Nothing is deleted; :meth:`set_folder_online` brings every photo back as it was.
        Returns the number of photos newly marked offline.
        """
        with self.transaction() as conn:
            conn.execute(
                "UPDATE folders SET status = ?, error = ? WHERE id = ?",
                (FolderStatus.OFFLINE.value, reason, folder_id),
            )
            cur = conn.execute(
                "UPDATE photos SET prev_status = status, status = ?, updated_at = ? "
                "WHERE folder_id = ? AND status NOT IN (?, ?)",
                (
                    PhotoStatus.OFFLINE.value,
                    time.time(),
                    folder_id,
                    PhotoStatus.OFFLINE.value,
                    PhotoStatus.MISSING.value,
                ),
            )
            return cur.rowcount

    def set_folder_online(self, folder_id: int) -> int:
        """The folder is back: offline photos return to their earlier status. Returns how many."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE folders SET status = ?, error = NULL WHERE id = ?",
                (FolderStatus.OK.value, folder_id),
            )
            cur = conn.execute(
                "UPDATE photos SET status = coalesce(prev_status, ?), prev_status = NULL, "
                "updated_at = ? WHERE folder_id = ? AND status = ?",
                (PhotoStatus.PENDING.value, time.time(), folder_id, PhotoStatus.OFFLINE.value),
            )
            return cur.rowcount
