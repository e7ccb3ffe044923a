"""What ClipDesk knows of a loaded model besides its towers; the same whichever runtime serves it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from clipdesk.common import limits
from clipdesk.model.preprocess import PreprocessConfig

if TYPE_CHECKING:
    from clipdesk.model.checkpoint import Checkpoint
    from clipdesk.model.dual_encoder import Scoring


@dataclass(frozen=True)
class ModelFacts:
    name: str
    path: Path
    weights_hash: str
    family: str
    scoring: Scoring
    embed_dim: int
    logit_scale: float  # the learned inverse temperature, exp of the stored log, unclamped
    logit_bias: float | None
    preprocess: PreprocessConfig
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of_checkpoint(cls, ckpt: Checkpoint) -> ModelFacts:
        module = ckpt.module
        return cls(
            name=ckpt.name,
            path=ckpt.path,
            weights_hash=ckpt.weights_hash,
            family=module.family,
            scoring=module.scoring,
            embed_dim=module.embed_dim,
            logit_scale=float(module.logit_scale.detach().exp().item()),
            logit_bias=module.logit_bias,
            preprocess=ckpt.preprocess,
            meta=dict(ckpt.meta),
        )

    @classmethod
    def of_manifest(cls, data: dict[str, Any], path: Path, weights_hash: str) -> ModelFacts:
        """Facts as :func:`clipdesk.model.runtime.export.facts_of` wrote them; KeyError,
        TypeError or ValueError for a manifest that does not hold them."""
        scoring = data["scoring"]
        if scoring not in ("softmax", "sigmoid"):
            raise ValueError(f"unknown scoring {scoring!r}")
        bias = data.get("logit_bias")
        meta = data.get("meta", {})
        facts = cls(
            name=str(data["name"]),
            path=path,
            weights_hash=weights_hash,
            family=str(data["family"]),
            scoring=cast("Scoring", scoring),
            embed_dim=_whole(data["embed_dim"], "embed_dim", limits.MODEL_EMBED_DIM),
            logit_scale=_finite(data["logit_scale"], "logit_scale"),
            logit_bias=None if bias is None else _finite(bias, "logit_bias"),
            preprocess=PreprocessConfig.from_json(data["preprocess"]),
            meta=meta if isinstance(meta, dict) else {},
        )
        # A manifest is data from disk: a size of 10**9 would make every photo a huge array.
        _whole(facts.preprocess.size, "preprocess.size", limits.MODEL_IMAGE_SIZE)
        return facts


def _whole(value: object, name: str, bounds: tuple[int, int]) -> int:
    lo, hi = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} is {value!r}, not a whole number from {lo} to {hi}")
    return value


def _finite(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} is {value!r}, not a finite number")
    return float(value)
