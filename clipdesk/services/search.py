"""Finding photos, as both faces ask for them: a search or, without a query, the library browsed.

A :class:`PhotoSearch` says what the user asked (text, an image, "like this photo", folders, tag
expressions, a date range, a minimum score, the order, how many); :func:`find` answers it with
rows, :func:`rank` with photo ids and scores only (the app's grid, which holds every match and
reads rows by page with :func:`found_photos`), and :func:`score_kind` says what its scores (and its minimum score) are: cosine similarities, or for
sigmoid models such as SigLIP and a query of phrases, the model's probability that photo and
query match (:mod:`clipdesk.search.scores`); :func:`search_runtime` says which runtime embeds
the query and which made the photos' vectors, as both faces show it.
Every filter is applied in one place whatever the request: folders and dates through the library
(the one SQL date rule of :mod:`clipdesk.library.dates`), tags through the tag service's
allowed ids, so a date range keeps the same photos in the search box, when browsing, and in
``clipdesk-cli search``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from clipdesk.common.errors import ClipDeskError
from clipdesk.library.dates import DateLike, taken_seconds
from clipdesk.library.records import Photo, PhotoStatus
from clipdesk.search.query import Query
from clipdesk.search.results import SearchFilters
from clipdesk.search.scores import ScoreKind

if TYPE_CHECKING:
    from PIL import Image

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
    return taken_seconds(photo.taken_at, photo.mtime_ns)


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


@dataclass(frozen=True)
class Ranking:
    """An answer as photo ids in the order shown, with their scores (None when browsing), and
    no rows: the app's grid holds one for every match and reads rows by page
    (:func:`found_photos`), so a keystroke never reads 100,000 rows from the library."""

    ids: np.ndarray  # int64 [n]
    scores: np.ndarray | None = None  # float32 [n], on score_kind's scale

    def __len__(self) -> int:
        return len(self.ids)


def find(app: ClipDeskServices, request: PhotoSearch) -> list[FoundPhoto]:
    """The answer to ``request``: best first (or by date, as ``sort`` says), at most ``limit``."""
    ranking = rank(app, request)
    return found_photos(app, ranking.ids, ranking.scores)


def rank(app: ClipDeskServices, request: PhotoSearch) -> Ranking:
    """:func:`find`'s answer as ids and scores, in its order, at most ``limit``: a search ranks
    its matches by score (then, for a date order, the best ``limit`` by date); browsing orders
    the photos that pass the filters by date."""
    if request.limit < 1:
        raise ClipDeskError("The number of results must be at least 1.")
    if request.sort not in SORTS:
        raise ClipDeskError(f"Unknown order {request.sort!r}.", f"Use one of {', '.join(SORTS)}.")
    filters = filters_of(app, request)
    newest = request.sort != "oldest"
    if not request.needs_model:
        ids, _taken = app.library.photo_dates(
            folder_ids=folder_ids(app, request.folders) if request.folders is not None else None,
            statuses=list(filters.statuses),
            taken_from=filters.date_from,
            taken_to=filters.date_to,
            order="newest" if newest else "oldest",  # same date: by path
        )
        if filters.allowed_ids is not None:
            ids = ids[np.isin(ids, np.asarray(filters.allowed_ids, np.int64))]
        return Ranking(ids[: request.limit])
    like = photo_id(app, request.like_photo) if request.like_photo is not None else None
    query = query_of(request, like)
    if any(t.kind == "text" for t in query.terms):
        app.search_model().warm_text()  # opens while the vectors are read
    searcher = app.searcher()
    ids, scores = searcher.rank(
        app.query_vector(query),
        filters,
        exclude=query.photo_ids,
        scale=app.score_scale(query),
        limit=request.limit,
    )
    if request.sort != "relevance":
        order = searcher.by_date(ids, newest)  # the same date: by relevance
        ids, scores = ids[order], scores[order]
    return Ranking(ids, scores)


def found_photos(
    app: ClipDeskServices,
    ids: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray | None = None,
) -> list[FoundPhoto]:
    """The library's rows of ``ids`` (a page of a :class:`Ranking`), in that order, each with
    its score; photos the library no longer holds are left out."""
    wanted = [int(i) for i in ids]
    rows = {p.id: p for p in app.library.photos(ids=wanted)}
    given = [None] * len(wanted) if scores is None else [float(s) for s in scores]
    return [FoundPhoto(rows[i], s) for i, s in zip(wanted, given, strict=True) if i in rows]


@dataclass(frozen=True)
class SearchRuntime:
    """What a search compared: the runtime label that embeds its query ("onnx-int8") and those
    that made the search model's stored vectors, with how many each (see
    :meth:`clipdesk.library.store.Library.vector_runtimes`)."""

    query: str
    vectors: Mapping[str, int]

    def as_dict(self) -> dict[str, Any]:
        """The ``runtime`` object of ``clipdesk-cli search --json``."""
        return {"query": self.query, "vectors": dict(self.vectors)}

    def describe(self) -> str:
        return describe_runtimes(self.query, self.vectors)

    def query_text(self) -> str:
        """The query's runtime for people: "ONNX Runtime int8"."""
        from clipdesk.model.runtime import describe

        return describe(self.query)

    def vectors_text(self) -> str:
        """Each runtime with its count, e.g. "PyTorch fp32 (9,800), ONNX Runtime int8 (200)";
        "none" before anything is indexed."""
        from clipdesk.model.runtime import describe

        if not self.vectors:
            return "none"
        return ", ".join(f"{describe(k)} ({n:,})" for k, n in sorted(self.vectors.items()))


def describe_runtimes(query: str, vectors: Iterable[str]) -> str:
    """For people: "ONNX Runtime int8" when the query and the photos' vectors share it, else
    "query ONNX Runtime int8, photos PyTorch fp32"."""
    from clipdesk.model.runtime import describe

    made = sorted(set(vectors))
    if set(made) <= {query}:
        return describe(query)
    return f"query {describe(query)}, photos {', '.join(describe(k) for k in made)}"


def search_runtime(app: ClipDeskServices) -> SearchRuntime:
    """The runtimes a search with the search model compares, with how many vectors each made
    (counted from an index: milliseconds at 100,000 photos, for a one-off search)."""
    model = app.search_model()
    return SearchRuntime(model.runtime_label, app.library.vector_runtimes(model.id))


def search_runtime_note(app: ClipDeskServices) -> str:
    """:func:`describe_runtimes` of the search model, without counting: cheap enough for every
    keystroke of the app's search box."""
    model = app.search_model()
    return describe_runtimes(model.runtime_label, app.library.vector_runtime_labels(model.id))
