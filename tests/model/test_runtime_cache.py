"""The ONNX export cache, the choice of runtime, and loading without waste.

A model finds its export by its weight files' path, size and mtime as the manifest recorded
them, reading no weights; a changed file has none (and "auto" then serves it with PyTorch), a
copy of the same weights shares the export, and a damaged manifest is ignored, never trusted. A
cancelled export leaves nothing behind. "auto" takes ONNX Runtime unless PyTorch measured
clearly faster here, and PyTorch on a GPU. Loading builds no random weights the checkpoint then
replaces, and a text query on ONNX Runtime imports no torch and opens only the text tower.

One export of the demo model (the real probe set and check) serves the module; tests that damage
or edit it work on a copy of the models folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from clipdesk.common import limits
from clipdesk.common.errors import CancelledError, ModelError
from clipdesk.common.progress import CancelToken, Progress
from clipdesk.model import load_model, manager, versions
from clipdesk.model.runtime import cache, choose, export
from clipdesk.model.runtime.choose import choose_runtime

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "models" / "clipdesk-mini"
WEIGHTS = "model.safetensors"
PHRASES = ["a red circle", "two blue squares on a green background"]


REPORTS: list[Progress] = []  # the module export's progress reports


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, cache.CacheEntry]]:
    """(models home, the demo model's export in it), as export_model leaves it by default."""
    home = tmp_path_factory.mktemp("cache-home")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a small model: a second thread only waits on a busy machine
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLIPDESK_HOME", str(home))
        entry = export.export_model(DEMO, threads=1, progress=REPORTS.append)
    yield home, entry
    torch.set_num_threads(threads)


@pytest.fixture
def home(exported, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the module's models home, for this test to change."""
    copy = tmp_path / "home"
    shutil.copytree(exported[0], copy)
    monkeypatch.setenv("CLIPDESK_HOME", str(copy))
    return copy


@pytest.fixture
def demo_copy(tmp_path: Path) -> Path:
    """The demo model's folder copied with its files' mtimes (shutil.copy2): another path for
    the same weights."""
    return Path(shutil.copytree(DEMO, tmp_path / "models-elsewhere" / "clipdesk-mini"))


def _only_entry() -> cache.CacheEntry:
    (entry,) = cache.entries()
    return entry


def _edit_manifest(change: Callable[[dict[str, Any]], object]) -> None:
    entry = _only_entry()
    manifest = json.loads((entry.folder / cache.MANIFEST).read_text())
    change(manifest)
    cache.write_manifest(entry.folder, manifest)


def _no_export(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any graph export from here on fails the test: the cache must serve what it has."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(export, "_export_into", refuse)


# --- finding an export ---


def test_the_export_is_what_the_default_leaves(home):
    entry = _only_entry()
    assert entry.int8_agrees and entry.precisions() == ["int8"]
    # fp32 graphs are not kept where int8 agrees: a second copy of the weights
    names = {p.name for p in entry.folder.iterdir()}
    assert {"manifest.json", "image-int8.onnx", "text-int8.onnx"} <= names
    assert not names & {"image-fp32.onnx", "text-fp32.onnx"}
    assert entry.folder.name.startswith(entry.weights_hash[:16] + "-")
    assert entry.folder.is_relative_to(home) and cache.entry_for_hash(entry.weights_hash) == entry


def test_an_export_is_found_by_its_weight_files_without_reading_them(home, monkeypatch):
    import builtins

    real_open = builtins.open

    def guarded(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        assert not str(file).endswith(".safetensors"), f"read {file}"
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"read {self}"))
    monkeypatch.setattr("clipdesk.model.checkpoint.weights_hash", lambda *a, **k: pytest.fail())
    entry = cache.find_entry(DEMO)
    assert entry is not None and entry == _only_entry()
    assert cache.find_entry(DEMO / WEIGHTS) == entry  # the weights file names it too
    assert cache.find_entry(DEMO.parent) is None


def test_a_touched_weights_file_has_no_export_and_auto_serves_torch(home, demo_copy):
    shared = export.export_model(demo_copy, threads=1)  # the same weights: another source
    assert cache.find_entry(demo_copy) == shared
    assert load_model(demo_copy, "cpu", runtime="auto").runtime == "onnx"
    weights = demo_copy / WEIGHTS
    st = weights.stat()
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert cache.find_entry(demo_copy) is None
    model = load_model(demo_copy, "cpu", runtime="auto")
    assert model.runtime_label == "torch-fp32"
    assert cache.find_entry(DEMO) is not None  # the other copy is still found


def test_a_replaced_weights_file_is_another_model(home, demo_copy, tmp_path):
    from safetensors.numpy import load_file, save_file

    tensors = load_file(str(demo_copy / WEIGHTS))
    name = "text_model.final_layer_norm.bias"
    tensors[name] = tensors[name] + 0.5
    replacement = tmp_path / "new.safetensors"
    save_file(tensors, str(replacement), metadata={"format": "pt"})
    export.export_model(demo_copy, threads=1)
    before = load_model(demo_copy, "cpu", runtime="torch")
    assert replacement.stat().st_size == (demo_copy / WEIGHTS).stat().st_size
    os.replace(replacement, demo_copy / WEIGHTS)
    assert cache.find_entry(demo_copy) is None
    after = load_model(demo_copy, "cpu", runtime="auto")
    assert after.runtime == "torch" and after.id != before.id


def test_a_second_folder_with_the_same_weights_shares_the_export(home, demo_copy, monkeypatch):
    _no_export(monkeypatch)
    assert cache.find_entry(demo_copy) is None
    entry = export.export_model(demo_copy, threads=1)
    assert entry.folder == _only_entry().folder
    assert cache.find_entry(demo_copy) == cache.find_entry(DEMO) == _only_entry()
    sources = [s[0]["path"] for s in _only_entry().manifest["sources"]]
    assert sources == [str((DEMO / WEIGHTS).resolve()), str((demo_copy / WEIGHTS).resolve())]
    # runtime="onnx" records a copy by itself, without exporting
    other = Path(shutil.copytree(DEMO, demo_copy.parent / "third"))
    model = load_model(other, "cpu", runtime="onnx")
    assert model.runtime_label == "onnx-int8" and len(_only_entry().manifest["sources"]) == 3
    assert model.id == f"clipdesk-mini@{entry.weights_hash[:12]}"  # named by its clipdesk.json


def test_the_same_weights_with_another_preprocessing_get_their_own_export(home, demo_copy):
    """An export carries the preprocessing and tokenizer it was made with: a folder of the same
    weights that crops another size must not be served with the first folder's facts."""
    config = demo_copy / "preprocessor_config.json"
    data = json.loads(config.read_text())
    data["image_mean"] = [0.5, 0.5, 0.5]
    config.write_text(json.dumps(data))
    entry = export.export_model(demo_copy, threads=1)
    first = cache.find_entry(DEMO)
    assert entry.weights_hash == first.weights_hash and entry.folder != first.folder
    assert cache.find_entry(demo_copy) == entry
    served = load_model(demo_copy, "cpu", runtime="onnx")
    assert served.preprocessor.cfg.mean == (0.5, 0.5, 0.5)
    assert load_model(DEMO, "cpu", runtime="onnx").preprocessor.cfg.mean != (0.5, 0.5, 0.5)


def test_a_vanished_copy_is_dropped_from_the_sources(home, demo_copy):
    export.export_model(demo_copy, threads=1)
    shutil.rmtree(demo_copy)
    other = Path(shutil.copytree(DEMO, demo_copy.parent / "again"))
    export.export_model(other, threads=1)
    sources = [s[0]["path"] for s in _only_entry().manifest["sources"]]
    assert sources == [str((DEMO / WEIGHTS).resolve()), str((other / WEIGHTS).resolve())]


# --- a damaged manifest is ignored ---


def _damage_text(text: str) -> Callable[[Path], None]:
    return lambda folder: (folder / cache.MANIFEST).write_text(text)


def _damage(change: Callable[[dict[str, Any]], object]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        manifest = json.loads((folder / cache.MANIFEST).read_text())
        change(manifest)
        (folder / cache.MANIFEST).write_text(json.dumps(manifest))

    return apply


def _deep(depth: int) -> object:
    node: object = 1
    for _ in range(depth):
        node = [node]
    return node


def _outside(folder: Path) -> None:
    """The manifest names a graph (a real one) two folders up."""
    shutil.copy(folder / "image-int8.onnx", folder.parent.parent / "elsewhere.onnx")
    _damage(lambda m: m["files"]["image"].update(int8="../../elsewhere.onnx"))(folder)


DAMAGES: dict[str, Callable[[Path], None]] = {
    "not json": _damage_text('{"format": 1, "weights_hash": '),
    "not an object": _damage_text("[1, 2, 3]"),
    "empty": _damage_text(""),
    "no manifest": lambda folder: (folder / cache.MANIFEST).unlink(),
    "format from the future": _damage(lambda m: m.update(format=cache.FORMAT + 1)),
    "format as text": _damage(lambda m: m.update(format=str(cache.FORMAT))),
    "no weights hash": _damage(lambda m: m.pop("weights_hash")),
    "files not an object": _damage(lambda m: m.update(files=["image-int8.onnx"])),
    "a graph missing": lambda folder: (folder / "text-int8.onnx").unlink(),
    "a graph named outside the folder": _outside,
    "a graph named by an absolute path": _damage(
        lambda m: m["files"]["text"].update(int8=str(DEMO / WEIGHTS))
    ),
    "too large": _damage(lambda m: m.update(padding="x" * limits.MODEL_JSON_MAX_BYTES)),
    "too deep": _damage(lambda m: m.update(meta=_deep(limits.MODEL_JSON_MAX_DEPTH + 5))),
    "facts unreadable": _damage(lambda m: m["facts"].update(embed_dim="wide")),
    "facts missing": _damage(lambda m: m.pop("facts")),
    "a hostile image size": _damage(lambda m: m["facts"]["preprocess"].update(size=10**9)),
    "a tokenizer recipe outside the folder": _damage(
        lambda m: m["tokenizer"].update(tokenizer_file="../../tokenizer.json")
    ),
    "no tokenizer recipe": _damage(lambda m: m.pop("tokenizer")),
}


# A source whose record is damaged is not matched; the export itself stays good.
SOURCE_DAMAGES: dict[str, Callable[[Path], None]] = {
    "sizes not numbers": _damage(lambda m: m["sources"][0][0].update(size="10118148")),
    "a hostile size": _damage(lambda m: m["sources"][0][0].update(size=10**400)),
    "sources not a list": _damage(lambda m: m.update(sources={"path": str(DEMO / WEIGHTS)})),
    "a source without a path": _damage(lambda m: m["sources"][0][0].pop("path")),
}


@pytest.mark.parametrize("damage", list(SOURCE_DAMAGES))
def test_a_damaged_source_record_matches_nothing(home, damage, monkeypatch):
    entry = _only_entry()
    SOURCE_DAMAGES[damage](entry.folder)
    assert cache.find_entry(DEMO) is None
    assert load_model(DEMO, "cpu", runtime="auto").runtime_label == "torch-fp32"
    _no_export(monkeypatch)  # the weights hash finds the export: their source is recorded anew
    assert load_model(DEMO, "cpu", runtime="onnx").runtime_label == "onnx-int8"
    assert cache.find_entry(DEMO) is not None


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_export_is_ignored(home, damage):
    entry = _only_entry()
    DAMAGES[damage](entry.folder)
    assert cache.find_entry(DEMO) is None
    assert cache.entry_for_hash(entry.weights_hash) is None
    assert cache.entries() == []
    assert load_model(DEMO, "cpu", runtime="auto").runtime_label == "torch-fp32"


def test_a_damaged_export_is_made_again_when_onnx_is_asked_for(home):
    entry = _only_entry()
    DAMAGES["a hostile image size"](entry.folder)
    model = load_model(DEMO, "cpu", runtime="onnx")
    assert model.runtime_label == "onnx-int8"
    assert model.id == load_model(DEMO, "cpu", runtime="torch").id
    assert model.image_size == 64
    assert cache.find_entry(DEMO) == _only_entry() and _only_entry().folder == entry.folder
    assert not [p for p in cache.cache_root().iterdir() if p.name.startswith(".")]


def test_a_damaged_graph_file_is_named_when_used(home):
    folder = _only_entry().folder
    (folder / "text-int8.onnx").write_bytes(b"not a graph")
    model = load_model(DEMO, "cpu", runtime="onnx")
    with pytest.raises(ModelError, match="text-int8.onnx.*cannot read"):
        model.encode_texts(PHRASES)


# --- cancelling ---


@pytest.mark.parametrize("at", [0, len(export.STEPS) - 1])
def test_a_cancelled_export_leaves_nothing_behind(tmp_path, monkeypatch, at):
    monkeypatch.setenv("CLIPDESK_HOME", str(tmp_path / "fresh-home"))
    token = CancelToken()
    seen: list[Progress] = []

    def progress(p: Progress) -> None:
        seen.append(p)
        if p.done == at:
            token.cancel()

    with pytest.raises(CancelledError):
        export.export_model(DEMO, progress=progress, cancel=token, threads=1)
    assert seen[-1].done == at and seen[-1].total == len(export.STEPS)
    assert list(cache.cache_root().iterdir()) == []
    assert cache.find_entry(DEMO) is None
    assert load_model(DEMO, "cpu", runtime="auto").runtime == "torch"


def test_an_export_reports_every_step(exported):
    home, entry = exported
    assert [p.done for p in REPORTS] == list(range(len(export.STEPS) + 1))
    assert {p.total for p in REPORTS} == {len(export.STEPS)}
    assert REPORTS[0].message == "Preparing clipdesk-mini: image tower"
    assert REPORTS[-1].fraction == 1.0 and REPORTS[-1].message == "Prepared clipdesk-mini"
    # what the export returns is what a later reader finds
    assert cache.read_entry(entry.folder) == entry


# --- which runtime "auto" takes ---


def _speeds(onnx: float | None, torch_speed: float | None) -> Callable[[dict[str, Any]], None]:
    def change(manifest: dict[str, Any]) -> None:
        speed = manifest["speed"]
        for key, value in (("onnx-int8", onnx), ("torch-fp32", torch_speed)):
            if value is None:
                speed.pop(key)
            else:
                speed[key]["image_per_s"] = value

    return change


@pytest.mark.parametrize(
    ("onnx", "torch_speed", "expected"),
    [
        (300.0, 100.0, "onnx-int8"),
        (100.0, 110.0, "onnx-int8"),  # a tie (within the margin) goes to ONNX Runtime
        (100.0, 200.0, "torch-fp32"),  # PyTorch clearly faster
        (None, 200.0, "onnx-int8"),  # nothing measured: the runtime that needs no torch
        (100.0, None, "onnx-int8"),
    ],
)
def test_auto_takes_the_runtime_measured_faster(home, onnx, torch_speed, expected):
    _edit_manifest(_speeds(onnx, torch_speed))
    assert load_model(DEMO, "cpu", runtime="auto").runtime_label == expected


def test_the_setting_and_the_environment_choose_the_runtime(home, monkeypatch):
    monkeypatch.setenv("CLIPDESK_RUNTIME", "auto")
    assert load_model(DEMO, "cpu").runtime_label == "onnx-int8"
    monkeypatch.setenv("CLIPDESK_RUNTIME", "torch")
    assert load_model(DEMO, "cpu").runtime_label == "torch-fp32"
    assert load_model(DEMO, "cpu", runtime="onnx").runtime_label == "onnx-int8"
    with pytest.raises(ModelError, match="unknown runtime 'fast'"):
        load_model(DEMO, "cpu", runtime="fast")


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "mps"])
def test_a_gpu_gets_torch(home, device):
    assert choose_runtime("auto", DEMO, device) is None
    with pytest.raises(ModelError, match="ONNX Runtime on the CPU only"):
        choose_runtime("onnx", DEMO, device)
    assert isinstance(choose_runtime("auto", DEMO, "cpu"), choose.OnnxServing)


def test_the_auto_device_gets_torch_where_torch_finds_a_gpu(home, monkeypatch):
    from clipdesk.model import device

    monkeypatch.setattr(device, "gpu_possible", lambda: False)  # asks torch nothing
    monkeypatch.setattr(device, "available_devices", lambda: pytest.fail("asked torch"))
    assert isinstance(choose_runtime("auto", DEMO, "auto"), choose.OnnxServing)
    monkeypatch.setattr(device, "gpu_possible", lambda: True)
    monkeypatch.setattr(
        device, "available_devices", lambda: [device.DeviceInfo("cuda:0", "CUDA test GPU")]
    )
    assert choose_runtime("auto", DEMO, "auto") is None
    assert isinstance(choose_runtime("onnx", DEMO, "auto"), choose.OnnxServing)


def test_an_activation_override_needs_torch(home):
    assert load_model(DEMO, "cpu", runtime="auto", act="gelu").runtime == "torch"
    with pytest.raises(ModelError, match="activation override"):
        load_model(DEMO, "cpu", runtime="onnx", act="gelu")


def test_the_model_id_is_the_same_under_both_runtimes(home, demo_copy):
    """A library's vectors are stored under the model id: switching runtime keeps them valid,
    for a model named by its clipdesk.json, by its folder, and installed under a new name."""
    info = manager.import_model(demo_copy, name="renamed-mini")
    meta = json.loads((demo_copy / "clipdesk.json").read_text())
    (demo_copy / "clipdesk.json").unlink()  # now named by its folder
    for target in (DEMO, demo_copy, "renamed-mini"):
        ids = {load_model(target, "cpu", runtime=r).id for r in ("torch", "onnx", "auto")}
        path = manager.resolve_model(target)
        assert ids == {versions.model_id_of(path)}, target
    assert load_model("renamed-mini", "cpu", runtime="onnx").name == "renamed-mini"
    assert load_model(demo_copy, "cpu", runtime="onnx").name == "clipdesk-mini"  # folder name
    assert meta["name"] == "clipdesk-mini" and info.path.name == "renamed-mini"


# --- loading without waste ---


_QUERY_PROCESS = r"""
import json, sys
from clipdesk.model import load_model

model = load_model(sys.argv[1], "cpu", runtime="onnx")
vector = model.encode_texts(["a red circle"])
out = {
    "torch": sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")),
    "sessions": sorted(f"{t}/{w}" for t, w in model.towers._sessions),
    "label": model.runtime_label,
    "shape": list(vector.shape),
    "norm": float((vector ** 2).sum()),
}
# then the same model on PyTorch, in the same process
model = load_model(sys.argv[1], "cpu", runtime="torch")
model.encode_texts(["a red circle"])
out["torch_label"] = model.runtime_label
out["dynamo"] = "torch._dynamo" in sys.modules
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def query_process(exported) -> dict[str, Any]:
    """What a fresh process that serves a text query with the demo model saw."""
    home, _ = exported
    env = {**os.environ, "CLIPDESK_HOME": str(home), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", _QUERY_PROCESS, str(DEMO)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def test_a_text_query_on_onnx_runtime_imports_no_torch_and_opens_only_the_text_tower(
    exported, query_process
):
    _, entry = exported
    assert query_process["torch"] == []
    assert query_process["sessions"] == ["text/query"]
    assert query_process["label"] == "onnx-int8"
    assert query_process["shape"] == [1, entry.manifest["facts"]["embed_dim"]]
    assert query_process["norm"] == pytest.approx(1.0, abs=1e-5)


def test_a_torch_load_does_not_import_torch_s_compiler(query_process):
    """Building on the meta device ran each layer's initialiser there, and the first one
    imported torch._dynamo (2-3 s of every load, the issue's profile)."""
    assert query_process["torch_label"] == "torch-fp32"
    assert query_process["dynamo"] is False


def _save_hub_folder(source: Path, folder: Path) -> Path:
    """ClipDesk's OpenCLIP hub writer (as an imported ResNet file is stored)."""
    from clipdesk.model.checkpoint import load_checkpoint
    from clipdesk.model.families.openclip_save import save_hub_folder

    ckpt = load_checkpoint(source)
    return save_hub_folder(ckpt.module, ckpt.tokenizer, folder, name="hub-tiny")


def _save_state_dict_file(source: Path, path: Path) -> Path:
    """An OpenAI / OpenCLIP state dict file (no config) of a Hugging Face folder's weights."""
    from safetensors.torch import load_file, save_file

    from clipdesk.model.convert import hf_to_native

    save_file(hf_to_native(load_file(str(source / WEIGHTS))), str(path))
    return path


class _Initialisers(TorchDispatchMode):
    """Records every kernel that draws or fills a tensor's values the way layers initialise
    their weights, on any device (the meta device included)."""

    OPS = frozenset(
        {
            torch.ops.aten.normal_,
            torch.ops.aten.uniform_,
            torch.ops.aten.fill_,
            torch.ops.aten.zero_,
            torch.ops.aten.bernoulli_,
            torch.ops.aten.random_,
            torch.ops.aten.exponential_,
            torch.ops.aten.randn,
            torch.ops.aten.rand,
            torch.ops.aten.randint,
        }
    )

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        if func.overloadpacket in self.OPS:
            self.seen.append(str(func))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("layout", ["hf-folder", "hub-folder", "state-dict-file"])
def test_loading_initialises_no_weights(tmp_path, layout):
    """The module is built on the meta device with no initialiser run (each one there cost
    torch's dispatch, and the first imported its compiler), then given the checkpoint's
    weights: loading draws and fills nothing."""
    from clipdesk.model.testing import tiny_random_model

    source = tiny_random_model(tmp_path)  # CLIP's vocabulary: what a state dict file gets
    if layout == "hf-folder":
        path = source
    elif layout == "hub-folder":
        path = _save_hub_folder(source, tmp_path / "hub")
    else:
        path = _save_state_dict_file(source, tmp_path / "tiny.safetensors")
    ref = load_model(path, "cpu", runtime="torch").encode_texts(PHRASES)
    with _Initialisers() as initialisers:
        model = load_model(path, "cpu", runtime="torch")
    assert initialisers.seen == []
    assert all(p.device.type == "cpu" for p in model.module.parameters())
    assert np.abs(model.encode_texts(PHRASES) - ref).max() <= 1e-6


def test_the_initialiser_guard_sees_a_layer_built_with_its_initialisers():
    with _Initialisers() as initialisers:
        torch.nn.Linear(4, 4)
    with _Initialisers() as on_meta, torch.device("meta"):
        torch.nn.LayerNorm(4)
    assert "aten.uniform_.default" in initialisers.seen
    assert on_meta.seen == ["aten.fill_.Scalar", "aten.zero_.default"]
