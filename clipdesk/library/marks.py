"""Ratings and colour labels of photos (a mixin of :class:`clipdesk.library.store.Library`).

Two sources write them: the user (:meth:`MarkQueries.set_marks`, which also marks the field as
owed to the photo's XMP) and the photo's XMP as read (:meth:`MarkQueries.read_marks`, which leaves
a field the user set and XMP does not say yet as it is). Writing XMP takes the owed fields
(:meth:`MarkQueries.pending_marks`) and clears them once written
(:meth:`MarkQueries.marks_written`), unless the user changed them again meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from clipdesk.library.base import LibraryBase
from clipdesk.library.photos import chunks, marks

RATING_PENDING = 1
LABEL_PENDING = 2
_UNSET = object()


@dataclass(frozen=True)
class PendingMarks:
    """A photo's rating and label, and which of them its XMP is owed."""

    photo_id: int
    rating: int | None
    label: str | None
    pending: int  # RATING_PENDING | LABEL_PENDING bits


class MarkQueries(LibraryBase):
    def set_marks(
        self,
        photo_ids: Iterable[int],
        *,
        rating: int | object = _UNSET,
        label: str | None | object = _UNSET,
    ) -> int:
        """Set the rating and/or label of photos in one transaction, owed to their XMP; returns
        how many photos exist among ``photo_ids``."""
        sets: list[str] = []
        params: list[object] = []
        bits = 0
        if rating is not _UNSET:
            sets.append("rating = ?")
            params.append(rating)
            bits |= RATING_PENDING
        if label is not _UNSET:
            sets.append("color_label = ?")
            params.append(label)
            bits |= LABEL_PENDING
        if not bits:
            return 0
        ids = sorted({int(i) for i in photo_ids})
        done = 0
        sql = f"UPDATE photos SET {', '.join(sets)}, marks_pending = marks_pending | ? WHERE id IN"
        with self.transaction() as conn:
            for part in chunks(ids):
                cur = conn.execute(f"{sql} ({marks(len(part))})", [*params, bits, *part])
                done += cur.rowcount
        return done

    def read_marks(self, found: Iterable[tuple[int, int | None, str | None, bool]]) -> int:
        """Store what each photo's XMP says, (photo id, rating, label, complete): a field the
        user set that its XMP is still owed stays; with ``complete`` False (a packet could not
        be read) a field XMP no longer gives is kept too. Joins the caller's transaction, else
        runs in one; returns how many photos changed."""
        changed = 0
        with self.transaction() as conn:
            for pid, rating, label, complete in found:
                cur = conn.execute(
                    "UPDATE photos SET "
                    "rating = CASE WHEN marks_pending & 1 OR (? IS NULL AND NOT ?) "
                    "THEN rating ELSE ? END, "
                    "color_label = CASE WHEN marks_pending & 2 OR (? IS NULL AND NOT ?) "
                    "THEN color_label ELSE ? END "
                    "WHERE id = ? AND (rating IS NOT ? OR color_label IS NOT ?)",
                    (rating, complete, rating, label, complete, label, pid, rating, label),
                )
                changed += cur.rowcount
        return changed

    def marks_of(self, photo_ids: Sequence[int]) -> dict[int, tuple[int | None, str | None]]:
        """{photo id: (rating, label)} of the photos among ``photo_ids``."""
        out: dict[int, tuple[int | None, str | None]] = {}
        ids = [int(i) for i in photo_ids]
        for part in chunks(ids):
            rows = self.query(
                f"SELECT id, rating, color_label FROM photos WHERE id IN ({marks(len(part))})",
                part,
            )
            out.update({int(r[0]): (r[1], r[2]) for r in rows})
        return out

    def pending_marks(self, photo_ids: Sequence[int] | None = None) -> dict[int, PendingMarks]:
        """The photos (of ``photo_ids``, else all) whose XMP is owed a rating or label."""
        sql = "SELECT id, rating, color_label, marks_pending FROM photos WHERE marks_pending <> 0"
        if photo_ids is None:
            rows = self.query(sql)
        else:
            rows = []
            for part in chunks([int(i) for i in photo_ids]):
                rows += self.query(f"{sql} AND id IN ({marks(len(part))})", part)
        return {int(r[0]): PendingMarks(int(r[0]), r[1], r[2], int(r[3])) for r in rows}

    def marks_written(self, written: Iterable[PendingMarks]) -> None:
        """Clear what was written to each photo's XMP, where the photo still has those values
        (a change the user made while it was written stays owed)."""
        with self.transaction() as conn:
            for p in written:
                if p.pending & RATING_PENDING:
                    conn.execute(
                        "UPDATE photos SET marks_pending = marks_pending & ~1 "
                        "WHERE id = ? AND rating IS ?",
                        (p.photo_id, p.rating),
                    )
                if p.pending & LABEL_PENDING:
                    conn.execute(
                        "UPDATE photos SET marks_pending = marks_pending & ~2 "
                        "WHERE id = ? AND color_label IS ?",
                        (p.photo_id, p.label),
                    )

    def marked_ids(
        self, min_rating: int | None = None, labels: Sequence[str] | None = None
    ) -> np.ndarray:
        """Sorted ids (int64) of the photos rated at least ``min_rating`` and labelled with
        one of ``labels`` (None: no condition of that kind); read from the partial indexes."""
        where: list[str] = []
        params: list[object] = []
        if min_rating is not None:
            where.append("rating >= ?")
            params.append(int(min_rating))
        if labels is not None:
            where.append(f"color_label IN ({marks(len(labels)) or 'NULL'})")
            params += list(labels)
        if not where:
            raise ValueError("marked_ids needs a rating or a label to look for")
        rows = self.query(f"SELECT id FROM photos WHERE {' AND '.join(where)}", params)
        return np.sort(np.fromiter((int(r[0]) for r in rows), np.int64, len(rows)))

    def ratings(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids int64 sorted, ratings int8) of every photo with a rating (from the index)."""
        # no ORDER BY: sorted here, so the query reads the index, not the table
        rows = self.query("SELECT id, rating FROM photos WHERE rating IS NOT NULL")
        ids = np.fromiter((int(r[0]) for r in rows), np.int64, len(rows))
        ratings = np.fromiter((int(r[1]) for r in rows), np.int8, len(rows))
        order = np.argsort(ids, kind="stable")
        return ids[order], ratings[order]
