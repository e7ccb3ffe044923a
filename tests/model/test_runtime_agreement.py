"""ONNX Runtime against PyTorch on every checkpoint layout the engine loads, and int8 against fp32.

Each layout is a small random model written by its own library's save code, exactly as the
conformance tests write it (transformers' ``save_pretrained``, OpenCLIP's hub writer and
``torch.save`` of its state dict, imported into the models folder by ClipDesk): the widths and
depths shrunk, the key layout and config format real. It is exported once (``export_model`` with
its fp32 graphs kept) and loaded twice, ``runtime="torch"`` and ``runtime="onnx"``; raw phrases
and non-square photos go through each load's own tokenizer and preprocessing. The fp32 graphs
must give PyTorch's normalised embeddings within 1e-4, batch of one and of several, texts of
different lengths: checked here, not taken from the export's own check.

int8 against fp32: cosine >= 0.99 per photo and per phrase, and retrieval that finds what fp32
finds (recall@10 >= 0.95), on the demo model's evaluation renders and on a random-weight
ViT-B/32 (the slow tier: its export takes a minute).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from clipdesk.model import load_model, manager
from clipdesk.model.engine import ClipModel
from clipdesk.model.runtime import agreement, cache
from clipdesk.model.runtime.choose import OnnxServing
from clipdesk.model.runtime.export import export_model
from tests.model import hf_reference as ref
from tests.support import open_clip_oracle as oracle
from tests.support.conformance import (
    TEXTS,
    TOL,
    assert_told_apart,
    max_diff,
    photos,
    varied_photos,
)
from tests.support.tokenizer_folders import (
    save_siglip2_tokenizer,
    save_siglip_tokenizer,
    save_xlmr_tokenizer,
)

transformers = pytest.importorskip("transformers")

# Photos of unlike looks and odd shapes: a batch of three (640 x 427, 300 x 1000, 5 x 3) and one
# alone (1001 x 223), which ONNX Runtime runs on its single-query session.
IMAGES = [*varied_photos(), photos()[3]]
BATCH = [IMAGES[0], IMAGES[1], IMAGES[4]]
ALONE = [IMAGES[3]]
# Phrases of different lengths: alone, three, and all nine (empty, emoji, 10,000 characters),
# which runs on the batch session.
TEXT_BATCHES = [["a photo of a cat"], ["a dog", "kids on a beach at sunset", "東京の夜景"], TEXTS]

DIFFS: dict[str, tuple[float, float]] = {}  # layout -> (images, texts), printed for the record


# --- the layouts, each written by its own library ---


def _hf_clip(root: Path) -> Path:
    """A Hugging Face CLIP folder (ViT, GELU) by transformers' save_pretrained."""
    from tests.model.test_openclip_hub import randomise

    hf = ref.build_hf_clip(
        {
            "projection_dim": 32,
            "text_config": {
                "hidden_size": 64,
                "intermediate_size": 128,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "hidden_act": "gelu",
            },
            "vision_config": {
                "hidden_size": 64,
                "intermediate_size": 160,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "image_size": 64,
                "patch_size": 16,
                "hidden_act": "gelu",
            },
        },
        seed=3,
    )
    # transformers' initial weights give every phrase nearly one vector: random ones instead
    randomise(hf, 3, 64)
    return ref.save_hf_folder(hf, root / "hf-clip", ref.write_vocab_files(root / "vocab"))


def _imported_state_dict(root: Path) -> Path:
    """OpenCLIP's ``torch.save(model.state_dict())`` of a ViT (OpenAI's key layout), imported
    into the models folder, which stores it as a folder."""
    from tests.model.test_openclip_hub import openclip_model, randomise, shrink

    cfg = shrink(
        "ViT-B-32-quickgelu",
        {"width": 64, "layers": 2, "head_width": 32, "image_size": 64, "patch_size": 16},
        {"width": 64, "heads": 2, "layers": 2},
        32,
    )
    torch.manual_seed(11)
    model = openclip_model(cfg).eval()
    randomise(model, 11, 64)
    path = root / "openclip-vit.pt"
    torch.save(model.state_dict(), path)
    return manager.import_model(path, name="imported-vit").path


