"""The contrastive trainer: loss falls, checkpoints resume exactly, cancel, frozen towers."""

from __future__ import annotations

import math

import pytest
import torch

from clipdesk.common.errors import CancelledError, CheckpointError
from clipdesk.common.progress import CancelToken
from clipdesk.model import load_model
from clipdesk.model.bpe_train import train_caption_tokenizer
from clipdesk.model.config import ClipConfig, TextConfig, VisionConfig
from clipdesk.model.losses import clip_loss
from clipdesk.model.schedule import warmup_cosine
from clipdesk.model.synth import SynthPairs
from clipdesk.model.testing import tiny_random_model
from clipdesk.model.train import (
    MAX_LOGIT_SCALE,
    ContrastiveTrainer,
    TrainConfig,
    TrainProgress,
    _is_decayed,
)
from clipdesk.model.train_data import batch_indices


@pytest.fixture(scope="module")
def tok():
    return train_caption_tokenizer(n_captions=2000, n_merges=300, context_length=24)


def tiny_cfg(tok) -> ClipConfig:
    return ClipConfig(
        embed_dim=32,
        vision=VisionConfig(
            image_size=32, patch_size=8, width=48, layers=2, heads=2, mlp_width=96, act="gelu"
        ),
        text=TextConfig(
            vocab_size=tok.vocab_size,
            context_length=24,
            width=48,
            layers=2,
            heads=2,
            mlp_width=96,
            act="gelu",
            eos_token_id=tok.eot_id,
        ),
    )


def make(tok, **kw) -> ContrastiveTrainer:
    base = dict(steps=6, batch_size=16, lr=1e-3, warmup_steps=2, device="cpu", seed=0)
    base.update(kw)
    return ContrastiveTrainer.from_scratch(tiny_cfg(tok), tok, TrainConfig(**base))


def _params(module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_one_epoch_on_a_tiny_synthetic_set_lowers_the_loss(tok):
    torch.manual_seed(0)
    pairs = SynthPairs(6144, 32, split="train", seed=1)
    trainer = make(tok, steps=None, epochs=1.0, batch_size=32, lr=2e-3, warmup_steps=5)
    result = trainer.fit(pairs)
    assert result.steps == result.total_steps == 192
    first, last = sum(result.losses[:6]) / 6, sum(result.losses[-6:]) / 6
    assert last < first - 0.4, (first, last)
    assert last < math.log(32)  # better than chance over a batch of 32


def test_loss_is_symmetric_cross_entropy_with_temperature():
    torch.manual_seed(0)
    feats = torch.nn.functional.normalize(torch.randn(8, 16), dim=-1)
    aligned = clip_loss(feats, feats, torch.tensor(100.0))
    shuffled = clip_loss(feats, feats.roll(1, 0), torch.tensor(100.0))
    assert aligned < 0.01 < shuffled
    img, txt = torch.randn(4, 5), torch.randn(4, 5)
    logits = 3.0 * img @ txt.T
    expected = (
        torch.nn.functional.cross_entropy(logits, torch.arange(4))
        + torch.nn.functional.cross_entropy(logits.T, torch.arange(4))
    ) / 2
    assert torch.allclose(clip_loss(img, txt, torch.tensor(3.0)), expected)


def test_schedule_warms_up_then_decays():
    lrs = [warmup_cosine(s, 100, 10) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False))
    assert lrs[-1] < 0.01
    assert warmup_cosine(99, 100, 10, min_ratio=0.1) >= 0.1


def test_no_weight_decay_on_gains_biases_embeddings_and_temperature(tok):
    trainer = make(tok)
    decayed = {n for n, p in trainer.module.named_parameters() if _is_decayed(n, p)}
    assert "visual.transformer.resblocks.0.mlp.c_fc.weight" in decayed
    assert "text_projection" in decayed
    for name in (
        "logit_scale",
        "token_embedding.weight",
        "positional_embedding",
        "visual.class_embedding",
        "ln_final.weight",
        "visual.ln_pre.bias",
    ):
        assert name not in decayed, name
    wd = [g["weight_decay"] for g in trainer.optimizer.param_groups]
    assert wd == [0.1, 0.0]


def test_temperature_is_clamped(tok):
    trainer = make(tok)
    with torch.no_grad():
        trainer.module.logit_scale.fill_(8.0)  # exp(8) ~ 3000
    trainer.fit(SynthPairs(64, 32))
    assert trainer.module.logit_scale.item() <= MAX_LOGIT_SCALE + 1e-6


def test_progress_reports_step_loss_lr_rate_and_eta(tok):
    seen: list[TrainProgress] = []
    make(tok, steps=5).fit(SynthPairs(80, 32), progress=seen.append)
    assert [p.step for p in seen] == [1, 2, 3, 4, 5]
    assert all(p.total == 5 and math.isfinite(p.loss) and p.images_per_s > 0 for p in seen)
    assert seen[0].lr < seen[1].lr  # warming up
    assert seen[-1].eta_s is not None and "loss" in seen[-1].message


