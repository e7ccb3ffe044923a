"""``clipdesk-cli search``: find photos by phrase, by image, or like a photo.

    search "kids on a beach at sunset"
    search "beach +0.5 sunset -people" --folder ~/Pictures/2023 --from 2023-06-01
    search --image query.jpg [--image-weight 0.5] ["optional text"]
    search --like PHOTO                  (a photo id or a path in the library)
    search --min-rating 4 --label red    (no query: every photo rated 4+ and labelled red)
    search beach --sort rating           (the highest rated first)

    search astronaut                     (CLIP and the words of photos: astronaut.png first)
    search "text:invoice"                (words only: recognised text, names, captions; no model)
    search "clip:a red sign"             (CLIP only)

The query syntax (weights, negatives, ``photo:ID``, ``text:`` and ``clip:``) is described in
:mod:`clipdesk.search.query`; the filters work as in the app's search page
(:mod:`clipdesk.services.search`), for CLIP's matches and the text index's alike.
Prints one ``score  path`` line per photo, best first; a photo found by its words gets why after
it, ``  (CLIP + text in the photo: …total [invoice] 42…)``, and a photo without a CLIP score
(words only, or not embedded yet) ``-`` for its score. On stderr: the model and the runtimes
compared (the query's, e.g. "ONNX Runtime int8", and those that made the photos' vectors), or
that words alone were searched. ``--json`` prints a list of objects (each with ``matched_by``:
of "clip", "ocr", "name", "meta", "tags", and ``snippet``: the words around the first hit, the
matched ones in ``[brackets]``, or null), ``runtime`` (``{"query": label, "vectors": {label:
n}}``) and ``score_kind``: "cosine" (cosine similarity), or "probability" (a sigmoid model such
as SigLIP, with a query of phrases only: the model's probability that photo and phrase match);
``model``, ``runtime`` and ``score_kind`` are null for a search of words only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from clipdesk.cli import open_services
from clipdesk.cli.options import count, score
from clipdesk.common.errors import ClipDeskError
from clipdesk.services.search import (
    FoundPhoto,
    PhotoSearch,
    photo_id,
    query_of,
    score_kind,
    search_runtime,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("search", help="find photos by text, image, or similarity")
    p.add_argument(
        "text",
        nargs="?",
        default="",
        help='the query, e.g. "beach +0.5 sunset -people", "text:invoice" (words in photos '
        'only), "clip:a red sign" (CLIP only); quote it',
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
        "-k", "--limit", type=count, default=20, metavar="N", help="how many results (default 20)"
    )
    p.add_argument(
        "--min-score",
        type=score,
        default=None,
        metavar="S",
        help="drop CLIP's matches scoring below S (0 to 1): cosine similarity, or with a sigmoid model "
        "(SigLIP) and a text query the probability that photo and text match (photos found "
        "by their words are kept)",
    )
    p.add_argument(
        "--folder",
        action="append",
        default=None,
        metavar="PATH",
        help="only photos in this watched folder, or in this folder inside one with its "
        "subfolders (repeatable)",
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
    p.add_argument(
        "--min-rating",
        type=int,
        choices=range(1, 6),
        default=None,
        metavar="N",
        help="only photos rated at least N stars (1 to 5); with no query, every such photo",
    )
    p.add_argument(
        "--label",
        action="append",
        dest="labels",
        default=[],
        metavar="COLOUR",
        help="only photos with this colour label (red, yellow, green, blue, purple; repeat for "
        "any of several); with no query, every such photo",
    )
    p.add_argument(
        "--sort",
        choices=["relevance", "newest", "oldest", "rating"],
        default="relevance",
        help="order: best match (default; newest first with no query), newest, oldest, or "
        "highest rated first",
    )
    from clipdesk.cli.tag_filters import add_tag_filter_arguments

    add_tag_filter_arguments(p)
    p.set_defaults(func=cmd_search, reads_only=True)  # a search creates no library


def _date(value: str | None, flag: str) -> dt.date | dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
    except ValueError:
        raise ClipDeskError(
            f"{flag} {value!r} is not a date.", "Use YYYY-MM-DD, e.g. 2023-06-30."
        ) from None


def request_of(args: argparse.Namespace) -> PhotoSearch:
    """The search the options ask for (the app builds the same record from its search page)."""
    marked = args.min_rating is not None or bool(args.labels)
    if not (args.text.strip() or args.image or args.like or marked):
        raise ClipDeskError(
            "Nothing to search for.",
            'Give a phrase ("a dog on a beach"), --image PATH, --like PHOTO, --min-rating N '
            "or --label COLOUR.",
        )
    if args.limit < 1:
        raise ClipDeskError("--limit must be at least 1.")
    image = None
    if args.image:
        image = Path(args.image).expanduser()
        if not image.is_file():
            raise ClipDeskError(
                f"The image {args.image} does not exist.", "Check the path of --image."
            )
    return PhotoSearch(
        text=args.text,
        image=image,
        image_weight=args.image_weight,
        like_photo=args.like,
        folders=args.folder,
        tags=list(getattr(args, "tags", None) or []),
        confirmed_tags=bool(getattr(args, "confirmed_tags", False)),
        date_from=_date(args.date_from, "--from"),
        date_to=_date(args.date_to, "--to"),
        statuses=tuple(args.status or ["ok"]),
        min_score=args.min_score,
        min_rating=args.min_rating,
        labels=tuple(args.labels),
        sort=args.sort,
        limit=args.limit,
    )


def cmd_search(args: argparse.Namespace) -> int:
    from clipdesk.cli import emit

    request = request_of(args)
    with open_services(args) as app:
        results = app.find(request)
        model_id, runtime = None, None
        if request.needs_model:
            pending = app.pending_count()
            if pending and not args.json:
                print(
                    f"note: {pending:,} photo(s) are not indexed yet (run `clipdesk-cli index`).",
                    file=sys.stderr,
                )
            runtime = search_runtime(app)
            model_id = app.search_model().id
            if not args.json:
                print(
                    f"model {model_id}: query on {runtime.query_text()}; "
                    f"photos' vectors made with {runtime.vectors_text()}",
                    file=sys.stderr,
                )
        elif not args.json and request.is_search:
            print("words only: searched the text index, no model loaded", file=sys.stderr)
        like = photo_id(app, request.like_photo) if request.like_photo is not None else None
        data = {
            "query": query_of(request, like).describe(),
            "model": model_id,
            "runtime": runtime.as_dict() if runtime is not None else None,
            "score_kind": score_kind(app, request),
            "results": [r.as_dict() for r in results],
        }
        lines = [result_line(r) for r in results]
        emit(args, data, "\n".join(lines) if lines else "No matching photos.")
    return 0


def result_line(found: FoundPhoto) -> str:
    """``score  path``, and why for a photo found by its words (CLIP alone needs no saying)."""
    score = f"{found.score:.3f}" if found.score is not None else f"{'-':>5}"
    line = f"{score}  {found.photo.path}"
    if any(source != "clip" for source in found.matched_by):
        line += f"  ({found.describe_match()})"
    marks = _marks_text(found.photo.rating, found.photo.color_label)
    return f"{line}  [{marks}]" if marks else line


def _marks_text(rating: int | None, label: str | None) -> str:
    """The rating and label for a result line: "4★ Red", "rejected", "" for neither."""
    parts = ["rejected" if rating < 0 else f"{rating}★"] if rating else []
    return " ".join([*parts, *([label] if label else [])])
