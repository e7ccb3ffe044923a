"""What a fine-tuning run is asked to do and what it gives back: plain records, no torch, so the
faces can build options and show results without loading the engine."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from clipdesk.common.errors import ModelError

MIN_BATCH = 2
TOWERS = ("text", "both")


@dataclass(frozen=True)
class FinetuneOptions:
    towers: str = "text"  # "text": text tower only (no re-index) | "both"
    epochs: float = 5.0
    min_steps: int = 20
    batch_size: int = 64  # halved on out-of-memory down to MIN_BATCH
    lr: float = 5e-5
    alpha: float = 0.5  # WiSE-FT: 0 = original, 1 = fully fine-tuned
    device: str = "auto"
    precision: str = "auto"  # mixed precision on GPUs, fp32 on the CPU
    eval_every: int = 0  # steps between validation points; 0: about 10 per run
    seed: int = 0

    def validate(self) -> FinetuneOptions:
        if self.towers not in TOWERS:
            raise ModelError(f"unknown towers option {self.towers!r}", "use 'text' or 'both'")
        if not 0.0 <= self.alpha <= 1.0:
            raise ModelError(f"blend alpha {self.alpha} is outside 0..1")
        if self.batch_size < MIN_BATCH or self.lr <= 0 or self.epochs <= 0:
            raise ModelError("batch size, learning rate and epochs must be positive")
        return self


@dataclass
class FinetuneResult:
    model_name: str
    model_path: Path
    alpha: float
    before: dict[str, float]  # the original model on the validation pairs
    after: dict[str, float]  # the saved (blended) model
    fine_tuned: dict[str, float]  # alpha = 1
    steps: int
    batch_size: int
    seconds: float
    images_per_s: float
    reembed_needed: bool
    sweep: dict[str, dict[str, float]] = field(default_factory=dict)  # alpha -> validation
    history: dict[str, list[list[Any]]] = field(default_factory=dict)  # the live plots' points

    def summary(self) -> dict[str, Any]:
        d = asdict(self)
        d["model_path"] = str(self.model_path)
        d.pop("history")
        return d
