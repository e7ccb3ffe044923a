"""OpenCLIP's multilingual CLIP: an XLM-RoBERTa text tower beside a ViT image tower.

``xlm-roberta-base-ViT-B-32`` and ``xlm-roberta-large-ViT-H-14`` pair OpenCLIP's ViT with a
Hugging Face ``XLMRobertaModel`` (OpenCLIP's ``HFTextEncoder``): a post-LayerNorm BERT encoder
whose token features are averaged over the non-padding tokens and projected into the shared space
(``hf_proj_type``: a two-layer GELU MLP, a linear map, or nothing). Parameter names follow
OpenCLIP's state dicts (``text.transformer.`` holds transformers' names), so an OpenCLIP hub
folder loads as it is.

The XLM-R architecture is not in ``open_clip_config.json`` (OpenCLIP fetches it from the hub by
``hf_model_name``): it is read from the text model's ``config.json``, stored in the folder as
:data:`HF_TEXT_CONFIG`, or else from the tensor shapes and what xlm-roberta-base and -large have in
common (64-wide heads, LayerNorm epsilon 1e-5, padding id 1, exact GELU).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from clipdesk.common import limits
from clipdesk.common.errors import CheckpointError
from clipdesk.model.checkpoint import (
    Checkpoint,
    folder_checkpoint,
    load_exact,
    read_json,
    uninitialised,
)
from clipdesk.model.clip import VisionTower
from clipdesk.model.config import (
    ClipConfig,
    ConfigChecks,
    ConfigError,
    VisionConfig,
    check_config,
)
from clipdesk.model.dual_encoder import DualEncoder
from clipdesk.model.tokenizer import TextTokenizer, read_tokenizer_file

# The text model's Hugging Face config.json, under a name no OpenCLIP or transformers file has (a
# config.json would make the folder look like a Hugging Face model of its own).
HF_TEXT_CONFIG = "hf_text_config.json"
TOKENIZER_FILE = "tokenizer.json"

# "mlp": Linear(d, (d + e) // 2) - GELU - Linear(.., e), both without bias; "linear": Linear(d, e)
# without bias; "none": the pooled features as they are (only when d == e).
Projection = Literal["mlp", "linear", "none"]


@dataclass(frozen=True)
class XlmrTextConfig:
    """The text tower: XLM-RoBERTa's architecture (transformers' ``XLMRobertaConfig`` names in
    the comments) and OpenCLIP's pooling and projection."""

    vocab_size: int = 250_002
    width: int = 768  # hidden_size
    layers: int = 12  # num_hidden_layers
    heads: int = 12  # num_attention_heads
    mlp_width: int = 3072  # intermediate_size
    max_positions: int = 514  # max_position_embeddings; positions count from pad_id + 1
    type_vocab_size: int = 1  # rows of token_type_embeddings; every token has type 0
    pad_id: int = 1  # pad_token_id: masked out of attention and pooling
    eps: float = 1e-5  # layer_norm_eps
    context_length: int = 77  # most ids the tokenizer gives, <s> and </s> included
    projection: Projection = "mlp"  # OpenCLIP's hf_proj_type


@dataclass(frozen=True)
class XlmrClipConfig:
    embed_dim: int  # size of the shared image-text space
    vision: VisionConfig
    text: XlmrTextConfig


class _SelfAttention(nn.Module):
    def __init__(self, cfg: XlmrTextConfig) -> None:
        super().__init__()
        self.heads = cfg.heads
        self.query = nn.Linear(cfg.width, cfg.width)
        self.key = nn.Linear(cfg.width, cfg.width)
        self.value = nn.Linear(cfg.width, cfg.width)

    def forward(self, x: torch.Tensor, attend: torch.Tensor) -> torch.Tensor:
        b, n, w = x.shape  # [batch, tokens, width]

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.heads, w // self.heads).transpose(1, 2)  # [b, h, n, hd]

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attend)  # [b, h, n, hd]
        return out.transpose(1, 2).reshape(b, n, w)


