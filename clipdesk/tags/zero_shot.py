"""Zero-shot tagging math: label vectors from prompts, scores from one matrix product.

A label's text vector is the L2-normalised mean of the model's (normalised) text vectors over its
prompt ensemble. Scoring a category over N stored image vectors is one product ``X @ W.T``, turned
into probabilities the way the model itself scores an image against a text:

- single choice: ``softmax(logit_scale * X @ W.T)`` over the labels; the best label is suggested
  when its probability reaches the category threshold, else the photo gets none. The same for
  sigmoid models (SigLIP): "which one of these" is a softmax over the labels, and their bias, the
  same for every label, cancels in it;
- multi-label, softmax models (CLIP): ``sigmoid(logit_scale * (X @ w_label - X @ w_null))`` per
  label, where ``w_null`` (the last row of W) describes a generic photo, so 0.5 means "no closer to
  this label than to any photo". CLIP is trained to rank texts against each other and has no
  probability for one image-text pair; the generic photo is the reference that stands in for one;
- multi-label, sigmoid models (SigLIP): ``sigmoid(logit_scale * X @ w_label + logit_bias)`` per
  label, the model's own probability that photo and label match (what it was trained to output);
  no generic-photo row, so a threshold of 0.5 means even odds.

Each label has its own threshold in multi-label categories.

User decisions are inputs, never outputs: a confirmed label is never re-suggested, a rejected one is
left out (a single-choice category renormalises over the labels the user did not reject), and a
confirmed label in a single-choice category stops suggestions for that photo altogether.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from clipdesk.tags import prompts
from clipdesk.tags.categories import Category, Mode

if TYPE_CHECKING:
    from clipdesk.model.dual_encoder import Scoring

# Near-misses this far below the threshold are kept as review candidates.
REVIEW_MARGIN = 0.25
# Rows per product; bounds peak memory at about CHUNK_ROWS x labels x 4 bytes x 3.
CHUNK_ROWS = 131072
_TEXT_BATCH = 256


class TextModel(Protocol):
    """What tagging needs from a loaded model (clipdesk.model's ClipModel fits). Read-only
    attributes: tagging never changes the model."""

    @property
    def id(self) -> str: ...

    @property
    def logit_scale(self) -> float: ...

    @property
    def scoring(self) -> Scoring: ...

    @property
    def logit_bias(self) -> float | None: ...

    def encode_texts(self, texts: list[str]) -> np.ndarray: ...


def _normalise(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    unit: np.ndarray = v / np.maximum(norm, 1e-12)
    return unit.astype(np.float32)


def encode_ensembles(model: TextModel, ensembles: Sequence[Sequence[str]]) -> np.ndarray:
    """One vector per ensemble: the normalised mean of its prompts' normalised text vectors."""
    flat = [p for ens in ensembles for p in ens]
    if any(not ens for ens in ensembles):
        raise ValueError("every ensemble needs at least one prompt")
    parts = [
        np.asarray(model.encode_texts(flat[i : i + _TEXT_BATCH]), dtype=np.float32)
        for i in range(0, len(flat), _TEXT_BATCH)
    ]
    vecs = _normalise(np.concatenate(parts, axis=0))  # [prompts, d]
    out = np.empty((len(ensembles), vecs.shape[1]), dtype=np.float32)
    start = 0
    for i, ens in enumerate(ensembles):
        out[i] = vecs[start : start + len(ens)].mean(axis=0)
        start += len(ens)
    return _normalise(out)


def category_fingerprint(category: Category) -> str:
    """Changes whenever anything that affects the category's text vectors changes."""
    payload = json.dumps(
        [
            category.name,
            [[lab.name, list(lab.prompts)] for lab in category.labels],
            list(category.templates),
            category.mode.value,
        ],
        ensure_ascii=False,
    )
    return hashlib.sha1(payload.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Classifier:
    """A category made ready for one model: its label matrix and thresholds."""

    category: Category
    model_id: str
    weights: np.ndarray  # [labels (+1 null row: multi mode of softmax models), d] float32
    logit_scale: float
    thresholds: np.ndarray  # [labels] float32
    scoring: Scoring = "softmax"  # the model's (see the module notes)
    logit_bias: float = 0.0  # sigmoid models' learned bias; unused by softmax models

    @property
    def n_labels(self) -> int:
        return len(self.category.labels)

    @property
    def has_null_row(self) -> bool:
        """Whether the last row of :attr:`weights` is the generic photo (CLIP multi-label)."""
        return self.category.mode is Mode.MULTI and self.scoring == "softmax"

    def logits(self, image_vectors: np.ndarray) -> np.ndarray:
        """Temperature-scaled similarities [N, labels] from one matrix product."""
        return self._logits(np.asarray(image_vectors, dtype=np.float32) @ self.weights.T)

    def _logits(self, sims: np.ndarray) -> np.ndarray:
        """``sims`` [N, labels(+1)], cosine similarities to :attr:`weights`' rows; updated in place."""
        if self.has_null_row:
            null = sims[:, -1:]  # similarity to a generic photo
            sims = sims[:, :-1]  # a view: the subtraction below happens in place
            sims -= null
        sims *= np.float32(self.logit_scale)
        if self.category.mode is Mode.MULTI and self.scoring == "sigmoid":
            sims += np.float32(self.logit_bias)  # in a softmax over labels it would cancel
        return sims

    def scores(self, image_vectors: np.ndarray, rejected: np.ndarray | None = None) -> np.ndarray:
        """Scores in [0, 1], [N, labels]. ``rejected`` [N, labels] bool masks out user rejections."""
        return self._scores(self.logits(image_vectors), rejected)

    def scores_from_similarities(self, sims: np.ndarray) -> np.ndarray:
        """:meth:`scores` of photos whose cosine similarities to the rows of :attr:`weights` are
        already known ([N, rows] float32, e.g. from the search index); ``sims`` is reused."""
        return self._scores(self._logits(np.asarray(sims, dtype=np.float32)), None)

    def _scores(self, z: np.ndarray, rejected: np.ndarray | None) -> np.ndarray:
        if self.category.mode is Mode.MULTI:
            # sigmoid as 0.5 * (1 + tanh(z / 2)): finite for any z
            z *= 0.5
            np.tanh(z, out=z)
            z += 1.0
            z *= 0.5
            return z
        if rejected is not None:
            z[rejected] = -np.inf
        zmax = z.max(axis=1, keepdims=True)
        zmax[~np.isfinite(zmax)] = 0.0  # a row with every label rejected
        z -= zmax
        np.exp(z, out=z)
        total = z.sum(axis=1, keepdims=True)
        np.divide(z, total, out=z, where=total > 0)
        return z


def build_classifier(model: TextModel, category: Category) -> Classifier:
    if not category.auto:
        raise ValueError(f"category {category.name!r} is manual; the model does not score it")
    sigmoid = model.scoring == "sigmoid"
    ensembles = [category.prompts_for(lab) for lab in category.labels]
    if category.mode is Mode.MULTI and not sigmoid:
        ensembles.append(list(prompts.NULL_PROMPTS))
    weights = encode_ensembles(model, ensembles)
    thresholds = np.array([category.threshold_for(lab) for lab in category.labels], np.float32)
    bias = model.logit_bias if sigmoid else None
    if sigmoid and bias is None:
        raise ValueError(f"model {model.id!r} scores with a sigmoid but has no logit bias")
    return Classifier(
        category,
        model.id,
        weights,
        float(model.logit_scale),
        thresholds,
        model.scoring,
        float(bias or 0.0),
    )


@dataclass(frozen=True)
class Decisions:
    """The user's decisions on one category, as row/column indices into the scored block."""

    rows: np.ndarray  # [k] int: photo row in the image block
    cols: np.ndarray  # [k] int: label index in the category
    confirmed: np.ndarray  # [k] bool: True = confirmed or imported, False = rejected

    @classmethod
    def none(cls) -> Decisions:
        empty = np.zeros(0, np.int64)
        return cls(empty, empty, np.zeros(0, bool))


@dataclass(frozen=True)
class Proposal:
    """What the model proposes for a block of photos: one entry per (photo, label) kept."""

    rows: np.ndarray  # [m] photo row
    cols: np.ndarray  # [m] label index
    scores: np.ndarray  # [m] float32 in [0, 1]
    assigned: np.ndarray  # [m] bool: reaches the threshold (suggested) or a near-miss (candidate)


def propose(
    clf: Classifier,
    image_vectors: np.ndarray,
    decisions: Decisions | None = None,
    margin: float = REVIEW_MARGIN,
) -> tuple[np.ndarray, Proposal]:
    """Score a block of photos; return (all scores [N, labels], the proposal).

    Entries the user decided are never part of the proposal.
    """
    decisions = decisions or Decisions.none()
    n = len(image_vectors)
    blocked = np.zeros((n, clf.n_labels), dtype=bool)
    if len(decisions.rows):
        blocked[decisions.rows, decisions.cols] = True
    if clf.category.mode is Mode.MULTI:
        scores = clf.scores(image_vectors)
        keep = (scores >= clf.thresholds - margin) & ~blocked
        rows, cols = np.nonzero(keep)
        s = scores[rows, cols]
        return scores, Proposal(rows, cols, s, s >= clf.thresholds[cols])
    rejected = np.zeros_like(blocked)
    locked = np.zeros(n, dtype=bool)
    if len(decisions.rows):
        rej = ~decisions.confirmed
        rejected[decisions.rows[rej], decisions.cols[rej]] = True
        locked[decisions.rows[decisions.confirmed]] = True
    scores = clf.scores(image_vectors, rejected if rejected.any() else None)
    best = scores.argmax(axis=1)
    best_score = scores[np.arange(n), best]
    keep = ~locked & ~rejected[np.arange(n), best] & (best_score >= clf.category.threshold - margin)
    rows = np.nonzero(keep)[0]
    s = best_score[rows]
    return scores, Proposal(rows, best[rows], s, s >= clf.category.threshold)


def closest_to_threshold(
    scores: np.ndarray, thresholds: np.ndarray | float, limit: int
) -> np.ndarray:
    """Indices of the ``limit`` scores nearest their threshold, nearest first."""
    dist = np.abs(np.asarray(scores, np.float32) - np.asarray(thresholds, np.float32))
    limit = min(limit, len(dist))
    if limit <= 0:
        return np.zeros(0, np.int64)
    part = np.argpartition(dist, limit - 1)[:limit]
    return part[np.argsort(dist[part], kind="stable")]
