"""Renaming between Hugging Face ``CLIPModel`` state dicts and ours (OpenAI/OpenCLIP names)."""

from __future__ import annotations

import re
from collections.abc import Iterable

import torch

_LAYER = re.compile(r"^(text|vision)_model\.encoder\.layers\.(\d+)\.(.+)$")
_BLOCK_RENAMES = {
    "layer_norm1": "ln_1",
    "layer_norm2": "ln_2",
    "mlp.fc1": "mlp.c_fc",
    "mlp.fc2": "mlp.c_proj",
    "self_attn.out_proj": "attn.out_proj",
}
_FLAT_RENAMES = {
    "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
    "text_model.embeddings.position_embedding.weight": "positional_embedding",
    "text_model.final_layer_norm.weight": "ln_final.weight",
    "text_model.final_layer_norm.bias": "ln_final.bias",
    "vision_model.embeddings.class_embedding": "visual.class_embedding",
    "vision_model.embeddings.patch_embedding.weight": "visual.conv1.weight",
    "vision_model.embeddings.position_embedding.weight": "visual.positional_embedding",
    "vision_model.pre_layrnorm.weight": "visual.ln_pre.weight",
    "vision_model.pre_layrnorm.bias": "visual.ln_pre.bias",
    "vision_model.post_layernorm.weight": "visual.ln_post.weight",
    "vision_model.post_layernorm.bias": "visual.ln_post.bias",
    "logit_scale": "logit_scale",
}
# Stored [out, in] as nn.Linear weights by Hugging Face; ours are [in, out] matrices.
_TRANSPOSED = {
    "text_projection.weight": "text_projection",
    "visual_projection.weight": "visual.proj",
}
# Buffers some transformers versions saved; derived, never needed.
_IGNORED = re.compile(r"(^|\.)position_ids$")


def is_hf_state_dict(keys: Iterable[str]) -> bool:
    return any(k.startswith(("text_model.", "vision_model.")) for k in keys)


def hf_to_native(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a Hugging Face CLIPModel state dict; unknown keys are kept as they are so that the
    loader can report them."""
    out: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    for key, value in sd.items():
        if _IGNORED.search(key):
            continue
        if key in _FLAT_RENAMES:
            out[_FLAT_RENAMES[key]] = value
            continue
        if key in _TRANSPOSED:
            out[_TRANSPOSED[key]] = value.t().contiguous()
            continue
        m = _LAYER.match(key)
        if not m:
            out[key] = value
            continue
        tower, idx, rest = m.groups()
        prefix = f"{'visual.' if tower == 'vision' else ''}transformer.resblocks.{idx}."
        proj = re.match(r"self_attn\.([qkv])_proj\.(weight|bias)$", rest)
        if proj:
            qkv.setdefault((prefix, proj.group(2)), {})[proj.group(1)] = value
            continue
        for hf_name, our_name in _BLOCK_RENAMES.items():
            if rest.startswith(hf_name + "."):
                rest = our_name + rest[len(hf_name) :]
                break
        out[prefix + rest] = value
    for (prefix, kind), parts in qkv.items():
        if set(parts) != {"q", "k", "v"}:
            missing = sorted({"q", "k", "v"} - set(parts))
            out[f"{prefix}attn.in_proj_{kind}(missing {','.join(missing)})"] = next(
                iter(parts.values())
            )
            continue
        out[f"{prefix}attn.in_proj_{kind}"] = torch.cat([parts["q"], parts["k"], parts["v"]])
    return out


def native_to_hf(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our state dict under Hugging Face names, for saving in the HF CLIP folder format."""
    flat = {ours: theirs for theirs, ours in _FLAT_RENAMES.items()}
    transposed = {ours: theirs for theirs, ours in _TRANSPOSED.items()}
    block = {ours: theirs for theirs, ours in _BLOCK_RENAMES.items()}
    layer = re.compile(r"^(visual\.)?transformer\.resblocks\.(\d+)\.(.+)$")
    out: dict[str, torch.Tensor] = {}
    for key, value in sd.items():
        if key in flat:
            out[flat[key]] = value.contiguous()
            continue
        if key in transposed:
            out[transposed[key]] = value.t().contiguous()
            continue
        m = layer.match(key)
        if not m:
            raise KeyError(f"no Hugging Face name for parameter {key!r}")
        tower = "vision_model" if m.group(1) else "text_model"
        prefix = f"{tower}.encoder.layers.{m.group(2)}."
        rest = m.group(3)
        attn = re.match(r"attn\.in_proj_(weight|bias)$", rest)
        if attn:
            for name, part in zip("qkv", value.chunk(3, dim=0), strict=True):
                out[f"{prefix}self_attn.{name}_proj.{attn.group(1)}"] = part.contiguous()
            continue
        for ours, theirs in block.items():
            if rest.startswith(ours + "."):
                rest = theirs + rest[len(ours) :]
                break
        out[prefix + rest] = value.contiguous()
    return out
