"""Finding photos, as both faces ask for them: a search or, without a query, the library browsed.

A :class:`PhotoSearch` says what the user asked (text, an image, "like this photo", folders, tag
expressions, a date range, a minimum score, the order, how many); :func:`find` answers it with
rows, :func:`rank` with photo ids and scores only (the app's grid, which holds every match and
reads rows by page with :func:`found_photos`), and :func:`score_kind` says what its scores (and
its minimum score) are: cosine similarities, or for sigmoid models such as SigLIP and a query of
phrases, the model's probability that photo and query match (:mod:`clipdesk.search.scores`);
:func:`search_runtime` says which runtime embeds the query and which made the photos' vectors,
as both faces show it.

A search answers in two ways (the grammar of :mod:`clipdesk.search.query` says which phrase goes
where): CLIP's ranking by similarity, and the text index's ranking of the photos whose words
(recognised text, file and folder names, captions and keywords, confirmed tags) hold the
phrases (:meth:`~clipdesk.library.store.Library.match_words`). When both find something the two
are fused by reciprocal rank fusion (:mod:`clipdesk.search.fusion`, k = 60), CLIP's ranking
taken whole so that a text hit it ranks low still counts its CLIP rank. A result's score stays
CLIP's (None for a search of ``text:`` phrases only, which loads no model), and each result says
why it matched: :attr:`FoundPhoto.matched_by` and a snippet of the words with the hits marked.
The minimum score is CLIP's: it drops CLIP's weak matches, never a photo found by its words.

Every filter is applied in one place whatever the request: folders and dates through the library
(the one SQL date rule of :mod:`clipdesk.library.dates`), tags through the tag service's
allowed ids, so a date range keeps the same photos in the search box, when browsing, and in
``clipdesk-cli search``, for CLIP's matches and for the text index's alike.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from clipdesk.common.errors import ClipDeskError
from clipdesk.common.fsnames import shown
from clipdesk.library.dates import DateLike, dated_by_exif, taken_seconds
from clipdesk.library.records import Photo, PhotoStatus
from clipdesk.search.fusion import fuse
from clipdesk.search.query import Query, QueryError, WordQuery
from clipdesk.search.results import SearchFilters
from clipdesk.search.scores import ScoreKind
from clipdesk.search.searcher import by_date, date_ranks, members, passing

if TYPE_CHECKING:
    from PIL import Image

    from clipdesk.services.app import ClipDeskServices

log = logging.getLogger(__name__)

Sort = Literal["relevance", "newest", "oldest", "rating"]
SORTS: tuple[Sort, ...] = ("relevance", "newest", "oldest", "rating")
# Why a photo matched, in the order told: CLIP's similarity, then the text index's columns.
MatchSource = Literal["clip", "ocr", "name", "meta", "tags"]
WORD_SOURCES: tuple[MatchSource, ...] = ("ocr", "name", "meta", "tags")
# The snippet shown: the first of these that holds a hit (recognised text says most).
_SNIPPET_ORDER: tuple[MatchSource, ...] = ("ocr", "meta", "tags", "name")


@dataclass(frozen=True)
class PhotoSearch:
    """What to find. Without text, image or like_photo it browses: every photo that passes the
    filters, newest first (oldest first with ``sort="oldest"``). ``sort="rating"``: the highest
    rated first, the same rating in the order of relevance (browsing: newest first)."""

    text: str = ""
    image: Image.Image | str | Path | None = None
    image_weight: float = 1.0
    like_photo: int | str | Path | None = None  # a photo id, or the path of a library photo
    # watched folders (ids or paths), or folders inside them (paths, subfolders included)
    folders: Sequence[int | str | Path] | None = None
    tags: Sequence[str] = ()  # tag expressions, all required: "Scene|beach", "!Pets|dog"
    confirmed_tags: bool = False  # tags match only the user's confirmed ones
    min_rating: int | None = None  # 1-5: photos rated at least this many stars
    labels: Sequence[str] = ()  # colour labels ("Red"...): photos with any of them
    date_from: DateLike | None = None  # inclusive
    date_to: DateLike | None = None  # inclusive
    statuses: Sequence[str] = (PhotoStatus.OK.value,)
    min_score: float | None = None
    sort: Sort = "relevance"
    limit: int = 50

    @property
    def is_search(self) -> bool:
        """Whether it searches (a query, an image, a photo to look like) rather than browses."""
        return bool(self.text.strip() or self.image is not None or self.like_photo is not None)

    @property
    def needs_model(self) -> bool:
        """Whether answering takes the model: every search but one of ``text:`` phrases only.
        Text that is not a valid query needs nothing: its error comes before any model."""
        return needs_model(self.text, self.image is not None or self.like_photo is not None)


def needs_model(text: str, with_image: bool = False) -> bool:
    """Whether a search for ``text`` (with an image or a photo to look like, or not) takes the
    model: a query with a CLIP part (see :attr:`clipdesk.search.query.Query.needs_model`)."""
    if with_image:
        return True
    if not text.strip():
        return False
    try:
        return Query.parse(text).needs_model
    except QueryError:
        return False


@dataclass(frozen=True)
class FoundPhoto:
    """One photo of an answer; ``score`` as :func:`score_kind` says (None when browsing, or
    when the photo has no CLIP score: a search of words only, a photo not embedded yet).
    ``matched_by``: why it is in the answer, of :data:`MatchSource` ("clip" when CLIP ranked
    it and it passed the minimum score; the text index's columns that hold the query's words);
    ``snippet``: the words around the first hit, each matched word in ``[brackets]``."""

    photo: Photo
    score: float | None = None
    matched_by: tuple[MatchSource, ...] = ()
    snippet: str | None = None

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
            "rating": p.rating,
            "label": p.color_label,
            "matched_by": list(self.matched_by),
            "snippet": self.snippet,
        }

    def describe_match(self) -> str:
        """Why it matched, for people: "CLIP", "CLIP + file name: Pictures [astronaut] png"."""
        names = [SOURCE_NAMES[s] for s in self.matched_by]
        what = " + ".join(names)
        return f"{what}: {self.snippet}" if self.snippet else what


SOURCE_NAMES: dict[MatchSource, str] = {
    "clip": "CLIP",
    "ocr": "text in the photo",
    "name": "file name",
    "meta": "caption or keyword",
    "tags": "tag",
}


def taken_timestamp(photo: Photo) -> float:
    """When the photo was taken (POSIX seconds): its EXIF date, else its file's mtime - the
    same rule as the date filter."""
    return taken_seconds(photo.taken_at, photo.mtime_ns)


def taken_from_exif(photo: Photo) -> bool:
    """Whether :func:`taken_timestamp` is the photo's EXIF date (else its file's mtime)."""
    return dated_by_exif(photo.taken_at)


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
        return None  # browsing, or words only: no CLIP scores (and no model loaded)
    like = photo_id(app, request.like_photo) if request.like_photo is not None else None
    return app.score_scale(query_of(request, like)).kind


def photo_id(app: ClipDeskServices, ref: int | str | Path) -> int:
    """A library photo's id from an id or a path (see :meth:`ClipDeskServices.photo`)."""
    return app.photo(ref).id


