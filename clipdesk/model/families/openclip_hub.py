"""OpenCLIP hub folders: ``open_clip_config.json`` beside ``open_clip_model.safetensors`` (or
``open_clip_pytorch_model.bin``, read through ``weights_only``).

The config's ``model_cfg`` is what OpenCLIP's ``CLIP(**model_cfg)`` is built from, so the
architecture is read from it, never guessed from tensor shapes: heads are ``width // head_width``
(ViT), ``width * 32 // head_width`` (ResNet), the MLP ``int(width * mlp_ratio)``, the activation
QuickGELU where ``quick_gelu`` says so and GELU otherwise. Every option OpenCLIP would honour
and our towers do not implement is refused by name; options OpenCLIP itself ignores at inference
(patch dropout, output tokens, pooler settings without a pooler) are read past. The
``preprocess_cfg`` gives mean, std and whether photos are cropped (``shortest``) or squashed.
A text tower from Hugging Face (``text_cfg.hf_model_name``) is XLM-RoBERTa's loader's business.

CLIP-text hub folders use CLIP's own BPE vocabulary, as OpenCLIP's ``SimpleTokenizer`` does
whatever tokenizer files the folder carries, with the end-of-text token (the highest id) pooled.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from clipdesk.common.errors import CheckpointError
from clipdesk.model import state_dicts
from clipdesk.model.checkpoint import (
    Checkpoint,
    folder_checkpoint,
    load_exact,
    read_json,
    uninitialised,
)
from clipdesk.model.clip import ClipModule
from clipdesk.model.config import (
    Activation,
    ClipConfig,
    ConfigError,
    ResNetConfig,
    TextConfig,
    VisionConfig,
    check_config,
)
from clipdesk.model.families import detect
from clipdesk.model.preprocess import PreprocessConfig

CONFIG_FILE = detect.OPENCLIP_CONFIG
# OpenCLIP's own order of preference (factory._find_checkpoint_in_dir).
WEIGHT_FILES = (
    "open_clip_model.safetensors",
    "open_clip_pytorch_model.safetensors",
    "open_clip_pytorch_model.bin",
    "open_clip_pytorch_model.pth",
)
CLIP_VOCAB_SIZE = 49408  # CLIP's byte-level BPE: 256 bytes x 2, 48894 merges, 2 specials
_EPS = 1e-5  # OpenCLIP's LayerNorm default

# Options OpenCLIP reads that change nothing at inference, or only matter with another option
# that is refused when set (a pooler's heads without the pooler, timm settings without timm).
_VISION_INERT = {
    "patch_dropout",
    "output_tokens",
    "attn_pooler_queries",
    "attn_pooler_heads",
    "timm_model_pretrained",
    "timm_pool",
    "timm_proj",
    "timm_proj_bias",
    "timm_drop",
    "timm_drop_path",
}
_TEXT_INERT = {
    "output_tokens",
    "final_ln_after_pool",  # CLIPTextCfg has it, but OpenCLIP never passes it to the tower
    "pad_id",  # only used with embed_cls / bidirectional padding masks, both refused
    "hf_model_pretrained",
    "hf_proj_type",
    "hf_pooler_type",
}
# Options our towers do not implement: what each does, and the values OpenCLIP takes when it is
# absent (a config saying "false" or null for them is still read); any other value is refused
# naming the option.
_BLOCK_OPTIONS: dict[str, tuple[str, tuple[object, ...]]] = {
    "ls_init_value": ("layer scale", (None,)),
    "act_kwargs": ("activation options", (None, {})),
    "block_type": ("custom attention blocks", (None, "default")),
    "qk_norm": ("qk-norm attention", (False,)),
    "scaled_cosine_attn": ("scaled cosine attention", (False,)),
    "scale_heads": ("per-head attention scales", (False,)),
    "scale_attn_inner": ("an inner attention LayerNorm", (False,)),
    "scale_attn": ("a post-attention LayerNorm", (False,)),
    "scale_fc": ("an MLP LayerNorm", (False,)),
}
_VISION_DEFAULT_ONLY = {
    **_BLOCK_OPTIONS,
    "attentional_pool": ("attention pooling (CoCa)", (False,)),
    "no_ln_pre": ("no LayerNorm before the transformer (CLIPA)", (False,)),
    "timm_model_name": ("a timm image tower", (None, "")),
}
_TEXT_DEFAULT_ONLY = {
    **_BLOCK_OPTIONS,
    "embed_cls": ("a text class token (CoCa)", (False,)),
    "no_causal_mask": ("bidirectional text attention", (False,)),
    "proj_bias": ("a text projection with a bias", (False,)),
    "proj_type": ("another text projection", ("linear",)),
    "tokenizer_mode": ("another tokenizer mode", (None,)),
    "tokenizer_kwargs": ("tokenizer options", (None, {})),
}
_VISION_READ = {
    "layers",
    "width",
    "head_width",
    "mlp_ratio",
    "patch_size",
    "image_size",
    "pool_type",
    "final_ln_after_pool",
    "pos_embed_type",
    "norm_kwargs",
}
_TEXT_READ = {
    "context_length",
    "vocab_size",
    "width",
    "heads",
    "layers",
    "mlp_ratio",
    "pool_type",
    "eos_id",
    "norm_kwargs",
    "hf_tokenizer_name",
    "hf_model_name",
}
_MODEL_READ = {
    "embed_dim",
    "vision_cfg",
    "text_cfg",
    "quick_gelu",
    "custom_text",
    "init_logit_scale",
    "init_logit_bias",
    "nonscalar_logit_scale",
    "multimodal_cfg",
}

# Our config fields under their open_clip_config.json names, for check_config's messages.
OPENCLIP_NAMES: Mapping[str, str] = {
    "embed_dim": "model_cfg.embed_dim",
    "logit_scale_init": "model_cfg.init_logit_scale",
    "vision.image_size": "vision_cfg.image_size",
    "vision.patch_size": "vision_cfg.patch_size",
    "vision.width": "vision_cfg.width",
    "vision.layers": "vision_cfg.layers",
    "vision.heads": "vision_cfg.width / vision_cfg.head_width",
    "vision.mlp_width": "vision_cfg.width * vision_cfg.mlp_ratio",
    "vision.eps": "vision_cfg.norm_kwargs.eps",
    "text.vocab_size": "text_cfg.vocab_size",
    "text.context_length": "text_cfg.context_length",
    "text.width": "text_cfg.width",
    "text.layers": "text_cfg.layers",
    "text.heads": "text_cfg.heads",
    "text.mlp_width": "text_cfg.width * text_cfg.mlp_ratio",
    "text.eps": "text_cfg.norm_kwargs.eps",
    "text.eos_token_id": "text_cfg.eos_id",
}


def read_hub_config(folder: Path) -> dict[str, Any]:
    """``open_clip_config.json``: an object with a ``model_cfg`` holding ``vision_cfg`` and
    ``text_cfg`` objects, and optionally a ``preprocess_cfg`` object."""
    path = folder / CONFIG_FILE
    config = read_json(path)
    model_cfg = config.get("model_cfg")
    if not isinstance(model_cfg, dict):
        raise CheckpointError(
            f"{path}: no model_cfg object — not an OpenCLIP hub config",
            hint="the file is damaged; take the model again from where it came from",
        )
    for key in ("vision_cfg", "text_cfg"):
        if not isinstance(model_cfg.get(key), dict):
            raise CheckpointError(f"{path}: model_cfg.{key} is missing or not an object")
    if not isinstance(config.get("preprocess_cfg", {}), dict):
        raise CheckpointError(f"{path}: preprocess_cfg is not an object")
    return config


def clip_config(config: Mapping[str, Any], source: Path) -> ClipConfig:
    """The architecture of a hub config whose towers ClipDesk runs (ViT or ResNet image tower,
    CLIP text transformer); any other family or option is refused by name."""
    model_cfg = config["model_cfg"]
    detect.check_openclip_config(model_cfg, source)
    _refuse_unknown(model_cfg, _MODEL_READ, "model_cfg", source)
    if model_cfg.get("init_logit_bias") is not None:
        raise detect.refuse(source, "sigmoid-scored CLIP (model_cfg.init_logit_bias)")
    if model_cfg.get("nonscalar_logit_scale", False) is not False:
        raise detect.refuse(source, "CLIP with a tensor temperature (nonscalar_logit_scale)")
    quick_gelu = _flag(model_cfg, "quick_gelu", "model_cfg", source)
    cfg = ClipConfig(
        embed_dim=_whole(model_cfg.get("embed_dim"), "model_cfg.embed_dim", source),
        vision=vision_config(model_cfg["vision_cfg"], source, quick_gelu),
        text=text_config(model_cfg["text_cfg"], source, quick_gelu),
        logit_scale_init=_real(
            model_cfg.get("init_logit_scale", math.log(1 / 0.07)),
            "model_cfg.init_logit_scale",
            source,
        ),
    )
    try:
        check_config(cfg, OPENCLIP_NAMES)
    except ConfigError as exc:
        raise CheckpointError(
            f"{source}: unusable OpenCLIP config ({exc})",
            hint="the file is damaged or made to exhaust memory; take the model again from "
            "where it came from",
        ) from exc
    return cfg


def vision_config(
    vision_cfg: Mapping[str, Any], source: Path, quick_gelu: bool
) -> VisionConfig | ResNetConfig:
    """A ViT (``layers`` a number) or OpenAI ResNet (``layers`` four numbers) image tower."""
    known = _VISION_READ | _VISION_INERT | set(_VISION_DEFAULT_ONLY)
    _refuse_unknown(vision_cfg, known, "vision_cfg", source)
    _refuse_set(vision_cfg, _VISION_DEFAULT_ONLY, "vision_cfg", source)

    def whole(key: str, default: object) -> int:
        return _whole(vision_cfg.get(key, default), f"vision_cfg.{key}", source)

    image_size = _image_size(vision_cfg.get("image_size", 224), source)
    head_width = whole("head_width", 64)
    if head_width < 1:
        raise CheckpointError(f"{source}: vision_cfg.head_width is {head_width}, not positive")
    layers = vision_cfg.get("layers", 12)
    width = whole("width", 768)
    if isinstance(layers, list | tuple):
        if len(layers) != 4:
            raise CheckpointError(
                f"{source}: vision_cfg.layers is {layers!r}; a ResNet has 4 stages"
            )
        blocks = tuple(_whole(n, "vision_cfg.layers", source) for n in layers)
        return ResNetConfig(
            image_size=image_size,
            layers=(blocks[0], blocks[1], blocks[2], blocks[3]),
            width=width,
            heads=width * 32 // head_width,  # OpenCLIP: the attention pool's heads
        )
    pool_type = vision_cfg.get("pool_type", "tok")
    if pool_type != "tok":
        raise detect.refuse(source, f"ViT pooled by {pool_type!r} (vision_cfg.pool_type)")
    # final_ln_after_pool is the same thing as LayerNorm-then-class-token: LayerNorm is per token.
    _flag(vision_cfg, "final_ln_after_pool", "vision_cfg", source)
    # A sin-cos table is stored in the state dict like a learned one.
    if vision_cfg.get("pos_embed_type", "learnable") not in ("learnable", "sin_cos_2d"):
        raise detect.refuse(
            source, f"ViT with {vision_cfg['pos_embed_type']!r} position embeddings"
        )
    return VisionConfig(
        image_size=image_size,
        patch_size=whole("patch_size", 16),
        width=width,
        layers=_whole(layers, "vision_cfg.layers", source),
        heads=width // head_width,
        mlp_width=_mlp_width(vision_cfg, width, "vision_cfg", source),
        act=_act(quick_gelu),
        eps=_norm_eps(vision_cfg, "vision_cfg", source),
    )


def text_config(text_cfg: Mapping[str, Any], source: Path, quick_gelu: bool) -> TextConfig:
    """OpenCLIP's causal text transformer over CLIP's BPE vocabulary."""
    _refuse_unknown(
        text_cfg, _TEXT_READ | _TEXT_INERT | set(_TEXT_DEFAULT_ONLY), "text_cfg", source
    )
    _refuse_set(text_cfg, _TEXT_DEFAULT_ONLY, "text_cfg", source)
    if text_cfg.get("hf_model_name"):
        raise CheckpointError(
            f"{source}: text_cfg.hf_model_name names a Hugging Face text tower, not CLIP's text "
            "transformer"
        )

    def whole(key: str, default: object) -> int:
        return _whole(text_cfg.get(key, default), f"text_cfg.{key}", source)

    vocab = whole("vocab_size", CLIP_VOCAB_SIZE)
    if text_cfg.get("hf_tokenizer_name") and vocab != CLIP_VOCAB_SIZE:
        # A CLIP-vocabulary repository may name itself or openai's as its tokenizer; any other
        # tokenizer has another vocabulary size.
        raise detect.refuse(
            source, f"CLIP with the {text_cfg['hf_tokenizer_name']} tokenizer (not CLIP's BPE)"
        )
    pool_type = text_cfg.get("pool_type", "argmax")
    if pool_type not in ("argmax", "eos"):
        raise detect.refuse(source, f"CLIP text pooled by {pool_type!r} (text_cfg.pool_type)")
    eos = vocab - 1 if pool_type == "argmax" else whole("eos_id", 2)
    width = whole("width", 512)
    return TextConfig(
        vocab_size=vocab,
        context_length=whole("context_length", 77),
        width=width,
        layers=whole("layers", 12),
        heads=whole("heads", 8),
        mlp_width=_mlp_width(text_cfg, width, "text_cfg", source),
        act=_act(quick_gelu),
        eps=_norm_eps(text_cfg, "text_cfg", source),
        eos_token_id=eos,
        pooling="argmax" if pool_type == "argmax" else "eos",
    )


def preprocess_config(config: Mapping[str, Any], image_size: int, source: Path) -> PreprocessConfig:
    """``preprocess_cfg``: OpenAI's mean/std and bicubic shortest-side resize plus centre crop
    unless it says otherwise; ``resize_mode`` "squash" resizes the whole photo to the square,
    ``interpolation`` "bilinear" resamples bilinear. Keys OpenCLIP's PreprocessCfg does not have
    are ignored, as OpenCLIP ignores them."""
    pre = config.get("preprocess_cfg") or {}
    mode = pre.get("resize_mode", "shortest")
    if mode not in ("shortest", "squash"):
        raise detect.refuse(source, f"CLIP with {mode!r} image resizing (preprocess_cfg)")
    # OpenCLIP's image_transform takes these three; "random" (a training-time choice) is bicubic
    # in its eval transform.
    interpolation = pre.get("interpolation") or "bicubic"
    if interpolation not in ("bicubic", "bilinear", "random"):
        raise detect.refuse(
            source, f"CLIP with {interpolation!r} image resampling (preprocess_cfg)"
        )
    if pre.get("mode", "RGB") != "RGB":
        raise CheckpointError(f"{source}: preprocess_cfg.mode is {pre['mode']!r}, not RGB")
    size = pre.get("size", image_size)
    if size not in (image_size, [image_size, image_size]):
        raise CheckpointError(
            f"{source}: preprocess_cfg.size is {size!r} but the image tower takes "
            f"{image_size} pixels (vision_cfg.image_size)"
        )
    hf = {
        "crop_size": image_size,
        "image_mean": _channels(pre.get("mean")),
        "image_std": _channels(pre.get("std")),
    }
    try:
        base = PreprocessConfig.from_hf({k: v for k, v in hf.items() if v is not None}, image_size)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: unusable preprocess_cfg ({exc})") from exc
    return PreprocessConfig(
        size=base.size,
        mean=base.mean,
        std=base.std,
        crop=mode == "shortest",
        resample="bilinear" if interpolation == "bilinear" else "bicubic",
    )


def hub_weight_files(folder: Path) -> list[Path]:
    """The weights file OpenCLIP would load from this folder."""
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            return [folder / name]
    raise CheckpointError(
        f"{folder}: no {WEIGHT_FILES[0]} (or {WEIGHT_FILES[2]}) beside {CONFIG_FILE}",
        hint="the folder must hold the model's weights; download or copy it again",
    )


def load_hub_folder(folder: Path) -> Checkpoint:
    """An OpenCLIP hub folder; small files are checked before the weights are read, so a
    refusal costs nothing."""
    config = read_hub_config(folder)
    source = folder / CONFIG_FILE
    text_cfg = config["model_cfg"]["text_cfg"]
    if text_cfg.get("hf_model_name"):
        detect.check_openclip_config(config["model_cfg"], source)
        from clipdesk.model.families.xlmr import load_xlmr_hub_folder

        return load_xlmr_hub_folder(folder, config)
    cfg = clip_config(config, source)
    pre = preprocess_config(config, cfg.vision.image_size, source)
    tokenizer = state_dicts.default_clip_tokenizer(cfg.text.context_length)
    if tokenizer.vocab_size > cfg.text.vocab_size:
        raise CheckpointError(
            f"{source}: text_cfg.vocab_size is {cfg.text.vocab_size}, too small for CLIP's "
            f"tokenizer of {tokenizer.vocab_size} tokens"
        )
    files = hub_weight_files(folder)
    sd = state_dicts.to_native(state_dicts.read_weights(files))
    if config["model_cfg"].get("custom_text"):
        sd = from_custom_text(sd)
    with uninitialised():
        module = ClipModule(cfg)
    module = load_exact(module, sd, files[0], f"the architecture {CONFIG_FILE} describes")
    return folder_checkpoint(folder, module, tokenizer, pre, files)


def from_custom_text(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """OpenCLIP's CustomTextCLIP keeps a CLIP text tower under ``text.``; CLIP at the top level
    (OpenCLIP converts the other way with ``convert_to_custom_text_state_dict``)."""
    return {k.removeprefix("text."): v for k, v in sd.items()}


# --- reading config values ---


def _refuse_unknown(section: Mapping[str, Any], known: set[str], where: str, source: Path) -> None:
    unknown = sorted(k for k in section if k not in known)
    if unknown:
        raise CheckpointError(
            f"{source}: {where}.{unknown[0]} is an option ClipDesk does not know, so it cannot "
            "tell what model this is",
            hint="the config comes from a newer or modified OpenCLIP; " + detect.SUPPORTED,
        )


def _refuse_set(
    section: Mapping[str, Any],
    options: Mapping[str, tuple[str, tuple[object, ...]]],
    where: str,
    source: Path,
) -> None:
    for key, (what, defaults) in options.items():
        if key in section and not any(_same(section[key], d) for d in defaults):
            raise detect.refuse(source, f"CLIP with {what} ({where}.{key} = {section[key]!r})")


def _same(value: object, default: object) -> bool:
    # True == 1 in Python; a config's 1 for a boolean option is still not the default False.
    return type(value) is type(default) and value == default


def _flag(section: Mapping[str, Any], key: str, where: str, source: Path) -> bool:
    value = section.get(key, False)
    if not isinstance(value, bool):
        raise CheckpointError(f"{source}: {where}.{key} is {value!r}, not true or false")
    return value


def _whole(value: object, name: str, source: Path) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    raise CheckpointError(f"{source}: {name} is {value!r}, not a whole number")


def _real(value: object, name: str, source: Path) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise CheckpointError(f"{source}: {name} is {value!r}, not a number")


def _image_size(value: object, source: Path) -> int:
    if isinstance(value, list | tuple):
        if len(value) != 2 or value[0] != value[1]:
            raise detect.refuse(source, f"CLIP with non-square {value!r} input images")
        value = value[0]
    return _whole(value, "vision_cfg.image_size", source)


def _mlp_width(section: Mapping[str, Any], width: int, where: str, source: Path) -> int:
    ratio = _real(section.get("mlp_ratio", 4.0), f"{where}.mlp_ratio", source)
    if not 0 < ratio <= 64:
        raise CheckpointError(f"{source}: {where}.mlp_ratio is {ratio}; ClipDesk reads 0 to 64")
    return int(width * ratio)  # OpenCLIP's ResidualAttentionBlock


def _norm_eps(section: Mapping[str, Any], where: str, source: Path) -> float:
    kwargs = section.get("norm_kwargs") or {}
    if not isinstance(kwargs, dict) or set(kwargs) - {"eps"}:
        raise detect.refuse(source, f"CLIP with LayerNorm options {kwargs!r} ({where}.norm_kwargs)")
    return _real(kwargs.get("eps", _EPS), f"{where}.norm_kwargs.eps", source)


def _act(quick_gelu: bool) -> Activation:
    return "quick_gelu" if quick_gelu else "gelu"


def _channels(value: object) -> object:
    """OpenCLIP accepts one number for all three channels (torchvision's Normalize does)."""
    if isinstance(value, list | tuple) and len(value) == 1:
        return [value[0]] * 3
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [value] * 3
    return value
