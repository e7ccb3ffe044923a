"""ClipDesk's XLM-RoBERTa CLIP against OpenCLIP's own model (``CustomTextCLIP``, whose text tower
``HFTextEncoder`` is transformers' ``XLMRobertaModel`` with mean pooling and a projection):
random weights, the hub folder written by OpenCLIP's ``save_for_hf``, a unigram tokenizer saved
by transformers' ``XLMRobertaTokenizer``; raw strings go through OpenCLIP's ``HFTokenizer`` and
ours, photos through a CLIP image processor and ours. Max abs diff of the normalised embeddings
<= 1e-4 (fp32, CPU)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from clipdesk.common.errors import CheckpointError
from clipdesk.model import load_model
from tests.support import open_clip_oracle
from tests.support.conformance import TOL, assert_told_apart, max_diff, openclip_pixels, photos
from tests.support.tokenizer_folders import save_xlmr_tokenizer

pytest.importorskip("transformers")

TEXTS = [
    "a photo of a cat sleeping on the sofa",
    "一只猫在沙发上睡觉",
    "東京の夜景はとても美しいです",
    "Ein Hund läuft über die grüne Wiese",
    "Un perro corre por la playa al atardecer",
    "🐶 and 🐱 on a sofa!!",
    "",
    "  kids   playing\n\ton the beach  ",
    "“smart quotes” don’t &amp; fish &lt;3",
    "ＬＯＵＤ　ＮＯＩＳＥＳ ﬁsh ‘q’ &amp;amp;amp; \x07bell\u200b",
    "x" * 10_000,
    ("孩子们在海滩上玩耍" * 1200)[:10_000],
    "Los niños juegan en el parque. " * 40,
]


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory) -> Path:
    """A unigram XLM-R tokenizer saved by transformers, as the hub's."""
    return save_xlmr_tokenizer(tmp_path_factory.mktemp("xlmr-tokenizer"))


def _randomise(model: torch.nn.Module, seed: int) -> None:
    """Random weights under which different inputs embed apart: the towers' small initial
    weights give every photo and phrase nearly one embedding (attention that averages, constant
    class, position and token-type embeddings that dominate). Matrices of unit gain (std
    1/sqrt(fan-in)), sharper attention, weaker position and token-type tables; biases and
    LayerNorms random too, so a bias or a norm applied at the wrong place shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            norm = "LayerNorm" in name or any(part.startswith("ln_") for part in name.split("."))
            if name == "logit_scale":
                p.fill_(4.2)
            elif norm:
                p.copy_((1.0 + 0.1 * noise) if name.endswith("weight") else 0.02 * noise)
            elif p.ndim == 1:
                p.copy_(0.02 * noise)
            else:
                gain = 1.0
                if any(k in name for k in ("query.weight", "key.weight", "in_proj_weight")):
                    gain = 3.0
                elif any(k in name for k in ("position_embeddings", "token_type_embeddings")):
                    gain = 0.3
                p.copy_(gain * noise * p[0].numel() ** -0.5)


class Variant:
    """An OpenCLIP model with an XLM-R text tower, its hub folder, and OpenCLIP's embeddings."""

    def __init__(
        self,
        root: Path,
        tokenizer_dir: Path,
        *,
        text: dict,
        embed_dim: int,
        vision_cfg: dict,
        text_cfg: dict,
        seed: int,
        with_text_config: bool,
        weights: str,
        mean_std: tuple[tuple[float, ...], tuple[float, ...]] | None = None,
        old_position_ids: bool = False,
    ) -> None:
        from transformers import XLMRobertaConfig

        model_mod = open_clip_oracle.import_module("model")
        tokenizer_mod = open_clip_oracle.import_module("tokenizer")
        hf_cfg_dir = root / "hf-text-config"
        XLMRobertaConfig(
            vocab_size=len(
                json.loads((tokenizer_dir / "tokenizer.json").read_text())["model"]["vocab"]
            ),
            max_position_embeddings=514,
            type_vocab_size=1,
            layer_norm_eps=1e-5,
            **text,
        ).save_pretrained(str(hf_cfg_dir))
        # The config the hub holds names the text model; the oracle is built from its config.
        model_cfg = {"embed_dim": embed_dim, "vision_cfg": vision_cfg, "text_cfg": text_cfg}
        torch.manual_seed(seed)
        built_text_cfg = {
            **text_cfg,
            "hf_model_name": str(hf_cfg_dir),
            "hf_model_pretrained": False,
        }
        self.model = model_mod.CustomTextCLIP(embed_dim, vision_cfg, built_text_cfg).eval()
        _randomise(self.model, seed)
        constants = open_clip_oracle.import_module("constants")
        mean, std = mean_std or (constants.OPENAI_DATASET_MEAN, constants.OPENAI_DATASET_STD)
        size = vision_cfg["image_size"]
        # What OpenCLIP's factory gives every model it creates (PreprocessCfg's defaults).
        self.preprocess_cfg = {
            "size": size,
            "mode": "RGB",
            "mean": mean,
            "std": std,
            "interpolation": "bicubic",
            "resize_mode": "shortest",
            "fill_color": 0,
        }
        model_mod.set_model_preprocess_cfg(self.model, self.preprocess_cfg)
        if old_position_ids:
            # transformers < 4.31 kept position_ids as a persistent buffer, so OpenCLIP's
            # releases of that time carry text.transformer.embeddings.position_ids.
            emb = self.model.text.transformer.embeddings
            emb.register_buffer("position_ids", emb.position_ids.clone(), persistent=True)
        self.oracle_tokenizer = tokenizer_mod.HFTokenizer(
            str(tokenizer_dir), context_length=text_cfg.get("context_length", 77)
        )
        self.folder = root / "hub"
        open_clip_oracle.hub_writer()(
            self.model,
            tokenizer=self.oracle_tokenizer,
            model_config=model_cfg,
            save_directory=str(self.folder),
            safe_serialization=weights == "safetensors",
        )
        if with_text_config:  # what the catalog stores beside the hub's files
            shutil.copy(hf_cfg_dir / "config.json", self.folder / "hf_text_config.json")

    def image_embeddings(self, images) -> np.ndarray:
        pixels = openclip_pixels(images, self.preprocess_cfg["size"], self.preprocess_cfg)
        with torch.no_grad():
            return self.model.encode_image(pixels, normalize=True).numpy()

    def text_embeddings(self, texts) -> np.ndarray:
        with torch.no_grad():
            return self.model.encode_text(self.oracle_tokenizer(texts), normalize=True).numpy()


