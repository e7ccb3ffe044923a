"""``clipdesk-cli status``: what the library holds, what is left to index, what went wrong."""

from __future__ import annotations

import argparse
from typing import Any

from clipdesk.library.store import SEARCH_MODEL_KEY, Library


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
    parser.set_defaults(func=run)


def collect(lib: Library, model: str | None, max_errors: int) -> dict[str, Any]:
    active = model
    if active is None:
        record = lib.get_setting(SEARCH_MODEL_KEY)
        active = record.get("id") if isinstance(record, dict) else None
    vectors = lib.embedding_models()
    model_ids = [m for m in vectors if active and (m == active or m.split("@")[0] == active)]
    pending = {m: lib.count_pending(m) for m in (model_ids or list(vectors))}
    folders = lib.folders()
    counts = lib.counts()
    return {
        "library": str(lib.path),
        "schema_version": lib.version,
        "folders": {
            "total": len(folders),
            "offline": [
                {"path": str(f.path), "reason": f.error} for f in folders if f.status.value != "ok"
            ],
            "problems": [
                {"path": str(f.path), "reason": f.error}
                for f in folders
                if f.status.value == "ok" and f.error
            ],
        },
        "photos": {"total": sum(counts.values()), **counts},
        "model": active,
        "vectors": vectors,
        "pending": pending,
        "errors": [
            {"id": p.id, "path": str(p.path), "reason": p.error}
            for p in lib.errors(limit=max_errors)
        ],
    }


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
    lines.append(f"model: {data['model'] or 'not chosen yet'}")
    for model_id, n in sorted(data["vectors"].items()):
        left = data["pending"].get(model_id)
        tail = f", {left} to go" if left else ""
        lines.append(f"  vectors for {model_id}: {n}{tail}")
    if data["errors"]:
        shown = len(data["errors"])
        lines.append(f"errors ({shown} of {photos['error']}):")
        lines += [f"  {e['path']}: {e['reason']}" for e in data["errors"]]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with Library(args.library) as lib:
        data = collect(lib, args.model, args.errors)
    emit(args, data, describe(data))
    return 0
