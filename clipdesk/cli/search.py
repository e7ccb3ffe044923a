"""``clipdesk-cli search``: find photos by phrase, by image, or like a photo.

    search "kids on a beach at sunset"
    search "beach +0.5 sunset -people" --folder ~/Pictures/2023 --from 2023-06-01
    search --image query.jpg [--image-weight 0.5] ["optional text"]
    search --like PHOTO                  (a photo id or a path in the library)

The query syntax (weights, negatives, ``photo:ID``) is described in :mod:`clipdesk.search.query`.
Prints one ``score  path`` line per photo, best first; ``--json`` prints a list of objects.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from clipdesk.common.errors import ClipDeskError
from clipdesk.search.query import Query


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("search", help="find photos by text, image, or similarity")
    p.add_argument(
        "text", nargs="?", default="", help='the query, e.g. "beach +0.5 sunset -people" (quote it)'
    )
    p.add_argument("--image", metavar="PATH", help="an image to search with")
    p.add_argument(
        "--image-weight",
        type=float,
        default=1.0,
        metavar="W",
        help="weight of --image when combined with text (default 1)",
    )
    p.add_argument("--like", metavar="PHOTO", help="photos like this one (id or path)")
    p.add_argument(
        "-k", "--limit", type=int, default=20, metavar="N", help="how many results (default 20)"
    )
    p.add_argument(
        "--min-score",
        type=float,
        default=None,
        metavar="S",
        help="drop results scoring below S (cosine similarity)",
    )
    p.add_argument(
        "--folder",
        action="append",
        default=None,
        metavar="PATH",
        help="only photos in this watched folder (repeatable)",
    )
    p.add_argument(
        "--from", dest="date_from", metavar="DATE", help="taken on or after (YYYY-MM-DD)"
    )
    p.add_argument("--to", dest="date_to", metavar="DATE", help="taken on or before (YYYY-MM-DD)")
    p.add_argument(
        "--status",
        action="append",
        default=None,
        choices=["ok", "missing", "offline", "error"],
        help="photo status to include (default ok; repeatable)",
    )
    try:
        from clipdesk.cli.tags import add_tag_filter_arguments

        add_tag_filter_arguments(p)
    except ImportError:  # pragma: no cover - the tags command ships with ClipDesk
        pass
    p.set_defaults(func=cmd_search)


def _like_id(app: Any, ref: str) -> int:
    if ref.isdigit():
        return int(ref)
    photo = app.library.photo_by_path(Path(ref).expanduser())
    if photo is None:
        raise ClipDeskError(
            f"{ref} is not a photo of this library.",
            "Give a photo id, or the path of an indexed photo.",
        )
    return photo.id


def _filters(app: Any, args: argparse.Namespace) -> Any:
    from clipdesk.search.searcher import SearchFilters

    for value, flag in ((args.date_from, "--from"), (args.date_to, "--to")):
        if value:
            import datetime as dt

            try:
                dt.date.fromisoformat(value) if "T" not in value else dt.datetime.fromisoformat(
                    value
                )
            except ValueError:
                raise ClipDeskError(
                    f"{flag} {value!r} is not a date.", "Use YYYY-MM-DD, e.g. 2023-06-30."
                ) from None
    folders = None
    if args.folder:
        folders = []
        for f in args.folder:
            found = app.library.folder(Path(f).expanduser())
            if found is None:
                raise ClipDeskError(
                    f"{f} is not a watched folder.", "See `clipdesk-cli folders list`."
                )
            folders.append(found.id)
    allowed = None
    if getattr(args, "tags", None):
        from clipdesk.cli.tags import allowed_ids_from_args

        allowed = allowed_ids_from_args(app.library, args)
    return SearchFilters(
        folders=folders,
        date_from=args.date_from,
        date_to=args.date_to,
        statuses=tuple(args.status or ["ok"]),
        allowed_ids=allowed,
        min_score=args.min_score,
    )


def cmd_search(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit
    from clipdesk.cli.index import open_services

    if not (args.text.strip() or args.image or args.like):
        raise ClipDeskError(
            "Nothing to search for.",
            'Give a phrase ("a dog on a beach"), --image PATH or --like PHOTO.',
        )
    if args.limit < 1:
        raise ClipDeskError("--limit must be at least 1.")
    with open_services(args) as app:
        query = Query.parse(args.text)
        if args.image:
            image = Path(args.image).expanduser()
            if not image.is_file():
                raise ClipDeskError(
                    f"The image {args.image} does not exist.", "Check the path of --image."
                )
            query = query.with_image(image, args.image_weight)
        if args.like:
            query = query.with_photo(_like_id(app, args.like))
        results = app.search(query, k=args.limit, filters=_filters(app, args))
        pending = app.pending_count()
        if pending and not args.json:
            print(
                f"note: {pending:,} photo(s) are not indexed yet (run `clipdesk-cli index`).",
                file=sys.stderr,
            )
        data = {
            "query": query.describe(),
            "model": app.search_model().id,
            "results": [r.as_dict() for r in results],
        }
        lines = [f"{r.score:.3f}  {r.photo.path}" for r in results]
        emit(args, data, "\n".join(lines) if lines else "No matching photos.")
    return 0
