"""Typed CLIP configuration, and its mapping to/from a Hugging Face ``config.json``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from clipdesk.common import limits

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
class ResNetConfig:
    """OpenAI's ModifiedResNet image tower (RN50, RN101, RN50x4, RN50x16, RN50x64): a three-conv
    stem, bottleneck stages with anti-aliased (average-pool) strided downsampling, and attention
    pooling. Field names follow OpenCLIP's ``vision_cfg``."""

    image_size: int = 224
    layers: tuple[int, int, int, int] = (3, 4, 6, 3)  # bottleneck blocks per stage
    width: int = 64  # channels of the stem; stage i has width * 2**i (x4 after the bottleneck)
    heads: int = 32  # heads of the attention pool, width * 32 // 64 in every released model

    @property
    def grid(self) -> int:
        """Side of the final feature map: the stem and three strided stages halve it 5 times."""
        return self.image_size // 32

    @property
    def pool_width(self) -> int:
        """Channels of the final feature map, which the attention pool works in."""
        return self.width * 8 * 4  # stage 4 has 8x the stem's width, bottlenecks expand 4x


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
    vision: VisionConfig | ResNetConfig = field(default_factory=VisionConfig)
    text: TextConfig = field(default_factory=TextConfig)
    logit_scale_init: float = math.log(1 / 0.07)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClipConfig:
        v = data["vision"]
        vision: VisionConfig | ResNetConfig
        if isinstance(v.get("layers"), list | tuple):  # a ResNet's blocks per stage
            vision = ResNetConfig(**{**v, "layers": tuple(v["layers"])})
        else:
            vision = VisionConfig(**v)
        return cls(
            embed_dim=data["embed_dim"],
            vision=vision,
            text=TextConfig(**data["text"]),
            logit_scale_init=data.get("logit_scale_init", math.log(1 / 0.07)),
        )

    # --- Hugging Face config.json ---

    @classmethod
    def from_hf(cls, hf: dict[str, Any]) -> ClipConfig:
        """The config of a Hugging Face ``config.json``; :class:`ConfigError` names the first
        field that is missing its type or outside the ranges of :func:`check_config`."""
        tc = dict(_HF_TEXT_DEFAULTS)
        tc.update(hf.get("text_config") or hf.get("text_config_dict") or {})
        vc = dict(_HF_VISION_DEFAULTS)
        vc.update(hf.get("vision_config") or hf.get("vision_config_dict") or {})

        def v_int(key: str) -> int:
            return _whole(vc[key], f"vision_config.{key}")

        def t_int(key: str) -> int:
            return _whole(tc[key], f"text_config.{key}")

        eos = t_int("eos_token_id") if "eos_token_id" in tc else 49407
        cfg = cls(
            embed_dim=_whole(hf.get("projection_dim", 512), "projection_dim"),
            vision=VisionConfig(
                image_size=v_int("image_size"),
                patch_size=v_int("patch_size"),
                width=v_int("hidden_size"),
                layers=v_int("num_hidden_layers"),
                heads=v_int("num_attention_heads"),
                mlp_width=v_int("intermediate_size"),
                act=_activation(vc["hidden_act"]),
                eps=_real(vc["layer_norm_eps"], "vision_config.layer_norm_eps"),
            ),
            text=TextConfig(
                vocab_size=t_int("vocab_size"),
                context_length=t_int("max_position_embeddings"),
                width=t_int("hidden_size"),
                layers=t_int("num_hidden_layers"),
                heads=t_int("num_attention_heads"),
                mlp_width=t_int("intermediate_size"),
                act=_activation(tc["hidden_act"]),
                eps=_real(tc["layer_norm_eps"], "text_config.layer_norm_eps"),
                eos_token_id=eos,
                # transformers keeps argmax pooling for legacy configs whose eos_token_id is 2.
                pooling="argmax" if eos == 2 else "eos",
            ),
            logit_scale_init=_real(
                hf.get("logit_scale_init_value", math.log(1 / 0.07)), "logit_scale_init_value"
            ),
        )
        check_config(cfg, HF_NAMES)
        return cfg

    def parameter_count(self) -> int:
        """How many numbers the weights of this architecture hold (what :class:`ClipModule`
        allocates), computed without building it."""
        v, t, e = self.vision, self.text, self.embed_dim
        if isinstance(v, ResNetConfig):
            vision = _resnet_parameters(v, e)
        else:
            vision = (
                3 * v.patch_size**2 * v.width  # conv1
                + v.width  # class embedding
                + (v.grid**2 + 1) * v.width  # positional embedding
                + 4 * v.width  # ln_pre, ln_post
                + v.layers * block_parameters(v.width, v.mlp_width)
                + v.width * e  # proj
            )
        text = (
            t.vocab_size * t.width
            + t.context_length * t.width
            + t.layers * block_parameters(t.width, t.mlp_width)
            + 2 * t.width  # ln_final
            + t.width * e  # text_projection
        )
        return vision + text + 1  # logit_scale

    def to_hf(self) -> dict[str, Any]:
        v, t = self.vision, self.text
        if isinstance(v, ResNetConfig):
            raise ConfigError(
                "a ResNet CLIP model has no Hugging Face config: transformers' CLIPModel has only "
                "a ViT image tower"
            )
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


