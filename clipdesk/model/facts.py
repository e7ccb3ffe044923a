"""What ClipDesk knows of a loaded model besides its towers; the same whichever runtime serves it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

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
        return cls(
            name=str(data["name"]),
            path=path,
            weights_hash=weights_hash,
            family=str(data["family"]),
            scoring=cast("Scoring", scoring),
            embed_dim=int(data["embed_dim"]),
            logit_scale=float(data["logit_scale"]),
            logit_bias=None if bias is None else float(bias),
            preprocess=PreprocessConfig.from_json(data["preprocess"]),
            meta=meta if isinstance(meta, dict) else {},
        )
