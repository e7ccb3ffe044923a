"""ClipDesk's CLIP engine against transformers' CLIPModel, the reference: the same random weights,
saved in the layouts real checkpoints use, must give the same embeddings (max abs diff <= 1e-4,
fp32, CPU) for the same photos and phrases."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from clipdesk.model import load_model
from clipdesk.model.convert import hf_to_native
from tests.model import hf_reference as ref
from tests.support.conformance import TEXTS, TOL, max_diff, photos

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def vocab_dir(tmp_path_factory):
    return ref.write_vocab_files(tmp_path_factory.mktemp("vocab"))


class Variant:
    """One reference model, its files in every layout, and its reference embeddings."""

    def __init__(self, hf_model, root, vocab_dir, images, texts):
        self.hf = hf_model
        self.folder = ref.save_hf_folder(hf_model, root / "hf-folder", vocab_dir)
        sd = {k: v.contiguous() for k, v in hf_model.state_dict().items()}
        self.hf_named = root / "hf-named.safetensors"
        save_file(sd, str(self.hf_named))
        self.native = root / "openclip.safetensors"
        save_file({k: v.contiguous() for k, v in hf_to_native(sd).items()}, str(self.native))
        n = hf_model.config.text_config.max_position_embeddings
        self.tokenizer = ref.hf_tokenizer(vocab_dir, n)
        self.images, self.texts = images, texts
        self.ref_images = ref.hf_image_embeddings(hf_model, images)
        self.ref_texts = ref.hf_text_embeddings(hf_model, self.tokenizer, texts)

    def check(self, path, **kw) -> tuple[float, float]:
        model = load_model(path, device="cpu", **kw)
        img = max_diff(model.encode_images(self.images), self.ref_images)
        txt = max_diff(model.encode_texts(self.texts), self.ref_texts)
        return img, txt


@pytest.fixture(scope="module")
def vit_b32(tmp_path_factory, vocab_dir):
    """ViT-B/32 with transformers' CLIPConfig defaults (quick_gelu), random weights."""
    hf_model = ref.build_hf_clip()
    assert hf_model.config.vision_config.hidden_act == "quick_gelu"
    assert hf_model.config.vision_config.patch_size == 32
    images = [photos()[i] for i in (1, 3, 6, 7)]  # fewer: every image costs ~0.1 s per check
    return Variant(hf_model, tmp_path_factory.mktemp("b32"), vocab_dir, images, TEXTS)


SMALL_GELU = {
    "projection_dim": 48,
    "text_config": {
        "hidden_size": 128,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "hidden_act": "gelu",
    },
    "vision_config": {
        "hidden_size": 128,
        "intermediate_size": 320,
        "num_hidden_layers": 3,
        "num_attention_heads": 2,
        "image_size": 64,
        "patch_size": 16,
        "hidden_act": "gelu",
    },
}


@pytest.fixture(scope="module")
def small_gelu(tmp_path_factory, vocab_dir):
    hf_model = ref.build_hf_clip(SMALL_GELU, seed=3)
    return Variant(hf_model, tmp_path_factory.mktemp("gelu"), vocab_dir, photos(), TEXTS)


@pytest.mark.parametrize("layout", ["folder", "hf_named", "native"])
def test_vit_b32_matches_transformers(vit_b32, layout):
    img, txt = vit_b32.check(getattr(vit_b32, layout))
    assert img <= TOL, f"image embeddings differ by {img:.2e}"
    assert txt <= TOL, f"text embeddings differ by {txt:.2e}"


def test_vit_b32_model_facts(vit_b32):
    m = load_model(vit_b32.folder, device="cpu")
    assert (m.dim, m.image_size, m.config.vision.patch_size) == (512, 224, 32)
    assert m.config.text.act == "quick_gelu"
    assert m.logit_scale == pytest.approx(float(vit_b32.hf.logit_scale.detach().exp()), rel=1e-5)
    ids = m.tokenizer(vit_b32.texts, pad_to_context=True)
    expected = vit_b32.tokenizer(
        vit_b32.texts, padding="max_length", truncation=True, max_length=77
    )["input_ids"]
    ref_ids = torch.tensor(expected)
    ref_ids[ref_ids == 49407] = 0  # transformers pads with end-of-text, we with 0
    first_eot = (torch.tensor(expected) == 49407).int().argmax(-1)
    for row, pos in enumerate(first_eot):
        ref_ids[row, pos] = 49407
    assert torch.equal(ids, ref_ids)


@pytest.mark.parametrize("layout", ["folder", "hf_named", "native"])
def test_small_gelu_matches_transformers(small_gelu, layout):
    # config-less state dicts need to be told their activation
    kw = {} if layout == "folder" else {"act": "gelu"}
    img, txt = small_gelu.check(getattr(small_gelu, layout), **kw)
    assert img <= TOL and txt <= TOL, (img, txt)


def test_activation_matters_for_config_less_files(small_gelu):
    """Without a declaration the OpenAI default (quick_gelu) is assumed, which is wrong here:
    the check is strong enough to notice."""
    img, txt = small_gelu.check(small_gelu.native)
    assert img > 1e-3 and txt > 1e-3


def test_activation_from_safetensors_metadata(small_gelu, tmp_path):
    from safetensors.torch import load_file

    path = tmp_path / "declared.safetensors"
    save_file(load_file(str(small_gelu.native)), str(path), metadata={"act": "gelu"})
    img, txt = small_gelu.check(path)
    assert img <= TOL and txt <= TOL


def test_activation_from_open_clip_config(small_gelu, tmp_path):
    import shutil

    path = tmp_path / "open_clip_model.safetensors"
    shutil.copy(small_gelu.native, path)
    (tmp_path / "open_clip_config.json").write_text(json.dumps({"model_cfg": {"embed_dim": 48}}))
    img, txt = small_gelu.check(path)
    assert img <= TOL and txt <= TOL


def test_legacy_eos_token_id_2_uses_argmax_pooling(tmp_path, vocab_dir):
    """Old CLIP configs say eos_token_id=2; transformers then pools at the highest token id."""
    cfg = json.loads(json.dumps(SMALL_GELU))
    cfg["text_config"]["eos_token_id"] = 2
    hf_model = ref.build_hf_clip(cfg, seed=5)
    texts = ["a dog", "two words", "<|endoftext|> inside"]
    v = Variant(hf_model, tmp_path, vocab_dir, photos()[:2], texts)
    m = load_model(v.folder, device="cpu")
    assert m.config.text.pooling == "argmax"
    img, txt = v.check(v.folder)
    assert img <= TOL and txt <= TOL


def test_short_context_length_truncates_like_transformers(tmp_path, vocab_dir):
    cfg = json.loads(json.dumps(SMALL_GELU))
    cfg["text_config"]["max_position_embeddings"] = 16
    hf_model = ref.build_hf_clip(cfg, seed=9)
    texts = ["a very long caption " * 20, "short", "🐶" * 40]
    v = Variant(hf_model, tmp_path, vocab_dir, photos()[:1], texts)
    m = load_model(v.folder, device="cpu")
    ids = m.tokenizer(texts, pad_to_context=True)
    assert ids.shape == (3, 16) and (ids[:, 15] == 49407).sum() == 2
    img, txt = v.check(v.folder)
    assert img <= TOL and txt <= TOL