def _resnet_parameters(v: ResNetConfig, embed_dim: int) -> int:
    """Numbers in a ModifiedResNet's state dict, batch-norm statistics included (they are
    stored beside the weights in every checkpoint)."""

    def conv(c_in: int, c_out: int, kernel: int) -> int:
        return c_in * c_out * kernel**2

    def bn(c: int) -> int:
        return 4 * c + 1  # weight, bias, running mean and variance, batches tracked

    half = v.width // 2
    total = conv(3, half, 3) + bn(half) + conv(half, half, 3) + bn(half)
    total += conv(half, v.width, 3) + bn(v.width)
    c_in = v.width
    for i, blocks in enumerate(v.layers):
        planes = v.width * 2**i
        c_out = 4 * planes
        # every block: 1x1 reduce (from c_in in the first, c_out after), 3x3, 1x1 expand
        total += conv(c_in, planes, 1) + (blocks - 1) * conv(c_out, planes, 1)
        total += blocks * (2 * bn(planes) + conv(planes, planes, 3) + conv(planes, c_out, 1))
        total += blocks * bn(c_out)
        if i > 0 or c_in != c_out:  # the first block's shortcut projection
            total += conv(c_in, c_out, 1) + bn(c_out)
        c_in = c_out
    w = v.pool_width
    attnpool = (v.grid**2 + 1) * w + 3 * (w * w + w) + w * embed_dim + embed_dim
    return total + attnpool


def block_parameters(width: int, mlp_width: int) -> int:
    """The numbers in one pre-norm transformer block (CLIP's, SigLIP's)."""
    # two LayerNorms, q/k/v and output projections with biases, the MLP's two layers
    return 4 * width * width + 2 * width * mlp_width + 9 * width + mlp_width


class ConfigError(ValueError):
    """A config value of the wrong type or outside what ClipDesk reads; the message names the
    field and its range."""


def hf_names(*extra: tuple[str, str]) -> dict[str, str]:
    """Our tower fields ("vision.width") under their names in a Hugging Face config.json
    ("vision_config.hidden_size"), for errors a user can find in the file; ``extra`` adds a
    family's own (ours, theirs) fields."""
    fields = (
        ("width", "hidden_size"),
        ("layers", "num_hidden_layers"),
        ("heads", "num_attention_heads"),
        ("mlp_width", "intermediate_size"),
        ("eps", "layer_norm_eps"),
        ("image_size", "image_size"),
        ("patch_size", "patch_size"),
        ("vocab_size", "vocab_size"),
        ("context_length", "max_position_embeddings"),
        *extra,
    )
    return {
        f"{tower}.{ours}": f"{tower}_config.{theirs}"
        for tower in ("vision", "text")
        for ours, theirs in fields
    }


# CLIPModel's config.json names.
HF_NAMES: Mapping[str, str] = {
    "embed_dim": "projection_dim",
    "logit_scale_init": "logit_scale_init_value",
    **hf_names(("eos_token_id", "eos_token_id")),
}


class Tower(Protocol):
    """What the range checks read of a transformer tower, in any family's config."""

    @property
    def width(self) -> int: ...
    @property
    def layers(self) -> int: ...
    @property
    def heads(self) -> int: ...
    @property
    def mlp_width(self) -> int: ...
    @property
    def eps(self) -> float: ...


