"""SigLIP (Zhai et al., 2023) and fixed-resolution SigLIP2: sigmoid-scored image-text towers.

Both are stored as Hugging Face ``SiglipModel`` folders; the parameter names here are
transformers', so ``model.safetensors`` loads as it is. What sets the family apart from CLIP:
the image tower has no class token and pools with a learned probe that attends over all patches
(multi-head attention pooling); the text tower is bidirectional (no causal mask, no attention
mask: padding is part of the input it was trained on) and is read at the last position; a pair's
probability is sigmoid(logit_scale.exp() * cosine + logit_bias), independent of other labels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from clipdesk.common import limits
from clipdesk.model.config import ConfigChecks, ConfigError, block_parameters, hf_names
from clipdesk.model.dual_encoder import DualEncoder

# GELU's tanh approximation (hidden_act "gelu_pytorch_tanh", every released SigLIP) or exact.
Gelu = Literal["tanh", "none"]
_ACTIVATIONS: Mapping[str, Gelu] = {"gelu_pytorch_tanh": "tanh", "gelu_new": "tanh", "gelu": "none"}


@dataclass(frozen=True)
class SiglipVisionConfig:
    image_size: int = 224  # input side in pixels (square)
    patch_size: int = 16  # pixels past the last whole patch are ignored (so400m/14 at 384 px)
    width: int = 768  # hidden_size; also the embedding size (the pooling head keeps it)
    layers: int = 12
    heads: int = 12
    mlp_width: int = 3072
    eps: float = 1e-6
    gelu: Gelu = "tanh"

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size


@dataclass(frozen=True)
class SiglipTextConfig:
    vocab_size: int = 32000
    context_length: int = 64  # max_position_embeddings; texts are always padded to it
    width: int = 768
    layers: int = 12
    heads: int = 12
    mlp_width: int = 3072
    eps: float = 1e-6
    gelu: Gelu = "tanh"
    projection_size: int = 768  # the text head's output, the image tower's width


@dataclass(frozen=True)
class SiglipConfig:
    vision: SiglipVisionConfig = field(default_factory=SiglipVisionConfig)
    text: SiglipTextConfig = field(default_factory=SiglipTextConfig)

    @property
    def embed_dim(self) -> int:
        return self.vision.width

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_hf(cls, hf: Mapping[str, Any]) -> SiglipConfig:
        """The config of a ``SiglipModel`` config.json, with transformers' defaults for omitted
        fields; :class:`ConfigError` names the first field outside what ClipDesk reads."""
        vc = _Fields(hf, "vision_config")
        tc = _Fields(hf, "text_config")
        if vc.raw("vision_use_head", True) is not True:
            raise ConfigError(
                "vision_config.vision_use_head is false: the image tower has no pooling head, "
                "so it gives no image embedding"
            )
        if vc.whole("num_channels", 3) != 3:
            raise ConfigError("vision_config.num_channels is not 3; ClipDesk reads RGB models")
        width = tc.whole("hidden_size", 768)
        cfg = cls(
            vision=SiglipVisionConfig(
                image_size=vc.whole("image_size", 224),
                patch_size=vc.whole("patch_size", 16),
                width=vc.whole("hidden_size", 768),
                layers=vc.whole("num_hidden_layers", 12),
                heads=vc.whole("num_attention_heads", 12),
                mlp_width=vc.whole("intermediate_size", 3072),
                eps=vc.real("layer_norm_eps", 1e-6),
                gelu=vc.gelu(),
            ),
            text=SiglipTextConfig(
                vocab_size=tc.whole("vocab_size", 32000),
                context_length=tc.whole("max_position_embeddings", 64),
                width=width,
                layers=tc.whole("num_hidden_layers", 12),
                heads=tc.whole("num_attention_heads", 12),
                mlp_width=tc.whole("intermediate_size", 3072),
                eps=tc.real("layer_norm_eps", 1e-6),
                gelu=tc.gelu(),
                projection_size=tc.whole("projection_size", width, none_is_default=True),
            ),
        )
        check_config(cfg)
        return cfg

    def parameter_count(self) -> int:
        """How many numbers :class:`SiglipModule` allocates for this config."""
        v, t = self.vision, self.text
        head = (
            v.width  # probe
            + 4 * v.width * v.width
            + 4 * v.width  # attention in_proj and out_proj
            + 2 * v.width  # layernorm
            + 2 * v.width * v.mlp_width
            + v.mlp_width
            + v.width  # mlp
        )
        vision = (
            3 * v.patch_size**2 * v.width
            + v.width  # patch embedding with bias
            + v.grid**2 * v.width  # position embedding
            + v.layers * block_parameters(v.width, v.mlp_width)
            + 2 * v.width  # post_layernorm
            + head
        )
        text = (
            (t.vocab_size + t.context_length) * t.width
            + t.layers * block_parameters(t.width, t.mlp_width)
            + 2 * t.width  # final_layer_norm
            + t.width * t.projection_size
            + t.projection_size  # head
        )
        return vision + text + 2  # logit_scale, logit_bias


class _Fields:
    """One tower's section of config.json, read with transformers' defaults; errors name the
    field as it is written in the file."""

    def __init__(self, hf: Mapping[str, Any], section: str) -> None:
        data = hf.get(section)
        if data is None:
            data = hf.get(f"{section}_dict") or {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"{section} is {type(data).__name__}, not an object")
        self._data, self._section = data, section

    def raw(self, key: str, default: object) -> object:
        return self._data.get(key, default)

    def whole(self, key: str, default: int, none_is_default: bool = False) -> int:
        value = self._data.get(key, default)
        if value is None and none_is_default:
            return default
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{self._section}.{key} is {value!r}, not a whole number")
        return value

    def real(self, key: str, default: float) -> float:
        value = self._data.get(key, default)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ConfigError(f"{self._section}.{key} is {value!r}, not a number")
        return float(value)

    def gelu(self) -> Gelu:
        name = self._data.get("hidden_act", "gelu_pytorch_tanh")
        if not isinstance(name, str) or name not in _ACTIVATIONS:
            raise ConfigError(
                f"{self._section}.hidden_act is {name!r}; ClipDesk reads {', '.join(_ACTIVATIONS)}"
            )
        return _ACTIVATIONS[name]


# SiglipModel's config.json names.
_NAMES: Mapping[str, str] = hf_names(("projection_size", "projection_size"))


def check_config(cfg: SiglipConfig) -> None:
    """Refuse an architecture outside :mod:`clipdesk.common.limits` before anything is built:
    a hostile config must not make the model allocate or loop for minutes."""
    check = ConfigChecks(_NAMES)
    within = check.within
    v, t = cfg.vision, cfg.text
    within("vision.image_size", v.image_size, limits.MODEL_IMAGE_SIZE)
    within("vision.patch_size", v.patch_size, (1, v.image_size))
    if v.grid > limits.MODEL_MAX_PATCH_GRID:
        raise ConfigError(
            f"vision_config.image_size / patch_size is {v.grid} patches per side; ClipDesk reads "
            f"at most {limits.MODEL_MAX_PATCH_GRID}"
        )
    within("text.vocab_size", t.vocab_size, limits.MODEL_VOCAB_SIZE)
    within("text.context_length", t.context_length, limits.MODEL_CONTEXT_LENGTH)
    check.tower("vision", v)
    check.tower("text", t)
    within("text.projection_size", t.projection_size, limits.MODEL_EMBED_DIM)
    if t.projection_size != v.width:
        raise ConfigError(
            f"text_config.projection_size {t.projection_size} differs from "
            f"vision_config.hidden_size {v.width}: the towers' embeddings would not compare"
        )
    check.parameters(cfg.parameter_count())


# --- the module ----------------------------------------------------------------------------


class SiglipAttention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(width, width)
        self.k_proj = nn.Linear(width, width)
        self.v_proj = nn.Linear(width, width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, w = x.shape  # [batch, tokens, width]

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.heads, w // self.heads).transpose(1, 2)

        out = F.scaled_dot_product_attention(
            split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        )  # [b, heads, n, head_dim]
        proj: torch.Tensor = self.out_proj(out.transpose(1, 2).reshape(b, n, w))
        return proj


class SiglipMLP(nn.Module):
    def __init__(self, width: int, mlp_width: int, gelu: Gelu) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, mlp_width)
        self.act = nn.GELU(approximate=gelu)
        self.fc2 = nn.Linear(mlp_width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc2(self.act(self.fc1(x)))
        return out


class SiglipEncoderLayer(nn.Module):
    """Pre-LayerNorm transformer block."""

    def __init__(self, width: int, heads: int, mlp_width: int, eps: float, gelu: Gelu) -> None:
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(width, eps=eps)
        self.self_attn = SiglipAttention(width, heads)
        self.layer_norm2 = nn.LayerNorm(width, eps=eps)
        self.mlp = SiglipMLP(width, mlp_width, gelu)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.layer_norm1(x))
        out: torch.Tensor = x + self.mlp(self.layer_norm2(x))
        return out


class SiglipEncoder(nn.Module):
    def __init__(self, cfg: SiglipVisionConfig | SiglipTextConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            SiglipEncoderLayer(cfg.width, cfg.heads, cfg.mlp_width, cfg.eps, cfg.gelu)
            for _ in range(cfg.layers)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class SiglipVisionEmbeddings(nn.Module):
    def __init__(self, cfg: SiglipVisionConfig) -> None:
        super().__init__()
        p = cfg.patch_size
        self.patch_embedding = nn.Conv2d(3, cfg.width, kernel_size=p, stride=p)
        self.position_embedding = nn.Embedding(cfg.grid**2, cfg.width)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x: torch.Tensor = self.patch_embedding(pixels.to(self.patch_embedding.weight.dtype))
        x = x.flatten(2).transpose(1, 2)  # [b, width, grid, grid] -> [b, grid*grid, width]
        return x + self.position_embedding.weight


class PoolingAttention(nn.Module):
    """The probe's attention over the patches; parameters named as nn.MultiheadAttention's,
    the module transformers uses (q, k and v stacked in in_proj_weight)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        self.out_proj = nn.Linear(width, width)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(self, query: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        b, n, w = x.shape
        hd = w // self.heads
        wq, wk, wv = self.in_proj_weight.chunk(3)
        bq, bk, bv = self.in_proj_bias.chunk(3)
        q = F.linear(query, wq, bq).view(b, -1, self.heads, hd).transpose(1, 2)  # [b, h, 1, hd]
        k = F.linear(x, wk, bk).view(b, n, self.heads, hd).transpose(1, 2)
        v = F.linear(x, wv, bv).view(b, n, self.heads, hd).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v)
        proj: torch.Tensor = self.out_proj(out.transpose(1, 2).reshape(b, -1, w))
        return proj


