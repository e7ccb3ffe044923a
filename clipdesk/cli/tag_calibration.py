"""``clipdesk-cli tags calibrate CATEGORY --precision P [--apply]``: thresholds calibrated to a
target precision on your decisions, for the classifier tagging uses now (no head is trained),
the same as the Tags page's calibration panel (:meth:`clipdesk.services.heads.HeadService.
calibrate` and ``apply_calibration``). ``train heads --target-precision`` does the same on
held-out scores of a head it trains."""

from __future__ import annotations

import argparse
import math

from clipdesk.cli import open_services
from clipdesk.services.records import Calibration, LabelCalibration


def precision(text: str) -> float:
    """A target precision: a share above 0, at most 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise argparse.ArgumentTypeError(
            f"{text} is out of range: give a precision above 0 and at most 1, such as 0.9"
        )
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="thresholds that reach a target precision on your decisions (no training)",
        description="For each label (one threshold for a single-choice category), the lowest "
        "threshold whose precision on your confirmed and rejected photos reaches the target, "
        "with its recall there and how many photos without a decision it would suggest. "
        "Nothing changes without --apply.",
    )
    p.add_argument("category")
    p.add_argument(
        "--precision",
        type=precision,
        default=0.9,
        metavar="P",
        help="the target precision on your decisions (default 0.9)",
    )
    p.add_argument(
        "--apply",
        action="store_true",
        help="set the thresholds found and retag the category at once",
    )
    # nothing to calibrate without decisions: a path with no library is said, not created
    p.set_defaults(func=cmd_calibrate, reads_only=True)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def describe_row(row: LabelCalibration) -> str:
    """One threshold's line for people."""
    name = row.label or "(category)"
    now = (
        f"now {row.current:.3f} (precision {_pct(row.current_precision)}, recall "
        f"{_pct(row.current_recall)}, {row.suggested_now} suggested)"
    )
    if row.threshold is None:
        return f"  {name}: keeps {row.current:.3f} - {row.reason}; {now}"
    return (
        f"  {name}: {row.threshold:.3f} gives precision {_pct(row.precision)}, recall "
        f"{_pct(row.recall)} on {row.decisions} decisions ({row.positives} yes), "
        f"{row.would_suggest} photos suggested; {now}"
    )


def describe(cal: Calibration) -> str:
    lines = [
        f"{cal.category} ({cal.method}, {cal.model_id}), target precision {cal.target:.0%}:",
        *(describe_row(r) for r in cal.rows),
    ]
    if cal.in_sample:
        lines.append(
            "note: the applied head learned from these decisions, so its figures on them are "
            "optimistic; `train heads --target-precision` calibrates on held-out scores"
        )
    return "\n".join(lines)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        cal = app.heads.calibrate(args.category, args.precision)
        data = cal.to_json()
        text = describe(cal)
        if args.apply:
            report = app.heads.apply_calibration(cal)
            data["applied"] = True
            data["retag"] = None if report is None else report.__dict__
            text += f"\napplied: {cal.changes} thresholds changed"
            if report is not None:
                text += f"; {report.suggested} tags suggested, {report.candidates} near-misses"
        else:
            data["applied"] = False
            if cal.changes:
                text += "\nrun again with --apply to set them"
    emit(args, data, text)
    return 0