VISION = {"image_size": 64, "patch_size": 16, "width": 64, "layers": 2, "head_width": 32}
# The xlm-roberta-base variants' text_cfg (model and tokenizer names, mean pooling) is this
# config's, as the wheel ships it.
BASE_CONFIG = "xlm-roberta-base-ViT-B-32"


def _text_tower(width: int, layers: int, heads: int, mlp: int) -> dict[str, int]:
    """The size fields of an XLMRobertaConfig."""
    return {
        "hidden_size": width,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": mlp,
    }


# The text models' config.json on the hub (FacebookAI/xlm-roberta-base, -large), which
# OpenCLIP fetches by hf_model_name.
HUB_TEXT_CONFIGS = {
    "xlm-roberta-base": _text_tower(width=768, layers=12, heads=12, mlp=3072),
    "xlm-roberta-large": _text_tower(width=1024, layers=24, heads=16, mlp=4096),
}


@pytest.fixture(scope="module")
def mlp_variant(tmp_path_factory, tokenizer_dir) -> Variant:
    """xlm-roberta-base-ViT-B-32's config format (mlp projection, mean pooling), shrunk; heads 32
    wide so only the stored text config can say how many there are; safetensors weights."""
    return Variant(
        tmp_path_factory.mktemp("xlmr-mlp"),
        tokenizer_dir,
        text=_text_tower(width=96, layers=2, heads=3, mlp=160),
        embed_dim=48,
        vision_cfg=VISION,
        text_cfg=open_clip_oracle.model_config(BASE_CONFIG)["text_cfg"],
        seed=1,
        with_text_config=True,
        weights="safetensors",
    )


