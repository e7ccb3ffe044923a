"""The discriminant head: LDA in the library's geometry, chosen by cross-validation when it beats
the logistic head, and stored like any other head."""

from __future__ import annotations

import numpy as np
import pytest

from clipdesk.tags.categories import Category, Label, Mode
from clipdesk.tags.heads.fit import (
    DISCRIMINANT,
    LOGISTIC,
    ZERO_SHOT,
    fit_discriminant,
    fit_head,
    label_data,
    library_covariance,
    zero_shot_head,
)
from clipdesk.tags.heads.selection import fit_method, select
from clipdesk.tags.heads.store import head_from_json, head_to_json
from clipdesk.tags.heads.teach import teach
from clipdesk.tags.zero_shot import Classifier, Decisions

D = 24


class NuisanceWorld:
    """Vectors dominated by strong nuisance directions (think colour and background) that say
    nothing of the label and lie partly along the weak directions the labels differ in. The text
    vectors are random: zero-shot knows nothing of these labels."""

    def __init__(self, k: int = 3, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.k = k
        self.signal = self.rng.normal(size=(k, D)) * 0.25  # [k, D] class means
        self.nuisance = self.rng.normal(size=(6, D))  # [6, D] strong shared variation
        self.text = self.rng.normal(size=(k, D)).astype(np.float32)
        self.text /= np.linalg.norm(self.text, axis=1, keepdims=True)

    def sample(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n) % self.k
        x = (
            self.signal[y]
            + 0.6 * self.rng.normal(size=(n, 6)) @ self.nuisance
            + 0.25 * self.rng.normal(size=(n, D))
        )
        return x.astype(np.float32), y

    def library(self, n: int = 2000) -> np.ndarray:
        return self.sample(n)[0]

    def classifier(self, mode: Mode = Mode.SINGLE) -> Classifier:
        cat = Category("Kind", tuple(Label(f"c{i}") for i in range(self.k)), mode=mode)
        w = self.text
        if mode is Mode.MULTI:
            w = np.vstack([w, np.zeros((1, D), np.float32)])
        return Classifier(cat, "m@1", w, 10.0, np.full(self.k, 0.5, np.float32))


def _data(x, y, k, cov=None, mode=Mode.SINGLE):
    dec = Decisions(np.arange(len(y)), y.astype(np.int64), np.ones(len(y), bool))
    return label_data(mode, np.arange(len(y)), x, dec, k, library_cov=cov)


def _acc(head, x, y) -> float:
    return float((head.scores(x).argmax(axis=1) == y).mean())


def test_discriminant_learns_from_few_examples_where_the_logistic_head_cannot():
    w = NuisanceWorld()
    init = zero_shot_head(w.classifier())
    x, y = w.sample(15)  # 5 examples per label
    x_te, y_te = w.sample(900)
    data = _data(x, y, w.k, library_covariance(w.library()))
    head = fit_discriminant(init, data)
    assert head is not None and head.method == "discriminant" and not head.is_zero_shot
    assert _acc(init, x_te, y_te) < 0.5  # zero-shot: near chance
    assert _acc(head, x_te, y_te) >= 0.7
    assert _acc(head, x_te, y_te) >= _acc(fit_head(init, data, 1e-4), x_te, y_te) + 0.15


def test_cross_validation_chooses_the_kind_with_fewer_held_out_mistakes():
    w = NuisanceWorld(seed=1)
    init = zero_shot_head(w.classifier())
    x, y = w.sample(36)
    data = _data(x, y, w.k, library_covariance(w.library()))
    # against zero-shot alone (useless here), the discriminant wins clearly
    chosen = select(init, data, methods=(ZERO_SHOT, DISCRIMINANT))
    assert chosen.best == DISCRIMINANT and chosen.replaced
    result = teach(init, data)
    assert not result.head.is_zero_shot
    assert result.summary()["method"] == result.head.method
    ev = result.evaluation
    assert ev is not None and ev.after.accuracy >= ev.before.accuracy + 0.3


def test_discriminant_needs_two_confirmed_photos_of_every_label():
    w = NuisanceWorld()
    init = zero_shot_head(w.classifier())
    x, y = w.sample(6)  # two photos of each label
    assert fit_discriminant(init, _data(x, y, w.k)) is not None
    x, y = x[:-1], y[:-1]  # c2 now has a single photo
    data = _data(x, y, w.k)
    assert fit_discriminant(init, data) is None
    assert fit_method(init, data, DISCRIMINANT) is None  # not a candidate on these labels


def test_multi_label_discriminant_keeps_zero_shot_rows_without_both_kinds_of_labels():
    w = NuisanceWorld()
    clf = w.classifier(Mode.MULTI)
    init = zero_shot_head(clf)
    x, y = w.sample(40)
    cov = library_covariance(w.library())
    # c0 and c1 confirmed on their photos and rejected on the others; c2 never decided
    rows, cols, conf = [], [], []
    for i, label in enumerate(y):
        for j in (0, 1):
            rows.append(i)
            cols.append(j)
            conf.append(label == j)
    dec = Decisions(np.array(rows), np.array(cols), np.array(conf))
    data = label_data(Mode.MULTI, np.arange(len(y)), x, dec, w.k, library_cov=cov)
    head = fit_discriminant(init, data)
    assert head is not None
    np.testing.assert_array_equal(head.weights[2], init.weights[2])
    assert head.bias[2] == 0.0
    x_te, y_te = w.sample(600)
    s = head.scores(x_te)
    for j in (0, 1):
        said = s[:, j] >= 0.5
        assert (said == (y_te == j)).mean() >= 0.8


def test_head_kind_survives_storage_and_old_heads_read_as_before():
    w = NuisanceWorld()
    init = zero_shot_head(w.classifier())
    x, y = w.sample(36)
    head = fit_discriminant(init, _data(x, y, w.k))
    back = head_from_json(head_to_json(head))
    assert back.method == "discriminant" and not back.is_zero_shot
    np.testing.assert_array_equal(back.weights, head.weights)
    old = head_to_json(fit_head(init, _data(x, y, w.k), 1e-3))
    del old["method"]  # written before head kinds existed
    assert head_from_json(old).method == LOGISTIC
    old_zs = head_to_json(init)
    del old_zs["method"]
    assert head_from_json(old_zs).method == ZERO_SHOT and head_from_json(old_zs).is_zero_shot


def test_library_covariance_needs_two_vectors():
    assert library_covariance(np.zeros((1, 4), np.float32)) is None
    c = library_covariance(np.array([[1.0, 0.0], [-1.0, 0.0]], np.float32))
    assert c is not None and c[0, 0] == pytest.approx(2.0) and c[1, 1] == 0.0
