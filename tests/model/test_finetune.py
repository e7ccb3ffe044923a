"""Fine-tuning jobs on a tiny random model: a new model version with metrics, the original
untouched, text-only keeps the image tower bit for bit, cancel + resume, OOM back-off, WiSE-FT."""

from __future__ import annotations

import json
import random

import pytest
import torch

from clipdesk.common.errors import CancelledError, ModelError
from clipdesk.common.progress import CancelToken
from clipdesk.model import load_model, synth
from clipdesk.model.caption_data import CaptionPair
from clipdesk.model.checkpoint import load_checkpoint
from clipdesk.model.finetune import FinetuneJob, FinetuneOptions, pending_jobs
from clipdesk.model.finetune_eval import blend_state, retrieval_scores
from clipdesk.model.testing import tiny_random_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _pairs(tmp_path, n: int, offset: int = 0) -> list[CaptionPair]:
    out = []
    for i, spec in enumerate(synth.sample_scenes(3, n, split="test")):
        path = synth.write_photo(spec, tmp_path / "photos" / f"p{offset + i}.png", 40)
        out.append(CaptionPair(offset + i, path, synth.caption(spec, random.Random(i)), "tags"))
    return out


@pytest.fixture
def job_parts(tmp_path):
    base = tiny_random_model(tmp_path / "models")
    return base, _pairs(tmp_path, 12), _pairs(tmp_path, 6, offset=100)


def test_text_only_finetune_saves_a_new_version_and_keeps_image_vectors(job_parts, tmp_path):
    base, train, val = job_parts
    before_bytes = (base / "model.safetensors").read_bytes()
    opts = FinetuneOptions(
        towers="text", min_steps=4, epochs=1, batch_size=4, lr=1e-3, alpha=0.5, eval_every=2
    )
    points = []
    job = FinetuneJob.create(base, train, val, opts, root=tmp_path / "jobs")
    result = job.run(on_point=lambda kind, step, values: points.append((kind, step)))
    assert result.steps == 4 and result.model_path.is_dir()
    assert (base / "model.safetensors").read_bytes() == before_bytes  # original untouched
    assert {k for k, _ in points} == {"loss", "val"} and ("val", 0) in points
    metrics = json.loads((result.model_path / "metrics.json").read_text())
    assert "t2i_recall@1" in metrics["before"] and "t2i_recall@5" in metrics["after"]
    new, old = load_model(result.model_path, "cpu"), load_model(base, "cpu")
    assert new.id != old.id
    assert new.meta["image_vectors_from"] == old.id and new.meta["base_model"] == base.name
    img = synth.render_scene(synth.sample_scenes(0, 1)[0], 40)
    assert (new.encode_images([img]) == old.encode_images([img])).all()  # bit for bit
    assert not (new.encode_texts(["a red star"]) == old.encode_texts(["a red star"])).all()
    assert not job.resumable and pending_jobs(tmp_path / "jobs") == []
    # the blend slider's trade-off, measured on validation; any alpha saved without retraining
    assert set(result.sweep) == {"0", "0.25", "0.5", "0.75", "1"}
    assert result.sweep["0"] == result.before and result.sweep["1"] == result.fine_tuned
    again = FinetuneJob.open(job.folder).save_blend(0.0, name="tiny-alpha0")
    zero = load_model(again, "cpu")
    assert (zero.encode_texts(["a red star"]) == old.encode_texts(["a red star"])).all()
    assert zero.meta["finetune"]["options"]["alpha"] == 0.0
    assert json.loads((again / "metrics.json").read_text())["after"] == result.sweep["0"]


def test_cancel_then_resume_continues_the_same_run(job_parts, tmp_path):
    base, train, val = job_parts
    opts = FinetuneOptions(towers="both", min_steps=6, epochs=1, batch_size=4, lr=1e-3)
    job = FinetuneJob.create(base, train, val, opts, root=tmp_path / "jobs")
    token = CancelToken()

    def stop_at_3(p):
        if p.step == 3:
            token.cancel()

    with pytest.raises(CancelledError):
        job.run(progress=stop_at_3, cancel=token)
    (again,) = pending_jobs(tmp_path / "jobs")
    assert again.folder == job.folder and again.resumable
    steps = []
    result = again.run(progress=lambda p: steps.append(p.step))
    assert steps[0] == 4 and result.steps == 6
    assert result.reembed_needed
    new = load_checkpoint(result.model_path)
    assert "image_vectors_from" not in new.meta


