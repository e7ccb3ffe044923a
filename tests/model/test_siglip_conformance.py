"""SigLIP and fixed-resolution SigLIP2 against transformers' SiglipModel, the reference.

Each variant is a random-weight ``SiglipModel`` (small widths and depths, the real key layout
and config format) saved by transformers' ``save_pretrained`` together with the tokenizer and
image processor transformers saves: SigLIP v1's ``SiglipTokenizer`` over a sentencepiece model
trained here (``spiece.model``), and SigLIP2's Gemma-style BPE ``tokenizer.json`` written by
``GemmaTokenizerFast``. Raw strings and odd-sized photos go through each side's own tokenizer and
processor; embeddings, token ids and sigmoid probabilities must agree.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from clipdesk.common.errors import CheckpointError
from clipdesk.model import load_model
from clipdesk.model.checkpoint import load_checkpoint
from tests.model import hf_reference
from tests.support.conformance import (
    TEXTS,
    TOL,
    assert_told_apart,
    max_diff,
    photos,
)
from tests.support.tokenizer_folders import (
    gemma_tokenizer,
    save_siglip2_tokenizer,
    save_siglip_tokenizer,
)

transformers = pytest.importorskip("transformers")
pytest.importorskip("google.protobuf", reason="transformers' SiglipTokenizer needs protobuf")

SHARPEN = 4  # see _build_hf_siglip
SIGLIP_TEXTS = [
    *TEXTS,
    "A Photo of TWO Dogs, running (fast)!",
    "  leading and trailing spaces  ",
    "ΟΔΟΣ στην Αθήνα",
    "İstanbul'da bir kedi",
    "word\u2581marker and\ttabs",
    "\u00a0non-breaking\u2003spaces",
]


def _vision_tower(
    width: int, mlp: int, layers: int, heads: int, image_size: int, patch: int
) -> dict[str, int]:
    """A SiglipVisionConfig's size fields."""
    return {
        "hidden_size": width,
        "intermediate_size": mlp,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "image_size": image_size,
        "patch_size": patch,
    }


def _build_hf_siglip(vocab_size: int, vision: dict, seed: int, scale: float):
    from transformers import SiglipConfig, SiglipModel

    text = {
        "vocab_size": vocab_size,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "max_position_embeddings": 64,
        "projection_size": vision["hidden_size"],
        "pad_token_id": 1,
        "bos_token_id": None,
        "eos_token_id": 1,
    }
    cfg = SiglipConfig(text_config=text, vision_config=vision)
    torch.manual_seed(seed)
    model = SiglipModel(cfg).eval()
    with torch.no_grad():  # a trained-like temperature rather than transformers' log(1)
        model.logit_scale.fill_(math.log(scale))
        # At transformers' initial scale the attention is nearly uniform, so the last (padding)
        # position the text is read at hardly sees the text: sharpen it as training does, or
        # every text would get nearly the same vector and the comparison would prove little.
        model.text_model.embeddings.token_embedding.weight.mul_(SHARPEN)
        for tower in (model.text_model, model.vision_model):
            for layer in tower.encoder.layers:
                layer.self_attn.q_proj.weight.mul_(SHARPEN)
                layer.self_attn.k_proj.weight.mul_(SHARPEN)
    return model


