"""Installed models: listing, import, the active model, name clashes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import save_file

from clipdesk.common import paths
from clipdesk.common.errors import CheckpointError, ModelError
from clipdesk.model import load_model, manager
from clipdesk.model.checkpoint import load_checkpoint
from clipdesk.model.testing import tiny_random_model


@pytest.fixture
def bundled(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "bundled"
    root.mkdir()
    folder = tiny_random_model(root, name=manager.DEMO_MODEL)
    meta = json.loads((folder / "clipdesk.json").read_text())
    (folder / "clipdesk.json").write_text(json.dumps({**meta, "demo": True}))
    monkeypatch.setattr(manager, "bundled_models_dir", lambda: root)
    return root


@pytest.fixture
def source(tmp_path) -> Path:
    return tiny_random_model(tmp_path / "src", seed=1, name="my-clip")


def test_bundled_models_dir_is_the_checkout_models_folder():
    assert manager.bundled_models_dir().name in ("models", "bundled_models")


def test_list_shows_bundled_demo(bundled):
    (info,) = manager.list_models()
    assert (info.name, info.source, info.demo, info.active) == (
        manager.DEMO_MODEL,
        "bundled",
        True,
        False,
    )
    assert info.size_bytes > 10_000
    assert json.loads(json.dumps(info.to_json()))["path"] == str(bundled / manager.DEMO_MODEL)


def test_import_folder_then_load_by_name(bundled, source):
    info = manager.import_model(source)
    assert info.name == "my-clip" and info.source == "user" and not info.demo
    assert info.path == paths.models_dir() / "my-clip"
    assert info.origin == str(source.resolve())
    names = [m.name for m in manager.list_models()]
    assert names == ["my-clip", manager.DEMO_MODEL]
    a, b = load_model("my-clip", device="cpu"), load_model(source, device="cpu")
    assert (a.encode_texts(["dog"]) == b.encode_texts(["dog"])).all()
    assert a.weights_hash == b.weights_hash  # the very same bytes


def test_import_a_state_dict_file_keeps_its_activation(bundled, source, tmp_path):
    sd = load_checkpoint(source).module.state_dict()
    path = tmp_path / "laion-b32.safetensors"
    save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    info = manager.import_model(path, act="gelu")
    assert info.name == "laion-b32"
    m = load_model("laion-b32", device="cpu")
    assert m.config.vision.act == "gelu" and m.config.text.act == "gelu"


def test_name_clash(bundled, source):
    manager.import_model(source)
    with pytest.raises(ModelError, match="already installed"):
        manager.import_model(source)
    assert manager.import_model(source, on_clash="rename").name == "my-clip-2"
    assert manager.import_model(source, name="other").name == "other"
    replaced = manager.import_model(source, on_clash="replace")
    assert replaced.name == "my-clip"
    assert sorted(p.name for p in paths.models_dir().iterdir()) == ["my-clip", "my-clip-2", "other"]


def test_bad_names_are_refused(bundled, source):
    for bad in ("../escape", ".hidden", "a/b", "x" * 101, "with space"):
        with pytest.raises(ModelError, match="not a usable model name"):
            manager.import_model(source, name=bad)


def test_broken_checkpoint_is_refused_before_copying(bundled, source, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((source / "config.json").read_text())
    (broken / "model.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        manager.import_model(broken)
    assert list(paths.models_dir().iterdir()) == []
    with pytest.raises(ModelError, match="no such file"):
        manager.import_model(tmp_path / "absent")


def test_only_model_files_are_copied(bundled, source):
    (source / "notes.txt").write_text("private")
    (source / ".git").mkdir(exist_ok=True)
    info = manager.import_model(source)
    names = sorted(p.name for p in info.path.iterdir())
    assert "notes.txt" not in names and ".git" not in names
    assert {"config.json", "model.safetensors", "tokenizer.json", "clipdesk.json"} <= set(names)


def test_only_the_weights_the_loader_reads_are_copied(bundled, source):
    """A folder with the same weights twice (transformers' safetensors and its older pickle)
    keeps only the file the loader reads, which is also the one the model's id hashes."""
    import torch

    torch.save({"unused": torch.zeros(1)}, source / "pytorch_model.bin")
    info = manager.import_model(source)
    names = {p.name for p in info.path.iterdir()}
    assert "model.safetensors" in names and "pytorch_model.bin" not in names
    assert load_model(info.name, device="cpu").weights_hash == load_checkpoint(source).weights_hash


def test_a_single_file_model_of_another_family_is_refused_by_name(bundled, tmp_path, monkeypatch):
    """Storing a single file rebuilds a CLIP folder; a checkpoint of another family reaching it
    is refused with its family named (an assert would vanish under python -O)."""
    from clipdesk.model.checkpoint import Checkpoint
    from clipdesk.model.families.siglip import (
        SiglipConfig,
        SiglipModule,
        SiglipTextConfig,
        SiglipVisionConfig,
    )
    from clipdesk.model.preprocess import PreprocessConfig
    from clipdesk.model.state_dicts import default_clip_tokenizer

    small = {"width": 32, "layers": 1, "heads": 2, "mlp_width": 64}
    module = SiglipModule(
        SiglipConfig(
            SiglipVisionConfig(image_size=32, patch_size=16, **small),
            SiglipTextConfig(vocab_size=10, context_length=8, projection_size=32, **small),
        )
    )
    path = tmp_path / "siglip.safetensors"
    path.write_bytes(b"")
    tokenizer = default_clip_tokenizer(8)
    ckpt = Checkpoint(module, tokenizer, PreprocessConfig(size=32), "s", "0" * 64, path)
    monkeypatch.setattr("clipdesk.model.checkpoint.load_checkpoint", lambda *a, **k: ckpt)
    with pytest.raises(CheckpointError, match="single-file siglip model"):
        manager.import_model(path)
    assert not (paths.models_dir() / "siglip").exists()


def test_active_model_setting(bundled, source):
    assert manager.get_active_model() is None
    assert manager.resolve_model(None) == bundled / manager.DEMO_MODEL
    manager.import_model(source)
    manager.set_active_model("my-clip")
    assert manager.get_active_model() == "my-clip"
    assert manager.resolve_model(None) == paths.models_dir() / "my-clip"
    assert [m.name for m in manager.list_models() if m.active] == ["my-clip"]
    assert load_model(device="cpu").name == "my-clip"
    with pytest.raises(ModelError, match="no installed model named 'nope'"):
        manager.set_active_model("nope")
    manager.remove_model("my-clip")
    assert manager.get_active_model() is None  # back to the default, not a dangling name
    assert manager.resolve_model(None) == bundled / manager.DEMO_MODEL


def test_corrupt_settings_file_is_ignored(bundled):
    (paths.config_dir() / manager.SETTINGS_FILE).write_text("{oops")
    assert manager.get_active_model() is None


def test_user_model_shadows_bundled_one(bundled, source):
    manager.import_model(source, name=manager.DEMO_MODEL)
    (info,) = manager.list_models()
    assert info.source == "user"
    assert manager.resolve_model(manager.DEMO_MODEL) == paths.models_dir() / manager.DEMO_MODEL


def test_unknown_model_error_names_the_way_out(bundled):
    with pytest.raises(ModelError, match="no model named or found at 'nope'") as err:
        manager.resolve_model("nope")
    assert "import" in err.value.hint and "download" in err.value.hint


def test_bundled_models_cannot_be_removed(bundled):
    with pytest.raises(ModelError, match="no user-installed model"):
        manager.remove_model(manager.DEMO_MODEL)


def test_listing_ignores_partial_downloads_and_imports(bundled, source):
    (paths.models_dir() / ".downloads" / "x").mkdir(parents=True)
    (paths.models_dir() / ".import-x-123").mkdir()
    (paths.models_dir() / "stray-file.txt").write_text("x")
    (paths.models_dir() / "empty-folder").mkdir()
    assert [m.name for m in manager.list_models()] == [manager.DEMO_MODEL]