def test_out_of_memory_halves_the_batch(job_parts, tmp_path, monkeypatch):
    from clipdesk.model import train as train_mod

    base, train, val = job_parts
    real_fit = train_mod.ContrastiveTrainer.fit
    seen = []

    def fit(self, pairs, **kw):
        seen.append(self.config.batch_size)
        if self.config.batch_size > 4:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_fit(self, pairs, **kw)

    monkeypatch.setattr(train_mod.ContrastiveTrainer, "fit", fit)
    opts = FinetuneOptions(min_steps=2, epochs=1, batch_size=16, lr=1e-4)
    result = FinetuneJob.create(base, train, val, opts, root=tmp_path / "jobs").run()
    assert seen == [12, 6, 3] and result.batch_size == 3


def test_bad_options_and_too_little_data(job_parts, tmp_path):
    base, train, val = job_parts
    with pytest.raises(ModelError):
        FinetuneOptions(towers="image").validate()
    with pytest.raises(ModelError):
        FinetuneJob.create(base, train[:1], val, FinetuneOptions(), root=tmp_path)


def test_wise_ft_blend_and_retrieval_scores():
    a = {"visual.w": torch.zeros(3), "w": torch.zeros(2), "n": torch.tensor([1])}
    b = {"visual.w": torch.ones(3), "w": torch.ones(2), "n": torch.tensor([5])}
    out = blend_state(a, b, 0.25, keep=("visual.",))
    assert out["visual.w"].tolist() == [0, 0, 0] and out["w"].tolist() == [0.25, 0.25]
    assert out["n"].tolist() == [1]
    assert blend_state(a, b, 1.0)["w"].tolist() == [1, 1]
    with pytest.raises(ValueError):
        blend_state(a, b, 1.5)
    img = torch.eye(4)
    txt = torch.eye(4)[[0, 1, 3, 2]]  # captions 2 and 3 point at each other's photo
    s = retrieval_scores(img, txt, torch.arange(4))
    assert s["t2i_recall@1"] == 0.5 and s["i2t_recall@1"] == 0.5


def test_finetuned_versions_list_the_run_with_its_metrics_and_base(tmp_path):
    from clipdesk.common import paths
    from clipdesk.model import versions

    tiny_random_model(paths.models_dir(), name="tiny-base")
    train, val = _pairs(tmp_path, 8), _pairs(tmp_path, 4, offset=50)
    opts = FinetuneOptions(towers="text", min_steps=2, epochs=1, batch_size=4, lr=1e-3)
    result = FinetuneJob.create("tiny-base", train, val, opts, root=tmp_path / "jobs").run()
    (info,) = versions.finetuned_versions("tiny-base")
    assert info.name == result.model_name and info.towers == "text" and not info.active
    assert info.to_json()["after"] == result.after
    assert versions.base_model_of(result.model_name) == "tiny-base"
    assert versions.base_model_of("tiny-base") is None  # not a fine-tuned version
    new_id, shared_with = versions.image_key(result.model_path)
    assert shared_with == load_model("tiny-base", "cpu").id != new_id  # same image tower


@pytest.mark.slow
def test_demo_model_learns_new_shape_words_and_keeps_old_ones(tmp_path):
    """bench/train_bench.py --quick at looser bounds (minutes on 2 CPU cores, hence slow):
    text-only fine-tuning with replay raises recall@5 of held-out captions naming crescents and
    octagons, and at the blend chosen on validation old-concept recall drops by at most 0.1."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    demo = root / "models" / "clipdesk-mini"
    if not (demo / "config.json").is_file():
        pytest.fail("the bundled demo model models/clipdesk-mini is missing")
    spec = importlib.util.spec_from_file_location("train_bench", root / "bench" / "train_bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    r = bench.finetune_experiment(demo, tmp_path, quick=True)
    assert r["new_recall@5"]["blend"] > r["new_recall@5"]["original"]
    assert r["old_drop_at_blend"] <= 0.1