def folder_scope(
    app: ClipDeskServices, folders: Sequence[int | str | Path]
) -> tuple[list[int], list[str]]:
    """(watched folders' ids, folders inside them) of a folder filter: each a watched folder
    (id or path) or a folder inside one (path), which takes its subfolders along
    (ClipDeskError naming the first that is neither)."""
    refs = [ref if isinstance(ref, int) else Path(ref).expanduser() for ref in folders]
    scope = app.library.folder_scope(refs)
    if scope.unknown:
        raise ClipDeskError(
            f"{shown(str(scope.unknown[0]))} is not a watched folder or a folder inside one.",
            "See `clipdesk-cli folders list`.",
        )
    return list(scope.folder_ids), list(scope.under)


def tagged_ids(
    app: ClipDeskServices, exprs: Sequence[str], confirmed_only: bool
) -> np.ndarray | None:
    """Photo ids passing every tag expression (numpy int64), or None without expressions."""
    if not exprs:
        return None
    allowed = app.tags.allowed_ids(list(exprs), confirmed_only)
    return None if allowed is None else np.asarray(allowed, np.int64)


def marked_ids(app: ClipDeskServices, request: PhotoSearch) -> np.ndarray | None:
    """Sorted ids of the photos passing the request's rating and label filters (None: it has
    none)."""
    if request.min_rating is None and not request.labels:
        return None
    from clipdesk.services.ratings import check_label

    if request.min_rating is not None and not 1 <= request.min_rating <= 5:
        raise ClipDeskError(
            f"A minimum rating of {request.min_rating} stars is not 1 to 5.",
            "Ask for 1 to 5 stars, or no minimum.",
        )
    labels = [check_label(label) for label in request.labels]
    if None in labels:
        raise ClipDeskError(
            "Photos without a colour label cannot be filtered for.",
            "Name a colour to filter by, or no label filter.",
        )
    return app.library.marked_ids(
        request.min_rating, [lab for lab in labels if lab is not None] or None
    )