class Variant:
    """One reference model saved as a hub folder, with its tokenizer and image processor as
    transformers reads them back from that folder."""

    def __init__(self, hf_model, folder: Path, tokenizer, resample: int = 3) -> None:
        from transformers import AutoImageProcessor

        self.hf = hf_model
        self.folder = folder
        size = hf_model.config.vision_config.image_size
        transformers.SiglipImageProcessorPil(
            size={"height": size, "width": size}, resample=resample
        ).save_pretrained(str(folder))
        self.processor = AutoImageProcessor.from_pretrained(str(folder))
        self.tokenizer = tokenizer
        self.images = photos()
        self.texts = SIGLIP_TEXTS
        # Random towers give similarities near 0, where a trained bias (about -10) makes every
        # probability about 0 and hides a wrong temperature or bias: centre them on 1/2 instead.
        with torch.no_grad():
            hf_model.logit_bias.zero_()
            logits = self.ref_logits(self.images, self.texts)
            hf_model.logit_bias.fill_(-float(logits.median()))
        hf_model.save_pretrained(str(folder))

    def ref_ids(self, texts) -> torch.Tensor:
        batch = self.tokenizer(
            texts, padding="max_length", truncation=True, max_length=64, return_tensors="pt"
        )
        return batch["input_ids"]

    @torch.no_grad()
    def ref_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        pixels = self.processor(images=self.images, return_tensors="pt")["pixel_values"]
        img = hf_reference.features(self.hf.get_image_features(pixel_values=pixels))
        txt = hf_reference.features(self.hf.get_text_features(input_ids=self.ref_ids(self.texts)))
        return torch.nn.functional.normalize(img, dim=-1), torch.nn.functional.normalize(
            txt, dim=-1
        )

    @torch.no_grad()
    def ref_logits(self, images, texts) -> torch.Tensor:
        pixels = self.processor(images=images, return_tensors="pt")["pixel_values"]
        return self.hf(input_ids=self.ref_ids(texts), pixel_values=pixels).logits_per_image


@pytest.fixture(scope="module")
def siglip_v1(tmp_path_factory) -> Variant:
    """SigLIP v1: spiece.model through SiglipTokenizer, patch 16 at 64 px."""
    from transformers import SiglipTokenizer

    folder = save_siglip_tokenizer(tmp_path_factory.mktemp("siglip") / "siglip-v1")
    assert (folder / "spiece.model").is_file() and not (folder / "tokenizer.json").exists()
    tokenizer = SiglipTokenizer.from_pretrained(str(folder))
    vision = _vision_tower(width=96, mlp=192, layers=2, heads=4, image_size=64, patch=16)
    hf = _build_hf_siglip(tokenizer.vocab_size + 7, vision, seed=1, scale=10.0)
    return Variant(hf, folder, tokenizer)


@pytest.fixture(scope="module")
def siglip2(tmp_path_factory) -> Variant:
    """Fixed-resolution SigLIP2: Gemma's tokenizer.json with add_bos_token=False and
    add_eos_token=True (as SigLIP2's), read back by transformers' Siglip2Tokenizer, which adds
    SigLIP2's training-time lower-casing; patch 14 at 60 px leaves pixels past the last whole
    patch, as so400m/14 at 384 px does. The temperature is So400m/16's (big_vision's demo: 109.9)."""
    from transformers.models.siglip2.tokenization_siglip2 import Siglip2Tokenizer

    folder = save_siglip2_tokenizer(tmp_path_factory.mktemp("siglip2") / "siglip2")
    tokenizer = Siglip2Tokenizer.from_pretrained(str(folder))
    vision = _vision_tower(width=64, mlp=160, layers=3, heads=2, image_size=60, patch=14)
    hf = _build_hf_siglip(len(tokenizer), vision, seed=4, scale=109.9)
    return Variant(hf, folder, tokenizer)


@pytest.fixture(scope="module")
def siglip2_bilinear(siglip2, tmp_path_factory) -> Variant:
    """SigLIP2 as Google's repositories ship it: SiglipImageProcessor with "resample": 2, so
    photos are resized bilinear (google/siglip2-base-patch16-224's preprocessor_config.json)."""
    from transformers.models.siglip2.tokenization_siglip2 import Siglip2Tokenizer

    folder = tmp_path_factory.mktemp("siglip2-bilinear") / "siglip2"
    shutil.copytree(siglip2.folder, folder)
    tokenizer = Siglip2Tokenizer.from_pretrained(str(folder))
    vision = _vision_tower(width=64, mlp=160, layers=3, heads=2, image_size=60, patch=14)
    hf = _build_hf_siglip(len(tokenizer), vision, seed=5, scale=109.9)
    variant = Variant(hf, folder, tokenizer, resample=2)
    assert json.loads((folder / "preprocessor_config.json").read_text())["resample"] == 2
    return variant


VARIANTS = ["siglip_v1", "siglip2", "siglip2_bilinear"]


