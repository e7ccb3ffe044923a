"""Heads for a few examples a label, as the few-shot CLIP literature builds them on frozen vectors.

- **Nearest centroid** (:func:`fit_centroid`): one mean vector per label from its confirmed
  photos, scored by cosine at the model's temperature. The simplest few-shot learner, and the
  baseline the others must beat.
- **Cache** (:func:`fit_cache`), after Tip-Adapter (Zhang et al. 2022): the zero-shot logits plus
  ``alpha * exp(-beta * (1 - cos(x, key))) @ values`` over a cache of the user's labelled vectors.
  Tip-Adapter sums one-hot values; here each label's positives share a total of 1 (and, in
  multi-label categories, its negatives a total of -1), so one ``alpha`` means the same at 2 or
  200 examples a label. ``alpha`` is in units of the zero-shot logits' own scale.
- **Prior-regularised probe** (:func:`fit_probe`), after CLAP (Silva-Rodriguez et al. 2024) and
  LP++ (Huang et al. 2024): the logistic head of :mod:`clipdesk.tags.heads.fit` started at and
  pulled toward the zero-shot weights, times a *trust* in ``[0, 1]`` measured on the user's
  examples: how much more probability zero-shot gives the user's answers than chance does. A
  model that knows the labels' words keeps its zero-shot prior whole; one that does not (its
  probabilities on the examples are at chance) lets the examples speak, like a centroid. It needs
  no held-out data, so it is the head the rule for one or two examples a label uses.

A cache head's scoring costs about ``cache * d`` multiply-adds and ``cache`` exponentials a photo
on top of the linear part, in blocks of photos that keep the affinities at
:data:`~clipdesk.tags.heads.fit.CACHE_BLOCK` floats (16 MB): 10,000 labelled photos over a
million-photo library at d = 512 took 170 s on two shared CPU cores, against 0.5 s for a linear
head. Cross-validation picks the cache only when it scores clearly better.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from clipdesk.common.progress import CancelToken
from clipdesk.tags.categories import Mode
from clipdesk.tags.heads.fit import (
    CACHE,
    CENTROID,
    PROBE,
    Cache,
    Head,
    LabelData,
    fit_head,
)

# Tip-Adapter's own defaults (beta 5.5; alpha 1 at CLIP's scale), for when there are too few
# examples to choose by an inner cross-validation
CACHE_ALPHA, CACHE_BETA = 1.0, 5.5
CACHE_ALPHAS: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
CACHE_BETAS: tuple[float, ...] = (1.0, 3.0, 5.5, 10.0)
PROBE_LAM = 1e-3  # the probe's pull; its trust, not a grid, decides how far it may move


def logit_unit(init: Head) -> float:
    """The zero-shot logits' scale: the mean norm of the zero-shot rows (the model's logit scale
    for single-choice heads)."""
    norms = np.linalg.norm(np.asarray(init.init_weights, np.float64), axis=1)
    unit = float(norms.mean()) if len(norms) else 0.0
    return unit if unit > 0 else 1.0


def _unit_rows(m: np.ndarray) -> np.ndarray:
    out: np.ndarray = m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
    return out


def _single_groups(data: LabelData) -> list[np.ndarray] | None:
    """Rows of each label's confirmed photos; None unless every label has one."""
    t = data.targets()
    groups = [np.nonzero(t == j)[0] for j in range(data.n_labels)]
    return groups if all(len(g) for g in groups) else None