def _allowed(*sets: np.ndarray | None) -> np.ndarray | None:
    """The ids in every given set (None: no restriction)."""
    given = [s for s in sets if s is not None]
    if not given:
        return None
    out = given[0]
    for other in given[1:]:
        out = np.intersect1d(out, other, assume_unique=True)
    return out


def filters_of(app: ClipDeskServices, request: PhotoSearch) -> SearchFilters:
    """The search filters of a request, its folders (as ids), tags, rating and labels
    resolved."""
    folders: list[int | str] | None = None
    if request.folders is not None:
        ids, under = folder_scope(app, request.folders)
        folders = [*ids, *under]
    return SearchFilters(
        folders=folders,
        date_from=request.date_from,
        date_to=request.date_to,
        statuses=tuple(request.statuses),
        allowed_ids=_allowed(
            tagged_ids(app, request.tags, request.confirmed_tags), marked_ids(app, request)
        ),
        min_score=request.min_score or None,
    )


def _no_ids() -> np.ndarray:
    return np.empty(0, np.int64)


@dataclass(frozen=True)
class Matches:
    """Why the photos of a search's answer matched, by photo id: two sorted id arrays and a
    flag, not a record per photo (an answer holds up to every photo of the library); the rows
    read from it by page get their reasons and snippets then (:func:`found_photos`)."""

    words: tuple[str, ...] = ()  # the phrases the text index was asked for (snippets mark them)
    word_ids: np.ndarray = field(default_factory=_no_ids)  # sorted: photos found by their words
    clip: bool = True  # whether CLIP ranked the answer
    clip_missed: np.ndarray = field(default_factory=_no_ids)  # sorted: word hits CLIP left out

    def by_words(self, photo_ids: np.ndarray) -> np.ndarray:
        """bool per id: found by its words."""
        return members(np.asarray(photo_ids, np.int64), self.word_ids)

    def by_clip(self, photo_ids: np.ndarray) -> np.ndarray:
        """bool per id: ranked by CLIP (and above the minimum score)."""
        ids = np.asarray(photo_ids, np.int64)
        if not self.clip:
            return np.zeros(len(ids), bool)
        ranked: np.ndarray = ~members(ids, self.clip_missed)
        return ranked


@dataclass(frozen=True)
class Ranking:
    """An answer as photo ids in the order shown, with their scores (None when browsing or for
    words only; NaN for a photo without a CLIP score), why they matched (None when browsing),
    and no rows: the app's grid holds one for every match and reads rows by page
    (:func:`found_photos`), so a keystroke never reads 100,000 rows from the library."""

    ids: np.ndarray  # int64 [n]
    scores: np.ndarray | None = None  # float32 [n], on score_kind's scale
    matches: Matches | None = None

    def __len__(self) -> int:
        return len(self.ids)


