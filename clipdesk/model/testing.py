"""Small random models for tests and benchmarks (real file layout, random weights)."""

from __future__ import annotations

from pathlib import Path

import torch

from clipdesk.model.checkpoint import save_model_folder
from clipdesk.model.clip import ClipModule
from clipdesk.model.config import Activation, ClipConfig, TextConfig, VisionConfig
from clipdesk.model.state_dicts import default_clip_tokenizer


def tiny_config(act: Activation = "quick_gelu") -> ClipConfig:
    return ClipConfig(
        embed_dim=32,
        vision=VisionConfig(
            image_size=32, patch_size=8, width=64, layers=2, heads=2, mlp_width=128, act=act
        ),
        text=TextConfig(
            context_length=77, width=64, layers=2, heads=2, mlp_width=128, act=act, pooling="eos"
        ),
    )


def tiny_random_model(folder: str | Path, seed: int = 0, name: str = "tiny-random") -> Path:
    """Save a tiny random CLIP (real CLIP vocabulary) as a Hugging Face folder; returns its path."""
    torch.manual_seed(seed)
    cfg = tiny_config()
    module = ClipModule(cfg)
    module.init_weights()
    tok = default_clip_tokenizer(cfg.text.context_length)
    return save_model_folder(module, tok, Path(folder) / name, name=name)
