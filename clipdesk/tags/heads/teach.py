"""Teaching one category end to end: evaluate, train, calibrate — what the Train tab and
``clipdesk-cli train heads`` run. Nothing is applied here; the user decides (head_store)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from clipdesk.common.errors import ClipDeskError
from clipdesk.common.progress import CancelToken, Progress, ProgressCallback
from clipdesk.tags.heads.evaluation import (
    MIN_EXAMPLES,
    Evaluation,
    calibrate,
    evaluate,
    fit_choice,
    select_fit,
)
from clipdesk.tags.heads.fit import Head, LabelData


class NotEnoughLabelsError(ClipDeskError):
    """Too few confirmed / rejected tags in a category to train or evaluate a head."""


@dataclass(frozen=True)
class TeachResult:
    head: Head  # trained on every labelled photo (or the zero-shot head when that is best)
    evaluation: Evaluation | None
    calibration: dict[str, Any] | None
    seconds: float

    def summary(self) -> dict[str, Any]:
        return {
            "category": self.head.category,
            "model_id": self.head.model_id,
            "examples": self.head.n_examples,
            "zero_shot_kept": self.head.is_zero_shot,
            "method": self.head.method,
            "lam": self.head.lam,
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
    seed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> TeachResult:
    """Cross-validate, then train on all labelled photos and calibrate thresholds if asked."""
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

    report(0, "evaluating on held-out labels")
    evaluation = evaluate(init, data, seed=seed, cancel=cancel)
    report(1, "choosing the kind of head")
    choice = select_fit(init, data, seed=seed, cancel=cancel)
    report(2, "training on all labels")
    head = fit_choice(init, data, choice, cancel)
    head = replace(head, n_examples=data.n)
    calibration = None
    if target_precision is not None and evaluation is not None:
        head, calibration = calibrate(head, data, evaluation.oof_scores, target_precision)
    seconds = time.monotonic() - t0
    head = replace(
        head,
        info={
            "trained_at": time.time(),
            "evaluation": evaluation.as_dict() if evaluation else None,
            "calibration": calibration,
            "counts": label_counts(data, init.labels),
        },
    )
    report(3, "done")
    return TeachResult(head, evaluation, calibration, seconds)


def scores_for(head: Head, vectors: np.ndarray) -> np.ndarray:
    """Scores of a block of stored vectors (chunked so a million photos fit in memory)."""
    out = np.empty((len(vectors), len(head.labels)), np.float32)
    for i in range(0, len(vectors), 65536):
        out[i : i + 65536] = head.scores(vectors[i : i + 65536])
    return out
