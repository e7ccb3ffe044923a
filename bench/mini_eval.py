"""Scores of the demo model (ClipDesk-Mini) on freshly rendered held-out scenes.

    python3 bench/mini_eval.py                       # the bundled models/clipdesk-mini
    python3 bench/mini_eval.py --model PATH --json   # any model folder; machine-readable

Zero-shot (prompt ensembling) colour / shape / count accuracy on single-object renders of the
``test`` split (seen colour-shape combinations, seeds training never used) and of the ``heldout``
split (combinations never seen in training); retrieval precision@10 of colour+shape queries over
1,000 renders of every combination. Shape figures are over the issue's eight shapes
(``CORE_SHAPES``); the ``*_all_shapes`` lines repeat them over all twelve of the world. Renders
are made at the model's input size, and again at 256 px (photo-like: the model's own
preprocessing scales them down).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clipdesk.model import load_model  # noqa: E402
from clipdesk.model.synth import COLOURS, CORE_SHAPES, SHAPES, render_scene, zero_shot_prompts  # noqa: E402
from clipdesk.model.synth.evaluate import (  # noqa: E402
    SINGLE_QUERY_TEMPLATES,
    balanced_scenes,
    retrieval_scores,
    single_object_scenes,
    zero_shot_accuracy,
)
from clipdesk.model.synth.world import scene_at  # noqa: E402
from clipdesk.tags.prompts import DEFAULT_TEMPLATES  # noqa: E402

TARGETS = {"colour": 0.95, "shape": 0.90, "retrieval_p10": 0.90}


def _target(key: str) -> float | None:
    """The issue's target for a measure; its shape targets are over the eight core shapes."""
    if "all_shapes" in key:
        return None
    return next((t for k, t in TARGETS.items() if key.startswith(k)), None)


def app_prompts(labels: list[str], category: str) -> dict[str, list[str]]:
    """The app's default tag templates, as a user's "Colour" / "Shape" category would use them."""
    return {
        lab: [t.format(label=lab, category=category) for t in DEFAULT_TEMPLATES] for lab in labels
    }


def evaluate(model_path: str, n_single: int, n_retrieval: int, big: int) -> dict:
    model = load_model(model_path, device="cpu")
    size = model.image_size
    out: dict = {
        "model": model.id,
        "image_size": size,
        "n_single": n_single,
        "n_retrieval": n_retrieval,
    }
    for split in ("test", "heldout"):
        specs = single_object_scenes(split, n_single)
        for render_size in (size, big):
            feats = model.encode_images([render_scene(s, render_size) for s in specs])
            key = f"{split}@{render_size}"
            out[f"colour_acc[{key}]"] = zero_shot_accuracy(
                model, specs, "colour", size, image_features=feats
            )
            out[f"shape_acc[{key}]"] = zero_shot_accuracy(
                model, specs, "shape", size, image_features=feats
            )
            if split == "test" and render_size == size:
                out[f"colour_acc_app_templates[{key}]"] = zero_shot_accuracy(
                    model, specs, "colour", size, app_prompts(list(COLOURS), "colour"), feats
                )
                out[f"shape_acc_app_templates[{key}]"] = zero_shot_accuracy(
                    model, specs, "shape", size, app_prompts(list(CORE_SHAPES), "shape"), feats
                )
    every = single_object_scenes("test", n_single * len(SHAPES) // len(CORE_SHAPES), shapes=SHAPES)
    feats = model.encode_images([render_scene(s, size) for s in every])
    out[f"shape_acc_all_shapes[test@{size}]"] = zero_shot_accuracy(
        model, every, "shape", size, zero_shot_prompts("shape"), feats
    )
    counts = [scene_at("test", 2000, i) for i in range(n_single)]
    out[f"count_acc[test@{size}]"] = zero_shot_accuracy(model, counts, "count", size)
    specs = balanced_scenes(n_retrieval)
    for render_size in (size, big):
        feats = model.encode_images([render_scene(s, render_size) for s in specs])
        r = retrieval_scores(model, specs, size, image_features=feats)
        out[f"retrieval_p10_seen[{render_size}]"] = r.precision_at_10
        out[f"retrieval_p10_heldout_combos[{render_size}]"] = r.heldout_precision_at_10
        if render_size == size:
            one = retrieval_scores(
                model, specs, size, image_features=feats, templates=SINGLE_QUERY_TEMPLATES
            )
            out[f"single_prompt_p10_seen[{render_size}]"] = one.precision_at_10
            out[f"single_prompt_p10_heldout_combos[{render_size}]"] = one.heldout_precision_at_10
        if render_size == size:
            out["worst_queries"] = dict(sorted(r.per_query.items(), key=lambda kv: kv[1])[:5])
    specs = balanced_scenes(n_retrieval * len(SHAPES) // len(CORE_SHAPES), shapes=SHAPES)
    r = retrieval_scores(model, specs, size, shapes=SHAPES)
    out[f"retrieval_p10_all_shapes_seen[{size}]"] = r.precision_at_10
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "models" / "clipdesk-mini"))
    ap.add_argument("--n-single", type=int, default=800)
    ap.add_argument("--n-retrieval", type=int, default=1000)
    ap.add_argument("--big", type=int, default=256, help="side of the photo-like renders")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--markdown", action="store_true", help="a table for the model card")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.monotonic()
    scores = evaluate(args.model, args.n_single, args.n_retrieval, args.big)
    scores["seconds"] = round(time.monotonic() - t0, 1)
    if args.json:
        print(json.dumps(scores, indent=2))
        return 0
    if args.markdown:
        print("| measure | score | target |\n|---|---|---|")
        for key, value in scores.items():
            if isinstance(value, float) and key != "seconds":
                target = _target(key)
                shown = f">= {target:.2f}" if target is not None and "heldout" not in key else ""
                print(f"| `{key}` | {value:.3f} | {shown} |")
        return 0
    print(f"model {scores['model']}  (input {scores['image_size']} px)")
    for key, value in scores.items():
        if isinstance(value, float) and key != "seconds":
            target = _target(key)
            note = ""
            if target is not None and "heldout" not in key:
                note = f"  target >= {target:.2f} {'ok' if value >= target else 'MISSED'}"
            print(f"  {key:<44} {value:.3f}{note}")
    print(f"  worst retrieval queries: {scores['worst_queries']}")
    print(f"  ({scores['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
