"""The download catalog: the models a user would pick, each with every fact the picker shows, every
published figure with its source, file lists in the layouts the loaders read, and architecture
facts that agree with OpenCLIP's own model configs and with what our builders build."""

from __future__ import annotations

import json
import re

import pytest
import torch

from clipdesk.model import architectures, speed
from clipdesk.model.catalog import (
    ARCHITECTURES,
    CATALOG,
    HF_CLIP_FILES,
    METRICS,
    OPENCLIP_HUB_FILES,
    SIGLIP_FILES,
)
from clipdesk.model.families import openclip_hub, xlmr
from clipdesk.model.families.hub_tokenizer import TOKENIZER_FILE
from clipdesk.model.families.spiece_tokenizer import SPIECE_FILE
from tests.support import open_clip_oracle

REQUIRED_REPOS = {
    "openai/clip-vit-base-patch32",
    "openai/clip-vit-base-patch16",
    "openai/clip-vit-large-patch14",
    "laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
    "laion/CLIP-ViT-B-32-256x256-DataComp-s34B-b86K",
    "google/siglip2-base-patch16-224",
    "google/siglip2-base-patch32-256",
    "google/siglip-base-patch16-224",
    "laion/CLIP-ViT-B-32-xlm-roberta-base-laion5B-s13B-b90k",
    "timm/resnet50_clip.openai",
}
# A source is a file at a fixed commit, so the figure can be checked against what it was read from.
PINNED_SOURCE = re.compile(r"^https://github\.com/[\w.-]+/[\w.-]+/blob/[0-9a-f]{40}/\S+$")


def test_the_catalog_has_the_models_users_pick():
    assert len(CATALOG) >= 12
    assert {e.repo_id for e in CATALOG.values()} >= REQUIRED_REPOS
    families = {e.family for e in CATALOG.values()}
    assert families == {"clip", "siglip", "xlm-roberta clip"}
    assert any(len(e.languages) > 10 for e in CATALOG.values())  # a multilingual model
    assert len({e.name for e in CATALOG.values()}) == len(CATALOG)


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_every_entry_has_every_fact_and_sourced_figures(name):
    e = CATALOG[name]
    assert e.title and e.description and e.repo_id and e.arch is not None
    assert e.arch.embed_dim > 0 and e.arch.image_size in (224, 256)
    assert e.arch.params_m and e.approx_bytes == int(e.arch.params_m * 4e6)
    assert e.languages and all(re.fullmatch(r"[a-z]{2,3}", lang) for lang in e.languages)
    assert e.figures and e.quality() is not None
    for f in e.figures:
        assert f.metric in METRICS and 0 < f.value <= 100
        assert PINNED_SOURCE.match(f.source.url), f.source.url
        assert f.note, "each figure says under which name its source lists the model"
        assert f.language in e.languages or f.metric != "xm3600"
    # Sizes and hashes are verified against the hub at download time; none may be made up here.
    for f in e.files:
        assert f.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", f.sha256)
        assert f.size is None or f.size > 0
    json.dumps(e.to_json())