@pytest.fixture(scope="module")
def linear_variant(tmp_path_factory, tokenizer_dir) -> Variant:
    """A linear projection, a shorter context and no stored text config (the architecture comes
    from the tensor shapes and xlm-roberta-large's 64-wide heads); open_clip_pytorch_model.bin
    with the position_ids buffer of older releases."""
    return Variant(
        tmp_path_factory.mktemp("xlmr-linear"),
        tokenizer_dir,
        text=_text_tower(width=128, layers=3, heads=2, mlp=256),
        embed_dim=64,
        vision_cfg={**VISION, "image_size": 48},
        text_cfg={
            "hf_model_name": "xlm-roberta-large",
            "hf_tokenizer_name": "xlm-roberta-large",
            "hf_proj_type": "linear",
            "context_length": 32,
        },
        seed=2,
        with_text_config=False,
        weights="bin",
        mean_std=((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        old_position_ids=True,
    )


@pytest.fixture(scope="module")
def base_size_variant(tmp_path_factory, tokenizer_dir) -> Variant:
    """xlm-roberta-base's text tower at its real size (768 wide, 12 layers of 12 heads, 3072
    MLP, 514 positions; only the vocabulary is the test tokenizer's) with a small ViT, read from
    the tensor shapes alone, as a folder of the hub's files only is."""
    return Variant(
        tmp_path_factory.mktemp("xlmr-base"),
        tokenizer_dir,
        text=HUB_TEXT_CONFIGS["xlm-roberta-base"],
        embed_dim=512,
        vision_cfg=VISION,
        text_cfg=open_clip_oracle.model_config(BASE_CONFIG)["text_cfg"],
        seed=3,
        with_text_config=False,
        weights="safetensors",
    )


def _check(variant: Variant, texts: list[str] = TEXTS) -> tuple[float, float]:
    model = load_model(variant.folder, device="cpu")
    images = photos()
    ours_img = model.encode_images(images)
    ours_txt = model.encode_texts(texts)
    img = max_diff(ours_img, variant.image_embeddings(images))
    txt = max_diff(ours_txt, variant.text_embeddings(texts))
    assert_told_apart(ours_img, ours_txt, image_pair=(1, 2))
    return img, txt


def test_xlmr_base_layout_matches_open_clip(mlp_variant):
    img, txt = _check(mlp_variant)
    print(f"max abs diff: images {img:.2e}, texts {txt:.2e}")
    assert img <= TOL and txt <= TOL, (img, txt)


def test_xlmr_linear_projection_from_tensor_shapes_matches_open_clip(linear_variant):
    assert not (linear_variant.folder / "open_clip_model.safetensors").exists()
    img, txt = _check(linear_variant)
    print(f"max abs diff: images {img:.2e}, texts {txt:.2e}")
    assert img <= TOL and txt <= TOL, (img, txt)


def test_xlmr_base_size_text_tower_matches_open_clip(base_size_variant):
    # Short texts only: a 10,000-character one pads the batch to 77 tokens, seconds of CPU at
    # this size; the small variants take the long ones.
    img, txt = _check(base_size_variant, TEXTS[:2])
    print(f"max abs diff: images {img:.2e}, texts {txt:.2e}")
    assert img <= TOL and txt <= TOL, (img, txt)


def test_tokenizer_gives_open_clip_ids_for_raw_strings(mlp_variant, linear_variant):
    for variant in (mlp_variant, linear_variant):
        ours = load_model(variant.folder, device="cpu").tokenizer
        theirs = variant.oracle_tokenizer(TEXTS)
        assert torch.equal(ours(TEXTS, pad_to_context=True), theirs)
        assert ours.context_length == theirs.shape[1]


def test_model_reports_its_family_and_sizes(mlp_variant):
    model = load_model(mlp_variant.folder, device="cpu")
    assert model.family == "xlm-roberta clip"
    assert model.scoring == "softmax"
    assert (model.dim, model.image_size) == (48, 64)
    assert model.logit_scale == pytest.approx(float(np.exp(4.2)), rel=1e-5)


@pytest.mark.parametrize("name", ["xlm-roberta-base-ViT-B-32", "xlm-roberta-large-ViT-H-14"])
def test_wheel_configs_build_open_clips_tensor_layout(name, tmp_path):
    """The full-size models of OpenCLIP's model_configs/, built on the meta device (nothing
    allocated) by OpenCLIP and by us: the same tensor names and shapes, and the architecture read
    from the text model's config.json is the one read from the tensors alone."""
    from transformers import XLMRobertaConfig

    from clipdesk.model.families import xlmr

    model_cfg = open_clip_oracle.model_config(name)
    hf_name = model_cfg["text_cfg"]["hf_model_name"]
    XLMRobertaConfig(
        vocab_size=250_002,
        max_position_embeddings=514,
        type_vocab_size=1,
        layer_norm_eps=1e-5,
        **HUB_TEXT_CONFIGS[hf_name],
    ).save_pretrained(str(tmp_path))
    model_mod = open_clip_oracle.import_module("model")
    text_cfg = {**model_cfg["text_cfg"], "hf_model_name": str(tmp_path)}
    with torch.device("meta"):
        theirs = model_mod.CustomTextCLIP(
            model_cfg["embed_dim"],
            model_cfg["vision_cfg"],
            {**text_cfg, "hf_model_pretrained": False},
        ).state_dict()
    source = tmp_path / "open_clip_config.json"
    declared = xlmr.read_hf_text_config(tmp_path / "config.json")
    cfg = xlmr.clip_config({"model_cfg": model_cfg}, declared, source)
    assert cfg == xlmr.clip_config(
        {"model_cfg": model_cfg}, xlmr.text_config_from_shapes(theirs, source), source
    )
    with torch.device("meta"):
        ours = xlmr.XlmrClipModule(cfg).state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {
        k: tuple(v.shape) for k, v in theirs.items()
    }


def _copy(variant: Variant, tmp_path: Path) -> Path:
    folder = tmp_path / "copy"
    shutil.copytree(variant.folder, folder)
    return folder


def _edit_text_cfg(folder: Path, change: dict, drop: tuple[str, ...] = ()) -> None:
    path = folder / "open_clip_config.json"
    config = json.loads(path.read_text())
    text_cfg = config["model_cfg"]["text_cfg"]
    for key in drop:
        del text_cfg[key]
    text_cfg.update(change)
    path.write_text(json.dumps(config))


def test_older_openclip_option_names_are_read(linear_variant, tmp_path):
    """OpenCLIP before 2.23 wrote the projection and pooler as "proj" and "pooler_type"
    (xlm-roberta-base-ViT-B-32.json of that time: "proj": "mlp", "pooler_type":
    "mean_pooler"); the linear projection must be read from "proj", or the weights would not fit
    the default MLP."""
    folder = _copy(linear_variant, tmp_path)
    _edit_text_cfg(folder, {"proj": "linear", "pooler_type": "mean_pooler"}, drop=("hf_proj_type",))
    model = load_model(folder, device="cpu")
    assert max_diff(model.encode_texts(TEXTS), linear_variant.text_embeddings(TEXTS)) <= TOL
    # the same value under both names says one thing
    _edit_text_cfg(folder, {"hf_proj_type": "linear"})
    load_model(folder, device="cpu")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pooler_type": "cls_pooler"}, r"pooled by 'cls_pooler' \(text_cfg.pooler_type\)"),
        ({"proj": "mlp"}, "text_cfg.proj is 'mlp' but text_cfg.hf_proj_type is 'linear'"),
    ],
)
def test_older_option_names_are_checked_as_the_current_ones(
    linear_variant, tmp_path, change, message
):
    folder = _copy(linear_variant, tmp_path)
    _edit_text_cfg(folder, change)
    with pytest.raises(CheckpointError, match=message):
        load_model(folder, device="cpu")


