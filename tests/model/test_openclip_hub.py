"""OpenCLIP hub folders against OpenCLIP's own model code (the open-clip-torch wheel).

Every architecture config the wheel ships is either read, giving exactly the tensors OpenCLIP's
model of that config has, or refused naming its family. Shrunk models in the real configs' key
layout, with random weights, are written by OpenCLIP's own hub writer and must embed photos and
phrases as OpenCLIP does (its tokenizer; transformers' image processor set up like the config's
preprocess_cfg, since OpenCLIP's transforms need torchvision).
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import safetensors.torch
import torch

from clipdesk.common.errors import CheckpointError
from clipdesk.model import families, load_model, manager, versions
from clipdesk.model.checkpoint import weights_hash
from clipdesk.model.clip import ClipModule
from clipdesk.model.families import openclip_hub
from clipdesk.model.testing import tiny_random_model
from tests.model import hf_reference as ref
from tests.support import open_clip_oracle as oracle
from tests.support.conformance import (
    TEXTS,
    TOL,
    assert_told_apart,
    calibrate_batch_norms,
    max_diff,
    openclip_pixels,
    varied_photos,
)

# Refused configs: the family word their message must carry, by a part of the config's name
# (first match wins).
FAMILY_WORDS = [
    ("MobileCLIP2-L-14", "timm"),
    ("MobileCLIP", "MobileCLIP"),
    ("EVA", "EVA"),
    ("PE-Core", "Perception Encoder"),
    ("nllb-clip-base-siglip", "SigLIP"),
    ("nllb-clip-large-siglip", "SigLIP"),
    ("SigLIP", "SigLIP"),
    ("CLIPA", "CLIPA"),
    ("worldwide", "MetaCLIP 2"),
    ("ViTamin", "ViTamin"),
    ("coca", "CoCa"),
    ("convnext", "ConvNeXt"),
    ("mt5", "mT5"),
    ("nllb", "NLLB"),
    ("roberta", "RoBERTa"),
    ("swin", "Swin"),
    ("vit_", "timm"),
    ("-alt", "layer scale"),
]


def openclip_model(model_cfg: dict[str, Any]) -> torch.nn.Module:
    mod = oracle.import_module("model")
    kwargs = {k: v for k, v in model_cfg.items() if k != "custom_text"}
    cls = mod.CustomTextCLIP if model_cfg.get("custom_text") else mod.CLIP
    return cls(**kwargs)


# --- (a) every config in the wheel ---


def test_every_openclip_config_is_read_exactly_or_refused_by_family():
    supported, delegated, refused, problems = [], [], [], []
    for path in sorted(oracle.model_configs_dir().glob("*.json")):
        model_cfg = json.loads(path.read_text())
        name = path.stem
        if model_cfg["text_cfg"].get("hf_model_name", "").startswith("xlm-roberta"):
            # XLM-RoBERTa text towers are read by clipdesk.model.families.xlmr (its own
            # conformance test); the oracle is not built here because OpenCLIP's HFTextEncoder
            # fetches the tower's config.json from the hub, which needs a network.
            delegated.append(name)
            continue
        try:
            cfg = openclip_hub.clip_config({"model_cfg": model_cfg}, path)
        except CheckpointError as exc:
            word = next(w for key, w in FAMILY_WORDS if key in name)
            refused.append(name)
            if word not in exc.message or "does not run" not in exc.message:
                problems.append(f"{name}: refused as {exc.message!r}, expected {word!r}")
            continue
        with torch.device("meta"):
            ours = ClipModule(cfg).state_dict()
            theirs = openclip_model(model_cfg).state_dict()
        got = {k: tuple(v.shape) for k, v in ours.items()}
        want = {k: tuple(v.shape) for k, v in theirs.items()}
        if got != want:
            extra, missing = sorted(set(got) - set(want)), sorted(set(want) - set(got))
            shapes = [f"{k} {got[k]} vs {want[k]}" for k in got if k in want and got[k] != want[k]]
            problems.append(f"{name}: extra {extra[:3]} missing {missing[:3]} shapes {shapes[:3]}")
        supported.append(name)
    assert not problems, "\n".join(problems)
    vits = ("ViT-B-32", "ViT-B-16", "ViT-L-14", "ViT-L-14-336", "ViT-H-14")
    required = {"ViT-B-32-256", *vits, *(f"{n}-quickgelu" for n in vits)}
    required |= {"RN50", "RN50-quickgelu", "RN101", "RN50x4", "RN50x16", "RN50x64"}
    assert required <= set(supported), sorted(required - set(supported))
    assert sorted(delegated) == ["xlm-roberta-base-ViT-B-32", "xlm-roberta-large-ViT-H-14"]
    assert len(supported) >= 40 and len(refused) >= 90


def test_config_read_follows_openclip_rules():
    cfg = openclip_hub.clip_config(
        {"model_cfg": oracle.model_config("ViT-bigG-14")}, Path("x.json")
    )
    assert (cfg.vision.heads, cfg.vision.mlp_width) == (1664 // 104, int(1664 * 4.9231))
    assert cfg.vision.act == cfg.text.act == "gelu"
    quick = openclip_hub.clip_config(
        {"model_cfg": oracle.model_config("ViT-L-14-336-quickgelu")}, Path()
    )
    assert (quick.vision.image_size, quick.vision.patch_size, quick.text.act) == (
        336,
        14,
        "quick_gelu",
    )
    # a repository that names itself (or openai's) as its CLIP-vocabulary tokenizer
    named = oracle.model_config("ViT-B-16")
    named["text_cfg"]["hf_tokenizer_name"] = "laion/CLIP-ViT-B-16-laion2B-s34B-b88K"
    assert openclip_hub.clip_config({"model_cfg": named}, Path()).text.vocab_size == 49408
    rn = openclip_hub.clip_config({"model_cfg": oracle.model_config("RN50x4")}, Path())
    assert (rn.vision.layers, rn.vision.width, rn.vision.heads) == ((4, 6, 10, 6), 80, 40)
    # custom_text keeps the same CLIP text tower under "text." (OpenCLIP's CustomTextCLIP)
    custom = {**oracle.model_config("ViT-L-14"), "custom_text": True}
    cfg = openclip_hub.clip_config({"model_cfg": custom}, Path())
    with torch.device("meta"):
        theirs = {k: v.shape for k, v in openclip_model(custom).state_dict().items()}
        ours = {k: v.shape for k, v in ClipModule(cfg).state_dict().items()}
    assert any(k.startswith("text.") for k in theirs)
    assert openclip_hub.from_custom_text(theirs) == ours


def test_written_model_cfg_reads_back_as_the_same_architecture():
    from clipdesk.model.families.openclip_save import hub_model_config

    read = 0
    for path in sorted(oracle.model_configs_dir().glob("*.json")):
        try:
            cfg = openclip_hub.clip_config({"model_cfg": json.loads(path.read_text())}, path)
        except CheckpointError:
            continue
        again = openclip_hub.clip_config({"model_cfg": hub_model_config(cfg)}, Path())
        assert again == cfg, path.stem
        read += 1
    assert read >= 40


@pytest.mark.parametrize(
    ("tower", "option", "value", "expected"),
    [
        ("vision_cfg", "qk_norm", True, "qk-norm"),
        ("vision_cfg", "act_kwargs", {"approximate": "tanh"}, "activation options"),
        ("vision_cfg", "norm_kwargs", {"elementwise_affine": False}, "LayerNorm options"),
        ("vision_cfg", "pos_embed_type", "rope", "position embeddings"),
        ("vision_cfg", "image_size", [224, 256], "non-square"),
        ("text_cfg", "no_causal_mask", True, "bidirectional"),
        ("text_cfg", "proj_bias", True, "bias"),
        ("text_cfg", "pool_type", "last", "pooled by 'last'"),
        ("text_cfg", "tokenizer_kwargs", {"clean": "canonicalize"}, "tokenizer options"),
        ("text_cfg", "hf_tokenizer_name", "bert-base-uncased", "CLIPA"),
        ("text_cfg", "scale_fc", True, "MLP LayerNorm"),
        ("model_cfg", "init_logit_bias", -10, "sigmoid"),
    ],
)
def test_unimplemented_options_are_refused_by_name(tower, option, value, expected):
    model_cfg = oracle.model_config("ViT-B-32")
    (model_cfg if tower == "model_cfg" else model_cfg[tower])[option] = value
    with pytest.raises(CheckpointError, match="does not run") as info:
        openclip_hub.clip_config({"model_cfg": model_cfg}, Path("open_clip_config.json"))
    assert expected in info.value.message and "open_clip_config.json" in info.value.message


def test_unknown_option_and_hostile_values_name_the_field():
    cases = [
        ("vision_cfg", "new_fancy_option", 1, "vision_cfg.new_fancy_option is an option"),
        ("vision_cfg", "width", 10**9, "vision_cfg.width"),
        ("text_cfg", "context_length", "77", "text_cfg.context_length is '77'"),
        ("vision_cfg", "mlp_ratio", float("nan"), "vision_cfg.mlp_ratio"),
        ("model_cfg", "quick_gelu", "yes", "quick_gelu is 'yes'"),
    ]
    for tower, option, value, expected in cases:
        model_cfg = oracle.model_config("ViT-B-32")
        (model_cfg if tower == "model_cfg" else model_cfg[tower])[option] = value
        with pytest.raises(CheckpointError) as info:
            openclip_hub.clip_config({"model_cfg": model_cfg}, Path("c.json"))
        assert expected in str(info.value), (option, str(info.value))


@pytest.mark.parametrize(
    ("pre", "crop", "expected"),
    [
        ({}, True, None),
        ({"mean": [0.5, 0.5, 0.5], "std": [0.5], "resize_mode": "squash"}, False, None),
        ({"resize_mode": "longest"}, None, "'longest' image resizing"),
        ({"interpolation": "lanczos"}, None, "'lanczos' image resampling"),
        ({"std": [0, 1, 1]}, None, "image_std"),
        ({"size": 256}, None, "preprocess_cfg.size is 256"),
    ],
)
def test_preprocess_cfg(pre, crop, expected):
    config = {"preprocess_cfg": pre}
    if expected is None:
        got = openclip_hub.preprocess_config(config, 224, Path("c.json"))
        assert (got.size, got.crop) == (224, crop)
        if "mean" in pre:
            assert got.mean == got.std == (0.5, 0.5, 0.5)
    else:
        with pytest.raises(CheckpointError, match=expected):
            openclip_hub.preprocess_config(config, 224, Path("c.json"))


@pytest.mark.parametrize(
    ("interpolation", "resample"),
    [(None, "bicubic"), ("bicubic", "bicubic"), ("bilinear", "bilinear"), ("random", "bicubic")],
)
def test_preprocess_interpolation_as_openclips_eval_transform(interpolation, resample):
    """OpenCLIP's image_transform takes bicubic, bilinear and "random", which its eval transform
    resizes bicubic; ClipDesk's own hub writer keeps what it read."""
    from clipdesk.model.families.openclip_save import preprocess_cfg

    for mode in ("shortest", "squash"):
        config = {"preprocess_cfg": {"interpolation": interpolation, "resize_mode": mode}}
        got = openclip_hub.preprocess_config(config, 224, Path("c.json"))
        assert (got.resample, got.crop) == (resample, mode == "shortest")
        again = openclip_hub.preprocess_config({"preprocess_cfg": preprocess_cfg(got)}, 224, Path())
        assert again == got


