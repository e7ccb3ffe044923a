"""Families ClipDesk does not run are refused by name, from their real config files (OpenCLIP's
wheel, transformers' own config classes) or, for config-less files, from their tensor names;
malformed checkpoints name their first problem; a ResNet state dict is imported as an OpenCLIP
hub folder that both ClipDesk and OpenCLIP read back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from clipdesk.common.errors import CheckpointError
from clipdesk.model import load_model, manager
from clipdesk.model.checkpoint import load_checkpoint
from tests.support import open_clip_oracle as oracle
from tests.support.conformance import calibrate_batch_norms

pytest.importorskip("transformers")

# OpenCLIP configs of the wheel -> the family their refusal names.
OPENCLIP_FAMILIES = {
    "convnext_base_w": "ConvNeXt",
    "EVA02-B-16": "EVA",
    "EVA01-g-14": "EVA",
    "coca_ViT-B-32": "CoCa",
    "coca_roberta-ViT-B-32": "CoCa",
    "MobileCLIP-S1": "MobileCLIP",
    "MobileCLIP2-B": "MobileCLIP",
    "ViTamin-B": "ViTamin",
    "ViT-B-16-SigLIP": "SigLIP",
    "ViT-SO400M-14-SigLIP2": "SigLIP",
    "PE-Core-B-16": "Perception Encoder",
    "ViT-L-14-CLIPA": "CLIPA",
    "ViT-H-14-worldwide": "MetaCLIP 2",
    "swin_base_patch4_window7_224": "Swin",
    "vit_medium_patch16_gap_256": "timm",
    "roberta-ViT-B-32": "RoBERTa",
    "mt5-base-ViT-B-32": "mT5",
    "nllb-clip-base": "NLLB",
    "ViT-M-16-alt": "layer scale",
}


@pytest.mark.parametrize("config_name", sorted(OPENCLIP_FAMILIES))
def test_openclip_hub_folder_of_a_foreign_family_is_refused_before_its_weights(
    config_name, tmp_path
):
    model_cfg = oracle.model_config(config_name)
    folder = tmp_path / config_name
    folder.mkdir()
    (folder / "open_clip_config.json").write_text(
        json.dumps({"model_cfg": model_cfg, "preprocess_cfg": {"mean": [0.5] * 3}})
    )
    (folder / "open_clip_model.safetensors").write_bytes(b"not even a safetensors file")
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(folder)
    message = info.value.message
    assert OPENCLIP_FAMILIES[config_name] in message and "does not run" in message, message
    assert "open_clip_config.json" in message
    assert "ViT or ResNet image tower" in (info.value.hint or "")


def _hf_config(name: str, **kwargs):
    import transformers

    return getattr(transformers, name)(**kwargs)


HF_FAMILIES = {
    "Siglip2Config": "NaFlex SigLIP2",
    "ChineseCLIPConfig": "Chinese-CLIP",
    "AlignConfig": "ALIGN",
    "AltCLIPConfig": "AltCLIP",
    "BlipConfig": "BLIP",
    "Blip2Config": "BLIP-2",
    "OwlViTConfig": "OWL-ViT",
    "FlavaConfig": "FLAVA",
    "XCLIPConfig": "X-CLIP",
    "MetaClip2Config": "MetaCLIP 2",
    "GroupViTConfig": "GroupViT",
    "ConvNextConfig": "ConvNeXt",
}


@pytest.mark.parametrize("config_class", sorted(HF_FAMILIES))
def test_hugging_face_folder_of_a_foreign_family_is_refused(config_class, tmp_path):
    _hf_config(config_class).save_pretrained(str(tmp_path))  # transformers' own config.json
    with pytest.raises(CheckpointError, match="does not run") as info:
        load_checkpoint(tmp_path)
    assert HF_FAMILIES[config_class] in info.value.message
    assert "config.json" in info.value.message


def test_folder_refused_by_architectures_or_timm_architecture(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["Siglip2Model"]}))
    with pytest.raises(CheckpointError, match="NaFlex SigLIP2"):
        load_checkpoint(tmp_path)
    # timm's own config.json (an image model alone, e.g. timm/convnext_base.clip_laion2b)
    timm = {"architecture": "convnext_base", "num_classes": 640, "pretrained_cfg": {}}
    (tmp_path / "config.json").write_text(json.dumps(timm))
    with pytest.raises(CheckpointError, match="image-only ConvNeXt"):
        load_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(CheckpointError, match="does not run Hugging Face 'bert' models"):
        load_checkpoint(tmp_path)


def _save_pretrained_weights_only(model, folder: Path) -> Path:
    """transformers' own model.safetensors, without the config.json beside it."""
    model.save_pretrained(str(folder))
    return folder / "model.safetensors"


