"""Reading a Hugging Face ``SiglipModel`` folder (SigLIP, fixed-resolution SigLIP2).

``config.json`` (model_type "siglip"), ``model.safetensors`` (or sharded, or
``pytorch_model.bin`` through ``weights_only``), ``preprocessor_config.json`` (the whole photo
squashed to size x size, bicubic or, as SigLIP2's processors say, bilinear; their mean/std) and
a tokenizer: SigLIP v1's ``spiece.model`` or SigLIP2's Gemma ``tokenizer.json``. Every small
file is checked before the weights are read.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from tokenizers import normalizers

from clipdesk.common.errors import CheckpointError
from clipdesk.model import state_dicts
from clipdesk.model.checkpoint import (
    Checkpoint,
    folder_checkpoint,
    load_exact,
    read_json,
    uninitialised,
)
from clipdesk.model.config import ConfigError
from clipdesk.model.families.hub_tokenizer import (
    TOKENIZER_FILE,
    HubTokenizer,
    read_tokenizer_config,
    token_text,
)
from clipdesk.model.families.siglip import SiglipConfig, SiglipModule
from clipdesk.model.families.spiece_tokenizer import (
    SPIECE_FILE,
    SiglipSentencePieceTokenizer,
    read_sentencepiece,
)
from clipdesk.model.preprocess import PreprocessConfig
from clipdesk.model.tokenizer import TextTokenizer

SIGLIP_MEAN = (0.5, 0.5, 0.5)  # SiglipImageProcessor's defaults: pixels to [-1, 1]
SIGLIP_STD = (0.5, 0.5, 0.5)


def load_siglip_folder(folder: Path) -> Checkpoint:
    config_path = folder / "config.json"
    hf = read_json(config_path)
    if hf.get("model_type") != "siglip":
        raise CheckpointError(
            f"{config_path}: model_type is {hf.get('model_type')!r}, not a SigLIP model"
        )
    try:
        cfg = SiglipConfig.from_hf(hf)
    except ConfigError as exc:
        raise CheckpointError(
            f"{config_path}: unusable SigLIP config ({exc})",
            hint="the file is damaged or not the config of a SigLIP model; "
            "take it again from where the model came from",
        ) from exc
    pre = read_preprocess(folder / "preprocessor_config.json", cfg.vision.image_size)
    tokenizer = read_tokenizer(folder, cfg.text.context_length)
    if tokenizer.vocab_size > cfg.text.vocab_size:
        raise CheckpointError(
            f"{folder}: the tokenizer has {tokenizer.vocab_size} tokens but the model only "
            f"{cfg.text.vocab_size} (config.json text_config.vocab_size)",
            hint="the tokenizer and the weights are of different models",
        )
    files = state_dicts.find_weight_files(folder)
    sd = state_dicts.read_weights(files)
    module = build_siglip_module(cfg, sd, files[0])
    return folder_checkpoint(folder, module, tokenizer, pre, files)


def build_siglip_module(
    cfg: SiglipConfig, sd: dict[str, torch.Tensor], source: Path
) -> SiglipModule:
    # Older transformers saved the position index buffers; they hold no weights.
    weights = {k: v for k, v in sd.items() if not k.endswith("embeddings.position_ids")}
    with uninitialised():
        module = SiglipModule(cfg)
    return load_exact(module, weights, source, "the SigLIP architecture")


def read_preprocess(path: Path, image_size: int) -> PreprocessConfig:
    """SiglipImageProcessor's settings: resize to size x size (no crop) with its resampling
    filter, then mean/std. Settings ClipDesk would not honour are refused rather than silently
    changed."""
    default = PreprocessConfig(size=image_size, mean=SIGLIP_MEAN, std=SIGLIP_STD, crop=False)
    if not path.is_file():
        return default
    data = read_json(path)
    problem = _unsupported_preprocessing(data, image_size)
    if problem:
        raise CheckpointError(f"{path}: {problem}")
    try:
        pre = PreprocessConfig.from_hf(
            {
                "image_mean": data.get("image_mean", list(SIGLIP_MEAN)),
                "image_std": data.get("image_std", list(SIGLIP_STD)),
                "resample": data.get("resample"),
            },
            image_size,
        )
    except ValueError as exc:
        raise CheckpointError(
            f"{path}: unusable preprocessing ({exc})",
            hint="the file is damaged or not a SigLIP image processor's config",
        ) from exc
    return replace(pre, size=image_size, crop=False)


def _unsupported_preprocessing(data: dict[str, Any], image_size: int) -> str | None:
    size = data.get("size", {"height": image_size, "width": image_size})
    side = (size.get("height"), size.get("width")) if isinstance(size, dict) else (size, size)
    if side != (image_size, image_size):
        return (
            f"size is {size!r} but the model takes images of {image_size} x {image_size} "
            "pixels (config.json vision_config.image_size)"
        )
    for key in ("do_resize", "do_rescale", "do_normalize"):
        if data.get(key, True) is not True:
            return f"{key} is {data.get(key)!r}; ClipDesk always resizes, rescales and normalises"
    factor = data.get("rescale_factor", 1 / 255)
    if not isinstance(factor, int | float) or abs(factor - 1 / 255) > 1e-9:
        return f"rescale_factor is {factor!r}; ClipDesk reads 8-bit photos as 1/255 steps"
    if data.get("do_center_crop") is True:
        return "do_center_crop is true; SigLIP resizes the whole photo without cropping"
    return None


def read_tokenizer(folder: Path, context_length: int) -> TextTokenizer:
    """SigLIP v1's sentencepiece tokenizer or SigLIP2's tokenizer.json, padded to the full
    context (the text tower reads the last position)."""
    config = read_tokenizer_config(folder)
    declared = str(config.get("tokenizer_class") or "")
    spiece, tok_json = folder / SPIECE_FILE, folder / TOKENIZER_FILE
    if declared.removesuffix("Fast") == "SiglipTokenizer" or (
        not declared and spiece.is_file() and not tok_json.is_file()
    ):
        if not spiece.is_file():
            raise CheckpointError(
                f"{folder}: tokenizer_config.json names SiglipTokenizer, whose {SPIECE_FILE} "
                "is missing",
                hint="take the model's tokenizer files again from where the model came from",
            )
        return SiglipSentencePieceTokenizer(
            read_sentencepiece(spiece),
            context_length,
            eos_token=token_text(config.get("eos_token")) or "</s>",
            pad_token=token_text(config.get("pad_token")) or "</s>",
            unk_token=token_text(config.get("unk_token")) or "<unk>",
            lowercase=config.get("do_lower_case", True) is not False,
            source=spiece,
        )
    if tok_json.is_file():
        # SigLIP2 was trained on lower-cased text (big_vision's ``lower`` before the Gemma
        # tokenizer); transformers' Siglip2Tokenizer puts the same normaliser before Gemma's.
        return HubTokenizer.from_folder(
            folder,
            context_length,
            padding="max_length",
            normalizer=normalizers.Lowercase(),
            default_pad="<pad>",  # GemmaTokenizer's, and big_vision's pad_value
        )
    raise CheckpointError(
        f"{folder}: no {TOKENIZER_FILE} or {SPIECE_FILE}, the SigLIP tokenizer",
        hint="the folder must hold the model's tokenizer files beside config.json",
    )