class SiglipPoolingHead(nn.Module):
    """Multi-head attention pooling: a learned probe token attends over every patch."""

    def __init__(self, cfg: SiglipVisionConfig) -> None:
        super().__init__()
        self.probe = nn.Parameter(torch.empty(1, 1, cfg.width))
        self.attention = PoolingAttention(cfg.width, cfg.heads)
        self.layernorm = nn.LayerNorm(cfg.width, eps=cfg.eps)
        self.mlp = SiglipMLP(cfg.width, cfg.mlp_width, cfg.gelu)
        nn.init.normal_(self.probe, std=cfg.width**-0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probe = self.probe.to(x.dtype).expand(x.shape[0], -1, -1)
        h: torch.Tensor = self.attention(probe, x)  # [b, 1, width]
        h = h + self.mlp(self.layernorm(h))
        return h[:, 0]


class SiglipVisionTransformer(nn.Module):
    def __init__(self, cfg: SiglipVisionConfig) -> None:
        super().__init__()
        self.embeddings = SiglipVisionEmbeddings(cfg)
        self.encoder = SiglipEncoder(cfg)
        self.post_layernorm = nn.LayerNorm(cfg.width, eps=cfg.eps)
        self.head = SiglipPoolingHead(cfg)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.post_layernorm(self.encoder(self.embeddings(pixels)))
        pooled: torch.Tensor = self.head(x)
        return pooled  # [b, width]


class SiglipTextEmbeddings(nn.Module):
    def __init__(self, cfg: SiglipTextConfig) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(cfg.vocab_size, cfg.width)
        self.position_embedding = nn.Embedding(cfg.context_length, cfg.width)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        tokens: torch.Tensor = self.token_embedding(ids)  # [b, tokens, width]
        return tokens + self.position_embedding.weight[: ids.shape[1]]


class SiglipTextTransformer(nn.Module):
    def __init__(self, cfg: SiglipTextConfig) -> None:
        super().__init__()
        self.embeddings = SiglipTextEmbeddings(cfg)
        self.encoder = SiglipEncoder(cfg)
        self.final_layer_norm = nn.LayerNorm(cfg.width, eps=cfg.eps)
        self.head = nn.Linear(cfg.width, cfg.projection_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.encoder(self.embeddings(ids))
        # The last position, padding or end token, as the model was trained (no attention mask).
        pooled: torch.Tensor = self.head(self.final_layer_norm(x[:, -1]))
        return pooled  # [b, projection_size]


class SiglipModule(DualEncoder):
    """Both towers, the learned temperature and bias, under transformers' ``SiglipModel`` names."""

    family = "siglip"
    scoring = "sigmoid"
    cfg: SiglipConfig

    def __init__(self, cfg: SiglipConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.vision_model = SiglipVisionTransformer(cfg.vision)
        self.text_model = SiglipTextTransformer(cfg.text)
        self.logit_scale = nn.Parameter(torch.zeros(1))  # log(1): transformers' initial value
        # The checkpoint names the learned bias "logit_bias", which is also DualEncoder's float
        # property: the tensor is kept in _parameters under that name (so state dicts are
        # transformers') and read through the property.
        self._parameters["logit_bias"] = nn.Parameter(torch.zeros(1))

    def __setattr__(self, name: str, value: Any) -> None:
        # load_state_dict(assign=True) sets parameters by name, which the property would refuse.
        if name == "logit_bias" and isinstance(value, nn.Parameter):
            self._parameters[name] = value
            return
        super().__setattr__(name, value)

    @property
    def logit_bias(self) -> float:
        bias = self._parameters["logit_bias"]
        assert bias is not None
        return float(bias.detach().float().cpu().item())

    def image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        feats: torch.Tensor = self.vision_model(pixels)  # [b, embed_dim]
        return feats

    def text_features(self, ids: torch.Tensor) -> torch.Tensor:
        """``ids`` padded to ``cfg.text.context_length`` (the tokenizers always pad so)."""
        feats: torch.Tensor = self.text_model(ids)  # [b, embed_dim]
        return feats
