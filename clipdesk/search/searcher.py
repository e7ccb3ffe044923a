"""Search over the library: the in-memory index of one model's vectors, kept in step with the
store, plus the filters a user applies (folder, date range, status, tags).

The index holds every photo that has a vector for the model, whatever its status; the status
filter (default: ``ok``) is applied from a small in-memory map of the photos that are *not* ok, so
the common search needs no database query at all. Folder and date filters become a set of
allowed ids (one library query, :meth:`~clipdesk.library.store.Library.photo_ids_matching`, the
same date rule browsing uses; cached until the library changes); tag filters arrive as
``allowed_ids``. The text index's hits pass the same filters through :func:`passing`, which
needs no model (a search of words only loads none), and :meth:`Searcher.scores_of` gives a text
hit the CLIP score that CLIP's own ranking left out.

Keeping in step: :meth:`Searcher.add` / :meth:`Searcher.remove` for changes the caller knows about
(the pipeline's "photos embedded" hook), and :meth:`Searcher.sync`, an incremental diff of
(photo id, status, vector time) against the store, after a scan or a watch event: only photos
that changed are read or dropped, never the whole matrix. The vector times are an array indexed
by photo id (8 bytes a photo), not a dict of Python objects.

Past RAM the index is an :class:`~clipdesk.search.ann_index.AnnIndex` instead
(:meth:`Searcher.use_ann`; the services choose, :mod:`clipdesk.services.ann`): the same
searches and filters, exact scores of approximate candidates, and a ranking that holds the best
:data:`~clipdesk.search.ann_index.RANK_LIMIT` photos rather than every one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from clipdesk.library.records import PhotoStatus
from clipdesk.search.ann_index import RANK_LIMIT, AnnIndex
from clipdesk.search.ranking import best_first, stable_order
from clipdesk.search.results import SearchFilters, SearchResult, SqlKey
from clipdesk.search.scores import COSINE, ScoreScale
from clipdesk.search.vector_index import VectorIndex

if TYPE_CHECKING:
    from clipdesk.library.store import Library

log = logging.getLogger(__name__)

_FETCH = 8192  # rows per fetch while streaming vectors out of SQLite
_STALE_CHUNK = 65536  # changed vectors read at a time by sync (128 MB at 512-d)
_HOOKED = -1.0  # a vector time: added by the pipeline's hook, its stored time not read yet
# Below this share of the index, rank scores only the allowed rows (the index gathers them).
_GATHER_SHARE = 0.25


def members(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """ids[i] in wanted, for each i: a mask by id (photo ids are small non-negative rowids),
    linear where np.isin sorts."""
    wanted = np.asarray(wanted, np.int64)
    if not len(ids) or not len(wanted):
        return np.zeros(len(ids), bool)
    size = int(max(ids.max(), wanted.max())) + 1
    table = np.zeros(size, bool)
    table[wanted[wanted >= 0]] = True
    inside: np.ndarray = table[ids]
    return inside


class Searcher:
    """The search index of one model id over one library."""

    def __init__(
        self, library: Library, model_id: str, dim: int | None = None, dtype: str = "float16"
    ) -> None:
        self.library = library
        self.model_id = model_id
        self.dtype = dtype
        self.index: VectorIndex | AnnIndex | None = VectorIndex(dim, dtype) if dim else None
        self._lock = threading.RLock()
        self._not_ok: dict[int, str] = {}  # photo id -> status, for indexed photos not ok
        # photo id -> when its indexed vector was stored (NaN: not indexed; _HOOKED: unknown)
        self._stamps = np.full(0, np.nan)
        self._generation = 0
        self._allowed_cache: dict[SqlKey, np.ndarray] = {}
        self._status_cache: dict[frozenset[str], tuple[np.ndarray, np.ndarray]] = {}
        self._date_ranks: np.ndarray | None = None  # photo id -> rank of its date (-1: none)

    # --- keeping in step -------------------------------------------------------------------

    def load(self) -> int:
        """Read every vector of the model (streamed in chunks: peak memory is the index plus one
        chunk). Returns how many photos are indexed."""
        with self._lock:
            n, dim = self.library.vector_shape(self.model_id)
            if not n or dim is None:
                return 0
            index = VectorIndex(dim, self.dtype, capacity=n)
            self._not_ok.clear()
            self._stamps = np.full(0, np.nan)
            for part in self.library.vector_chunks(self.model_id, dim, chunk=_FETCH):
                index.add(part.ids, part.vectors)
                self._stamp(part.ids, np.asarray(part.created_at, np.float64))
                for pid, status in zip(part.ids.tolist(), part.statuses, strict=True):
                    if status != PhotoStatus.OK.value:
                        self._not_ok[pid] = status
            self.index = index
            self._changed()
            return len(index)

    def use_ann(self, ann: AnnIndex, ids: np.ndarray, times: np.ndarray) -> tuple[int, int]:
        """Search with ``ann`` from now on (the flat matrix, if any, is let go), which holds
        ``ids`` as their vectors were at ``times`` (a saved index's stamps; -1: unknown), and
        bring it in step with the store; returns :meth:`sync`'s counts."""
        with self._lock:
            self.index = ann
            self._stamps = np.full(0, np.nan)
            self._stamp(np.asarray(ids, np.int64), np.asarray(times, np.float64))
            return self.sync()

    def stamps(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids int64, vector times float64) of the photos indexed: what a saved index keeps
        to catch up with the store when it is loaded again."""
        with self._lock:
            ids = np.flatnonzero(~np.isnan(self._stamps)).astype(np.int64)
            return ids, self._stamps[ids].copy()

    @contextmanager
    def steady(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Hold the index still (no add, remove or sync; searches go on) while the caller
        saves it; yields :meth:`stamps`."""
        with self._lock:
            yield self.stamps()

    @property
    def ann(self) -> AnnIndex | None:
        """The ANN index searches use, or None (the flat matrix, or nothing loaded)."""
        index = self.index
        return index if isinstance(index, AnnIndex) else None

    def sync(self) -> tuple[int, int]:
        """Bring the index in step with the store; returns (added or replaced, removed)."""
        with self._lock:
            seen = self.library.vector_stamps(self.model_id)
            ids, times = seen.ids, seen.created_at
            if len(ids):
                self._grow_stamps(int(ids.max()) + 1)
            held = self._stamps[ids]
            hooked = held == _HOOKED  # added by the pipeline's hook: already current
            self._stamps[ids[hooked]] = times[hooked]
            changed = (held != times) & ~hooked  # NaN: not indexed yet
            stale, stale_times = ids[changed], times[changed]
            listed = np.zeros(len(self._stamps), bool)
            listed[ids] = True
            gone = np.flatnonzero(~np.isnan(self._stamps) & ~listed)
            added = 0
            order = np.argsort(stale)
            stale, stale_times = stale[order], stale_times[order]
            for start in range(0, len(stale), _STALE_CHUNK):
                part = stale[start : start + _STALE_CHUNK]
                found, vecs = self.library.vectors_for(self.model_id, part.tolist())
                self._add(found, vecs)
                at = start + np.searchsorted(part, found)  # found: the ones still stored
                self._stamp(found, stale_times[at])
                added += len(found)
            if len(gone):
                self._remove(gone.tolist())
            self._not_ok = seen.not_ok
            self._changed()
            return added, len(gone)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Photos just embedded (status ok) - the pipeline's hook."""
        with self._lock:
            ids = np.asarray(ids, np.int64)
            self._add(ids, vectors)
            for pid in ids.tolist():
                self._not_ok.pop(pid, None)
            self._stamp(ids, np.full(len(ids), _HOOKED))  # the next sync reads it once
            self._changed()

    def remove(self, ids: Iterable[int]) -> None:
        with self._lock:
            self._remove(list(ids))
            self._changed()

    def set_status(self, photo_ids: Iterable[int], status: str) -> None:
        """A status change the caller knows about (e.g. a folder went offline)."""
        with self._lock:
            for pid in photo_ids:
                if status == PhotoStatus.OK.value:
                    self._not_ok.pop(int(pid), None)
                else:
                    self._not_ok[int(pid)] = status
            self._changed()

    def __len__(self) -> int:
        return len(self.index) if self.index is not None else 0

    # --- searching -------------------------------------------------------------------------

    def vector(self, photo_id: int) -> np.ndarray | None:
        vec = self.index.vector(photo_id) if self.index is not None else None
        if vec is None:
            ids, vecs = self.library.vectors_for(self.model_id, [photo_id])
            vec = vecs[0] if len(ids) else None
        return vec

    def search(
        self,
        vector: np.ndarray,
        k: int = 50,
        filters: SearchFilters | None = None,
        exclude: Iterable[int] = (),
        scale: ScoreScale = COSINE,
    ) -> list[SearchResult]:
        """Top ``k`` photos for a unit ``vector``, scored (and ``filters.min_score`` applied) on
        ``scale``, cosine unless told (:func:`clipdesk.search.scores.score_scale`)."""
        filters = filters or SearchFilters()
        if self.index is None or not len(self.index):
            return []
        allowed = self._allowed(filters)
        statuses = frozenset(filters.statuses)
        hidden, shown = self._by_status(statuses)
        if PhotoStatus.OK.value not in statuses:
            # Rare (only missing/offline photos asked for): restrict to the non-ok ones.
            allowed = shown if allowed is None else np.intersect1d(allowed, shown)
        exclude = np.asarray(list(exclude), np.int64)
        if len(exclude):
            hidden = np.concatenate([hidden, exclude])
        hits = self.index.search(
            vector,
            k=k,
            allowed=allowed,
            min_score=scale.cosine_floor(filters.min_score),
            exclude=hidden if len(hidden) else None,
        )
        ids, scores = scale.rescored(hits.ids, hits.scores, filters.min_score)
        return [
            SearchResult(pid, score)
            for pid, score in zip(ids.tolist(), scores.tolist(), strict=True)
        ]

    def rank(
        self,
        vector: np.ndarray,
        filters: SearchFilters | None = None,
        exclude: Iterable[int] = (),
        scale: ScoreScale = COSINE,
        limit: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every photo :meth:`search` could return, in its order (best first, ties by photo
        id), at most ``limit``: (ids int64, scores float32) as arrays, no object per photo -
        the search box ranks the whole library on each keystroke and reads rows by page."""
        filters = filters or SearchFilters()
        empty = np.empty(0, np.int64), np.empty(0, np.float32)
        index = self.index
        if index is None or not len(index):
            return empty
        allowed = self._allowed(filters)
        statuses = frozenset(filters.statuses)
        hidden, shown = self._by_status(statuses)
        if PhotoStatus.OK.value not in statuses:
            allowed = shown if allowed is None else np.intersect1d(allowed, shown)
        drop = np.concatenate([hidden, np.asarray(list(exclude), np.int64)])
        floor = scale.cosine_floor(filters.min_score)
        if isinstance(index, AnnIndex):  # past RAM: the best photos only
            hits = index.search(
                vector,
                k=RANK_LIMIT if limit is None else min(limit, RANK_LIMIT),
                allowed=allowed,
                min_score=floor,
                exclude=drop if len(drop) else None,
            )
            ids, cosines = hits.ids, hits.scores
        elif allowed is not None and len(allowed) < _GATHER_SHARE * len(index):
            # A narrow filter (a tag, a small folder): score just those rows.
            hits = index.search(
                vector,
                k=len(allowed),
                allowed=allowed,
                min_score=floor,
                exclude=drop if len(drop) else None,
            )
            ids, cosines = hits.ids, hits.scores
            if limit is not None:
                ids, cosines = ids[:limit], cosines[:limit]
        else:
            ids, sims = index.score_all(np.asarray(vector, np.float32).reshape(1, -1))
            cosines = sims[0]
            keep = None if allowed is None else members(ids, allowed)
            if len(drop):
                keep = ~members(ids, drop) if keep is None else keep & ~members(ids, drop)
            if floor is not None:
                keep = cosines >= floor if keep is None else keep & (cosines >= floor)
            if keep is not None:
                ids, cosines = ids[keep], cosines[keep]
            ids, cosines = best_first(ids, cosines, limit)
        return scale.rescored(ids, cosines, filters.min_score)

    def by_date(self, photo_ids: np.ndarray, newest: bool = True) -> np.ndarray:
        """Positions into ``photo_ids`` ordering them by when each photo was taken (as
        :func:`clipdesk.library.dates.taken_seconds` tells it), newest or oldest first, photos
        taken at the same time keeping their order (a ranking's: by relevance); ids the
        library no longer holds are left out. The dates are read once and kept, as ranks,
        until the library changes (:meth:`sync`), so a date order costs a sort of integers."""
        with self._lock:
            table = self._date_ranks
            if table is None:
                table = self._date_ranks = date_ranks(self.library)
        return by_date(table, photo_ids, newest)

    def scores_of(
        self, vector: np.ndarray, photo_ids: np.ndarray, scale: ScoreScale = COSINE
    ) -> np.ndarray:
        """float32 scores of ``photo_ids`` for a unit ``vector`` on ``scale``, in their order,
        NaN for a photo without a vector: what a text hit that CLIP's ranking left out (below
        the minimum score, or outside its limit) still shows beside the reason it matched."""
        ids = np.asarray(photo_ids, np.int64)
        out = np.full(len(ids), np.nan, np.float32)
        index = self.index
        if index is None or not len(ids):
            return out
        if isinstance(index, AnnIndex):  # every one of them, not the index's candidates
            hits = index.exact(vector, ids)
        else:
            hits = index.search(vector, k=len(ids), allowed=ids)
        if len(hits):
            place = {int(pid): row for row, pid in enumerate(ids.tolist())}
            rows = np.fromiter((place[int(pid)] for pid in hits.ids), np.int64, len(hits))
            out[rows] = scale.scores(hits.scores)
        return out

    def similarities(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cosine similarity of every photo search can show (status ok) to each of ``queries``
        [m, dim]: (ids [n], float32 [n, m]), from the index in memory, not the library file.
        Past RAM (an ANN index): of the photos among each query's best :data:`RANK_LIMIT`,
        scored exactly against every query."""
        queries = np.asarray(queries, dtype=np.float32)
        with self._lock:
            index = self.index
            if index is None or not len(index):
                return np.empty(0, np.int64), np.empty((0, len(queries)), np.float32)
            hidden, _ = self._by_status(frozenset({PhotoStatus.OK.value}))
            if not isinstance(index, AnnIndex):
                ids, sims = index.score_all(queries)
        if isinstance(index, AnnIndex):  # reads the store: outside the lock
            return _ann_similarities(index, queries, hidden)
        if len(hidden):
            keep = ~np.isin(ids, hidden)
            ids, sims = ids[keep], sims[:, keep]
        return ids, np.ascontiguousarray(sims.T)

    def resolve(self, results: list[SearchResult]) -> list[SearchResult]:
        """Attach each result's Photo record (results whose photo vanished are dropped)."""
        photos = {p.id: p for p in self.library.photos(ids=[r.photo_id for r in results])}
        return [
            SearchResult(r.photo_id, r.score, photos[r.photo_id])
            for r in results
            if r.photo_id in photos
        ]

    # --- internals -------------------------------------------------------------------------

    def _add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        if len(ids) == 0:
            return
        if self.index is None:
            self.index = VectorIndex(vecs.shape[1], self.dtype)
        self.index.add(ids, vecs)

    def _remove(self, ids: list[int]) -> None:
        if self.index is not None:
            self.index.remove(ids)
        arr = np.asarray(ids, np.int64)
        self._stamps[arr[arr < len(self._stamps)]] = np.nan
        for pid in ids:
            self._not_ok.pop(pid, None)

    def _stamp(self, ids: np.ndarray, times: np.ndarray) -> None:
        if len(ids):
            self._grow_stamps(int(ids.max()) + 1)
            self._stamps[ids] = times

    def _grow_stamps(self, needed: int) -> None:
        if needed > len(self._stamps):
            grown = np.full(max(needed, 2 * len(self._stamps), 1024), np.nan)
            grown[: len(self._stamps)] = self._stamps
            self._stamps = grown

    def _changed(self) -> None:
        self._generation += 1
        self._allowed_cache.clear()
        self._status_cache.clear()
        self._date_ranks = None

    def _by_status(self, statuses: frozenset[str]) -> tuple[np.ndarray, np.ndarray]:
        """(ids to hide, non-ok ids to show) for a status filter, cached until a change."""
        with self._lock:
            cached = self._status_cache.get(statuses)
            if cached is None:
                hide = [p for p, st in self._not_ok.items() if st not in statuses]
                show = [p for p, st in self._not_ok.items() if st in statuses]
                cached = (np.array(hide, np.int64), np.array(show, np.int64))
                self._status_cache[statuses] = cached
            return cached

    def _allowed(self, filters: SearchFilters) -> np.ndarray | None:
        out = None
        key = filters.sql_key()
        if key != (None, None, None):
            with self._lock:
                cached = self._allowed_cache.get(key)
            if cached is None:
                cached = self._query_allowed(filters)
                with self._lock:
                    self._allowed_cache[key] = cached
            out = cached
        if filters.allowed_ids is not None:
            extra = np.fromiter((int(i) for i in filters.allowed_ids), np.int64)
            out = extra if out is None else np.intersect1d(out, extra)
        return out

    def _query_allowed(self, filters: SearchFilters) -> np.ndarray:
        folder_ids, under = _scope(self.library, filters)
        ids = self.library.photo_ids_matching(
            folder_ids=folder_ids,
            under=under,
            taken_from=filters.date_from,
            taken_to=filters.date_to,
        )
        return np.asarray(ids, np.int64)


def _ann_similarities(
    index: AnnIndex, queries: np.ndarray, hidden: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`Searcher.similarities` over an ANN index: the union of each query's best photos,
    each scored exactly against every query."""
    drop = hidden if len(hidden) else None
    found = [index.search(q, k=RANK_LIMIT, exclude=drop).ids for q in queries]
    ids, vectors = index.fetch(np.unique(np.concatenate(found)) if found else np.empty(0, np.int64))
    if not len(ids):
        return np.empty(0, np.int64), np.empty((0, len(queries)), np.float32)
    sims = np.asarray(vectors, np.float32) @ queries.T
    return np.asarray(ids, np.int64), np.ascontiguousarray(sims, np.float32)


def _scope(library: Library, filters: SearchFilters) -> tuple[list[int] | None, list[str] | None]:
    """(watched folders' ids, directories inside them) of a folder filter, for the library's
    queries (folders the library lacks match nothing); (None, None): no folder filter."""
    if filters.folders is None:
        return None, None
    scope = library.folder_scope(filters.folders)
    return list(scope.folder_ids), list(scope.under)


def passing(library: Library, photo_ids: np.ndarray, filters: SearchFilters) -> np.ndarray:
    """``photo_ids`` that pass ``filters`` (folders, dates, statuses, allowed ids), in their
    order; the minimum score is not applied (it is CLIP's). For photos found without the vector
    index (the text index's hits, which may have no vector yet): no model and no Searcher
    needed, and the same SQL date rule, through browsing's cached read
    (:meth:`~clipdesk.library.store.Library.photo_dates`). A photo waiting for its embedding
    passes where ``ok`` does: its name and words are known before its vector, and a photo
    just added is found by its name during the first index run."""
    ids = np.asarray(photo_ids, np.int64)
    if not len(ids):
        return ids
    statuses = set(filters.statuses)
    if PhotoStatus.OK.value in statuses:
        statuses.add(PhotoStatus.PENDING.value)
    folder_ids, under = _scope(library, filters)
    shown, _ = library.photo_dates(
        folder_ids=folder_ids,
        under=under,
        statuses=sorted(statuses),
        taken_from=filters.date_from,
        taken_to=filters.date_to,
    )
    keep = members(ids, shown)
    if filters.allowed_ids is not None:
        keep &= members(ids, np.fromiter((int(i) for i in filters.allowed_ids), np.int64))
    kept: np.ndarray = ids[keep]
    return kept


def date_ranks(library: Library) -> np.ndarray:
    """Photo id -> the rank of its date (equal dates, equal ranks; -1: no such photo), as
    :func:`clipdesk.library.dates.taken_seconds` dates it: what :func:`by_date` sorts by."""
    known, seconds = library.photo_dates()
    _, dense = np.unique(seconds, return_inverse=True)
    table = np.full(int(known.max()) + 1 if len(known) else 0, -1, np.int64)
    table[known] = dense.ravel()
    return table


def by_date(table: np.ndarray, photo_ids: np.ndarray, newest: bool = True) -> np.ndarray:
    """Positions into ``photo_ids`` ordering them by date rank (:func:`date_ranks`), newest or
    oldest first, equal dates keeping their order; ids without a rank left out."""
    ids = np.asarray(photo_ids, np.int64)
    ranks = np.full(len(ids), -1, np.int64)
    inside = (ids >= 0) & (ids < len(table))
    ranks[inside] = table[ids[inside]]
    held = np.flatnonzero(ranks >= 0)
    ranks = ranks[held]
    if newest and len(ranks):
        ranks = ranks.max() - ranks
    order: np.ndarray = held[stable_order(ranks)]
    return order
