"""Head selection that cannot make a category worse: a trained head replaces the one in use only
on a paired held-out gain of more than one standard error; one or two examples a label get the
prior-regularised head by a fixed rule; the result says why, with figures."""

from __future__ import annotations

import numpy as np
import pytest

from clipdesk.tags.categories import Category, Label, Mode
from clipdesk.tags.heads.fewshot import fit_probe
from clipdesk.tags.heads.fit import PROBE, ZERO_SHOT, label_data, zero_shot_head
from clipdesk.tags.heads.selection import (
    CANDIDATES,
    RULE_CV,
    RULE_FEW,
    Score,
    clear_gain,
    select,
    shots_per_label,
)
from clipdesk.tags.heads.teach import teach
from clipdesk.tags.zero_shot import Classifier, Decisions

D = 32
SCALE = 50.0


def _unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=-1, keepdims=True)).astype(np.float32)


class Shapes:
    """Four labels with prototype directions; ``text_noise`` says how far the text vectors are
    from them (0.35: zero-shot right about 89% of the time, as in the issue's category)."""

    def __init__(self, seed: int, text_noise: float = 0.35, noise: float = 2.2) -> None:
        self.rng = np.random.default_rng(seed)
        self.k = 4
        self.noise = noise
        self.protos = _unit(self.rng.normal(size=(self.k, D)))
        self.text = _unit(self.protos + text_noise * _unit(self.rng.normal(size=(self.k, D))))

    def sample(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n) % self.k
        x = _unit(self.protos[y] + self.noise * self.rng.normal(size=(n, D)) / np.sqrt(D))
        return x, y

    def init(self):
        cat = Category("Shape", tuple(Label(n) for n in ("circle", "star", "heart", "square")))
        return zero_shot_head(Classifier(cat, "m@1", self.text, SCALE, np.full(4, 0.5, np.float32)))


def _data(x: np.ndarray, y: np.ndarray, k: int):
    dec = Decisions(np.arange(len(y)), y.astype(np.int64), np.ones(len(y), bool))
    return label_data(Mode.SINGLE, np.arange(len(y)), x, dec, k)


def _acc(head, x, y) -> float:
    return float((head.scores(x).argmax(axis=1) == y).mean())


def test_a_gain_within_one_standard_error_is_not_clear_and_a_steady_one_is():
    assert not clear_gain(Score.of(np.array([0.05, -0.05, 0.1, -0.02, 0.0])))
    assert clear_gain(Score.of(np.array([0.1, 0.12, 0.08, 0.1, 0.1])))
    assert not clear_gain(Score.of(np.zeros(5)))  # a tie keeps the head in use
    # one fold better and the others tied is exactly one standard error, whatever the gain
    one_fold = Score.of(np.array([0.0, 0.0, 0.0, 0.4, 0.0]))
    assert one_fold.mean == pytest.approx(one_fold.se)
    assert not clear_gain(one_fold)


def test_the_issues_category_keeps_zero_shot_when_the_logistic_head_tests_worse():
    """The issue: a single-choice category where zero-shot is right ~89% of the time; 40
    confirmed photos. The old selection chose a logistic head (fewest inner-CV mistakes) though
    its own held-out figures were worse (0.775 -> 0.725) and so is it on fresh photos
    (0.892 -> 0.862). The paired gain of the best head is within the noise: zero-shot stays."""
    world = Shapes(seed=30)
    init = world.init()
    x, y = world.sample(40)
    x_new, y_new = world.sample(4000)
    from clipdesk.tags.heads.fit import fit_head

    logistic = fit_head(init, _data(x, y, 4), 1e-5)  # what the old selection applied
    assert _acc(logistic, x_new, y_new) < _acc(init, x_new, y_new) - 0.02
    result = teach(init, _data(x, y, 4))
    summary = result.summary()
    assert result.head.is_zero_shot and summary["zero_shot_kept"] and summary["kept"]
    assert summary["method"] == ZERO_SHOT
    assert summary["reason"].startswith("Zero-shot kept:")
    assert "standard error" in summary["reason"]
    figures = summary["figures"]
    assert figures["in_use"]["method"] == ZERO_SHOT and figures["metric"] == "accuracy"
    assert figures["gain"]["mean"] <= figures["gain"]["se"] + 1e-9
    assert " ± " in figures["text"] and "vs zero-shot" in figures["text"]


