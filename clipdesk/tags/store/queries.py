"""Per-photo tag queries of :class:`clipdesk.tags.store.tag_store.TagStore` (a mixin).

Writing the model's proposal, the user's decisions, the review list, photos of a tag by score,
and tag expressions for search filters (``Scene|beach``, ``Scene|*``, ``!Pets|dog``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from clipdesk.tags.categories import HIERARCHY_SEP, KEYWORDS_CATEGORY, CategoryError, Mode
from clipdesk.tags.records import (
    CONFIRMED_STATES,
    MODEL_STATES,
    TAGGED_STATES,
    USER_STATES,
    PhotoTag,
    TagState,
    chunks,
    marks,
)

if TYPE_CHECKING:
    import sqlite3

    from clipdesk.library.store import Library
    from clipdesk.tags.categories import Category
    from clipdesk.tags.zero_shot import Proposal

_TAG_COLUMNS = (
    "t.photo_id, c.name AS category, l.name AS label, t.state, t.score, t.model_id, "
    "CASE WHEN c.mode = 'multi' AND l.threshold IS NOT NULL THEN l.threshold "
    "ELSE c.threshold END AS eff_threshold"
)
_TAG_JOIN = (
    "photo_tags t JOIN labels l ON l.id = t.label_id JOIN categories c ON c.id = l.category_id"
)


def _tag(row: sqlite3.Row) -> PhotoTag:
    return PhotoTag(
        row["photo_id"],
        row["category"],
        row["label"],
        TagState(row["state"]),
        row["score"],
        row["eff_threshold"],
        row["model_id"],
    )


class PhotoTagQueries:
    """Mixed into TagStore, which provides the library and the category look-ups below."""

    lib: Library

    if TYPE_CHECKING:

        def category(self, name: str) -> Category: ...

        def label_ids(self, category: str) -> dict[str, int]: ...

    # --- the model's side ------------------------------------------------------------------

    def decisions(
        self, label_ids: Sequence[int], photo_ids: Sequence[int] | None = None
    ) -> list[tuple[int, int, str]]:
        """(photo id, label id, state) of every user decision on these labels."""
        sql = (
            f"SELECT photo_id, label_id, state FROM photo_tags WHERE state IN ({marks(3)}) "
            f"AND label_id IN ({marks(len(label_ids))})"
        )
        params = [*USER_STATES, *label_ids]
        if photo_ids is None:
            return [tuple(r) for r in self.lib.query(sql, params)]
        out: list[tuple[int, int, str]] = []
        for part in chunks(list(photo_ids)):
            out += [
                tuple(r)
                for r in self.lib.query(
                    f"{sql} AND photo_id IN ({marks(len(part))})", [*params, *part]
                )
            ]
        return out

    def write_proposal(
        self,
        label_ids: Sequence[int],
        model_id: str,
        photo_ids: np.ndarray,
        proposal: Proposal,
        scores: np.ndarray,
        whole_library: bool,
    ) -> None:
        """Replace the model's tags on these labels for these photos (all photos when
        ``whole_library``) by ``proposal``; refresh the score of user-decided tags from ``scores``
        [photos, labels]. User states are never changed."""
        now = time.time()
        ids = [int(i) for i in label_ids]
        rows = [
            (
                int(photo_ids[r]),
                ids[c],
                (TagState.SUGGESTED if a else TagState.CANDIDATE).value,
                float(s),
                model_id,
                now,
            )
            for r, c, s, a in zip(
                proposal.rows.tolist(),
                proposal.cols.tolist(),
                proposal.scores.tolist(),
                proposal.assigned.tolist(),
                strict=True,
            )
        ]
        col_of = {lid: i for i, lid in enumerate(ids)}
        with self.lib.transaction() as conn:
            base = (
                f"DELETE FROM photo_tags WHERE state IN ({marks(2)}) "
                f"AND label_id IN ({marks(len(ids))})"
            )
            if whole_library:
                conn.execute(base, (*MODEL_STATES, *ids))
            else:
                for part in chunks([int(p) for p in photo_ids]):
                    conn.execute(
                        f"{base} AND photo_id IN ({marks(len(part))})", (*MODEL_STATES, *ids, *part)
                    )
            # A decision made while we computed wins: DO NOTHING keeps the user's row.
            conn.executemany(
                "INSERT INTO photo_tags(photo_id, label_id, state, score, model_id, updated_at) "
                "VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(photo_id, label_id) DO NOTHING",
                rows,
            )
            user = self.decisions(ids, None if whole_library else photo_ids.tolist())
            if user:
                pos = np.searchsorted(photo_ids, [u[0] for u in user])
                updates = []
                for (pid, lid, _), p in zip(user, pos.tolist(), strict=True):
                    if p < len(photo_ids) and photo_ids[p] == pid:
                        updates.append((float(scores[p, col_of[lid]]), model_id, pid, lid))
                conn.executemany(
                    "UPDATE photo_tags SET score = ?, model_id = ? "
                    "WHERE photo_id = ? AND label_id = ?",
                    updates,
                )

    # --- the user's side -------------------------------------------------------------------

    def set_decision(
        self, photo_ids: Iterable[int], category: str, label: str, state: TagState | str
    ) -> int:
        """Confirm, reject or import a tag on photos; returns how many photos were changed.

        Confirming in a single-choice category rejects the photo's other confirmed label there
        and drops the model's other suggestions: a photo has one label in such a category.
        """
        state = TagState(state)
        if state not in USER_STATES:
            raise ValueError(f"{state} is not a user decision")
        cat = self.category(category)
        label_name = cat.label(label).name
        ids = self.label_ids(cat.name)
        lid = ids[label_name]
        others = [i for i in ids.values() if i != lid]
        photos = sorted({int(p) for p in photo_ids})
        now = time.time()
        with self.lib.transaction() as conn:
            for part in chunks(photos):
                conn.executemany(
                    "INSERT INTO photo_tags(photo_id, label_id, state, updated_at) VALUES(?, ?, ?, ?) "
                    "ON CONFLICT(photo_id, label_id) DO UPDATE SET state = excluded.state, "
                    "updated_at = excluded.updated_at",
                    [(p, lid, state.value, now) for p in part],
                )
                if cat.mode is Mode.SINGLE and state is not TagState.REJECTED and others:
                    where = (
                        f"label_id IN ({marks(len(others))}) AND photo_id IN ({marks(len(part))})"
                    )
                    conn.execute(
                        f"DELETE FROM photo_tags WHERE state IN ({marks(2)}) AND {where}",
                        (*MODEL_STATES, *others, *part),
                    )
                    conn.execute(
                        f"UPDATE photo_tags SET state = ?, updated_at = ? WHERE state IN "
                        f"({marks(2)}) AND {where}",
                        (TagState.REJECTED.value, now, *CONFIRMED_STATES, *others, *part),
                    )
        return len(photos)

    def clear_decision(self, photo_ids: Iterable[int], category: str, label: str) -> None:
        """Forget the user's decision: the tag is the model's again at the next recompute."""
        cat = self.category(category)
        lid = self.label_ids(cat.name)[cat.label(label).name]
        with self.lib.transaction() as conn:
            for part in chunks(sorted({int(p) for p in photo_ids})):
                conn.execute(
                    f"UPDATE photo_tags SET state = ? WHERE label_id = ? AND state IN "
                    f"({marks(3)}) AND score IS NOT NULL AND photo_id IN ({marks(len(part))})",
                    (TagState.CANDIDATE.value, lid, *USER_STATES, *part),
                )
                conn.execute(
                    f"DELETE FROM photo_tags WHERE label_id = ? AND state IN ({marks(3)}) "
                    f"AND photo_id IN ({marks(len(part))})",
                    (lid, *USER_STATES, *part),
                )

    def import_tags(self, rows: Sequence[tuple[int, int]]) -> int:
        """Mark (photo id, label id) pairs as ``imported`` (keywords read from XMP); a user's own
        decision is kept, the model's tag is replaced. Returns how many rows changed."""
        if not rows:
            return 0
        now = time.time()
        with self.lib.transaction() as conn:
            # rowcount, not total_changes: that also counts what triggers write (the words
            # index's queue of photos, clipdesk.library.words)
            return conn.executemany(
                "INSERT INTO photo_tags(photo_id, label_id, state, updated_at) "
                "VALUES(?, ?, ?, ?) ON CONFLICT(photo_id, label_id) "
                f"DO UPDATE SET state = excluded.state WHERE state IN ({marks(2)})",
                [
                    (int(pid), int(lid), TagState.IMPORTED.value, now, *MODEL_STATES)
                    for pid, lid in rows
                ],
            ).rowcount

    # --- reading ---------------------------------------------------------------------------

    def tagged_photo_ids(self) -> list[int]:
        """Every photo with at least one row in photo_tags (any state), by id."""
        return [
            int(r[0])
            for r in self.lib.query("SELECT DISTINCT photo_id FROM photo_tags ORDER BY photo_id")
        ]

    def category_decisions(self, category: str) -> list[tuple[int, str, TagState]]:
        """(photo id, label name, state) of every user decision in a category, oldest first."""
        rows = self.lib.query(
            f"SELECT t.photo_id, l.name, t.state FROM {_TAG_JOIN} "
            f"WHERE c.name = ? AND t.state IN ({marks(len(USER_STATES))}) ORDER BY t.updated_at",
            (category, *USER_STATES),
        )
        return [(int(r[0]), str(r[1]), TagState(r[2])) for r in rows]

    def decided_photo_ids(self, category: str) -> list[int]:
        """Photos with a user decision on any label of a category."""
        return sorted({pid for pid, _label, _state in self.category_decisions(category)})

    def tags_of(self, photo_id: int, states: Sequence[str] | None = None) -> list[PhotoTag]:
        sql = f"SELECT {_TAG_COLUMNS} FROM {_TAG_JOIN} WHERE t.photo_id = ?"
        params: list[object] = [int(photo_id)]
        if states is not None:
            sql += f" AND t.state IN ({marks(len(states))})"
            params += [str(s) for s in states]
        sql += " ORDER BY c.position, c.id, l.position"
        return [_tag(r) for r in self.lib.query(sql, params)]

    def photos_with_tag(
        self,
        category: str,
        label: str,
        states: Sequence[str] = TAGGED_STATES,
        limit: int | None = None,
    ) -> list[PhotoTag]:
        """Photos carrying a tag, highest score first (user tags without a score last)."""
        cat = self.category(category)
        lid = self.label_ids(cat.name)[cat.label(label).name]
        sql = (
            f"SELECT {_TAG_COLUMNS} FROM {_TAG_JOIN} WHERE t.label_id = ? AND t.state IN "
            f"({marks(len(states))}) ORDER BY t.score IS NULL, t.score DESC, t.photo_id"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_tag(r) for r in self.lib.query(sql, [lid, *[str(s) for s in states]])]

    def review_list(
        self, category: str | None = None, label: str | None = None, limit: int = 100
    ) -> list[PhotoTag]:
        """The model's tags and near-misses nearest their threshold: the ones worth a look."""
        sql = (
            f"SELECT {_TAG_COLUMNS} FROM {_TAG_JOIN} WHERE t.state IN ({marks(2)}) "
            "AND t.score IS NOT NULL"
        )
        params: list[object] = [*MODEL_STATES]
        if category is not None:
            cat = self.category(category)
            sql += " AND c.name = ?"
            params.append(cat.name)
            if label is not None:
                sql += " AND l.name = ?"
                params.append(cat.label(label).name)
        sql += f" ORDER BY abs(t.score - eff_threshold), t.photo_id LIMIT {int(limit)}"
        return [_tag(r) for r in self.lib.query(sql, params)]

    def tag_counts(self) -> dict[tuple[str, str], dict[str, int]]:
        """{(category, label): {state: count}}."""
        rows = self.lib.query(
            "SELECT c.name, l.name, t.state, count(*) FROM photo_tags t JOIN labels l ON "
            "l.id = t.label_id JOIN categories c ON c.id = l.category_id GROUP BY t.label_id, t.state"
        )
        out: dict[tuple[str, str], dict[str, int]] = {}
        for c, lab, state, n in rows:
            out.setdefault((c, lab), {})[state] = n
        return out

    # --- filters for search -----------------------------------------------------------------

    def _term_label_ids(self, term: str) -> list[int]:
        if HIERARCHY_SEP in term:
            cat_name, label = (p.strip() for p in term.split(HIERARCHY_SEP, 1))
            try:
                cat = self.category(cat_name)
            except CategoryError:
                # an imported hierarchical keyword ("Places|France") lives in Keywords
                ids = self.label_ids(KEYWORDS_CATEGORY)
                match = [i for n, i in ids.items() if n.casefold() == term.casefold()]
                if match:
                    return match
                raise
            ids = self.label_ids(cat.name)
            return list(ids.values()) if label == "*" else [ids[cat.label(label).name]]
        rows = self.lib.query(
            "SELECT l.id, c.name FROM labels l JOIN categories c ON c.id = l.category_id "
            "WHERE l.name = ?",
            (term,),
        )
        if not rows:
            raise CategoryError(
                f"no label is called {term!r}",
                "write 'Category|label' (or 'Category|*' for any label)",
            )
        if len(rows) > 1:
            options = ", ".join(f"{r[1]}|{term}" for r in rows)
            raise CategoryError(
                f"the label {term!r} is in several categories", f"write one of: {options}"
            )
        return [int(rows[0][0])]

    def _ids_with(self, label_ids: list[int], states: Sequence[str]) -> np.ndarray:
        rows = self.lib.query(
            f"SELECT DISTINCT photo_id FROM photo_tags WHERE label_id IN ({marks(len(label_ids))}) "
            f"AND state IN ({marks(len(states))})",
            [*label_ids, *states],
        )
        return np.array(sorted(r[0] for r in rows), dtype=np.int64)

    def allowed_ids(
        self, expressions: Sequence[str], confirmed_only: bool = False
    ) -> np.ndarray | None:
        """Sorted photo ids matching every expression (AND), or None for "no filter".

        An expression is terms joined by ``,`` (OR); a term is ``Category|label``,
        ``Category|*`` (any label), a label name unique across categories, or any of these
        after ``!`` (NOT). Example: ``["Scene|beach,Scene|city", "!Pets|dog"]``.
        """
        states = [str(s) for s in (CONFIRMED_STATES if confirmed_only else TAGGED_STATES)]
        result: np.ndarray | None = None
        excluded: list[np.ndarray] = []
        for expr in expressions:
            terms = [t.strip() for t in expr.split(",") if t.strip()]
            if not terms:
                continue
            negated = [t[1:].strip() for t in terms if t.startswith("!")]
            positive = [t for t in terms if not t.startswith("!")]
            if negated and positive:
                raise CategoryError(
                    f"tag filter {expr!r} mixes '!' and plain terms in one OR",
                    "give each negated tag as a filter of its own",
                    cli_hint="give negations as separate --tag options",
                )
            ids = sorted({i for t in (negated or positive) for i in self._term_label_ids(t)})
            found = self._ids_with(ids, states)
            if negated:
                excluded.append(found)
            else:
                result = found if result is None else np.intersect1d(result, found)
        if excluded:
            if result is None:
                result = np.array(
                    sorted(r[0] for r in self.lib.query("SELECT id FROM photos")), dtype=np.int64
                )
            for ex in excluded:
                result = np.setdiff1d(result, ex, assume_unique=True)
        return result
