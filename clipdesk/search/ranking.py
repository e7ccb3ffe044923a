"""Putting a whole library's matches in order: best score first, ties by photo id.

The search box ranks every match on each keystroke (the grid reads rows by page, but its row
count and scroll range are the number of matches), so the sort has to stay cheap at 100,000 and
more photos. ``np.lexsort`` on (id, -score) costs ~18 ms at 100k on our machines. Two cheaper
ways to the same order (the one :meth:`clipdesk.search.vector_index.VectorIndex.search` gives,
so the CLI's ``-k`` rows are the first rows of the app's grid):

- the index's scores are float16 values (its product rounds to half precision) and its rows are
  in id order unless photos were removed: then a stable sort of 16-bit order-preserving keys is
  numpy's radix sort, ~1 ms at 100k, and keeps equal scores in id order;
- otherwise both keys packed into one unsigned 64-bit integer (score bits made order-preserving
  in the high half, the id in the low half), sorted: ~6 ms. A small ``limit`` partitions the
  packed keys first, so the cut is the same total order's prefix even among tied scores.

No torch: numpy only.
"""

from __future__ import annotations

import numpy as np

_LOW = np.uint64(0xFFFFFFFF)
_SIGN = np.uint32(0x80000000)
_ALL = np.uint32(0xFFFFFFFF)
_SIGN16 = np.uint16(0x8000)
_ALL16 = np.uint16(0xFFFF)
_MAX_ID = 2**32  # ids live in the low 32 bits of a packed key


def best_first(
    ids: np.ndarray, scores: np.ndarray, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(ids int64, scores float32) ordered by score, highest first, equal scores by ascending
    id; at most ``limit`` of them (None: all)."""
    ids = np.asarray(ids, np.int64).ravel()
    scores = np.asarray(scores, np.float32).ravel()
    n = len(ids)
    k = n if limit is None else max(0, min(int(limit), n))
    if k == 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    if 4 * k > n and _increasing(ids):
        half = (scores + np.float32(0.0)).astype(np.float16)  # +0.0 for -0.0, as below
        if np.array_equal(half, scores):
            order = np.argsort(~_ascending16(half), kind="stable")[:k]
            return ids[order], scores[order]
    if ids.min() < 0 or ids.max() >= _MAX_ID:
        return _lexsorted(ids, scores, k)
    keys = _pack(ids, scores)
    if k < n:
        keys = np.partition(keys, k - 1)[:k]
    keys.sort()
    return _unpack(keys)


def stable_order(keys: np.ndarray) -> np.ndarray:
    """``np.argsort(keys, kind="stable")`` for non-negative integer keys below 2**32 (ranks),
    without timsort: a radix sort when they fit 16 bits, else one sort of packed keys."""
    keys = np.asarray(keys, np.int64)
    n = len(keys)
    if n == 0:
        return np.empty(0, np.int64)
    top = int(keys.max())
    if top < 2**16:
        return np.argsort(keys.astype(np.uint16), kind="stable")
    if keys.min() < 0 or top >= _MAX_ID or n >= _MAX_ID:
        return np.argsort(keys, kind="stable")
    packed = (keys.astype(np.uint64) << np.uint64(32)) | np.arange(n, dtype=np.uint64)
    packed.sort()
    return (packed & _LOW).astype(np.int64)


def _increasing(ids: np.ndarray) -> bool:
    return bool(np.all(ids[1:] > ids[:-1]))


def _ascending16(half: np.ndarray) -> np.ndarray:
    bits = half.view(np.uint16)
    return bits ^ np.where(bits & _SIGN16, _ALL16, _SIGN16)


def _pack(ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
    # -0.0 + 0.0 is +0.0: the two zeros compare equal as floats, so they must pack equal too.
    bits = (scores + np.float32(0.0)).view(np.uint32)
    # The usual order-preserving map of IEEE floats to unsigned ints (flip all bits of a
    # negative, only the sign of a positive), then inverted so that ascending keys are
    # descending scores.
    ascending = bits ^ np.where(bits & _SIGN, _ALL, _SIGN)
    descending = ~ascending
    return (descending.astype(np.uint64) << np.uint64(32)) | ids.astype(np.uint64)


def _unpack(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids = (keys & _LOW).astype(np.int64)
    ascending = ~(keys >> np.uint64(32)).astype(np.uint32)
    bits = ascending ^ np.where(ascending & _SIGN, _SIGN, _ALL)
    return ids, bits.view(np.float32)


def _lexsorted(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((ids, -scores))[:k]
    return ids[order], scores[order]