def test_figures_are_the_ones_the_sources_publish():
    """A few spot checks against OpenCLIP's results table and Immich's model table."""

    def value(name, metric, language="en"):
        return next(
            f.value for f in CATALOG[name].figures if f.metric == metric and f.language == language
        )

    assert value("clip-vit-base-patch32", "imagenet") == 63.32
    assert value("datacomp-clip-vit-b-32-256", "imagenet") == 72.81  # rclip's default
    assert value("siglip2-base-patch16-224", "xm3600") == 75.19
    assert value("xlm-roberta-base-clip-vit-b-32", "mscoco_ml_r5", "ja") == 78.3
    # Where a source has no figure for a model, there is none (never a guess).
    assert not [f for f in CATALOG["siglip2-base-patch32-256"].figures if f.metric == "imagenet"]
    assert not [f for f in CATALOG["datacomp-clip-vit-l-14"].figures if f.metric == "xm3600"]


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_files_are_what_the_layouts_loader_reads(name):
    e = CATALOG[name]
    local = {f.local_name for f in e.files}
    required = {f.local_name for f in e.files if f.required and f.one_of is None}
    if e.layout == "hf-clip":
        assert e.files == HF_CLIP_FILES
        assert required == {"config.json", "model.safetensors"}
    elif e.layout == "siglip":
        assert e.files == SIGLIP_FILES
        assert required == {"config.json", "model.safetensors"}
        # v1 repositories ship spiece.model, SigLIP2 ones tokenizer.json: one of them is fetched
        tokenizers = [f.name for f in e.files if f.one_of == "tokenizer"]
        assert tokenizers == [TOKENIZER_FILE, SPIECE_FILE]
    else:
        assert e.files[: len(OPENCLIP_HUB_FILES)] == OPENCLIP_HUB_FILES
        assert openclip_hub.CONFIG_FILE in required
        weights = [f.name for f in e.files if f.one_of == "weights"]
        assert weights and set(weights) <= set(openclip_hub.WEIGHT_FILES)
        # in OpenCLIP's order of preference, safetensors first
        assert weights == [w for w in openclip_hub.WEIGHT_FILES if w in weights]
    if e.family == "xlm-roberta clip":
        text_repo = "FacebookAI/" + e.arch.config["text_cfg"]["hf_model_name"]
        from_text_repo = {f.local_name for f in e.files if f.repo == text_repo}
        assert from_text_repo == {xlmr.HF_TEXT_CONFIG, xlmr.TOKENIZER_FILE}
        assert e.repos == (e.repo_id, text_repo)
    else:
        assert all(f.repo is None for f in e.files) and e.repos == (e.repo_id,)
    assert len(local) == len(e.files), "two files would land under one name"


@pytest.mark.parametrize("key", sorted(ARCHITECTURES))
def test_architecture_facts_match_open_clips_model_configs(key):
    arch = ARCHITECTURES[key]
    theirs = open_clip_oracle.model_config(key)
    assert arch.embed_dim == theirs["embed_dim"]
    assert arch.image_size == theirs["vision_cfg"]["image_size"]
    if arch.layout == "openclip-hub":
        for section in ("vision_cfg", "text_cfg"):
            assert arch.config[section] == theirs[section], section
        assert arch.config.get("quick_gelu", False) == theirs.get("quick_gelu", False)
    elif arch.layout == "hf-clip":
        v, t = arch.config["vision_config"], arch.config["text_config"]
        tv, tt = theirs["vision_cfg"], theirs["text_cfg"]
        assert (v["patch_size"], v["hidden_size"], v["num_hidden_layers"]) == (
            tv["patch_size"],
            tv["width"],
            tv["layers"],
        )
        assert (t["hidden_size"], t["num_hidden_layers"], t["num_attention_heads"]) == (
            tt["width"],
            tt["layers"],
            tt["heads"],
        )
        assert (t["vocab_size"], t["max_position_embeddings"]) == (
            tt["vocab_size"],
            tt["context_length"],
        )
        act = "quick_gelu" if theirs.get("quick_gelu") else "gelu"
        assert v["hidden_act"] == t["hidden_act"] == act
    else:  # SigLIP: OpenCLIP names the image tower by its timm model
        v, t = arch.config["vision_config"], arch.config["text_config"]
        timm = re.fullmatch(
            r"vit_base_patch(\d+)_siglip_(\d+)", theirs["vision_cfg"]["timm_model_name"]
        )
        assert timm and (v["patch_size"], v["image_size"]) == (int(timm[1]), int(timm[2]))
        tt = theirs["text_cfg"]
        assert (t["vocab_size"], t["max_position_embeddings"]) == (
            tt["vocab_size"],
            tt["context_length"],
        )
        assert (t["hidden_size"], t["num_hidden_layers"], t["num_attention_heads"]) == (
            tt["width"],
            tt["layers"],
            tt["heads"],
        )
        assert t["layer_norm_eps"] == tt["norm_kwargs"]["eps"]


