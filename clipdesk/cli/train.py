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
import time
from typing import TYPE_CHECKING, Any

from clipdesk.cli import open_services

# from services.training, not services.records: the parser is built before any command runs, and
# the records module loads the whole engine (torch).
from clipdesk.services.training import (
    CAPTION_SOURCE_TITLES,
    CAPTION_SOURCES,
    FinetuneOptions,
    FinetuneStopped,
)

if TYPE_CHECKING:
    from clipdesk.services.records import RecomputeReport
    from clipdesk.services.training_results import HeadReport


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
    p.add_argument(
        "--apply",
        action="store_true",
        help="use the trained head for tagging; the category is retagged at once",
    )
    p.add_argument(
        "--revert",
        action="store_true",
        help="go back to zero-shot for the category (retagged at once)",
    )
    p.add_argument(
        "--last",
        action="store_true",
        help="show the category's last training (kept in the library) instead of training",
    )
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
        help=f"comma-separated caption sources: {', '.join(CAPTION_SOURCES)} (default: tags)",
    )


def _sources(args: argparse.Namespace) -> list[str]:
    return [s.strip() for s in args.source.split(",") if s.strip()]


def _progress(args: argparse.Namespace):
    if not args.verbose:
        return None

    def show(p: Any) -> None:
        eta = f"  ETA {p.eta_s:.0f}s" if p.eta_s is not None else ""
        print(f"\r{p.message or p.done}{eta}   ", end="", file=sys.stderr, flush=True)

    return show


def run_heads(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        if args.revert:
            report = app.heads.revert(args.category, progress=_progress(args))
            name = app.tags.category(args.category).name
            data: dict[str, Any] = {"category": name, "reverted": report is not None}
            if report is not None:
                data["retagged"] = _retag_summary(report)
            emit(
                args,
                data,
                f"{name}: back to zero-shot; {_retag_text(report)}"
                if report is not None
                else f"{name}: no trained head was applied",
            )
            return 0
        if args.last:
            return _show_last(args, app)
        # kept in the library as the category's last training: the Train tab shows it too
        trained = app.heads.train(
            args.category,
            target_precision=args.target_precision,
            suggest=args.suggest,
            method=args.method,
            progress=_progress(args),
        )
        data = _report_data(trained)
        data["applied"] = bool(args.apply)
        if args.apply:  # retags the category now: no `tags apply` left to run
            data["retagged"] = _retag_summary(app.heads.apply(trained.head))
        emit(args, data, _heads_text(data))
    return 0


def _report_data(report: HeadReport) -> dict[str, Any]:
    data = dict(report.summary)
    data["missing_vectors"] = report.missing_vectors
    data["trained_at"] = report.trained_at
    if report.next_up:
        data["suggest"] = [
            {"photo_id": pid, "uncertainty": round(u, 4)} for pid, u in report.next_up
        ]
    return data


def _show_last(args: argparse.Namespace, app: Any) -> int:
    from clipdesk.cli import emit

    name = app.tags.category(args.category).name
    report = app.heads.last(name)
    if report is None:
        emit(
            args,
            {"category": name, "trained_at": None},
            f"{name}: not trained with this model since its labels were last changed; "
            f"train it with `clipdesk-cli train heads {name}`",
        )
        return 0
    data = _report_data(report)
    data["applied"] = app.heads.applied(name) is not None
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(report.trained_at))
    emit(args, data, f"last training, {when}\n" + _heads_text(data, last=True))
    return 0


def _retag_summary(report: RecomputeReport) -> dict[str, Any]:
    return {
        "photos": report.photos,
        "suggested": report.suggested,
        "candidates": report.candidates,
    }


def _retag_text(report: RecomputeReport) -> str:
    return (
        f"retagged {report.photos} photos ({report.suggested} tags suggested, "
        f"{report.candidates} near-misses to review)"
    )


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def _heads_text(d: dict[str, Any], last: bool = False) -> str:
    lines = [f"{d['category']}: {d['examples']} labelled photos ({d['model_id']})"]
    ev = d.get("evaluation")
    if ev:
        b, a = ev["before"], ev["after"]
        # in use (zero-shot at first) against the best other kind, on the same folds
        was, other = ev.get("before_method", "zero-shot"), ev.get("after_method", "trained")
        lines.append(f"  held-out ({ev['folds']}-fold)   {was:>12}   {other:>12}")
        lines.append(
            f"  accuracy              {_fmt(b['accuracy']):>12}   {_fmt(a['accuracy']):>12}"
        )
        lines.append(f"  mean AP               {_fmt(b['mean_ap']):>12}   {_fmt(a['mean_ap']):>12}")
    lines.append(f"  head: {d['method']}")
    if d.get("reason"):  # what the selection chose and why, figures included
        lines.append(f"  {d['reason']}")
    if d.get("thresholds"):
        lines.append("  calibrated thresholds: " + ", ".join(f"{t:.3f}" for t in d["thresholds"]))
    if d["applied"] and last:
        lines.append("  a trained head is applied to tagging")
    elif d["applied"]:
        r = d["retagged"]
        lines.append(
            f"  applied: tagging uses this head; retagged {r['photos']} photos now "
            f"({r['suggested']} tags suggested, {r['candidates']} near-misses to review)"
        )
    elif last:
        lines.append("  no trained head is applied (train it with --apply to use it)")
    else:
        lines.append("  not applied (use --apply to use it and retag the category now)")
    for s in d.get("suggest", []):
        lines.append(f"  label next: photo {s['photo_id']} (uncertainty {s['uncertainty']})")
    return "\n".join(lines)


def run_pairs(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        pairs = app.training.pair_counts(_sources(args))
    text = "\n".join(
        [f"{n:8d}  {CAPTION_SOURCE_TITLES[s]}" for s, n in pairs.counts.items()]
        + [f"{pairs.pairs:8d}  pairs from {pairs.photos} photos"]
    )
    emit(args, pairs.to_json(), text)
    return 0


def run_finetune(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    options = FinetuneOptions(
        towers=args.towers,
        epochs=args.epochs,
        min_steps=args.min_steps,
        batch_size=args.batch_size,
        lr=args.lr,
        alpha=args.alpha,
        device=args.device or "auto",
        precision=args.precision,
        seed=args.seed,
    )
    with open_services(args) as app:
        try:
            run = app.training.finetune(
                _sources(args),
                options,
                val_fraction=args.val_fraction,
                name=args.name,
                resume=args.resume,
                activate=args.activate,
                progress=_progress(args),
            )
        except FinetuneStopped as stopped:
            print(
                "\nstopped; resume with: clipdesk-cli train finetune --resume "
                f"{stopped.job_folder}",
                file=sys.stderr,
            )
            return 130
    data = run.to_json()
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

    with open_services(args) as app:
        found = app.training.versions()
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

    with open_services(args) as app:
        out = app.training.activate(args.name)
    emit(
        args,
        out.to_json(),
        f"active model: {out.active}"
        + ("  (photos will be embedded again at the next index)" if out.reembed else ""),
    )
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        out = app.training.rollback(args.name)
    emit(args, out.to_json(), f"rolled back; active model: {out.active}")
    return 0
