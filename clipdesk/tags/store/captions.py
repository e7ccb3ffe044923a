"""The tags fine-tuning phrases as captions: every confirmed or imported tag of an indexed photo,
with its category's prompt templates (read by :mod:`clipdesk.training.captions`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clipdesk.library import stored_json
from clipdesk.library.records import PhotoStatus
from clipdesk.tags.records import CONFIRMED_STATES

if TYPE_CHECKING:
    from clipdesk.library.store import Library

# (label, category, the category's prompt templates), in the category's and label's order
CaptionTag = tuple[str, str, list[str]]


def confirmed_tags_by_photo(library: Library) -> dict[int, list[CaptionTag]]:
    """{photo id: its confirmed and imported tags}, photos that are indexed (status ok) only."""
    states = [str(s) for s in CONFIRMED_STATES]
    with library.reading() as conn:
        rows = conn.execute(
            "SELECT t.photo_id, l.name, c.name, c.templates FROM photo_tags t "
            "JOIN labels l ON l.id = t.label_id JOIN categories c ON c.id = l.category_id "
            "JOIN photos p ON p.id = t.photo_id "
            f"WHERE t.state IN ({', '.join('?' for _ in states)}) AND p.status = ? "
            "ORDER BY t.photo_id, c.position, l.position",
            (*states, str(PhotoStatus.OK)),
        ).fetchall()
    by_photo: dict[int, list[CaptionTag]] = {}
    for pid, label, category, templates in rows:
        stored = stored_json.loads_list(templates, library.path, f"the templates of {category!r}")
        by_photo.setdefault(int(pid), []).append((label, category, stored))
    return by_photo
