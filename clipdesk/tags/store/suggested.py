"""How many of a page of photos' tags are the model's suggestions only (no user decision): what a
grid's thumbnail marks as "suggested", read with each page of rows (one grouped query over the
primary key, so a page of 300 costs well under a millisecond whatever the library's size)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from clipdesk.tags.records import TagState, chunks, marks

if TYPE_CHECKING:
    from clipdesk.tags.store.tag_store import TagStore


def suggested_counts(
    store: TagStore, photo_ids: Sequence[int], focus: Sequence[str] = ()
) -> dict[int, int]:
    """{photo id: how many of its tags are suggestions only} for the photos that have any.

    ``focus``: tag expressions a grid is filtered by (``Scene|beach``, ``Scene|*``; ``!`` terms
    are ignored: a photo shown for lacking a tag has none to mark); only their labels count,
    so a photo found by a confirmed tag is not marked for a suggestion of another label."""
    label_ids: list[int] = []
    for expr in focus:
        for term in (t.strip() for t in expr.split(",")):
            if term and not term.startswith("!"):
                label_ids += store._term_label_ids(term)
    if focus and not label_ids:
        return {}
    out: dict[int, int] = {}
    for part in chunks([int(p) for p in photo_ids]):
        sql = (
            f"SELECT photo_id, count(*) FROM photo_tags WHERE photo_id IN ({marks(len(part))}) "
            "AND state = ?"
        )
        params: list[object] = [*part, TagState.SUGGESTED.value]
        if label_ids:
            sql += f" AND label_id IN ({marks(len(label_ids))})"
            params += label_ids
        for pid, n in store.lib.query(sql + " GROUP BY photo_id", params):
            out[int(pid)] = int(n)
    return out
