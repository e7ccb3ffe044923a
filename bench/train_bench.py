"""Teaching ClipDesk-Mini concepts it has never seen: a tag head from 16 examples per class, and
contrastive fine-tuning with a WiSE-FT blend.

    python3 bench/train_bench.py                     # the bundled models/clipdesk-mini, CPU
    python3 bench/train_bench.py --device cuda --precision bf16 --json
    python3 bench/train_bench.py --quick             # smaller sets (what the tests use)

1. Head: a "New shape" category whose labels are shapes outside the training vocabulary (arrow,
   crescent, octagon; rendered by the synthetic generator). Zero-shot cannot know these words;
   16 confirmed examples per class train a head (clipdesk.tags.heads.teach.teach, the app's code).
   Printed: held-out accuracy of zero-shot vs the head on fresh renders, beside chance, averaged
   over seeds (each its own labelled and test photos) with the range.
2. Fine-tuning: image-caption pairs of new-shape scenes plus a replay of old-world scenes
   (clipdesk.model.finetune.FinetuneJob, the app's code), then the WiSE-FT blend. The blend is
   chosen on validation pairs (the largest alpha that keeps old-concept recall within 0.05 of the
   original); printed: text-to-image recall@5 of held-out captions of the new concept and of old
   concepts, original vs fine-tuned vs the chosen blend, on a test gallery of both.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from clipdesk.model.synth import caption, render_scene, scene_at, write_photo  # noqa: E402
from clipdesk.tags.categories import Category, Label  # noqa: E402
from clipdesk.tags.heads.fit import label_data, library_covariance, zero_shot_head  # noqa: E402
from clipdesk.tags.heads.teach import teach  # noqa: E402
from clipdesk.tags.zero_shot import Decisions, build_classifier  # noqa: E402

DEMO = ROOT / "models" / "clipdesk-mini"
HEAD_SHAPES = ("arrow", "crescent", "octagon")
# The same experiment on shapes the model was trained on: how far its image vectors separate
# shapes at all (a head cannot beat what the frozen vectors carry).
KNOWN_SHAPES = ("circle", "square", "triangle")
FT_SHAPES = ("crescent", "octagon")
ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
MAX_OLD_DROP = 0.05
LIBRARY_SIZE = 1500  # unlabelled old-world photos beside the labelled ones


def new_shape_scenes(shapes: tuple[str, ...], per_class: int, seed: int) -> list[Any]:
    """Photos of one large object (any colour, position, background) of each shape in turn."""
    return [
        scene_at("test", seed, i * len(shapes) + k, count=1).with_(shape=s, size="large")
        for i in range(per_class)
        for k, s in enumerate(shapes)
    ]


def head_experiment(
    model: Any,
    shapes: tuple[str, ...] = HEAD_SHAPES,
    per_class: int = 16,
    test_per_class: int = 60,
    seed: int = 0,
    library_size: int = LIBRARY_SIZE,
) -> dict[str, Any]:
    cat = Category("New shape", tuple(Label(s) for s in shapes))
    init = zero_shot_head(build_classifier(model, cat))
    size = model.image_size
    train = new_shape_scenes(shapes, per_class, 1000 + seed)
    test = new_shape_scenes(shapes, test_per_class, 2000 + seed)
    x_train = model.encode_images([render_scene(s, size) for s in train])
    x_test = model.encode_images([render_scene(s, size) for s in test])
    y_train = np.array([shapes.index(s.shape) for s in train])
    y_test = np.array([shapes.index(s.shape) for s in test])
    # The rest of the user's library, unlabelled: old-world scenes; its spread is the geometry of
    # the discriminant head (head_service samples the real library the same way)
    others = model.encode_images(
        [render_scene(s, size) for s in _old_scenes(library_size, 6000 + seed, "test")]
    )
    cov = library_covariance(np.concatenate([others, x_train]))
    dec = Decisions(np.arange(len(train)), y_train, np.ones(len(train), bool))
    data = label_data(cat.mode, np.arange(len(train)), x_train, dec, len(shapes), library_cov=cov)
    t0 = time.perf_counter()
    result = teach(init, data, seed=seed)
    seconds = time.perf_counter() - t0
    zs = float((init.scores(x_test).argmax(1) == y_test).mean())
    head = float((result.head.scores(x_test).argmax(1) == y_test).mean())
    ev = result.evaluation
    return {
        "shapes": list(shapes),
        "chance": 1 / len(shapes),
        "examples_per_class": per_class,
        "test_images": len(test),
        "zero_shot_accuracy": zs,
        "head_accuracy": head,
        "cv_zero_shot_accuracy": ev.before.accuracy if ev else None,
        "cv_head_accuracy": ev.after.accuracy if ev else None,
        "method": result.head.method,
        "lam": result.head.lam,
        "train_seconds": seconds,
    }


def over_seeds(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The head experiment's figures averaged over seeds, with the range of head accuracy."""
    acc = [r["head_accuracy"] for r in runs]
    return {
        **runs[0],
        "seeds": len(runs),
        "head_accuracy": float(np.mean(acc)),
        "head_min": min(acc),
        "head_max": max(acc),
        "methods": dict(Counter(r["method"] for r in runs)),
        "zero_shot_accuracy": float(np.mean([r["zero_shot_accuracy"] for r in runs])),
        "train_seconds": float(np.mean([r["train_seconds"] for r in runs])),
        "per_seed": [{k: r[k] for k in ("head_accuracy", "method", "lam")} for r in runs],
    }