def find(app: ClipDeskServices, request: PhotoSearch) -> list[FoundPhoto]:
    """The answer to ``request``: best first (or by date, as ``sort`` says), at most ``limit``."""
    ranking = rank(app, request)
    return found_photos(app, ranking.ids, ranking.scores, ranking.matches)


def rank(app: ClipDeskServices, request: PhotoSearch) -> Ranking:
    """:func:`find`'s answer as ids and scores, in its order, at most ``limit``: a search ranks
    its matches (CLIP's and the text index's, fused; then, for a date order, the best ``limit``
    by date); browsing orders the photos that pass the filters by date."""
    if request.limit < 1:
        raise ClipDeskError("The number of results must be at least 1.")
    if request.sort not in SORTS:
        raise ClipDeskError(f"Unknown order {request.sort!r}.", f"Use one of {', '.join(SORTS)}.")
    filters = filters_of(app, request)
    newest = request.sort != "oldest"
    if not request.is_search:
        folder_ids: list[int] | None = None
        under: list[str] | None = None
        if request.folders is not None:
            folder_ids, under = folder_scope(app, request.folders)
        ids, _taken = app.library.photo_dates(
            folder_ids=folder_ids,
            under=under,
            statuses=list(filters.statuses),
            taken_from=filters.date_from,
            taken_to=filters.date_to,
            order="newest" if newest else "oldest",  # same date: by path
        )
        if filters.allowed_ids is not None:
            ids = ids[np.isin(ids, np.asarray(filters.allowed_ids, np.int64))]
        if request.sort == "rating":
            ids = ids[by_rating(app, ids)]
        return Ranking(ids[: request.limit])
    like = photo_id(app, request.like_photo) if request.like_photo is not None else None
    query = query_of(request, like)
    words = query.words()
    if not query.needs_model and words.is_empty:
        raise QueryError(
            f"The query {query.describe()} only leaves photos out: there is nothing to look for.",
            "Add a phrase to find, e.g. sunset -text:watermark.",
        )
    banned = _banned_ids(app, words.banned)
    found = _word_hits(app, words, filters, query.photo_ids)
    if not query.needs_model:  # words only: no model, no CLIP scores
        ids = found if request.sort == "rating" else found[: request.limit]
        if request.sort == "rating":
            ids = ids[by_rating(app, ids)][: request.limit]
        elif request.sort != "relevance":
            ids = ids[by_date(date_ranks(app.library), ids, newest)]
        return Ranking(ids, None, Matches(words.include, np.sort(found), clip=False))
    if any(t.kind == "text" for t in query.clip_part.terms):
        app.search_model().warm_text()  # opens while the vectors are read
    searcher = app.searcher()
    vector = app.query_vector(query)
    scale = app.score_scale(query)
    ids, scores = searcher.rank(
        vector,
        filters,
        exclude=[*query.photo_ids, *banned.tolist()],
        scale=scale,
        # Fused, CLIP's whole ranking: a text hit's CLIP rank counts wherever it stands, and
        # the first rows are the same whatever the limit (the CLI's -k, the app's grid).
        limit=None if len(found) else request.limit,
    )
    missed = _no_ids()
    if len(found):
        fused = fuse(ids, found, limit=request.limit)
        in_clip = fused.held_by(0)
        fused_scores = np.empty(len(fused), np.float32)
        fused_scores[in_clip] = scores[fused.positions[0][in_clip]]
        missed = fused.ids[~in_clip]
        fused_scores[~in_clip] = searcher.scores_of(vector, missed, scale)
        ids, scores = fused.ids, fused_scores
    matches = Matches(words.include, np.sort(found), clip=True, clip_missed=np.sort(missed))
    if request.sort == "rating":
        order = by_rating(app, ids)  # the same rating: by relevance
        ids, scores = ids[order], scores[order]
    elif request.sort != "relevance":
        order = searcher.by_date(ids, newest)  # the same date: by relevance
        ids, scores = ids[order], scores[order]
    return Ranking(ids, scores, matches)


