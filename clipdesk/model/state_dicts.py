"""Reading weight files safely and making sense of config-less state dicts."""

from __future__ import annotations

import logging
import math
import pickle
import re
import zipfile
from dataclasses import replace
from pathlib import Path

import torch

from clipdesk.common import limits
from clipdesk.common.errors import CheckpointError
from clipdesk.common.json_files import read_json_file
from clipdesk.model.config import (
    Activation,
    ClipConfig,
    ConfigError,
    ResNetConfig,
    TextConfig,
    VisionConfig,
    check_config,
)
from clipdesk.model.convert import hf_to_native, is_hf_state_dict
from clipdesk.model.tokenizer import ClipTokenizer

log = logging.getLogger(__name__)

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")
# Scalars OpenAI's archives carry beside the weights.
_OPENAI_EXTRAS = ("input_resolution", "context_length", "vocab_size")


def find_weight_files(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = _read_small_json(index)["weight_map"]  # type: ignore[index]
            files = [folder / name for name in sorted(set(weight_map.values()))]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CheckpointError(f"{index}: unreadable shard index ({exc})") from exc
        if any(f.parent != folder for f in files):
            raise CheckpointError(f"{index}: names shard files outside its folder")
        absent = [f.name for f in files if not f.is_file()]
        if absent:
            raise CheckpointError(f"{folder}: shard files missing: {', '.join(absent)}")
        return files
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (folder / name).is_file():
            return [folder / name]
    raise CheckpointError(
        f"{folder}: no model.safetensors (or pytorch_model.bin) in this folder",
        hint="the folder must hold the model's weights beside config.json",
    )


def read_weights(files: list[Path]) -> dict[str, torch.Tensor]:
    sd: dict[str, torch.Tensor] = {}
    for f in files:
        if f.suffix == ".safetensors":
            sd.update(_read_safetensors(f))
        elif f.suffix in PICKLE_SUFFIXES:
            sd.update(_read_pickle_weights_only(f))
        else:
            raise CheckpointError(
                f"{f}: unknown checkpoint type {f.suffix!r}",
                hint="use a .safetensors file or a Hugging Face model folder",
            )
    return sd


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{path}: not a valid safetensors file — truncated or corrupt ({exc})",
            hint="download or copy the file again",
        ) from exc


def _read_pickle_weights_only(path: Path) -> dict[str, torch.Tensor]:
    from clipdesk.model import torchscript

    if torchscript.is_torchscript(path):
        # OpenAI's original JIT checkpoints: weights read by a restricted unpickler, code ignored.
        try:
            return torchscript.read_state_dict(path, budget=lambda meta: _budget(meta, path))
        except torchscript.ArchiveTooLarge as exc:
            raise _too_large(path, exc) from exc
        except (
            pickle.UnpicklingError,
            zipfile.BadZipFile,
            KeyError,
            RuntimeError,
            ValueError,
            EOFError,
        ) as exc:
            raise CheckpointError(
                f"{path}: refused — a TorchScript archive holding more than module weights "
                f"({exc}); ClipDesk never runs code from a model file",
                hint="use the Hugging Face version of the model (clipdesk-cli models download) "
                "or a .safetensors export of its state dict",
            ) from exc
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                torchscript.check_inflation(zf)
    except torchscript.ArchiveTooLarge as exc:
        raise _too_large(path, exc) from exc
    except (zipfile.BadZipFile, OSError):
        pass  # torch.load says what is wrong with it
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path}: refused — the file holds Python objects besides tensors, and loading it "
            "could run arbitrary code",
            hint="convert it to .safetensors with the tool that made it, then import that",
        ) from exc
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable PyTorch weights file ({exc})") from exc
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: does not hold a state dict of tensors")
    return obj


def _budget(meta: dict[str, torch.Tensor], path: Path) -> int:
    """Bytes of storage a TorchScript archive with these tensors (shapes only) may hold: the
    weights of the architecture they describe (ViT or ResNet), at their widest floating-point
    dtype, and OpenAI's extras (which also cover a ResNet's int64 batch counters)."""
    cfg = infer_config(to_native(meta), path, act="quick_gelu")  # the activation has no size
    width = max((t.element_size() for t in meta.values() if t.is_floating_point()), default=4)
    return cfg.parameter_count() * width + limits.ARCHIVE_EXTRA_TENSOR_BYTES


