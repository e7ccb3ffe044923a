"""Train ClipDesk-Mini, the bundled demo model, from scratch on the synthetic world (CPU).

Three phases, all with CLIP's contrastive loss: random batches (colours, words, coarse shapes);
hard-negative batches holding only a few colours each; then batches of groups of scenes alike in
all but shape, which make the model tell shapes apart.

    python3 models/train_mini.py        # writes models/clipdesk-mini: 395k image passes in bf16,
                                        # 30 min on 2 shared CPU cores with AVX512-BF16
    python3 models/train_mini.py --steps 20 --hard-steps 20 --shape-steps 20 \
        --out /tmp/mini-smoke --work-dir /tmp/mini-smoke-work          # a quick smoke run

bf16 autocast on the CPU is 1.4x faster than fp32 where the CPU has native bf16 (AVX512-BF16 or
AMX); elsewhere it is emulated and slower, so pass ``--precision fp32`` there (other weights: this
recipe's scores were measured in bf16). Reproducible: the tokenizer, the initial weights and every
batch follow from --seed. The run checkpoints to --work-dir every 100 steps and resumes from there
if restarted with the same arguments. Scores: ``python3 bench/mini_eval.py``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clipdesk.common.progress import Progress  # noqa: E402
from clipdesk.model.bpe_train import train_caption_tokenizer  # noqa: E402
from clipdesk.model.config import ClipConfig, TextConfig, VisionConfig  # noqa: E402
from clipdesk.model.synth import SHAPES, SynthPairs  # noqa: E402
from clipdesk.model.train import (  # noqa: E402
    MODEL_SUBDIR,
    STATE_FILE,
    ContrastiveTrainer,
    TrainConfig,
)

NAME = "clipdesk-mini"
POOL = 204_800  # training scenes of phase 1
HARD_COLOURS = 4  # colours per batch in phase 2
DESCRIPTION = (
    "demo model: knows colours and shapes, not real photos — download or import a CLIP model "
    "for your photos"
)


def mini_config(vocab_size: int, eos_id: int, image_size: int = 64) -> ClipConfig:
    return ClipConfig(
        embed_dim=128,
        vision=VisionConfig(
            image_size=image_size,
            patch_size=8,
            width=160,
            layers=5,
            heads=5,
            mlp_width=640,
            act="gelu",
        ),
        text=TextConfig(
            vocab_size=vocab_size,
            context_length=32,
            width=128,
            layers=4,
            heads=4,
            mlp_width=512,
            act="gelu",
            eos_token_id=eos_id,
            pooling="eos",
        ),
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--steps", type=int, default=700)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=8e-4)
    ap.add_argument("--hard-steps", type=int, default=250, help="phase 2 steps")
    ap.add_argument("--hard-lr", type=float, default=5e-4)
    ap.add_argument("--shape-steps", type=int, default=3800, help="phase 3 steps")
    ap.add_argument(
        "--shape-batch-size",
        type=int,
        default=6 * len(SHAPES),
        help="phase 3 batch; a multiple of the number of shapes keeps groups whole",
    )
    ap.add_argument("--shape-lr", type=float, default=6e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--precision",
        choices=("bf16", "fp32"),
        default="bf16",
        help="autocast dtype; bf16 needs a CPU with native bf16 to be the faster one",
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch threads; more than the idle cores slows training down badly",
    )
    ap.add_argument("--workers", type=int, default=0, help="DataLoader processes rendering scenes")
    ap.add_argument("--out", type=Path, default=ROOT / "models" / NAME)
    ap.add_argument("--work-dir", type=Path, default=ROOT / "build" / "mini-train")
    args = ap.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    if args.precision == "bf16" and not _native_bf16():
        print("warning: this CPU emulates bf16; --precision fp32 trains faster here", flush=True)
    t0 = time.monotonic()
    phase1 = train_phase1(args)
    phase2 = train_phase2(args)
    phase3 = train_phase3(args)
    minutes = (time.monotonic() - t0) / 60
    meta = {
        "demo": True,
        "description": DESCRIPTION,
        "training": {
            "command": "python3 models/train_mini.py " + " ".join(argv or sys.argv[1:]),
            "seed": args.seed,
            "batch_size": args.batch_size,
            "threads": args.threads,
            "precision": args.precision,
            "phase1": {
                "steps": phase1.step,
                "lr": args.lr,
                "batches": "random",
                "seconds": phase1.meta.get("train_seconds"),
            },
            "phase2": {
                "steps": phase2.step,
                "lr": args.hard_lr,
                "batches": f"{HARD_COLOURS} colours per batch",
                "seconds": phase2.meta.get("train_seconds"),
            },
            "phase3": {
                "steps": phase3.step,
                "lr": args.shape_lr,
                "batch_size": args.shape_batch_size,
                "batches": f"groups of {len(SHAPES)} scenes differing only in shape",
                "seconds": phase3.meta.get("train_seconds"),
            },
            "minutes_this_run": round(minutes, 1),
            "torch": torch.__version__,
        },
    }
    phase3.meta = {"name": NAME}
    phase3.save(args.out, name=NAME, meta=meta)
    print(json.dumps(meta, indent=2))
    print(f"saved {args.out} after {minutes:.1f} min", flush=True)
    return 0


def _native_bf16() -> bool:
    cpu = torch.cpu
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(cpu, name, lambda: False)() for name in checks)


def _report(p: Progress) -> None:
    eta = f"{p.eta_s / 60:.1f} min" if p.eta_s is not None else "?"
    print(f"{p.message}  {getattr(p, 'images_per_s', 0):.0f} img/s  eta {eta}", flush=True)


def _fit(trainer: ContrastiveTrainer, pairs: SynthPairs, work_dir: Path) -> ContrastiveTrainer:
    result = trainer.fit(pairs, progress=_report, checkpoint_dir=work_dir)
    if result.losses:  # something was trained in this call: keep the clock with the checkpoint
        trainer.meta["train_seconds"] = trainer.meta.get("train_seconds", 0) + round(result.seconds)
        trainer.save_checkpoint(work_dir)
    return trainer


def train_phase1(args: argparse.Namespace) -> ContrastiveTrainer:
    """From scratch, random batches: colours, words, coarse shapes."""
    tcfg = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        warmup_steps=100,
        min_lr_ratio=0.02,
        weight_decay=0.1,
        grad_clip=1.0,
        seed=args.seed,
        device="cpu",
        precision=args.precision,
        num_workers=args.workers,
        checkpoint_every=100,
        progress_every=10,
    )
    if (args.work_dir / STATE_FILE).is_file():
        trainer = ContrastiveTrainer.resume(args.work_dir, tcfg)
        print(f"phase 1: resumed at step {trainer.step}", flush=True)
    else:
        tok = train_caption_tokenizer(n_captions=40000, seed=args.seed, context_length=32)
        cfg = mini_config(tok.vocab_size, tok.eot_id)
        trainer = ContrastiveTrainer.from_scratch(cfg, tok, tcfg, meta={"name": NAME})
    n_params = sum(p.numel() for p in trainer.module.parameters())
    print(
        f"{n_params / 1e6:.2f}M parameters; phase 1: {args.steps} steps of {args.batch_size}",
        flush=True,
    )
    # A fixed pool of scenes (batch k is a function of seed and k alone), so --steps changes the
    # schedule but not which scenes the first steps see.
    pairs = SynthPairs(
        max(POOL, args.steps * args.batch_size),
        trainer.module.cfg.vision.image_size,
        split="train",
        seed=args.seed,
    )
    return _fit(trainer, pairs, args.work_dir)


def train_phase2(args: argparse.Namespace) -> ContrastiveTrainer:
    """Hard-negative batches of a few colours each: once colour is learned it no longer tells a
    batch's captions apart, so the gradient goes to shape, count and size."""
    return _fine_tune(
        args,
        "phase 2",
        args.work_dir / MODEL_SUBDIR,
        args.work_dir / "hard",
        args.hard_steps,
        args.hard_lr,
        seed=args.seed + 1,
        colour_groups=(args.batch_size, HARD_COLOURS),
    )


