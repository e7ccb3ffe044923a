"""Writing a CLIP model as an OpenCLIP hub folder.

The Hugging Face CLIP layout has no ResNet image tower, so a ResNet model (an imported OpenAI or
OpenCLIP state dict) is kept the way OpenCLIP publishes it: ``open_clip_config.json`` (the
``model_cfg`` OpenCLIP builds the model from, and the ``preprocess_cfg``) beside
``open_clip_model.safetensors`` holding OpenCLIP's own tensor names, which are ours. OpenCLIP
and :mod:`.openclip_hub` both read the folder back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from clipdesk.common.errors import CheckpointError
from clipdesk.model import state_dicts
from clipdesk.model.checkpoint import staged_folder
from clipdesk.model.clip import ClipModule
from clipdesk.model.config import ClipConfig, ResNetConfig
from clipdesk.model.families.openclip_hub import CONFIG_FILE, WEIGHT_FILES
from clipdesk.model.preprocess import PreprocessConfig
from clipdesk.model.tokenizer import ClipTokenizer

_EPS = 1e-5  # OpenCLIP's LayerNorm default: only another value is written


def save_hub_folder(
    module: ClipModule,
    tokenizer: ClipTokenizer,
    folder: str | Path,
    *,
    name: str,
    preprocess: PreprocessConfig | None = None,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write ``module`` as an OpenCLIP hub folder, atomically: the folder appears complete or
    not at all. Only what the format can say is written; a model it cannot describe (a
    tokenizer other than CLIP's, different activations in the two towers) is refused."""
    from safetensors.torch import save_file

    cfg = module.cfg
    model_cfg = hub_model_config(cfg)
    if tokenizer.to_str() != state_dicts.default_clip_tokenizer(cfg.text.context_length).to_str():
        raise CheckpointError(
            f"{name}: an OpenCLIP hub folder always tokenizes with CLIP's vocabulary, and this "
            "model has another tokenizer"
        )
    pre = preprocess or PreprocessConfig(size=cfg.vision.image_size)
    folder = Path(folder)
    with staged_folder(folder, name, meta) as tmp:
        # Only floating tensors are cast: a batch norm's num_batches_tracked stays an integer.
        sd = {
            k: v.detach().to("cpu", torch.float32 if v.is_floating_point() else v.dtype)
            for k, v in module.state_dict().items()
        }
        save_file(sd, str(tmp / WEIGHT_FILES[0]), metadata={"format": "pt"})
        config = {"model_cfg": model_cfg, "preprocess_cfg": preprocess_cfg(pre)}
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")
        # OpenCLIP ignores it for CLIP-vocabulary models; other tools read it.
        tokenizer.save(tmp / "tokenizer.json")
    return folder


def hub_model_config(cfg: ClipConfig) -> dict[str, Any]:
    """The ``model_cfg`` OpenCLIP's ``CLIP(**model_cfg)`` builds this architecture from."""
    v, t = cfg.vision, cfg.text
    if isinstance(v, ResNetConfig):
        vision: dict[str, Any] = {
            "image_size": v.image_size,
            "layers": list(v.layers),
            "width": v.width,
            # OpenCLIP: heads = width * 32 // head_width
            "head_width": v.width * 32 // v.heads,
            "patch_size": None,
        }
        if vision["width"] * 32 // vision["head_width"] != v.heads:
            raise CheckpointError(
                f"a ResNet attention pool of {v.heads} heads at width {v.width} cannot be "
                "written as an OpenCLIP config"
            )
    else:
        if v.act != t.act:
            raise CheckpointError(
                "an OpenCLIP config has one activation for both towers; this model has "
                f"{v.act} in the image tower and {t.act} in the text tower"
            )
        vision = {
            "image_size": v.image_size,
            "layers": v.layers,
            "width": v.width,
            "head_width": v.width // v.heads,
            "mlp_ratio": _mlp_ratio(v.width, v.mlp_width),
            "patch_size": v.patch_size,
        }
        if v.eps != _EPS:
            vision["norm_kwargs"] = {"eps": v.eps}
    text: dict[str, Any] = {
        "context_length": t.context_length,
        "vocab_size": t.vocab_size,
        "width": t.width,
        "heads": t.heads,
        "layers": t.layers,
        "mlp_ratio": _mlp_ratio(t.width, t.mlp_width),
    }
    if t.pooling == "eos":
        text.update(pool_type="eos", eos_id=t.eos_token_id)
    if t.eps != _EPS:
        text["norm_kwargs"] = {"eps": t.eps}
    model_cfg: dict[str, Any] = {
        "embed_dim": cfg.embed_dim,
        "vision_cfg": vision,
        "text_cfg": text,
        "init_logit_scale": cfg.logit_scale_init,
    }
    if t.act == "quick_gelu":
        model_cfg["quick_gelu"] = True
    return model_cfg


def preprocess_cfg(pre: PreprocessConfig) -> dict[str, Any]:
    return {
        "mean": list(pre.mean),
        "std": list(pre.std),
        "interpolation": pre.resample,
        "resize_mode": "shortest" if pre.crop else "squash",
    }


def _mlp_ratio(width: int, mlp_width: int) -> float:
    """A ratio OpenCLIP's ``int(width * mlp_ratio)`` turns back into ``mlp_width`` exactly."""
    ratio = mlp_width / width
    if int(width * ratio) != mlp_width:  # 0.1 + 0.2 style rounding just below the integer
        ratio = (mlp_width + 0.5) / width
    return ratio