def _too_large(path: Path, exc: Exception) -> CheckpointError:
    return CheckpointError(
        f"{path}: refused before reading it — {exc}; it is not a usable checkpoint",
        hint="the file is damaged or was made to exhaust memory; "
        "take the model again from where it came from",
    )


def declared_activation(path: Path) -> Activation | None:
    """The activation a config-less state dict declares for itself, if any: a safetensors
    metadata entry (``clipdesk.act``, ``act`` or ``hidden_act``), a sidecar ``<file>.json``
    (``{"act": "gelu"}``), or an OpenCLIP ``open_clip_config.json`` beside it (its ``quick_gelu``
    flag; OpenCLIP's default is gelu)."""
    if path.suffix == ".safetensors":
        try:
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as fh:
                meta = fh.metadata() or {}
        except Exception:  # unreadable headers are reported by read_weights
            meta = {}
        for key in ("clipdesk.act", "act", "hidden_act"):
            if meta.get(key):
                return _check_act(meta[key], f"{path} (metadata {key!r})")
    sidecar = path.with_suffix(".json")
    if sidecar.is_file():
        data = _read_sidecar(sidecar)
        for key in ("act", "hidden_act"):
            if data.get(key):
                return _check_act(data[key], str(sidecar))
    oc = path.with_name("open_clip_config.json")
    if oc.is_file():
        model_cfg = _read_sidecar(oc).get("model_cfg")
        if isinstance(model_cfg, dict):
            return "quick_gelu" if model_cfg.get("quick_gelu") else "gelu"
    return None


def _read_small_json(path: Path) -> object:
    return read_json_file(
        path, max_bytes=limits.MODEL_JSON_MAX_BYTES, max_depth=limits.MODEL_JSON_MAX_DEPTH
    )


def _read_sidecar(path: Path) -> dict[str, object]:
    try:
        data = _read_small_json(path)
    except ValueError as exc:
        raise CheckpointError(f"{path}: not readable JSON ({exc})") from exc
    return data if isinstance(data, dict) else {}


def _check_act(value: object, where: str) -> Activation:
    if value == "quick_gelu":
        return "quick_gelu"
    if value == "gelu":
        return "gelu"
    raise CheckpointError(f"{where}: unknown activation {value!r} (expected quick_gelu or gelu)")


