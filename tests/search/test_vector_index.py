from __future__ import annotations

import threading

import numpy as np
import pytest

from clipdesk.search.vector_index import VectorIndex


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _exact_top(ids: np.ndarray, vecs: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    s = vecs @ q
    return [int(i) for i in ids[np.argsort(-s, kind="stable")[:k]]]


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_search_matches_exact_ranking(dtype: str) -> None:
    rng = np.random.default_rng(0)
    vecs = _unit(rng, 2000, 64)
    ids = np.arange(10, 2010)
    index = VectorIndex(64, dtype=dtype)
    index.add(ids, vecs)
    for qi in (0, 5, 777):
        q = vecs[qi] + 0.3 * _unit(rng, 1, 64)[0]
        q /= np.linalg.norm(q)
        hits = index.search(q, k=10)
        assert hits.ids.tolist() == _exact_top(ids, vecs, q, 10)
        exact = vecs[hits.ids - 10] @ q
        tol = 1e-6 if dtype == "float32" else 2e-3
        np.testing.assert_allclose(hits.scores, exact, atol=tol)
        assert np.all(np.diff(hits.scores) <= 0)


def test_incremental_add_replace_remove() -> None:
    rng = np.random.default_rng(1)
    index = VectorIndex(16, dtype="float32", capacity=2)
    vecs = _unit(rng, 50, 16)
    index.add(range(50), vecs)  # grows past the initial capacity
    assert len(index) == 50
    # Replace one vector: the id keeps one row, the new vector is found.
    new = _unit(rng, 1, 16)
    index.add([7], new)
    assert len(index) == 50
    np.testing.assert_allclose(index.vector(7), new[0], atol=1e-6)
    assert index.search(new[0], k=1).ids.tolist() == [7]
    # Remove some, including the last row and an absent id.
    assert index.remove([0, 49, 12, 999]) == 3
    assert len(index) == 47
    assert 0 not in index and 49 not in index and 12 not in index and 13 in index
    hits = index.search(vecs[13], k=47)
    assert set(hits.ids.tolist()) == set(range(50)) - {0, 12, 49}
    assert hits.ids[0] == 13
    # The row that moved into a hole still maps to its own vector.
    for pid in (1, 48, 13):
        np.testing.assert_allclose(index.vector(pid), vecs[pid], atol=1e-6)
    assert index.vector(49) is None


def test_duplicate_ids_in_one_add_keep_the_last() -> None:
    index = VectorIndex(2, dtype="float32")
    index.add([3, 3], np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert len(index) == 1
    np.testing.assert_allclose(index.vector(3), [0.0, 1.0])


def test_allowed_exclude_and_min_score() -> None:
    rng = np.random.default_rng(2)
    vecs = _unit(rng, 400, 32)
    index = VectorIndex(32)
    index.add(np.arange(400), vecs)
    q = vecs[5]
    # Small allowed set (gather path) and large allowed set (mask path) agree with exact.
    for allowed in (np.array([5, 9, 11, 300, 10_000]), np.arange(0, 400, 2)[:180]):
        hits = index.search(q, k=5, allowed=allowed)
        assert set(hits.ids.tolist()) <= set(allowed.tolist())
        inside = np.array(sorted(set(allowed.tolist()) & set(range(400))))
        assert hits.ids.tolist() == _exact_top(inside, vecs[inside], q, 5)
    assert len(index.search(q, k=5, allowed=[])) == 0
    hits = index.search(q, k=3, exclude=[5])
    assert 5 not in hits.ids.tolist() and len(hits) == 3
    hits = index.search(q, k=400, min_score=0.5)
    assert hits.ids.tolist() == [5]
    assert hits.scores[0] == pytest.approx(1.0, abs=2e-3)


def test_empty_and_wrong_dimension() -> None:
    index = VectorIndex(8)
    assert len(index.search(np.ones(8, np.float32), k=5)) == 0
    with pytest.raises(ValueError):
        index.search(np.ones(4, np.float32))
    with pytest.raises(ValueError):
        index.add([1], np.ones((1, 4)))


def test_score_all_matches_search() -> None:
    rng = np.random.default_rng(3)
    vecs = _unit(rng, 100, 16)
    index = VectorIndex(16, dtype="float32")
    index.add(np.arange(100) * 3, vecs)
    ids, scores = index.score_all(vecs[:2])
    assert scores.shape == (2, 100)
    np.testing.assert_allclose(scores, vecs[:2] @ vecs[ids // 3].T, atol=1e-5)


def test_concurrent_adds_removes_and_searches_stay_consistent() -> None:
    rng = np.random.default_rng(4)
    vecs = _unit(rng, 3000, 16)
    index = VectorIndex(16, dtype="float32")
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for start in range(0, 3000, 100):
                index.add(np.arange(start, start + 100), vecs[start : start + 100])
                index.remove(np.arange(start, start + 50))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for i in range(200):
                hits = index.search(vecs[i], k=5)
                for pid, score in hits.pairs():
                    # A hit's score must be that photo's own score: no row/id mix-ups.
                    assert abs(score - float(vecs[pid] @ vecs[i])) < 1e-4
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(index) == 1500
    assert set(index.ids.tolist()) == {i for i in range(3000) if i % 100 >= 50}
