"""The approximate index that answers searches past RAM: faiss IVF-PQ, re-ranked exactly.

A flat float16 matrix (:mod:`clipdesk.search.vector_index`) takes ``dim * 2`` bytes a photo:
10 GB for ten million 512-d vectors. Here a photo costs a 64-byte product-quantised code and
its 8-byte id in an inverted list (72 bytes: 720 MB for ten million), plus the k-means centroids
(``nlist * dim * 4`` bytes, 16 MB at 8,192 lists). A query scores the codes of the ``nprobe``
lists whose centroids are nearest (inner product: the vectors are unit length, so it is the
cosine), keeps the best :attr:`AnnParams.rerank` candidates, reads their stored float32 vectors
through ``fetch`` (the library file: :meth:`~clipdesk.library.store.Library.vectors_for`) and
scores those exactly. The scores a search returns are therefore exact cosines; only *which*
photos are candidates is approximate.

Filters: an allowed set (folders, dates, tags) and excluded ids (hidden statuses, the query
photo) become one bitmap over photo ids (``IDSelectorBitmap``: an id is a SQLite rowid, so the
bitmap is a bit a rowid, 1.25 MB at ten million) that faiss checks while it scans, so filtered-out
photos never take a candidate's place. A narrow filter leaves few of the photos in the probed
lists, and the true best ones of the filter lie in lists farther away: ``nprobe`` grows as the
filter's share shrinks (``nprobe / share``, up to every list), so a filter keeping 1% scans every
list but scores only that 1% of the codes. A filter of at most :data:`EXACT_LIMIT` photos skips
the index: their stored vectors are read and scored exactly.

Parameters (``AnnParams.for_count``), tuned with ``bench/ann_bench.py``: clustered photo-like
512-d vectors (4,000 clusters of Zipf sizes and varied spreads in 64 themes) and text-like
queries (their best photos at cosine ~0.35, the average photo at ~0.10: far from every photo, as
text queries are), recall@10 against exact float32 search:

- ``nlist``: the power of two nearest ``2 * sqrt(n)``, as many as a training sample of at most
  :data:`MAX_TRAIN` vectors fills with :data:`TRAIN_PER_LIST` each (2,048 at 1-2M, 8,192 at
  10M and beyond): lists of ~500-1,200 codes, and a k-means these CPUs train in seconds to
  minutes;
- ``m = 64`` sub-quantizers of 8 bits on the residuals of the cells (64 bytes a vector; fewer
  for a dimension 64 does not divide);
- ``nprobe``: a 32nd of the lists, at least :data:`NPROBE` (64 at 1-2M, 256 at 10M). Text
  queries sit far from every photo (the modality gap), so the cells nearest them hold their
  best photos less surely than an image query's; at 400k (1,024 lists) 16 lists already gave
  the recall of 64, while in 32-d test worlds a quarter of the lists lost 7 points;
- ``rerank = 0.6 * sqrt(n)`` candidates re-scored exactly, at least :data:`RERANK` (600 at 1M,
  850 at 2M, 1,900 at 10M): PQ's error is about the gap between the 10th best photo and those
  just behind it, and that crowd grows with the library: at 400k, 200 candidates gave 0.947 and
  400 gave 0.981; at 100k, 200 gave 0.979. Measured (2 cores): recall@10 0.983 at 1M, 0.978 at
  2M; under a filter keeping a random 1%, 1.000 at both; p50 4.2 ms at 1M and 9.0 ms at 2M
  (exact float16: 56 and 118 ms), 10 and 18 ms under the 1% filter (exact: 5 and 8 ms); 122 MB
  and 176 MB resident (exact: 1,070 and 2,143 MB); built in 39 s and 69 s. Reading the
  candidates from the library file adds ~7 ms for 850 of them (warm).

``rank`` at this scale returns the best :data:`RANK_LIMIT` photos, not every photo: a ranking of
ten million exact scores is what the index exists to avoid.

Incremental: :meth:`AnnIndex.add` assigns new photos to the trained cells (an upsert: a photo
already indexed is removed first), :meth:`AnnIndex.remove` drops ids (one scan of every list's
ids for a batch). The cells stay as trained, so the owner rebuilds when the library has doubled or
halved since (:meth:`AnnIndex.drifted`). The inverted lists grow like C++ vectors (up to twice
their size after many appends); saving and loading them again compacts them
(:mod:`clipdesk.search.ann_store`).

Thread-safe: one lock around faiss (an add or a remove must not run during a search), none
around ``fetch``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from clipdesk.common.errors import ClipDeskError
from clipdesk.search.ranking import best_first
from clipdesk.search.vector_index import Hits

# (ids int64 [n]) -> (the ids found, float32 [found, dim]): the stored vectors of photos; ids
# whose vectors are gone are left out.
Fetch = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]

MIN_VECTORS = 256  # fewer than this: nothing to train cells and codebooks on (flat search)
NPROBE = 64  # lists an unfiltered query scans, at least (a 32nd of them past 2,048)
RERANK_PER_SQRT = 0.6  # candidates re-scored exactly: this times sqrt(n), at least RERANK
RERANK = 256
CODE_BYTES = 64
RANK_LIMIT = 1000  # photos a ranking holds at ANN scale
EXACT_LIMIT = 2048  # an allowed set this small is scored exactly from the stored vectors
MAX_NLIST = 16384
TRAIN_PER_LIST = 32  # k-means points a cell
MAX_TRAIN = 262_144  # 512 MB of float32 at 512-d: the build's peak before any code exists
_MIN_POINTS = 4  # per centroid: small libraries (tests) train without faiss's warnings


def faiss_module() -> Any:
    """faiss, imported on first use: a library searched flat never loads it."""
    try:
        import faiss
    except ImportError as exc:  # a runtime dependency, but a broken install says so clearly
        raise ClipDeskError(
            "Searching a library this large needs faiss-cpu, which is not installed.",
            "pip install faiss-cpu (or reinstall ClipDesk).",
        ) from exc
    return faiss


@dataclass(frozen=True)
class AnnParams:
    """The shape of an index (see the module docstring for the choices)."""

    dim: int
    nlist: int  # inverted lists: k-means cells of the coarse quantizer
    m: int  # product-quantizer sub-vectors: bytes a code at 8 bits
    nbits: int  # bits a sub-vector code (8 except for tiny libraries)
    nprobe: int  # lists an unfiltered query scans
    rerank: int  # candidates re-scored exactly

    @classmethod
    def for_count(cls, n: int, dim: int) -> AnnParams:
        """Parameters for an index of about ``n`` vectors of ``dim`` dimensions."""
        if n < MIN_VECTORS:
            raise ValueError(f"an ANN index needs at least {MIN_VECTORS} vectors, not {n}")
        nlist = 2 ** round(math.log2(2 * math.sqrt(n)))
        room = min(n, MAX_TRAIN) // TRAIN_PER_LIST  # cells the training sample can fill
        nlist = max(1, min(nlist, MAX_NLIST, 2 ** int(math.log2(max(1, room)))))
        nbits = min(8, int(math.log2(max(2, training_size(n, nlist) // _MIN_POINTS))))
        m = max(d for d in range(1, min(CODE_BYTES, dim) + 1) if dim % d == 0)
        nprobe = min(nlist, max(NPROBE, nlist // 32))
        rerank = max(RERANK, 50 * math.ceil(RERANK_PER_SQRT * math.sqrt(n) / 50))
        return cls(dim, nlist, m, nbits, nprobe, rerank)

    def as_json(self) -> dict[str, int]:
        return asdict(self)

    @property
    def bytes_per_vector(self) -> int:
        """A code and its id in an inverted list."""
        return math.ceil(self.m * self.nbits / 8) + 8


def training_size(n: int, nlist: int) -> int:
    """Vectors to train an index of ``n`` on: ``TRAIN_PER_LIST`` a cell, at most MAX_TRAIN."""
    return min(n, max(TRAIN_PER_LIST * nlist, 16_384), MAX_TRAIN)


def _ids(values: Iterable[int] | np.ndarray) -> np.ndarray:
    """int64 ids, the very array when it is one already (the filter's bitmap is cached by it)."""
    if isinstance(values, np.ndarray) and values.dtype == np.int64 and values.ndim == 1:
        arr = values
    else:
        arr = np.asarray(values if isinstance(values, np.ndarray) else list(values), np.int64)
        arr = arr.ravel()
    if arr.size and arr.min() < 0:
        raise ValueError("photo ids must be non-negative")
    return arr


class AnnIndex:
    """Unit vectors by photo id, as IVF-PQ codes; top-k search re-ranked by ``fetch``."""

    def __init__(self, index: Any, params: AnnParams, fetch: Fetch, trained_on: int) -> None:
        """``index``: a trained ``faiss.IndexIVFPQ`` (inner product), filled or not;
        ``trained_on``: how many vectors the library had when its cells were trained."""
        self._faiss = faiss_module()
        self._index = index
        self.params = params
        self.fetch = fetch
        self.trained_on = int(trained_on)
        self._lock = threading.RLock()
        self._present = np.zeros(1024, bool)  # photo id -> indexed
        self.changes = 0  # adds and removes so far: the store saves when it moved
        # The last filter's bitmap, for the next keystroke with the same filter arrays.
        self._selected: tuple[object, object, int, np.ndarray, int] | None = None
        ids = self._list_ids()
        if len(ids):
            self._grow(int(ids.max()) + 1)
            self._present[ids] = True

    @classmethod
    def train(cls, sample: np.ndarray, total: int, fetch: Fetch) -> AnnIndex:
        """An empty index whose cells and codebooks are learnt from ``sample`` (unit vectors
        drawn at random from the ``total`` photos it is for)."""
        faiss = faiss_module()
        sample = np.ascontiguousarray(sample, np.float32)
        params = AnnParams.for_count(max(total, len(sample)), sample.shape[1])
        if len(sample) < min(total, params.nlist * _MIN_POINTS, 2**params.nbits):
            raise ValueError(f"{len(sample)} training vectors are too few for {params}")
        quantizer = faiss.IndexFlatIP(params.dim)
        index = faiss.IndexIVFPQ(
            quantizer, params.dim, params.nlist, params.m, params.nbits, faiss.METRIC_INNER_PRODUCT
        )
        index.cp.min_points_per_centroid = _MIN_POINTS
        index.pq.cp.min_points_per_centroid = _MIN_POINTS
        index.train(sample)
        return cls(index, params, fetch, trained_on=total)

    # --- contents --------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return self.params.dim

    def __len__(self) -> int:
        index = self._index
        return 0 if index is None else int(index.ntotal)

    def __contains__(self, photo_id: object) -> bool:
        if not isinstance(photo_id, int | np.integer) or photo_id < 0:
            return False
        with self._lock:
            return int(photo_id) < len(self._present) and bool(self._present[int(photo_id)])

    @property
    def ids(self) -> np.ndarray:
        with self._lock:
            return np.flatnonzero(self._present).astype(np.int64)

    @property
    def nbytes(self) -> int:
        """Memory held, about: codes, ids, centroids and the id bitmap (the lists' spare
        capacity after appends not counted)."""
        centroids = self.params.nlist * self.dim * 4
        return len(self) * self.params.bytes_per_vector + centroids + self._present.nbytes

    @property
    def faiss_index(self) -> Any:
        """The faiss index itself, for the store to write (hold no reference to it)."""
        return self._index

    def holds_exactly(self, ids: np.ndarray) -> bool:
        """Whether ``ids`` names every photo indexed, each once (a saved index's stamps)."""
        ids = np.asarray(ids, np.int64).ravel()
        with self._lock:
            if len(ids) != len(self):
                return False
            if len(ids) and (int(ids.min()) < 0 or int(ids.max()) >= len(self._present)):
                return False
            seen = np.zeros(len(self._present), bool)
            seen[ids] = True
            return bool(np.array_equal(seen, self._present))

    def reload(self, read: Callable[[], Any]) -> None:
        """Replace the faiss index by ``read()`` (the same contents read back from its file,
        at their exact size): the old one is freed first, so the peak is one index, not two;
        searches wait meanwhile. A failed read leaves the index empty (and raises)."""
        with self._lock:
            self._index = None
            self.changes += 1
            try:
                self._index = read()
            except BaseException:
                self._present[:] = False  # lost: empty until the owner replaces it
                raise

    def drifted(self) -> bool:
        """The library has doubled or halved since the cells were trained: time to rebuild."""
        n = len(self)
        return n > 2 * self.trained_on or 2 * n < self.trained_on

    def vector(self, photo_id: int) -> np.ndarray | None:
        """None: the codes are no vectors; the caller reads the stored one."""
        return None

    def add(self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace vectors (unit length, as the store keeps them)."""
        ids = _ids(ids)
        vectors = np.asarray(vectors, np.float32).reshape(len(ids), -1)
        if vectors.shape[1] != self.dim:
            raise ValueError(f"vectors have dimension {vectors.shape[1]}, index has {self.dim}")
        if not len(ids):
            return
        uniq, last = np.unique(ids[::-1], return_index=True)  # a repeated id: the last wins
        if len(uniq) != len(ids):
            keep = len(ids) - 1 - last
            ids, vectors = ids[keep], vectors[keep]
        with self._lock:
            if self._index is None:  # lost by a failed reload: the owner is replacing it
                return
            self._grow(int(ids.max()) + 1)
            again = ids[self._present[ids]]
            if len(again):
                self._index.remove_ids(again)
            self._index.add_with_ids(np.ascontiguousarray(vectors), ids)
            self._present[ids] = True
            self.changes += 1

    def remove(self, ids: Iterable[int] | np.ndarray) -> int:
        """Drop photos (absent ids are ignored); returns how many were removed."""
        wanted = _ids(ids)
        with self._lock:
            held = np.unique(wanted[wanted < len(self._present)])
            held = held[self._present[held]]
            if not len(held) or self._index is None:
                return 0
            removed = int(self._index.remove_ids(held))
            self._present[held] = False
            self.changes += 1
            return removed

    # --- search ----------------------------------------------------------------------------

    def search(
        self,
        query: np.ndarray,
        k: int = 50,
        allowed: Iterable[int] | np.ndarray | None = None,
        min_score: float | None = None,
        exclude: Iterable[int] | np.ndarray | None = None,
    ) -> Hits:
        """Top ``k`` photos by cosine similarity to ``query`` (a unit vector [dim]), with the
        contract of :meth:`VectorIndex.search <clipdesk.search.vector_index.VectorIndex.search>`:
        ``allowed`` only these, ``exclude`` never these, ``min_score`` none below it."""
        q = np.ascontiguousarray(np.asarray(query, np.float32).reshape(-1))
        if q.shape[0] != self.dim:
            raise ValueError(f"query has dimension {q.shape[0]}, index has {self.dim}")
        if k <= 0:
            return _no_hits()
        allowed = None if allowed is None else _ids(allowed)
        exclude = None if exclude is None or not len(e := _ids(exclude)) else e
        with self._lock:
            if not len(self):
                return _no_hits()
            if allowed is not None and len(allowed) <= EXACT_LIMIT:
                candidates = self._allowed(allowed, exclude)
            else:
                candidates = self._candidates(q, k, allowed, exclude)
        return self.exact(q, candidates, k, min_score)

    def exact(
        self,
        query: np.ndarray,
        ids: np.ndarray,
        k: int | None = None,
        min_score: float | None = None,
    ) -> Hits:
        """The stored vectors of ``ids`` scored against ``query``, best first (ties by id), at
        most ``k``; photos whose vectors are gone are left out."""
        if not len(ids):
            return _no_hits()
        found, vectors = self.fetch(np.asarray(ids, np.int64))
        if not len(found):
            return _no_hits()
        scores = np.asarray(vectors, np.float32) @ np.asarray(query, np.float32).reshape(-1)
        found = np.asarray(found, np.int64)
        if min_score is not None:
            keep = scores >= min_score
            found, scores = found[keep], scores[keep]
        ranked, best = best_first(found, scores, k)
        return Hits(ranked, best)

    def _candidates(
        self,
        q: np.ndarray,
        k: int,
        allowed: Iterable[int] | np.ndarray | None,
        exclude: Iterable[int] | np.ndarray | None,
    ) -> np.ndarray:
        """Ids of the best :attr:`AnnParams.rerank` (at least ``2k``) codes passing the filter."""
        faiss = self._faiss
        p = self.params
        want = max(p.rerank, 2 * k)
        search = faiss.SearchParametersIVF()
        search.nprobe = p.nprobe
        bits: np.ndarray | None = None
        if allowed is not None or exclude is not None:
            bits, kept = self._bitmap(allowed, exclude)
            if kept <= EXACT_LIMIT:  # a filter that leaves few photos: all of them, exactly
                mask = np.unpackbits(bits, bitorder="little")
                return np.flatnonzero(mask[: len(self._present)]).astype(np.int64)
            share = kept / len(self)
            # The filter's best photos lie in proportionally more lists; enough lists must
            # also hold ``want`` photos of the filter.
            probes = max(p.nprobe / share, 4 * want * p.nlist / kept)
            search.nprobe = int(min(p.nlist, math.ceil(probes)))
            search.sel = faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits))
        _, found = self._index.search(q[None, :], want, params=search)
        del bits  # the selector reads it during the search only
        ids: np.ndarray = found[0]
        return ids[ids >= 0]

    def _allowed(
        self, allowed: Iterable[int] | np.ndarray, exclude: Iterable[int] | np.ndarray | None
    ) -> np.ndarray:
        """The indexed ids of ``allowed``, less ``exclude``."""
        a = _ids(allowed)
        a = np.unique(a[a < len(self._present)])
        a = a[self._present[a]]
        if exclude is not None and len(a):
            a = a[~np.isin(a, _ids(exclude))]
        kept: np.ndarray = a
        return kept

    def _bitmap(
        self,
        allowed: Iterable[int] | np.ndarray | None,
        exclude: Iterable[int] | np.ndarray | None,
    ) -> tuple[np.ndarray, int]:
        """(bitmap over photo ids, little-endian bits; how many indexed photos it keeps), the
        last one again for the same filter arrays while the index has not changed."""
        cached = self._selected
        if (
            cached is not None
            and cached[0] is allowed
            and cached[1] is exclude
            and cached[2] == self.changes
        ):
            return cached[3], cached[4]
        size = len(self._present)
        if allowed is None:
            mask = self._present.copy()
        else:
            mask = np.zeros(size, bool)
            a = _ids(allowed)
            mask[a[a < size]] = True
            mask &= self._present
        if exclude is not None:
            e = _ids(exclude)
            mask[e[e < size]] = False
        kept = int(np.count_nonzero(mask))
        bits = np.packbits(mask, bitorder="little")
        self._selected = (allowed, exclude, self.changes, bits, kept)
        return bits, kept

    # --- internals -------------------------------------------------------------------------

    def _grow(self, needed: int) -> None:
        if needed > len(self._present):
            grown = np.zeros(max(needed, 2 * len(self._present)), bool)
            grown[: len(self._present)] = self._present
            self._present = grown

    def _list_ids(self) -> np.ndarray:
        """Every id in the inverted lists (an index read from a file)."""
        faiss = self._faiss
        invlists = self._index.invlists
        parts = []
        for list_no in range(invlists.nlist):
            size = invlists.list_size(list_no)
            if size:
                ptr = invlists.get_ids(list_no)
                parts.append(faiss.rev_swig_ptr(ptr, size).copy())
                invlists.release_ids(list_no, ptr)
        return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, np.int64)


def _no_hits() -> Hits:
    return Hits(np.empty(0, np.int64), np.empty(0, np.float32))
