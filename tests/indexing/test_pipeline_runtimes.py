"""The pipeline records which runtime made each vector and mixes runtimes only where they agree;
it needs no torch of its own (pixels are numpy from either decoder)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from clipdesk.common.errors import ModelError
from clipdesk.indexing.pipeline import IndexPipeline
from clipdesk.library.store import Library
from clipdesk.model import load_model
from clipdesk.model.runtime import cache
from clipdesk.model.runtime.cache import CacheEntry
from clipdesk.model.testing import tiny_random_model
from tests.support.pipeline_helpers import register, solid_photos

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_model(tiny_random_model(tmp_path_factory.mktemp("models")), device="cpu")


@pytest.fixture
def library(tmp_path: Path):
    with Library(tmp_path / "lib.sqlite3") as lib:
        yield lib


class Labelled:
    """The model, as if another runtime served it (its vectors are torch's: only the label
    matters to the pipeline)."""

    def __init__(self, inner, label: str) -> None:
        self.inner, self.runtime_label = inner, label

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _agreement(monkeypatch, passed: bool | None) -> None:
    """The model's export as the cache would find it: int8 checked (passed or not), or none."""
    entry = (
        None
        if passed is None
        else CacheEntry(Path("/nonexistent"), {"agreement": {"int8": {"passed": passed}}})
    )
    monkeypatch.setattr(cache, "entry_for_hash", lambda _hash: entry)


def _photos(library: Library, folder: Path, n: int) -> list[Path]:
    paths = solid_photos(folder, n, (64, 48))
    register(library, folder, paths)
    return paths


def test_vectors_are_stored_with_the_runtime_that_made_them(library, model, tmp_path) -> None:
    paths = _photos(library, tmp_path / "p", 6)
    assert IndexPipeline(library, model, batch_size=4).run().embedded == 6
    assert model.runtime_label == "torch-fp32"  # the suite's runtime (tests/conftest.py)
    assert library.vector_runtimes(model.id) == {"torch-fp32": 6}
    paths[0].write_bytes(paths[1].read_bytes() + b"\0")  # changed: embedded again
    register(library, tmp_path / "p", [paths[0]])
    assert IndexPipeline(library, Labelled(model, "onnx-fp32")).run().embedded == 1
    assert library.vector_runtimes(model.id) == {"torch-fp32": 5, "onnx-fp32": 1}


@pytest.mark.parametrize(
    ("stored", "running", "passed"),
    [
        ("torch-fp32", "onnx-fp32", None),  # fp32 of either runtime always mixes
        ("onnx-fp32", "torch-fp32", None),
        ("torch-fp32", "onnx-int8", True),  # int8 beside fp32 once its check passed
        ("onnx-int8", "torch-fp32", True),
        ("onnx-int8", "onnx-int8", None),  # one runtime is no mix
    ],
)
def test_runtimes_that_agree_are_mixed(
    library, model, tmp_path, monkeypatch, stored, running, passed
) -> None:
    _agreement(monkeypatch, passed)
    _photos(library, tmp_path / "p", 4)
    IndexPipeline(library, Labelled(model, stored)).run(limit=2)
    assert IndexPipeline(library, Labelled(model, running)).run().embedded == 2
    assert sum(library.vector_runtimes(model.id).values()) == 4


@pytest.mark.parametrize(
    ("stored", "running", "passed", "why"),
    [
        ("torch-fp32", "onnx-int8", False, "did not agree"),
        ("onnx-int8", "onnx-fp32", False, "did not agree"),
        ("onnx-int8", "torch-fp32", None, "have not been checked"),
    ],
)
def test_runtimes_that_do_not_agree_are_refused_naming_both(
    library, model, tmp_path, monkeypatch, stored, running, passed, why
) -> None:
    _agreement(monkeypatch, passed)
    _photos(library, tmp_path / "p", 5)
    assert IndexPipeline(library, Labelled(model, stored)).run(limit=3).embedded == 3
    with pytest.raises(ModelError) as err:
        IndexPipeline(library, Labelled(model, running)).run()
    names = {"torch-fp32": "PyTorch fp32", "onnx-fp32": "ONNX Runtime fp32"}
    names["onnx-int8"] = "ONNX Runtime int8"
    message = err.value.message
    assert f"{names[stored]} (3 photos)" in message and names[running] in message
    assert why in message and model.name in message
    assert f"embedded again with {names[running]}" in err.value.hint
    if stored == "onnx-int8" and passed is False:  # int8 is not served again: nothing to pick
        assert "Settings" not in err.value.hint and "--runtime" not in err.value.cli_hint
    else:
        runtime = stored.split("-")[0]
        assert f"Choose {names[stored].rsplit(' ', 1)[0]} in Settings" in err.value.hint
        assert f"--runtime {runtime}" in err.value.cli_hint
    # Refused before anything was embedded: the library is as it was.
    assert library.vector_runtimes(model.id) == {stored: 3}
    assert library.count_pending(model.id) == 2


def test_a_mixed_library_with_nothing_pending_is_not_an_error(
    library, model, tmp_path, monkeypatch
) -> None:
    _agreement(monkeypatch, False)
    _photos(library, tmp_path / "p", 3)
    IndexPipeline(library, Labelled(model, "onnx-int8")).run()
    assert IndexPipeline(library, model).run().embedded == 0


def test_the_pipeline_imports_no_torch() -> None:
    code = (
        "import sys\n"
        "import clipdesk.indexing.pipeline\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