def by_rating(app: ClipDeskServices, ids: np.ndarray) -> np.ndarray:
    """The order that puts ``ids`` highest rated first (unrated as 0, rejected last), the
    same rating in the order given."""
    ids = np.asarray(ids, np.int64)
    rated, ratings = app.library.ratings()
    values = np.zeros(len(ids), np.int8)
    if len(rated):
        at = np.clip(np.searchsorted(rated, ids), 0, len(rated) - 1)
        hit = rated[at] == ids
        values[hit] = ratings[at[hit]]
    order: np.ndarray = np.argsort(-values.astype(np.int16), kind="stable")
    return order


def _word_ids(app: ClipDeskServices, words: WordQuery) -> np.ndarray:
    """The text index's hits for ``words``, best first (every status, no filter)."""
    hits = app.library.match_words(list(words.include), list(words.exclude))
    return np.asarray(hits.ids, np.int64)


def _banned_ids(app: ClipDeskServices, phrases: Sequence[str]) -> np.ndarray:
    """Photos holding the words of any of the negative ``text:`` ``phrases``, each phrase on its
    own (asked together, the text index would want the words of all of them at once)."""
    found = [_word_ids(app, WordQuery(include=(phrase,))) for phrase in phrases]
    return np.unique(np.concatenate(found)) if found else _no_ids()


def _word_hits(
    app: ClipDeskServices, words: WordQuery, filters: SearchFilters, query_photos: Sequence[int]
) -> np.ndarray:
    """The text index's ranking for a query's words under the search's filters (the minimum
    score aside: it is CLIP's), without the photos the query is built from."""
    if words.is_empty:
        return _no_ids()
    ids = passing(app.library, _word_ids(app, words), filters)
    if query_photos:
        ids = ids[~members(ids, np.asarray(query_photos, np.int64))]
    return ids


def found_photos(
    app: ClipDeskServices,
    ids: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray | None = None,
    matches: Matches | None = None,
) -> list[FoundPhoto]:
    """The library's rows of ``ids`` (a page of a :class:`Ranking`), in that order, each with
    its score and, given the ranking's ``matches``, why it matched and the snippet of its
    words; photos the library no longer holds are left out."""
    wanted = [int(i) for i in ids]
    rows = {p.id: p for p in app.library.photos(ids=wanted)}
    given: list[float | None] = (
        [None] * len(wanted) if scores is None else [_score(s) for s in scores]
    )
    why: list[tuple[tuple[MatchSource, ...], str | None]] = [((), None)] * len(wanted)
    if matches is not None:
        why = _reasons(app, np.asarray(wanted, np.int64), matches)
    return [
        FoundPhoto(rows[i], s, reason, snip)
        for i, s, (reason, snip) in zip(wanted, given, why, strict=True)
        if i in rows
    ]


def _score(value: float) -> float | None:
    score = float(value)
    return None if math.isnan(score) else score


def _reasons(
    app: ClipDeskServices, ids: np.ndarray, matches: Matches
) -> list[tuple[tuple[MatchSource, ...], str | None]]:
    """(matched_by, snippet) per id."""
    from clipdesk.library.word_text import snippet

    by_clip = matches.by_clip(ids).tolist()
    by_words = matches.by_words(ids)
    sources = {}
    if matches.words and by_words.any():
        sources = app.library.word_sources(ids[by_words].tolist())
    out: list[tuple[tuple[MatchSource, ...], str | None]] = []
    for pid, clip in zip(ids.tolist(), by_clip, strict=True):
        reason: list[MatchSource] = ["clip"] if clip else []
        found = sources.get(pid)
        snips: dict[MatchSource, str] = {}
        if found is not None:
            for source in WORD_SOURCES:
                # Every hit in a column is marked, whichever phrase it is a word of: a photo
                # also matches with its words spread over several columns.
                snip = snippet(getattr(found, source), matches.words)
                if snip is not None:
                    reason.append(source)
                    snips[source] = snip.marked()
        first = next((snips[s] for s in _SNIPPET_ORDER if s in snips), None)
        out.append((tuple(reason), first))
    return out


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
