"""Indexing with a model on ONNX Runtime: no torch in the process, vectors labelled with the
runtime, and a library that mixes int8 with fp32 only as far as the model's agreement check
allows (the real export of a tiny random CLIP, checked by the real probe set)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clipdesk.common.errors import ModelError
from clipdesk.indexing.pipeline import IndexPipeline
from clipdesk.library.store import Library
from clipdesk.model import load_model
from clipdesk.model.runtime import cache
from clipdesk.model.runtime.export import export_model
from clipdesk.model.testing import tiny_random_model
from tests.support.pipeline_helpers import register, solid_photos

REPO = Path(__file__).resolve().parents[2]

_CHILD = r"""
import json, sys
from clipdesk.indexing.pipeline import IndexPipeline
from clipdesk.library.store import Library
from clipdesk.model import load_model

model = load_model(sys.argv[2], device="cpu")
with Library(sys.argv[1]) as lib:
    report = IndexPipeline(lib, model, batch_size=4).run(limit=int(sys.argv[3]))
    print(json.dumps({
        "label": model.runtime_label,
        "embedded": report.embedded,
        "runtimes": lib.vector_runtimes(model.id),
        "torch": "torch" in sys.modules,
    }))
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, Path]:
    """(model folder, CLIPDESK_HOME holding its export), shared by the module's tests."""
    home = tmp_path_factory.mktemp("onnx-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("CLIPDESK_HOME", str(home))
    try:
        folder = tiny_random_model(tmp_path_factory.mktemp("models"))
        entry = export_model(folder)
        assert entry.int8_agrees and entry.has("int8")  # what the mixing below relies on
    finally:
        mp.undo()
    return folder, home


@pytest.fixture
def onnx_home(exported, monkeypatch) -> Path:
    folder, home = exported
    monkeypatch.setenv("CLIPDESK_HOME", str(home))
    return folder


def _index_in_child(library: Path, model: Path, limit: int) -> dict:
    env = {**os.environ, "CLIPDESK_RUNTIME": "onnx", "PYTHONPATH": str(REPO)}
    run = subprocess.run(
        [sys.executable, "-c", _CHILD, str(library), str(model), str(limit)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_onnx_indexing_needs_no_torch_and_labels_its_vectors(onnx_home, tmp_path) -> None:
    folder = tmp_path / "p"
    with Library(tmp_path / "lib.sqlite3") as lib:
        register(lib, folder, solid_photos(folder, 6, (64, 48)))
    child = _index_in_child(tmp_path / "lib.sqlite3", onnx_home, 6)
    assert child == {
        "label": "onnx-int8",
        "embedded": 6,
        "runtimes": {"onnx-int8": 6},
        "torch": False,
    }


def test_int8_and_fp32_vectors_mix_only_while_the_models_check_holds(onnx_home, tmp_path) -> None:
    folder = tmp_path / "p"
    with Library(tmp_path / "lib.sqlite3") as lib:
        register(lib, folder, solid_photos(folder, 8, (64, 48)))
    assert _index_in_child(tmp_path / "lib.sqlite3", onnx_home, 3)["embedded"] == 3
    model = load_model(onnx_home, device="cpu")  # the suite's runtime: PyTorch fp32
    assert model.runtime_label == "torch-fp32"
    with Library(tmp_path / "lib.sqlite3") as lib:
        assert IndexPipeline(lib, model).run(limit=2).embedded == 2  # the check passed: mixed
        assert lib.vector_runtimes(model.id) == {"onnx-int8": 3, "torch-fp32": 2}
        # Without the export (removed, say) nothing vouches for the int8 vectors any more.
        entry = cache.entry_for_hash(model.weights_hash)
        assert entry is not None
        moved = tmp_path / "export-aside"
        shutil.move(entry.folder, moved)
        try:
            with pytest.raises(ModelError, match="ONNX Runtime int8 .3 photos.") as err:
                IndexPipeline(lib, model).run()
            assert "--runtime onnx" in err.value.cli_hint
            assert lib.count_pending(model.id) == 3
        finally:
            shutil.move(moved, entry.folder)
        assert IndexPipeline(lib, model).run().embedded == 3