@pytest.mark.parametrize("name", VARIANTS)
def test_token_ids_match_transformers(request, name):
    v = request.getfixturevalue(name)
    ours = load_checkpoint(v.folder).tokenizer(v.texts)
    assert ours.shape == (len(v.texts), 64)
    assert torch.equal(ours, v.ref_ids(v.texts))


@pytest.mark.parametrize("name", VARIANTS)
def test_embeddings_match_transformers(request, name):
    v = request.getfixturevalue(name)
    model = load_model(v.folder, device="cpu")
    ref_img, ref_txt = v.ref_embeddings()
    img, txt = model.encode_images(v.images), model.encode_texts(v.texts)
    img_diff, txt_diff = max_diff(img, ref_img), max_diff(txt, ref_txt)
    print(f"{name}: max abs diff images {img_diff:.2e}, texts {txt_diff:.2e}")
    assert img_diff <= TOL and txt_diff <= TOL, (img_diff, txt_diff)
    assert_told_apart(img, txt)


@pytest.mark.parametrize("name", VARIANTS)
def test_sigmoid_probabilities_match_transformers(request, name):
    v = request.getfixturevalue(name)
    model = load_model(v.folder, device="cpu")
    assert (model.family, model.scoring) == ("siglip", "sigmoid")
    sim = model.encode_images(v.images) @ model.encode_texts(v.texts).T
    assert model.logit_bias is not None
    ours = 1 / (1 + np.exp(-(model.logit_scale * sim + model.logit_bias)))
    ref = torch.sigmoid(v.ref_logits(v.images, v.texts)).numpy()
    assert ((ref > 0.05) & (ref < 0.95)).sum() >= 10  # where a wrong scale or bias shows
    diff = float(np.abs(ours - ref).max())
    print(f"{name}: max abs diff of sigmoid probabilities {diff:.2e}")
    assert diff <= TOL, diff


def test_model_facts(siglip_v1, siglip2):
    m = load_model(siglip_v1.folder, device="cpu")
    assert (m.dim, m.image_size) == (96, 64)
    assert m.logit_scale == pytest.approx(10.0, rel=1e-5)
    assert m.logit_bias == pytest.approx(float(siglip_v1.hf.logit_bias.detach()))
    assert not m.preprocessor.cfg.crop and m.preprocessor.cfg.mean == (0.5, 0.5, 0.5)
    m2 = load_model(siglip2.folder, device="cpu")
    assert (m2.dim, m2.image_size, m2.config.vision.grid) == (64, 60, 4)
    assert m2.logit_scale == pytest.approx(109.9, rel=1e-5)  # SigLIP's is not capped at 100
    assert m2.logit_bias == pytest.approx(float(siglip2.hf.logit_bias.detach()))


def test_bilinear_pixels_are_transformers_own(siglip2_bilinear):
    """SigLIP2's bilinear resize gives transformers' pixels exactly; the bicubic one (what the
    file does not say) would not, so the embeddings above did tell the two apart."""
    from dataclasses import replace

    from clipdesk.model.preprocess import Preprocessor

    v = siglip2_bilinear
    pre = load_checkpoint(v.folder).preprocess
    assert (pre.resample, pre.crop, pre.size) == ("bilinear", False, 60)
    theirs = v.processor(images=v.images, return_tensors="pt")["pixel_values"]
    assert float((Preprocessor(pre).batch(v.images) - theirs).abs().max()) <= 1e-5
    bicubic = Preprocessor(replace(pre, resample="bicubic")).batch(v.images)
    assert float((bicubic - theirs).abs().max()) > 0.05


def test_other_resampling_filters_are_refused_by_name(siglip2_bilinear, tmp_path):
    folder = _copy(siglip2_bilinear, tmp_path)
    _edit_json(folder / "preprocessor_config.json", resample=1)
    with pytest.raises(CheckpointError, match=r"resample is 1 \(lanczos\)"):
        load_checkpoint(folder)


