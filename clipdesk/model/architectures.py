"""Modules with random weights from the catalog's architecture facts, to time them.

The benchmark (``bench/engine.py --catalog``) and the picker's speed probe build each catalog
architecture from the same config its repository ships, through the family's own config reader,
so what is timed is what the loader would build; nothing is downloaded. One small builder per
family, chosen by :data:`BUILDERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from clipdesk.model.catalog import Architecture
from clipdesk.model.config import VisionConfig
from clipdesk.model.dual_encoder import DualEncoder

# How many tokens one typical search phrase ("kids playing on a beach at sunset") becomes with
# the start and end tokens; families whose tokenizer pads to a fixed length use that instead.
QUERY_TOKENS = 10


@dataclass(frozen=True)
class Built:
    module: DualEncoder
    text_ids: torch.Tensor  # [1, n]: one search phrase as the family's tokenizer pads it


def _source(arch: Architecture) -> Path:
    return Path(f"<catalog architecture {arch.key}>")


def _clip_ids(vocab: int, eos: int, n: int = QUERY_TOKENS) -> torch.Tensor:
    ids = torch.randint(1, min(vocab, eos) - 1, (1, n))
    ids[0, -1] = eos  # the CLIP text tower pools at the end token
    return ids


def _hf_clip(arch: Architecture) -> Built:
    from clipdesk.model.clip import ClipModule
    from clipdesk.model.config import ClipConfig

    cfg = ClipConfig.from_hf(dict(arch.config))
    return Built(ClipModule(cfg), _clip_ids(cfg.text.vocab_size, cfg.text.eos_token_id))


def _openclip_clip(arch: Architecture) -> Built:
    from clipdesk.model.clip import ClipModule
    from clipdesk.model.families.openclip_hub import clip_config

    cfg = clip_config({"model_cfg": dict(arch.config)}, _source(arch))
    return Built(ClipModule(cfg), _clip_ids(cfg.text.vocab_size, cfg.text.eos_token_id))


def _siglip(arch: Architecture) -> Built:
    from clipdesk.model.families.siglip import SiglipConfig, SiglipModule

    cfg = SiglipConfig.from_hf(dict(arch.config))
    # SigLIP's tokenizer pads every text to the full context (64 tokens).
    ids = torch.randint(2, cfg.text.vocab_size, (1, cfg.text.context_length))
    return Built(SiglipModule(cfg), ids)


def _xlmr(arch: Architecture) -> Built:
    from clipdesk.model.families import xlmr
    from clipdesk.model.families.openclip_hub import vision_config

    hf = arch.text_config
    assert hf is not None, f"{arch.key} has no text config"
    vision = vision_config(dict(arch.config["vision_cfg"]), _source(arch), False)
    assert isinstance(vision, VisionConfig), f"{arch.key}: XLM-R models have a ViT image tower"
    # transformers' XLMRobertaConfig names; OpenCLIP's defaults for the rest (77 tokens, MLP
    # projection), as its text_cfg leaves them.
    text = xlmr.XlmrTextConfig(
        vocab_size=hf["vocab_size"],
        width=hf["hidden_size"],
        layers=hf["num_hidden_layers"],
        heads=hf["num_attention_heads"],
        mlp_width=hf["intermediate_size"],
        max_positions=hf["max_position_embeddings"],
        type_vocab_size=hf["type_vocab_size"],
        pad_id=hf["pad_token_id"],
        eps=hf["layer_norm_eps"],
    )
    cfg = xlmr.XlmrClipConfig(int(arch.config["embed_dim"]), vision, text)
    ids = torch.randint(text.pad_id + 3, text.vocab_size, (1, QUERY_TOKENS))
    ids[0, 0], ids[0, -1] = 0, 2  # <s> ... </s>
    return Built(xlmr.XlmrClipModule(cfg), ids)


BUILDERS: dict[tuple[str, str], Callable[[Architecture], Built]] = {
    ("clip", "hf-clip"): _hf_clip,
    ("clip", "openclip-hub"): _openclip_clip,
    ("siglip", "siglip"): _siglip,
    ("xlm-roberta clip", "openclip-hub"): _xlmr,
}


@torch.no_grad()
def randomize(module: torch.nn.Module, seed: int = 0) -> None:
    """Deterministic random weights of a trained network's scale: norms at identity, biases at
    zero, everything else N(0, 0.02). Some constructors leave tensors uninitialised memory, whose
    NaNs or denormals would time the wrong arithmetic."""
    gen = torch.Generator().manual_seed(seed)
    for name, p in module.named_parameters():
        if p.ndim == 1 and name.endswith("weight"):
            p.fill_(1.0)
        elif p.ndim == 1 and name.endswith("bias"):
            p.zero_()
        elif p.ndim == 0:
            continue  # logit_scale, logit_bias: unused by the encoders
        else:
            p.copy_(torch.randn(p.shape, generator=gen) * 0.02)


def build(arch: Architecture, seed: int = 0) -> Built:
    """The module of ``arch`` with random weights, in eval mode on the CPU."""
    try:
        builder = BUILDERS[(arch.family, arch.layout)]
    except KeyError:
        raise ValueError(f"no builder for {arch.family} in the {arch.layout} layout") from None
    torch.manual_seed(seed)
    built = builder(arch)
    randomize(built.module, seed)
    built.module.eval()
    return built


def parameter_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
