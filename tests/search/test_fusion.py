"""Reciprocal rank fusion: the formula with k = 60, ties by id, and the fast merge that keeps the
longest ranking's order equal, bit for bit, to scoring and sorting every photo."""

from __future__ import annotations

import time

import numpy as np
import pytest

from clipdesk.search.fusion import RRF_K, _sorted, fuse


def _reference(rankings: list[list[int]], k: int) -> list[tuple[int, float]]:
    """RRF written out plainly: sum 1/(k + rank) with ranks from 1, best first, ties by id."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, pid in enumerate(ranking, start=1):
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def test_a_photo_both_rankings_hold_beats_one_first_in_either_alone() -> None:
    clip = [10, 11, 12, 13, 5]  # the text hit is only fifth by CLIP
    text = [5, 20]
    fused = fuse(np.array(clip), np.array(text))
    assert RRF_K == 60
    assert fused.ids[0] == 5
    assert fused.scores[0] == pytest.approx(1 / 61 + 1 / 65)
    assert [(int(i), s) for i, s in zip(fused.ids, fused.scores, strict=True)] == [
        (i, pytest.approx(s)) for i, s in _reference([clip, text], 60)
    ]
    # where each stood: CLIP's place, the text index's place, -1 where absent
    assert fused.ids.tolist() == [5, 10, 11, 20, 12, 13]  # 11 and 20 both 1/62: by id
    assert fused.positions[0].tolist() == [4, 0, 1, -1, 2, 3]
    assert fused.positions[1].tolist() == [0, -1, -1, 1, -1, -1]
    assert fused.held_by(1).tolist() == [True, False, False, True, False, False]


def test_equal_fused_scores_keep_ascending_photo_ids() -> None:
    # 7 is first by CLIP, 3 first by text: the same 1/61 each, so the lower id leads
    fused = fuse(np.array([7, 8]), np.array([3, 4]))
    assert fused.ids.tolist() == [3, 7, 4, 8]


def test_the_limit_cuts_the_fused_order_and_one_ranking_is_itself() -> None:
    clip = np.array([9, 2, 7, 4])
    assert fuse(clip, np.array([4]), limit=2).ids.tolist() == [4, 9]
    assert fuse(clip).ids.tolist() == clip.tolist()
    assert len(fuse(clip, np.array([], np.int64), limit=0)) == 0
    empty = fuse(np.array([], np.int64), np.array([], np.int64))
    assert len(empty) == 0 and [len(p) for p in empty.positions] == [0, 0]


def test_the_merge_equals_scoring_and_sorting_every_photo() -> None:
    rng = np.random.default_rng(5)
    for _ in range(400):
        size = int(rng.integers(1, 80))
        parts = [rng.choice(size, int(rng.integers(0, size + 1)), replace=False)]
        parts += [
            rng.choice(size, int(rng.integers(0, size + 1)), replace=False)
            for _ in range(int(rng.integers(0, 3)))
        ]
        k = int(rng.choice([0, 1, 60]))  # small k: many exact ties between the two kinds
        merged, plain = fuse(*parts, k=k), _sorted([p.astype(np.int64) for p in parts], k)
        assert np.array_equal(merged.ids, plain.ids)
        assert np.array_equal(merged.scores, plain.scores)
        for a, b in zip(merged.positions, plain.positions, strict=True):
            assert np.array_equal(a, b)
        expected = _reference([p.tolist() for p in parts], k)
        assert merged.ids.tolist() == [pid for pid, _ in expected]


def test_ids_that_cannot_index_a_table_are_fused_alike() -> None:
    huge = np.array([2**40, -3, 5], np.int64)
    fused = fuse(huge, np.array([5, 2**41], np.int64))
    assert fused.ids.tolist() == [5, 2**40, -3, 2**41]  # -3 and 2**41 tie at 1/62


def test_a_whole_library_fuses_with_its_text_hits_in_milliseconds() -> None:
    rng = np.random.default_rng(0)
    clip = rng.permutation(100_000).astype(np.int64)
    text = rng.choice(100_000, 500, replace=False)
    fuse(clip, text)  # warm
    start = time.perf_counter()
    fused = fuse(clip, text, limit=100_000)
    took = time.perf_counter() - start
    assert len(fused) == 100_000 and fused.held_by(1).sum() == len(text)
    assert took < 0.1, f"{took * 1000:.1f} ms"  # ~3 ms here; a full sort is ~20 ms
    with pytest.raises(ValueError):
        fuse(clip, k=-1)