def test_missing_tokenizer_is_named(mlp_variant, tmp_path):
    folder = _copy(mlp_variant, tmp_path)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(CheckpointError, match="tokenizer.json"):
        load_model(folder, device="cpu")


def test_text_config_that_contradicts_the_weights_is_named(mlp_variant, tmp_path):
    folder = _copy(mlp_variant, tmp_path)
    path = folder / "hf_text_config.json"
    hf = json.loads(path.read_text())
    path.write_text(json.dumps({**hf, "num_hidden_layers": 3}))
    with pytest.raises(CheckpointError, match=r"missing \d+ tensors \(text\.transformer\.encoder"):
        load_model(folder, device="cpu")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hf_pooler_type": "cls_pooler"}, "cls_pooler"),
        ({"hf_proj_type": "gated"}, "gated"),
        ({"hf_model_name": "google/mt5-base"}, "mt5"),
    ],
)
def test_text_towers_we_do_not_run_are_refused_by_name(mlp_variant, tmp_path, change, message):
    folder = _copy(mlp_variant, tmp_path)
    path = folder / "open_clip_config.json"
    config = json.loads(path.read_text())
    config["model_cfg"]["text_cfg"].update(change)
    path.write_text(json.dumps(config))
    (folder / "hf_text_config.json").unlink()
    with pytest.raises(CheckpointError, match=message):
        load_model(folder, device="cpu")