def _hub(name: str, vision: dict[str, Any]) -> Callable[[Path], Path]:
    """An OpenCLIP hub folder by OpenCLIP's own writer: the wheel's config ``name`` with
    smaller towers, random weights as tests/model/test_openclip_hub.py makes them."""

    def build(root: Path) -> Path:
        from tests.model.test_openclip_hub import openclip_model, randomise, shrink

        cfg = shrink(name, vision, {"width": 64, "heads": 2, "layers": 2}, 32)
        size = cfg["vision_cfg"]["image_size"]
        torch.manual_seed(7)
        model = openclip_model(cfg).eval()
        randomise(model, 7, size)
        constants = oracle.import_module("constants")
        oracle.import_module("model").set_model_preprocess_cfg(
            model, {"mean": constants.OPENAI_DATASET_MEAN, "std": constants.OPENAI_DATASET_STD}
        )
        folder = root / name
        tokenizer = ref.hf_tokenizer(ref.write_vocab_files(root / "vocab"))
        oracle.hub_writer()(model, tokenizer, cfg, folder)
        return folder

    return build


def _siglip_v1(root: Path) -> Path:
    from transformers import SiglipTokenizer

    from tests.model import test_siglip_conformance as sc

    folder = save_siglip_tokenizer(root / "siglip-v1")
    tokenizer = SiglipTokenizer.from_pretrained(str(folder))
    vision = sc._vision_tower(width=64, mlp=128, layers=2, heads=2, image_size=64, patch=16)
    hf = sc._build_hf_siglip(tokenizer.vocab_size + 7, vision, seed=1, scale=10.0)
    return sc.Variant(hf, folder, tokenizer).folder


def _siglip2(root: Path) -> Path:
    from transformers.models.siglip2.tokenization_siglip2 import Siglip2Tokenizer

    from tests.model import test_siglip_conformance as sc

    folder = save_siglip2_tokenizer(root / "siglip2")
    tokenizer = Siglip2Tokenizer.from_pretrained(str(folder))
    vision = sc._vision_tower(width=64, mlp=160, layers=2, heads=2, image_size=60, patch=14)
    hf = sc._build_hf_siglip(len(tokenizer), vision, seed=4, scale=109.9)
    return sc.Variant(hf, folder, tokenizer, resample=2).folder


def _xlmr(root: Path) -> Path:
    """OpenCLIP's CustomTextCLIP with an XLM-R text tower, by its hub writer, with a unigram
    tokenizer saved by transformers (as tests/model/test_xlmr_conformance.py makes it)."""
    from tests.model import test_xlmr_conformance as xc

    tokenizer_dir = save_xlmr_tokenizer(root / "xlmr-tokenizer")
    return xc.Variant(
        root,
        tokenizer_dir,
        text=xc._text_tower(width=64, layers=2, heads=2, mlp=128),
        embed_dim=32,
        vision_cfg=xc.VISION,
        text_cfg=oracle.model_config(xc.BASE_CONFIG)["text_cfg"],
        seed=1,
        with_text_config=True,
        weights="safetensors",
    ).folder


LAYOUTS: dict[str, Callable[[Path], Path]] = {
    "hf-clip-vit": _hf_clip,
    "imported-openclip-state-dict": _imported_state_dict,
    "openclip-hub-vit": _hub("ViT-B-32-256", {"width": 64, "layers": 2, "head_width": 32}),
    # OpenAI's RN50 layout (bottleneck stages, attention pool) at 64 px: a 2 x 2 pool
    "openclip-hub-resnet": _hub(
        "RN50-quickgelu", {"width": 16, "layers": [1, 1, 1, 1], "image_size": 64}
    ),
    "siglip-v1-spiece": _siglip_v1,
    "siglip2-gemma": _siglip2,
    "xlmr-hub": _xlmr,
}


# --- one home and one export per layout for the module ---


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("runtime-home")
    # One thread: these models are small, and two threads on two shared cores wait on each
    # other at every operation (seconds per layout on a busy machine).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield path
    torch.set_num_threads(threads)
    for name in sorted(DIFFS):  # shown with -s; the report's figures
        img, txt = DIFFS[name]
        print(f"\nONNX fp32 vs torch, max abs diff: {name}: images {img:.2e}, texts {txt:.2e}")


@pytest.fixture(autouse=True)
def _in_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test sees the module's models folder, where the exports are."""
    monkeypatch.setenv("CLIPDESK_HOME", str(home))


@dataclass(frozen=True)
class Exported:
    path: Path  # what load_model is given
    entry: cache.CacheEntry
    torch_model: ClipModel
    images: np.ndarray  # torch's embeddings of BATCH + ALONE
    texts: np.ndarray  # torch's embeddings of TEXT_BATCHES, one after the other


