"""The few-shot heads on synthetic vectors: nearest centroid, the Tip-Adapter-style cache (its
formula, its blocked scoring, storage and tagging) and the prior-regularised probe (its trust in
zero-shot)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clipdesk.library.store import Library
from clipdesk.tags.categories import Category, Label, Mode
from clipdesk.tags.heads import fit as fit_module
from clipdesk.tags.heads.fewshot import (
    fit_cache,
    fit_centroid,
    fit_probe,
    logit_unit,
    zero_shot_trust,
)
from clipdesk.tags.heads.fit import CACHE, CENTROID, PROBE, fit_head, label_data, zero_shot_head
from clipdesk.tags.heads.store import (
    CACHE_FORMAT_VERSION,
    FORMAT_VERSION,
    applied_head,
    apply_head,
    head_from_json,
    head_to_json,
    with_applied_head,
)
from clipdesk.tags.zero_shot import Classifier, Decisions, propose

D = 32
SCALE = 50.0


def _unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=-1, keepdims=True)).astype(np.float32)


class World:
    """Labels with prototype directions; ``known`` text vectors point at them (a model that has
    words for the labels), unknown ones are random (it has none)."""

    def __init__(self, known: bool, k: int = 3, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.k = k
        self.protos = _unit(self.rng.normal(size=(k, D)))
        self.text = self.protos.copy() if known else _unit(self.rng.normal(size=(k, D)))
        self.null = _unit(self.rng.normal(size=(1, D)))

    def sample(self, n: int, noise: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n) % self.k
        return _unit(self.protos[y] + noise * self.rng.normal(size=(n, D)) / np.sqrt(D)), y

    def init(self, mode: Mode = Mode.SINGLE):
        cat = Category("Kind", tuple(Label(f"c{i}") for i in range(self.k)), mode=mode)
        w = self.text if mode is Mode.SINGLE else np.vstack([self.text, self.null])
        return zero_shot_head(Classifier(cat, "m@1", w, SCALE, np.full(self.k, 0.5, np.float32)))


def _single(x: np.ndarray, y: np.ndarray, k: int):
    dec = Decisions(np.arange(len(y)), y.astype(np.int64), np.ones(len(y), bool))
    return label_data(Mode.SINGLE, np.arange(len(y)), x, dec, k)


def _multi(x: np.ndarray, y: np.ndarray, k: int):
    rows = np.repeat(np.arange(len(y)), k)
    cols = np.tile(np.arange(k), len(y))
    dec = Decisions(rows, cols, cols == y[rows])
    return label_data(Mode.MULTI, np.arange(len(y)), x, dec, k)


def _acc(head, x, y) -> float:
    return float((head.scores(x).argmax(axis=1) == y).mean())


def test_nearest_centroid_scores_cosine_to_each_labels_mean():
    w = World(known=False)
    init = w.init()
    x, y = w.sample(12)
    head = fit_centroid(init, _single(x, y, w.k))
    assert head is not None and head.method == CENTROID
    means = _unit(np.stack([x[y == j].mean(axis=0) for j in range(w.k)]))
    x_te, _ = w.sample(50)
    np.testing.assert_array_equal(head.scores(x_te).argmax(1), (x_te @ means.T).argmax(1))
    # a label without a confirmed photo: no centroid to score it by
    assert fit_centroid(init, _single(x[y < 2], y[y < 2], w.k)) is None


def test_cache_head_adds_tip_adapters_affinity_term_to_the_zero_shot_logits():
    w = World(known=True)
    init = w.init()
    x, y = w.sample(9)
    head = fit_cache(init, _single(x, y, w.k), alpha=2.0, beta=5.5)
    assert head is not None and head.method == CACHE and head.cache is not None
    x_te, _ = w.sample(20)
    values = np.zeros((9, w.k))
    values[np.arange(9), y] = 1.0 / 3  # each label's three photos share a total of 1
    affinity = np.exp(-5.5 * (1.0 - x_te @ x.T))
    trust = zero_shot_trust(init, _single(x, y, w.k))
    assert trust == pytest.approx(np.ones(w.k))  # the text vectors are the prototypes
    want = x_te @ init.weights.T + 2.0 * logit_unit(init) * affinity @ values
    order = np.argsort(y, kind="stable")  # the cache keeps the photos label by label
    np.testing.assert_allclose(head.cache.keys, x[order], atol=1e-6)
    np.testing.assert_allclose(head.logits(x_te), want, rtol=1e-4, atol=1e-3)


def test_cache_head_learns_labels_zero_shot_does_not_know():
    w = World(known=False, seed=1)
    init = w.init()
    x, y = w.sample(24)
    head = fit_cache(init, _single(x, y, w.k))
    x_te, y_te = w.sample(600)
    assert _acc(init, x_te, y_te) < 0.6
    assert head is not None and _acc(head, x_te, y_te) > 0.85


def test_cache_scoring_in_blocks_gives_the_same_scores(monkeypatch):
    w = World(known=True)
    init = w.init()
    x, y = w.sample(30)
    head = fit_cache(init, _single(x, y, w.k))
    x_te, _ = w.sample(500)
    whole = head.scores(x_te)
    monkeypatch.setattr(fit_module, "CACHE_BLOCK", 64)  # two rows of 30 cached photos a block
    np.testing.assert_allclose(head.scores(x_te), whole, rtol=1e-6, atol=1e-7)


def test_multi_label_cache_speaks_only_for_labels_with_both_kinds():
    w = World(known=False, seed=2)
    init = w.init(Mode.MULTI)
    x, y = w.sample(30)
    data = _multi(x, y, w.k)
    head = fit_cache(init, data, alpha=3.0, beta=3.0)
    assert head is not None and head.cache is not None
    v = head.cache.values
    positives = v > 0
    np.testing.assert_allclose(v.sum(axis=0), 0.0, atol=1e-6)  # +1 over positives, -1 negatives
    np.testing.assert_allclose(np.where(positives, v, 0).sum(axis=0), 1.0, atol=1e-6)
    x_te, y_te = w.sample(300)
    said = head.scores(x_te) >= 0.5
    assert (said == (y_te[:, None] == np.arange(w.k))).mean() > 0.8


def test_probe_trusts_a_zero_shot_that_knows_the_labels_and_not_one_at_chance():
    known, unknown = World(known=True, seed=3), World(known=False, seed=3)
    for world, trust in ((known, 1.0), (unknown, 0.0)):
        init = world.init()
        x, y = world.sample(12)
        data = _single(x, y, world.k)
        assert zero_shot_trust(init, data) == pytest.approx(np.full(world.k, trust), abs=0.05)
        head = fit_probe(init, data)
        assert head.method == PROBE and head.lam is not None
        assert head.info["zero_shot_trust"] == pytest.approx([trust] * world.k, abs=0.05)
        np.testing.assert_allclose(head.init_weights, trust * init.weights, atol=0.05 * SCALE)
    # a trusted prior: the probe is the logistic head pulled toward zero-shot
    init = known.init()
    x, y = known.sample(12)
    data = _single(x, y, known.k)
    np.testing.assert_allclose(
        fit_probe(init, data).weights, fit_head(init, data, 1e-3).weights, atol=1e-3
    )


def test_probe_from_one_example_a_label_beats_zero_shot_at_chance_and_keeps_a_good_one():
    unknown = World(known=False, seed=4)
    init = unknown.init()
    x, y = unknown.sample(3)  # one photo of each label
    x_te, y_te = unknown.sample(900)
    head = fit_probe(init, _single(x, y, unknown.k))
    assert _acc(head, x_te, y_te) > _acc(init, x_te, y_te) + 0.2
    known = World(known=True, seed=4)
    init = known.init()
    x, y = known.sample(3)
    x_te, y_te = known.sample(900)
    head = fit_probe(init, _single(x, y, known.k))
    assert _acc(head, x_te, y_te) >= _acc(init, x_te, y_te) - 0.01


@pytest.mark.parametrize("kind", [CENTROID, CACHE, PROBE])
def test_few_shot_heads_survive_storage_as_json_and_tag_as_they_score(kind, tmp_path):
    w = World(known=False, seed=5)
    init = w.init()
    x, y = w.sample(24)
    data = _single(x, y, w.k)
    head = {CENTROID: fit_centroid, CACHE: fit_cache, PROBE: fit_probe}[kind](init, data)
    assert head is not None
    stored = json.loads(json.dumps(head_to_json(head)))  # plain JSON: no pickle anywhere
    assert stored["format_version"] == (CACHE_FORMAT_VERSION if kind == CACHE else FORMAT_VERSION)
    back = head_from_json(stored)
    x_te, y_te = w.sample(200)
    np.testing.assert_allclose(back.scores(x_te), head.scores(x_te), rtol=1e-6, atol=1e-7)
    assert back.method == kind
    clf = Classifier(init_category(w), "m@1", w.text, SCALE, np.full(w.k, 0.5, np.float32))
    with Library(tmp_path / "lib.sqlite3") as lib:
        apply_head(lib, head)
        assert applied_head(lib, "m@1", "Kind").method == kind
        used = with_applied_head(lib, clf)
        np.testing.assert_allclose(used.scores(x_te), head.scores(x_te), rtol=1e-5, atol=1e-6)
        _, proposal = propose(used, x_te)  # what the tagger runs on every block of photos
        assert (proposal.cols == y_te[proposal.rows]).mean() > 0.8
        if kind == CACHE:
            with pytest.raises(ValueError, match="scores image vectors"):
                used.scores_from_similarities(x_te @ used.weights.T)


def test_a_head_written_by_a_newer_format_is_ignored_not_misread(tmp_path):
    w = World(known=False)
    init = w.init()
    x, y = w.sample(12)
    head = fit_cache(init, _single(x, y, w.k))
    clf = Classifier(init_category(w), "m@1", w.text, SCALE, np.full(w.k, 0.5, np.float32))
    with Library(tmp_path / "lib.sqlite3") as lib:
        apply_head(lib, head)
        key = "train.head|m@1|kind"
        raw = lib.get_setting(key)
        lib.set_setting(key, {**raw, "format_version": CACHE_FORMAT_VERSION + 1})
        assert with_applied_head(lib, clf) is clf  # back to zero-shot, with a warning


def init_category(w: World) -> Category:
    return Category("Kind", tuple(Label(f"c{i}") for i in range(w.k)))
