"""``clipdesk-cli vectors import DIR [--map FROM=TO ...] [--no-ocr]``: a cluster run's vectors
into the library, with no embedding here.

    vectors import /mnt/out                         the shards `cluster embed` wrote to /mnt/out
    vectors import /mnt/out --map /data=/Volumes/data   ... whose photos are under /Volumes/data
                                                        here, recorded as /data on the cluster

Photos are matched by path and checked by content hash; shards of another model, runtime or
precision than the library's are refused. Each shard is one transaction: Ctrl+C stops between
two, and a rerun changes nothing already imported. Then, as after ``index``, the photos'
keywords and tags are done and their text is read (unless ``--no-ocr``). Progress goes to stderr
on a terminal, the summary to stdout (``--json``: the summary's fields). Exit status 1 when a
shard could not be read (it is named; the others are imported).
"""

from __future__ import annotations

import argparse
from typing import Any

from clipdesk.cli import open_services
from clipdesk.cli.index import EXIT_INTERRUPTED, ProgressBar, _run_cancellable
from clipdesk.common.progress import CancelToken


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "vectors",
        help="vectors made elsewhere: import a cluster run's shards into the library",
        description="Vectors made elsewhere (clipdesk-cli cluster embed) merged into the "
        "library without embedding anything here.",
    )
    sub = parser.add_subparsers(dest="vectors_command", metavar="ACTION")
    sub.required = True
    imp = sub.add_parser(
        "import",
        help="merge a folder of vector shards into the library (Ctrl+C stops between shards)",
        description="Merge the Parquet shards of a cluster run into the library: folders and "
        "photos are created as a scan would (a later scan reconciles them and embeds nothing "
        "unchanged), photos already here are matched by path and content hash, and shards of "
        "another model, runtime or precision are refused. Running it again changes nothing.",
    )
    imp.add_argument("folder", metavar="DIR", help="the folder of shards (shard-*.parquet)")
    imp.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FROM=TO",
        help="a path the shards recorded as FROM/x is TO/x here (repeatable; the longest FROM "
        "that applies wins), e.g. --map /mnt/archive=/Volumes/archive",
    )
    imp.add_argument(
        "--no-ocr",
        action="store_true",
        help="do not read the text in the imported photos now; they stay owed their reading",
    )
    imp.set_defaults(func=run_import)


def run_import(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.cli.index import keep_search_index
    from clipdesk.cli.ocr import read_text, settle
    from clipdesk.common.path_map import parse_pair

    maps = [parse_pair(text) for text in args.map]
    bar = ProgressBar(enabled=None if not args.json else False)
    with open_services(args) as app:

        def job(token: CancelToken) -> dict[str, Any]:
            try:
                summary = app.vectors.import_shards(args.folder, maps, progress=bar, cancel=token)
            finally:
                bar.close()
            data: dict[str, Any] = summary.as_json()
            lines = [summary.describe()]
            if not token.cancelled:  # an archive's vectors may take the library past the threshold
                data["ann"] = keep_search_index(app, token, bar)
                if data["ann"].get("action") in ("built", "cancelled", "flat", "failed"):
                    lines.append(data["ann"]["note"])
            if not (args.no_ocr or token.cancelled or not app.ocr.enabled):
                ocr = read_text(app, token, bar)
                data["ocr"] = ocr
                if ocr["read"] or ocr["failed"]:
                    lines.append(ocr["note"])
                if ocr["backlog"]["note"]:
                    lines.append(f"Still to do: {ocr['backlog']['note']}; the next run does it.")
            return {"data": data, "text": "\n".join(lines)}

        result, interrupted = _run_cancellable(job)
        if interrupted:
            settle(app, args)
    emit(args, result["data"], result["text"])
    if interrupted:
        return EXIT_INTERRUPTED
    return 1 if result["data"]["bad_shards"] else 0
