"""Teaching a tag category from the user's decisions: heads on the frozen image vectors.

A head holds one weight row and one bias per label and scores stored image vectors with one matrix
product (plus a cache term for cache heads), like the zero-shot classifier it starts from:

- single choice: ``softmax(X @ W.T + b)``; at initialisation ``W = logit_scale * T`` (the label text
  vectors) and ``b = 0``, which is exactly the zero-shot softmax;
- multi-label: ``sigmoid(X @ W.T + b)`` per label; at initialisation, for CLIP models
  ``W = logit_scale * (T - t_null)`` and ``b = 0``, for sigmoid models (SigLIP) ``W = logit_scale * T``
  and ``b = logit_bias``: exactly the zero-shot multi-label score either way.

Training minimises the mean log-loss over the user's decisions plus
``lam/2 * (|W - W0|^2 + |b - b0|^2)``, an L2 pull toward the zero-shot weights and bias: with no
examples the head *is* zero-shot, and the more examples there are the further the data can move
it. The logistic head gets ``lam`` from an inner cross-validation; the prior-regularised probe of
:mod:`clipdesk.tags.heads.fewshot` uses the same fit with a fixed pull and a prior scaled by how
well zero-shot fits the examples.

A second kind of head, the *discriminant* (:func:`fit_discriminant`), is linear discriminant analysis
in the library's own geometry: one mean per label from the confirmed photos, and a covariance that
mixes the spread inside the labelled classes with the spread of the user's whole library (shrunk
toward a sphere). Directions along which the library varies a lot (colour, light, background) then
count for little, subtle ones that separate the labels for much.

A head may also carry a :class:`Cache` of labelled vectors (the Tip-Adapter-style cache head of
:mod:`clipdesk.tags.heads.fewshot`), whose term is added to the linear logits. Which kind a
category uses is decided by :mod:`clipdesk.tags.heads.selection`: on held-out labels, replacing
the head in use only on a clear gain.

Single-choice decisions become sets of allowed labels per photo: a confirmed label allows only
itself; rejections allow every other label. The loss of a photo is ``-log P(label in allowed)``,
which gives rejections a proper likelihood without a "none" class. Multi-label decisions are binary.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from clipdesk.common.progress import CancelToken
from clipdesk.tags.categories import Category, Mode
from clipdesk.tags.heads.optim import lbfgs
from clipdesk.tags.zero_shot import Classifier, Decisions, category_fingerprint


@dataclass(frozen=True)
class LabelData:
    """The user's decisions on one category, as a dense block over the photos that have any.

    ``allowed`` and ``observed`` are [n, labels] bool. Single choice: ``allowed`` is the set of
    labels the photo may have (``observed`` unused). Multi-label: ``observed`` marks decided cells
    and ``allowed`` says confirmed (True) or rejected (False) there.
    """

    mode: Mode
    photo_ids: np.ndarray  # [n] int64
    x: np.ndarray  # [n, d] float32, L2-normalised image vectors
    allowed: np.ndarray  # [n, labels] bool
    observed: np.ndarray  # [n, labels] bool
    # [d, d] covariance of the library's vectors of this model (library_covariance); None: unknown
    library_cov: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.photo_ids)

    @property
    def n_labels(self) -> int:
        return int(self.allowed.shape[1])

    def subset(self, rows: np.ndarray) -> LabelData:
        return replace(
            self,
            photo_ids=self.photo_ids[rows],
            x=self.x[rows],
            allowed=self.allowed[rows],
            observed=self.observed[rows],
        )

    def targets(self) -> np.ndarray:
        """[n] label index of each photo's confirmed label (single choice), -1 where none."""
        single = self.allowed.sum(axis=1) == 1
        return np.where(single, self.allowed.argmax(axis=1), -1)

    def positives(self) -> np.ndarray:
        """[n, labels] bool: the photo is known to have the label."""
        if self.mode is Mode.MULTI:
            known: np.ndarray = self.observed & self.allowed
            return known
        t = self.targets()
        out = np.zeros_like(self.allowed)
        rows = np.nonzero(t >= 0)[0]
        out[rows, t[rows]] = True
        return out

    def negatives(self) -> np.ndarray:
        """[n, labels] bool: the photo is known not to have the label."""
        if self.mode is Mode.MULTI:
            known: np.ndarray = self.observed & ~self.allowed
            return known
        return ~self.allowed

    def counts(self) -> tuple[np.ndarray, np.ndarray]:
        """(positives, negatives) per label."""
        return self.positives().sum(axis=0), self.negatives().sum(axis=0)


