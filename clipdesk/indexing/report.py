"""What an indexing run reports, and the hook it calls after each commit (no torch: the faces
and the services' records import these before the model is loaded)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

EmbeddedHook = Callable[[np.ndarray, np.ndarray], None]  # (photo ids int64 [n], float32 [n, d])


@dataclass(frozen=True)
class IndexReport:
    embedded: int  # vectors committed
    failed: int  # photos recorded as errors
    total: int  # pending when the run started
    elapsed_s: float
    cancelled: bool = False
    # Work the photos are still owed after their embedding when the run ended ({step: photos})
    # and one sentence saying so and why (the services fill these in; empty: nothing owed).
    waiting: Mapping[str, int] = field(default_factory=dict)
    waiting_note: str = ""

    @property
    def rate(self) -> float:
        return self.embedded / self.elapsed_s if self.elapsed_s > 0 else 0.0
