"""Decision steps: what one user action changed in ``photo_tags``, so that undo can put it back.

A step is one transaction: the rows it may touch are read, the decisions written and the rows read
again inside it, so the record is exactly what the action changed. Confirming in a single-choice
category also rejects the photo's other confirmed label there and drops the model's other
suggestions, so a step on such a category records every label of the category on its photos.

Undo restores each row as it was (state, score, model, time; a row that did not exist goes
again), in one transaction, except a row whose state changed since the step (decided again in
the photo view, a recompute that re-suggested a dropped label): the later change wins, as a
decision made while the model computes wins over the model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clipdesk.tags.categories import Mode
from clipdesk.tags.records import USER_STATES, TagState, chunks, marks

if TYPE_CHECKING:
    import sqlite3

    from clipdesk.tags.store.tag_store import TagStore


@dataclass(frozen=True)
class StoredTag:
    """One ``photo_tags`` row's values."""

    state: TagState
    score: float | None
    model_id: str | None
    updated_at: float | None


@dataclass(frozen=True)
class TagChange:
    """One (photo, label) row a step changed: its values before (None: no row) and after."""

    photo_id: int
    label_id: int
    before: StoredTag | None
    after: StoredTag | None


@dataclass(frozen=True)
class DecisionStep:
    """One user action on one tag (a Review key, a batch, the grid's tag action): the decisions
    made and every row they changed, for :meth:`clipdesk.services.tags.TagService.undo`."""

    category: str
    label: str
    decisions: tuple[tuple[int, TagState], ...]  # (photo id, decision), in the order given
    changes: tuple[TagChange, ...]

    @property
    def photo_ids(self) -> tuple[int, ...]:
        return tuple(pid for pid, _state in self.decisions)

    def count(self, state: TagState | str) -> int:
        """How many photos got that decision."""
        wanted = TagState(state)
        return sum(1 for _pid, s in self.decisions if s is wanted)

    def describe(self) -> str:
        """``confirmed Scene|beach on 48 photos, rejected it on 2``: for an undo message."""
        parts: list[str] = []
        for state in (TagState.CONFIRMED, TagState.REJECTED, TagState.IMPORTED):
            n = self.count(state)
            if n:
                what = f"{self.category}|{self.label}" if not parts else "it"
                parts.append(f"{state.value} {what} on {n:,} photo{'s' * (n != 1)}")
        return ", ".join(parts) or f"no decision on {self.category}|{self.label}"


def decide_step(
    store: TagStore, category: str, label: str, decisions: Mapping[TagState, Iterable[int]]
) -> DecisionStep:
    """Write ``{decision: photo ids}`` on one tag in one transaction; the step says what changed.
    A photo named under two decisions is an error: the caller means one of them."""
    cat = store.category(category)
    label_name = cat.label(label).name
    ids = store.label_ids(cat.name)
    groups = {TagState(s): sorted({int(p) for p in pids}) for s, pids in decisions.items()}
    for state in groups:
        if state not in USER_STATES:
            raise ValueError(f"{state} is not a user decision")
    seen: dict[int, TagState] = {}
    for state, pids in groups.items():
        for pid in pids:
            if pid in seen:
                raise ValueError(f"photo {pid} is given both {seen[pid]} and {state}")
            seen[pid] = state
    touched = sorted(ids.values()) if cat.mode is Mode.SINGLE else [ids[label_name]]
    photos = sorted(seen)
    with store.lib.transaction() as conn:
        before = _rows(conn, photos, touched)
        for state, pids in groups.items():
            if pids:
                store.set_decision(pids, cat.name, label_name, state)
        after = _rows(conn, photos, touched)
    keys = sorted(before.keys() | after.keys())
    changes = tuple(
        TagChange(pid, lid, before.get((pid, lid)), after.get((pid, lid)))
        for pid, lid in keys
        if before.get((pid, lid)) != after.get((pid, lid))
    )
    given = tuple((pid, s) for s, pids in groups.items() for pid in pids)
    return DecisionStep(cat.name, label_name, given, changes)


def undo_step(store: TagStore, step: DecisionStep) -> int:
    """Put back every row the step changed, unless its state changed since (see the module
    docstring); one transaction. Returns how many rows were put back."""
    restored = 0
    with store.lib.transaction() as conn:
        for change in step.changes:
            row = conn.execute(
                "SELECT state FROM photo_tags WHERE photo_id = ? AND label_id = ?",
                (change.photo_id, change.label_id),
            ).fetchone()
            now = None if row is None else TagState(row[0])
            if now != (None if change.after is None else change.after.state):
                continue  # changed since: the later change wins
            old = change.before
            if old is None:
                conn.execute(
                    "DELETE FROM photo_tags WHERE photo_id = ? AND label_id = ?",
                    (change.photo_id, change.label_id),
                )
            else:
                conn.execute(
                    "INSERT INTO photo_tags(photo_id, label_id, state, score, model_id, "
                    "updated_at) VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(photo_id, label_id) DO "
                    "UPDATE SET state = excluded.state, score = excluded.score, "
                    "model_id = excluded.model_id, updated_at = excluded.updated_at",
                    (
                        change.photo_id,
                        change.label_id,
                        old.state.value,
                        old.score,
                        old.model_id,
                        old.updated_at,
                    ),
                )
            restored += 1
    return restored


def _rows(
    conn: sqlite3.Connection, photo_ids: Sequence[int], label_ids: Sequence[int]
) -> dict[tuple[int, int], StoredTag]:
    out: dict[tuple[int, int], StoredTag] = {}
    # labels per category are bounded (MAX_LABELS_PER_CATEGORY), photos are chunked
    for part in chunks(list(photo_ids), 400):
        rows = conn.execute(
            f"SELECT photo_id, label_id, state, score, model_id, updated_at FROM photo_tags "
            f"WHERE photo_id IN ({marks(len(part))}) AND label_id IN ({marks(len(label_ids))})",
            [*part, *label_ids],
        )
        for r in rows:
            out[(int(r[0]), int(r[1]))] = StoredTag(TagState(r[2]), r[3], r[4], r[5])
    return out