def _multi_groups(data: LabelData) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(label, positive rows, negative rows) of the labels with both kinds of decision."""
    pos, neg = data.positives(), data.negatives()
    return [
        (j, np.nonzero(pos[:, j])[0], np.nonzero(neg[:, j])[0])
        for j in range(data.n_labels)
        if pos[:, j].any() and neg[:, j].any()
    ]


def fit_centroid(init: Head, data: LabelData) -> Head | None:
    """Nearest centroid: single choice, cosine to each label's mean confirmed vector (None unless
    every label has a confirmed photo); multi-label, positives' mean against negatives' mean for
    the labels with both (the others keep their zero-shot rows)."""
    x = data.x.astype(np.float64)
    unit = logit_unit(init)
    w = init.init_weights.astype(np.float64)
    b = init.pull_bias.astype(np.float64)
    if data.mode is Mode.SINGLE:
        groups = _single_groups(data)
        if groups is None:
            return None
        w = unit * _unit_rows(np.stack([x[g].mean(axis=0) for g in groups]))
        b = np.zeros(data.n_labels)
    else:
        found = _multi_groups(data)
        if not found:
            return None
        for j, p, n in found:
            mp, mn = _unit_rows(np.stack([x[p].mean(axis=0), x[n].mean(axis=0)]))
            w[j] = unit * (mp - mn)
            b[j] = 0.0
    return replace(
        init,
        weights=w.astype(np.float32),
        bias=b.astype(np.float32),
        lam=None,
        n_examples=data.n,
        method=CENTROID,
    )


def cache_values(data: LabelData) -> tuple[np.ndarray, np.ndarray] | None:
    """(rows of the photos the cache keeps, their values [rows, labels]); None when the cache
    could not speak for every label (single choice: a label without a confirmed photo) or for
    any (multi-label: no label with both confirmed and rejected photos). Single-choice photos
    with only rejections stay out of the cache."""
    k = data.n_labels
    if data.mode is Mode.SINGLE:
        groups = _single_groups(data)
        if groups is None:
            return None
        rows = np.concatenate(groups)
        values = np.zeros((len(rows), k), np.float32)
        start = 0
        for j, g in enumerate(groups):
            values[start : start + len(g), j] = 1.0 / len(g)
            start += len(g)
        return rows, values
    found = _multi_groups(data)
    if not found:
        return None
    values = np.zeros((data.n, k), np.float32)
    for j, p, n in found:
        values[p, j] = 1.0 / len(p)
        values[n, j] = -1.0 / len(n)
    rows = np.nonzero(values.any(axis=1))[0]
    return rows, values[rows]


def fit_cache(
    init: Head, data: LabelData, alpha: float = CACHE_ALPHA, beta: float = CACHE_BETA
) -> Head | None:
    """The zero-shot head with a cache of ``data``'s labelled vectors (see the module notes);
    ``alpha`` in units of :func:`logit_unit`. None when the cache cannot be built."""
    found = cache_values(data)
    if found is None:
        return None
    rows, values = found
    cache = Cache(
        keys=np.ascontiguousarray(data.x[rows], np.float32),
        values=values,
        alpha=float(alpha) * logit_unit(init),
        beta=float(beta),
    )
    trust = zero_shot_trust(init, data).astype(np.float64)
    return replace(
        init,
        weights=(trust[:, None] * init.init_weights).astype(np.float32),
        bias=(trust * init.pull_bias).astype(np.float32),
        lam=None,
        n_examples=data.n,
        method=CACHE,
        cache=cache,
    )


def zero_shot_trust(init: Head, data: LabelData) -> np.ndarray:
    """[labels] in [0, 1]: how far zero-shot's own probabilities agree with the user's decisions.

    The probability zero-shot gives the user's answers (single choice: the allowed labels; multi-
    label: the confirmed or rejected side), rescaled so that chance is 0 and certainty 1, then
    mapped to a trust that is 0 up to a quarter of the way and 1 from three quarters. Single
    choice has one trust for every label: rows of different trust would be on different scales
    and tilt the softmax toward the trusted ones. Multi-label labels nobody decided keep 1.
    """
    p = init.scores(data.x).astype(np.float64)  # [n, labels]
    k = data.n_labels
    if data.mode is Mode.SINGLE:
        said = np.where(data.allowed, p, 0.0).sum(axis=1)
        chance = data.allowed.sum(axis=1) / k
        c, base = float(said.mean()), float(chance.mean())
        agree = np.full(k, (c - base) / (1.0 - base) if base < 1.0 else 0.0)
    else:
        agree = np.ones(k)
        right = np.where(data.allowed, p, 1.0 - p)
        for j in range(k):
            cells = data.observed[:, j]
            if cells.any():
                agree[j] = 2.0 * float(right[cells, j].mean()) - 1.0
    trust: np.ndarray = np.clip(2.0 * np.clip(agree, 0.0, 1.0) - 0.5, 0.0, 1.0)
    return trust


def fit_probe(
    init: Head,
    data: LabelData,
    lam: float = PROBE_LAM,
    cancel: CancelToken | None = None,
) -> Head:
    """The prior-regularised probe: the logistic head started at and pulled toward
    ``trust * zero-shot`` (see :func:`zero_shot_trust`)."""
    trust = zero_shot_trust(init, data)
    w0 = (trust[:, None] * init.init_weights.astype(np.float64)).astype(np.float32)
    b0 = (trust * init.pull_bias.astype(np.float64)).astype(np.float32)
    prior = replace(init, weights=w0, bias=b0, init_weights=w0, init_bias=b0)
    head = fit_head(prior, data, lam, cancel=cancel)
    return replace(
        head,
        method=PROBE,
        info={**head.info, "zero_shot_trust": [round(float(t), 4) for t in trust]},
    )
