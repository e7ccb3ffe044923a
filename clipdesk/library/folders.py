"""Folder queries of :class:`clipdesk.library.store.Library` (a mixin; see store.py for threads)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from clipdesk.library.base import LibraryBase, inserted_id
from clipdesk.library.errors import FolderError
from clipdesk.library.records import Folder, FolderStatus, PhotoStatus


def normalise_path(path: str | Path) -> str:
    """The form paths are stored in: absolute, normalised, symlinks kept as the user named them."""
    return os.path.abspath(os.path.expanduser(os.fspath(path)))


def subtree_range(prefix: str) -> tuple[str, str]:
    """(lo, hi) such that ``lo <= path < hi`` selects every path strictly inside ``prefix``."""
    base = prefix.rstrip(os.sep) + os.sep
    return base, base[:-1] + chr(ord(os.sep) + 1)


def is_inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


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
                "INSERT INTO folders(path, status, added_at) VALUES(?, ?, ?)",
                (target, FolderStatus.OK.value, time.time()),
            )
            new_id = inserted_id(cur)
            for child in children:
                conn.execute("UPDATE photos SET folder_id = ? WHERE folder_id = ?", (new_id, child))
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
            rows = self.query("SELECT * FROM folders WHERE path = ?", (normalise_path(folder),))
        return Folder.from_row(rows[0]) if rows else None

    def folder_for_path(self, path: str | Path) -> Folder | None:
        """The watched folder that contains ``path`` (or is it), if any."""
        target = normalise_path(path)
        for folder in self.folders():
            if is_inside(target, str(folder.path)):
                return folder
        return None

    def folder_photo_counts(self) -> dict[int, dict[str, int]]:
        """{folder id: {status: count}} for every folder."""
        out: dict[int, dict[str, int]] = {f.id: {} for f in self.folders()}
        rows = self.query(
            "SELECT folder_id, status, count(*) AS n FROM photos GROUP BY folder_id, status"
        )
        for row in rows:
            out.setdefault(row["folder_id"], {})[row["status"]] = row["n"]
        return out

    def set_folder_scanned(self, folder_id: int, problems: str | None = None) -> None:
        """Record a finished reconcile; ``problems`` lists subfolders that could not be read."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE folders SET status = ?, error = ?, last_scan = ? WHERE id = ?",
                (FolderStatus.OK.value, problems, time.time(), folder_id),
            )

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