_TAG_IDS = {"new": 0, "old": 1, "vnew": 2, "vold": 3, "tnew": 4, "told": 5}


def _pairs(folder: Path, specs: list[Any], size: int, tag: str, seed: int) -> list[Any]:
    from clipdesk.training.captions import CaptionPair

    out = []
    for i, spec in enumerate(specs):
        path = write_photo(spec, folder / f"{tag}_{i:05d}.png", size)
        out.append(
            CaptionPair(
                _TAG_IDS[tag] * 1_000_000 + i,
                path,
                caption(spec, random.Random(f"{tag}:{seed}:{i}")),
                tag,
            )
        )
    return out


def _old_scenes(n: int, seed: int, split: str) -> list[Any]:
    return [scene_at(split, seed, i) for i in range(n)]


class Gallery:
    """Held-out images of new and old scenes with one caption each; recall per caption group."""

    def __init__(self, new: list[Any], old: list[Any], tokenizer: Any, preprocess: Any) -> None:
        from PIL import Image

        from clipdesk.model.finetune_eval import RetrievalProbe

        pairs = new + old
        images = []
        for p in pairs:
            with Image.open(p.path) as im:
                images.append(im.convert("RGB"))
        self.probe = RetrievalProbe(images, [p.caption for p in pairs], tokenizer, preprocess)
        self.n_new = len(new)

    def recall(self, module: Any, k: int = 5) -> dict[str, float]:
        from clipdesk.model.finetune_eval import retrieval_scores

        img, txt = self.probe.features(module)
        idx = self.probe.photo_of_pair
        new = retrieval_scores(img, txt[: self.n_new], idx[: self.n_new])
        old = retrieval_scores(img, txt[self.n_new :], idx[self.n_new :])
        return {"new": new[f"t2i_recall@{k}"], "old": old[f"t2i_recall@{k}"]}