def test_config_less_siglip_files_are_named_by_their_tensors(tmp_path):
    from transformers import Siglip2Config, Siglip2Model, SiglipConfig, SiglipModel

    small = {
        "text_config": {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 1,
                        "num_attention_heads": 2, "vocab_size": 99},
        "vision_config": {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 1,
                          "num_attention_heads": 2},
    }  # fmt: skip
    naflex = _save_pretrained_weights_only(Siglip2Model(Siglip2Config(**small)), tmp_path / "s2")
    with pytest.raises(CheckpointError, match="NaFlex SigLIP2"):
        load_checkpoint(naflex)
    small["vision_config"].update(image_size=32, patch_size=16)
    siglip = _save_pretrained_weights_only(SiglipModel(SiglipConfig(**small)), tmp_path / "s1")
    with pytest.raises(CheckpointError, match="without its config.json") as info:
        load_checkpoint(siglip)
    assert "import that folder" in (info.value.hint or "")


def _small_openclip(name: str, **vision):
    model_cfg = oracle.model_config(name)
    model_cfg["vision_cfg"].update({"width": 64, "layers": 1, "head_width": 32, **vision})
    model_cfg["text_cfg"].update({"width": 64, "heads": 2, "layers": 1})
    return model_cfg


def test_config_less_openclip_files_of_foreign_families_by_their_tensors(tmp_path):
    coca_cfg = _small_openclip("coca_ViT-B-32", attn_pooler_heads=2)
    coca_cfg["text_cfg"]["vocab_size"] = 100
    coca_cfg["multimodal_cfg"].update({"width": 64, "heads": 2, "layers": 1, "vocab_size": 100})
    coca = oracle.import_module("coca_model").CoCa(
        **{k: v for k, v in coca_cfg.items() if k != "custom_text"}
    )
    layer_scale = oracle.import_module("model").CLIP(**_small_openclip("ViT-M-16-alt"))
    for model, family in ((coca, "CoCa"), (layer_scale, "layer scale")):
        path = tmp_path / "model.safetensors"
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
        with pytest.raises(CheckpointError, match="does not run") as info:
            load_checkpoint(path)
        assert family in info.value.message


# Tensor names of towers whose code is not installed here (timm, Apple's MobileCLIP, EVA-CLIP),
# as their modules name their layers; each with a CLIP text tower's names beside it.
TENSOR_FAMILIES = {
    "ConvNeXt": ["visual.trunk.stem.0.weight", "visual.trunk.stages.0.blocks.0.conv_dw.weight",
                 "visual.head.proj.weight"],
    "MobileCLIP FastViT": ["visual.trunk.stem.0.conv_kxk.0.conv.weight",
                           "visual.trunk.stages.0.blocks.0.token_mixer.mixer.conv_kxk.0.conv.weight"],
    "EVA": ["visual.trunk.patch_embed.proj.weight", "visual.trunk.blocks.0.attn.q_proj.weight",
            "visual.trunk.blocks.0.mlp.fc1_g.weight"],
    "ViTamin": ["visual.trunk.patch_embed.backbone.stem.conv1.weight",
                "visual.trunk.blocks.0.mlp.w0.weight"],
    "Swin": ["visual.trunk.layers.0.blocks.0.attn.relative_position_bias_table"],
    "OpenCLIP-format SigLIP": ["visual.trunk.attn_pool.latent", "visual.trunk.blocks.0.attn.qkv.weight"],
    "timm image tower": ["visual.trunk.blocks.0.attn.qkv.weight", "visual.head.proj.weight"],
    "MobileCLIP (Apple": ["image_encoder.model.stem.0.reparam_conv.weight",
                          "text_encoder.embedding_layer.weight"],
    "EVA-CLIP": ["visual.patch_embed.proj.weight", "visual.blocks.0.attn.q_bias"],
    "Hugging Face text tower": ["visual.conv1.weight",
                                "text.transformer.encoder.layer.0.attention.self.query.weight"],
}  # fmt: skip


@pytest.mark.parametrize("family", sorted(TENSOR_FAMILIES))
def test_config_less_file_is_named_by_its_tensor_names(family, tmp_path):
    sd = {k: torch.zeros(2, 2) for k in TENSOR_FAMILIES[family]}
    sd.update({k: torch.zeros(2, 2) for k in ("token_embedding.weight", "ln_final.weight")})
    path = tmp_path / "weights.safetensors"
    save_file(sd, str(path))
    with pytest.raises(CheckpointError, match="does not run") as info:
        load_checkpoint(path)
    assert family in info.value.message and str(path) in info.value.message


