"""``--runtime``, ``models prepare``, and the runtime in ``index``, ``models list``, ``status``,
``doctor`` and ``models import``."""

from __future__ import annotations

import importlib.metadata
import json

import pytest

from clipdesk.cli import main
from clipdesk.library.store import Library
from clipdesk.model import manager
from clipdesk.model.runtime.cache import find_entry
from tests.support.cli_process import cli
from tests.support.pipeline_helpers import solid_photos
from tests.support.runtime_exports import SharedExport, export_once


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> SharedExport:
    return export_once(tmp_path_factory)


@pytest.fixture
def auto(monkeypatch, tmp_path) -> list[str]:
    """The runtime left to the setting (auto), on the CPU, over a library in tmp_path (made
    here: `status` reads a library, it never creates one)."""
    monkeypatch.delenv("CLIPDESK_RUNTIME")
    monkeypatch.setattr(manager, "bundled_models_dir", lambda: tmp_path / "no-bundled")
    Library(tmp_path / "lib.sqlite3").close()
    return ["--library", str(tmp_path / "lib.sqlite3"), "--device", "cpu"]


def test_an_unknown_runtime_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--runtime", "tensorrt", "status"])
    assert exit_.value.code == 2 and "invalid choice: 'tensorrt'" in capsys.readouterr().err


def test_prepare_shows_its_steps_and_prints_the_agreement_and_the_speeds(
    shared, auto, capsys, monkeypatch
):
    import sys

    monkeypatch.setattr(type(sys.stderr), "isatty", lambda _self: True, raising=False)
    code, out, err = cli(capsys, *auto, "models", "prepare", str(shared.model))
    assert code == 0, err
    assert "Preparing tiny-random: image tower [" in err and "5/5" in err  # the progress line
    assert out.startswith("prepared tiny-random for ONNX Runtime in ")
    assert "ONNX fp32 vs PyTorch: max difference" in out
    assert "int8 vs fp32: min cosine" in out and "passed: int8 is used" in out
    for runtime in ("PyTorch fp32", "ONNX Runtime fp32", "ONNX Runtime int8"):
        assert f"\n  {runtime} " in out  # a row of the speeds measured here
    assert "runtime setting auto: ONNX Runtime int8 serves it here" in out
    code, out, _ = cli(capsys, *auto, "--json", "models", "prepare", str(shared.model))
    data = json.loads(out)
    assert data["outcome"] == "ready" and data["serves"] == "onnx-int8"
    assert data["agreement"]["passed"] and data["fp32_max_diff"] <= 1e-4
    assert set(data["speed"]) == {"torch-fp32", "onnx-fp32", "onnx-int8"}
    assert data["runtime_choice"] == "auto"


def test_index_exports_first_on_the_cpu_unless_the_runtime_is_torch(shared, auto, capsys, tmp_path):
    shared.seed()
    model = shared.copy_model(tmp_path / "copy")
    solid_photos(tmp_path / "Pictures", 3, (64, 48))
    base = [*auto, "--model", str(model)]
    assert cli(capsys, *base, "folders", "add", str(tmp_path / "Pictures"))[0] == 0
    code, out, err = cli(capsys, *base, "--runtime", "torch", "--json", "index", "--limit", "1")
    assert code == 0, err
    assert json.loads(out)["runtime"] == "torch-fp32" and find_entry(model) is None
    code, out, err = cli(capsys, *base, "index")
    assert code == 0, err
    assert "Indexed 2 photos (0 could not be read)" in out and "on ONNX Runtime int8." in out
    assert find_entry(model) is not None


def test_list_status_and_doctor_name_the_runtime(shared, auto, capsys):
    args = [*auto, "--model", str(shared.model)]
    code, out, _ = cli(capsys, *args, "status")
    assert "  runs on PyTorch fp32 (not prepared for ONNX Runtime yet" in out
    shared.seed()
    assert cli(capsys, *auto, "models", "import", str(shared.model), "--name", "mine")[0] == 0
    code, out, _ = cli(capsys, *auto, "--json", "models", "list")
    (mine,) = json.loads(out)["models"]
    assert mine["runtime"]["prepared"] and mine["runtime"]["serves"] == "onnx-int8"
    code, out, _ = cli(capsys, *auto, "models", "list")
    assert "user, ONNX Runtime int8" in out
    code, out, _ = cli(capsys, *auto, "--model", "mine", "status")
    assert "  runs on ONNX Runtime int8\n" in out
    code, out, _ = cli(capsys, *auto, "--runtime", "torch", "--model", "mine", "status")
    assert "  runs on PyTorch fp32\n" in out  # prepared, but the choice is PyTorch
    code, out, _ = cli(capsys, *auto, "--model", "mine", "--json", "doctor", "--quick")
    report = json.loads(out)
    assert report["clipdesk"]["onnxruntime"] == importlib.metadata.version("onnxruntime")
    assert report["model"]["onnx_prepared"] and report["model"]["runtime_choice"] == "auto"


def test_an_import_says_it_is_prepared_and_a_failed_export_is_a_note(
    shared, auto, capsys, monkeypatch
):
    from clipdesk.common.errors import ModelError
    from clipdesk.model.runtime import export

    shared.seed()
    code, out, err = cli(capsys, *auto, "models", "import", str(shared.model), "--name", "a")
    assert code == 0, err
    assert "\na is prepared for ONNX Runtime; ONNX Runtime int8 serves it here" in out

    def broken(*_a, **_k):
        raise ModelError("the ONNX export of b does not match PyTorch (max difference 0.5)")

    monkeypatch.setattr(export, "export_model", broken)
    code, out, err = cli(
        capsys, *auto, "--json", "models", "import", str(shared.model), "--name", "b"
    )
    assert code == 0, err  # installed all the same
    data = json.loads(out)
    assert data["name"] == "b" and data["runtime"]["outcome"] == "failed"
    assert "runs on PyTorch" in data["runtime"]["note"]
    code, out, _ = cli(capsys, *auto, "models", "import", str(shared.model), "--name", "c")
    assert "\nnote: c could not be prepared for ONNX Runtime (the ONNX export of b" in out
    code, out, _ = cli(capsys, *auto, "--runtime", "torch", "models", "import", str(shared.model))
    assert code == 0 and "ONNX" not in out  # not asked for: nothing said
