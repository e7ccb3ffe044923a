"""Which photos to label next: those the current classifier is least sure about.

Labelling a photo the head already scores confidently teaches it little; one near the decision
boundary moves it most (uncertainty sampling, Lewis & Gale 1994). Two measures:

- ``margin``: single choice, the gap between the two most probable labels; multi-label, the
  distance of the closest label score to its threshold. Smaller is less sure.
- ``entropy``: of the softmax (single) or the sum of per-label binary entropies (multi). Larger is
  less sure.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from clipdesk.tags.categories import Mode

METHODS = ("margin", "entropy")


def uncertainty(
    scores: np.ndarray, mode: Mode, thresholds: np.ndarray | float = 0.5, method: str = "margin"
) -> np.ndarray:
    """[n] uncertainty of each photo, larger = less sure, from its scores [n, labels]."""
    p = np.clip(np.asarray(scores, np.float64), 1e-12, 1.0)
    if method == "margin":
        if mode is Mode.MULTI:
            dist: np.ndarray = np.abs(p - np.asarray(thresholds, np.float64)).min(axis=1)
            return -dist
        if p.shape[1] < 2:
            return -np.abs(p[:, 0] - 0.5)
        top2 = -np.partition(-p, 1, axis=1)[:, :2]
        return -(top2[:, 0] - top2[:, 1])
    if method == "entropy":
        if mode is Mode.MULTI:
            q = np.clip(1.0 - p, 1e-12, 1.0)
            binary: np.ndarray = (p * np.log(p) + q * np.log(q)).sum(axis=1)
            return -binary
        softmax: np.ndarray = (p * np.log(p)).sum(axis=1)
        return -softmax
    raise ValueError(f"unknown uncertainty method {method!r} (expected {' or '.join(METHODS)})")


def propose_to_label(
    photo_ids: np.ndarray,
    scores: np.ndarray,
    mode: Mode,
    limit: int,
    *,
    thresholds: np.ndarray | float = 0.5,
    method: str = "margin",
    exclude: Sequence[int] = (),
) -> list[tuple[int, float]]:
    """The ``limit`` photos (id, uncertainty) least sure first, skipping ``exclude`` (already
    labelled ones)."""
    ids = np.asarray(photo_ids, np.int64)
    u = uncertainty(scores, mode, thresholds, method)
    if len(exclude):
        keep = ~np.isin(ids, np.asarray(list(exclude), np.int64))
        ids, u = ids[keep], u[keep]
    limit = min(int(limit), len(ids))
    if limit <= 0:
        return []
    part = np.argpartition(-u, limit - 1)[:limit]
    order = part[np.argsort(-u[part], kind="stable")]
    return [(int(ids[i]), float(u[i])) for i in order]
