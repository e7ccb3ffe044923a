"""ClipDesk-Mini, the bundled demo model, knows the synthetic world: measured on freshly rendered
held-out scenes (seeds training never drew), never on training images."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from clipdesk.model import load_model
from clipdesk.model.manager import bundled_models_dir
from clipdesk.model.synth import HELDOUT_COMBOS, render_scene
from clipdesk.model.synth.evaluate import (
    balanced_scenes,
    retrieval_scores,
    single_object_scenes,
    zero_shot_accuracy,
)

MINI = bundled_models_dir() / "clipdesk-mini"


@pytest.fixture(scope="module")
def mini():
    return load_model(MINI, device="cpu")


def test_bundled_mini_is_small_and_the_default_demo_model(mini):
    weights = MINI / "model.safetensors"
    assert weights.stat().st_size <= 20 * 1024 * 1024
    assert mini.is_demo and "demo model" in mini.meta["description"]
    assert (MINI / "MODEL_CARD.md").is_file()
    params = sum(p.numel() for p in mini.module.parameters())
    assert 1_000_000 < params < 5_000_000
    default = load_model(None, device="cpu")  # nothing installed: the demo model
    assert default.id == mini.id


@pytest.fixture(scope="module")
def single_test_scenes():
    return single_object_scenes("test", 240)


def test_zero_shot_colour_and_shape_on_held_out_renders(mini, single_test_scenes):
    feats = mini.encode_images([render_scene(s, mini.image_size) for s in single_test_scenes])
    colour = zero_shot_accuracy(
        mini, single_test_scenes, "colour", mini.image_size, image_features=feats
    )
    shape = zero_shot_accuracy(
        mini, single_test_scenes, "shape", mini.image_size, image_features=feats
    )
    assert colour >= 0.95
    assert shape >= 0.90


def test_zero_shot_on_photo_sized_renders(mini, single_test_scenes):
    # a bigger picture goes through the model's own resize, like a user's photo
    scenes = single_test_scenes[:120]
    feats = mini.encode_images([render_scene(s, (320, 256)) for s in scenes])
    assert zero_shot_accuracy(mini, scenes, "colour", 0, image_features=feats) >= 0.9
    assert zero_shot_accuracy(mini, scenes, "shape", 0, image_features=feats) >= 0.8


def test_retrieval_precision_at_10_over_1000_held_out_renders(mini):
    scenes = balanced_scenes(1000)
    assert {s.combo for s in scenes} >= HELDOUT_COMBOS
    scores = retrieval_scores(mini, scenes, mini.image_size)
    assert scores.precision_at_10 >= 0.9, sorted(scores.per_query.items(), key=lambda kv: kv[1])[:5]
    # never-seen combinations are reported by bench/mini_eval.py; here: far better than chance
    assert scores.heldout_precision_at_10 >= 0.6


def _card_scores(card: str) -> dict[str, str]:
    """The card's score table: measure name -> the number as printed (3 decimals)."""
    table = card[card.index("| measure | score | target |") :].split("\n\n", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| ([0-9.]+) \|", table, flags=re.MULTILINE)
    return dict(rows)


def _mini_eval():
    script = Path(__file__).resolve().parents[2] / "bench" / "mini_eval.py"
    spec = importlib.util.spec_from_file_location("mini_eval", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_model_card_carries_the_measured_scores(one_torch_thread):
    """The card's numbers are the ones bench/mini_eval.py measures on the bundled weights (the
    evaluation renders fixed seeds, so it reproduces them exactly), not merely its headings."""
    card = (MINI / "MODEL_CARD.md").read_text(encoding="utf-8")
    meta = json.loads((MINI / "clipdesk.json").read_text(encoding="utf-8"))
    assert "python3 models/train_mini.py" in card and "bench/mini_eval.py" in card
    assert "seed" in card and str(meta["training"]["seed"]) in card

    claimed = _card_scores(card)
    mini_eval = _mini_eval()
    measured = mini_eval.evaluate(str(MINI), n_single=800, n_retrieval=1000, big=256)
    scores = {k: v for k, v in measured.items() if isinstance(v, float)}
    assert set(claimed) == set(scores)  # every measured score is on the card, nothing else
    for key, value in scores.items():
        assert claimed[key] == f"{value:.3f}", (key, claimed[key], value)
        target = mini_eval._target(key)
        if target is not None and "heldout" not in key:
            assert value >= target, key  # the card's target column holds
    # The prose quotes the table.
    count = scores["count_acc[test@64]"]
    assert f'Count accuracy ("one / two / three shapes") is {count:.2f}' in card
    heldout = [v for k, v in scores.items() if k.startswith("retrieval_p10_heldout_combos")]
    assert f"{min(heldout):.2f}-{max(heldout):.2f} precision@10" in card

    # The size and the training run the card describes are the bundled folder's.
    params = sum(p.numel() for p in load_model(MINI, device="cpu").module.parameters())
    size = re.search(r"\| parameters \| ([0-9.]+) M \(fp32 weights: ([0-9.]+) MB\)", card)
    assert size, "the card's parameter row"
    assert abs(float(size[1]) - params / 1e6) < 0.01, (size[1], params)
    weights_mb = (MINI / "model.safetensors").stat().st_size / 1e6
    assert abs(float(size[2]) - weights_mb) < 0.1, (size[2], weights_mb)
    training = meta["training"]
    phases = [training[f"phase{i}"] for i in (1, 2, 3)]
    for number, phase in enumerate(phases, start=1):
        batch = phase.get("batch_size", training["batch_size"])
        row = f"| {number} | {phase['steps']} x {batch} | {phase['lr']:.0e}".replace("e-0", "e-")
        assert row in card, row
        assert f"| {phase['seconds'] / 60:.1f} min |" in card
    seconds = " + ".join(str(phase["seconds"]) for phase in phases)
    assert f"**{training['minutes_this_run']} minutes**\n({seconds} s)" in card


def test_the_training_script_runs_end_to_end(tmp_path, one_torch_thread):
    """models/train_mini.py with a handful of steps per phase: the recipe that built the bundled
    model still runs (bf16 autocast on the CPU included) and saves a folder the engine loads."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "models" / "train_mini.py"
    spec = importlib.util.spec_from_file_location("train_mini", script)
    train_mini = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_mini)
    out = tmp_path / "mini"
    argv = [
        "--steps",
        "3",
        "--hard-steps",
        "2",
        "--shape-steps",
        "2",
        "--batch-size",
        "16",
        "--shape-batch-size",
        "16",
        "--threads",
        "1",
        "--out",
        str(out),
        "--work-dir",
        str(tmp_path / "work"),
    ]
    assert train_mini.main(argv) == 0
    model = load_model(out, device="cpu")
    training = model.meta["training"]
    assert training["precision"] == "bf16" and training["seed"] == 0
    assert training["phase3"]["steps"] == 2 and model.meta["train_step"] == 2
    assert model.encode_texts(["a red circle."]).shape == (1, 128)
