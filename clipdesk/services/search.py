"""Finding photos, as both faces ask for them: a search or, without a query, the library browsed.

A :class:`PhotoSearch` says what the user asked (text, an image, "like this photo", folders, tag
expressions, a date range, a minimum score, the order, how many); :func:`find` answers it, and
:func:`score_kind` says what its scores (and its minimum score) are: cosine similarities, or for
sigmoid models such as SigLIP and a query of phrases, the model's probability that photo and
query match (:mod:`clipdesk.search.scores`).
Every filter is applied in one place whatever the request: folders and dates through the library
(the one SQL date rule of :mod:`clipdesk.library.dates`), tags through the tag service's
allowed ids, so a date range keeps the same photos in the search box, when browsing, and in
``clipdesk-cli search``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from PIL import Image

from clipdesk.common.errors import ClipDeskError
from clipdesk.library.dates import DateLike
from clipdesk.library.records import Photo, PhotoStatus
from clipdesk.search.query import Query
from clipdesk.search.results import SearchFilters
from clipdesk.search.scores import ScoreKind

if TYPE_CHECKING:
    from clipdesk.services.app import ClipDeskServices

log = logging.getLogger(__name__)

Sort = Literal["relevance", "newest", "oldest"]
SORTS: tuple[Sort, ...] = ("relevance", "newest", "oldest")


@dataclass(frozen=True)
class PhotoSearch:
    """What to find. Without text, image or like_photo it browses: every photo that passes the
    filters, newest first (oldest first with ``sort="oldest"``)."""

    text: str = ""
    image: Image.Image | str | Path | None = None
    image_weight: float = 1.0
    like_photo: int | str | Path | None = None  # a photo id, or the path of a library photo
    folders: Sequence[int | str | Path] | None = None  # watched folders (ids or paths)
    tags: Sequence[str] = ()  # tag expressions, all required: "Scene|beach", "!Pets|dog"
    confirmed_tags: bool = False  # tags match only the user's confirmed ones
    date_from: DateLike | None = None  # inclusive
    date_to: DateLike | None = None  # inclusive
    statuses: Sequence[str] = (PhotoStatus.OK.value,)
    min_score: float | None = None
    sort: Sort = "relevance"
    limit: int = 50

    @property
    def needs_model(self) -> bool:
        return bool(self.text.strip() or self.image is not None or self.like_photo is not None)


@dataclass(frozen=True)
class FoundPhoto:
    """One photo of an answer; ``score`` as :func:`score_kind` says (None when browsing)."""

    photo: Photo
    score: float | None = None

    @property
    def taken(self) -> float:
        return taken_timestamp(self.photo)

    def as_dict(self) -> dict[str, Any]:
        """The shape ``clipdesk-cli search --json`` prints for each result."""
        p = self.photo
        return {
            "id": p.id,
            "score": round(self.score, 5) if self.score is not None else None,
            "path": str(p.path),
            "taken_at": p.taken_at,
            "status": str(p.status),
        }


def taken_timestamp(photo: Photo) -> float:
    """When the photo was taken (POSIX seconds): its EXIF date, else its file's mtime - the
    same rule as the date filter."""
    if photo.taken_at:
        try:
            return dt.datetime.fromisoformat(photo.taken_at).timestamp()
        except ValueError:
            pass
    return photo.mtime_ns / 1e9


def query_of(request: PhotoSearch, like_id: int | None = None) -> Query:
    """The parsed query of a request (text syntax of clipdesk.search.query, plus the image and
    the photo to look like). Raises QueryError for text that is not a valid query."""
    query = Query.parse(request.text) if request.text.strip() else Query()
    if request.image is not None:
        query = query.with_image(request.image, request.image_weight)
    if like_id is not None:
        query = query.with_photo(like_id)
    return query


def score_kind(app: ClipDeskServices, request: PhotoSearch) -> ScoreKind | None:
    """What the scores of ``request``'s answer are: "cosine" or "probability"; None when it
    browses (no scores)."""
    if not request.needs_model:
        return None
    like = photo_id(app, request.like_photo) if request.like_photo is not None else None
    return app.score_scale(query_of(request, like)).kind


def photo_id(app: ClipDeskServices, ref: int | str | Path) -> int:
    """A library photo's id from an id or a path (see :meth:`ClipDeskServices.photo`)."""
    return app.photo(ref).id


def folder_ids(app: ClipDeskServices, folders: Sequence[int | str | Path]) -> list[int]:
    """Watched folders' ids (ClipDeskError naming the first one the library does not watch)."""
    out = []
    for ref in folders:
        found = app.library.folder(ref if isinstance(ref, int) else Path(ref).expanduser())
        if found is None:
            raise ClipDeskError(
                f"{ref} is not a watched folder.", "See `clipdesk-cli folders list`."
            )
        out.append(found.id)
    return out


def tagged_ids(
    app: ClipDeskServices, exprs: Sequence[str], confirmed_only: bool
) -> np.ndarray | None:
    """Photo ids passing every tag expression (numpy int64), or None without expressions."""
    if not exprs:
        return None
    allowed = app.tags.allowed_ids(list(exprs), confirmed_only)
    return None if allowed is None else np.asarray(allowed, np.int64)


def filters_of(app: ClipDeskServices, request: PhotoSearch) -> SearchFilters:
    """The search filters of a request, its folders (as ids) and tags resolved."""
    return SearchFilters(
        folders=folder_ids(app, request.folders) if request.folders is not None else None,
        date_from=request.date_from,
        date_to=request.date_to,
        statuses=tuple(request.statuses),
        allowed_ids=tagged_ids(app, request.tags, request.confirmed_tags),
        min_score=request.min_score or None,
    )


def find(app: ClipDeskServices, request: PhotoSearch) -> list[FoundPhoto]:
    """The answer to ``request``: best first (or by date, as ``sort`` says), at most ``limit``."""
    if request.limit < 1:
        raise ClipDeskError("The number of results must be at least 1.")
    if request.sort not in SORTS:
        raise ClipDeskError(f"Unknown order {request.sort!r}.", f"Use one of {', '.join(SORTS)}.")
    filters = filters_of(app, request)
    if request.needs_model:
        like = photo_id(app, request.like_photo) if request.like_photo is not None else None
        query = query_of(request, like)
        results = app.search(query, k=request.limit, filters=filters)
        found = [FoundPhoto(r.photo, r.score) for r in results if r.photo is not None]
        if request.sort == "relevance":
            return found
    else:
        found = [FoundPhoto(p) for p in _browse(app, request, filters)]
    # Stable sorts: photos taken at the same time keep their order (by relevance, or by path).
    found.sort(key=lambda f: f.taken, reverse=request.sort != "oldest")
    return found[: request.limit]


def _browse(app: ClipDeskServices, request: PhotoSearch, filters: SearchFilters) -> list[Photo]:
    """The photos that pass the filters, by path (no model needed)."""
    folders = folder_ids(app, request.folders) if request.folders is not None else None
    photos: list[Photo] = []
    for folder in folders if folders is not None else [None]:
        photos += app.library.photos(
            folder_id=folder,
            statuses=list(filters.statuses),
            taken_from=filters.date_from,
            taken_to=filters.date_to,
        )
    if folders is not None and len(folders) > 1:
        photos.sort(key=lambda p: str(p.path))
    if filters.allowed_ids is not None:
        keep = set(np.asarray(filters.allowed_ids, np.int64).tolist())
        photos = [p for p in photos if p.id in keep]
    return photos
