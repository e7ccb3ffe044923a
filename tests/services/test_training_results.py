"""The last result of each training, kept in the library: a head training per category and model
(figures, held-out photos, photos to label next, the head itself), and which fine-tuning run was
the last per base model (its figures and curves read from the run's own folder)."""

from __future__ import annotations

import json
import logging

import numpy as np

from clipdesk.model.finetune_options import FinetuneResult
from clipdesk.services.training_results import (
    HeadReport,
    last_run,
    load_head_report,
    note_run,
    save_head_report,
)
from clipdesk.tags.categories import Mode
from clipdesk.tags.heads.examples import Comparison
from clipdesk.tags.heads.fit import Head


class Settings:
    """A library's settings table, as JSON text (what the store keeps)."""

    def __init__(self) -> None:
        self.rows: dict[str, str] = {}

    def get_setting(self, key, default=None):
        return json.loads(self.rows[key]) if key in self.rows else default

    def set_setting(self, key, value) -> None:
        self.rows[key] = json.dumps(value)


def _report(category: str = "Colour", model_id: str = "tiny@abc") -> HeadReport:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(2, 4)).astype(np.float32)
    head = Head(
        category=category,
        mode=Mode.SINGLE,
        labels=("red", "blue"),
        model_id=model_id,
        fingerprint="f1",
        weights=w,
        bias=np.zeros(2, np.float32),
        init_weights=w.copy(),
        n_examples=12,
    )
    return HeadReport(
        summary={"category": category, "examples": 12, "evaluation": None, "seconds": 0.2},
        head=head,
        compare=(Comparison(7, "red", "blue", 0.4, "red", 0.8),),
        next_up=((9, 0.12), (3, 0.3)),
        missing_vectors=1,
        trained_at=1_700_000_000.0,
    )


def test_a_head_training_comes_back_whole_from_the_library_settings():
    store = Settings()
    report = _report()
    save_head_report(store, report)
    back = load_head_report(store, "tiny@abc", "colour")  # any case, as categories are named
    assert back is not None
    assert back.summary == report.summary and back.compare == report.compare
    assert back.next_up == report.next_up and back.missing_vectors == 1
    assert back.trained_at == report.trained_at and back.photo_ids == [7, 9, 3]
    assert np.array_equal(back.head.weights, report.head.weights)
    assert load_head_report(store, "other@def", "Colour") is None  # kept per model


def test_a_newer_or_damaged_kept_training_is_ignored_with_a_log_line(caplog):
    store = Settings()
    save_head_report(store, _report())
    (key,) = store.rows
    store.rows[key] = json.dumps({"format_version": 99})
    with caplog.at_level(logging.WARNING):
        assert load_head_report(store, "tiny@abc", "Colour") is None
    assert "ignoring the last training" in caplog.text


def _finished_job(folder, model_name: str) -> FinetuneResult:
    result = FinetuneResult(
        model_name=model_name,
        model_path=folder.parent / model_name,
        alpha=0.5,
        before={"t2i_recall@5": 0.5},
        after={"t2i_recall@5": 0.7},
        fine_tuned={"t2i_recall@5": 0.75},
        steps=20,
        batch_size=8,
        seconds=4.0,
        images_per_s=10.0,
        reembed_needed=False,
        sweep={"0": {"t2i_recall@5": 0.5}, "1": {"t2i_recall@5": 0.75}},
        history={"loss": [[1, 2.3], [2, 2.1]], "val": [[0, {"t2i_recall@5": 0.5}]]},
    )
    folder.mkdir(parents=True)
    (folder / "job.json").write_text(json.dumps({"result": result.summary()}), encoding="utf-8")
    (folder / "history.json").write_text(json.dumps(result.history), encoding="utf-8")
    return result


def test_the_last_fine_tuning_run_is_read_back_from_its_job_folder(tmp_path):
    store = Settings()
    assert last_run(store, "base") is None
    older = _finished_job(tmp_path / "job1", "base-ft-1")
    note_run(store, tmp_path / "job1", "base", older.model_name, 100.0)
    newer = _finished_job(tmp_path / "job2", "base-ft-2")
    note_run(store, tmp_path / "job2", "base", newer.model_name, 200.0)
    found = last_run(store, "base")
    assert found is not None and found.job_folder == tmp_path / "job2"
    assert found.result == newer  # figures, sweep and curves
    assert found.base_name == "base" and found.finished_at == 200.0
    # the version a run made, once active, shows the run it came from
    made = last_run(store, "base-ft-2")
    assert made is not None and made.job_folder == tmp_path / "job2"
    assert last_run(store, "base-ft-1") is None  # no longer the last run of its base


def test_a_last_run_whose_folder_is_gone_is_none_not_an_error(tmp_path, caplog):
    store = Settings()
    _finished_job(tmp_path / "job", "base-ft")
    note_run(store, tmp_path / "job", "base", "base-ft", 1.0)
    (tmp_path / "job" / "job.json").unlink()
    with caplog.at_level(logging.WARNING):
        assert last_run(store, "base") is None
    assert "cannot be read" in caplog.text
