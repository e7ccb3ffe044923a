"""Held-out evaluation of tag heads: the metrics, the stratified folds, the before (the head in
use) vs after (trained) figures, and per-tag thresholds calibrated to a target precision.

Every figure comes from photos the head being scored did not train on: the user's labelled photos
are split into stratified folds and each fold is scored by a head trained on the others
(:mod:`clipdesk.tags.heads.selection` runs the folds and chooses the head).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from clipdesk.tags.categories import Mode
from clipdesk.tags.heads.fit import Head, LabelData

MIN_EXAMPLES = 2  # labelled photos a category needs at all (one of each of two labels)
MIN_POSITIVES_FOR_THRESHOLD = 3


@dataclass(frozen=True)
class Metrics:
    accuracy: float | None  # single: top label right; multi: decided cells right at threshold
    mean_ap: float | None  # macro average precision over labels with positives and negatives
    per_label_ap: dict[str, float]
    n: int  # labelled photos scored

    def as_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "mean_ap": self.mean_ap,
            "per_label_ap": self.per_label_ap,
            "n": self.n,
        }


@dataclass(frozen=True)
class Evaluation:
    before: Metrics  # the head in use (zero-shot at first) on the same held-out photos
    after: Metrics  # the best trained kind of head, each fold scored by one trained without it
    folds: int
    oof_scores: np.ndarray = field(repr=False)  # [n, labels] held-out scores of ``after``
    seconds: float = 0.0
    before_method: str = "zero-shot"
    after_method: str = "zero-shot"

    def as_dict(self) -> dict[str, Any]:
        return {
            "before": self.before.as_dict(),
            "after": self.after.as_dict(),
            "before_method": self.before_method,
            "after_method": self.after_method,
            "folds": self.folds,
            "seconds": round(self.seconds, 3),
        }


def average_precision(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """AP of ranking ``positive`` items first by ``scores``; None without both kinds."""
    positive = np.asarray(positive, bool)
    n_pos = int(positive.sum())
    if n_pos == 0 or n_pos == len(positive):
        return None
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    hits = positive[order]
    precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision_at[hits].mean())


def metrics(
    scores: np.ndarray,
    data: LabelData,
    labels: tuple[str, ...],
    thresholds: np.ndarray | float = 0.5,
) -> Metrics:
    pos, neg = data.positives(), data.negatives()
    per_label: dict[str, float] = {}
    for j, name in enumerate(labels):
        known = pos[:, j] | neg[:, j]
        ap = average_precision(scores[known, j], pos[known, j])
        if ap is not None:
            per_label[name] = round(ap, 4)
    if data.mode is Mode.MULTI:
        obs = data.observed
        said = scores >= np.broadcast_to(np.asarray(thresholds, np.float32), scores.shape[1:])
        right = (said == data.allowed) & obs
        acc = float(right.sum() / obs.sum()) if obs.any() else None
    else:
        t = data.targets()
        has = t >= 0
        acc = float((scores[has].argmax(axis=1) == t[has]).mean()) if has.any() else None
    mean_ap = float(np.mean(list(per_label.values()))) if per_label else None
    return Metrics(acc, mean_ap, per_label, data.n)


def _strata(data: LabelData) -> np.ndarray:
    if data.mode is Mode.SINGLE:
        return data.targets()
    pos = data.positives()
    return np.where(pos.any(axis=1), pos.argmax(axis=1), -1)


def stratified_folds(data: LabelData, k: int, seed: int = 0) -> np.ndarray:
    """[n] fold number of each photo; every label's examples spread over the folds."""
    rng = np.random.default_rng(seed)
    fold = np.empty(data.n, np.int64)
    offset = 0
    strata = _strata(data)
    for s in np.unique(strata):
        idx = np.nonzero(strata == s)[0]
        rng.shuffle(idx)
        fold[idx] = (np.arange(len(idx)) + offset) % k
        offset += len(idx)  # keeps small strata from all landing in fold 0
    return fold


def wrong_decisions(head: Head, data: LabelData) -> int:
    """How many of the user's decisions ``head`` contradicts: single choice, photos whose top label
    is not allowed; multi-label, decided cells on the wrong side of the category's threshold."""
    scores = head.scores(data.x)
    if data.mode is Mode.MULTI:
        said = scores >= _default_thresholds(head)
        return int(((said != data.allowed) & data.observed).sum())
    return int((~data.allowed[np.arange(data.n), scores.argmax(axis=1)]).sum())


