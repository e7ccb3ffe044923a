"""Search over the library: the in-memory index of one model's vectors, kept in step with the
store, plus the filters a user applies (folder, date range, status, tags).

The index holds every photo that has a vector for the model, whatever its status; the status
filter (default: ``ok``) is applied from a small in-memory map of the photos that are *not* ok, so
the common search needs no database query at all. Folder and date filters become a set of
allowed ids (one indexed SQL query, cached until the library changes); the tag engine passes its
own ``allowed_ids``.

Keeping in step: :meth:`Searcher.add` / :meth:`Searcher.remove` for changes the caller knows about
(the pipeline's "photos embedded" hook), and :meth:`Searcher.sync`, an incremental diff of
(photo id, status, vector time) against the store, after a scan or a watch event: only photos
that changed are read or dropped, never the whole matrix.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clipdesk.library.records import Photo, PhotoStatus
from clipdesk.search.vector_index import VectorIndex

log = logging.getLogger("clipdesk.search")

_FETCH = 8192  # rows per fetch while streaming vectors out of SQLite
DateLike = dt.date | dt.datetime | str


@dataclass(frozen=True)
class SearchFilters:
    folders: Sequence[int | str | Path] | None = None  # folder ids or paths; None: all
    date_from: DateLike | None = None  # inclusive; a date means from its first second
    date_to: DateLike | None = None  # inclusive; a date means up to its last second
    statuses: Sequence[str] = (PhotoStatus.OK.value,)
    allowed_ids: Iterable[int] | None = None  # e.g. photos with a tag (clipdesk.core.tags)
    min_score: float | None = None

    def sql_key(self) -> tuple:
        folders = tuple(str(f) for f in self.folders) if self.folders is not None else None
        return folders, _iso(self.date_from, end=False), _iso(self.date_to, end=True)


@dataclass(frozen=True)
class SearchResult:
    photo_id: int
    score: float
    photo: Photo | None = None  # filled in by :meth:`Searcher.resolve`

    def as_dict(self) -> dict[str, Any]:
        p = self.photo
        return {
            "id": self.photo_id,
            "score": round(self.score, 5),
            "path": str(p.path) if p else None,
            "taken_at": p.taken_at if p else None,
            "status": str(p.status) if p else None,
        }


def _iso(value: DateLike | None, end: bool) -> str | None:
    """A bound comparable with the stored ISO 8601 ``taken_at`` strings."""
    if value is None:
        return None
    if isinstance(value, str):
        value = (
            dt.datetime.fromisoformat(value)
            if "T" in value or " " in value
            else dt.date.fromisoformat(value)
        )
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(timespec="seconds")
    return (value.isoformat() + "T23:59:59") if end else (value.isoformat() + "T00:00:00")


class Searcher:
    """The search index of one model id over one library."""

    def __init__(
        self, library: Any, model_id: str, dim: int | None = None, dtype: str = "float16"
    ) -> None:
        self.library = library
        self.model_id = model_id
        self.dtype = dtype
        self.index: VectorIndex | None = VectorIndex(dim, dtype) if dim else None
        self._lock = threading.RLock()
        self._not_ok: dict[int, str] = {}  # photo id -> status, for indexed photos not ok
        self._stamp: dict[int, float] = {}  # photo id -> vector created_at
        self._generation = 0
        self._allowed_cache: dict[tuple, np.ndarray] = {}
        self._status_cache: dict[frozenset[str], tuple[np.ndarray, np.ndarray]] = {}

    # --- keeping in step -------------------------------------------------------------------

    def load(self) -> int:
        """Read every vector of the model (streamed in chunks: peak memory is the index plus one
        chunk). Returns how many photos are indexed."""
        with self._lock, self.library.reading() as conn:
            n, dim = conn.execute(
                "SELECT count(*), max(dim) FROM embeddings WHERE model_id = ?", (self.model_id,)
            ).fetchone()
            if not n:
                return 0
            index = VectorIndex(int(dim), self.dtype, capacity=int(n))
            self._not_ok.clear()
            self._stamp.clear()
            cur = conn.execute(
                "SELECT e.photo_id, e.vector, e.created_at, p.status FROM embeddings e "
                "JOIN photos p ON p.id = e.photo_id WHERE e.model_id = ? AND e.dim = ?",
                (self.model_id, int(dim)),
            )
            while rows := cur.fetchmany(_FETCH):
                ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
                vecs = np.frombuffer(b"".join(r[1] for r in rows), "<f4").reshape(len(rows), -1)
                index.add(ids, vecs)
                for r in rows:
                    self._stamp[r[0]] = r[2]
                    if r[3] != PhotoStatus.OK.value:
                        self._not_ok[r[0]] = r[3]
            self.index = index
            self._changed()
            return len(index)

    def sync(self) -> tuple[int, int]:
        """Bring the index in step with the store; returns (added or replaced, removed)."""
        with self._lock:
            rows = (
                self.library.connection()
                .execute(
                    "SELECT e.photo_id, e.created_at, p.status FROM embeddings e "
                    "JOIN photos p ON p.id = e.photo_id WHERE e.model_id = ?",
                    (self.model_id,),
                )
                .fetchall()
            )
            seen: dict[int, float] = {}
            not_ok: dict[int, str] = {}
            for pid, created, status in rows:
                seen[pid] = created
                if status != PhotoStatus.OK.value:
                    not_ok[pid] = status
            for pid, created in seen.items():
                if self._stamp.get(pid) == -1.0:  # added by the pipeline's hook: already current
                    self._stamp[pid] = created
            stale = [pid for pid, created in seen.items() if self._stamp.get(pid) != created]
            gone = [pid for pid in self._stamp if pid not in seen]
            if stale:
                ids, vecs = self.library.vectors_for(self.model_id, stale)
                self._add(ids, vecs)
                for pid in ids.tolist():
                    self._stamp[pid] = seen[pid]
            if gone:
                self._remove(gone)
            self._not_ok = not_ok
            self._changed()
            return len(stale), len(gone)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Photos just embedded (status ok) - the pipeline's hook."""
        with self._lock:
            self._add(np.asarray(ids, np.int64), vectors)
            for pid in np.asarray(ids).tolist():
                self._not_ok.pop(pid, None)
                self._stamp[pid] = -1.0  # unknown: the next sync re-reads it once
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
    ) -> list[SearchResult]:
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
            min_score=filters.min_score,
            exclude=hidden if len(hidden) else None,
        )
        return [SearchResult(pid, score) for pid, score in hits.pairs()]

    def similarities(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cosine similarity of every photo search can show (status ok) to each of ``queries``
        [m, dim]: (ids [n], float32 [n, m]), from the index in memory, not the library file."""
        queries = np.asarray(queries, dtype=np.float32)
        with self._lock:
            if self.index is None or not len(self.index):
                return np.empty(0, np.int64), np.empty((0, len(queries)), np.float32)
            ids, sims = self.index.score_all(queries)
            hidden, _ = self._by_status(frozenset({PhotoStatus.OK.value}))
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
        for pid in ids:
            self._stamp.pop(pid, None)
            self._not_ok.pop(pid, None)

    def _changed(self) -> None:
        self._generation += 1
        self._allowed_cache.clear()
        self._status_cache.clear()

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
        where, params = [], []
        if filters.folders is not None:
            ids = []
            for f in filters.folders:
                folder = self.library.folder(f)
                if folder is not None:
                    ids.append(folder.id)
            where.append(f"folder_id IN ({','.join('?' * len(ids)) or 'NULL'})")
            params += ids
        # Photos without an EXIF date are placed by their file's modification time.
        taken = (
            "coalesce(taken_at, strftime('%Y-%m-%dT%H:%M:%S', mtime_ns / 1000000000, "
            "'unixepoch', 'localtime'))"
        )
        lo, hi = _iso(filters.date_from, end=False), _iso(filters.date_to, end=True)
        if lo:
            where.append(f"{taken} >= ?")
            params.append(lo)
        if hi:
            where.append(f"{taken} <= ?")
            params.append(hi)
        rows = (
            self.library.connection()
            .execute(f"SELECT id FROM photos WHERE {' AND '.join(where)}", params)
            .fetchall()
        )
        return np.fromiter((r[0] for r in rows), np.int64, len(rows))
