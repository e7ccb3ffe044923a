"""The in-memory vector index that answers searches.

One matrix of L2-normalised photo vectors, one row per photo, kept in step with the store by
incremental :meth:`VectorIndex.add` / :meth:`VectorIndex.remove` (no full reload). A search is one
matrix-vector product and an ``argpartition`` for the top k.

Storage is **float16** by default: a million 512-d photos take 1 GB instead of 2 GB, and torch's
CPU half-precision GEMV (fp32 accumulation) reads half the bytes, so it is also faster than a
float32 product (bench/search_bench.py, one thread: 1M x 512 p50 ~52 ms vs faiss IndexFlatIP
~88 ms). Accuracy versus exact float32: max |score error| ~2e-4; recall@50 1.0 on random unit
vectors, 0.99 on clustered ones (near-ties within float16 resolution swap places).
``dtype="float32"`` keeps exact scores for callers that need them.

The matrix is a numpy array. The product runs on torch when the process had torch loaded when the
index was made (the app on PyTorch); otherwise the half-precision values are held in float32 and
multiplied by BLAS, with the query and the scores rounded as torch's half product rounds them, so
a CLI query on ONNX Runtime never imports torch. The two products accumulate in different orders:
about one score in a thousand lands one half-precision step apart, which can swap near-ties (a
few places in a thousand); scores otherwise, and every clear ranking, are the same.

Photo ids are SQLite rowids (small non-negative integers), so id -> row is a numpy array indexed by
id rather than a dict: 8 bytes per id instead of ~100 bytes of Python objects at a million photos.
All methods are thread-safe (one lock; a search of a million rows holds it for ~30 ms).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

_DTYPES = {"float16": np.float16, "float32": np.float32}
# Rows upcast at a time by the numpy product: 32 MB of float32 at 512 dimensions.
_CHUNK_ROWS = 16384
# Below this share of the rows, an allowed-ids filter gathers just those rows before the product.
_GATHER_FRACTION = 0.25


@dataclass(frozen=True)
class Hits:
    """Search results, best first."""

    ids: np.ndarray  # int64 [k]
    scores: np.ndarray  # float32 [k], cosine similarity

    def __len__(self) -> int:
        return len(self.ids)

    def pairs(self) -> list[tuple[int, float]]:
        return [(int(i), float(s)) for i, s in zip(self.ids, self.scores, strict=True)]


def _as_ids(ids: Iterable[int] | np.ndarray) -> np.ndarray:
    arr = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids), dtype=np.int64).ravel()
    if arr.size and arr.min() < 0:
        raise ValueError("photo ids must be non-negative")
    return arr


class VectorIndex:
    """Unit vectors by photo id; top-k cosine search with optional filters."""

    def __init__(self, dim: int, dtype: str = "float16", capacity: int = 1024) -> None:
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}")
        self.dim = int(dim)
        self.dtype = dtype
        self._lock = threading.RLock()
        # Half precision wants torch's GEMV; a process without torch (a CLI query on ONNX
        # Runtime) keeps the same half-precision values in float32 for BLAS instead, twice the
        # memory but 30x faster than numpy's upcast of every row at every search.
        self._half = dtype == "float16"
        storage = np.float32 if self._half and "torch" not in sys.modules else _DTYPES[dtype]
        self._matrix = np.empty((max(1, capacity), self.dim), dtype=storage)
        self._ids = np.empty(max(1, capacity), dtype=np.int64)  # row -> photo id
        self._row_of = np.full(1024, -1, dtype=np.int64)  # photo id -> row, -1 when absent
        self._n = 0

    # --- contents --------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._n

    def __contains__(self, photo_id: object) -> bool:
        if not isinstance(photo_id, int | np.integer) or photo_id < 0:
            return False
        with self._lock:
            return int(photo_id) < len(self._row_of) and self._row_of[int(photo_id)] >= 0

    @property
    def ids(self) -> np.ndarray:
        with self._lock:
            return self._ids[: self._n].copy()

    @property
    def nbytes(self) -> int:
        row = self._matrix.itemsize * self.dim + 8
        return len(self._matrix) * row + self._row_of.nbytes

    def vector(self, photo_id: int) -> np.ndarray | None:
        """The stored vector of one photo (float32), or None when it is not indexed."""
        with self._lock:
            row = self._row(photo_id)
            return None if row < 0 else self._matrix[row].astype(np.float32)

    def reserve(self, capacity: int) -> None:
        """Grow to hold ``capacity`` rows without further copies (call before a bulk load)."""
        with self._lock:
            if capacity > len(self._matrix):
                self._grow_rows(capacity)

    def add(self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace vectors (rows need not be normalised again: the store's are)."""
        ids = _as_ids(ids)
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(ids), -1)
        if vectors.shape[1] != self.dim:
            raise ValueError(f"vectors have dimension {vectors.shape[1]}, index has {self.dim}")
        if len(ids) == 0:
            return
        # A repeated id within one call: the last vector wins, as for sequential upserts.
        uniq, last = np.unique(ids[::-1], return_index=True)
        if len(uniq) != len(ids):
            keep = len(ids) - 1 - last
            ids, vectors = ids[keep], vectors[keep]
        with self._lock:
            self._grow_ids(int(ids.max()) + 1)
            rows = self._row_of[ids]
            new = rows < 0
            n_new = int(new.sum())
            if self._n + n_new > len(self._matrix):
                self._grow_rows(self._n + n_new)
            rows[new] = np.arange(self._n, self._n + n_new)
            self._ids[rows[new]] = ids[new]
            self._row_of[ids[new]] = rows[new]
            self._n += n_new
            src = vectors.astype(np.float16) if self.dtype == "float16" else vectors
            if not src.flags.writeable:  # e.g. np.frombuffer over SQLite BLOBs
                src = src.copy()
            self._matrix[rows] = src

    def remove(self, ids: Iterable[int] | np.ndarray) -> int:
        """Drop photos (absent ids are ignored); returns how many were removed."""
        ids = _as_ids(ids)
        removed = 0
        with self._lock:
            for photo_id in np.unique(ids):
                row = self._row(int(photo_id))
                if row < 0:
                    continue
                last = self._n - 1
                if row != last:  # move the last row into the hole: O(1) per removal
                    moved = int(self._ids[last])
                    self._matrix[row] = self._matrix[last]
                    self._ids[row] = moved
                    self._row_of[moved] = row
                self._row_of[photo_id] = -1
                self._n -= 1
                removed += 1
        return removed

    def clear(self) -> None:
        with self._lock:
            self._row_of[:] = -1
            self._n = 0

    # --- search ----------------------------------------------------------------------------

    def search(
        self,
        query: np.ndarray,
        k: int = 50,
        allowed: Iterable[int] | np.ndarray | None = None,
        min_score: float | None = None,
        exclude: Iterable[int] | None = None,
    ) -> Hits:
        """Top ``k`` photos by cosine similarity to ``query`` (a unit vector, shape [dim]).

        ``allowed``: only these photo ids may be returned (folder/date/status/tag filters);
        ``exclude``: ids never returned (the photo itself in "more like this");
        ``min_score``: drop hits scoring below it.
        """
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if q.shape[0] != self.dim:
            raise ValueError(f"query has dimension {q.shape[0]}, index has {self.dim}")
        with self._lock:
            if allowed is None:
                # Exclusions only (hidden statuses, the query photo): score everything, then
                # knock those rows out - cheaper than gathering all the other rows.
                scores = self._scores(q, None)
                row_ids = self._ids[: self._n]
                if exclude is not None:
                    e = _as_ids(exclude)
                    rows = self._row_of[e[e < len(self._row_of)]]
                    scores[rows[rows >= 0]] = -np.inf
            else:
                rows = self._allowed_rows(allowed, exclude)
                scores = self._scores(q, rows)
                row_ids = self._ids[rows]
            hits = _top_k(row_ids, scores, k, min_score)
        if len(hits) and hits.scores[-1] == -np.inf:
            keep = hits.scores > -np.inf
            hits = Hits(hits.ids[keep], hits.scores[keep])
        return hits

    def score_all(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores of every photo against several queries: (ids [n], scores float32 [m, n])."""
        qs = np.asarray(queries, dtype=np.float32).reshape(-1, self.dim)
        with self._lock:
            ids = self._ids[: self._n].copy()
            out = np.empty((len(qs), self._n), dtype=np.float32)
            for i, q in enumerate(qs):  # GEMV per query: the fast half-precision path
                out[i] = self._scores(q, None)
        return ids, out

    # --- internals -------------------------------------------------------------------------

    def _row(self, photo_id: int) -> int:
        if photo_id < 0 or photo_id >= len(self._row_of):
            return -1
        return int(self._row_of[photo_id])

    def _allowed_rows(
        self, allowed: Iterable[int] | np.ndarray, exclude: Iterable[int] | None
    ) -> np.ndarray:
        a = _as_ids(allowed)
        a = a[a < len(self._row_of)]
        rows = self._row_of[a]
        mask = np.zeros(self._n, dtype=bool)
        mask[rows[rows >= 0]] = True
        if exclude is not None:
            e = _as_ids(exclude)
            e = e[e < len(self._row_of)]
            rows = self._row_of[e]
            mask[rows[rows >= 0]] = False
        return np.flatnonzero(mask)

    def _scores(self, q: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
        if rows is None:
            if self._n == 0:
                return np.empty(0, dtype=np.float32)
            return _product(self._matrix[: self._n], q, self._half)
        if len(rows) == 0:
            return np.empty(0, dtype=np.float32)
        if len(rows) < _GATHER_FRACTION * self._n:
            return _product(self._matrix[rows], q, self._half)
        every = _product(self._matrix[: self._n], q, self._half)
        picked: np.ndarray = every[rows]
        return picked

    def _grow_rows(self, needed: int) -> None:
        cap = max(needed, int(len(self._matrix) * 1.5) + 16)
        matrix = np.empty((cap, self.dim), dtype=self._matrix.dtype)
        matrix[: self._n] = self._matrix[: self._n]
        ids = np.empty(cap, dtype=np.int64)
        ids[: self._n] = self._ids[: self._n]
        self._matrix, self._ids = matrix, ids

    def _grow_ids(self, needed: int) -> None:
        if needed > len(self._row_of):
            grown = np.full(max(needed, 2 * len(self._row_of)), -1, dtype=np.int64)
            grown[: len(self._row_of)] = self._row_of
            self._row_of = grown


def _product(matrix: np.ndarray, q: np.ndarray, half: bool) -> np.ndarray:
    """matrix [n, d] @ q [d] as float32 scores; ``half``: the vectors, the query and the scores
    at half precision, as torch's half product computes them (float32 accumulation)."""
    if half and matrix.dtype == np.float32:  # half-precision values held in float32
        q16 = np.asarray(q, dtype=np.float16).astype(np.float32)
        scores32: np.ndarray = (matrix @ q16).astype(np.float16).astype(np.float32)
        return scores32
    torch = sys.modules.get("torch")
    if torch is not None:
        qt = torch.from_numpy(np.ascontiguousarray(q)).to(_torch_dtype(torch, matrix.dtype))
        # numpy's upcast of the half-precision scores: torch's .float() on two threads is 50x
        # slower for 100,000 of them
        out: np.ndarray = torch.mv(torch.from_numpy(matrix), qt).numpy().astype(np.float32)
        return out
    q32 = np.asarray(q, dtype=matrix.dtype).astype(np.float32)
    scores = np.empty(len(matrix), dtype=np.float32)
    for start in range(0, len(matrix), _CHUNK_ROWS):
        chunk = matrix[start : start + _CHUNK_ROWS].astype(np.float32)
        scores[start : start + len(chunk)] = chunk @ q32
    if matrix.dtype == np.float16:  # torch's half product returns half-precision scores
        scores = scores.astype(np.float16).astype(np.float32)
    return scores


def _torch_dtype(torch: object, dtype: np.dtype) -> object:
    return getattr(torch, "float16" if dtype == np.float16 else "float32")


def _top_k(ids: np.ndarray, scores: np.ndarray, k: int, min_score: float | None) -> Hits:
    if min_score is not None and len(scores):
        keep = np.flatnonzero(scores >= min_score)
        if len(keep) < len(scores):
            ids, scores = ids[keep], scores[keep]
    k = min(int(k), len(scores))
    if k <= 0:
        return Hits(np.empty(0, np.int64), np.empty(0, np.float32))
    part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    # Ties break by photo id so results are stable between runs.
    order = np.lexsort((ids[part], -scores[part]))
    best = part[order]
    return Hits(ids[best].astype(np.int64, copy=True), scores[best].astype(np.float32, copy=True))
