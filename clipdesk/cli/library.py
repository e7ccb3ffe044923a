"""``clipdesk-cli library backup|export-decisions|import-decisions``: the library as a file.

``backup FILE`` copies the library with SQLite's online backup: safe while the app or
``watch`` runs, one consistent snapshot, written to a temporary file and renamed into place.
``export-decisions FILE`` writes your confirmed and rejected tags (with each photo's path and
content hash, and the categories they belong to) to a portable JSON file; ``import-decisions
FILE`` reads one into this library, matching photos by content hash first, then by path.
"""

from __future__ import annotations

import argparse

from clipdesk.cli import open_services


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "library",
        help="back up the library; export or import your tag decisions",
        description=__doc__.splitlines()[0],
    )
    sub = parser.add_subparsers(dest="library_command", metavar="ACTION")
    sub.required = True
    backup = sub.add_parser(
        "backup", help="copy the library to FILE (safe while the app is running)"
    )
    backup.add_argument("file", metavar="FILE")
    backup.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    backup.set_defaults(func=run_backup)
    export = sub.add_parser(
        "export-decisions", help="write your confirmed and rejected tags to a JSON file"
    )
    export.add_argument("file", metavar="FILE")
    export.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    export.set_defaults(func=run_export)
    imp = sub.add_parser(
        "import-decisions", help="read tag decisions from a file written by export-decisions"
    )
    imp.add_argument("file", metavar="FILE")
    imp.add_argument(
        "--replace",
        action="store_true",
        help="let the file's decisions replace different ones this library already has "
        "(default: this library's own decisions are kept)",
    )
    imp.set_defaults(func=run_import)


def run_backup(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        done = app.library_file.backup(args.file, overwrite=args.overwrite)
        source = str(app.library.path)
    emit(
        args,
        {
            "library": source,
            "backup": str(done.path),
            "bytes": done.size,
            "photos": done.photos,
            "seconds": round(done.seconds, 3),
        },
        f"backed up {source} to {done.path} ({done.size / 1e6:.1f} MB, {done.photos:,} photos, "
        f"checked in {done.seconds:.1f} s)",
    )
    return 0


def run_export(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        done = app.library_file.export_decisions(args.file, overwrite=args.overwrite)
    emit(
        args,
        {
            "file": str(done.path),
            "decisions": done.decisions,
            "photos": done.photos,
            "categories": done.categories,
            "bytes": done.size,
        },
        f"wrote {done.decisions:,} decisions on {done.photos:,} photos "
        f"({done.categories} categories) to {done.path}",
    )
    return 0


def run_import(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    with open_services(args) as app:
        done = app.library_file.import_decisions(args.file, replace=args.replace)
    lines = [
        f"{done.decisions:,} decisions in the file: {done.applied:,} applied, "
        f"{done.unchanged:,} already here, {done.kept:,} kept as this library had them, "
        f"{done.unmatched:,} for photos not in this library, {done.unknown_labels:,} for labels "
        "it does not have"
    ]
    if done.categories_added:
        lines.append(f"categories added: {', '.join(done.categories_added)}")
    if done.unknown_examples:
        lines.append(
            f"labels not in this library: {', '.join(done.unknown_examples)} "
            "(add them to the category, then import again)"
        )
    if done.kept:
        lines.append("to let the file's decisions win, import again with --replace")
    emit(
        args,
        {
            "decisions": done.decisions,
            "applied": done.applied,
            "unchanged": done.unchanged,
            "kept": done.kept,
            "unmatched": done.unmatched,
            "unknown_labels": done.unknown_labels,
            "categories_added": done.categories_added,
        },
        "\n".join(lines),
    )
    return 0
