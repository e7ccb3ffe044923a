"""Who wrote each keyword of a photo's XMP, and what ClipDesk may therefore change.

A keyword is an item: its field (``subject``: ``dc:subject``, flat; ``hierarchy``:
``lr:hierarchicalSubject`` or digiKam's list, a path) and its text. Its origin is ``ours``
(ClipDesk wrote it for this photo) or ``other``; the library records it per photo when a sidecar
is read or written (:mod:`clipdesk.tags.store.keyword_sources`). The rules:

- ClipDesk removes only its own items; another tool's item stays, even when it equals a tag the
  user removed in ClipDesk.
- A tag already present in the photo's XMP in another tool's form is left in that form: a flat
  ``a|b|c`` stays flat, ``Places|Italy|Rome`` gets no ``Rome`` beside it, ``holiday`` no path.
- A tag ClipDesk writes itself goes in as path and leaf ("Scene|beach" and "beach").

An item found with no record yet (a library older than these records, or a keyword that came
after the last read) is ClipDesk's only when a sidecar ClipDesk created holds it and it is one of
ClipDesk's own category keywords (or the leaf of one there): what earlier versions wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Literal

from clipdesk.tags.categories import HIERARCHY_SEP, flat_keyword

SUBJECT_FIELD: Literal["subject"] = "subject"
HIERARCHY_FIELD: Literal["hierarchy"] = "hierarchy"
OURS = "ours"
OTHER = "other"

Item = tuple[str, str]  # (field, keyword)


def fold(item: Item) -> Item:
    return item[0], item[1].casefold()


def tag_items(path: str) -> list[Item]:
    """What ClipDesk writes for a tag: the path and its leaf."""
    leaf = flat_keyword(path)
    return [(HIERARCHY_FIELD, path)] + ([(SUBJECT_FIELD, leaf)] if leaf else [])


def default_origin(item: Item, clipdesk_items: Collection[Item], managed: Collection[str]) -> str:
    """The origin of an item with no record: see the module docstring. ``clipdesk_items``: the
    items only sidecars ClipDesk created hold; ``managed``: ClipDesk's category keywords
    (paths), casefolded."""
    if item not in clipdesk_items:
        return OTHER
    field, keyword = item
    if field == HIERARCHY_FIELD:
        return OURS if keyword.casefold() in managed else OTHER
    leaf = keyword.casefold()
    ours = any(
        f == HIERARCHY_FIELD
        and HIERARCHY_SEP in path
        and path.casefold() in managed
        and flat_keyword(path).casefold() == leaf
        for f, path in clipdesk_items
    )
    return OURS if ours else OTHER


def plan_edit(
    wanted: Sequence[str],
    present: Iterable[Item],
    origin: Callable[[Item], str],
    elsewhere: Collection[Item] = (),
) -> tuple[list[Item], set[Item]]:
    """(items to add, items to remove) so that the sidecar holding ``present`` carries the tag
    paths ``wanted`` and none of ClipDesk's items beyond them. ``elsewhere``: another tool's
    items in the photo's other XMP (embedded, another sidecar), which represent a tag too."""
    known = {fold(i): i for i in present}
    elsewhere_folded = {fold(i) for i in elsewhere}
    desired: dict[Item, Item] = {}  # folded -> as written
    for path in wanted:
        hier, flat = (HIERARCHY_FIELD, path), (SUBJECT_FIELD, path)
        if fold(hier) in known:
            desired[fold(hier)] = known[fold(hier)]
            if origin(known[fold(hier)]) != OURS:
                continue  # another tool's path: its leaf is that tool's business
        elif fold(flat) in known:
            desired[fold(flat)] = known[fold(flat)]
            continue  # a flat keyword stays flat
        elif fold(hier) in elsewhere_folded or fold(flat) in elsewhere_folded:
            continue
        for item in tag_items(path):
            desired.setdefault(fold(item), known.get(fold(item), item))
    add = [item for key, item in desired.items() if key not in known]
    remove = {item for key, item in known.items() if key not in desired and origin(item) == OURS}
    return add, remove
