"""Choosing a category's head so that training cannot make the category worse.

Every candidate kind of head (:data:`CANDIDATES`: zero-shot, the prior-regularised probe, the
cache, the logistic pulls, the discriminant) is trained on the same stratified folds of the
user's labelled photos and scored on the fold it did not see, by one metric: the share of the
user's decisions it gets right (:func:`evaluation.accuracy`). A kind with settings of its own
(the logistic pull, the cache's alpha and beta) chooses them by an inner cross-validation on the
training folds only.

The best kind is the first, in order of how much it fits to the labels, that the top-scoring kind
does not clearly beat (the one-standard-error rule). It replaces the head in use (zero-shot at
first) only when its **paired gain** is clear: per fold, its accuracy minus the one in use's, on
the same photos; the mean of those differences must be positive and more than their standard
error (one fold better and the rest tied is exactly one standard error: not enough). On a tie, or a gain within the noise of the folds, the head in use stays, and the result
says why (:attr:`Selection.reason`).

Folds need :data:`CV_MIN_PER_LABEL` examples of every label and :data:`CV_MIN_FOLDS` folds of
:data:`CV_MIN_FOLD_PHOTOS` photos. With fewer (one or two examples a label) there is nothing to
measure, and a fixed rule applies: the prior-regularised probe
(:func:`clipdesk.tags.heads.fewshot.fit_probe`), which leans on zero-shot as far as zero-shot
agrees with the examples, never a head trained without the zero-shot prior.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np

from clipdesk.common.progress import CancelToken
from clipdesk.tags.categories import Mode
from clipdesk.tags.heads.evaluation import (
    accuracy,
    held_out_loss,
    stratified_folds,
    wrong_decisions,
)
from clipdesk.tags.heads.fewshot import (
    CACHE_ALPHA,
    CACHE_ALPHAS,
    CACHE_BETA,
    CACHE_BETAS,
    fit_cache,
    fit_centroid,
    fit_probe,
    zero_shot_trust,
)
from clipdesk.tags.heads.fit import (
    CACHE,
    CENTROID,
    DISCRIMINANT,
    LOGISTIC,
    METHODS,
    PROBE,
    ZERO_SHOT,
    Head,
    LabelData,
    fit_discriminant,
    fit_head,
)

# The kinds cross-validation chooses among, in order of how much they fit to the labels (the
# order the one-standard-error rule goes by). Nearest centroid is the baseline they are measured
# against (bench/train_bench.py), not a candidate: the prior-regularised head was never worse
# than it there, so as a candidate it would only add a chance of being picked by luck.
CANDIDATES: tuple[str, ...] = (ZERO_SHOT, PROBE, CACHE, LOGISTIC, DISCRIMINANT)
CV_MIN_PER_LABEL = 3  # examples of every label the folds need; fewer: the fixed rule
# A fold of one or two photos scores 0, 0.5 or 1: too coarse to tell a gain from chance. Fewer
# than CV_MIN_FOLDS folds of CV_MIN_FOLD_PHOTOS photos: the fixed rule too.
CV_MIN_FOLDS, CV_MIN_FOLD_PHOTOS = 3, 3
FOLDS = 5
INNER_FOLDS = 3
# Logistic pull strengths, strong to weak (each fit warm-starts the next).
LAM_GRID: tuple[float, ...] = (0.1, 0.01, 1e-3, 1e-4, 1e-5)
LOGISTIC_LAM = 1e-3  # the pull when there are too few examples for the inner folds
RULE_CV, RULE_FEW = "cross-validation", "few examples"
METRIC = "accuracy"
# How the faces name each kind ("... head")
TITLES: dict[str, str] = {
    ZERO_SHOT: "zero-shot",
    PROBE: "prior-regularised",
    CENTROID: "nearest-centroid",
    CACHE: "cache",
    LOGISTIC: "logistic",
    DISCRIMINANT: "discriminant",
}

T = TypeVar("T")


def title(method: str) -> str:
    return TITLES.get(method, method)


def shots_per_label(data: LabelData) -> tuple[int, int | None]:
    """(examples of the least-labelled label, that label's index) over the labels the user has
    labelled at all. Single choice counts confirmed photos (photos with only rejections count
    for no label: (n, None) when there are only those); multi-label the smaller of confirmed and
    rejected photos of each label with both ((0, None) when no label has both)."""
    pos, neg = data.counts()
    if data.mode is Mode.SINGLE:
        have = np.nonzero(pos > 0)[0]
        if len(have) == 0:
            return data.n, None
        j = int(have[np.argmin(pos[have])])
        return int(pos[j]), j
    both = np.nonzero((pos > 0) & (neg > 0))[0]
    if len(both) == 0:
        return 0, None
    least = np.minimum(pos, neg)
    j = int(both[np.argmin(least[both])])
    return int(least[j]), j


def inner_choice(
    data: LabelData,
    options: Sequence[T],
    fit_one: Callable[[LabelData, T, Head | None], Head | None],
    seed: int = 0,
    cancel: CancelToken | None = None,
) -> T | None:
    """The option with the fewest held-out mistakes (then the lowest log-loss) over an inner
    cross-validation of ``data``; None with too few examples for it, or when an option cannot be
    fitted on a fold. ``fit_one(train, option, previous head)`` may warm-start from the last."""
    shots, _ = shots_per_label(data)
    if shots < 2:
        return None
    k = min(INNER_FOLDS, shots)
    folds = stratified_folds(data, k, seed)
    wrong = np.zeros(len(options))
    loss = np.zeros(len(options))
    for f in range(k):
        train, test = data.subset(folds != f), data.subset(folds == f)
        if test.n == 0 or train.n == 0:
            continue
        prev: Head | None = None
        for i, option in enumerate(options):
            if cancel is not None:
                cancel.raise_if_cancelled()
            head = fit_one(train, option, prev)
            if head is None:
                return None
            prev = head
            wrong[i] += wrong_decisions(head, test)
            loss[i] += held_out_loss(head, test) * test.n
    best = min(range(len(options)), key=lambda i: (wrong[i], loss[i]))
    return options[best]


def fit_method(
    init: Head,
    data: LabelData,
    method: str,
    *,
    seed: int = 0,
    cancel: CancelToken | None = None,
) -> Head | None:
    """A head of kind ``method`` trained on ``data`` (its settings by an inner cross-validation
    where it has any); None when ``data`` cannot support that kind."""
    if method == ZERO_SHOT:
        return init
    if method == PROBE:
        return fit_probe(init, data, cancel=cancel)
    if method == CENTROID:
        return fit_centroid(init, data)
    if method == DISCRIMINANT:
        return fit_discriminant(init, data)
    if method == CACHE:
        grid = [(a, b) for b in CACHE_BETAS for a in CACHE_ALPHAS]
        found = inner_choice(
            data, grid, lambda train, ab, _prev: fit_cache(init, train, *ab), seed, cancel
        )
        alpha, beta = found or (CACHE_ALPHA, CACHE_BETA)
        return fit_cache(init, data, alpha, beta)
    if method == LOGISTIC:

        def one(train: LabelData, lam: float, prev: Head | None) -> Head:
            return fit_head(init, train, lam, cancel=cancel, start=prev)

        lam = inner_choice(data, LAM_GRID, one, seed, cancel)
        return fit_head(init, data, LOGISTIC_LAM if lam is None else lam, cancel=cancel)
    raise ValueError(f"unknown kind of head {method!r} (expected one of {', '.join(METHODS)})")


@dataclass(frozen=True)
class Score:
    """A held-out figure over the folds: mean and standard error of the mean."""

    mean: float
    se: float

    @classmethod
    def of(cls, values: np.ndarray) -> Score:
        v = np.asarray(values, np.float64)
        se = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0
        return cls(float(v.mean()), se)

    def text(self) -> str:
        return f"{self.mean:.2f} ± {self.se:.2f}"

    def as_dict(self) -> dict[str, float]:
        return {"mean": round(self.mean, 4), "se": round(self.se, 4)}


@dataclass(frozen=True)
class Selection:
    """What the selection chose, with the figures it chose by and why."""

    rule: str  # RULE_CV or RULE_FEW
    method: str  # the kind the category should use now
    in_use: str  # the kind in use before (ZERO_SHOT when no head was applied)
    best: str  # the kind that did best on held-out labels (the probe under the fixed rule)
    replaced: bool  # False: the head in use stays as it is
    reason: str  # one sentence for the faces
    folds: int = 0
    scores: dict[str, Score] = field(default_factory=dict)  # per kind, held-out accuracy
    challenger: str | None = None  # the kind the figures compare with the one in use
    gain: Score | None = None  # paired gain of ``challenger`` over the one in use
    unavailable: tuple[str, ...] = ()  # kinds these labels cannot train
    oof: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # held-out scores
    per_fold: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # accuracies

    @property
    def kept(self) -> bool:
        return not self.replaced

    def figures_text(self) -> str | None:
        """ "logistic head: 0.90 ± 0.02 vs zero-shot 0.93 ± 0.01" (held-out accuracy)."""
        if self.challenger is None:
            return None
        return (
            f"{title(self.challenger)} head: {self.scores[self.challenger].text()} vs "
            f"{_in_use_title(self.in_use)} {self.scores[self.in_use].text()}"
        )

    def figures(self) -> dict[str, Any] | None:
        if self.challenger is None or self.gain is None:
            return None
        return {
            "metric": METRIC,
            "folds": self.folds,
            "trained": {"method": self.challenger, **self.scores[self.challenger].as_dict()},
            "in_use": {"method": self.in_use, **self.scores[self.in_use].as_dict()},
            "gain": self.gain.as_dict(),
            "text": self.figures_text(),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "metric": METRIC,
            "folds": self.folds,
            "in_use": self.in_use,
            "best": self.best,
            "method": self.method,
            "replaced": self.replaced,
            "candidates": {m: s.as_dict() for m, s in self.scores.items()},
            "unavailable": list(self.unavailable),
            "reason": self.reason,
        }


def _in_use_title(method: str) -> str:
    return "zero-shot" if method == ZERO_SHOT else f"the {title(method)} head in use"


def select(
    init: Head,
    data: LabelData,
    *,
    incumbent: Head | None = None,
    methods: Sequence[str] = CANDIDATES,
    folds: int = FOLDS,
    seed: int = 0,
    cancel: CancelToken | None = None,
) -> Selection:
    """Choose the head for ``data`` (see the module notes). ``incumbent`` is the head in use
    (None or a zero-shot head: zero-shot); it is compared as its kind trained on the same folds,
    or as it stands when these labels cannot train its kind."""
    in_use = ZERO_SHOT if incumbent is None or incumbent.is_zero_shot else incumbent.method
    shots, least = shots_per_label(data)
    k = min(folds, shots, data.n // CV_MIN_FOLD_PHOTOS)
    if shots < CV_MIN_PER_LABEL or k < CV_MIN_FOLDS:
        return _fixed_rule(init, data, in_use, shots, least)
    kinds = list(dict.fromkeys([ZERO_SHOT, *methods, in_use]))
    fold = stratified_folds(data, k, seed)
    per_fold = {m: np.zeros(k) for m in kinds}
    oof = {m: np.zeros((data.n, data.n_labels), np.float32) for m in kinds}
    unavailable: set[str] = set()
    fixed_in_use = False
    for f in range(k):
        rows = fold == f
        train, test = data.subset(~rows), data.subset(rows)
        for m in kinds:
            if cancel is not None:
                cancel.raise_if_cancelled()
            if m in unavailable or (fixed_in_use and m == in_use):
                continue
            head = fit_method(init, train, m, seed=seed + 1 + f, cancel=cancel)
            if head is None and m == in_use and incumbent is not None:
                fixed_in_use = True  # scored as it stands, below
                continue
            if head is None:
                unavailable.add(m)
                continue
            per_fold[m][f] = accuracy(head, test)
            oof[m][rows] = head.scores(test.x)
    if fixed_in_use and incumbent is not None:
        for f in range(k):
            rows = fold == f
            per_fold[in_use][f] = accuracy(incumbent, data.subset(rows))
            oof[in_use][rows] = incumbent.scores(data.x[rows])
    order = {m: i for i, m in enumerate(CANDIDATES)}
    ranked = sorted((m for m in kinds if m not in unavailable), key=lambda m: order.get(m, 99))
    scores = {m: Score.of(per_fold[m]) for m in ranked}

    def gain_of(a: str, b: str) -> Score:
        return Score.of(per_fold[a] - per_fold[b])

    if len(ranked) < 2:  # nothing these labels can train competes with the head in use
        what = (
            f"{_in_use_title(in_use)} kept: no other kind of head can be trained on these labels."
        )
        return Selection(
            RULE_CV, in_use, in_use, in_use, False, what[0].upper() + what[1:], k, scores
        )
    top = max(ranked, key=lambda m: scores[m].mean)  # the first of equals: the simplest
    # The one-standard-error rule (Breiman et al. 1984) over kinds in order of how much they fit
    # to the labels: the first kind the top one does not clearly beat. Picking the top of five
    # noisy figures would often pick the luckiest, not the best.
    best = next(m for m in ranked if not clear_gain(gain_of(top, m)))
    if best != in_use:
        challenger = best
    elif top != in_use:
        challenger = top
    else:
        challenger = max((m for m in ranked if m != in_use), key=lambda m: scores[m].mean)
    gain = gain_of(challenger, in_use)
    replaced = best != in_use and clear_gain(gain)
    retrained = best == in_use and in_use != ZERO_SHOT and not fixed_in_use
    selection = Selection(
        rule=RULE_CV,
        method=best if replaced or retrained else in_use,
        in_use=in_use,
        best=best,
        replaced=replaced or retrained,
        reason="",
        folds=k,
        scores=scores,
        challenger=challenger,
        gain=gain,
        unavailable=tuple(m for m in kinds if m in unavailable),
        oof={m: oof[m] for m in ranked},
        per_fold={m: per_fold[m] for m in ranked},
    )
    return replace(selection, reason=_reason(selection, data.n, retrained))


def clear_gain(gain: Score) -> bool:
    """Positive by more than one standard error of the paired per-fold differences. A gain on
    one fold with ties on all the others sits at exactly one standard error whatever its size:
    one lucky fold, not enough to replace what works (the margin keeps that case from turning on
    rounding)."""
    return gain.mean > 0 and gain.mean > gain.se + 1e-9


def _reason(s: Selection, n: int, retrained: bool) -> str:
    figures = f"{s.figures_text()} (held-out accuracy over {s.folds} folds)"
    gain = f"{s.gain.mean:+.3f} ± {s.gain.se:.3f}" if s.gain is not None else ""
    in_use = _in_use_title(s.in_use)
    kept = in_use[0].upper() + in_use[1:] + " kept"
    if retrained:
        return f"{kept} and retrained on all {n} labelled photos, still the best: {figures}."
    if s.replaced:
        return (
            f"{figures}: the gain, {gain}, is more than one standard error, so the "
            f"{title(s.best)} head replaces {in_use}."
        )
    if s.gain is not None and s.gain.mean <= 0:
        return f"{kept}: no other head did better on held-out labels; {figures}."
    return (
        f"{kept}: {figures}; the gain, {gain}, is not more than one standard error of the folds, "
        "so it could be chance."
    )


def _fixed_rule(
    init: Head, data: LabelData, in_use: str, shots: int, least: int | None
) -> Selection:
    trust = float(np.mean(zero_shot_trust(init, data)))
    if least is None:
        what = "no label has both confirmed and rejected photos"
    elif shots < CV_MIN_PER_LABEL:
        what = f"{shots} example{'s' if shots != 1 else ''} of {init.labels[least]!r}"
    else:
        what = f"{data.n} labelled photos"
    reason = (
        f"Too few examples for held-out checks ({what}; they need {CV_MIN_PER_LABEL} of every "
        f"label and {CV_MIN_FOLDS} folds of {CV_MIN_FOLD_PHOTOS} photos): the prior-regularised "
        "head is used, which keeps the zero-shot prior as far as zero-shot agrees with your "
        f"examples (trust {trust:.2f} of 1)."
    )
    return Selection(
        rule=RULE_FEW, method=PROBE, in_use=in_use, best=PROBE, replaced=True, reason=reason
    )
