"""Checkpoint loading: every supported layout, and a clear error naming the file for every broken one."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from clipdesk.common.errors import CheckpointError
from clipdesk.model.checkpoint import load_checkpoint, save_model_folder
from clipdesk.model.clip import ClipModule
from clipdesk.model.config import ClipConfig, TextConfig, VisionConfig
from clipdesk.model.convert import native_to_hf
from clipdesk.model.state_dicts import default_clip_tokenizer

PWNED = "clipdesk-test-pwned"


def tiny_model(folder: Path, seed: int = 0) -> Path:
    """A tiny random CLIP whose heads are 64 wide, as in every released CLIP: config-less state
    dicts get their head count from that convention."""
    torch.manual_seed(seed)
    cfg = ClipConfig(
        embed_dim=32,
        vision=VisionConfig(
            image_size=32, patch_size=8, width=64, layers=2, heads=1, mlp_width=128
        ),
        text=TextConfig(width=64, layers=2, heads=1, mlp_width=128, pooling="argmax"),
    )
    module = ClipModule(cfg)
    module.init_weights()
    return save_model_folder(
        module, default_clip_tokenizer(77), folder / "tiny-random", name="tiny-random"
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def native_sd(tiny) -> dict[str, torch.Tensor]:
    ckpt = load_checkpoint(tiny)
    return {k: v.clone() for k, v in ckpt.module.state_dict().items()}


def _ids(ckpt) -> torch.Tensor:
    return ckpt.tokenizer(["a photo of a dog", "x"])


def _same_outputs(a, b) -> None:
    torch.manual_seed(0)
    px = torch.randn(2, 3, a.module.cfg.vision.image_size, a.module.cfg.vision.image_size)
    with torch.no_grad():
        assert torch.allclose(a.module.encode_image(px), b.module.encode_image(px), atol=1e-6)
        assert torch.allclose(
            a.module.encode_text(_ids(a)), b.module.encode_text(_ids(b)), atol=1e-6
        )


def test_hf_folder_and_state_dict_files_give_the_same_model(tiny, native_sd, tmp_path):
    ref = load_checkpoint(tiny)
    native = tmp_path / "openclip.safetensors"
    save_file(native_sd, str(native))
    hf_named = tmp_path / "hf.safetensors"
    save_file(native_to_hf(native_sd), str(hf_named))
    for path in (native, hf_named):
        _same_outputs(ref, load_checkpoint(path))
    assert ref.name == "tiny-random" and len(ref.weights_hash) == 64


# --- broken weights: each error names the file and the problem ---


def _write(tmp_path: Path, sd: dict[str, torch.Tensor], name: str = "model.safetensors") -> Path:
    path = tmp_path / name
    save_file(sd, str(path))
    return path


def test_missing_keys(native_sd, tmp_path):
    sd = dict(native_sd)
    del sd["visual.ln_post.weight"]
    path = _write(tmp_path, sd)
    with pytest.raises(CheckpointError, match="missing 1 tensors.*visual.ln_post.weight") as err:
        load_checkpoint(path)
    assert str(path) in str(err.value)


def test_unexpected_keys(native_sd, tmp_path):
    sd = {**native_sd, "visual.extra_head.weight": torch.zeros(3)}
    path = _write(tmp_path, sd)
    with pytest.raises(CheckpointError, match=r"unexpected 1 tensors \(visual.extra_head.weight"):
        load_checkpoint(path)


def test_shape_mismatch_in_hf_folder(tiny, tmp_path):
    folder = tmp_path / "folder"
    shutil.copytree(tiny, folder)
    sd = load_file(str(folder / "model.safetensors"))
    sd["text_model.final_layer_norm.weight"] = torch.ones(65)
    save_file(sd, str(folder / "model.safetensors"))
    with pytest.raises(
        CheckpointError,
        match=r"wrong shapes: ln_final.weight \(65,\) "
        r"\(expected \(64,\)\)",
    ) as err:
        load_checkpoint(folder)
    assert "model.safetensors" in str(err.value)


def test_config_that_does_not_fit_the_weights(tiny, tmp_path):
    folder = tmp_path / "folder"
    shutil.copytree(tiny, folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["vision_config"]["num_hidden_layers"] = 3
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="missing .*visual.transformer.resblocks.2"):
        load_checkpoint(folder)


@pytest.mark.parametrize("keep", [0.5, 0.001])
def test_truncated_safetensors(tiny, tmp_path, keep):
    data = (tiny / "model.safetensors").read_bytes()
    path = tmp_path / "cut.safetensors"
    path.write_bytes(data[: max(4, int(len(data) * keep))])
    with pytest.raises(CheckpointError, match="truncated or corrupt") as err:
        load_checkpoint(path)
    assert str(path) in str(err.value)


def test_garbage_and_unknown_files(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with pytest.raises(CheckpointError, match="unknown checkpoint type"):
        load_checkpoint(bad)
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "absent.safetensors")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="no config.json"):
        load_checkpoint(empty)


def test_not_a_clip_state_dict(tmp_path):
    path = _write(tmp_path, {"fc.weight": torch.zeros(2, 2)})
    with pytest.raises(CheckpointError, match="not a CLIP ViT or ResNet state dict"):
        load_checkpoint(path)


def test_wrong_model_type_and_broken_config(tiny, tmp_path):
    folder = tmp_path / "folder"
    shutil.copytree(tiny, folder)
    # SigLIP is read now (tests/model/test_siglip_conformance.py); Chinese-CLIP is still refused.
    (folder / "config.json").write_text(json.dumps({"model_type": "chinese_clip"}))
    with pytest.raises(CheckpointError, match="Chinese-CLIP") as err:
        load_checkpoint(folder)
    assert str(folder) in str(err.value)
    (folder / "config.json").write_text("{broken")
    with pytest.raises(CheckpointError, match="config.json: not readable JSON"):
        load_checkpoint(folder)


# --- pickles: only ever through torch.load(weights_only=True) ---


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {PWNED}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickle_with_code_is_refused_and_never_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    torch.save({"visual.proj": torch.zeros(2), "payload": _Evil()}, path)
    assert not (tmp_path / PWNED).exists()
    with pytest.raises(CheckpointError, match="refused.*arbitrary code") as err:
        load_checkpoint(path)
    assert str(path) in str(err.value)
    assert not (tmp_path / PWNED).exists()
    # a raw pickle (not torch's zip format) too
    raw = tmp_path / "evil.bin"
    raw.write_bytes(pickle.dumps({"w": _Evil()}))
    with pytest.raises(CheckpointError):
        load_checkpoint(raw)
    assert not (tmp_path / PWNED).exists()


@pytest.mark.parametrize("suffix", [".bin", ".pt", ".pth"])
def test_plain_tensor_pickles_are_accepted(tiny, native_sd, tmp_path, suffix):
    path = tmp_path / f"weights{suffix}"
    torch.save(native_sd, path)
    _same_outputs(load_checkpoint(tiny), load_checkpoint(path))


def test_pytorch_model_bin_in_hf_folder(tiny, tmp_path):
    folder = tmp_path / "folder"
    shutil.copytree(tiny, folder)
    sd = load_file(str(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    torch.save(sd, folder / "pytorch_model.bin")
    _same_outputs(load_checkpoint(tiny), load_checkpoint(folder))


def test_openai_extras_dataparallel_prefix_and_wrapped_state_dict(tiny, native_sd, tmp_path):
    ref = load_checkpoint(tiny)
    extras = {
        "input_resolution": torch.tensor(32),
        "context_length": torch.tensor(77),
        "vocab_size": torch.tensor(49408),
    }
    path = tmp_path / "openai.pt"
    torch.save({**native_sd, **extras}, path)
    _same_outputs(ref, load_checkpoint(path))
    dp = tmp_path / "dataparallel.safetensors"
    save_file({f"module.{k}": v for k, v in native_sd.items()}, str(dp))
    _same_outputs(ref, load_checkpoint(dp))
    wrapped = tmp_path / "trainer.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in native_sd.items()}}, wrapped)
    _same_outputs(ref, load_checkpoint(wrapped))


def test_half_precision_weights_load_as_fp32(tiny, native_sd, tmp_path):
    path = _write(tmp_path, {k: v.half() for k, v in native_sd.items()})
    ckpt = load_checkpoint(path)
    assert all(p.dtype == torch.float32 for p in ckpt.module.parameters())


def _openai_style_archive(tiny: Path, path: Path) -> None:
    """A TorchScript archive shaped like OpenAI's ViT-B-32.pt: the traced model, its causal
    masks kept as tensors on every text block, and plain int attributes."""
    module = load_checkpoint(tiny).module
    for block in module.transformer.resblocks:
        block.register_buffer("attn_mask", torch.full((77, 77), float("-inf")).triu(1))
    module.input_resolution = 32
    pixels, ids = torch.randn(1, 3, 32, 32), torch.tensor([[49406, 320, 49407]])
    with pytest.warns(Warning):  # tracing warns about the data-dependent pooling index
        traced = torch.jit.trace(module, (pixels, ids), check_trace=False)
    torch.jit.save(traced, str(path))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_openai_torchscript_weights_are_read_without_running_code(tiny, tmp_path, monkeypatch):
    path = tmp_path / "ViT-B-32.pt"
    _openai_style_archive(tiny, path)
    called = []
    monkeypatch.setattr(torch.jit, "load", lambda *a, **k: called.append(a))
    monkeypatch.setattr(torch, "load", lambda *a, **k: called.append(a))
    _same_outputs(load_checkpoint(tiny), load_checkpoint(path))
    assert not called


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchscript_archive_with_code_in_its_pickle_is_refused(tiny, tmp_path, monkeypatch):
    import zipfile

    good = tmp_path / "good.pt"
    _openai_style_archive(tiny, good)
    evil = tmp_path / "ViT-B-32.pt"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(evil, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("/data.pkl"):
                data = pickle.dumps({"visual": _Evil()}, protocol=2)
            dst.writestr(item, data)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        CheckpointError, match=r"refused.*TorchScript.*system is not allowed"
    ) as err:
        load_checkpoint(evil)
    assert str(evil) in str(err.value) and "models download" in (err.value.hint or "")
    assert not (tmp_path / PWNED).exists()


# --- sharded Hugging Face folders ---


def test_sharded_folder(tiny, tmp_path):
    folder = tmp_path / "sharded"
    shutil.copytree(tiny, folder)
    sd = load_file(str(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    keys = sorted(sd)
    half = len(keys) // 2
    shards = {
        "model-00001-of-00002.safetensors": keys[:half],
        "model-00002-of-00002.safetensors": keys[half:],
    }
    for name, names in shards.items():
        save_file({k: sd[k] for k in names}, str(folder / name))
    index = {"metadata": {}, "weight_map": {k: n for n, ks in shards.items() for k in ks}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    _same_outputs(load_checkpoint(tiny), load_checkpoint(folder))
    (folder / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(CheckpointError, match="shard files missing: model-00002-of-00002"):
        load_checkpoint(folder)
    (folder / "model.safetensors.index.json").write_text("[]")
    with pytest.raises(CheckpointError, match="unreadable shard index"):
        load_checkpoint(folder)


# --- activation of config-less files ---


def test_activation_override_and_declarations(native_sd, tmp_path):
    path = _write(tmp_path, native_sd, "w.safetensors")
    assert load_checkpoint(path).module.cfg.vision.act == "quick_gelu"
    assert load_checkpoint(path, act="gelu").module.cfg.text.act == "gelu"
    with pytest.raises(CheckpointError, match="unknown activation 'relu'"):
        load_checkpoint(path, act="relu")
    (tmp_path / "w.json").write_text(json.dumps({"act": "gelu"}))
    assert load_checkpoint(path).module.cfg.vision.act == "gelu"
    assert load_checkpoint(path, act="quick_gelu").module.cfg.vision.act == "quick_gelu"
    (tmp_path / "w.json").write_text(json.dumps({"act": "swish"}))
    with pytest.raises(CheckpointError, match="w.json: unknown activation 'swish'"):
        load_checkpoint(path)


def test_save_model_folder_round_trip_is_readable_by_transformers(tiny):
    transformers = pytest.importorskip("transformers")
    ours = load_checkpoint(tiny)
    theirs = transformers.CLIPModel.from_pretrained(str(tiny)).eval()
    px = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        a = ours.module.encode_image(px)
        b = theirs.get_image_features(pixel_values=px)
        b = b if isinstance(b, torch.Tensor) else b.pooler_output
    assert np.abs(a.numpy() - b.numpy()).max() < 1e-5


def test_saved_model_folder_gets_the_users_usual_permissions(tmp_path):
    import os
    import stat

    from clipdesk.model.testing import tiny_random_model

    old = os.umask(0o022)
    try:
        folder = tiny_random_model(tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    for f in folder.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o644, f.name


def test_weights_hash_reports_each_chunk_can_be_cancelled_and_caches_only_a_full_read(tmp_path):
    """Hashing gigabytes must be stoppable midway; a stopped read caches nothing, so the next
    look-up neither finds a hash nor trusts a partial one."""
    from clipdesk.common.errors import CancelledError
    from clipdesk.common.progress import CancelToken
    from clipdesk.model.checkpoint import cached_weights_hash, weights_hash

    files = [tmp_path / "a.bin", tmp_path / "b.bin"]
    files[0].write_bytes(b"x" * ((1 << 22) + 5))  # two chunks
    files[1].write_bytes(b"y" * 7)
    total = (1 << 22) + 12
    cancel, seen = CancelToken(), []

    def stop_after_first(done: int, size: int) -> None:
        seen.append((done, size))
        if done:
            cancel.cancel()

    with pytest.raises(CancelledError):
        weights_hash(files, cancel=cancel, progress=stop_after_first)
    assert seen == [(0, total), (1 << 22, total)]  # stopped before the second chunk
    assert cached_weights_hash(files) is None

    seen.clear()
    digest = weights_hash(files, cancel=CancelToken(), progress=lambda d, t: seen.append(d))
    assert seen == [0, 1 << 22, (1 << 22) + 5, total]
    assert cached_weights_hash(files) == digest == weights_hash(files)
    files[1].write_bytes(b"z" * 7)  # same size, new mtime: not the cached weights any more
    os.utime(files[1], ns=(1, 1))
    assert cached_weights_hash(files) is None
    assert cached_weights_hash([tmp_path / "gone.bin"]) is None
