"""Who wrote each XMP keyword of a photo (table ``keyword_sources``, schema v4).

One row per (photo, field, keyword) seen in the photo's XMP: ``ours`` when ClipDesk wrote it,
``other`` when another tool did. Rows are written when a photo's XMP is read (import) and when
ClipDesk writes its sidecar; :mod:`clipdesk.tags.xmp.provenance` says what they allow.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from clipdesk.tags.xmp.provenance import OURS, Item

if TYPE_CHECKING:
    import sqlite3

    from clipdesk.library.store import Library

__all__ = ["KeywordSources", "SeenKeywords"]

# (photo id, {item: origin when first seen}, whether every packet of the photo could be read)
SeenKeywords = tuple[int, Mapping[Item, str], bool]


class KeywordSources:
    def __init__(self, library: Library) -> None:
        self.lib = library

    def origins(self, photo_id: int) -> dict[Item, str]:
        rows = self.lib.query(
            "SELECT field, keyword, origin FROM keyword_sources WHERE photo_id = ?",
            (int(photo_id),),
        )
        return {(r[0], r[1]): r[2] for r in rows}

    def record_read(self, seen: Sequence[SeenKeywords]) -> None:
        """What reading the photos' XMP found: a new item gets its origin, a known one keeps
        its own; items no longer there are forgotten, unless a packet of the photo could not
        be read (its items may still be there)."""
        if not seen:
            return
        now = time.time()
        with self.lib.transaction() as conn:
            for photo_id, items, complete in seen:
                self._insert(conn, int(photo_id), items, now)
                if complete:
                    self._forget_others(conn, int(photo_id), items)

    def record_written(
        self,
        photo_id: int,
        present: Mapping[Item, str],
        added: Iterable[Item],
        removed: Iterable[Item],
    ) -> None:
        """After ClipDesk wrote the photo's sidecar: what it added is ours, what it removed is
        forgotten, and the items that were there get their origin if they had none."""
        now = time.time()
        pid = int(photo_id)
        with self.lib.transaction() as conn:
            self._insert(conn, pid, present, now)
            conn.executemany(
                "INSERT INTO keyword_sources(photo_id, field, keyword, origin, updated_at) "
                "VALUES(?, ?, ?, ?, ?) ON CONFLICT(photo_id, field, keyword) "
                "DO UPDATE SET origin = excluded.origin, updated_at = excluded.updated_at",
                [(pid, f, k, OURS, now) for f, k in added],
            )
            conn.executemany(
                "DELETE FROM keyword_sources WHERE photo_id = ? AND field = ? AND keyword = ?",
                [(pid, f, k) for f, k in removed],
            )

    @staticmethod
    def _insert(
        conn: sqlite3.Connection, photo_id: int, items: Mapping[Item, str], now: float
    ) -> None:
        conn.executemany(
            "INSERT INTO keyword_sources(photo_id, field, keyword, origin, updated_at) "
            "VALUES(?, ?, ?, ?, ?) ON CONFLICT(photo_id, field, keyword) "
            "DO UPDATE SET updated_at = excluded.updated_at",
            [(photo_id, f, k, origin, now) for (f, k), origin in items.items()],
        )

    @staticmethod
    def _forget_others(conn: sqlite3.Connection, photo_id: int, items: Mapping[Item, str]) -> None:
        rows = conn.execute(
            "SELECT field, keyword FROM keyword_sources WHERE photo_id = ?", (photo_id,)
        ).fetchall()
        conn.executemany(
            "DELETE FROM keyword_sources WHERE photo_id = ? AND field = ? AND keyword = ?",
            [(photo_id, r[0], r[1]) for r in rows if (r[0], r[1]) not in items],
        )
