"""Typed CLIP configuration, and its mapping to/from a Hugging Face ``config.json``."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Activation = Literal["quick_gelu", "gelu"]

# Hugging Face's CLIPTextConfig / CLIPVisionConfig defaults: an old config.json may omit fields.
_HF_TEXT_DEFAULTS: dict[str, Any] = {
    "vocab_size": 49408,
    "hidden_size": 512,
    "intermediate_size": 2048,
    "num_hidden_layers": 12,
    "num_attention_heads": 8,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5,
    "eos_token_id": 49407,
}
_HF_VISION_DEFAULTS: dict[str, Any] = {
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "image_size": 224,
    "patch_size": 32,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5,
}


@dataclass(frozen=True)
class VisionConfig:
    image_size: int = 224  # input side in pixels (square)
    patch_size: int = 32  # side of one patch; image_size must be a multiple
    width: int = 768  # transformer hidden size
    layers: int = 12
    heads: int = 12
    mlp_width: int = 3072  # hidden size of each block's MLP
    act: Activation = "quick_gelu"
    eps: float = 1e-5  # LayerNorm epsilon

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size


@dataclass(frozen=True)
class TextConfig:
    vocab_size: int = 49408
    context_length: int = 77  # maximum tokens, start and end tokens included
    width: int = 512
    layers: int = 12
    heads: int = 8
    mlp_width: int = 2048
    act: Activation = "quick_gelu"
    eps: float = 1e-5
    eos_token_id: int = 49407
    # "argmax": features at the highest token id (OpenAI/OpenCLIP, where end-of-text is the largest
    # id); "eos": at the first end-of-text token (any vocabulary, e.g. our own demo model's).
    pooling: Literal["argmax", "eos"] = "eos"


@dataclass(frozen=True)
class ClipConfig:
    embed_dim: int = 512  # size of the shared image-text embedding space
    vision: VisionConfig = field(default_factory=VisionConfig)
    text: TextConfig = field(default_factory=TextConfig)
    logit_scale_init: float = math.log(1 / 0.07)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClipConfig:
        return cls(
            embed_dim=data["embed_dim"],
            vision=VisionConfig(**data["vision"]),
            text=TextConfig(**data["text"]),
            logit_scale_init=data.get("logit_scale_init", math.log(1 / 0.07)),
        )

    # --- Hugging Face config.json ---

    @classmethod
    def from_hf(cls, hf: dict[str, Any]) -> ClipConfig:
        tc = dict(_HF_TEXT_DEFAULTS)
        tc.update(hf.get("text_config") or hf.get("text_config_dict") or {})
        vc = dict(_HF_VISION_DEFAULTS)
        vc.update(hf.get("vision_config") or hf.get("vision_config_dict") or {})
        eos = int(tc.get("eos_token_id", 49407))
        return cls(
            embed_dim=int(hf.get("projection_dim", 512)),
            vision=VisionConfig(
                image_size=int(vc["image_size"]),
                patch_size=int(vc["patch_size"]),
                width=int(vc["hidden_size"]),
                layers=int(vc["num_hidden_layers"]),
                heads=int(vc["num_attention_heads"]),
                mlp_width=int(vc["intermediate_size"]),
                act=_activation(vc["hidden_act"]),
                eps=float(vc["layer_norm_eps"]),
            ),
            text=TextConfig(
                vocab_size=int(tc["vocab_size"]),
                context_length=int(tc["max_position_embeddings"]),
                width=int(tc["hidden_size"]),
                layers=int(tc["num_hidden_layers"]),
                heads=int(tc["num_attention_heads"]),
                mlp_width=int(tc["intermediate_size"]),
                act=_activation(tc["hidden_act"]),
                eps=float(tc["layer_norm_eps"]),
                eos_token_id=eos,
                # transformers keeps argmax pooling for legacy configs whose eos_token_id is 2.
                pooling="argmax" if eos == 2 else "eos",
            ),
            logit_scale_init=float(hf.get("logit_scale_init_value", math.log(1 / 0.07))),
        )

    def to_hf(self) -> dict[str, Any]:
        v, t = self.vision, self.text
        eos = t.eos_token_id if t.pooling == "eos" else 2
        return {
            "architectures": ["CLIPModel"],
            "model_type": "clip",
            "projection_dim": self.embed_dim,
            "logit_scale_init_value": self.logit_scale_init,
            "text_config": {
                "model_type": "clip_text_model",
                "vocab_size": t.vocab_size,
                "hidden_size": t.width,
                "intermediate_size": t.mlp_width,
                "num_hidden_layers": t.layers,
                "num_attention_heads": t.heads,
                "max_position_embeddings": t.context_length,
                "hidden_act": t.act,
                "layer_norm_eps": t.eps,
                "projection_dim": self.embed_dim,
                "eos_token_id": eos,
                "bos_token_id": max(0, t.eos_token_id - 1),
                "pad_token_id": t.eos_token_id,
            },
            "vision_config": {
                "model_type": "clip_vision_model",
                "hidden_size": v.width,
                "intermediate_size": v.mlp_width,
                "num_hidden_layers": v.layers,
                "num_attention_heads": v.heads,
                "image_size": v.image_size,
                "patch_size": v.patch_size,
                "hidden_act": v.act,
                "layer_norm_eps": v.eps,
                "num_channels": 3,
                "projection_dim": self.embed_dim,
            },
        }


def _activation(name: str) -> Activation:
    if name == "quick_gelu":
        return "quick_gelu"
    if name == "gelu":
        return "gelu"
    raise ValueError(f"unsupported activation {name!r} (expected quick_gelu or gelu)")
