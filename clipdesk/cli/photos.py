"""``clipdesk-cli photos``: rate photos and give them colour labels, as the app's keys do.

    photos rate 4 12 ~/Pictures/a.jpg        (0 clears, -1 rejects; photos by id or path)
    photos label red 12 13                   (red, yellow, green, blue, purple, or none)

Both change every photo named in one transaction (:mod:`clipdesk.services.ratings`); the photos'
XMP sidecars get it with the keywords at the next ``tags write-xmp``. Search by them with
``search --min-rating N``, ``--label COLOUR`` and ``--sort rating``.
"""

from __future__ import annotations

import argparse

from clipdesk.cli import emit, open_services
from clipdesk.services.records import LABELS, MAX_RATING


def _rating(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -2
    if not -1 <= value <= MAX_RATING:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a rating: use 0 (none) to {MAX_RATING} stars, or -1 for rejected"
        )
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("photos", help="rate photos and give them colour labels")
    sub = p.add_subparsers(dest="photos_command", metavar="ACTION")
    sub.required = True
    rate = sub.add_parser("rate", help="give photos a rating (0 clears it, -1 rejects)")
    rate.add_argument(
        "rating",
        type=_rating,
        choices=range(-1, MAX_RATING + 1),
        metavar="N",
        help=f"0 to {MAX_RATING}, or -1",
    )
    rate.add_argument("photos", nargs="+", metavar="PHOTO", help="photo ids or paths")
    rate.set_defaults(func=cmd_rate)
    label = sub.add_parser("label", help="give photos a colour label (none takes it off)")
    label.add_argument(
        "label",
        metavar="COLOUR",
        help=f"{', '.join(name.lower() for name in LABELS)}, or none",
    )
    label.add_argument("photos", nargs="+", metavar="PHOTO", help="photo ids or paths")
    label.set_defaults(func=cmd_label)


def cmd_rate(args: argparse.Namespace) -> int:
    with open_services(args) as app:
        photos = app.tags.photos_by_reference(args.photos)
        n = app.ratings.set_rating([p.id for p in photos], args.rating)
        what = "rejected" if args.rating < 0 else f"rated {args.rating}"
        emit(
            args,
            {"rating": args.rating, "photos": [p.id for p in photos]},
            f"{what}: {n:,} photo{'s' * (n != 1)}",
        )
    return 0


def cmd_label(args: argparse.Namespace) -> int:
    from clipdesk.services.ratings import check_label

    label = check_label(args.label)  # before the library opens: a typo costs nothing
    with open_services(args) as app:
        photos = app.tags.photos_by_reference(args.photos)
        n = app.ratings.set_label([p.id for p in photos], label)
        what = f"labelled {label}" if label else "label taken off"
        emit(
            args,
            {"label": label, "photos": [p.id for p in photos]},
            f"{what}: {n:,} photo{'s' * (n != 1)}",
        )
    return 0