def library_covariance(vectors: np.ndarray) -> np.ndarray | None:
    """[d, d] covariance of a sample of the library's vectors; None with too few to say."""
    x = np.asarray(vectors, np.float64)
    if x.ndim != 2 or len(x) < 2:
        return None
    x = x - x.mean(axis=0)
    cov: np.ndarray = x.T @ x / (len(x) - 1)
    return cov


def label_data(
    mode: Mode,
    photo_ids: np.ndarray,
    vectors: np.ndarray,
    decisions: Decisions,
    n_labels: int,
    library_cov: np.ndarray | None = None,
) -> LabelData:
    """Gather the decided photos of a category (``decisions.rows`` index ``photo_ids``/``vectors``).

    Single choice: a photo with a confirmed label is a positive of that label; one with only
    rejections allows the others; one that rejected every label is left out (it has none of them).
    """
    rows = np.asarray(decisions.rows, np.int64)
    cols = np.asarray(decisions.cols, np.int64)
    conf = np.asarray(decisions.confirmed, bool)
    used = np.unique(rows)
    pos = {r: i for i, r in enumerate(used)}
    local = np.array([pos[r] for r in rows], np.int64)
    n = len(used)
    observed = np.zeros((n, n_labels), bool)
    if mode is Mode.MULTI:
        allowed = np.zeros((n, n_labels), bool)
        observed[local, cols] = True
        allowed[local, cols] = conf  # a later decision on the same cell wins
    else:
        allowed = np.ones((n, n_labels), bool)
        allowed[local[~conf], cols[~conf]] = False
        has_conf = np.zeros(n, bool)
        has_conf[local[conf]] = True
        allowed[has_conf] = False
        allowed[local[conf], cols[conf]] = True
    if mode is Mode.MULTI:
        keep = observed.any(axis=1)
    else:
        keep = allowed.any(axis=1) & ~allowed.all(axis=1)
    ids = np.asarray(photo_ids, np.int64)[used][keep]
    x = np.asarray(vectors, np.float32)[used][keep]
    return LabelData(mode, ids, x, allowed[keep], observed[keep], library_cov)


ZERO_SHOT, LOGISTIC, DISCRIMINANT = "zero-shot", "logistic", "discriminant"
# the few-shot kinds (clipdesk.tags.heads.fewshot): nearest centroid, a Tip-Adapter-style cache
# of the user's photos, and the probe regularised toward zero-shot
CENTROID, CACHE, PROBE = "centroid", "cache", "probe"
METHODS = (ZERO_SHOT, PROBE, CENTROID, CACHE, LOGISTIC, DISCRIMINANT)
# bound on the [rows, cache] affinity block a cache head scores at once (float32 elements)
CACHE_BLOCK = 1 << 22
DISCRIMINANT_MIX = 0.5  # weight of the labelled classes' own spread against the library's
DISCRIMINANT_SHRINK = 0.1  # toward a sphere, as a fraction of the mean variance
MIN_PER_CLASS = 2  # confirmed photos a label needs before the discriminant estimates its mean


@dataclass(frozen=True)
class Cache:
    """The cache of a Tip-Adapter-style head (Zhang et al. 2022): the user's labelled vectors
    and what each says of each label. It adds ``alpha * exp(-beta * (1 - x @ keys.T)) @ values``
    to the head's linear logits."""

    keys: np.ndarray  # [m, d] float32, the labelled photos' vectors
    values: np.ndarray  # [m, labels] float32; each label's positives sum to 1, negatives to -1
    alpha: float  # weight of the cache against the zero-shot logits
    beta: float  # sharpness of the affinity

    def logits(self, x: np.ndarray) -> np.ndarray:
        """[n, labels] cache logits of a block of vectors (the caller bounds the block)."""
        a = np.asarray(x, np.float32) @ self.keys.T  # [n, m] cosine similarities
        # stored vectors are unit length; the clip keeps vectors that are not from overflowing
        np.clip(a, -1.0, 1.0, out=a)
        a -= 1.0
        a *= np.float32(self.beta)
        np.exp(a, out=a)
        out: np.ndarray = (a @ self.values) * np.float32(self.alpha)
        return out