@pytest.fixture(scope="module")
def exported(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Exported]:
    """A layout's model, its export and torch's embeddings, made when a test first asks."""
    built: dict[str, Exported] = {}

    def get(name: str) -> Exported:
        if name not in built:
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("CLIPDESK_HOME", str(home))
                path = LAYOUTS[name](tmp_path_factory.mktemp(name))
                entry = export_model(path, keep_fp32=True, threads=1)
                torch_model = load_model(path, "cpu", runtime="torch")
            built[name] = Exported(path, entry, torch_model, *_encode(torch_model))
        return built[name]

    return get


def _fp32_onnx(entry: cache.CacheEntry, path: Path) -> ClipModel:
    """The model served by the entry's fp32 graphs, through the loader ONNX Runtime uses."""
    assert entry.has("fp32")
    return OnnxServing(entry, "fp32", threads=1).load(path)


def _encode(model: ClipModel) -> tuple[np.ndarray, np.ndarray]:
    """Every batch of photos and phrases, one after the other."""
    images = np.concatenate([model.encode_images(BATCH), model.encode_images(ALONE)])
    texts = np.concatenate([model.encode_texts(batch) for batch in TEXT_BATCHES])
    return images, texts


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_onnx_fp32_embeds_as_torch(exported, name):
    done = exported(name)
    assert done.torch_model.runtime_label == "torch-fp32"
    onnx_model = _fp32_onnx(done.entry, done.path)
    assert onnx_model.runtime_label == "onnx-fp32"
    images, texts = _encode(onnx_model)
    img, txt = max_diff(images, done.images), max_diff(texts, done.texts)
    DIFFS[name] = (img, txt)
    assert img <= TOL, f"{name}: image embeddings differ by {img:.2e}"
    assert txt <= TOL, f"{name}: text embeddings differ by {txt:.2e}"
    assert_told_apart(done.images, done.texts)
    # the graphs ran on both of their sessions: a single query's and a batch's
    work = {key[1] for key in onnx_model.towers._sessions}  # type: ignore[attr-defined]
    assert work == {"query", "batch"}


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_the_onnx_runtime_serves_the_same_model(exported, name):
    """``runtime="onnx"`` finds the export by the weight files and serves the model the torch
    runtime loads: the same id (so a library's vectors stay valid), facts and tokens, and
    vectors that agree with torch's (within 1e-4 in fp32, by cosine >= 0.99 in int8)."""
    done = exported(name)
    torch_model = done.torch_model
    onnx_model = load_model(done.path, "cpu", runtime="onnx")
    assert onnx_model.runtime == "onnx" and onnx_model.device == "cpu"
    assert onnx_model.precision == ("int8" if done.entry.int8_agrees else "fp32")
    assert onnx_model.id == torch_model.id
    assert onnx_model.weights_hash == torch_model.weights_hash == done.entry.weights_hash
    for fact in ("name", "family", "scoring", "dim", "image_size", "logit_bias", "meta"):
        assert getattr(onnx_model, fact) == getattr(torch_model, fact), fact
    assert onnx_model.logit_scale == pytest.approx(torch_model.logit_scale, rel=1e-6)
    assert onnx_model.preprocessor.cfg == torch_model.preprocessor.cfg
    assert np.array_equal(onnx_model.tokenizer.ids(TEXTS), torch_model.tokenizer.ids(TEXTS))
    images, texts = _encode(onnx_model)
    if onnx_model.precision == "fp32":
        assert max_diff(images, done.images) <= TOL and max_diff(texts, done.texts) <= TOL
    else:
        assert agreement.cosines(images, done.images).min() >= agreement.MIN_COSINE
        assert agreement.cosines(texts, done.texts).min() >= agreement.MIN_COSINE


# --- int8 against fp32 ---


def _int8_and_fp32(entry: cache.CacheEntry, path: Path) -> tuple[ClipModel, ClipModel]:
    assert entry.int8_agrees, entry.manifest["agreement"]
    return OnnxServing(entry, "int8", threads=1).load(path), _fp32_onnx(entry, path)


def _query_recall(reference: np.ndarray, test: np.ndarray, images_ref, images_test, k=10):
    """Of each text query's fp32 top k photos, the share int8 also puts in its top k."""
    top_ref = np.argsort(-(reference @ images_ref.T), axis=1)[:, :k]
    top_test = np.argsort(-(test @ images_test.T), axis=1)[:, :k]
    found = sum(
        len(set(a.tolist()) & set(b.tolist())) for a, b in zip(top_ref, top_test, strict=True)
    )
    return found / top_ref.size


