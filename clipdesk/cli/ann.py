"""``clipdesk-cli ann status|build|threshold``: the approximate search index of large libraries.

    ann status               whether search is exact or approximate here, and why
    ann build                build (or rebuild) the index now (Ctrl+C stops; search stays exact)
    ann threshold [N|auto]   the library size from which search uses it (no value: show it)

Below the threshold (automatic: where exact search's float16 matrix would take a quarter of this
computer's memory) search is exact and nothing changes. Above it, ``index`` builds the index at
its end when one is due, and keeps it up to date afterwards.
"""

from __future__ import annotations

import argparse
from typing import Any

from clipdesk.cli import open_services
from clipdesk.common.errors import ClipDeskError

EXIT_INTERRUPTED = 130


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ann",
        help="the approximate search index of large libraries: status, build, threshold",
        description="Past a size threshold, search goes through an approximate index (faiss "
        "IVF-PQ, about 72 bytes a photo, re-ranked exactly) instead of holding every vector "
        "in memory. Below it, search is exact.",
    )
    sub = parser.add_subparsers(dest="ann_command", metavar="ACTION")
    sub.required = True
    sub.add_parser("status", help="exact or approximate search, and why").set_defaults(
        func=run_status, reads_only=True
    )
    sub.add_parser(
        "build", help="build the approximate index now, whatever the threshold (Ctrl+C stops)"
    ).set_defaults(func=run_build)
    threshold = sub.add_parser(
        "threshold", help="photos from which search is approximate: N, or auto (no value: show)"
    )
    threshold.add_argument("value", nargs="?", metavar="N|auto")
    threshold.set_defaults(func=run_threshold)


def status_lines(status: dict[str, Any]) -> list[str]:
    """``ann status``'s lines, from the status's JSON (``AnnStatus.as_json``)."""
    lines = [f"search: {status['note']}"]
    if status["built"] is not None:
        params = status["params"] or {}
        lines.append(
            f"  index: {status['built']:,} photos, {status['disk_bytes'] / 1e6:,.0f} MB at "
            f"{status['path']} (nlist {params.get('nlist')}, nprobe {params.get('nprobe')}, "
            f"re-rank {params.get('rerank')})"
        )
    elif status["wanted"] and status["problem"]:
        lines.append(f"  index: {status['problem']}; `clipdesk-cli ann build` builds it")
    return lines


def run_status(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        data = app.ann.status().as_json()
    emit(args, data, "\n".join(status_lines(data)))
    return 0


def run_build(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.cli.index import ProgressBar, _run_cancellable

    bar = ProgressBar(enabled=None if not args.json else False)
    with open_services(args) as app:

        def job(token: Any) -> dict[str, Any]:
            try:
                return app.ann.build(progress=bar, cancel=token).as_json()
            finally:
                bar.close()

        result, interrupted = _run_cancellable(job)
    lines = [result["note"], *status_lines(result["status"])]
    emit(args, result, "\n".join(lines))
    return EXIT_INTERRUPTED if interrupted or result["action"] == "cancelled" else 0


def run_threshold(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        if args.value is None:
            status = app.ann.status()
        else:
            status = app.ann.set_threshold(_threshold(args.value))
        data = status.as_json()
    said = (
        f"Approximate search from {data['threshold']:,} photos"
        + (" (automatic)." if data["automatic"] else ".")
        + (" `clipdesk-cli index` or `ann build` builds the index." if data["due"] else "")
    )
    emit(args, data, "\n".join([said, *status_lines(data)]))
    return 0


def _threshold(value: str) -> int | None:
    if value.strip().lower() == "auto":
        return None
    try:
        number = int(value.replace(",", "").replace("_", ""))
    except ValueError:
        number = -1
    if number < 0:
        raise ClipDeskError(
            f"{value!r} is not a number of photos.",
            "Give a whole number (e.g. 2000000), or auto for the automatic threshold.",
        )
    return number