def decisions_count(data: LabelData) -> int:
    """What :func:`wrong_decisions` counts over: photos (single choice) or decided cells."""
    return int(data.observed.sum()) if data.mode is Mode.MULTI else data.n


def accuracy(head: Head, data: LabelData) -> float:
    """The share of the user's decisions ``head`` agrees with (the selection's metric)."""
    total = decisions_count(data)
    return 1.0 - wrong_decisions(head, data) / total if total else 0.0


def held_out_loss(head: Head, data: LabelData) -> float:
    """Mean log-loss of any head (linear or cache) on ``data``: single choice
    ``-log P(label in allowed)``, multi-label the binary log-loss of the decided cells."""
    z = head.logits(data.x).astype(np.float64)
    if data.mode is Mode.MULTI:
        obs = data.observed
        y = data.allowed.astype(np.float64)
        cells = max(1, int(obs.sum()))
        return float(((np.logaddexp(0.0, z) - y * z) * obs).sum()) / cells
    masked = np.where(data.allowed, z, -np.inf)
    return float((_lse(z) - _lse(masked)).sum()) / max(1, data.n)


def _lse(z: np.ndarray) -> np.ndarray:
    m = z.max(axis=1)
    m = np.where(np.isfinite(m), m, 0.0)
    out: np.ndarray = m + np.log(np.exp(z - m[:, None]).sum(axis=1))
    return out


def _default_thresholds(head: Head) -> np.ndarray:
    if head.thresholds is not None and head.mode is Mode.MULTI:
        return np.asarray(head.thresholds, np.float32)
    return np.full(len(head.labels), 0.5, np.float32)


def threshold_for_precision(
    scores: np.ndarray,
    positive: np.ndarray,
    target: float,
    min_positives: int = MIN_POSITIVES_FOR_THRESHOLD,
) -> tuple[float, float, float] | None:
    """The lowest score cut-off whose precision on the labels reaches ``target``, keeping the
    most recall: (threshold, precision, recall), or None when no cut-off reaches it."""
    positive = np.asarray(positive, bool)
    if positive.sum() < min_positives:
        return None
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    s, hits = np.asarray(scores)[order], positive[order]
    tp = np.cumsum(hits)
    precision = tp / np.arange(1, len(hits) + 1)
    # a cut-off can only sit where the next score is lower (ties are taken together)
    distinct = np.r_[s[1:] < s[:-1], True]
    ok = np.nonzero((precision >= target) & distinct & (tp >= min_positives))[0]
    if len(ok) == 0:
        return None
    i = int(ok[-1])
    return float(s[i]), float(precision[i]), float(tp[i] / hits.sum())


def calibrate(
    head: Head,
    data: LabelData,
    oof_scores: np.ndarray,
    target: float,
) -> tuple[Head, dict[str, Any]]:
    """Thresholds reaching ``target`` precision on held-out scores of the user's labels.

    Multi-label: one per label (labels that cannot reach it keep the category's threshold).
    Single choice: one for the category, on the top label's probability.
    """
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target precision must lie in (0, 1], not {target}")
    report: dict[str, Any] = {"target_precision": target, "labels": {}}
    if head.mode is Mode.MULTI:
        pos, neg = data.positives(), data.negatives()
        current = _default_thresholds(head)
        out = []
        for j, name in enumerate(head.labels):
            known = pos[:, j] | neg[:, j]
            found = threshold_for_precision(oof_scores[known, j], pos[known, j], target)
            if found is None:
                out.append(float(current[j]))
                report["labels"][name] = None
            else:
                out.append(found[0])
                report["labels"][name] = {
                    "threshold": round(found[0], 4),
                    "precision": round(found[1], 4),
                    "recall": round(found[2], 4),
                }
        return replace(head, thresholds=tuple(out)), report
    t = data.targets()
    top = oof_scores.argmax(axis=1)
    right = np.where(t >= 0, top == t, data.allowed[np.arange(data.n), top])
    found = threshold_for_precision(oof_scores.max(axis=1), right, target)
    if found is None:
        report["category"] = None
        return head, report
    report["category"] = {
        "threshold": round(found[0], 4),
        "precision": round(found[1], 4),
        "recall": round(found[2], 4),
    }
    return replace(head, thresholds=(found[0],)), report