def finetune_experiment(
    model_path: Path,
    work: Path,
    *,
    quick: bool = False,
    device: str = "cpu",
    precision: str = "auto",
    towers: str = "text",
    seed: int = 0,
    lr: float = 1e-4,
    epochs: float = 8.0,
) -> dict[str, Any]:
    from clipdesk.model.checkpoint import load_checkpoint
    from clipdesk.model.finetune import FinetuneJob, FinetuneOptions
    from clipdesk.model.finetune_eval import blend_state

    base = load_checkpoint(model_path)
    size = base.preprocess.size
    n_new, n_old = (160, 160) if quick else (480, 480)
    n_eval = 60 if quick else 150
    train = _pairs(
        work / "train", new_shape_scenes(FT_SHAPES, n_new // 2, 3000 + seed), size, "new", seed
    ) + _pairs(work / "train", _old_scenes(n_old, 3100 + seed, "train"), size, "old", seed)
    val_new = _pairs(
        work / "val", new_shape_scenes(FT_SHAPES, n_eval // 2, 4000 + seed), size, "vnew", seed
    )
    val_old = _pairs(work / "val", _old_scenes(n_eval, 4100 + seed, "test"), size, "vold", seed)
    test_new = _pairs(
        work / "test", new_shape_scenes(FT_SHAPES, n_eval // 2, 5000 + seed), size, "tnew", seed
    )
    test_old = _pairs(work / "test", _old_scenes(n_eval, 5100 + seed, "test"), size, "told", seed)
    opts = FinetuneOptions(
        towers=towers,
        epochs=epochs,
        batch_size=64,
        lr=lr,
        alpha=1.0,
        device=device,
        precision=precision,
        seed=seed,
        min_steps=20,
    )
    job = FinetuneJob.create(model_path, train, val_new + val_old, opts, root=work / "jobs")
    result = job.run(save_name=f"bench-ft-{int(time.time())}")
    tuned = torch.load(job.folder / "fine_tuned.pt", weights_only=True)
    original = {k: v.clone() for k, v in base.module.state_dict().items()}
    val = Gallery(val_new, val_old, base.tokenizer, base.preprocess)
    test = Gallery(test_new, test_old, base.tokenizer, base.preprocess)
    keep = ("visual.",) if towers == "text" else ()
    sweep = {}
    for alpha in ALPHAS:
        base.module.load_state_dict(blend_state(original, tuned, alpha, keep))
        sweep[alpha] = {"val": val.recall(base.module), "test": test.recall(base.module)}
    ok = [a for a in ALPHAS if sweep[a]["val"]["old"] >= sweep[0.0]["val"]["old"] - MAX_OLD_DROP]
    chosen = max(ok, key=lambda a: (sweep[a]["val"]["new"], -a))
    orig, ft, blend = sweep[0.0]["test"], sweep[1.0]["test"], sweep[chosen]["test"]
    return {
        "towers": towers,
        "new_shapes": list(FT_SHAPES),
        "train_pairs": len(train),
        "steps": result.steps,
        "batch_size": result.batch_size,
        "seconds": result.seconds,
        "images_per_s": result.images_per_s,
        "device": device,
        "precision": precision,
        "chosen_alpha": chosen,
        "new_recall@5": {"original": orig["new"], "fine_tuned": ft["new"], "blend": blend["new"]},
        "old_recall@5": {"original": orig["old"], "fine_tuned": ft["old"], "blend": blend["old"]},
        "old_drop_at_blend": orig["old"] - blend["old"],
        "sweep": {str(a): s for a, s in sweep.items()},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", type=Path, default=DEMO)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--towers", choices=("text", "both"), default="text")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--epochs", type=float, default=8.0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="head experiments, each with its own labelled and test photos "
        "(default 8, --quick 3): one seed's 16 examples swing accuracy by +-0.05",
    )
    args = ap.parse_args(argv)
    from _report import quick as report_quick
    from _report import record

    quick = args.quick or report_quick()
    torch.set_num_threads(args.threads)
    if not (args.model / "config.json").is_file():
        print(f"no model at {args.model} (train it: python3 models/train_mini.py)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="clipdesk-train-bench-") as tmp:
        os.environ["CLIPDESK_HOME"] = tmp  # versions and jobs go here, not to the user's dirs
        from clipdesk.model import load_model

        model = load_model(args.model, device=args.device)
        n_test = 30 if quick else 100
        seeds = range(args.seeds or (3 if quick else 8))
        heads = over_seeds([head_experiment(model, test_per_class=n_test, seed=s) for s in seeds])
        known = over_seeds(
            [head_experiment(model, KNOWN_SHAPES, test_per_class=n_test, seed=s) for s in seeds]
        )
        ft = finetune_experiment(
            args.model,
            Path(tmp),
            quick=quick,
            device=args.device,
            precision=args.precision,
            towers=args.towers,
            lr=args.lr,
            epochs=args.epochs,
        )
    out = {"model": model.id, "heads": heads, "heads_known_shapes": known, "finetune": ft}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"model {model.id}\n")
        print(
            f"Tag head, new shapes {', '.join(heads['shapes'])} "
            f"({heads['examples_per_class']} labelled examples per class; mean over "
            f"{heads['seeds']} seeds, [min, max])"
        )
        print(
            f"  held-out accuracy   chance {heads['chance']:.2f}   zero-shot "
            f"{heads['zero_shot_accuracy']:.3f}   head {heads['head_accuracy']:.3f} "
            f"[{heads['head_min']:.3f}, {heads['head_max']:.3f}]   (target >= 0.9)"
        )
        print(
            f"  heads chosen: {heads['methods']}; trained in {heads['train_seconds']:.1f} s "
            "on average"
        )
        print(
            f"  same on known shapes {', '.join(known['shapes'])}:   zero-shot "
            f"{known['zero_shot_accuracy']:.3f}   head {known['head_accuracy']:.3f}   "
            "(what the model's image vectors separate)"
        )
        print(
            f"\nFine-tuning ({ft['towers']} tower), new concepts {', '.join(ft['new_shapes'])}: "
            f"{ft['train_pairs']} pairs, {ft['steps']} steps, {ft['images_per_s']:.0f} images/s "
            f"on {ft['device']}"
        )
        print(f"  text->image recall@5   original   fine-tuned   blend alpha={ft['chosen_alpha']}")
        for key, label in (("new_recall@5", "new concept"), ("old_recall@5", "old concepts")):
            r = ft[key]
            print(
                f"  {label:20s}   {r['original']:8.3f}   {r['fine_tuned']:10.3f}   "
                f"{r['blend']:8.3f}"
            )
        print(
            f"  old-concept drop at the chosen blend: {ft['old_drop_at_blend']:+.3f} "
            f"(limit {MAX_OLD_DROP})"
        )
    record(
        metrics={
            "head accuracy (new shapes)": heads["head_accuracy"],
            "zero-shot accuracy (new shapes)": heads["zero_shot_accuracy"],
            "new-concept recall@5 original -> blend": f"{ft['new_recall@5']['original']:.3f} -> {ft['new_recall@5']['blend']:.3f}",
            "old-concept recall@5 drop": ft["old_drop_at_blend"],
            "fine-tune images/s": ft["images_per_s"],
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
