"""One ranking out of several: reciprocal rank fusion (RRF, Cormack, Clarke and Büttcher 2009).

A photo's fused score is the sum, over the rankings that hold it, of ``1 / (k + rank)`` with
``rank`` counted from 1 and ``k = 60``, the constant of the paper (and of Elasticsearch,
OpenSearch and Azure AI Search): a photo ranked well by both the CLIP similarity and the text
index beats one ranked first by either alone, and neither ranking's raw scores (a cosine, a
BM25 value on another scale) need to be made comparable. Equal fused scores keep ascending
photo id order, as equal scores do everywhere else in search (:mod:`clipdesk.search.ranking`).

No torch: numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RRF_K = 60


@dataclass(frozen=True)
class Fused:
    """A fused ranking: photo ids best first, their fused scores, and where each stood in every
    ranking fused (``positions[r][i]``: 0-based place of ``ids[i]`` in ranking ``r``, -1 when
    that ranking does not hold it)."""

    ids: np.ndarray  # int64 [n]
    scores: np.ndarray  # float64 [n], sum of 1 / (k + rank)
    positions: tuple[np.ndarray, ...]  # int64 [n] per ranking

    def __len__(self) -> int:
        return len(self.ids)

    def held_by(self, ranking: int) -> np.ndarray:
        """bool [n]: which photos ranking number ``ranking`` holds."""
        held: np.ndarray = self.positions[ranking] >= 0
        return held


def fuse(*rankings: np.ndarray, k: int = RRF_K, limit: int | None = None) -> Fused:
    """Reciprocal rank fusion of ``rankings`` (photo ids, best first, each photo at most once
    per ranking); at most ``limit`` photos (None: every photo any ranking holds).

    Put the longest ranking first (CLIP's, every photo of a library): the photos only it holds
    keep their order, so only the others are sorted and merged in, and a search box that fuses
    100,000 CLIP matches with a few hundred text hits pays ~2 ms rather than a full sort."""
    if k < 0:
        raise ValueError(f"k must be at least 0, not {k}")
    parts = [np.asarray(r, np.int64).ravel() for r in rankings]
    if not parts:
        return Fused(np.empty(0, np.int64), np.empty(0, np.float64), ())
    top = max((int(p.max()) for p in parts if len(p)), default=-1)
    dense = (
        all(not len(p) or p.min() >= 0 for p in parts) and top < 4 * sum(map(len, parts)) + 2**20
    )
    fused = _merged(parts, k, top) if dense else _sorted(parts, k)
    if limit is not None and len(fused) > limit:
        cut = max(0, int(limit))
        fused = Fused(fused.ids[:cut], fused.scores[:cut], tuple(p[:cut] for p in fused.positions))
    return fused


def _contributions(length: int, k: int) -> np.ndarray:
    return 1.0 / (k + np.arange(1, length + 1, dtype=np.float64))


def _sorted(parts: list[np.ndarray], k: int) -> Fused:
    """Every photo scored and sorted: for ids that cannot index a table (negative, or huge)."""
    union, where = np.unique(np.concatenate(parts), return_inverse=True)  # ascending ids
    where = where.ravel()
    weights = np.concatenate([_contributions(len(p), k) for p in parts])
    scores = np.bincount(where, weights=weights, minlength=len(union))
    positions = []
    start = 0
    for part in parts:
        place = np.full(len(union), -1, np.int64)
        place[where[start : start + len(part)]] = np.arange(len(part), dtype=np.int64)
        positions.append(place)
        start += len(part)
    order = np.argsort(-scores, kind="stable")  # equal scores: ascending id, union's order
    return Fused(union[order], scores[order], tuple(p[order] for p in positions))


def _merged(parts: list[np.ndarray], k: int, top: int) -> Fused:
    """The photos of the first ranking that no other holds score 1 / (k + rank), strictly
    falling down that ranking: they keep its order, and the others (sorted by score, then id)
    are inserted among them where their score falls."""
    first, rest = parts[0], parts[1:]
    place_in_first = np.full(top + 1, -1, np.int64)
    place_in_first[first] = np.arange(len(first), dtype=np.int64)
    if rest:
        others, where = np.unique(np.concatenate(rest), return_inverse=True)
        where = where.ravel()
    else:
        others, where = np.empty(0, np.int64), np.empty(0, np.int64)
    first_place = place_in_first[others]
    from_first = np.zeros(len(others), np.float64)
    shared = first_place >= 0
    from_first[shared] = _contributions(len(first), k)[first_place[shared]]
    # Summed in the rankings' order, as _sorted sums: an equal fusion gives bit-equal scores.
    weights = np.concatenate([from_first, *(_contributions(len(p), k) for p in rest)])
    slots = np.concatenate([np.arange(len(others), dtype=np.int64), where])
    scores = np.bincount(slots, weights=weights, minlength=len(others))
    order = np.argsort(-scores, kind="stable")  # equal scores: ascending id
    others, scores, first_place = others[order], scores[order], first_place[order]

    alone = np.ones(len(first), bool)
    alone[first_place[first_place >= 0]] = False
    alone_place = np.flatnonzero(alone)
    alone_ids = first[alone_place]
    alone_scores = _contributions(len(first), k)[alone_place]
    # Before the first lone photo scoring at most as much; past it if it ties with a lower id.
    at = np.searchsorted(-alone_scores, -scores, side="left")
    inside = at < len(alone_ids)
    tie = np.zeros(len(others), bool)
    tie[inside] = (alone_scores[at[inside]] == scores[inside]) & (
        alone_ids[at[inside]] < others[inside]
    )
    at = at + tie

    ids = np.insert(alone_ids, at, others)
    fused = np.insert(alone_scores, at, scores)
    positions = [np.insert(alone_place, at, first_place)]
    start = 0
    for part in rest:
        place_in_others = np.full(len(others), -1, np.int64)
        sorted_where = np.empty(len(order), np.int64)
        sorted_where[order] = np.arange(len(order), dtype=np.int64)
        place_in_others[sorted_where[where[start : start + len(part)]]] = np.arange(
            len(part), dtype=np.int64
        )
        positions.append(np.insert(np.full(len(alone_ids), -1, np.int64), at, place_in_others))
        start += len(part)
    return Fused(ids, fused, tuple(positions))
