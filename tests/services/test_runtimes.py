"""Preparing models for ONNX Runtime through the services: on install, on first use, after a
fine-tune; a failed or cancelled export never fails the workflow; exports go with their models."""

from __future__ import annotations

import pytest

from clipdesk.common import paths
from clipdesk.common.errors import ModelError
from clipdesk.common.progress import CancelToken
from clipdesk.model import manager
from clipdesk.model.runtime import cache
from clipdesk.model.runtime.cache import find_entry
from clipdesk.services.app import ClipDeskServices
from clipdesk.services.models import ModelService
from tests.support.runtime_exports import SharedExport, export_once


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> SharedExport:
    return export_once(tmp_path_factory)


@pytest.fixture
def auto(monkeypatch) -> None:
    monkeypatch.setenv("CLIPDESK_RUNTIME", "auto")
    from clipdesk.common import config

    config.update(device="cpu")


def _broken_export(*_args, **_kwargs):
    raise ModelError("the ONNX export of tiny-random does not match PyTorch (max difference 0.3)")


def test_an_import_prepares_the_model_and_removing_the_last_copy_removes_the_export(shared, auto):
    shared.seed(keep_source=False)
    models = ModelService()
    first = models.import_model(shared.model, "one")
    assert first.runtime.outcome == "prepared" and first.runtime.serves == "onnx-int8"
    assert "ONNX Runtime int8 serves it" in first.runtime.note
    assert first.runtime.agreement["passed"] and "onnx-int8" in first.runtime.speed
    second = models.import_model(shared.model, "two")  # the same weights: the same export
    entry = find_entry(first.info.path)
    assert entry is not None and find_entry(second.info.path) == entry
    models.remove("one")
    assert entry.folder.is_dir()  # "two" still uses it
    models.remove("two")
    assert not entry.folder.exists() and cache.entries() == []


def test_the_torch_setting_skips_the_export(shared, monkeypatch):
    monkeypatch.setenv("CLIPDESK_RUNTIME", "torch")
    done = ModelService().import_model(shared.model, "plain")
    assert done.runtime.outcome == "skipped" and "PyTorch" in done.runtime.note
    assert not cache.cache_root().exists() or cache.entries() == []


def test_a_failed_export_keeps_the_install_and_is_not_tried_again_until_asked(
    shared, auto, monkeypatch
):
    from clipdesk.model.runtime import export

    monkeypatch.setattr(export, "export_model", _broken_export)
    models = ModelService()
    done = models.import_model(shared.model, "fails")
    assert done.runtime.outcome == "failed" and done.info.path.is_dir()
    assert "does not match PyTorch" in done.runtime.note and "runs on PyTorch" in done.runtime.note
    runtimes = models.runtimes
    assert not runtimes.owed("fails")  # the automatic tries skip these files now
    assert "does not match" in runtimes.describe_models([done.info.path])[done.info.path].failed
    again = runtimes.try_prepare("fails")
    assert again.outcome == "failed"
    with pytest.raises(ModelError, match="does not match"):
        runtimes.prepare("fails")  # `models prepare`: tried again, and says why
    (done.info.path / "clipdesk.json").write_text('{"name": "fails", "v": 2}')
    assert runtimes.owed("fails")  # other files: worth another try


def test_cancelling_the_export_keeps_the_install_and_leaves_no_half_export(shared, auto):
    token = CancelToken()
    steps = []

    def progress(p):
        steps.append(p.message)
        token.cancel()  # during the first step

    done = ModelService().import_model(shared.model, "stopped", progress=progress, cancel=token)
    assert done.runtime.outcome == "cancelled" and manager.find_model("stopped") is not None
    assert steps == ["Preparing stopped: image tower"]
    root = cache.cache_root()
    assert not root.exists() or list(root.iterdir()) == []  # staging removed too
    assert ModelService().runtimes.owed("stopped")  # tried again later, not marked failed


