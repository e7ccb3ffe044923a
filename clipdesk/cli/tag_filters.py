"""The ``--tag`` / ``--confirmed-tags`` options, shared by the commands that filter by tags.

Kept apart from :mod:`clipdesk.cli.tags` so that a one-shot ``search`` does not import the tag
commands (and, through their records, the XMP code) just to declare two options.
"""

from __future__ import annotations

import argparse


def add_tag_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--tag EXPR`` (repeatable) and ``--confirmed-tags`` to a command (search uses it)."""
    parser.add_argument(
        "--tag",
        action="append",
        dest="tags",
        metavar="EXPR",
        default=[],
        help='only photos with this tag: "Scene|beach"; "Scene|beach,Scene|city" '
        'for either; "!Pets|dog" for without; repeat to require all',
    )
    parser.add_argument(
        "--confirmed-tags",
        action="store_true",
        help="--tag matches only tags you confirmed, not the model's suggestions",
    )