def test_special_tokens_from_tokenizer_config(siglip2, tmp_path):
    """A SigLIP2 folder may keep Gemma's "<bos> $A" post-processor in tokenizer.json and say
    add_bos_token=false / add_eos_token=true in tokenizer_config.json (big_vision's bos="no",
    eos="sticky"). transformers 4 applied those flags when loading; 5 applies them only when
    passed to from_pretrained, as the oracle gets them here."""
    from transformers import GemmaTokenizerFast

    folder = tmp_path / "hub-layout"
    shutil.copytree(siglip2.folder, folder)
    tok_json = json.loads((folder / "tokenizer.json").read_text())
    tok_json["post_processor"] = json.loads(gemma_tokenizer().to_str())["post_processor"]
    (folder / "tokenizer.json").write_text(json.dumps(tok_json))
    flags = {"add_bos_token": False, "add_eos_token": True}
    tok_cfg = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**tok_cfg, **flags}))
    texts = ["a photo of a dog", "x" * 10_000]
    ref = GemmaTokenizerFast.from_pretrained(str(folder), **flags)(
        [t.lower() for t in texts], padding="max_length", truncation=True, max_length=64
    )["input_ids"]
    ours = load_checkpoint(folder).tokenizer(texts)
    assert ours.tolist() == ref
    assert ours[1, -1] == ref[1][-1] == 1  # truncation keeps the end token


def test_siglip2_without_tokenizer_config(siglip2, tmp_path):
    """Without tokenizer_config.json the file's post-processor and Gemma's <pad> apply, padding
    after the text as big_vision does (Siglip2Tokenizer's own default side is the left)."""
    from transformers.models.siglip2.tokenization_siglip2 import Siglip2Tokenizer

    folder = tmp_path / "no-config"
    shutil.copytree(siglip2.folder, folder)
    (folder / "tokenizer_config.json").unlink()
    texts = ["A Photo of a Dog", "x" * 10_000, ""]
    ref = Siglip2Tokenizer.from_pretrained(str(folder), padding_side="right")(
        texts, padding="max_length", truncation=True, max_length=64
    )["input_ids"]
    assert load_checkpoint(folder).tokenizer(texts).tolist() == ref


# --- broken and hostile folders -----------------------------------------------------------


def _copy(variant: Variant, tmp_path: Path) -> Path:
    folder = tmp_path / "copy"
    shutil.copytree(variant.folder, folder)
    return folder


def _edit_json(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    for dotted, value in changes.items():
        node = data
        *parents, key = dotted.split("__")
        for p in parents:
            node = node[p]
        node[key] = value
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"vision_config__num_hidden_layers": 10**6}, "vision_config.num_hidden_layers"),
        ({"text_config__hidden_size": "wide"}, "text_config.hidden_size"),
        ({"vision_config__hidden_act": "relu"}, "vision_config.hidden_act"),
        ({"vision_config__vision_use_head": False}, "vision_config.vision_use_head"),
        ({"text_config__projection_size": 32}, "text_config.projection_size"),
        ({"text_config__vocab_size": 10**9}, "text_config.vocab_size"),
    ],
)
def test_hostile_or_contradictory_config_names_the_field(siglip_v1, tmp_path, change, field):
    folder = _copy(siglip_v1, tmp_path)
    _edit_json(folder / "config.json", **change)
    with pytest.raises(CheckpointError, match=field.replace(".", r"\.")) as err:
        load_checkpoint(folder)
    assert "config.json" in str(err.value)


def test_weights_of_another_size_name_the_tensor(siglip_v1, tmp_path):
    folder = _copy(siglip_v1, tmp_path)
    _edit_json(folder / "config.json", vision_config__intermediate_size=200)
    with pytest.raises(CheckpointError, match="SigLIP architecture.*mlp.fc1.weight"):
        load_checkpoint(folder)


def test_missing_tokenizer_and_wrong_image_size(siglip_v1, tmp_path):
    folder = _copy(siglip_v1, tmp_path)
    _edit_json(folder / "preprocessor_config.json", size={"height": 224, "width": 224})
    with pytest.raises(CheckpointError, match="preprocessor_config.json: size"):
        load_checkpoint(folder)
    shutil.copy(siglip_v1.folder / "preprocessor_config.json", folder)
    (folder / "spiece.model").unlink()
    with pytest.raises(CheckpointError, match="spiece.model is missing"):
        load_checkpoint(folder)