# --- malformed checkpoints name the first problem ---


@pytest.fixture(scope="module")
def vit_state_dict():
    model_cfg = _small_openclip("ViT-B-32")
    torch.manual_seed(0)
    model = oracle.import_module("model").CLIP(**model_cfg)
    return model_cfg, {k: v.contiguous() for k, v in model.state_dict().items()}


def test_missing_tensor_is_named(vit_state_dict, tmp_path):
    _, sd = vit_state_dict
    broken = dict(sd)
    del broken["visual.ln_post.weight"]
    path = tmp_path / "missing.safetensors"
    save_file(broken, str(path))
    with pytest.raises(CheckpointError, match=r"missing 1 tensors \(visual.ln_post.weight\)"):
        load_checkpoint(path)


def test_hub_config_that_contradicts_its_weights_names_the_tensor(vit_state_dict, tmp_path):
    model_cfg, sd = vit_state_dict
    folder = tmp_path / "hub"
    folder.mkdir()
    model_cfg = json.loads(json.dumps(model_cfg))
    model_cfg["embed_dim"] = 48  # the weights project to 512
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": model_cfg}))
    save_file(sd, str(folder / "open_clip_model.safetensors"))
    with pytest.raises(CheckpointError, match="wrong shapes: ") as info:
        load_checkpoint(folder)
    assert "text_projection (64, 512) (expected (64, 48))" in info.value.message


def test_truncated_and_unreadable_files_say_so(vit_state_dict, tmp_path):
    model_cfg, sd = vit_state_dict
    folder = tmp_path / "hub"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": model_cfg}))
    path = folder / "open_clip_model.safetensors"
    save_file(sd, str(path))
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        load_checkpoint(folder)
    (folder / "open_clip_config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not readable JSON"):
        load_checkpoint(folder)
    (folder / "open_clip_config.json").write_text(json.dumps({"preprocess_cfg": {}}))
    with pytest.raises(CheckpointError, match="no model_cfg object"):
        load_checkpoint(folder)


# --- a ResNet state dict imported as an OpenCLIP hub folder ---


def test_imported_resnet_state_dict_round_trips_as_openclip_hub_folder(tmp_path):
    model_cfg = oracle.model_config("RN50")
    model_cfg["embed_dim"] = 32
    model_cfg["vision_cfg"].update(width=16, layers=[1, 1, 2, 1])
    # text heads of width / 64, which is what a config-less file's shapes are read with
    model_cfg["text_cfg"].update(width=128, heads=2, layers=1)
    torch.manual_seed(3)
    model = oracle.import_module("model").CLIP(**model_cfg).eval()
    calibrate_batch_norms(model, torch.randn(4, 3, 224, 224))
    src = tmp_path / "rn50-small.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(src))

    info = manager.import_model(src, act="gelu")
    stored = {p.name for p in info.path.iterdir()}
    assert {"open_clip_config.json", "open_clip_model.safetensors", "clipdesk.json"} <= stored
    assert "config.json" not in stored  # the Hugging Face layout has no ResNet
    assert info.name == "rn50-small" and "rn50-small" in [m.name for m in manager.list_models()]

    rng = np.random.default_rng(0)
    from PIL import Image

    photos = [Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)) for h, w in
              ((300, 500), (640, 200))]  # fmt: skip
    texts = ["a dog on a sofa", "la tour eiffel"]
    direct, stored_model = load_model(src, device="cpu", act="gelu"), load_model(info.name, "cpu")
    assert stored_model.config == direct.config
    assert np.abs(stored_model.encode_images(photos) - direct.encode_images(photos)).max() == 0
    assert np.abs(stored_model.encode_texts(texts) - direct.encode_texts(texts)).max() == 0

    # OpenCLIP reads the stored folder back: its model from our config takes our weights as
    # they are, and embeds as it did before the round trip.
    from safetensors.torch import load_file

    hub = json.loads((info.path / "open_clip_config.json").read_text())
    assert hub["model_cfg"]["vision_cfg"]["layers"] == [1, 1, 2, 1]
    assert hub["preprocess_cfg"]["resize_mode"] == "shortest"
    again = oracle.import_module("model").CLIP(**hub["model_cfg"]).eval()
    again.load_state_dict(load_file(str(info.path / "open_clip_model.safetensors")), strict=True)
    pixels = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(again.encode_image(pixels), model.encode_image(pixels), atol=1e-5)
    shutil.rmtree(info.path)