# --- (b) conformance with OpenCLIP's forward ---


def shrink(name: str, vision: dict[str, Any], text: dict[str, Any], embed_dim: int) -> dict:
    """A real config with smaller towers, every other option (image and patch size, activation,
    MLP ratio) as the wheel has it."""
    cfg = copy.deepcopy(oracle.model_config(name))
    cfg["embed_dim"] = embed_dim
    cfg["vision_cfg"].update(vision)
    cfg["text_cfg"].update(text)
    return cfg


SMALL_TEXT = {"width": 64, "heads": 2, "layers": 2}
VARIANTS = {
    # DataComp's ViT-B-32-256: GELU, 256 px, shortest side + centre crop
    "ViT-B-32-256": (
        shrink("ViT-B-32-256", {"width": 64, "layers": 2, "head_width": 32}, SMALL_TEXT, 32),
        {},
    ),
    # ViT-L/14 at 336 px (GELU), patch 14: 24 x 24 patches; SigLIP-like mean/std
    "ViT-L-14-336": (
        shrink("ViT-L-14-336", {"width": 64, "layers": 2, "head_width": 16}, SMALL_TEXT, 48),
        {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
    ),
    # bigG's head width and fractional MLP ratio with QuickGELU, squashed like Apple's DFN5B
    "ViT-bigG-14-quickgelu": (
        shrink("ViT-bigG-14-quickgelu", {"width": 208, "layers": 2}, SMALL_TEXT, 32),
        {"resize_mode": "squash", "interpolation": "bicubic"},
    ),
    # OpenAI's RN50 layout: bottleneck stages, attention pool (QuickGELU text)
    "RN50-quickgelu": (
        shrink("RN50-quickgelu", {"width": 16, "layers": [1, 2, 1, 1]}, SMALL_TEXT, 32),
        {},
    ),
}


def randomise(model: torch.nn.Module, seed: int, image_size: int) -> None:
    """Every weight random (OpenCLIP's init leaves LayerNorms at 1/0 and biases at 0, which would
    hide a swapped weight and bias), and a ResNet's batch-norm statistics those of its activations
    (on noise, here)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.is_floating_point() and "running_" not in name:
                t.add_(0.05 * torch.randn(t.shape, generator=gen))
        model.logit_scale.fill_(4.0)
    pixels = torch.randn((8, 3, image_size, image_size), generator=gen)
    calibrate_batch_norms(model, pixels)


class HubVariant:
    """One shrunk model saved by OpenCLIP's hub writer, and OpenCLIP's embeddings of it."""

    def __init__(self, name: str, root: Path, vocab_dir: Path, seed: int) -> None:
        self.model_cfg, pre = VARIANTS[name]
        size = self.model_cfg["vision_cfg"]["image_size"]
        torch.manual_seed(seed)
        model = openclip_model(self.model_cfg).eval()
        randomise(model, seed, size)
        constants = oracle.import_module("constants")
        preprocess_cfg = {
            "mean": constants.OPENAI_DATASET_MEAN,
            "std": constants.OPENAI_DATASET_STD,
            **pre,
        }
        oracle.import_module("model").set_model_preprocess_cfg(model, preprocess_cfg)
        self.folder = root / name
        # A CLIP-text model's hub tokenizer is openai/clip-vit-large-patch14's (push_to_hf_hub).
        oracle.hub_writer()(model, ref.hf_tokenizer(vocab_dir), self.model_cfg, self.folder)
        self.images = varied_photos()
        self.texts = TEXTS
        ids = oracle.import_module("tokenizer").SimpleTokenizer()(self.texts, context_length=77)
        with torch.no_grad():
            self.ref_images = model.encode_image(
                openclip_pixels(self.images, size, preprocess_cfg), normalize=True
            )
            self.ref_texts = model.encode_text(ids, normalize=True)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The variants by name, each built once for the module when first asked for."""
    vocab_dir = ref.write_vocab_files(tmp_path_factory.mktemp("vocab"))
    root = tmp_path_factory.mktemp("hub")
    built: dict[str, HubVariant] = {}

    def get(name: str) -> HubVariant:
        if name not in built:
            built[name] = HubVariant(name, root, vocab_dir, seed=list(VARIANTS).index(name))
        return built[name]

    return get


@pytest.mark.parametrize("name", list(VARIANTS))
def test_hub_folder_embeds_as_openclip(hub, name):
    variant = hub(name)
    files = {p.name for p in variant.folder.iterdir()}
    assert {"open_clip_config.json", "open_clip_model.safetensors", "tokenizer.json"} <= files
    assert "open_clip_pytorch_model.bin" in files  # save_for_hf's default: both
    model = load_model(variant.folder, device="cpu")
    img = model.encode_images(variant.images)
    txt = model.encode_texts(variant.texts)
    assert max_diff(img, variant.ref_images) <= TOL
    assert max_diff(txt, variant.ref_texts) <= TOL
    assert_told_apart(img, txt)
    expected = openclip_hub.clip_config({"model_cfg": variant.model_cfg}, Path())
    assert model.config == expected and model.family == "clip"


def test_pytorch_bin_alone_is_read_weights_only(hub, tmp_path):
    variant = hub("ViT-L-14-336")
    folder = tmp_path / "bin-only"
    folder.mkdir()
    for name in ("open_clip_config.json", "open_clip_pytorch_model.bin"):
        (folder / name).write_bytes((variant.folder / name).read_bytes())
    model = load_model(folder, device="cpu")
    assert max_diff(model.encode_texts(variant.texts), variant.ref_texts) <= TOL
    assert max_diff(model.encode_images(variant.images), variant.ref_images) <= TOL


def test_imported_hub_folder_keeps_its_files(hub):
    variant = hub("RN50-quickgelu")
    info = manager.import_model(variant.folder, name="rn-hub")
    stored = {p.name for p in info.path.iterdir()}
    assert {"open_clip_config.json", "open_clip_model.safetensors", "clipdesk.json"} <= stored
    assert "rn-hub" in [m.name for m in manager.list_models()]
    model = load_model("rn-hub", device="cpu")
    assert max_diff(model.encode_images(variant.images), variant.ref_images) <= TOL
    assert model.name == "rn-hub" and model.meta["source"] == "import"


def test_model_id_of_a_hub_folder_is_the_loaded_models_id(hub):
    """The id a library's vectors are stored under, computed without loading the model (as
    activating a model with a library open does), is the one the loaded model has."""
    folder = hub("RN50-quickgelu").folder
    model = load_model(folder, device="cpu")
    assert versions.model_id_of(folder) == model.id
    assert versions.image_key(folder) == (model.id, model.id)
    assert families.weight_files(folder) == [folder / "open_clip_model.safetensors"]


def _both_layouts(variant: HubVariant, tmp_path: Path) -> Path:
    """An OpenCLIP hub folder that also holds another model's Hugging Face config.json and
    model.safetensors (OpenCLIP's ``save_for_hf`` repositories may carry both)."""
    folder = tmp_path / "both"
    shutil.copytree(variant.folder, folder)
    other = tiny_random_model(tmp_path / "other")
    for name in ("config.json", "model.safetensors"):
        shutil.copy(other / name, folder / name)
    return folder


def test_a_folder_with_both_layouts_is_named_by_the_weights_it_loads(hub, tmp_path):
    variant = hub("ViT-B-32-256")
    folder = _both_layouts(variant, tmp_path)
    model = load_model(folder, device="cpu")
    assert max_diff(model.encode_texts(variant.texts), variant.ref_texts) <= TOL
    assert model.weights_hash == weights_hash([folder / "open_clip_model.safetensors"])
    assert versions.model_id_of(folder) == model.id


def test_import_copies_only_the_weights_the_loader_reads(hub, tmp_path):
    variant = hub("ViT-B-32-256")
    folder = _both_layouts(variant, tmp_path)
    assert {"open_clip_pytorch_model.bin", "model.safetensors"} <= {
        p.name for p in folder.iterdir()
    }
    info = manager.import_model(folder, name="both-layouts")
    stored = {p.name for p in info.path.iterdir()}
    assert "open_clip_model.safetensors" in stored
    assert not stored & {"open_clip_pytorch_model.bin", "model.safetensors"}
    assert {"open_clip_config.json", "tokenizer.json", "config.json"} <= stored  # small files
    model = load_model("both-layouts", device="cpu")
    assert max_diff(model.encode_images(variant.images), variant.ref_images) <= TOL
    assert versions.model_id_of(info.path) == model.id


def test_saved_hub_folder_keeps_openclips_tensor_types(hub, tmp_path):
    """ClipDesk's own hub writer (used for imported ResNet files) stores floating tensors as
    float32 and the batch norms' integer step counters as the integers OpenCLIP has."""
    from clipdesk.model.checkpoint import load_checkpoint
    from clipdesk.model.families.openclip_save import save_hub_folder

    variant = hub("RN50-quickgelu")
    ckpt = load_checkpoint(variant.folder)
    folder = save_hub_folder(ckpt.module, ckpt.tokenizer, tmp_path / "saved", name="rn")
    saved = safetensors.torch.load_file(str(folder / "open_clip_model.safetensors"))
    theirs = openclip_model(variant.model_cfg).state_dict()
    counters = [k for k in theirs if k.endswith("num_batches_tracked")]
    assert counters and all(saved[k].dtype == torch.int64 for k in counters)
    assert {k: v.dtype for k, v in saved.items()} == {k: v.dtype for k, v in theirs.items()}
    model = load_model(folder, device="cpu")
    assert max_diff(model.encode_images(variant.images), variant.ref_images) <= TOL


def test_hub_folder_without_weights_or_with_foreign_weights(hub, tmp_path):
    variant = hub("ViT-B-32-256")
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "open_clip_config.json").write_bytes(
        (variant.folder / "open_clip_config.json").read_bytes()
    )
    with pytest.raises(CheckpointError, match="no open_clip_model.safetensors"):
        load_model(folder, device="cpu")
    # weights of another architecture than the config describes: the problems named
    other = VARIANTS["ViT-L-14-336"][0]
    safetensors.torch.save_file(
        {k: torch.zeros(v.shape) for k, v in openclip_model(other).state_dict().items()},
        str(folder / "open_clip_model.safetensors"),
    )
    with pytest.raises(CheckpointError, match="does not fit the architecture") as info:
        load_model(folder, device="cpu")
    assert "visual.positional_embedding (577, 64) (expected (65, 64))" in info.value.message
    # a config whose text vocabulary cannot hold CLIP's tokenizer is refused before the weights
    config = json.loads((folder / "open_clip_config.json").read_text())
    config["model_cfg"]["text_cfg"]["vocab_size"] = 1000
    (folder / "open_clip_config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="too small for CLIP's tokenizer"):
        load_model(folder, device="cpu")
