"""``clipdesk-cli status``: what the library holds, what is left to index, what went wrong."""

from __future__ import annotations

import argparse
from typing import Any

from clipdesk.cli import open_services
from clipdesk.cli.ocr import backlog_lines
from clipdesk.services.runtimes import describe as runtime_text


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status", help="photo counts, indexing progress and errors", description=__doc__
    )
    parser.add_argument(
        "--errors",
        type=int,
        default=20,
        metavar="N",
        help="list at most N photos in error with their reasons (default 20)",
    )
    # a status of a library that is not there creates none
    parser.set_defaults(func=run, reads_only=True)


def describe(data: dict[str, Any]) -> str:
    photos = data["photos"]
    lines = [
        f"library: {data['library']} (schema v{data['schema_version']})",
        f"folders: {data['folders']['total']}",
    ]
    for f in data["folders"]["offline"]:
        lines.append(f"  offline: {f['path']} - {f['reason']}")
    for f in data["folders"]["problems"]:
        lines.append(f"  {f['path']}: {f['reason']}")
    lines.append(
        f"photos: {photos['total']} ({photos['ok']} indexed, {photos['pending']} pending, "
        f"{photos['error']} errors, {photos['missing']} missing, "
        f"{photos['offline']} offline)"
    )
    default = data.get("default_model")
    chosen = data["model"] or (f"not chosen yet (using {default})" if default else "not chosen yet")
    lines.append(f"model: {chosen}")
    runtime = data.get("model_runtime") or {}
    if runtime.get("serves"):
        line = f"  runs on {runtime_text(runtime['serves'])}"
        if runtime.get("export_failed"):
            line += f" (its export for ONNX Runtime failed: {runtime['export_failed']})"
        elif runtime.get("export_owed"):
            line += " (not prepared for ONNX Runtime yet: `clipdesk-cli models prepare`)"
        lines.append(line)
    if data.get("search_model") and not data.get("search_model_is_active", True):
        lines.append(
            f"  search uses {data['search_model']} until every photo has a vector of the model"
        )
    for model_id, n in sorted(data["vectors"].items()):
        left = data["pending"].get(model_id)
        tail = f", {left} to go" if left else ""
        lines.append(f"  vectors for {model_id}: {n}{tail}")
    if data.get("waiting_note"):
        lines.append(f"waiting: {data['waiting_note']}; the next index run does it")
    lines += backlog_lines(data.get("ocr") or {})
    if data["errors"]:
        shown = len(data["errors"])
        lines.append(f"errors ({shown} of {photos['error']}):")
        lines += [f"  {e['path']}: {e['reason']}" for e in data["errors"]]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        report = app.status_report.report(max_errors=args.errors)
    data = report.as_json()
    emit(args, data, describe({**data, "search_model_is_active": report.search_model_is_active}))
    return 0