class ConfigChecks:
    """Range checks against :mod:`clipdesk.common.limits` for any family's config. Errors name
    a field as ``names`` map our key for it ("vision.width" -> "vision_config.hidden_size"),
    that is as the file the config came from calls it; an unmapped key is named as it is."""

    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = names

    def name(self, key: str) -> str:
        return self.names.get(key, key)

    def within(self, key: str, value: float, bounds: tuple[float, float]) -> None:
        lo, hi = bounds
        if not lo <= value <= hi:  # NaN fails too
            raise ConfigError(f"{self.name(key)} is {value!r}; ClipDesk reads {lo} to {hi}")

    def tower(self, tower: str, tc: Tower) -> None:
        """A transformer tower's width, depth, heads (dividing the width), MLP and epsilon;
        ``tower`` is the prefix of its keys ("vision", "text")."""
        self.within(f"{tower}.width", tc.width, limits.MODEL_WIDTH)
        self.within(f"{tower}.layers", tc.layers, limits.MODEL_LAYERS)
        self.within(f"{tower}.heads", tc.heads, limits.MODEL_HEADS)
        if tc.width % tc.heads:
            raise ConfigError(
                f"{self.name(f'{tower}.width')} {tc.width} is not divisible by "
                f"{self.name(f'{tower}.heads')} {tc.heads}"
            )
        self.within(f"{tower}.mlp_width", tc.mlp_width, limits.MODEL_MLP_WIDTH)
        self.within(f"{tower}.eps", tc.eps, limits.MODEL_LAYER_NORM_EPS)

    def parameters(self, count: int) -> None:
        """The whole model's size, the last guard before anything is allocated."""
        if count > limits.MODEL_MAX_PARAMETERS:
            raise ConfigError(
                f"the config describes a model of {count:,} parameters; ClipDesk reads at most "
                f"{limits.MODEL_MAX_PARAMETERS:,}"
            )


def check_config(cfg: ClipConfig, names: Mapping[str, str] = HF_NAMES) -> None:
    """Refuse an architecture outside :mod:`clipdesk.common.limits` before anything is built:
    a hostile config must not make the model allocate or loop for minutes. ``names`` say how
    the fields are called where the config came from."""
    check = ConfigChecks(names)
    within, name = check.within, check.name
    v, t = cfg.vision, cfg.text
    within("vision.image_size", v.image_size, limits.MODEL_IMAGE_SIZE)
    towers: list[tuple[str, VisionConfig | TextConfig]] = [("text", t)]
    if isinstance(v, ResNetConfig):
        _check_resnet(v, check)
    else:
        within("vision.patch_size", v.patch_size, (1, v.image_size))
        if v.image_size % v.patch_size:
            raise ConfigError(
                f"{name('vision.image_size')} {v.image_size} is not a multiple of "
                f"{name('vision.patch_size')} {v.patch_size}"
            )
        if v.grid > limits.MODEL_MAX_PATCH_GRID:
            raise ConfigError(
                f"{name('vision.image_size')} / {name('vision.patch_size')} is "
                f"{v.grid} patches per side; ClipDesk reads at most {limits.MODEL_MAX_PATCH_GRID}"
            )
        towers.insert(0, ("vision", v))
    within("text.vocab_size", t.vocab_size, limits.MODEL_VOCAB_SIZE)
    within("text.context_length", t.context_length, limits.MODEL_CONTEXT_LENGTH)
    within("text.eos_token_id", t.eos_token_id, (0, t.vocab_size - 1))
    for tower, tc in towers:
        check.tower(tower, tc)
    within("embed_dim", cfg.embed_dim, limits.MODEL_EMBED_DIM)
    within("logit_scale_init", cfg.logit_scale_init, limits.MODEL_LOGIT_SCALE_INIT)
    check.parameters(cfg.parameter_count())


def _check_resnet(v: ResNetConfig, check: ConfigChecks) -> None:
    within, name = check.within, check.name
    if v.image_size % 32:
        raise ConfigError(
            f"{name('vision.image_size')} {v.image_size} is not a multiple of 32, the factor a "
            "ResNet tower shrinks images by"
        )
    if len(v.layers) != 4 or min(v.layers) < 1:
        raise ConfigError(
            f"{name('vision.layers')} is {list(v.layers)!r}; a ResNet tower has 4 stages of at "
            "least one block each"
        )
    if sum(v.layers) > limits.MODEL_LAYERS[1]:
        raise ConfigError(
            f"{name('vision.layers')} {list(v.layers)!r} is {sum(v.layers)} blocks in all; "
            f"ClipDesk reads at most {limits.MODEL_LAYERS[1]}"
        )
    within("vision.width", v.width, limits.MODEL_WIDTH)
    if v.width % 2:
        raise ConfigError(f"{name('vision.width')} {v.width} is odd; the stem halves it")
    hi = limits.MODEL_WIDTH[1]
    if v.pool_width > hi:
        raise ConfigError(
            f"{name('vision.width')} {v.width} gives the attention pool {v.pool_width} channels "
            f"(32 x width); ClipDesk reads at most {hi}"
        )
    within("vision.heads", v.heads, limits.MODEL_HEADS)
    if v.pool_width % v.heads:
        raise ConfigError(
            f"the attention pool's {v.pool_width} channels (32 x {name('vision.width')}) are not "
            f"divisible by {name('vision.heads')} {v.heads}"
        )


def _whole(value: object, name: str) -> int:
    """A config.json integer; 224.0 and "224" are read as 224, anything else names the field."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise ConfigError(f"{name} is {value!r}, not a whole number")


def _real(value: object, name: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise ConfigError(f"{name} is {value!r}, not a number")
