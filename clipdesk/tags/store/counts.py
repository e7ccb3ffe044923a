"""How many photos carry each label, as the user decided and as the model suggests: the tag
panel's tree (category › label) and ``clipdesk-cli tags counts`` read the same one grouped query."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from clipdesk.tags.records import CONFIRMED_STATES, TagState, marks

if TYPE_CHECKING:
    from clipdesk.library.store import Library


@dataclass(frozen=True)
class LabelCount:
    """One label with its photos: ``confirmed`` counts the user's tags (confirmed or imported
    from XMP), ``suggested`` the model's tags the user has not decided on."""

    category: str
    label: str
    auto: bool  # the model suggests the category's labels
    confirmed: int
    suggested: int

    @property
    def tagged(self) -> int:
        """Photos the label is a tag of (what the search filter on it finds)."""
        return self.confirmed + self.suggested


def label_counts(lib: Library) -> list[LabelCount]:
    """Every label, in category and label order, with its counts (zero for an unused label)."""
    rows = lib.query(
        f"SELECT c.name, l.name, c.auto, "
        f"count(CASE WHEN t.state IN ({marks(len(CONFIRMED_STATES))}) THEN 1 END), "
        f"count(CASE WHEN t.state = ? THEN 1 END) "
        f"FROM categories c JOIN labels l ON l.category_id = c.id "
        f"LEFT JOIN photo_tags t ON t.label_id = l.id "
        f"GROUP BY l.id ORDER BY c.position, c.id, l.position, l.id",
        [*(s.value for s in CONFIRMED_STATES), TagState.SUGGESTED.value],
    )
    return [LabelCount(str(r[0]), str(r[1]), bool(r[2]), int(r[3]), int(r[4])) for r in rows]
