"""Teaching one category end to end: choose the head on held-out labels, train it on all of them,
calibrate — what the Train tab and ``clipdesk-cli train heads`` run. Nothing is applied here; the
user decides (head_store)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from clipdesk.common.errors import ClipDeskError
from clipdesk.common.progress import CancelToken, Progress, ProgressCallback
from clipdesk.tags.heads.evaluation import MIN_EXAMPLES, Evaluation, calibrate, metrics
from clipdesk.tags.heads.fit import Head, LabelData
from clipdesk.tags.heads.selection import Selection, fit_method, select


class NotEnoughLabelsError(ClipDeskError):
    """Too few confirmed / rejected tags in a category to train or evaluate a head."""


@dataclass(frozen=True)
class TeachResult:
    head: Head  # what the category should use: the chosen head, or the one in use when kept
    evaluation: Evaluation | None  # held-out figures; None under the rule for few examples
    calibration: dict[str, Any] | None
    seconds: float
    selection: Selection | None = None

    def summary(self) -> dict[str, Any]:
        s = self.selection
        return {
            "category": self.head.category,
            "model_id": self.head.model_id,
            "examples": self.head.n_examples,
            "zero_shot_kept": self.head.is_zero_shot,
            "kept": s.kept if s is not None else self.head.is_zero_shot,
            "method": self.head.method,
            "lam": self.head.lam,
            "reason": s.reason if s is not None else None,
            "figures": s.figures() if s is not None else None,
            "selection": s.as_dict() if s is not None else None,
            "evaluation": self.evaluation.as_dict() if self.evaluation else None,
            "calibration": self.calibration,
            "thresholds": list(self.head.thresholds) if self.head.thresholds else None,
            "seconds": round(self.seconds, 3),
            "counts": self.head.info.get("counts"),
        }


def label_counts(data: LabelData, labels: tuple[str, ...]) -> dict[str, dict[str, int]]:
    pos, neg = data.counts()
    return {
        name: {"positive": int(p), "negative": int(n)}
        for name, p, n in zip(labels, pos, neg, strict=True)
    }


def teach(
    init: Head,
    data: LabelData,
    *,
    target_precision: float | None = None,
    incumbent: Head | None = None,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> TeachResult:
    """Choose the head on held-out labels (:func:`selection.select`: it replaces ``incumbent``,
    the head in use, only on a clear gain), train it on all labelled photos, and calibrate
    thresholds to ``target_precision`` on the held-out scores if asked."""
    if data.n < MIN_EXAMPLES:
        raise NotEnoughLabelsError(
            f"category {init.category!r} has {data.n} labelled photos; at least {MIN_EXAMPLES} "
            "are needed",
            "confirm or reject a few more of its tags (the review list proposes which)",
        )
    pos, _neg = data.counts()
    if data.mode.value == "single" and int((pos > 0).sum()) < 2 and not data.negatives().any():
        raise NotEnoughLabelsError(
            f"category {init.category!r}: confirmed examples of only one label",
            "confirm photos of at least two labels, or reject some suggestions",
        )
    t0 = time.monotonic()

    def report(done: int, message: str) -> None:
        if progress is not None:
            el = time.monotonic() - t0
            eta = el / done * (3 - done) if done else None
            progress(Progress(done, 3, rate=done / el if el else 0.0, eta_s=eta, message=message))

    report(0, "comparing kinds of head on held-out labels")
    chosen = select(init, data, incumbent=incumbent, seed=seed, cancel=cancel)
    report(1, f"chose {chosen.method}" if chosen.replaced else "kept the head in use")
    if chosen.replaced:
        head = fit_method(init, data, chosen.method, seed=seed, cancel=cancel)
        if head is None:  # the folds trained it, so all the labels can: a bug if not
            raise RuntimeError(f"{chosen.method} head could not be trained on all the labels")
        head = replace(head, n_examples=data.n)
    elif incumbent is not None and not incumbent.is_zero_shot:
        head = incumbent  # stays as it is, trained on what it was trained on
    else:
        head = replace(init, n_examples=data.n)
    report(2, "trained on all labels")
    evaluation = _evaluation(init, data, chosen, time.monotonic() - t0)
    calibration = None
    if target_precision is not None and head.method in chosen.oof:
        head, calibration = calibrate(head, data, chosen.oof[head.method], target_precision)
    seconds = time.monotonic() - t0
    if head is not incumbent:
        head = replace(
            head,
            info={
                **{k: v for k, v in head.info.items() if k == "zero_shot_trust"},
                "trained_at": time.time(),
                "evaluation": evaluation.as_dict() if evaluation else None,
                "calibration": calibration,
                "counts": label_counts(data, init.labels),
                "selection": chosen.as_dict(),
            },
        )
    report(3, "done")
    return TeachResult(head, evaluation, calibration, seconds, chosen)


def _evaluation(
    init: Head, data: LabelData, chosen: Selection, seconds: float
) -> Evaluation | None:
    """Before: the head in use; after: the best other kind (what training offered), both on the
    selection's folds. None under the rule for few examples (no folds)."""
    if chosen.challenger is None:
        return None
    thr = np.full(len(init.labels), 0.5, np.float32)
    return Evaluation(
        before=metrics(chosen.oof[chosen.in_use], data, init.labels, thr),
        after=metrics(chosen.oof[chosen.challenger], data, init.labels, thr),
        folds=chosen.folds,
        oof_scores=chosen.oof[chosen.challenger],
        seconds=seconds,
        before_method=chosen.in_use,
        after_method=chosen.challenger,
    )


def scores_for(head: Head, vectors: np.ndarray) -> np.ndarray:
    """Scores of a block of stored vectors (chunked so a million photos fit in memory)."""
    out = np.empty((len(vectors), len(head.labels)), np.float32)
    for i in range(0, len(vectors), 65536):
        out[i : i + 65536] = head.scores(vectors[i : i + 65536])
    return out