@dataclass(frozen=True)
class Head:
    """A trained (or zero-shot) classifier for one category and one model."""

    category: str
    mode: Mode
    labels: tuple[str, ...]
    model_id: str
    fingerprint: str  # tagging.category_fingerprint of the category it was trained for
    weights: np.ndarray  # [labels, d] float32
    bias: np.ndarray  # [labels] float32
    init_weights: np.ndarray  # [labels, d] the zero-shot weights it is pulled toward
    lam: float | None = None  # pull strength of a logistic head; None for the other kinds
    n_examples: int = 0
    # Calibrated thresholds: per label (multi) or one for the category (single); None = category's.
    thresholds: tuple[float, ...] | None = None
    info: dict[str, Any] = field(default_factory=dict)  # metrics, target precision, when trained
    method: str = ZERO_SHOT  # one of METHODS
    # [labels] the zero-shot bias it is pulled toward: a sigmoid model's logit bias in multi-label
    # heads; None for zeros (CLIP's zero-shot heads have no bias)
    init_bias: np.ndarray | None = None
    cache: Cache | None = None  # a cache head's labelled vectors; None for linear heads

    @property
    def is_zero_shot(self) -> bool:
        return self.method == ZERO_SHOT

    @property
    def pull_bias(self) -> np.ndarray:
        """:attr:`init_bias` [labels] float32, zeros when None."""
        if self.init_bias is None:
            return np.zeros(len(self.labels), np.float32)
        return np.asarray(self.init_bias, np.float32)

    def logits(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        z: np.ndarray = x @ self.weights.T + self.bias  # [n, labels]
        if self.cache is not None:
            # a block of rows at a time: the affinities are [rows, cache size]
            step = max(1, CACHE_BLOCK // max(1, len(self.cache.keys)))
            for i in range(0, len(x), step):
                z[i : i + step] += self.cache.logits(x[i : i + step])
        return z

    def scores(self, x: np.ndarray, rejected: np.ndarray | None = None) -> np.ndarray:
        """Scores in [0, 1], [n, labels]; same meaning as zero-shot scores of this category."""
        z = self.logits(x)
        if self.mode is Mode.MULTI:
            return (0.5 * (1.0 + np.tanh(0.5 * z))).astype(np.float32)
        if rejected is not None:
            z = np.where(rejected, -np.inf, z)
        return _softmax(z)


def _softmax(z: np.ndarray) -> np.ndarray:
    zmax = z.max(axis=1, keepdims=True)
    zmax = np.where(np.isfinite(zmax), zmax, 0.0)
    e = np.exp(z - zmax)
    total = e.sum(axis=1, keepdims=True)
    p: np.ndarray = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
    return p.astype(np.float32)


def zero_shot_head(clf: Classifier) -> Head:
    """The head equal to a zero-shot classifier (its starting point)."""
    w = clf.weights.astype(np.float64)
    if clf.has_null_row:
        w = w[:-1] - w[-1:]
    w = (w * clf.logit_scale).astype(np.float32)
    bias = np.zeros(len(w), np.float32)
    if clf.category.mode is Mode.MULTI and clf.scoring == "sigmoid":
        bias[:] = clf.logit_bias  # a single choice's softmax cancels it
    return Head(
        category=clf.category.name,
        mode=clf.category.mode,
        labels=tuple(clf.category.label_names),
        model_id=clf.model_id,
        fingerprint=category_fingerprint(clf.category),
        weights=w,
        bias=bias,
        init_weights=w.copy(),
        init_bias=bias.copy(),
    )


def _loss_and_grad(
    theta: np.ndarray, data: LabelData, w0: np.ndarray, b0: np.ndarray, lam: float
) -> tuple[float, np.ndarray]:
    k, d = w0.shape
    w = theta[: k * d].reshape(k, d)
    b = theta[k * d :]
    x = data.x.astype(np.float64)
    z = x @ w.T + b  # [n, k]
    n = max(1, data.n)
    if data.mode is Mode.MULTI:
        obs = data.observed
        y = data.allowed.astype(np.float64)
        # log(1 + exp(z)) - y z, stably; averaged over decided cells
        cells = max(1, int(obs.sum()))
        loss_m = (np.logaddexp(0.0, z) - y * z) * obs
        loss = float(loss_m.sum()) / cells
        p = 0.5 * (1.0 + np.tanh(0.5 * z))
        gz = (p - y) * obs / cells
    else:
        masked = np.where(data.allowed, z, -np.inf)
        lse_all = _lse(z)
        lse_ok = _lse(masked)
        loss = float((lse_all - lse_ok).sum()) / n
        gz = (np.exp(z - lse_all[:, None]) - np.exp(masked - lse_ok[:, None])) / n
    dw, db = w - w0, b - b0
    loss += 0.5 * lam * (float((dw * dw).sum()) + float(db @ db))
    gw = gz.T @ x + lam * dw
    gb = gz.sum(axis=0) + lam * db
    return loss, np.concatenate([gw.ravel(), gb])


def _lse(z: np.ndarray) -> np.ndarray:
    m = z.max(axis=1)
    m = np.where(np.isfinite(m), m, 0.0)
    lse: np.ndarray = m + np.log(np.exp(z - m[:, None]).sum(axis=1))
    return lse


def fit_head(
    init: Head,
    data: LabelData,
    lam: float,
    max_iter: int = 300,
    cancel: CancelToken | None = None,
    start: Head | None = None,
) -> Head:
    """Train ``init`` (a zero-shot head) on ``data`` with pull strength ``lam``.

    ``start`` warm-starts from another head of the same category (e.g. the previous lam).
    """
    if data.n_labels != len(init.labels):
        raise ValueError(f"data has {data.n_labels} labels, the head {len(init.labels)}")
    if lam <= 0:
        raise ValueError("lam must be positive (the pull toward zero-shot keeps the fit stable)")
    w0 = init.init_weights.astype(np.float64)
    b0 = init.pull_bias.astype(np.float64)
    s = start or init
    theta0 = np.concatenate([s.weights.astype(np.float64).ravel(), s.bias.astype(np.float64)])
    theta = lbfgs(
        lambda t: _loss_and_grad(t, data, w0, b0, lam), theta0, max_iter=max_iter, cancel=cancel
    )
    k, d = w0.shape
    return replace(
        init,
        weights=theta[: k * d].reshape(k, d).astype(np.float32),
        bias=theta[k * d :].astype(np.float32),
        lam=float(lam),
        n_examples=data.n,
        method=LOGISTIC,
    )


def fit_discriminant(
    init: Head,
    data: LabelData,
    mix: float = DISCRIMINANT_MIX,
    shrink: float = DISCRIMINANT_SHRINK,
) -> Head | None:
    """Shrinkage LDA (see the module notes); None when the labels cannot support it.

    Single choice: every label needs MIN_PER_CLASS confirmed photos (photos with only rejections
    are not used). Multi-label: a label needs that many confirmed and rejected photos; the others
    keep their zero-shot rows.
    """
    if data.n_labels != len(init.labels):
        raise ValueError(f"data has {data.n_labels} labels, the head {len(init.labels)}")
    x = data.x.astype(np.float64)
    d = x.shape[1] if x.ndim == 2 else 0
    groups: list[tuple[int, np.ndarray, np.ndarray]] = []  # (label, positive rows, negative rows)
    if data.mode is Mode.SINGLE:
        t = data.targets()
        if any((t == j).sum() < MIN_PER_CLASS for j in range(data.n_labels)):
            return None
        classes = [x[t == j] for j in range(data.n_labels)]
    else:
        pos, neg = data.positives(), data.negatives()
        for j in range(data.n_labels):
            if pos[:, j].sum() >= MIN_PER_CLASS and neg[:, j].sum() >= MIN_PER_CLASS:
                groups.append((j, x[pos[:, j]], x[neg[:, j]]))
        if not groups:
            return None
        classes = [c for _, p, n in groups for c in (p, n)]
    resid = np.concatenate([c - c.mean(axis=0) for c in classes])
    within = resid.T @ resid / max(1, len(resid) - len(classes))
    cov = within if data.library_cov is None else (1 - mix) * data.library_cov + mix * within
    cov = cov + shrink * max(float(np.trace(cov)) / d, 1e-12) * np.eye(d)
    # copies: multi-label rows are replaced in place, the others keep their zero-shot scores
    w = init.init_weights.astype(np.float64)
    b = init.pull_bias.astype(np.float64)
    if data.mode is Mode.SINGLE:
        means = np.stack([c.mean(axis=0) for c in classes])
        w = np.linalg.solve(cov, means.T).T
        b = -0.5 * np.einsum("kd,kd->k", w, means)
    else:
        for j, p, n in groups:
            mp, mn = p.mean(axis=0), n.mean(axis=0)
            w[j] = np.linalg.solve(cov, mp - mn)
            b[j] = -0.5 * float(w[j] @ (mp + mn))
    return replace(
        init,
        weights=w.astype(np.float32),
        bias=b.astype(np.float32),
        lam=None,
        n_examples=data.n,
        method=DISCRIMINANT,
    )


def training_loss(head: Head, data: LabelData) -> float:
    """Mean log-loss of ``head`` on ``data`` (no penalty): the held-out criterion."""
    theta = np.concatenate([head.weights.astype(np.float64).ravel(), head.bias.astype(np.float64)])
    loss, _ = _loss_and_grad(
        theta, data, head.weights.astype(np.float64), head.bias.astype(np.float64), 0.0
    )
    return loss


def check_head_fits(head: Head, category: Category, model_id: str) -> bool:
    """True when ``head`` was trained for this exact category definition and model."""
    return head.model_id == model_id and head.fingerprint == category_fingerprint(category)
