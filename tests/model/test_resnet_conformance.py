"""ClipDesk's ResNet CLIP (OpenAI's ModifiedResNet image tower) against OpenCLIP's own model code.

The oracle is ``open_clip.model.CLIP`` with a ResNet ``vision_cfg`` from the ``open-clip-torch``
wheel (:mod:`tests.support.open_clip_oracle`), with random weights; its checkpoints are written by
its own save code in the layouts real files use: ``torch.save(model.state_dict())`` (OpenCLIP's
``.pt``), a safetensors file of that state dict, and OpenAI's ``RN*.pt`` layout, a TorchScript
archive of the traced model (``torch.jit.trace`` as OpenCLIP's ``trace_model``, then
``torch.jit.save``) with the
``input_resolution``, ``context_length`` and ``vocab_size`` tensors OpenAI's archives carry and
their mixed precision (conv and linear weights in fp16 as OpenCLIP's ``convert_weights_to_fp16``
leaves them, batch norms in fp32). ClipDesk loads each file with ``load_model`` and embeds raw
photos and phrases through its own preprocessing and tokenizer; the oracle's photos go through
transformers' ``CLIPImageProcessor`` (OpenCLIP's own transforms need torchvision, which has no
build for our torch) and its phrases through OpenCLIP's ``SimpleTokenizer``. Normalised
embeddings must agree within 1e-4 (fp32, CPU).

Besides one real RN50 (layers 3-4-6-3, width 64, 224 px, embed 1024, the full text tower), the
variants shrink RN50x4 and RN50x64 in width and depth but keep their key layout and their 288 and
448 px inputs, whose attention pools have 9x9 and 14x14 positions.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from clipdesk.common.errors import CheckpointError
from clipdesk.model import load_model, state_dicts, torchscript
from clipdesk.model.checkpoint import finetunable, load_checkpoint
from clipdesk.model.config import ClipConfig, ConfigError, ResNetConfig
from clipdesk.model.engine import ClipModel
from tests.support import open_clip_oracle
from tests.support.conformance import (
    TEXTS,
    TOL,
    assert_told_apart,
    calibrate_batch_norms,
    max_diff,
    openclip_pixels,
    photos,
)

pytest.importorskip("transformers")

LAYOUTS = ("state_dict_pt", "safetensors", "openai_archive")


@dataclass(frozen=True)
class Spec:
    """An OpenCLIP ``model_configs`` entry (its vision_cfg and text_cfg fields)."""

    name: str
    layers: tuple[int, int, int, int]
    width: int
    image_size: int
    embed_dim: int
    text_width: int
    text_layers: int
    quick_gelu: bool = True  # OpenAI's weights; OpenCLIP's plain "RN50" configs use GELU

    @property
    def text_heads(self) -> int:
        return self.text_width // 64  # as in every released CLIP (and what shapes imply)


RN50 = Spec("RN50", (3, 4, 6, 3), 64, 224, 1024, 512, 12)
SHRUNK = [
    # RN50x4 is (4, 6, 10, 6), width 80, 288 px, embed 640; here with OpenCLIP's GELU text tower
    Spec("RN50x4-shrunk", (2, 2, 3, 1), 24, 288, 96, 128, 2, quick_gelu=False),
    # RN50x64 is (3, 15, 36, 10), width 128, 448 px, embed 1024, text width 1024
    Spec("RN50x64-shrunk", (1, 2, 3, 2), 16, 448, 64, 128, 2),
]


def build_oracle(spec: Spec, seed: int, calibration: torch.Tensor):
    """OpenCLIP's CLIP with random weights that behave like trained ones: random batch-norm
    scales and shifts (OpenCLIP initialises every bottleneck's last scale to zero) and running
    statistics measured on the photos it will embed, as a trained network's are on photos like
    them, so each batch norm normalises (with OpenCLIP's untouched statistics, or ones measured
    on noise, every photo embeds alike: cosines of 0.85 to 1). Weights are rounded to what
    fp16 holds where OpenAI's archives store fp16, so every layout holds the same model."""
    oc_model = open_clip_oracle.import_module("model")
    torch.manual_seed(seed)
    model = oc_model.CLIP(
        spec.embed_dim,
        vision_cfg=oc_model.CLIPVisionCfg(
            layers=list(spec.layers), width=spec.width, image_size=spec.image_size, patch_size=None
        ),
        text_cfg=oc_model.CLIPTextCfg(
            width=spec.text_width, heads=spec.text_heads, layers=spec.text_layers
        ),
        quick_gelu=spec.quick_gelu,
    )
    with torch.no_grad():
        for bn in model.modules():
            if isinstance(bn, torch.nn.BatchNorm2d):
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.normal_(0.0, 0.1)
    calibrate_batch_norms(model, calibration)
    with torch.no_grad():
        model.logit_scale.fill_(4.0)
        oc_model.convert_weights_to_fp16(model)
        dtypes = {k: v.dtype for k, v in model.state_dict().items()}
        model.float()
    return model, dtypes


def write_openai_archive(model, dtypes: dict[str, torch.dtype], spec: Spec, path: Path) -> Path:
    """OpenAI's ``RN*.pt`` layout: the traced CLIP with its scalars as tensors, in the archive's
    mixed precision (torch.jit.save writes whatever dtype each tensor has). Traced as OpenCLIP's
    ``trace_model`` does, but only ``forward`` and without its re-tracing check (minutes here):
    the attribute pickle, all ClipDesk reads, is the same."""
    pixels = torch.ones(1, 3, spec.image_size, spec.image_size)
    ids = torch.zeros(1, model.context_length, dtype=torch.int)
    scalars = {
        "input_resolution": spec.image_size,
        "context_length": model.context_length,
        "vocab_size": model.vocab_size,
    }
    for name, value in scalars.items():
        vars(model).pop(name, None)
        model.register_buffer(name, torch.tensor(value))
    try:
        with warnings.catch_warnings():  # tracing warns about data-dependent indexing
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(model, (pixels, ids), check_trace=False)
    finally:  # the oracle goes back to its own state dict and attributes
        for name, value in scalars.items():
            del model._buffers[name]
            setattr(model, name, value)
    # The traced module shares its tensors with the oracle: they are halved for saving only
    # (their values are fp16-exact, so nothing changes when they come back).
    halved = [
        t
        for name, t in [*traced.named_parameters(), *traced.named_buffers()]
        if dtypes.get(name) == torch.float16
    ]
    for t in halved:
        t.data = t.data.half()
    try:
        torch.jit.save(traced, str(path))
    finally:
        for t in halved:
            t.data = t.data.float()
    return path


class Variant:
    """One oracle model, its files in every layout, and the oracle's embeddings."""

    def __init__(
        self, spec: Spec, root: Path, images, texts, seed: int = 0, layouts=LAYOUTS
    ) -> None:
        self.spec, self.images, self.texts = spec, images, texts
        size = spec.image_size
        pixels = openclip_pixels(images, size)
        self.oracle, dtypes = build_oracle(spec, seed, pixels)
        sd = self.oracle.state_dict()
        self.files = {
            "state_dict_pt": root / f"{spec.name}.pt",
            "safetensors": root / f"{spec.name}.safetensors",
            "openai_archive": root / "openai" / f"{spec.name}.pt",
        }
        if "state_dict_pt" in layouts:
            torch.save(sd, self.files["state_dict_pt"])
        if "safetensors" in layouts:
            save_file({k: v.contiguous() for k, v in sd.items()}, str(self.files["safetensors"]))
        if "openai_archive" in layouts:
            self.files["openai_archive"].parent.mkdir()
            write_openai_archive(self.oracle, dtypes, spec, self.files["openai_archive"])
        tokenizer = open_clip_oracle.import_module("tokenizer").SimpleTokenizer()
        with torch.no_grad():
            self.ref_images = self.oracle.encode_image(pixels, normalize=True).numpy()
            self.ref_texts = self.oracle.encode_text(tokenizer(texts), normalize=True).numpy()
        self.act = None if spec.quick_gelu else "gelu"  # config-less files are told theirs

    def check(self, layout: str) -> tuple[float, float, np.ndarray, np.ndarray, ClipModel]:
        model = load_model(self.files[layout], device="cpu", act=self.act)
        images, texts = model.encode_images(self.images), model.encode_texts(self.texts)
        img, txt = max_diff(images, self.ref_images), max_diff(texts, self.ref_texts)
        return img, txt, images, texts, model


@pytest.fixture(scope="module")
def rn50(tmp_path_factory):
    # square, 5 x 3 and a palette image of 640 x 427; each costs ~0.1 s
    images = [photos()[i] for i in (0, 3, 6)]
    # OpenAI's own layout; the others are read as they are for the shrunk variants
    layouts = ("openai_archive",)
    return Variant(RN50, tmp_path_factory.mktemp("rn50"), images, TEXTS, layouts=layouts)


@pytest.fixture(scope="module", params=SHRUNK, ids=lambda s: s.name)
def shrunk(request, tmp_path_factory):
    spec = request.param
    images = [photos()[i] for i in (0, 3, 1, 2, 4, 5, 6, 7)]  # all, the first two as for RN50
    return Variant(spec, tmp_path_factory.mktemp(spec.name), images, TEXTS, seed=3)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_rn50_openai_archive_matches_open_clip_without_running_its_code(rn50, monkeypatch):
    called = []
    monkeypatch.setattr(torch.jit, "load", lambda *a, **k: called.append(a))
    monkeypatch.setattr(torch, "load", lambda *a, **k: called.append(a))
    img, txt, images, texts, model = rn50.check("openai_archive")
    assert not called
    assert img <= TOL, f"image embeddings differ by {img:.2e}"
    assert txt <= TOL, f"text embeddings differ by {txt:.2e}"
    assert_told_apart(images, texts)
    cfg = model.config
    assert cfg.vision == ResNetConfig(image_size=224, layers=(3, 4, 6, 3), width=64, heads=32)
    assert (cfg.embed_dim, cfg.text.width, cfg.text.layers, cfg.text.heads) == (1024, 512, 12, 8)
    assert (model.dim, model.image_size, model.family) == (1024, 224, "clip")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("layout", LAYOUTS)
def test_shrunk_resnets_match_open_clip(shrunk, layout):
    img, txt, images, texts, model = shrunk.check(layout)
    assert img <= TOL, f"image embeddings differ by {img:.2e}"
    assert txt <= TOL, f"text embeddings differ by {txt:.2e}"
    assert_told_apart(images, texts)
    assert model.image_size == shrunk.spec.image_size


def test_inferred_architecture_is_the_oracle_s(shrunk):
    spec = shrunk.spec
    ckpt = load_checkpoint(shrunk.files["safetensors"], act=shrunk.act)
    cfg: ClipConfig = ckpt.module.cfg
    assert cfg.vision == ResNetConfig(
        image_size=spec.image_size, layers=spec.layers, width=spec.width, heads=spec.width // 2
    )
    assert cfg.embed_dim == spec.embed_dim
    assert cfg.text.act == ("quick_gelu" if spec.quick_gelu else "gelu")
    # parameter_count (which bounds what an archive may inflate to) counts every stored number
    sd = shrunk.oracle.state_dict()
    assert cfg.parameter_count() == sum(v.numel() for v in sd.values())
    assert ClipConfig.from_dict(cfg.to_dict()) == cfg


def test_the_archive_budget_covers_its_tensors_and_little_more(shrunk):
    path = shrunk.files["openai_archive"]
    seen = {}

    def budget(meta):
        seen["allowed"] = state_dicts._budget(meta, path)
        seen["stored"] = sum(t.numel() * t.element_size() for t in meta.values())
        return seen["allowed"]

    torchscript.read_state_dict(path, budget=budget)
    assert seen["stored"] <= seen["allowed"] <= 2 * seen["stored"] + (64 << 20)


def test_resnet_models_are_not_fine_tuned_and_have_no_hf_config(shrunk):
    ckpt = load_checkpoint(shrunk.files["safetensors"], act=shrunk.act)
    with pytest.raises(CheckpointError, match="not available for ResNet CLIP.*no ResNet") as err:
        finetunable(ckpt)
    assert str(shrunk.files["safetensors"]) in str(err.value)
    with pytest.raises(ConfigError, match="CLIPModel has only a ViT"):
        ckpt.module.cfg.to_hf()


def test_a_malformed_resnet_state_dict_names_its_first_problem(shrunk, tmp_path):
    sd = dict(shrunk.oracle.state_dict())
    path = tmp_path / "broken.safetensors"
    bad_grid = {**sd, "visual.attnpool.positional_embedding": torch.zeros(51, 16 * 32)}
    with pytest.raises(CheckpointError, match="positional_embedding has 51 rows"):
        state_dicts.infer_config(bad_grid, path)
    no_stage = {k: v for k, v in sd.items() if not k.startswith("visual.layer3.")}
    with pytest.raises(CheckpointError, match="without blocks in stage 3"):
        state_dicts.infer_config(no_stage, path)
    no_pool = {k: v for k, v in sd.items() if not k.startswith("visual.attnpool.c_proj")}
    with pytest.raises(CheckpointError, match="not a CLIP ResNet state dict.*c_proj"):
        state_dicts.infer_config(no_pool, path)
    extra = {**sd, "visual.layer4.0.conv9.weight": torch.zeros(1)}
    save_file({k: v.contiguous() for k, v in extra.items()}, str(path))
    with pytest.raises(CheckpointError, match=r"broken.*unexpected 1 tensors.*conv9"):
        load_checkpoint(path, act=shrunk.act)


def test_a_state_dict_neither_vit_nor_resnet_says_so(tmp_path):
    with pytest.raises(CheckpointError, match="not a CLIP ViT or ResNet state dict"):
        state_dicts.infer_config({"encoder.weight": torch.zeros(2, 2)}, tmp_path / "x.pt")


@pytest.mark.parametrize(
    ("vision", "message"),
    [
        (ResNetConfig(image_size=300), "300 is not a multiple of 32"),
        (ResNetConfig(layers=(3, 4, 0, 3)), r"\[3, 4, 0, 3\]; a ResNet tower has 4 stages"),
        (ResNetConfig(layers=(100, 100, 100, 100)), "400 blocks in all"),
        (ResNetConfig(width=65), "odd"),
        (ResNetConfig(width=512), "16384 channels"),
        (ResNetConfig(heads=7), "not divisible by"),
    ],
)
def test_a_hostile_resnet_config_is_refused_before_anything_is_built(vision, message):
    from clipdesk.model.config import check_config

    with pytest.raises(ConfigError, match=message):
        check_config(ClipConfig(vision=vision))