def test_the_first_use_on_the_cpu_exports_then_onnx_runtime_serves(shared, auto, tmp_path):
    shared.seed()
    model = shared.copy_model(tmp_path / "copy")
    with ClipDeskServices(tmp_path / "lib.sqlite3", model=str(model), device="cpu") as app:
        assert app.model.runtime == "torch"  # auto with no export: PyTorch
        vector = app.model.encode_texts(["a red car"])
        assert app.runtimes.owed()
        done = app.runtimes.prepare_active()
        assert done is not None and done.ok
        assert app.model.runtime_label == "onnx-int8"  # loaded again, with ONNX Runtime
        assert (app.model.encode_texts(["a red car"]) @ vector.T).item() > 0.99
        assert app.runtimes.prepare_active() is None  # nothing owed any more


def test_onnx_in_the_app_serves_pytorch_until_the_background_export_is_done(
    shared, monkeypatch, tmp_path
):
    monkeypatch.setenv("CLIPDESK_RUNTIME", "onnx")
    shared.seed()
    model = shared.copy_model(tmp_path / "copy")
    with ClipDeskServices(tmp_path / "lib.sqlite3", model=str(model), device="cpu") as app:
        app.defer_exports = True
        loaded = app.models.load()
        assert loaded.runtime == "torch-fp32" and loaded.prepare
        after = app.models.prepare_active()
        assert after.runtime == "onnx-int8" and not after.prepare


def test_onnx_runs_a_model_whose_export_failed_on_pytorch(shared, monkeypatch, tmp_path, caplog):
    from clipdesk.model.runtime import export

    monkeypatch.setenv("CLIPDESK_RUNTIME", "onnx")
    monkeypatch.setattr(export, "export_model", _broken_export)
    with ClipDeskServices(tmp_path / "lib.sqlite3", model=str(shared.model), device="cpu") as app:
        assert app.model.runtime == "torch"
        assert "could not be prepared for ONNX Runtime" in caplog.text
        assert "does not match" in app.models.loaded().runtime_note


def test_reload_keeps_a_model_handed_in_loaded(tmp_path):
    from tests.support.fake_text_model import FakeTextModel

    fake = FakeTextModel()
    with ClipDeskServices(tmp_path / "lib.sqlite3", model=fake) as app:
        app.reload_model()
        assert app.model is fake


def test_a_fine_tuned_version_is_prepared_before_the_run_returns(
    shared, auto, monkeypatch, tmp_path
):
    from clipdesk.model import finetune
    from clipdesk.model.finetune_options import FinetuneResult

    shared.seed()
    version = shared.copy_model(paths.models_dir() / "tiny-ft-1")

    class Job:
        folder = tmp_path / "job"
        spec = {"base_name": "tiny", "finished": None}  # what the services record as the last run

        def run(self, **_kwargs):
            return FinetuneResult("tiny-ft-1", version, 0.5, {}, {}, {}, 1, 2, 0.1, 20.0, False)

    monkeypatch.setattr(finetune.FinetuneJob, "create", classmethod(lambda cls, *a, **k: Job()))
    with ClipDeskServices(tmp_path / "lib.sqlite3", model=str(shared.model), device="cpu") as app:
        run = app.training.finetune(["tags"])
    assert run.runtime is not None and run.runtime.outcome == "prepared"
    assert run.to_json()["runtime"]["serves"] == "onnx-int8"
    assert find_entry(version) is not None


def test_the_status_report_says_what_serves_the_active_model(shared, auto, tmp_path):
    with ClipDeskServices(tmp_path / "lib.sqlite3", model=str(shared.model), device="cpu") as app:
        before = app.status_report.report().as_json()["model_runtime"]
        assert before["serves"] == "torch-fp32" and before["export_owed"]
        shared.seed()
        after = app.status_report.report().as_json()["model_runtime"]
    assert after == {
        "prepared": True,
        "serves": "onnx-int8",
        "int8_agrees": True,
        "export_failed": None,
        "export_owed": False,
    }
