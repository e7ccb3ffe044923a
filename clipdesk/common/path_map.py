"""``--map FROM=TO``: a path recorded on one machine, found under another prefix on this one.

One reading for both ends of a cluster run: the workers of ``cluster embed`` read a recorded
``FROM/x`` at ``TO/x``, and ``vectors import`` files it under ``TO/x`` in the library. The
longest FROM that applies wins, and it applies to whole path components only (``/mnt/a`` maps
``/mnt/a/x``, never ``/mnt/ab``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from clipdesk.common.errors import ClipDeskError

_EXAMPLE = "--map /mnt/archive=/Volumes/archive"


class PathMap:
    """Recorded path prefix → the prefix it has here."""

    def __init__(self, pairs: Sequence[tuple[str, str]] = ()) -> None:
        self.pairs = sorted(
            # TO as the user means it on this machine: ~ expanded, relative to where they are
            ((os.path.normpath(a), os.path.abspath(os.path.expanduser(b))) for a, b in pairs),
            key=lambda p: len(p[0]),
            reverse=True,
        )

    @classmethod
    def parse(cls, specs: Iterable[str]) -> PathMap:
        """``--map`` values as a map; ClipDeskError for one that is not ``FROM=TO`` with an
        absolute FROM."""
        return cls([parse_pair(spec) for spec in specs])

    def __call__(self, path: str) -> str:
        path = os.path.normpath(path)
        for source, target in self.pairs:
            if path == source:
                return target
            if path.startswith(source.rstrip(os.sep) + os.sep):
                return target + path[len(source.rstrip(os.sep)) :]
        return path

    def __bool__(self) -> bool:
        return bool(self.pairs)


def parse_pair(spec: str) -> tuple[str, str]:
    """One ``--map`` value as (FROM, TO)."""
    source, sep, target = spec.partition("=")
    source, target = source.strip(), target.strip()
    if not sep or not source or not target:
        raise ClipDeskError(
            f"--map {spec!r} is not FROM=TO.",
            f"Give the prefix as recorded, then where it is found: {_EXAMPLE}",
        )
    if not os.path.isabs(source):
        raise ClipDeskError(
            f"--map {spec!r}: {source} is not an absolute path.",
            f"FROM is the start of the paths as recorded, e.g. {_EXAMPLE}",
        )
    return source, target
