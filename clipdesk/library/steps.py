"""Work still owed to photos after their vectors were committed (a mixin of
:class:`clipdesk.library.store.Library`; see store.py for threads).

A row of ``photo_steps`` is (photo, step name): written in the same transaction as the photo's
vector (:meth:`StepQueries.add_steps` inside the pipeline's commit), deleted in the transaction
that writes the step's result (:meth:`StepQueries.finish_step`). So a crash, a lock or a full
disk between the two leaves the work pending, never dropped, and whoever runs the steps (the
services) finds it again with :meth:`StepQueries.pending_steps`. The step names mean nothing
here: any later pass (OCR, imported vectors, ratings) adds its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from clipdesk.library.base import LibraryBase
from clipdesk.library.photos import chunks, marks

# After this many failed attempts an earlier step no longer holds a photo's later steps back
# (a step that keeps failing must not stop the rest of the photo's work for ever).
BLOCKING_ATTEMPTS = 3


@dataclass(frozen=True)
class StepCount:
    """How much of one step is owed."""

    step: str
    waiting: int  # photos still owed this step
    failed: int  # of them, photos whose last attempt failed
    last_error: str | None  # the reason of the most recent failure


def _model_clause(model_id: str | None) -> tuple[str, tuple[object, ...]]:
    # NULL: a step that needs no model's vector, runnable whatever model search uses
    if model_id is None:
        return "", ()
    return " AND (s.model_id IS NULL OR s.model_id = ?)", (model_id,)


class StepQueries(LibraryBase):
    def add_steps(
        self,
        photo_ids: Sequence[int],
        steps: Sequence[str],
        model_id: str | None = None,
        vector_free: Sequence[str] = (),
    ) -> int:
        """Record that each photo is owed each step (with the vector of ``model_id``; the steps
        in ``vector_free`` need none and run whatever model search uses). A step already owed
        starts over: a new vector means its earlier failures no longer count. Joins the
        caller's transaction (the pipeline's vector commit)."""
        if not photo_ids or not steps:
            return 0
        now = time.time()
        rows = [
            (int(pid), step, None if step in vector_free else model_id, now, now)
            for pid in photo_ids
            for step in steps
        ]
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO photo_steps(photo_id, step, model_id, attempts, error, created_at, "
                "updated_at) VALUES(?, ?, ?, 0, NULL, ?, ?) ON CONFLICT(photo_id, step) DO UPDATE "
                "SET model_id = excluded.model_id, attempts = 0, error = NULL, "
                "updated_at = excluded.updated_at",
                rows,
            )
        return len(rows)

    def pending_steps(
        self,
        step: str,
        limit: int | None = None,
        after_id: int = 0,
        *,
        model_id: str | None = None,
        photo_ids: Sequence[int] | None = None,
        after_steps: Sequence[str] = (),
    ) -> list[int]:
        """Ids of photos owed ``step``, by id, at most ``limit``; page with ``after_id``.

        ``model_id``: only rows needing that model's vector (or none). ``photo_ids``: only
        those photos. ``after_steps``: leave out photos still owed one of these earlier steps
        (unless it failed :data:`BLOCKING_ATTEMPTS` times), so a photo's steps run in order.
        """
        where = "s.step = ? AND s.photo_id > ?"
        params: list[object] = [step, after_id]
        clause, extra = _model_clause(model_id)
        where += clause
        params += extra
        if after_steps:
            where += (
                " AND NOT EXISTS (SELECT 1 FROM photo_steps e WHERE e.photo_id = s.photo_id "
                f"AND e.step IN ({marks(len(after_steps))}) AND e.attempts < ?)"
            )
            params += [*after_steps, BLOCKING_ATTEMPTS]
        sql = f"SELECT s.photo_id FROM photo_steps s WHERE {where}"
        if photo_ids is None:
            tail = " ORDER BY s.photo_id" + (f" LIMIT {int(limit)}" if limit is not None else "")
            return [int(r[0]) for r in self.query(sql + tail, params)]
        found: list[int] = []
        for part in chunks(sorted({int(i) for i in photo_ids})):
            rows = self.query(f"{sql} AND s.photo_id IN ({marks(len(part))})", [*params, *part])
            found += [int(r[0]) for r in rows]
        found.sort()
        return found[:limit] if limit is not None else found

    def finish_step(self, photo_ids: Iterable[int], step: str) -> int:
        """The step is done for these photos: call it in the transaction that wrote its result."""
        ids = sorted({int(i) for i in photo_ids})
        done = 0
        with self.transaction() as conn:
            for part in chunks(ids):
                done += conn.execute(
                    f"DELETE FROM photo_steps WHERE step = ? AND photo_id IN ({marks(len(part))})",
                    (step, *part),
                ).rowcount
        return done

    def fail_step(self, photo_ids: Iterable[int], step: str, reason: str) -> None:
        """An attempt failed: the photos stay owed the step, with one more attempt and the
        reason kept for the user."""
        ids = sorted({int(i) for i in photo_ids})
        now = time.time()
        with self.transaction() as conn:
            for part in chunks(ids):
                conn.execute(
                    "UPDATE photo_steps SET attempts = attempts + 1, error = ?, updated_at = ? "
                    f"WHERE step = ? AND photo_id IN ({marks(len(part))})",
                    (reason, now, step, *part),
                )

    def count_steps(self, model_id: str | None = None) -> dict[str, StepCount]:
        """What is owed, by step (``model_id``: only rows runnable with that model's vectors)."""
        clause, params = _model_clause(model_id)
        rows = self.query(
            "SELECT s.step, count(*) AS waiting, "
            "sum(CASE WHEN s.attempts > 0 THEN 1 ELSE 0 END) AS failed, "
            "(SELECT e.error FROM photo_steps e WHERE e.step = s.step AND e.error IS NOT NULL "
            " ORDER BY e.updated_at DESC LIMIT 1) AS last_error "
            f"FROM photo_steps s WHERE 1 = 1{clause} GROUP BY s.step ORDER BY s.step",
            params,
        )
        return {
            str(r["step"]): StepCount(
                str(r["step"]), int(r["waiting"]), int(r["failed"] or 0), r["last_error"]
            )
            for r in rows
        }

    def discard_other_model_steps(self, model_id: str) -> int:
        """Forget steps that wait for the vectors of a model other than ``model_id`` (search
        moved to ``model_id``: those vectors are never used)."""
        with self.transaction() as conn:
            return conn.execute(
                "DELETE FROM photo_steps WHERE model_id IS NOT NULL AND model_id != ?",
                (model_id,),
            ).rowcount