def test_batches_are_a_function_of_seed_and_step():
    assert batch_indices(100, 16, 0, 3) == batch_indices(100, 16, 0, 3)
    epoch = [i for s in range(6) for i in batch_indices(100, 16, 0, s)]
    assert len(set(epoch)) == 96  # one epoch: no repeats
    assert batch_indices(100, 16, 0, 6) != batch_indices(100, 16, 0, 0)  # reshuffled next epoch
    assert batch_indices(10, 16, 0, 4) == list(range(10))
    # unshuffled: the source's own arrangement, batch k = items k*16 ...
    assert batch_indices(100, 16, 0, 2, shuffle=False) == list(range(32, 48))
    assert batch_indices(100, 16, 0, 7, shuffle=False) == list(range(16, 32))  # next epoch


def test_resumed_run_matches_an_uninterrupted_one(tok, tmp_path):
    pairs = SynthPairs(200, 32)
    straight = make(tok, steps=6)
    straight.fit(pairs)

    first = make(tok, steps=3)
    first.fit(pairs, checkpoint_dir=tmp_path / "ck")
    resumed = ContrastiveTrainer.resume(
        tmp_path / "ck",
        TrainConfig(steps=6, batch_size=16, lr=1e-3, warmup_steps=2, device="cpu", seed=0),
    )
    assert resumed.step == 3
    resumed.fit(pairs)
    assert resumed.step == 6
    a, b = _params(straight.module), _params(resumed.module)
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5), k


def test_cancel_saves_a_checkpoint_that_resumes(tok, tmp_path):
    token = CancelToken()

    def on_progress(p):
        if p.step == 2:
            token.cancel()

    trainer = make(tok, steps=6)
    with pytest.raises(CancelledError):
        trainer.fit(
            SynthPairs(200, 32), progress=on_progress, cancel=token, checkpoint_dir=tmp_path / "ck"
        )
    assert trainer.step == 2
    resumed = ContrastiveTrainer.resume(tmp_path / "ck")  # the saved config: 6 steps
    assert resumed.step == 2 and resumed.config.steps == 6
    assert resumed.fit(SynthPairs(200, 32)).steps == 6
    # the checkpoint's weights are a model the engine loads
    assert load_model(tmp_path / "ck" / "model", device="cpu").dim == 32


def test_resume_refuses_what_is_not_a_checkpoint(tok, tmp_path):
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        ContrastiveTrainer.resume(tmp_path)
    trainer = make(tok, steps=2)
    trainer.fit(SynthPairs(64, 32), checkpoint_dir=tmp_path / "ck")
    trainer.step = 1
    trainer.save(tmp_path / "ck" / "model", name="x")  # weights from another step
    with pytest.raises(CheckpointError, match="do not match"):
        ContrastiveTrainer.resume(tmp_path / "ck")


@pytest.mark.parametrize("frozen", ["image", "text"])
def test_frozen_tower_is_unchanged(tok, frozen):
    trainer = make(tok, steps=4, freeze_image=frozen == "image", freeze_text=frozen == "text")
    before = _params(trainer.module)
    trainer.fit(SynthPairs(100, 32))
    after = _params(trainer.module)
    visual = [k for k in before if k.startswith("visual.")]
    text = [k for k in before if not k.startswith("visual.") and k != "logit_scale"]
    still, moved = (visual, text) if frozen == "image" else (text, visual)
    assert all(torch.equal(before[k], after[k]) for k in still)
    assert sum(not torch.equal(before[k], after[k]) for k in moved) > len(moved) // 2
    with pytest.raises(ValueError, match="both towers"):
        make(tok, freeze_image=True, freeze_text=True)


def test_fine_tunes_any_loadable_checkpoint_and_saves_for_the_engine(tmp_path):
    source = tiny_random_model(tmp_path / "src")
    original = load_model(source, device="cpu")
    trainer = ContrastiveTrainer.from_checkpoint(
        source, TrainConfig(steps=3, batch_size=8, lr=1e-3, device="cpu")
    )
    trainer.fit(SynthPairs(40, original.image_size))
    out = trainer.save(tmp_path / "tuned", name="tuned", meta={"note": "test"})
    tuned = load_model(out, device="cpu")
    assert tuned.name == "tuned" and tuned.meta["note"] == "test" and tuned.meta["train_step"] == 3
    assert tuned.id != original.id
    assert tuned.encode_texts(["a red star"]).shape == original.encode_texts(["a red star"]).shape


def test_fp16_on_cpu_is_refused(tok):
    with pytest.raises(ValueError, match="fp16"):
        make(tok, precision="fp16")