def train_phase3(args: argparse.Namespace) -> ContrastiveTrainer:
    """Batches of groups of scenes (one per shape) alike in all but shape: shape is the only way to
    match captions inside a group."""
    return _fine_tune(
        args,
        "phase 3",
        args.work_dir / "hard" / MODEL_SUBDIR,
        args.work_dir / "shapes",
        args.shape_steps,
        args.shape_lr,
        seed=args.seed + 2,
        batch_size=args.shape_batch_size,
        shape_groups=True,
    )


def _fine_tune(
    args: argparse.Namespace,
    label: str,
    source: Path,
    work: Path,
    steps: int,
    lr: float,
    seed: int,
    batch_size: int | None = None,
    **arrangement: object,
) -> ContrastiveTrainer:
    batch_size = batch_size or args.batch_size
    tcfg = TrainConfig(
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        warmup_steps=50,
        min_lr_ratio=0.0,
        weight_decay=0.1,
        grad_clip=1.0,
        seed=seed,
        device="cpu",
        precision=args.precision,
        num_workers=args.workers,
        checkpoint_every=100,
        progress_every=10,
        shuffle=False,
    )
    if (work / STATE_FILE).is_file():
        trainer = ContrastiveTrainer.resume(work, tcfg)
        print(f"{label}: resumed at step {trainer.step}", flush=True)
    else:
        trainer = ContrastiveTrainer.from_checkpoint(source, tcfg)
        trainer.meta = {"name": NAME}
    print(f"{label}: {steps} steps, {arrangement}", flush=True)
    pairs = SynthPairs(
        steps * batch_size,
        trainer.module.cfg.vision.image_size,
        split="train",
        seed=seed,
        **arrangement,
    )  # type: ignore[arg-type]
    return _fit(trainer, pairs, work)


if __name__ == "__main__":
    raise SystemExit(main())
