"""Search scores: cosine for CLIP, a sigmoid model's match probability for text queries, the same
ranking either way, and a minimum score that means what the shown score means."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from clipdesk.library.store import Library
from clipdesk.search.query import Query
from clipdesk.search.scores import COSINE, ScoreScale, score_scale
from clipdesk.search.searcher import Searcher, SearchFilters
from tests.support.pipeline_helpers import register

MODEL = "fake@1"
DIM = 16
SCALE, BIAS = 118.0, -12.5  # SigLIP B/16's figures


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _siglip() -> SimpleNamespace:
    return SimpleNamespace(scoring="sigmoid", logit_scale=SCALE, logit_bias=BIAS)


@pytest.fixture
def indexed(tmp_path: Path):
    """60 photos whose cosines to the query vector ``q`` run evenly from 0.0 to 0.2."""
    rng = np.random.default_rng(0)
    q = np.zeros(DIM, np.float32)
    q[0] = 1.0
    c = np.linspace(0.0, 0.2, 60)
    rest = rng.standard_normal((60, DIM - 1))
    rest /= np.linalg.norm(rest, axis=1, keepdims=True)
    vecs = np.hstack([c[:, None], np.sqrt(1 - c[:, None] ** 2) * rest]).astype(np.float32)
    folder = tmp_path / "pics"
    folder.mkdir()
    files = []
    for i in range(len(vecs)):
        (folder / f"{i}.jpg").write_bytes(b"%d" % i)
        files.append(folder / f"{i}.jpg")
    with Library(tmp_path / "lib.sqlite3") as lib:
        ids = register(lib, folder, files)
        lib.store_embeddings(MODEL, ids, vecs)
        searcher = Searcher(lib, MODEL, dtype="float32")
        searcher.load()
        yield searcher, np.array(ids), vecs, q


def test_the_scale_is_a_probability_only_for_phrases_with_a_sigmoid_model():
    clip = SimpleNamespace(scoring="softmax", logit_scale=100.0, logit_bias=None)
    text = Query.parse("beach +0.5 sunset -people")
    assert score_scale(clip, text) == COSINE
    assert score_scale(_siglip(), text) == ScoreScale("probability", SCALE, BIAS)
    # photo against photo has no pair probability: cosine, as for CLIP
    assert score_scale(_siglip(), Query.photo(3)) == COSINE
    assert score_scale(_siglip(), text.with_image(Path("q.jpg"))) == COSINE


def test_probability_is_the_sigmoid_of_the_scaled_biased_cosine():
    cos = np.linspace(-0.2, 0.4, 13, dtype=np.float32)
    scale = score_scale(_siglip(), Query.parse("a dog"))
    got = scale.scores(cos)
    np.testing.assert_allclose(got, _sigmoid(SCALE * cos.astype(np.float64) + BIAS), atol=1e-7)
    assert np.isfinite(got).all() and got.dtype == np.float32
    assert (COSINE.scores(cos) == cos).all()


def test_cosine_search_is_unchanged(indexed):
    searcher, ids, vecs, q = indexed
    cos = vecs @ q
    found = searcher.search(q, k=100, filters=SearchFilters(min_score=0.1))
    order = np.argsort(-cos, kind="stable")
    assert [r.photo_id for r in found] == ids[order][cos[order] >= 0.1].tolist()
    np.testing.assert_array_equal([r.score for r in found], cos[order][: len(found)])


def test_min_score_on_a_sigmoid_model_filters_by_probability_and_keeps_the_ranking(indexed):
    searcher, ids, vecs, q = indexed
    scale = score_scale(_siglip(), Query.parse("a dog"))
    prob = _sigmoid(SCALE * (vecs @ q).astype(np.float64) + BIAS)
    order = np.argsort(-prob, kind="stable")
    every = searcher.search(q, k=100, scale=scale)
    assert [r.photo_id for r in every] == ids[order].tolist()
    np.testing.assert_allclose([r.score for r in every], prob[order], atol=1e-6)
    for minimum in (0.5, 0.9, 0.02):
        found = searcher.search(q, k=100, filters=SearchFilters(min_score=minimum), scale=scale)
        want = ids[order][prob[order] >= minimum]
        assert [r.photo_id for r in found] == want.tolist()
        assert 0 < len(found) < len(ids)
        assert all(r.score >= minimum for r in found)
    # k keeps the best: a minimum and a limit together
    top = searcher.search(q, k=3, filters=SearchFilters(min_score=0.5), scale=scale)
    assert [r.photo_id for r in top] == ids[order][:3].tolist()


def test_cosine_floor_is_the_minimum_in_cosine_terms():
    scale = ScoreScale("probability", SCALE, BIAS)
    floor = scale.cosine_floor(0.5)
    assert floor == pytest.approx(-BIAS / SCALE, abs=2e-4) and floor <= -BIAS / SCALE
    assert scale.cosine_floor(0.0) is None and scale.cosine_floor(1.0) is None
    assert scale.cosine_floor(None) is None and COSINE.cosine_floor(0.3) == 0.3
