"""Learning-rate schedule: linear warm-up, then cosine decay."""

from __future__ import annotations

import math


def warmup_cosine(step: int, total: int, warmup: int, min_ratio: float = 0.0) -> float:
    """The multiplier of the base learning rate at ``step`` (0-based) of ``total``.

    Rises linearly from 1/warmup to 1 over ``warmup`` steps, then follows a half cosine down to
    ``min_ratio`` at the last step.
    """
    if total <= 0:
        raise ValueError("total steps must be positive")
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    span = max(1, total - warmup)
    t = min(1.0, (step - warmup) / span)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))
