"""Ranking a whole library: best_first orders as lexsort on (-score, id) does, whatever path it
takes (16-bit radix, packed 64-bit keys, a partition for a limit), and Searcher.rank answers
what Searcher.search answers, filters and all, as arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clipdesk.library.records import PhotoStatus
from clipdesk.library.store import Library
from clipdesk.search.ranking import best_first, stable_order
from clipdesk.search.scores import ScoreScale
from clipdesk.search.searcher import Searcher, SearchFilters
from tests.support.pipeline_helpers import register_folders

MODEL = "fake@1"
DIM = 16


def _reference(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((ids, -scores))[:k]
    return ids[order], scores[order]


@pytest.mark.parametrize("trial", range(120))
def test_best_first_orders_like_lexsort_with_ties_zeros_and_infinities(trial: int) -> None:
    rng = np.random.default_rng(trial)
    n = int(rng.integers(1, 2500))
    ids = rng.permutation(20 * n)[:n].astype(np.int64)
    if trial % 3 == 0:
        ids.sort()  # the index's usual row order: by id
    scores = (rng.standard_normal(n) * 0.1).astype(np.float32)
    if trial % 2 == 0:
        scores = scores.astype(np.float16).astype(np.float32)  # the index's half precision
    scores[rng.random(n) < 0.05] = -0.0
    scores[rng.random(n) < 0.05] = 0.0
    scores[rng.random(n) < 0.3] = scores[0]  # many ties
    scores[rng.random(n) < 0.01] = -np.inf
    if trial % 11 == 0:
        ids[-1] = 2**40 + trial  # beyond the packed key's 32 bits
    limit = None if trial % 4 < 2 else int(rng.integers(0, n + 2))
    got = best_first(ids, scores, limit)
    want = _reference(ids, scores, n if limit is None else min(limit, n))
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert got[0].dtype == np.int64 and got[1].dtype == np.float32


def test_best_first_of_nothing() -> None:
    ids, scores = best_first(np.empty(0, np.int64), np.empty(0, np.float32))
    assert len(ids) == len(scores) == 0
    assert len(best_first(np.arange(3), np.ones(3, np.float32), 0)[0]) == 0


# --- Searcher.rank against Searcher.search -----------------------------------------------------


@pytest.fixture
def searcher(tmp_path: Path):
    lib = Library(tmp_path / "lib.sqlite3")
    ids = register_folders(lib, tmp_path, {"a": 120, "b": 80})
    # Coarse vectors: many photos share a score, so the tie order is tested too.
    vecs = np.random.default_rng(1).integers(-1, 2, (len(ids), DIM)).astype(np.float32)
    vecs[~vecs.any(axis=1), 0] = 1.0
    lib.store_embeddings(MODEL, ids, vecs / np.linalg.norm(vecs, axis=1, keepdims=True))
    s = Searcher(lib, MODEL)
    s.load()
    yield s, np.array(ids), tmp_path
    lib.close()


def _pairs(results) -> list[tuple[int, float]]:
    return [(r.photo_id, r.score) for r in results]


def test_rank_answers_what_search_answers_for_every_filter(searcher) -> None:
    s, ids, root = searcher
    s.set_status(ids[:5].tolist(), PhotoStatus.MISSING.value)
    q = np.ones(DIM, np.float32) / np.sqrt(DIM)  # with the coarse vectors: few distinct scores
    n = len(ids)
    cases = [
        SearchFilters(),
        SearchFilters(folders=[root / "b"]),  # a large share: the whole product, masked
        SearchFilters(allowed_ids=ids[::9].tolist()),  # a small share: those rows gathered
        SearchFilters(min_score=0.1),
        SearchFilters(statuses=(PhotoStatus.OK.value, PhotoStatus.MISSING.value)),
        SearchFilters(statuses=(PhotoStatus.MISSING.value,)),
    ]
    every = s.search(q, k=n)
    assert len({r.score for r in every}) < len(every) / 2  # ties: their order is tested too
    for filters in cases:
        for exclude in ((), (int(ids[7]), int(ids[150]))):
            want = _pairs(s.search(q, k=n, filters=filters, exclude=exclude))
            got_ids, got_scores = s.rank(q, filters, exclude=exclude)
            assert list(zip(got_ids.tolist(), got_scores.tolist(), strict=True)) == want
            assert want
            head, _ = s.rank(q, filters, exclude=exclude, limit=10)
            assert head.tolist() == [pid for pid, _ in want[:10]]


def test_rank_rescales_and_cuts_on_a_sigmoid_scale(searcher) -> None:
    s, ids, _root = searcher
    q = np.ones(DIM, np.float32) / np.sqrt(DIM)
    scale = ScoreScale("probability", 10.0, -1.0)
    filters = SearchFilters(min_score=0.4)
    got_ids, got_scores = s.rank(q, filters, scale=scale)
    want = _pairs(s.search(q, k=len(ids), filters=filters, scale=scale))
    assert list(zip(got_ids.tolist(), got_scores.tolist(), strict=True)) == want
    assert want and all(score >= 0.4 for _, score in want)


def test_by_date_is_a_stable_date_sort_read_once_until_a_change(searcher) -> None:
    s, ids, _root = searcher
    _, dates = s.library.photo_dates()
    taken = dict(zip(s.library.photo_dates()[0].tolist(), dates.tolist(), strict=True))
    ranked = ids[np.random.default_rng(3).permutation(len(ids))]
    ranked = np.concatenate([ranked, [10**6]])  # one the library does not hold
    for newest in (True, False):
        got = ranked[s.by_date(ranked, newest)]
        key = np.array([taken.get(int(i), np.nan) for i in ranked])
        held = ~np.isnan(key)
        want = ranked[held][np.argsort(-key[held] if newest else key[held], kind="stable")]
        np.testing.assert_array_equal(got, want)
    library = s.library
    calls = []
    read = library.photo_dates

    def counted(**kwargs):
        calls.append(kwargs)
        return read(**kwargs)

    library.photo_dates = counted  # type: ignore[method-assign]
    s.by_date(ids)
    assert calls == []
    s.sync()
    s.by_date(ids)
    assert len(calls) == 1


@pytest.mark.parametrize("top", [3, 70_000, 2**33])
def test_stable_order_is_a_stable_argsort(top: int) -> None:
    keys = np.random.default_rng(top % 97).integers(0, top, 5000)
    keys[::7] = keys[0]  # ties
    np.testing.assert_array_equal(stable_order(keys), np.argsort(keys, kind="stable"))
    assert len(stable_order(np.empty(0, np.int64))) == 0
