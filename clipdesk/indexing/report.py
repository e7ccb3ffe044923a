"""What an indexing run reports, and the hook it calls after each commit (no torch: the faces
and the services' records import these before the model is loaded)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

EmbeddedHook = Callable[[np.ndarray, np.ndarray], None]  # (photo ids int64 [n], float32 [n, d])


@dataclass(frozen=True)
class IndexReport:
    embedded: int  # vectors committed
    failed: int  # photos recorded as errors
    total: int  # pending when the run started
    elapsed_s: float
    cancelled: bool = False

    @property
    def rate(self) -> float:
        return self.embedded / self.elapsed_s if self.elapsed_s > 0 else 0.0
