"""``clipdesk-cli folders add|remove|list|scan``: which folders the library watches.

Adding a folder scans it at once (new photos become pending; ``clipdesk-cli index`` embeds them).
Removing one forgets its photos, vectors and tags; the files themselves are never touched.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from clipdesk.common.progress import Progress
from clipdesk.library.records import Folder
from clipdesk.library.store import Library
from clipdesk.scanning.scanner import ChangeSet, Scanner


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
    lst = sub.add_parser("list", help="list folders with photo counts")
    lst.set_defaults(func=run_list)
    scan = sub.add_parser("scan", help="reconcile every folder with the disk now")
    scan.set_defaults(func=run_scan)


def _progress(args: argparse.Namespace):
    if args.json or not sys.stderr.isatty():
        return None

    def show(p: Progress) -> None:
        total = f"/{p.total}" if p.total else ""
        print(f"\rscanning {p.done}{total} files ({p.rate:.0f}/s)", end="", file=sys.stderr)

    return show


def _summary(changes: ChangeSet) -> dict[str, Any]:
    return {
        "added": len(changes.added),
        "changed": len(changes.changed),
        "moved": len(changes.moved),
        "missing": len(changes.missing),
        "restored": len(changes.restored),
        "errors": len(changes.errors),
        "offline_folders": len(changes.offline_folders),
        "problems": [{"path": p, "reason": r} for p, r in changes.problems],
    }


def _describe(changes: ChangeSet) -> str:
    s = _summary(changes)
    parts = [f"{s[k]} {k}" for k in ("added", "changed", "moved", "missing", "restored") if s[k]]
    text = ", ".join(parts) or "no changes"
    if s["errors"]:
        text += f"; {s['errors']} unreadable (see `clipdesk-cli status`)"
    for problem in s["problems"][:5]:
        text += f"\n  could not read {problem['path']}: {problem['reason']}"
    return text


def run_add(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with Library(args.library) as lib:
        scanner = Scanner(lib)
        out, lines = [], []
        for path in args.paths:
            folder, changes = scanner.add_folder(path, progress=_progress(args))
            if _progress(args):
                print(file=sys.stderr)
            out.append({"folder": str(folder.path), "id": folder.id, **_summary(changes)})
            lines.append(f"added {folder.path}: {_describe(changes)}")
        pending = lib.counts()["pending"]
        if pending:
            lines.append(f"{pending} photos waiting to be indexed: run `clipdesk-cli index`.")
    emit(args, out, "\n".join(lines))
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with Library(args.library) as lib:
        out = []
        for path in args.paths:
            removed = Scanner(lib).remove_folder(path)
            out.append({"folder": path, "photos_removed": removed})
    emit(
        args,
        out,
        "\n".join(
            f"removed {o['folder']} ({o['photos_removed']} photos forgotten; files untouched)"
            for o in out
        ),
    )
    return 0


def _folder_row(folder: Folder, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "id": folder.id,
        "path": str(folder.path),
        "status": folder.status.value,
        "error": folder.error,
        "last_scan": folder.last_scan,
        "photos": sum(counts.values()),
        "by_status": counts,
    }


def run_list(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with Library(args.library) as lib:
        counts = lib.folder_photo_counts()
        rows = [_folder_row(f, counts.get(f.id, {})) for f in lib.folders()]
    lines = []
    for r in rows:
        detail = ", ".join(f"{n} {s}" for s, n in sorted(r["by_status"].items())) or "empty"
        flag = "" if r["status"] == "ok" else f" [{r['status'].upper()}]"
        lines.append(f"{r['path']}{flag}: {r['photos']} photos ({detail})")
        if r["error"]:
            lines.append(f"  {r['error']}")
    emit(
        args,
        rows,
        "\n".join(lines) or "no folders yet: add one with `clipdesk-cli folders add PATH`",
    )
    return 0


def run_scan(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with Library(args.library) as lib:
        changes = Scanner(lib).reconcile(progress=_progress(args))
        if _progress(args):
            print(file=sys.stderr)
    emit(args, _summary(changes), _describe(changes))
    return 0