def test_a_clear_gain_replaces_zero_shot_and_says_so():
    world = Shapes(seed=1, text_noise=1.6)  # text vectors far off: zero-shot is poor
    init = world.init()
    x, y = world.sample(80)
    result = teach(init, _data(x, y, 4))
    s = result.selection
    assert s is not None and s.rule == RULE_CV and s.replaced and s.folds == 5
    assert not result.head.is_zero_shot and result.head.method == s.best
    assert s.gain is not None and s.gain.mean > s.gain.se > 0
    assert "replaces zero-shot" in s.reason
    x_new, y_new = world.sample(2000)
    assert _acc(result.head, x_new, y_new) > _acc(init, x_new, y_new) + 0.1
    ev = result.evaluation
    assert ev is not None and ev.before_method == ZERO_SHOT and ev.after_method == s.best
    assert ev.after.accuracy == pytest.approx(s.scores[s.best].mean, abs=0.05)


@pytest.mark.parametrize("shots", [1, 2])
def test_one_or_two_examples_a_label_use_the_prior_regularised_head(shots):
    world = Shapes(seed=2)
    init = world.init()
    x, y = world.sample(4 * shots)
    data = _data(x, y, 4)
    assert shots_per_label(data)[0] == shots
    result = teach(init, data)
    s = result.selection
    assert s is not None and s.rule == RULE_FEW and s.method == PROBE
    assert result.head.method == PROBE and result.evaluation is None
    assert "Too few examples for held-out checks" in s.reason and "prior-regularised" in s.reason
    assert result.summary()["figures"] is None
    # the probe it trained is the prior-regularised one, not a head without the zero-shot prior
    np.testing.assert_allclose(result.head.weights, fit_probe(init, data).weights, atol=1e-5)


def test_few_photos_in_all_also_mean_the_fixed_rule():
    """Three examples of each of two labels: six photos make no three folds of three."""
    world = Shapes(seed=3)
    init = world.init()
    x, y = world.sample(24)
    keep = y < 2
    data = _data(x[keep][:6], y[keep][:6], 4)
    assert shots_per_label(data)[0] == 3
    s = select(init, data)
    assert s.rule == RULE_FEW and "6 labelled photos" in s.reason


def test_the_head_in_use_is_what_a_new_head_must_beat():
    world = Shapes(seed=4, text_noise=1.6)
    init = world.init()
    x, y = world.sample(60)
    data = _data(x, y, 4)
    in_use = fit_probe(init, data)
    # only zero-shot competes with the prior-regularised head in use: it stays the best kind
    # and is retrained on all the labels
    s = select(init, data, incumbent=in_use, methods=(ZERO_SHOT,))
    assert s.in_use == PROBE and s.best == PROBE and s.method == PROBE
    assert ZERO_SHOT in s.scores and PROBE in s.scores
    assert "kept and retrained" in s.reason
    # zero-shot is far worse here; were it the best, it would still need a clear gain
    assert s.scores[ZERO_SHOT].mean < s.scores[PROBE].mean


def test_a_head_in_use_that_nothing_clearly_beats_stays_exactly_as_it_was():
    world = Shapes(seed=30, text_noise=0.2)
    init = world.init()
    x, y = world.sample(40)
    data = _data(x, y, 4)
    in_use = fit_probe(init, data)
    s = select(init, data, incumbent=in_use, methods=(ZERO_SHOT,))
    # zero-shot scores a little higher on the folds, within the noise: the head in use stays
    assert s.best == ZERO_SHOT and s.kept and s.method == PROBE
    assert s.reason.startswith("The prior-regularised head in use kept:")
    world = Shapes(seed=34, text_noise=0.2)
    init = world.init()
    x, y = world.sample(40)
    data = _data(x, y, 4)
    in_use = fit_probe(init, data)
    result = teach(init, data, incumbent=in_use)
    assert result.selection is not None and result.selection.kept
    assert result.head is in_use  # not retrained, not re-dated: the one the user applied


def test_every_candidate_is_scored_on_the_same_folds():
    world = Shapes(seed=5, text_noise=1.0)
    init = world.init()
    x, y = world.sample(40)
    s = select(init, _data(x, y, 4))
    assert set(s.scores) == set(CANDIDATES)
    assert all(len(v) == s.folds for v in s.per_fold.values())
    assert s.as_dict()["candidates"].keys() == s.scores.keys()


def test_with_no_other_kind_to_train_the_head_in_use_stays_and_says_so():
    world = Shapes(seed=6)
    init = world.init()
    x, y = world.sample(40)
    s = select(init, _data(x, y, 4), methods=(ZERO_SHOT,))
    assert s.kept and s.method == ZERO_SHOT and s.figures() is None
    assert s.reason == "Zero-shot kept: no other kind of head can be trained on these labels."
