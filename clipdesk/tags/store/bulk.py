"""One tag action on many photos at once (the grid's selection, ``clipdesk-cli tags add``): add or
remove a label, confirm or reject the model's suggestion of it.

Every action is a user decision written through :func:`clipdesk.tags.store.steps.decide_step`,
so it is one transaction and comes back as the :class:`DecisionStep` undo takes:

- *add*: the label is confirmed on every photo that does not carry it as the user's yet (a
  photo whose keyword was imported from XMP keeps it as imported); a new label is created in a
  manual category (the user's keywords), never in one the model suggests: its labels are the
  category's definition, edited in the Tags page;
- *remove*: every photo carrying the label (suggested, confirmed or imported) gets it rejected,
  so the model does not suggest it again and writing XMP takes the keyword out of the sidecar;
- *confirm* / *reject*: only where the label is the model's suggestion; the user's own decisions
  on the other photos stay as they are.

Which photos change is read inside the same transaction as the writes, so a decision made
elsewhere meanwhile is never overwritten by a stale choice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from clipdesk.common.errors import ClipDeskError
from clipdesk.tags.categories import KEYWORDS_CATEGORY, CategoryError
from clipdesk.tags.records import CONFIRMED_STATES, TAGGED_STATES, TagState, chunks, marks
from clipdesk.tags.store.steps import DecisionStep, decide_step

if TYPE_CHECKING:
    import sqlite3

    from clipdesk.tags.store.tag_store import TagStore


# How the faces write a tag for people ("Pets › dog"); "Pets|dog" is its form in XMP and filters.
LABEL_ARROW = " › "


class BulkAction(StrEnum):
    ADD = "add"
    REMOVE = "remove"
    CONFIRM = "confirm"  # the model's suggestion, where it is one
    REJECT = "reject"  # the model's suggestion, where it is one


# the decision each action writes, and the states (None: no row) of the photos it changes
_WRITES: dict[BulkAction, TagState] = {
    BulkAction.ADD: TagState.CONFIRMED,
    BulkAction.REMOVE: TagState.REJECTED,
    BulkAction.CONFIRM: TagState.CONFIRMED,
    BulkAction.REJECT: TagState.REJECTED,
}
_PAST = {
    BulkAction.ADD: "added",
    BulkAction.REMOVE: "removed",
    BulkAction.CONFIRM: "confirmed",
    BulkAction.REJECT: "rejected",
}


@dataclass(frozen=True)
class BulkTagging:
    """What one tag action on many photos did; ``step`` is what undo takes back."""

    action: BulkAction
    step: DecisionStep
    asked: int  # photos the action was given
    created: bool  # the label (and perhaps its manual category) was new

    @property
    def changed(self) -> int:
        return len(self.step.decisions)

    @property
    def unchanged(self) -> int:
        return self.asked - self.changed

    @property
    def tag(self) -> str:
        return f"{self.step.category}|{self.step.label}"

    def describe(self) -> str:
        """``added Keywords|beach to 480 photos (20 had it already)``: one line for both faces."""
        n = self.changed
        where = {BulkAction.ADD: "to", BulkAction.REMOVE: "from"}.get(self.action, "on")
        text = f"{_PAST[self.action]} {self.tag} {where} {n:,} photo{'s' * (n != 1)}"
        if self.unchanged:
            why = {
                BulkAction.ADD: "had it already",
                BulkAction.REMOVE: "did not have it",
            }.get(self.action, "had no suggestion of it")
            text += f" ({self.unchanged:,} {why})"
        return text


def tag_photos(
    store: TagStore,
    photo_ids: Iterable[int],
    category: str,
    label: str,
    action: BulkAction | str,
) -> BulkTagging:
    """Apply ``action`` with the tag ``category|label`` to the photos, in one transaction (see
    the module docstring); a failure anywhere writes nothing."""
    try:
        act = BulkAction(action)
    except ValueError:
        raise ClipDeskError(
            f"{action!r} is not a tag action", "use add, remove, confirm or reject"
        ) from None
    photos = sorted({int(p) for p in photo_ids})
    if not photos:
        raise ClipDeskError("no photos were given to tag", "select photos first")
    created = False
    clean = " ".join(label.split())
    with store.lib.transaction() as conn:
        if act is BulkAction.ADD and category.strip().casefold() == KEYWORDS_CATEGORY.casefold():
            # the user's free keywords: their category comes with the first one
            created = clean.casefold() not in {
                n.casefold() for n in store.label_ids(KEYWORDS_CATEGORY)
            }
            if created:
                store.ensure_label(KEYWORDS_CATEGORY, clean)
        cat = store.category(category)
        try:
            name = cat.label(label).name
        except CategoryError:
            if act is not BulkAction.ADD:
                raise  # nothing to remove, confirm or reject: the error lists the labels
            if cat.auto:
                raise CategoryError(
                    f"category {cat.name!r} has no label {clean!r}",
                    f"its labels are the model's: {', '.join(cat.label_names)}; add the label "
                    "in the Tags page (clipdesk-cli tags categories add --replace), or add it "
                    "as a keyword",
                ) from None
            store.ensure_label(cat.name, clean)
            cat = store.category(cat.name)
            name = cat.label(label).name
            created = True
        label_id = store.label_ids(cat.name)[name]
        states = _states(conn, photos, label_id)
        targets = [p for p in photos if _changes(act, states.get(p))]
        step = decide_step(store, cat.name, name, {_WRITES[act]: targets})
    return BulkTagging(act, step, len(photos), created)


def _changes(action: BulkAction, state: TagState | None) -> bool:
    if action is BulkAction.ADD:
        return state not in CONFIRMED_STATES
    if action is BulkAction.REMOVE:
        return state in TAGGED_STATES
    return state is TagState.SUGGESTED


def _states(conn: sqlite3.Connection, photo_ids: list[int], label_id: int) -> dict[int, TagState]:
    out: dict[int, TagState] = {}
    for part in chunks(photo_ids):
        rows = conn.execute(
            f"SELECT photo_id, state FROM photo_tags WHERE label_id = ? "
            f"AND photo_id IN ({marks(len(part))})",
            (label_id, *part),
        )
        out.update({int(r[0]): TagState(r[1]) for r in rows})
    return out
