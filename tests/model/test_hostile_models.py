"""Hostile model files are refused quickly, before anything large is allocated, with an error
that names what is wrong (issue #14, items 12 and 13)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from clipdesk.common.errors import CheckpointError, ModelError
from clipdesk.model import load_model, manager, torchscript
from clipdesk.model.checkpoint import load_checkpoint
from clipdesk.model.config import ClipConfig
from clipdesk.model.testing import tiny_config, tiny_random_model
from tests.support.hostile_models import (
    edit_json,
    inflating_copy,
    padded_copy,
    probe_import,
    torchscript_archive,
)

GB = 1 << 30


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return tiny_random_model(tmp_path_factory.mktemp("tiny"), name="tiny")


@pytest.fixture(scope="module")
def archive(tiny, tmp_path_factory) -> Path:
    return torchscript_archive(tiny, tmp_path_factory.mktemp("ts") / "ViT-B-32.pt")


@pytest.fixture
def folder(tiny, tmp_path) -> Path:
    copy = tmp_path / "hostile"
    shutil.copytree(tiny, copy)
    return copy


def _refused(path: Path, *fragments: str) -> CheckpointError:
    with pytest.raises(CheckpointError) as err:
        manager.import_model(path)
    for fragment in fragments:
        assert fragment in err.value.message
    assert not any(p.name != ".downloads" for p in manager.paths.models_dir().iterdir())
    return err.value


# --- config.json ---


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        ({"vision_config.patch_size": 0}, "vision_config.patch_size is 0"),
        ({"text_config.num_hidden_layers": -1}, "text_config.num_hidden_layers is -1"),
        ({"text_config.hidden_size": 1e12}, "text_config.hidden_size is 1000000000000"),
        ({"vision_config.image_size": 1e12}, "vision_config.image_size is 1000000000000"),
        ({"projection_dim": -32}, "projection_dim is -32"),
        ({"text_config.vocab_size": "lots"}, "text_config.vocab_size is 'lots'"),
        ({"vision_config.layer_norm_eps": float("nan")}, "vision_config.layer_norm_eps is nan"),
        ({"vision_config.image_size": float("inf")}, "vision_config.image_size is inf"),
        ({"vision_config.num_attention_heads": 3}, "not divisible by"),
        ({"vision_config.patch_size": 5}, "not a multiple of"),
        (
            {"vision_config.num_hidden_layers": 100_000_000},
            "vision_config.num_hidden_layers is 100000000",
        ),
    ],
)
def test_config_values_out_of_range_name_the_field_and_the_range(folder, edit, named):
    edit_json(folder / "config.json", edit)
    err = _refused(folder, "config.json: unusable CLIP config", named)
    assert "ClipDesk reads" in err.message or "not" in err.message
    assert err.hint


@pytest.mark.slow  # a fresh process, to measure its memory
def test_a_config_of_100_million_layers_is_refused_at_once_in_bounded_memory(folder):
    edit_json(folder / "config.json", {"vision_config.num_hidden_layers": 100_000_000})
    result = probe_import(folder, timeout=60)
    assert result["error"] is not None
    assert "vision_config.num_hidden_layers is 100000000; ClipDesk reads 1 to" in result["error"]
    assert result["seconds"] < 10
    assert result["growth_bytes"] < 1 * GB


def test_a_deeply_nested_or_huge_config_json_is_refused_without_a_traceback(folder):
    (folder / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    _refused(folder, "config.json: not readable JSON", "nested more than")
    from clipdesk.common import limits

    (folder / "config.json").write_text(" " * (limits.MODEL_JSON_MAX_BYTES + 1) + "{}")
    _refused(folder, "config.json: not readable JSON", "too large")


def test_parameter_count_is_what_the_module_allocates():
    from clipdesk.model.clip import ClipModule

    cfg = tiny_config()
    with torch.device("meta"):
        module = ClipModule(cfg)
    assert cfg.parameter_count() == sum(p.numel() for p in module.parameters())
    assert ClipConfig().parameter_count() == 151_277_313  # OpenAI ViT-B/32


# --- preprocessor_config.json ---


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        ({"crop_size": {"height": 60000, "width": 60000}}, "crop_size is 60000; ClipDesk reads"),
        ({"crop_size": 64}, "crop_size is 64 but the model takes images of 32 pixels"),
        ({"image_std": [0, 0, 0]}, "image_std is [0, 0, 0]"),
        ({"image_std": [0.2, 0.2]}, "image_std is [0.2, 0.2]"),
        ({"image_mean": [float("nan"), 0, 0]}, "image_mean is [nan, 0, 0]"),
    ],
)
def test_preprocessor_configs_that_would_blow_up_or_poison_indexing_are_refused(
    folder, edit, named
):
    edit_json(folder / "preprocessor_config.json", edit)
    err = _refused(folder, "preprocessor_config.json", named)
    assert err.hint


# --- weights ---


def test_a_torchscript_archive_that_inflates_is_refused_before_inflating(archive, tmp_path):
    bomb = inflating_copy(archive, tmp_path / "ViT-B-32.pt", inflate_to=256 << 20)
    _refused(bomb, "refused before reading it", "inflate to 0.3 GB")


@pytest.mark.slow  # a fresh process, to measure its memory
def test_an_inflating_archive_costs_no_memory_to_refuse(archive, tmp_path):
    bomb = inflating_copy(archive, tmp_path / "ViT-B-32.pt", inflate_to=1536 << 20)
    assert bomb.stat().st_size < 32 << 20  # small on disk
    result = probe_import(bomb, timeout=120)
    assert result["error"] is not None and "refused before reading it" in result["error"]
    assert "inflate to 1.6 GB" in result["error"]
    assert result["seconds"] < 10
    assert result["growth_bytes"] < 1 * GB


def test_a_storage_padded_beyond_its_tensors_is_refused(archive, tmp_path):
    padded = padded_copy(archive, tmp_path / "padded.pt", extra=1 << 20)
    _refused(padded, "refused before reading it", "where its tensors declare")


def test_an_archive_larger_than_its_architecture_is_refused_before_reading(archive):
    with pytest.raises(torchscript.ArchiveTooLarge, match="architecture their shapes describe"):
        torchscript.read_state_dict(archive, budget=lambda _meta: 1000)
    sd = torchscript.read_state_dict(archive, budget=lambda meta: 10**12)
    assert all(t.device.type == "cpu" for t in sd.values())


def test_a_huge_tokenizer_json_is_refused_without_reading_it(folder):
    size = 65 << 20
    with open(folder / "tokenizer.json", "r+b") as fh:
        fh.truncate(size)  # sparse: nothing written
    _refused(folder, "tokenizer.json", "too large for a tokenizer.json")
    from clipdesk.common import limits

    assert size > limits.TOKENIZER_JSON_MAX_BYTES


def test_a_model_that_gives_nan_vectors_never_returns_them(folder):
    weights = load_file(str(folder / "model.safetensors"))
    weights["visual_projection.weight"][0, 0] = float("nan")
    save_file(weights, str(folder / "model.safetensors"))
    model = load_model(folder, device="cpu")
    pixels = torch.zeros((2, 3, model.image_size, model.image_size))
    with pytest.raises(ModelError, match=r"invalid vectors \(NaN or infinity\) for 2 of 2"):
        model.encode_pixels(pixels)
    assert np.isfinite(model.encode_texts(["a dog"])).all()  # the text tower is sound


def test_real_configs_still_load(tiny):
    ckpt = load_checkpoint(tiny)
    assert ckpt.preprocess.size == ckpt.module.cfg.vision.image_size
    hf = json.loads((tiny / "config.json").read_text())
    assert ClipConfig.from_hf(hf) == ckpt.module.cfg