HUB_ENTRIES = sorted(n for n, e in CATALOG.items() if e.layout == "openclip-hub")


@pytest.mark.parametrize("name", HUB_ENTRIES)
def test_written_open_clip_config_is_what_openclip_builds_the_weights_from(name, tmp_path):
    """A repository without open_clip_config.json gets the catalog's: OpenCLIP's model config of
    the architecture and the preprocessing its pretrained.py gives these weights (found by their
    hub repository); ClipDesk's loader reads it as that architecture."""
    e = CATALOG[name]
    written = e.openclip_config()
    assert written is not None and json.loads(json.dumps(written)) == written
    pretrained = open_clip_oracle.import_module("pretrained")
    found = [
        (model, cfg)
        for model, tags in pretrained._PRETRAINED.items()
        for cfg in tags.values()
        if cfg.get("hf_hub", "").rstrip("/") == e.repo_id
    ]
    assert found, e.repo_id
    pre = written["preprocess_cfg"]
    for model, cfg in found:
        assert pre == {
            "mean": list(cfg["mean"]),
            "std": list(cfg["std"]),
            "interpolation": cfg["interpolation"],
            "resize_mode": cfg["resize_mode"],
        }, model
        # pretrained.py may switch QuickGELU on for the weights (OpenAI's RN50 under "RN50")
        quick = bool(
            cfg.get("quick_gelu") or open_clip_oracle.model_config(model).get("quick_gelu")
        )
        assert written["model_cfg"].get("quick_gelu", False) == quick
    assert any(written["model_cfg"] == open_clip_oracle.model_config(m) for m, _ in found)
    source = tmp_path / openclip_hub.CONFIG_FILE
    got = openclip_hub.preprocess_config(written, e.arch.image_size, source)
    assert (got.size, got.crop, got.resample) == (e.arch.image_size, True, "bicubic")
    if e.family == "xlm-roberta clip":
        text_path = tmp_path / xlmr.HF_TEXT_CONFIG
        text_path.write_text(json.dumps(e.arch.text_config))
        cfg = xlmr.clip_config(written, xlmr.read_hf_text_config(text_path), source)
    else:
        cfg = openclip_hub.clip_config(written, source)
    assert (cfg.embed_dim, cfg.vision.image_size) == (e.arch.embed_dim, e.arch.image_size)
    assert [n for n, e in CATALOG.items() if e.openclip_config() is not None] == [
        n for n in CATALOG if n in HUB_ENTRIES
    ]


@pytest.mark.parametrize("key", sorted(ARCHITECTURES))
def test_builders_build_the_architecture_the_catalog_states(key):
    """Built on the meta device (no memory): the family, embedding size, input size and the
    parameter count the catalog shows (OpenCLIP's published count, or ours where it has none)."""
    arch = ARCHITECTURES[key]
    with torch.device("meta"):
        built = architectures.BUILDERS[(arch.family, arch.layout)](arch)
    module = built.module
    assert module.family == arch.family
    assert (module.embed_dim, module.image_size) == (arch.embed_dim, arch.image_size)
    assert abs(architectures.parameter_count(module) / 1e6 - arch.params_m) < 0.006
    assert built.text_ids.shape[0] == 1


def test_every_architecture_has_a_speed_measured_on_the_catalog_machine():
    """``bench/engine.py --catalog --write`` measured them all, on one machine."""
    speeds = speed.load_catalog_speeds()
    assert speeds is not None, "run: python bench/engine.py --catalog --write"
    assert speeds.machine and re.fullmatch(r"\d{4}-\d\d-\d\d", speeds.measured)
    assert speeds.batch == speed.BATCH and speed.REFERENCE in speeds.archs
    missing = sorted(set(ARCHITECTURES) - set(speeds.archs))
    assert not missing, f"not measured: {missing}; run bench/engine.py --catalog --write"
    for key, s in speeds.archs.items():
        assert s.images_per_s > 0 and s.text_ms > 0 and s.iterations >= 1
        assert abs(s.params / 1e6 - ARCHITECTURES[key].params_m) < 0.006, key