class _DenseLayerNorm(nn.Module):
    """BERT's post-LayerNorm residual: LayerNorm(dense(x) + residual)."""

    def __init__(self, width_in: int, width: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(width_in, width)
        self.LayerNorm = nn.LayerNorm(width, eps=eps)  # noqa: N815  (transformers' name)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.LayerNorm(self.dense(x) + residual)
        return out


class _Attention(nn.Module):
    def __init__(self, cfg: XlmrTextConfig) -> None:
        super().__init__()
        # "self" is transformers' name for the attention proper (attention.self.query ...).
        self.self = _SelfAttention(cfg)
        self.output = _DenseLayerNorm(cfg.width, cfg.width, cfg.eps)

    def forward(self, x: torch.Tensor, attend: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.output(self.self(x, attend), x)
        return out


class _Intermediate(nn.Module):
    def __init__(self, cfg: XlmrTextConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.width, cfg.mlp_width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(x))  # exact (erf) GELU, transformers' "gelu"


class _Layer(nn.Module):
    def __init__(self, cfg: XlmrTextConfig) -> None:
        super().__init__()
        self.attention = _Attention(cfg)
        self.intermediate = _Intermediate(cfg)
        self.output = _DenseLayerNorm(cfg.mlp_width, cfg.width, cfg.eps)

    def forward(self, x: torch.Tensor, attend: torch.Tensor) -> torch.Tensor:
        x = self.attention(x, attend)
        out: torch.Tensor = self.output(self.intermediate(x), x)
        return out


class _Encoder(nn.Module):
    def __init__(self, cfg: XlmrTextConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(_Layer(cfg) for _ in range(cfg.layers))

    def forward(self, x: torch.Tensor, attend: torch.Tensor) -> torch.Tensor:
        for layer in self.layer:
            x = layer(x, attend)
        return x


class _Embeddings(nn.Module):
    def __init__(self, cfg: XlmrTextConfig) -> None:
        super().__init__()
        self.pad_id = cfg.pad_id
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.width)
        self.position_embeddings = nn.Embedding(cfg.max_positions, cfg.width)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.width)
        self.LayerNorm = nn.LayerNorm(cfg.width, eps=cfg.eps)  # noqa: N815  (transformers' name)

    def forward(self, ids: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        # RoBERTa's (fairseq's) positions: tokens count from pad_id + 1, pads keep pad_id.
        positions = torch.cumsum(keep, dim=1) * keep + self.pad_id  # [b, n]
        x = (
            self.word_embeddings(ids)
            + self.position_embeddings(positions)
            + self.token_type_embeddings.weight[0]  # every token is of type 0
        )  # [b, n, width]
        out: torch.Tensor = self.LayerNorm(x)
        return out


class XlmrEncoder(nn.Module):
    """transformers' ``XLMRobertaModel`` without its pooler (OpenCLIP builds it with
    ``add_pooling_layer=False`` for mean pooling), inference only."""

    def __init__(self, cfg: XlmrTextConfig) -> None:
        super().__init__()
        self.embeddings = _Embeddings(cfg)
        self.encoder = _Encoder(cfg)


class XlmrTextTower(nn.Module):
    """OpenCLIP's ``HFTextEncoder`` with mean pooling: ids [b, n] -> features [b, embed_dim]."""

    def __init__(self, cfg: XlmrTextConfig, embed_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.transformer = XlmrEncoder(cfg)
        self.proj: nn.Module
        if cfg.projection == "mlp":
            hidden = (cfg.width + embed_dim) // 2
            self.proj = nn.Sequential(
                nn.Linear(cfg.width, hidden, bias=False),
                nn.GELU(),
                nn.Linear(hidden, embed_dim, bias=False),
            )
        elif cfg.projection == "linear":
            self.proj = nn.Linear(cfg.width, embed_dim, bias=False)
        elif cfg.width == embed_dim:
            self.proj = nn.Identity()
        else:
            raise ValueError(f"no projection from width {cfg.width} to {embed_dim} dimensions")

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        keep = (ids != self.cfg.pad_id).long()  # [b, n], 1 for tokens, 0 for padding
        attend = keep.bool()[:, None, None, :]  # [b, 1, 1, n]: no query attends to padding
        x = self.transformer.embeddings(ids, keep)
        x = self.transformer.encoder(x, attend)  # [b, n, width]
        weights = keep.to(x.dtype).unsqueeze(-1)  # [b, n, 1]
        # Every row holds <s> and </s>; the clamp only keeps an all-padding row finite.
        pooled = (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)  # [b, width]
        out: torch.Tensor = self.proj(pooled)
        return out


class XlmrClipModule(DualEncoder):
    """OpenCLIP's ``CustomTextCLIP`` with an XLM-RoBERTa text tower."""

    family = "xlm-roberta clip"
    cfg: XlmrClipConfig

    def __init__(self, cfg: XlmrClipConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.visual = VisionTower(cfg.vision, cfg.embed_dim)
        self.text = XlmrTextTower(cfg.text, cfg.embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        feats: torch.Tensor = self.visual(pixels)  # [b, embed_dim]
        return feats

    def text_features(self, ids: torch.Tensor) -> torch.Tensor:
        feats: torch.Tensor = self.text(ids)  # [b, embed_dim]
        return feats


# --- loading an OpenCLIP hub folder ---

_TEXT_PREFIX = "text.transformer."
# transformers < 4.31 saved the position-id table as a buffer; OpenCLIP's loader drops it.
_OLD_POSITION_IDS = "text.transformer.embeddings.position_ids"
# model_cfg keys OpenCLIP's CustomTextCLIP reads; init_logit_scale only seeds training.
_MODEL_KEYS = {
    "embed_dim",
    "vision_cfg",
    "text_cfg",
    "quick_gelu",
    "custom_text",
    "init_logit_scale",
}
# text_cfg keys of OpenCLIP's CLIPTextCfg that its HFTextEncoder never reads (they describe
# OpenCLIP's own text transformer), that change nothing at inference, or that say where OpenCLIP
# fetches what the folder holds itself (hf_tokenizer_name: its tokenizer.json).
_TEXT_IGNORED = {
    "vocab_size", "width", "heads", "layers", "mlp_ratio", "ls_init_value", "embed_cls",
    "pad_id", "eos_id", "no_causal_mask", "final_ln_after_pool", "pool_type", "proj_bias",
    "proj_type", "output_tokens", "act_kwargs", "norm_kwargs", "block_type", "qk_norm",
    "scaled_cosine_attn", "scale_heads", "scale_attn_inner", "scale_attn", "scale_fc",
    "hf_model_pretrained", "hf_tokenizer_name",
}  # fmt: skip
_TEXT_READ = {"hf_model_name", "hf_proj_type", "hf_pooler_type", "context_length"}
# OpenCLIP before 2.23 named the HF tower's two options "proj" and "pooler_type" (its configs of
# that time, xlm-roberta-base-ViT-B-32's included, say so); 2.23 renamed them, keeping no alias.
_OLD_TEXT_NAMES = {"proj": "hf_proj_type", "pooler_type": "hf_pooler_type"}
# Tokenizer options OpenCLIP honours and ClipDesk does not: only their defaults are read.
_TEXT_DEFAULT_ONLY: dict[str, tuple[object, ...]] = {
    "tokenizer_mode": (None,),
    "tokenizer_kwargs": (None, {}),
}
# OpenCLIP's CLIPTextCfg.context_length; its tokenizer pads and truncates HF text to it.
_DEFAULT_CONTEXT = 77
# Head width of xlm-roberta-base (768 / 12) and -large (1024 / 16), for folders without the text
# model's config.json.
_HEAD_WIDTH = 64
_MAX_TOKEN_TYPES = 16  # XLM-R has 1, BERT 2


def load_xlmr_hub_folder(folder: Path, config: Mapping[str, Any]) -> Checkpoint:
    """An OpenCLIP hub folder whose ``text_cfg.hf_model_name`` is an XLM-RoBERTa model:
    ``open_clip_config.json`` (``config``, as :func:`.openclip_hub.read_hub_config` read it),
    the weights, the text model's ``tokenizer.json`` and optionally its config.json stored as
    :data:`HF_TEXT_CONFIG`. Small files are checked before the weights are read."""
    from clipdesk.model import state_dicts
    from clipdesk.model.families import openclip_hub

    source = folder / openclip_hub.CONFIG_FILE
    options = _hub_options(config, source)
    pre = openclip_hub.preprocess_config(config, options.vision.image_size, source)
    hf_path = folder / HF_TEXT_CONFIG
    declared = read_hf_text_config(hf_path) if hf_path.is_file() else None
    pad_id = declared.pad_id if declared else XlmrTextConfig.pad_id
    tokenizer = _tokenizer(folder / TOKENIZER_FILE, options.context_length, pad_id)

    files = openclip_hub.hub_weight_files(folder)
    sd = _openclip_names(state_dicts.read_weights(files))
    cfg = options.with_text(
        declared or text_config_from_shapes(sd, files[0]), hf_path if declared else files[0]
    )
    if tokenizer.vocab_size > cfg.text.vocab_size:
        raise CheckpointError(
            f"{folder / TOKENIZER_FILE}: the tokenizer has {tokenizer.vocab_size} tokens but the "
            f"text model only {cfg.text.vocab_size}",
            hint="the tokenizer is of another model; take the model's own tokenizer.json",
        )
    with uninitialised():
        module = XlmrClipModule(cfg)
    described = (
        f"{source.name} and {HF_TEXT_CONFIG} describe" if declared else f"{source.name} describes"
    )
    module = load_exact(module, sd, files[0], f"the XLM-RoBERTa CLIP architecture {described}")
    return folder_checkpoint(folder, module, tokenizer, pre, files)


def clip_config(config: Mapping[str, Any], text: XlmrTextConfig, source: Path) -> XlmrClipConfig:
    """The architecture of an XLM-RoBERTa hub config (``open_clip_config.json`` at ``source``)
    whose text model is ``text`` (its config.json, or what its tensors say)."""
    return _hub_options(config, source).with_text(text, source)


@dataclass(frozen=True)
class _HubOptions:
    """What open_clip_config.json says: everything but the text model's architecture."""

    embed_dim: int
    vision: VisionConfig
    projection: Projection
    context_length: int

    def with_text(self, text: XlmrTextConfig, source: Path) -> XlmrClipConfig:
        """The whole architecture, checked; ``source`` is where ``text`` came from."""
        text = replace(text, context_length=self.context_length, projection=self.projection)
        _check_text(text, self.embed_dim, source)
        return XlmrClipConfig(self.embed_dim, self.vision, text)


def _hub_options(config: Mapping[str, Any], source: Path) -> _HubOptions:
    from clipdesk.model.families import openclip_hub

    model_cfg = config["model_cfg"]
    unknown = sorted(set(model_cfg) - _MODEL_KEYS - {"init_logit_bias"})
    if unknown:
        raise CheckpointError(
            f"{source}: model_cfg.{unknown[0]} is an option ClipDesk does not know"
        )
    if model_cfg.get("init_logit_bias") is not None:
        raise _refuse(source, "sigmoid-scored XLM-RoBERTa CLIP (model_cfg.init_logit_bias)")
    projection, context_length = _read_text_cfg(model_cfg["text_cfg"], source)
    quick_gelu = model_cfg.get("quick_gelu", False)
    if not isinstance(quick_gelu, bool):
        raise CheckpointError(
            f"{source}: model_cfg.quick_gelu is {quick_gelu!r}, not true or false"
        )
    vision = openclip_hub.vision_config(model_cfg["vision_cfg"], source, quick_gelu)
    if not isinstance(vision, VisionConfig):
        raise _refuse(source, "XLM-RoBERTa CLIP with a ResNet image tower")
    embed_dim = model_cfg.get("embed_dim")
    if isinstance(embed_dim, bool) or not isinstance(embed_dim, int):
        raise CheckpointError(f"{source}: model_cfg.embed_dim is {embed_dim!r}, not a whole number")
    _check_vision(vision, embed_dim, source)
    return _HubOptions(embed_dim, vision, projection, context_length)


def _refuse(source: Path, family: str) -> CheckpointError:
    from clipdesk.model.families import detect

    return detect.refuse(source, family)


def _read_text_cfg(text_cfg: Mapping[str, Any], source: Path) -> tuple[Projection, int]:
    """The projection and context length of an HF text tower's ``text_cfg``; a pooler, tokenizer
    mode or option ClipDesk does not run is refused by name."""
    given = text_cfg
    text_cfg = _current_names(text_cfg, source)

    def named(key: str) -> str:  # the option as the file names it
        old = next((o for o, new in _OLD_TEXT_NAMES.items() if new == key and o in given), None)
        return f"text_cfg.{old if old and key not in given else key}"

    unknown = sorted(set(text_cfg) - _TEXT_READ - _TEXT_IGNORED - set(_TEXT_DEFAULT_ONLY))
    if unknown:
        raise CheckpointError(
            f"{source}: text_cfg.{unknown[0]} is an option ClipDesk does not know"
        )
    for key, defaults in _TEXT_DEFAULT_ONLY.items():
        if key in text_cfg and text_cfg[key] not in defaults:
            raise _refuse(source, f"XLM-RoBERTa CLIP with text_cfg.{key} = {text_cfg[key]!r}")
    pooler = text_cfg.get("hf_pooler_type", "mean_pooler")
    if pooler != "mean_pooler":
        raise _refuse(source, f"XLM-RoBERTa CLIP pooled by {pooler!r} ({named('hf_pooler_type')})")
    proj = text_cfg.get("hf_proj_type", "mlp")
    if proj not in ("mlp", "linear", None, "none"):
        raise _refuse(
            source, f"XLM-RoBERTa CLIP with a {proj!r} projection ({named('hf_proj_type')})"
        )
    context = text_cfg.get("context_length", _DEFAULT_CONTEXT)
    lo, hi = limits.MODEL_CONTEXT_LENGTH
    if isinstance(context, bool) or not isinstance(context, int) or not lo <= context <= hi:
        raise CheckpointError(
            f"{source}: text_cfg.context_length is {context!r}; ClipDesk reads {lo} to {hi}"
        )
    return ("none" if proj is None else proj), context


def _current_names(text_cfg: Mapping[str, Any], source: Path) -> dict[str, Any]:
    """``text_cfg`` with OpenCLIP's older option names under their current ones; a config giving
    one option under both names, with two values, says two things and is refused."""
    out = dict(text_cfg)
    for old, new in _OLD_TEXT_NAMES.items():
        if old not in out:
            continue
        value = out.pop(old)
        if new in out and out[new] != value:
            raise CheckpointError(
                f"{source}: text_cfg.{old} is {value!r} but text_cfg.{new} is {out[new]!r}; "
                "they are the same option under its older and its current name"
            )
        out[new] = value
    return out


def read_hf_text_config(path: Path) -> XlmrTextConfig:
    """A Hugging Face ``XLMRobertaConfig`` (the text model's config.json)."""
    hf = read_json(path)
    if hf.get("model_type") != "xlm-roberta":
        raise CheckpointError(
            f"{path}: model_type is {hf.get('model_type')!r}, not 'xlm-roberta'",
            hint="the file must be the config.json of the text model the config names",
        )
    refusals = {
        "hidden_act": ("gelu", "activation"),
        "position_embedding_type": ("absolute", "position embeddings"),
        "is_decoder": (False, "decoder"),
        "add_cross_attention": (False, "cross-attention"),
    }
    for key, (expected, what) in refusals.items():
        if hf.get(key, expected) != expected:
            raise _refuse(path, f"XLM-RoBERTa with another {what} ({key} = {hf[key]!r})")

    def whole(key: str, default: int | None = None) -> int:
        value = hf.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise CheckpointError(f"{path}: {key} is {value!r}, not a whole number")
        return value

    eps = hf.get("layer_norm_eps", 1e-12)  # XLMRobertaConfig's default
    if isinstance(eps, bool) or not isinstance(eps, int | float):
        raise CheckpointError(f"{path}: layer_norm_eps is {eps!r}, not a number")
    return XlmrTextConfig(
        vocab_size=whole("vocab_size"),
        width=whole("hidden_size"),
        layers=whole("num_hidden_layers"),
        heads=whole("num_attention_heads"),
        mlp_width=whole("intermediate_size"),
        max_positions=whole("max_position_embeddings"),
        type_vocab_size=whole("type_vocab_size", 2),
        pad_id=whole("pad_token_id", 1),
        eps=float(eps),
    )


def _openclip_names(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k.removeprefix("module."): v for k, v in sd.items()}
    sd.pop(_OLD_POSITION_IDS, None)
    return sd


def text_config_from_shapes(sd: Mapping[str, torch.Tensor], source: Path) -> XlmrTextConfig:
    """The text tower's widths from its tensors; what the shapes cannot say is what
    xlm-roberta-base and -large share (64-wide heads, epsilon 1e-5, padding id 1)."""
    emb = f"{_TEXT_PREFIX}embeddings."
    names = {
        "word": f"{emb}word_embeddings.weight",
        "position": f"{emb}position_embeddings.weight",
        "type": f"{emb}token_type_embeddings.weight",
        "mlp": f"{_TEXT_PREFIX}encoder.layer.0.intermediate.dense.weight",
    }
    absent = [n for n in names.values() if n not in sd or sd[n].ndim != 2]
    if absent:
        raise CheckpointError(
            f"{source}: no XLM-RoBERTa text tower in this file ({absent[0]} is missing or not a "
            "matrix)",
            hint="the weights are not of the model open_clip_config.json describes",
        )
    layer = re.compile(rf"^{re.escape(_TEXT_PREFIX)}encoder\.layer\.(\d+)\.")
    layers = len({m.group(1) for k in sd if (m := layer.match(k))})
    vocab, width = sd[names["word"]].shape
    if width % _HEAD_WIDTH:
        raise CheckpointError(
            f"{source}: the text tower is {width} wide, not a multiple of XLM-RoBERTa's "
            f"{_HEAD_WIDTH}-wide heads, so its number of heads is unknown",
            hint=f"store the text model's config.json beside the weights as {HF_TEXT_CONFIG}",
        )
    return XlmrTextConfig(
        vocab_size=vocab,
        width=width,
        layers=layers,
        heads=width // _HEAD_WIDTH,
        mlp_width=sd[names["mlp"]].shape[0],
        max_positions=sd[names["position"]].shape[0],
        type_vocab_size=sd[names["type"]].shape[0],
    )


# The tower's fields under their config.json names, for ConfigChecks' messages.
_HF_TEXT_NAMES = {
    "text.width": "hidden_size",
    "text.layers": "num_hidden_layers",
    "text.heads": "num_attention_heads",
    "text.mlp_width": "intermediate_size",
    "text.eps": "layer_norm_eps",
}


def _check_text(cfg: XlmrTextConfig, embed_dim: int, source: Path) -> None:
    """Refuse a text architecture outside :mod:`clipdesk.common.limits` or inconsistent in
    itself, naming the config.json field."""
    check = ConfigChecks(_HF_TEXT_NAMES)
    try:
        check.within("vocab_size", cfg.vocab_size, limits.MODEL_VOCAB_SIZE)
        check.tower("text", cfg)
        check.within("max_position_embeddings", cfg.max_positions, limits.MODEL_CONTEXT_LENGTH)
        check.within("type_vocab_size", cfg.type_vocab_size, (1, _MAX_TOKEN_TYPES))
        check.within("pad_token_id", cfg.pad_id, (0, cfg.vocab_size - 1))
    except ConfigError as exc:
        raise CheckpointError(f"{source}: {exc}") from exc
    # Positions run from pad_id + 1 to pad_id + context_length.
    if cfg.pad_id + cfg.context_length >= cfg.max_positions:
        raise CheckpointError(
            f"{source}: max_position_embeddings {cfg.max_positions} leaves no room for "
            f"open_clip_config.json's context_length {cfg.context_length} after pad_token_id "
            f"{cfg.pad_id}"
        )
    if cfg.projection == "none" and cfg.width != embed_dim:
        raise CheckpointError(
            f"{source}: text_cfg.hf_proj_type is none, but the text model is {cfg.width} wide "
            f"and the embedding {embed_dim}"
        )


def _check_vision(vision: VisionConfig, embed_dim: int, source: Path) -> None:
    from clipdesk.model.families.openclip_hub import OPENCLIP_NAMES

    try:
        # The text half is CLIP's default: only the image tower and embed_dim are in question.
        check_config(ClipConfig(embed_dim=embed_dim, vision=vision), OPENCLIP_NAMES)
    except ConfigError as exc:
        raise CheckpointError(f"{source}: unusable OpenCLIP config ({exc})") from exc


def _tokenizer(path: Path, context_length: int, pad_id: int) -> TextTokenizer:
    """XLM-R's ``tokenizer.json`` as OpenCLIP's HFTokenizer uses it: OpenCLIP's text clean-up,
    ``<s> … </s>`` with the end kept on truncation, padding with the model's pad id."""
    # OpenCLIP's clean-up lives beside HubTokenizer, which names it in its recipe.
    from clipdesk.model.families.hub_tokenizer import HubTokenizer, open_clip_clean

    if not path.is_file():
        raise CheckpointError(
            f"{path.parent}: no {TOKENIZER_FILE} — the XLM-RoBERTa tokenizer is missing",
            hint="OpenCLIP takes it from the text model's Hugging Face repository "
            "(xlm-roberta-base or -large); put its tokenizer.json in the folder",
        )
    tok = read_tokenizer_file(path)
    bos, eos, pad = (tok.token_to_id(t) for t in ("<s>", "</s>", "<pad>"))
    if pad != pad_id:
        raise CheckpointError(
            f"{path}: the padding token <pad> is id {pad}, but the text model pads with {pad_id}",
            hint="the tokenizer is of another model; take the model's own tokenizer.json",
        )
    if bos is None or eos is None or tok.encode("").ids != [bos, eos]:
        raise CheckpointError(
            f"{path}: the tokenizer does not put <s> and </s> around a text, as XLM-RoBERTa's does",
            hint="the tokenizer is of another model; take the model's own tokenizer.json",
        )
    return HubTokenizer(tok, context_length, pad_id=pad_id, clean=open_clip_clean, source=path)
