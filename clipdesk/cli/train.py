"""``clipdesk-cli train``: teach tag heads and fine-tune the model, as the Train tab does.

::

    clipdesk-cli train heads Scene --target-precision 0.9 --apply --suggest 20
    clipdesk-cli train heads Scene --revert
    clipdesk-cli train pairs --source tags,xmp,folders
    clipdesk-cli train finetune --source tags --towers text --epochs 5 --alpha 0.5 --activate
    clipdesk-cli train finetune --resume            # continue the last interrupted run
    clipdesk-cli train versions | activate NAME | rollback [NAME]

With ``--json`` every command prints one JSON object with its metrics.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from clipdesk.common.errors import CancelledError, ClipDeskError
from clipdesk.training.captions import SOURCES


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="teach tags from your decisions; fine-tune CLIP",
        description="Teach tag heads and fine-tune the model.",
    )
    sub = parser.add_subparsers(dest="train_command", metavar="WHAT")
    sub.required = True

    p = sub.add_parser("heads", help="train a category's classifier from confirmed/rejected tags")
    p.add_argument("category")
    p.add_argument(
        "--target-precision",
        type=float,
        metavar="P",
        help="calibrate thresholds to this precision on your labels (e.g. 0.9)",
    )
    p.add_argument("--apply", action="store_true", help="use the trained head for tagging")
    p.add_argument("--revert", action="store_true", help="go back to zero-shot for the category")
    p.add_argument(
        "--suggest",
        type=int,
        default=0,
        metavar="N",
        help="list the N photos the head is least sure about (label them next)",
    )
    p.add_argument("--method", choices=("margin", "entropy"), default="margin")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run_heads)

    p = sub.add_parser("pairs", help="count image-caption pairs per source")
    _source_arg(p)
    p.set_defaults(func=run_pairs)

    p = sub.add_parser("finetune", help="fine-tune the model on your photos' captions")
    _source_arg(p)
    p.add_argument(
        "--towers",
        choices=("text", "both"),
        default="text",
        help="text: no re-index needed (default); both: re-embeds when activated",
    )
    p.add_argument("--epochs", type=float, default=5.0)
    p.add_argument("--min-steps", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64, help="halved on out-of-memory")
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument(
        "--alpha",
        type=float,
        default=0.5,
        help="WiSE-FT blend: 0 = original weights, 1 = fully fine-tuned",
    )
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--name", help="name of the new model version (default: BASE-ft-DATE)")
    p.add_argument("--activate", action="store_true", help="activate the new version")
    p.add_argument(
        "--resume",
        nargs="?",
        const="last",
        metavar="JOB_DIR",
        help="continue an interrupted run (default: the most recent)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run_finetune)

    p = sub.add_parser("versions", help="list fine-tuned model versions and their metrics")
    p.set_defaults(func=run_versions)
    p = sub.add_parser("activate", help="make a model version active")
    p.add_argument("name")
    p.set_defaults(func=run_activate)
    p = sub.add_parser("rollback", help="go back to the model a version was made from")
    p.add_argument("name", nargs="?")
    p.set_defaults(func=run_rollback)


def _source_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--source",
        default="tags",
        metavar="LIST",
        help=f"comma-separated caption sources: {', '.join(SOURCES)} (default: tags)",
    )


def _sources(args: argparse.Namespace) -> list[str]:
    return [s.strip() for s in args.source.split(",") if s.strip()]


def _library(args: argparse.Namespace):
    from clipdesk.library.store import Library

    return Library(args.library)


def _progress(args: argparse.Namespace):
    if not args.verbose:
        return None

    def show(p: Any) -> None:
        eta = f"  ETA {p.eta_s:.0f}s" if p.eta_s is not None else ""
        print(f"\r{p.message or p.done}{eta}   ", end="", file=sys.stderr, flush=True)

    return show


def run_heads(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.model import load_model
    from clipdesk.tags.heads import examples as head_service

    with _library(args) as lib:
        if args.revert:
            model_id = load_model(args.model, args.device or "auto").id
            had = head_service.revert(lib, model_id, args.category)
            emit(
                args,
                {"category": args.category, "reverted": had},
                f"{args.category}: back to zero-shot"
                if had
                else f"{args.category}: no trained head was applied",
            )
            return 0
        model = load_model(args.model, args.device or "auto")
        ex, result = head_service.teach_category(
            lib,
            model,
            args.category,
            target_precision=args.target_precision,
            progress=_progress(args),
        )
        data: dict[str, Any] = result.summary()
        data["missing_vectors"] = ex.missing_vectors
        if args.apply:
            head_service.apply(lib, result.head)
        data["applied"] = bool(args.apply)
        if args.suggest:
            data["suggest"] = [
                {"photo_id": pid, "uncertainty": round(u, 4)}
                for pid, u in head_service.next_to_label(
                    lib, model.id, result.head, args.suggest, args.method
                )
            ]
        emit(args, data, _heads_text(data))
    return 0


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def _heads_text(d: dict[str, Any]) -> str:
    lines = [f"{d['category']}: {d['examples']} labelled photos ({d['model_id']})"]
    ev = d.get("evaluation")
    if ev:
        b, a = ev["before"], ev["after"]
        lines.append(f"  held-out ({ev['folds']}-fold)   zero-shot   trained")
        lines.append(f"  accuracy              {_fmt(b['accuracy']):>9}   {_fmt(a['accuracy']):>7}")
        lines.append(f"  mean AP               {_fmt(b['mean_ap']):>9}   {_fmt(a['mean_ap']):>7}")
    if d["zero_shot_kept"]:
        lines.append("  zero-shot did best on held-out labels; the head equals it")
    if d.get("thresholds"):
        lines.append("  calibrated thresholds: " + ", ".join(f"{t:.3f}" for t in d["thresholds"]))
    lines.append(
        "  applied: tagging now uses this head" if d["applied"] else "  not applied (use --apply)"
    )
    for s in d.get("suggest", []):
        lines.append(f"  label next: photo {s['photo_id']} (uncertainty {s['uncertainty']})")
    return "\n".join(lines)


def run_pairs(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.training.captions import SOURCE_TITLES, caption_pairs

    with _library(args) as lib:
        pairs = caption_pairs(lib, _sources(args))
    data = pairs.summary()
    text = "\n".join(
        [f"{n:8d}  {SOURCE_TITLES[s]}" for s, n in pairs.counts.items()]
        + [f"{len(pairs.pairs):8d}  pairs from {pairs.photos} photos"]
    )
    emit(args, data, text)
    return 0


def run_finetune(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.model import versions
    from clipdesk.model.finetune import FinetuneJob, FinetuneOptions, pending_jobs
    from clipdesk.training.captions import caption_pairs, split_pairs

    if args.resume:
        jobs = pending_jobs() if args.resume == "last" else [FinetuneJob.open(args.resume)]
        if not jobs:
            raise ClipDeskError("there is no interrupted fine-tuning run to resume")
        job = jobs[0]
        pairs_summary = {"pairs": len(job.train_pairs) + len(job.val_pairs)}
    else:
        from clipdesk.model.manager import resolve_model

        opts = FinetuneOptions(
            towers=args.towers,
            epochs=args.epochs,
            min_steps=args.min_steps,
            batch_size=args.batch_size,
            lr=args.lr,
            alpha=args.alpha,
            device=args.device or "auto",
            precision=args.precision,
            seed=args.seed,
        ).validate()
        with _library(args) as lib:
            pairs = caption_pairs(lib, _sources(args))
        train, val = split_pairs(pairs.pairs, args.val_fraction, args.seed)
        job = FinetuneJob.create(resolve_model(args.model), train, val, opts, name=args.name)
        pairs_summary = {**pairs.summary(), "train": len(train), "validation": len(val)}
    try:
        result = job.run(progress=_progress(args))
    except CancelledError:
        print(
            f"\nstopped; resume with: clipdesk-cli train finetune --resume {job.folder}",
            file=sys.stderr,
        )
        return 130
    data = {**result.summary(), "data": pairs_summary, "job": str(job.folder)}
    if args.activate:
        with _library(args) as lib:
            data["activation"] = versions.activate(result.model_name, lib)
    emit(args, data, _finetune_text(data))
    return 0


def _finetune_text(d: dict[str, Any]) -> str:
    lines = [
        f"new model version: {d['model_name']}  ({d['model_path']})",
        f"  {d['steps']} steps, batch {d['batch_size']}, {d['seconds']:.0f} s, "
        f"{d['images_per_s']:.1f} images/s, blend alpha {d['alpha']}",
    ]
    keys = [k for k in ("t2i_recall@1", "t2i_recall@5", "i2t_recall@1") if k in d["before"]]
    if keys:
        lines.append("  validation        original   fine-tuned   saved (blend)")
        for k in keys:
            lines.append(
                f"  {k:16s}  {d['before'][k]:8.3f}   {d['fine_tuned'][k]:10.3f}   "
                f"{d['after'][k]:13.3f}"
            )
    lines.append(
        "  activate it: clipdesk-cli train activate " + d["model_name"]
        if "activation" not in d
        else f"  active now (re-embedding needed: {d['activation']['reembed']})"
    )
    return "\n".join(lines)


def run_versions(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.model import versions

    found = versions.finetuned_versions()
    text = (
        "\n".join(
            f"{'*' if v.active else ' '} {v.name}  from {v.base_model}, {v.towers} tower(s), "
            f"alpha {v.alpha}"
            for v in found
        )
        or "no fine-tuned versions yet"
    )
    emit(args, [v.to_json() for v in found], text)
    return 0


def run_activate(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.model import versions

    with _library(args) as lib:
        out = versions.activate(args.name, lib)
    emit(
        args,
        out,
        f"active model: {out['active']}"
        + ("  (photos will be embedded again at the next index)" if out["reembed"] else ""),
    )
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.model import versions

    with _library(args) as lib:
        out = versions.rollback(args.name, lib)
    emit(args, out, f"rolled back; active model: {out['active']}")
    return 0
