"""What a runtime offers the engine: the two towers, numpy in and numpy out."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from clipdesk.model.runtime import Precision, Runtime


class Towers(Protocol):
    runtime: Runtime
    precision: Precision

    def image(self, pixels: np.ndarray) -> np.ndarray:
        """Preprocessed pixels float32 [n, 3, S, S] -> features float32 [n, dim], not normalised."""
        ...

    def text(self, ids: np.ndarray) -> np.ndarray:
        """Token ids int64 [n, length] -> features float32 [n, dim], not normalised."""
        ...

    def warm(self, tower: str) -> None:
        """Start getting ``tower`` ready ("image" or "text") without waiting for it."""
        ...

    def close(self) -> None:
        """Let go of what the towers hold (sessions, memory); later calls may rebuild them."""
        ...
