"""The user's decisions (confirmed and rejected tags) read out of one library and written into
another: the SQL behind ``clipdesk-cli library export-decisions`` / ``import-decisions``.

Reading gives each decision with its photo's path and content hash; writing takes decisions
already matched to this library's photos and labels, in one transaction. A decision the target
library already holds on the same photo and label is kept unless ``replace`` (nothing a user
decided is overwritten silently); so is a confirmed label of a single-choice category when the
photo already has another one confirmed there.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clipdesk.common.fsnames import sql_text
from clipdesk.tags.categories import Mode
from clipdesk.tags.records import (
    CONFIRMED_STATES,
    MODEL_STATES,
    USER_STATES,
    TagState,
    chunks,
    marks,
)

if TYPE_CHECKING:
    import sqlite3

    from clipdesk.library.store import Library

EXPORTED_STATES = (TagState.CONFIRMED, TagState.REJECTED)


@dataclass(frozen=True)
class DecisionRow:
    """One decision as it leaves a library: which photo (path and content), which tag, what."""

    path: str
    content_hash: str | None
    category: str
    label: str
    state: TagState


@dataclass(frozen=True)
class LabelRef:
    label_id: int
    category_id: int
    category: str
    label: str
    single: bool


@dataclass(frozen=True)
class DecisionsWritten:
    applied: int  # written (new, or replacing another decision with ``replace``)
    unchanged: int  # the library already had exactly this decision
    kept: int  # the library's own different decision was kept (no ``replace``)


def user_decisions(lib: Library) -> list[DecisionRow]:
    """Every confirmed or rejected tag of the library, by photo path, in category order."""
    rows = lib.query(
        f"SELECT p.path, p.content_hash, c.name AS category, l.name AS label, t.state "
        f"FROM photo_tags t JOIN labels l ON l.id = t.label_id "
        f"JOIN categories c ON c.id = l.category_id JOIN photos p ON p.id = t.photo_id "
        f"WHERE t.state IN ({marks(len(EXPORTED_STATES))}) "
        f"ORDER BY p.path, c.position, c.id, l.position, l.id",
        [s.value for s in EXPORTED_STATES],
    )
    return [
        DecisionRow(r["path"], r["content_hash"], r["category"], r["label"], TagState(r["state"]))
        for r in rows
    ]


def labels_by_name(lib: Library) -> dict[tuple[str, str], LabelRef]:
    """{(category casefold, label casefold): label} of every label of the library."""
    rows = lib.query(
        "SELECT l.id, l.category_id, c.name AS category, l.name AS label, c.mode "
        "FROM labels l JOIN categories c ON c.id = l.category_id"
    )
    return {
        (str(r["category"]).casefold(), str(r["label"]).casefold()): LabelRef(
            int(r["id"]),
            int(r["category_id"]),
            str(r["category"]),
            str(r["label"]),
            r["mode"] == Mode.SINGLE.value,
        )
        for r in rows
    }


def photos_by_hash(lib: Library, hashes: Iterable[str]) -> dict[str, list[tuple[int, str]]]:
    """{content hash: [(photo id, path)]} for photos of the library with those hashes."""
    out: dict[str, list[tuple[int, str]]] = {}
    for part in chunks(sorted(set(hashes))):
        rows = lib.query(
            f"SELECT id, path, content_hash FROM photos WHERE content_hash IN ({marks(len(part))}) "
            f"ORDER BY id",
            list(part),
        )
        for r in rows:
            out.setdefault(r["content_hash"], []).append((int(r["id"]), str(r["path"])))
    return out


def photos_by_path(lib: Library, paths: Iterable[str]) -> dict[str, int]:
    """{path: photo id} for the photos of the library at those paths."""
    out: dict[str, int] = {}
    for part in chunks(sorted(set(paths))):
        casts = ",".join(["CAST(? AS TEXT)"] * len(part))
        rows = lib.query(
            f"SELECT id, path FROM photos WHERE path IN ({casts})", [sql_text(p) for p in part]
        )
        out.update({str(r["path"]): int(r["id"]) for r in rows})
    return out


def write_decisions(
    lib: Library,
    decisions: Sequence[tuple[int, LabelRef, TagState]],
    *,
    replace: bool = False,
) -> DecisionsWritten:
    """Write (photo id, label, confirmed|rejected) decisions in one transaction (see the module
    docstring for what is kept). Confirming in a single-choice category rejects the photo's
    other confirmed label there (with ``replace``) and drops the model's other suggestions, as
    a decision made in the app does."""
    applied = unchanged = kept = 0
    now = time.time()
    photo_ids = sorted({pid for pid, _, _ in decisions})
    with lib.transaction() as conn:
        existing: dict[tuple[int, int], str] = {}
        by_category: dict[tuple[int, int], list[tuple[int, str]]] = {}
        for part in chunks(photo_ids):
            for r in conn.execute(
                f"SELECT t.photo_id, t.label_id, l.category_id, t.state FROM photo_tags t "
                f"JOIN labels l ON l.id = t.label_id WHERE t.state IN ({marks(len(USER_STATES))}) "
                f"AND t.photo_id IN ({marks(len(part))})",
                [*(s.value for s in USER_STATES), *part],
            ):
                existing[(r[0], r[1])] = r[3]
                by_category.setdefault((r[0], r[2]), []).append((r[1], r[3]))
        for pid, label, state in decisions:
            had = existing.get((pid, label.label_id))
            if had == state.value:
                unchanged += 1
                continue
            rivals = []
            if label.single and state is TagState.CONFIRMED:
                rivals = [
                    lid
                    for lid, st in by_category.get((pid, label.category_id), [])
                    if lid != label.label_id and st in {s.value for s in CONFIRMED_STATES}
                ]
            if (had is not None or rivals) and not replace:
                kept += 1
                continue
            conn.execute(
                "INSERT INTO photo_tags(photo_id, label_id, state, updated_at) VALUES(?, ?, ?, ?) "
                "ON CONFLICT(photo_id, label_id) DO UPDATE SET state = excluded.state, "
                "updated_at = excluded.updated_at",
                (pid, label.label_id, state.value, now),
            )
            existing[(pid, label.label_id)] = state.value
            entries = by_category.setdefault((pid, label.category_id), [])
            entries[:] = [(lid, st) for lid, st in entries if lid != label.label_id]
            entries.append((label.label_id, state.value))
            if label.single and state is TagState.CONFIRMED:
                _one_label_in_single(conn, pid, label, rivals, now)
                entries[:] = [
                    (lid, TagState.REJECTED.value if lid in rivals else st) for lid, st in entries
                ]
            applied += 1
    return DecisionsWritten(applied, unchanged, kept)


def _one_label_in_single(
    conn: sqlite3.Connection, photo_id: int, label: LabelRef, rivals: list[int], now: float
) -> None:
    """A photo has one label in a single-choice category: the model's other suggestions go,
    and the user's other confirmed labels there become rejected."""
    conn.execute(
        f"DELETE FROM photo_tags WHERE photo_id = ? AND state IN ({marks(len(MODEL_STATES))}) "
        f"AND label_id IN (SELECT id FROM labels WHERE category_id = ? AND id != ?)",
        (photo_id, *(s.value for s in MODEL_STATES), label.category_id, label.label_id),
    )
    for part in chunks(rivals):
        conn.execute(
            f"UPDATE photo_tags SET state = ?, updated_at = ? WHERE photo_id = ? "
            f"AND label_id IN ({marks(len(part))})",
            (TagState.REJECTED.value, now, photo_id, *part),
        )
