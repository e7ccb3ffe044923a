"""Telling checkpoint families apart, and refusing the ones ClipDesk does not run.

Three places say what a checkpoint is: a Hugging Face ``config.json`` (``model_type`` and
``architectures``; timm's own configs name an ``architecture``), an OpenCLIP
``open_clip_config.json`` (its towers' options), and, for a config-less state dict, the tensor
names. A refusal names the family it recognised and what ClipDesk supports, so the user knows it
is not a damaged file; nothing is built or loaded before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from clipdesk.common.errors import CheckpointError

FolderKind = Literal["openclip-hub", "siglip", "clip"]

OPENCLIP_CONFIG = "open_clip_config.json"

SUPPORTED = (
    "ClipDesk runs CLIP models with a ViT or ResNet image tower (OpenAI, OpenCLIP, Hugging Face "
    "CLIPModel), SigLIP and fixed-resolution SigLIP2 (Hugging Face SiglipModel), and OpenCLIP's "
    "multilingual XLM-RoBERTa models"
)

# Hugging Face model_type values of image-text families ClipDesk does not run.
_REFUSED_MODEL_TYPES = {
    "siglip2": "NaFlex SigLIP2 (Siglip2Model, variable resolution)",
    "chinese_clip": "Chinese-CLIP",
    "align": "ALIGN",
    "altclip": "AltCLIP",
    "blip": "BLIP",
    "blip-2": "BLIP-2",
    "instructblip": "InstructBLIP",
    "owlvit": "OWL-ViT",
    "owlv2": "OWLv2",
    "xclip": "X-CLIP",
    "clipseg": "CLIPSeg",
    "metaclip_2": "MetaCLIP 2",
    "flava": "FLAVA",
    "groupvit": "GroupViT",
    "vision-text-dual-encoder": "VisionTextDualEncoder",
    "convnext": "ConvNeXt (an image classifier without a text tower)",
    "convnextv2": "ConvNeXt V2 (an image classifier without a text tower)",
    "vit": "ViT (an image classifier without a text tower)",
}
# The same families by their model class, for configs that name only ``architectures``.
_REFUSED_ARCHITECTURES = {
    "Siglip2Model": _REFUSED_MODEL_TYPES["siglip2"],
    "ChineseCLIPModel": "Chinese-CLIP",
    "AlignModel": "ALIGN",
    "AltCLIPModel": "AltCLIP",
    "BlipModel": "BLIP",
    "Blip2Model": "BLIP-2",
    "OwlViTModel": "OWL-ViT",
    "Owlv2Model": "OWLv2",
    "XCLIPModel": "X-CLIP",
    "CLIPSegModel": "CLIPSeg",
    "FlavaModel": "FLAVA",
    "GroupViTModel": "GroupViT",
    "VisionTextDualEncoderModel": "VisionTextDualEncoder",
}

# timm model names (OpenCLIP's vision_cfg.timm_model_name, timm's config.json "architecture"),
# first match wins: "vit_base_mci_224" is MobileCLIP's before it is a ViT.
_TIMM_NAMES = (
    ("fastvit", "MobileCLIP FastViT"),
    ("mci", "MobileCLIP MCi"),
    ("convnext", "ConvNeXt"),
    ("eva", "EVA"),
    ("vitamin", "ViTamin"),
    ("swin", "Swin Transformer"),
    ("pe_core", "Perception Encoder"),
    ("siglip", "OpenCLIP-format SigLIP"),
)
SIGLIP_HINT = (
    "the Hugging Face version of a SigLIP model (SiglipModel: config.json and model.safetensors) "
    "loads; " + SUPPORTED
)

# Tensor names below an OpenCLIP TimmModel's ``visual.trunk.``: what each family's blocks call
# their layers in timm (MobileOne/RepMixer blocks, ConvNeXt blocks, ViTamin's MBConv stem, Swin's
# windows, EVA's split q/k/v and SwiGLU MLP, the attention-pool head of SigLIP and PE).
_TRUNK_MARKERS = (
    (("token_mixer", "reparam_conv", "conv_kxk", "large_conv"), "MobileCLIP FastViT"),
    (("conv_dw",), "ConvNeXt"),
    (("patch_embed.backbone", "conv2_kxk", "mlp.w0"), "ViTamin"),
    (("relative_position_bias_table",), "Swin Transformer"),
    (("q_bias", "q_proj", "fc1_g", "fc1_x"), "EVA"),
    (("attn_pool",), "OpenCLIP-format SigLIP or Perception Encoder"),
)

_HF_TEXT_TOWERS = (
    ("xlm-roberta", "CLIP with an XLM-RoBERTa text tower"),
    ("roberta", "CLIP with a RoBERTa text tower"),
    ("mt5", "CLIP with an mT5 text tower"),
    ("nllb", "CLIP with an NLLB text tower"),
    ("bert", "CLIP with a BERT text tower"),
)


def refuse(source: Path, family: str, hint: str | None = None) -> CheckpointError:
    return CheckpointError(
        f"{source}: ClipDesk does not run {family} models",
        hint=hint or SUPPORTED + "; choose one of those (Settings › Models › Download lists them)",
    )


def folder_kind(folder: Path) -> FolderKind:
    """Which loader reads this folder; a family ClipDesk does not run is refused here."""
    from clipdesk.model.checkpoint import read_json

    if (folder / OPENCLIP_CONFIG).is_file():
        return "openclip-hub"
    config = folder / "config.json"
    if not config.is_file():
        return "clip"  # the CLIP loader says what is missing
    hf = read_json(config)
    check_hf_config(hf, config)
    return "siglip" if hf.get("model_type") == "siglip" else "clip"


def check_hf_config(hf: Mapping[str, Any], source: Path) -> None:
    """Refuse a ``config.json`` of any family but CLIP and SigLIP (by ``model_type``, else by
    ``architectures``, or a timm model's ``architecture``)."""
    model_type = hf.get("model_type")
    if isinstance(model_type, str) and model_type in _REFUSED_MODEL_TYPES:
        raise refuse(source, _REFUSED_MODEL_TYPES[model_type])
    architectures = hf.get("architectures")
    if isinstance(architectures, list):
        for arch in architectures:
            if isinstance(arch, str) and arch in _REFUSED_ARCHITECTURES:
                raise refuse(source, _REFUSED_ARCHITECTURES[arch])
    if model_type is None and isinstance(hf.get("architecture"), str):
        # timm's config.json: an image model alone (OpenCLIP repos add open_clip_config.json)
        raise refuse(source, f"image-only {timm_family(hf['architecture'])}")
    if model_type not in (None, "clip", "siglip"):
        raise refuse(source, f"Hugging Face {model_type!r}")


def timm_family(name: str) -> str:
    """The family of a timm model name, the name itself in brackets."""
    lowered = name.lower()
    family = next(
        (fam for key, fam in _TIMM_NAMES if key in lowered), "CLIP with a timm image tower"
    )
    return f"{family} ({name} in timm)"


def hf_text_family(name: str) -> str:
    lowered = name.lower()
    family = next(
        (fam for key, fam in _HF_TEXT_TOWERS if key in lowered),
        "CLIP with a Hugging Face text tower",
    )
    return f"{family} ({name})"


def is_xlm_roberta(name: object) -> bool:
    return isinstance(name, str) and "xlm-roberta" in name.lower()


def check_openclip_config(model_cfg: Mapping[str, Any], source: Path) -> None:
    """Refuse an OpenCLIP ``model_cfg`` of a family ClipDesk does not run, by name; the options
    of the families it does run are checked one by one by :mod:`.openclip_hub`."""
    vision = _section(model_cfg, "vision_cfg")
    text = _section(model_cfg, "text_cfg")
    if "multimodal_cfg" in model_cfg or vision.get("attentional_pool") or text.get("embed_cls"):
        raise refuse(source, "CoCa (captioning CLIP)")
    timm_name = vision.get("timm_model_name")
    if timm_name:
        hint = SIGLIP_HINT if "siglip" in str(timm_name).lower() else None
        raise refuse(source, timm_family(str(timm_name)), hint=hint)
    hf_model = text.get("hf_model_name")
    if hf_model and not is_xlm_roberta(hf_model):
        raise refuse(source, hf_text_family(str(hf_model)))
    tokenizer = str(text.get("hf_tokenizer_name") or "").lower()
    clipa_vision = vision.get("no_ln_pre") or vision.get("pool_type") == "avg"
    if clipa_vision or (not hf_model and "bert" in tokenizer):
        raise refuse(source, "CLIPA (average-pooled ViT, BERT-tokenized text)")
    if not hf_model and ("xlm-v" in tokenizer or "mt5" in tokenizer):
        raise refuse(source, f"MetaCLIP 2 worldwide (multilingual tokenizer {tokenizer})")
    for tower, section in (("vision_cfg", vision), ("text_cfg", text)):
        if section.get("ls_init_value") is not None:
            raise refuse(source, f"CLIP with layer scale ({tower}.ls_init_value)")


def _section(model_cfg: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = model_cfg.get(key)
    return value if isinstance(value, Mapping) else {}


def check_state_dict(sd: Mapping[str, object], source: Path) -> None:
    """Refuse a config-less state dict whose tensor names belong to a family ClipDesk does not
    run (called before any architecture is inferred from its shapes)."""
    keys = [k.removeprefix("module.") for k in sd]
    if any(k.startswith(("text_decoder.", "text.text_decoder")) for k in keys) or any(
        k.startswith("visual.attn_pool.") for k in keys
    ):
        raise refuse(source, "CoCa (captioning CLIP)")
    trunk = [k for k in keys if k.startswith("visual.trunk.")]
    if trunk:
        raise refuse(source, _marked(trunk, "CLIP with a timm image tower (visual.trunk.*)"))
    if any(k.startswith("image_encoder.") for k in keys):
        # Apple's own MobileCLIP checkpoints: image_encoder (MCi) + text_encoder
        raise refuse(source, "MobileCLIP (Apple's layout)")
    if any(k.startswith(("visual.blocks.", "visual.patch_embed.")) for k in keys):
        raise refuse(source, "EVA-CLIP (EVA image tower)")
    if any(k.startswith("text.transformer.") and ".encoder." in k for k in keys):
        raise refuse(
            source,
            "CLIP with a Hugging Face text tower (text.transformer.*) in a config-less file",
            hint="OpenCLIP's XLM-RoBERTa models load from their hub folder, the one with "
            "open_clip_config.json beside the weights; import that folder",
        )
    if any(".ls_1." in k or ".ls_2." in k for k in keys):
        raise refuse(source, "CLIP with layer scale (ls_1 / ls_2 tensors)")
    if any(
        k.endswith((".attn.ln_inner.weight", ".ln_attn.weight", ".attn.ln_q.weight")) for k in keys
    ):
        raise refuse(source, "CLIP with custom attention blocks (qk-norm / scaled attention)")
    patch = sd.get("vision_model.embeddings.patch_embedding.weight")
    if "logit_bias" in sd and patch is not None and getattr(patch, "ndim", 4) == 2:
        raise refuse(source, _REFUSED_MODEL_TYPES["siglip2"])
    if any(k.startswith("vision_model.head.") for k in keys):
        raise refuse(
            source,
            "SigLIP (Hugging Face SiglipModel) state dict without its config.json",
            hint="SigLIP models load from their Hugging Face folder (config.json, "
            "model.safetensors, tokenizer files); import that folder",
        )


def _marked(keys: Iterable[str], fallback: str) -> str:
    """The family whose layer names appear in ``keys``."""
    joined = "\n".join(keys)
    return next(
        (family for markers, family in _TRUNK_MARKERS if any(m in joined for m in markers)),
        fallback,
    )
