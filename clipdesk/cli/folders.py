"""``clipdesk-cli folders add|remove|relocate|list|scan``: which folders the library watches.

Adding a folder scans it at once (new photos become pending; ``clipdesk-cli index`` embeds them).
Removing one forgets its photos, vectors and tags (an offline one too); the files themselves are
never touched. Relocating one points it at its new root, keeping every photo found there.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import Any

from clipdesk.cli import open_services
from clipdesk.common.progress import Progress
from clipdesk.services.folders import FolderRecord, change_summary
from clipdesk.services.records import ChangeSet


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "folders",
        help="add, remove, list or rescan photo folders",
        description=__doc__.splitlines()[0],
    )
    sub = parser.add_subparsers(dest="folders_command", metavar="ACTION")
    sub.required = True
    add = sub.add_parser("add", help="add folders and scan them")
    add.add_argument("paths", nargs="+", metavar="PATH")
    add.set_defaults(func=run_add)
    remove = sub.add_parser("remove", help="forget folders and their photos (files are kept)")
    remove.add_argument("paths", nargs="+", metavar="PATH")
    remove.set_defaults(func=run_remove)
    relocate = sub.add_parser(
        "relocate",
        help="point a folder at its new location (photos moved to a new disk or mount path)",
        description="Every photo found at the same relative path with the same content keeps "
        "its id, vector, tags and decisions; other content there is indexed again; photos not "
        "found stay missing. The new location is then scanned for new files.",
    )
    relocate.add_argument("old", metavar="OLD", help="the folder as the library knows it")
    relocate.add_argument("new", metavar="NEW", help="where its photos are now")
    relocate.set_defaults(func=run_relocate)
    lst = sub.add_parser("list", help="list folders with photo counts")
    lst.set_defaults(func=run_list, reads_only=True)
    scan = sub.add_parser("scan", help="reconcile every folder with the disk now")
    scan.set_defaults(func=run_scan)


def _folder_ref(text: str) -> int | str:
    """A folder as the user named it: its path (it may be offline, so not checked on disk), or
    its id from ``folders list --json``."""
    return int(text) if text.isdigit() and not os.path.exists(text) else text


def _progress(args: argparse.Namespace):
    if args.json or not sys.stderr.isatty():
        return None

    def show(p: Progress) -> None:
        total = f"/{p.total}" if p.total else ""
        print(f"\rscanning {p.done}{total} files ({p.rate:.0f}/s)", end="", file=sys.stderr)

    return show


def _describe(changes: ChangeSet) -> str:
    s = change_summary(changes)
    parts = [f"{s[k]} {k}" for k in ("added", "changed", "moved", "missing", "restored") if s[k]]
    text = ", ".join(parts) or "no changes"
    if s["errors"]:
        text += f"; {s['errors']} unreadable (see `clipdesk-cli status`)"
    for problem in s["problems"][:5]:
        text += f"\n  could not read {problem['path']}: {problem['reason']}"
    return text


def run_add(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        out, lines = [], []
        for path in args.paths:
            added = app.folders.add(path, progress=_progress(args))
            if _progress(args):
                print(file=sys.stderr)
            changes = added.changes or ChangeSet()
            folder = added.record
            out.append({"folder": str(folder.path), "id": folder.id, **change_summary(changes)})
            lines.append(f"added {folder.path}: {_describe(changes)}")
        pending = app.status_report.photo_counts()["pending"]
        if pending:
            lines.append(f"{pending} photos waiting to be indexed: run `clipdesk-cli index`.")
    emit(args, out, "\n".join(lines))
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        out = [
            {"folder": path, "photos_removed": app.folders.remove(_folder_ref(path))}
            for path in args.paths
        ]
    emit(
        args,
        out,
        "\n".join(
            f"removed {o['folder']} ({o['photos_removed']} photos forgotten; files untouched)"
            for o in out
        ),
    )
    return 0


def run_relocate(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        moved = app.folders.relocate(_folder_ref(args.old), args.new, progress=_progress(args))
        if _progress(args):
            print(file=sys.stderr)
    out = {
        "folder": str(moved.record.path),
        "old_path": moved.old_path,
        "id": moved.record.id,
        "kept": moved.kept,
        "changed": moved.changed,
        "unmatched": moved.unmatched,
        "scan": change_summary(moved.changes),
    }
    lines = [
        f"relocated {moved.old_path} -> {moved.record.path}: {moved.kept} photos kept their tags "
        f"and decisions, {moved.changed} changed (indexed again), {moved.unmatched} not found "
        "(missing)",
        f"scan of the new location: {_describe(moved.changes)}",
    ]
    emit(args, out, "\n".join(lines))
    return 0


def _folder_row(record: FolderRecord) -> dict[str, Any]:
    purge = record.purge
    return {
        "id": record.id,
        "path": str(record.path),
        "status": record.status,
        "error": record.error,
        "last_scan": record.folder.last_scan,
        "photos": record.photos,
        "by_status": dict(record.counts),
        "purge": None
        if purge is None
        else {
            "missing": purge.missing,
            "offline": purge.offline,
            "days": purge.days,
            "first": purge.first.isoformat() if purge.first else None,
            "last": purge.last.isoformat() if purge.last else None,
            "text": purge.text,
        },
    }


def run_list(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        rows = [_folder_row(r) for r in app.folders.list()]
        rule = app.folders.purge_rule()
    lines = []
    for r in rows:
        detail = ", ".join(f"{n} {s}" for s, n in sorted(r["by_status"].items())) or "empty"
        flag = "" if r["status"] == "ok" else f" [{r['status'].upper()}]"
        lines.append(f"{r['path']}{flag}: {r['photos']} photos ({detail})")
        if r["error"]:
            lines.append(f"  {r['error']}")
        if r["purge"]:
            lines.append(f"  {r['purge']['text']}")
        if r["status"] == "offline":
            lines.append(
                "  kept while offline; to forget it: `clipdesk-cli folders remove "
                f"{shlex.quote(r['path'])}`, or if it moved: `clipdesk-cli folders relocate`"
            )
    if rows:
        lines.append(rule)
    emit(
        args,
        rows,
        "\n".join(lines) or "no folders yet: add one with `clipdesk-cli folders add PATH`",
    )
    return 0


def run_scan(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        changes = app.folders.scan(progress=_progress(args))
        if _progress(args):
            print(file=sys.stderr)
    emit(args, change_summary(changes), _describe(changes))
    return 0
