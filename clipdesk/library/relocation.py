"""Relocating a folder (a mixin of :class:`clipdesk.library.store.Library`): its photos were moved
to a new disk or a new mount path, and the folder is pointed at its new root.

Every photo keeps its row - id, vectors, tags and decisions - and its path becomes the same
relative path under the new root. The scanner examines the file found there; the store verifies
it by content hash: the same content keeps the photo as it was (an offline or missing photo
returns to its earlier status); other content is a changed file (pending again, vectors
dropped, tags and decisions kept, as for any edited photo); no file there leaves the photo
missing, never deleted. All of it, and the folder row, in one transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from clipdesk.common.fsnames import sql_text
from clipdesk.library.base import LibraryBase
from clipdesk.library.errors import FolderError
from clipdesk.library.folders import is_inside, normalise_path
from clipdesk.library.photos import _META_SET, fact_values
from clipdesk.library.records import FileFacts, FolderStatus, PhotoStatus


@dataclass(frozen=True)
class Relocated:
    """Photo ids of a relocated folder, by what was found at their new paths."""

    kept: list[int] = field(default_factory=list)  # same content: everything kept
    changed: list[int] = field(default_factory=list)  # other content: indexed again
    unmatched: list[int] = field(default_factory=list)  # no file there: missing (kept)


_MISSING, _OFFLINE = PhotoStatus.MISSING.value, PhotoStatus.OFFLINE.value


class RelocationQueries(LibraryBase):
    def relocate_folder(
        self,
        folder_id: int,
        new_root: str,
        found: Mapping[int, FileFacts],
        device: int | None = None,
    ) -> Relocated:
        """Point folder ``folder_id`` at ``new_root``; ``found`` holds the facts of the file at
        each photo's new path (photo id -> facts; absent: no file there). ``device`` is the new
        root's st_dev. FolderError when the new root overlaps a watched folder."""
        target = normalise_path(new_root)
        now = time.time()
        out = Relocated()
        with self.transaction() as conn:
            row = conn.execute("SELECT path FROM folders WHERE id = ?", (folder_id,)).fetchone()
            if row is None:
                raise FolderError(f"Folder {folder_id} is not a folder of this library.")
            old = str(row["path"])
            for other in conn.execute("SELECT id, path FROM folders"):
                path = str(other["path"])
                if other["id"] != folder_id and (
                    is_inside(target, path) or is_inside(path, target)
                ):
                    raise FolderError(
                        f"{target} overlaps {path}, which is already watched.",
                        "Choose the folder's own new location.",
                    )
            if is_inside(target, old) or is_inside(old, target):
                raise FolderError(
                    f"{target} is inside {old} or holds it.",
                    "A folder can move to another place, not into itself.",
                )
            photos = conn.execute(
                "SELECT id, path, content_hash FROM photos WHERE folder_id = ?", (folder_id,)
            ).fetchall()
            for photo in photos:
                path = target + str(photo["path"])[len(old) :]
                facts = found.get(int(photo["id"]))
                if facts is None:
                    self._relocate_unmatched(conn, photo["id"], path, now)
                    out.unmatched.append(int(photo["id"]))
                elif facts.error is None and facts.content_hash == photo["content_hash"]:
                    conn.execute(
                        f"UPDATE photos SET path = CAST(? AS TEXT), status = CASE WHEN status IN (?, ?) "
                        f"THEN coalesce(prev_status, ?) ELSE status END, prev_status = NULL, "
                        f"updated_at = ?, {_META_SET} WHERE id = ?",
                        (
                            sql_text(path),
                            _MISSING,
                            _OFFLINE,
                            PhotoStatus.PENDING.value,
                            now,
                            *fact_values(facts),
                            photo["id"],
                        ),
                    )
                    out.kept.append(int(photo["id"]))
                else:
                    status = PhotoStatus.ERROR if facts.error else PhotoStatus.PENDING
                    conn.execute(
                        f"UPDATE photos SET path = CAST(? AS TEXT), status = ?, error = ?, "
                        f"prev_status = NULL, "
                        f"indexed_at = NULL, updated_at = ?, {_META_SET} WHERE id = ?",
                        (
                            sql_text(path),
                            status.value,
                            facts.error,
                            now,
                            *fact_values(facts),
                            photo["id"],
                        ),
                    )
                    conn.execute("DELETE FROM embeddings WHERE photo_id = ?", (photo["id"],))
                    out.changed.append(int(photo["id"]))
            conn.execute(
                "UPDATE folders SET path = CAST(? AS TEXT), status = ?, error = NULL, device = ? "
                "WHERE id = ?",
                (sql_text(target), FolderStatus.OK.value, device, folder_id),
            )
            # the drives inside it were recorded for the old place; its next scan records anew
            conn.execute("DELETE FROM folder_drives WHERE folder_id = ?", (folder_id,))
        return out

    @staticmethod
    def _relocate_unmatched(conn: sqlite3.Connection, photo_id: int, path: str, now: float) -> None:
        # prev_status keeps the status before it went offline or missing, so a later move
        # found by content hash brings the photo back as it was; the purge clock starts now
        # for a photo that was not missing yet.
        conn.execute(
            "UPDATE photos SET path = CAST(? AS TEXT), "
            "prev_status = CASE WHEN status IN (?, ?) THEN prev_status ELSE status END, "
            "updated_at = CASE WHEN status = ? THEN updated_at ELSE ? END, status = ? "
            "WHERE id = ?",
            (sql_text(path), _MISSING, _OFFLINE, _MISSING, now, _MISSING, photo_id),
        )