def to_native(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our parameter names, whatever the source (HF, OpenAI, OpenCLIP, DataParallel)."""
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module.") :]: v for k, v in sd.items()}
    # OpenAI's modules keep the causal mask as a tensor attribute, so their TorchScript archives
    # carry one per block; it is derived, never a weight.
    sd = {
        k: v
        for k, v in sd.items()
        if k not in _OPENAI_EXTRAS and k != "attn_mask" and not k.endswith(".attn_mask")
    }
    return hf_to_native(sd) if is_hf_state_dict(sd.keys()) else sd


def _layers(sd: dict[str, torch.Tensor], prefix: str) -> int:
    pat = re.compile(rf"^{re.escape(prefix)}transformer\.resblocks\.(\d+)\.")
    return len({m.group(1) for k in sd if (m := pat.match(k))})


def is_resnet(sd: dict[str, torch.Tensor]) -> bool:
    """Whether a CLIP state dict (our names) has OpenAI's ModifiedResNet image tower."""
    return "visual.attnpool.positional_embedding" in sd or "visual.layer1.0.conv1.weight" in sd


def infer_config(
    sd: dict[str, torch.Tensor],
    source: Path,
    act: str | None = None,
    original: dict[str, torch.Tensor] | None = None,
) -> ClipConfig:
    """Architecture from tensor shapes (as OpenCLIP does for OpenAI weights), with a ViT or a
    ResNet image tower; heads are width / 64, as in every released CLIP."""
    resnet = is_resnet(sd)
    try:
        vision: VisionConfig | ResNetConfig
        if resnet:
            vision = _resnet_config(sd, source)
            embed_dim = sd["visual.attnpool.c_proj.weight"].shape[0]
        else:
            vision = _vit(sd)
            embed_dim = sd["text_projection"].shape[1]
        text = _text_config(sd)
    except (KeyError, IndexError) as exc:
        tower = "ResNet" if resnet else "ViT or ResNet"
        raise CheckpointError(
            f"{source}: not a CLIP {tower} state dict (no tensor {exc}); ClipDesk reads CLIP "
            "models with a ViT or ResNet image tower (OpenAI, OpenCLIP, Hugging Face)"
        ) from exc
    if act is not None:
        chosen = _check_act(act, str(source))
    else:
        chosen = declared_activation(source) or "quick_gelu"
        if chosen == "quick_gelu":
            log.info("%s: no config, assuming OpenAI's quick_gelu activation", source)
    if isinstance(vision, VisionConfig):  # a ResNet's activation is ReLU whatever the text's
        vision = replace(vision, act=chosen)
    cfg = ClipConfig(embed_dim=int(embed_dim), vision=vision, text=replace(text, act=chosen))
    try:
        check_config(cfg, SHAPE_NAMES)
    except ConfigError as exc:
        raise CheckpointError(
            f"{source}: the weights describe an unusable model ({exc})",
            hint="the file is damaged or not a CLIP model",
        ) from exc
    return cfg


def _vit(sd: dict[str, torch.Tensor]) -> VisionConfig:
    conv = sd["visual.conv1.weight"]
    width, patch = conv.shape[0], conv.shape[-1]
    grid = round(math.sqrt(sd["visual.positional_embedding"].shape[0] - 1))
    return VisionConfig(
        image_size=patch * grid,
        patch_size=patch,
        width=width,
        layers=_layers(sd, "visual."),
        heads=max(1, width // 64),
        mlp_width=sd["visual.transformer.resblocks.0.mlp.c_fc.weight"].shape[0],
        act="quick_gelu",
    )


def _resnet_config(sd: dict[str, torch.Tensor], source: Path) -> ResNetConfig:
    """OpenAI's ModifiedResNet from its shapes: blocks per stage from the key names, width from
    the first bottleneck, image size from the attention pool's positions ((size / 32)^2 + 1),
    the pool's heads as in every released model (width * 32 / 64)."""
    blocks = []
    for stage in range(1, 5):
        pat = re.compile(rf"^visual\.layer{stage}\.(\d+)\.")
        blocks.append(len({m.group(1) for k in sd if (m := pat.match(k))}))
    if min(blocks) == 0:
        raise CheckpointError(
            f"{source}: a ResNet CLIP state dict without blocks in stage "
            f"{blocks.index(0) + 1} (no tensor visual.layer{blocks.index(0) + 1}.0.*)",
            hint="the file is damaged or truncated",
        )
    width = sd["visual.layer1.0.conv1.weight"].shape[0]
    rows = sd["visual.attnpool.positional_embedding"].shape[0]
    grid = round(math.sqrt(max(rows - 1, 0)))
    if grid < 1 or grid**2 + 1 != rows:
        raise CheckpointError(
            f"{source}: visual.attnpool.positional_embedding has {rows} rows, not a square "
            "grid of positions plus one",
            hint="the file is damaged or not a CLIP model",
        )
    return ResNetConfig(
        image_size=32 * grid,
        layers=(blocks[0], blocks[1], blocks[2], blocks[3]),
        width=width,
        heads=max(1, width * 32 // 64),
    )


def _text_config(sd: dict[str, torch.Tensor]) -> TextConfig:
    width = sd["ln_final.weight"].shape[0]
    vocab = sd["token_embedding.weight"].shape[0]
    return TextConfig(
        vocab_size=vocab,
        context_length=sd["positional_embedding"].shape[0],
        width=width,
        layers=_layers(sd, ""),
        heads=max(1, width // 64),
        mlp_width=sd["transformer.resblocks.0.mlp.c_fc.weight"].shape[0],
        eos_token_id=vocab - 1,
        pooling="argmax",
    )


# Fields of an architecture read from tensor shapes, named for error messages.
SHAPE_NAMES = {
    key: f"the {key.replace('.', ' ').replace('_', ' ')} the weights' shapes give"
    for key in (
        *(
            f"{tower}.{field}"
            for tower in ("vision", "text")
            for field in ("width", "layers", "heads", "mlp_width", "eps")
        ),
        "vision.image_size",
        "vision.patch_size",
        "text.vocab_size",
        "text.context_length",
        "text.eos_token_id",
        "embed_dim",
        "logit_scale_init",
    )
}


def default_clip_tokenizer(context_length: int) -> ClipTokenizer:
    from clipdesk.model.vocab import clip_tokenizer_json

    return ClipTokenizer.from_str(clip_tokenizer_json(), context_length)
