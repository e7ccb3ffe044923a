"""Thresholds calibrated to a target precision on the user's decisions, for the classifier in
use (zero-shot or the applied head), without training anything: what the Tags page's
calibration panel and ``clipdesk-cli tags calibrate`` show and apply.

Multi-label categories get one threshold per label (a label is suggested when its own score
reaches it); a single-choice category has one threshold, on its best label's probability, so it
gets one row. Each row says what the new threshold gives on the user's decisions (precision,
recall, and how many decisions that rests on) and how many photos without a decision it would
suggest, beside the same figures for the threshold in force. The cut-off itself is
:func:`~clipdesk.tags.heads.evaluation.threshold_for_precision`, the one ``train heads
--calibrate`` uses on held-out scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from clipdesk.tags.categories import Mode
from clipdesk.tags.heads.evaluation import MIN_POSITIVES_FOR_THRESHOLD, threshold_for_precision
from clipdesk.tags.heads.fit import LabelData

__all__ = ["Calibration", "LabelCalibration", "calibrate_thresholds", "precision_recall_at"]


@dataclass(frozen=True)
class LabelCalibration:
    """One threshold's calibration: a label's (multi-label) or the category's (single choice)."""

    label: str | None  # None: the single-choice category's one threshold
    current: float  # the threshold in force
    threshold: float | None  # the lowest reaching the target precision; None: none does
    precision: float | None  # on the user's decisions at ``threshold`` (None with it)
    recall: float | None
    current_precision: float | None  # the same at ``current``; None: nothing reaches it
    current_recall: float | None
    decisions: int  # the user's decisions these figures rest on
    positives: int  # of them, the ones that say "yes, this label"
    suggested_now: int  # photos without a decision the model suggests at ``current``
    would_suggest: int  # the same at ``threshold`` (at ``current`` when there is none)
    reason: str | None = None  # why there is no threshold, for people

    @property
    def proposed(self) -> float:
        """The threshold applying this calibration sets (the current one when none reaches the
        target: a label is never made worse than it is)."""
        return self.current if self.threshold is None else self.threshold

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "current": round(self.current, 4),
            "threshold": None if self.threshold is None else round(self.threshold, 4),
            "precision": _round(self.precision),
            "recall": _round(self.recall),
            "current_precision": _round(self.current_precision),
            "current_recall": _round(self.current_recall),
            "decisions": self.decisions,
            "positives": self.positives,
            "suggested_now": self.suggested_now,
            "would_suggest": self.would_suggest,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Calibration:
    """A category's calibration for one model and classifier; :attr:`rows` in label order."""

    category: str
    mode: Mode
    labels: tuple[str, ...]  # the category's labels when calibrated (apply checks them)
    model_id: str
    method: str  # "zero-shot" or the applied head's method
    target: float
    rows: tuple[LabelCalibration, ...]
    # True for an applied head: it learned from these very decisions, so its figures on them
    # are optimistic (``train heads --calibrate`` uses held-out scores instead)
    in_sample: bool = False

    @property
    def changes(self) -> int:
        """How many thresholds applying it changes."""
        return sum(
            r.threshold is not None and abs(r.threshold - r.current) > 1e-6 for r in self.rows
        )

    def thresholds(self) -> tuple[float, ...]:
        """The thresholds to apply: one per label (multi-label), or the category's one."""
        return tuple(r.proposed for r in self.rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "mode": self.mode.value,
            "model_id": self.model_id,
            "method": self.method,
            "target_precision": self.target,
            "in_sample": self.in_sample,
            "changes": self.changes,
            "rows": [r.to_json() for r in self.rows],
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def precision_recall_at(
    scores: np.ndarray, positive: np.ndarray, threshold: float
) -> tuple[float | None, float | None]:
    """(precision, recall) of "score >= threshold" against ``positive``; None where undefined
    (nothing reaches the threshold; no positives)."""
    said = np.asarray(scores) >= threshold
    positive = np.asarray(positive, bool)
    tp = int((said & positive).sum())
    precision = tp / int(said.sum()) if said.any() else None
    recall = tp / int(positive.sum()) if positive.any() else None
    return precision, recall


def _no_threshold_reason(scores: np.ndarray, positive: np.ndarray, target: float) -> str:
    n_pos = int(np.asarray(positive, bool).sum())
    if n_pos < MIN_POSITIVES_FOR_THRESHOLD:
        return (
            f"{MIN_POSITIVES_FOR_THRESHOLD} confirmed photos needed, {n_pos} so far; "
            "confirm more in Review"
        )
    # the best precision any cut-off keeping enough confirmed photos gives
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    tp = np.cumsum(np.asarray(positive, bool)[order])
    precision = tp / np.arange(1, len(tp) + 1)
    best = float(precision[tp >= MIN_POSITIVES_FOR_THRESHOLD].max())
    return (
        f"no threshold reaches {target:.0%} precision on your decisions "
        f"(the most is {best:.0%}); the threshold stays"
    )


def _row(
    label: str | None,
    scores: np.ndarray,
    positive: np.ndarray,
    library_scores: np.ndarray,
    current: float,
    target: float,
) -> LabelCalibration:
    found = threshold_for_precision(scores, positive, target) if len(scores) else None
    cur_p, cur_r = precision_recall_at(scores, positive, current)
    now = int((library_scores >= current).sum())
    kept = LabelCalibration(
        label=label,
        current=current,
        threshold=None,
        precision=None,
        recall=None,
        current_precision=cur_p,
        current_recall=cur_r,
        decisions=len(scores),
        positives=int(positive.sum()),
        suggested_now=now,
        would_suggest=now,
    )
    if found is None:
        if not len(scores):
            reason = "no decisions yet; confirm or reject photos in Review"
        else:
            reason = _no_threshold_reason(scores, positive, target)
        return replace(kept, reason=reason)
    threshold, precision, recall = found
    return replace(
        kept,
        threshold=threshold,
        precision=precision,
        recall=recall,
        would_suggest=int((library_scores >= threshold).sum()),
    )


def calibrate_thresholds(
    mode: Mode,
    labels: Sequence[str],
    data: LabelData,
    decided_scores: np.ndarray,
    library_scores: np.ndarray,
    undecided: np.ndarray,
    current: Sequence[float],
    target: float,
) -> list[LabelCalibration]:
    """One row per threshold reaching ``target`` precision on the user's decisions.

    ``decided_scores`` [n, labels]: the classifier's scores of ``data``'s photos;
    ``library_scores`` [N, labels] those of the library's photos, ``undecided`` [N, labels] bool
    marking the cells without a user decision (what a suggestion can land on; single choice:
    every column of a photo with no decision in the category); ``current``: the thresholds in
    force, per label (single choice: one, the category's).
    """
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target precision must lie in (0, 1], not {target}")
    if mode is Mode.MULTI:
        pos, neg = data.positives(), data.negatives()
        rows = []
        for j, name in enumerate(labels):
            known = pos[:, j] | neg[:, j]
            rows.append(
                _row(
                    name,
                    decided_scores[known, j],
                    pos[known, j],
                    library_scores[undecided[:, j], j],
                    float(current[j]),
                    target,
                )
            )
        return rows
    # single choice: the photo gets its best label when that label's probability reaches the
    # threshold, so a decision counts as right when the best label is one the user allows
    top = decided_scores.argmax(axis=1) if len(decided_scores) else np.zeros(0, np.int64)
    t = data.targets()
    right = np.where(t >= 0, top == t, data.allowed[np.arange(data.n), top])
    best = decided_scores.max(axis=1) if len(decided_scores) else np.zeros(0, np.float32)
    free = undecided.all(axis=1) if undecided.ndim == 2 else undecided
    lib_best = library_scores.max(axis=1) if len(library_scores) else np.zeros(0, np.float32)
    return [_row(None, best, right, lib_best[free], float(current[0]), target)]