def _report(what: str, **figures: float) -> None:
    print(f"\nint8 vs fp32, {what}: " + ", ".join(f"{k} {v:.4f}" for k, v in figures.items()))


def _assert_int8_agrees(what, fp32: ClipModel, int8: ClipModel, images, texts) -> None:
    img32, img8 = fp32.encode_images(images), int8.encode_images(images)
    txt32, txt8 = fp32.encode_texts(texts), int8.encode_texts(texts)
    image_cos = float(agreement.cosines(img32, img8).min())
    text_cos = float(agreement.cosines(txt32, txt8).min())
    recall = agreement.recall_at_k(img32, img8, 10)
    query_recall = _query_recall(txt32, txt8, img32, img8)
    _report(
        what,
        image_min_cosine=image_cos,
        text_min_cosine=text_cos,
        image_recall_at_10=recall,
        query_recall_at_10=query_recall,
    )
    assert image_cos >= agreement.MIN_COSINE, image_cos
    assert text_cos >= agreement.MIN_COSINE, text_cos
    assert recall >= agreement.MIN_RECALL_AT_10, recall
    assert query_recall >= agreement.MIN_RECALL_AT_10, query_recall


def test_int8_agrees_with_fp32_on_the_demo_models_evaluation_set(home):
    """The renders and captions bench/mini_eval.py scores the demo model on: retrieval scenes
    of every colour-shape combination (held-out ones too) at the model's input size and at
    256 px, single-object test scenes, and the retrieval queries' phrasings."""
    from clipdesk.model.synth import render_scene
    from clipdesk.model.synth.captions import plural
    from clipdesk.model.synth.evaluate import (
        RETRIEVAL_TEMPLATES,
        balanced_scenes,
        single_object_scenes,
    )
    from clipdesk.model.synth.world import COLOURS, CORE_SHAPES

    path = manager.find_model("clipdesk-mini")
    assert path is not None, "the bundled demo model models/clipdesk-mini is missing"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLIPDESK_HOME", str(home))
        entry = export_model(path, keep_fp32=True, threads=1)
    int8, fp32 = _int8_and_fp32(entry, path)
    size = fp32.image_size
    specs = balanced_scenes(240) + single_object_scenes("test", 60)
    images = [render_scene(s, size) for s in specs] + [render_scene(s, 256) for s in specs[:60]]
    texts = [
        t.format(colour=c, shape=s, shapes=plural(s))
        for c in COLOURS
        for s in CORE_SHAPES
        for t in RETRIEVAL_TEMPLATES[:2]
    ]
    _assert_int8_agrees("demo model", fp32, int8, images, texts)


@pytest.fixture(scope="module")
def vit_b32(home: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, cache.CacheEntry]:
    """A random-weight ViT-B/32 (the catalog's architecture) as a Hugging Face folder, exported."""
    from clipdesk.model.architectures import build
    from clipdesk.model.catalog import ARCHITECTURES
    from clipdesk.model.checkpoint import save_model_folder
    from clipdesk.model.state_dicts import default_clip_tokenizer

    built = build(ARCHITECTURES["ViT-B-32-quickgelu"], seed=0)
    module = built.module
    tokenizer = default_clip_tokenizer(module.cfg.text.context_length)
    root = tmp_path_factory.mktemp("vit-b32")
    path = save_model_folder(module, tokenizer, root / "vit-b32", name="vit-b32")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLIPDESK_HOME", str(home))
        return path, export_model(path, keep_fp32=True, threads=1)


@pytest.mark.slow
def test_int8_agrees_with_fp32_on_a_random_vit_b32(vit_b32):
    path, entry = vit_b32
    _report(
        "ViT-B/32 at export",
        **{k: v for k, v in entry.manifest["agreement"]["int8"].items() if isinstance(v, float)},
    )
    int8, fp32 = _int8_and_fp32(entry, path)
    images = agreement.probe_images(n=80, size=300, seed=5) + IMAGES
    texts = [*agreement.PHRASES, *TEXTS]
    _assert_int8_agrees("ViT-B/32", fp32, int8, images, texts)


@pytest.mark.slow
def test_vit_b32_onnx_fp32_embeds_as_torch(vit_b32):
    path, entry = vit_b32
    ref_images, ref_texts = _encode(load_model(path, "cpu", runtime="torch"))
    images, texts = _encode(_fp32_onnx(entry, path))
    img, txt = max_diff(images, ref_images), max_diff(texts, ref_texts)
    DIFFS["vit-b32 (hf folder)"] = (img, txt)
    assert img <= TOL and txt <= TOL, (img, txt)
