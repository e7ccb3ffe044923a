"""Records and constants of tags per photo (see :mod:`clipdesk.tags.store.tag_store`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from clipdesk.library.records import Photo
from clipdesk.tags.categories import hierarchical_keyword

T = TypeVar("T")


class TagState(StrEnum):
    SUGGESTED = "suggested"
    CANDIDATE = "candidate"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    IMPORTED = "imported"


MODEL_STATES = (TagState.SUGGESTED, TagState.CANDIDATE)
USER_STATES = (TagState.CONFIRMED, TagState.REJECTED, TagState.IMPORTED)
# States that mean "the photo has this tag".
TAGGED_STATES = (TagState.SUGGESTED, TagState.CONFIRMED, TagState.IMPORTED)
CONFIRMED_STATES = (TagState.CONFIRMED, TagState.IMPORTED)


@dataclass(frozen=True)
class PhotoTag:
    photo_id: int
    category: str
    label: str
    state: TagState
    score: float | None
    threshold: float
    model_id: str | None

    @property
    def keyword(self) -> str:
        """The lr:hierarchicalSubject path, e.g. "Scene|beach"."""
        return hierarchical_keyword(self.category, self.label)

    @property
    def is_tag(self) -> bool:
        return self.state in TAGGED_STATES


@dataclass(frozen=True)
class TaggedPhoto:
    """A tag with the photo it is on (review lists, photos of a tag)."""

    tag: PhotoTag
    photo: Photo


def marks(n: int) -> str:
    return ",".join("?" * n)


def chunks(items: Sequence[T], size: int = 500) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
