"""Ratings and colour labels, for both faces (``app.ratings``).

The rules, decided here and nowhere else:

- a rating is -1 (rejected, as Lightroom and darktable say it), 0 (none) or 1-5 stars; a label is
  one of Lightroom's "Red", "Yellow", "Green", "Blue", "Purple", or none;
- setting either changes every photo asked for in one transaction, and owes it to the photos'
  XMP: the next XMP write (``app.tags.write_xmp``, the app's "Write XMP", ``clipdesk-cli
  tags write-xmp``) puts it beside the keywords, merge-safe (:mod:`clipdesk.tags.xmp.marks`);
- :meth:`RatingService.toggle_label` is Lightroom's key: the label the selection already has
  all over is taken off, any other is set;
- the XMP of new photos is read for its rating and label as they are indexed (the ``xmp_marks``
  step, owed by every photo a library held before these existed too), and again by
  ``import_xmp``; a value the user set that the XMP does not say yet wins over the file's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from clipdesk.common.errors import ClipDeskError
from clipdesk.library.records import PhotoStatus
from clipdesk.services.steps import Step
from clipdesk.tags.marks import LABELS, MAX_RATING, REJECTED
from clipdesk.tags.records import chunks
from clipdesk.tags.xmp.marks import parse_label
from clipdesk.tags.xmp.sidecar import SidecarNames, photo_marks, read_photo_sources

if TYPE_CHECKING:
    from clipdesk.services.app import ClipDeskServices

__all__ = ["LABELS", "MAX_RATING", "REJECTED", "MarkReport", "RatingService", "check_label"]

log = logging.getLogger(__name__)

MARKS_STEP = "xmp_marks"


@dataclass
class MarkReport:
    """What :meth:`RatingService.read_marks` did."""

    photos: int = 0  # photos read
    changed: int = 0  # of them, photos whose XMP said something else than the library
    problems: list[str] = field(default_factory=list)  # packets skipped, each with its reason


def check_rating(rating: int) -> int:
    """The rating, or a ClipDeskError saying what a rating may be."""
    if isinstance(rating, bool) or not isinstance(rating, int) or not -1 <= rating <= MAX_RATING:
        raise ClipDeskError(
            f"{rating!r} is not a rating.",
            f"Use 0 (none) to {MAX_RATING} stars, or {REJECTED} for rejected.",
        )
    return rating


def check_label(label: str | None) -> str | None:
    """One of :data:`LABELS` for its name in any case, None for "none"; a ClipDeskError
    naming the choices for anything else."""
    try:
        return parse_label(label)
    except ValueError:
        raise ClipDeskError(
            f"{label!r} is not a colour label.", f"Use one of {', '.join(LABELS)}, or none."
        ) from None


class RatingService:
    """Ratings and colour labels of one library's photos; safe to call from any thread."""

    def __init__(self, app: ClipDeskServices) -> None:
        self.app = app

    def set_rating(self, photo_ids: Iterable[int], rating: int) -> int:
        """Rate photos (-1 rejected, 0 none, 1-5), in one transaction; how many were rated."""
        return self.app.library.set_marks(photo_ids, rating=check_rating(rating))

    def set_label(self, photo_ids: Iterable[int], label: str | None) -> int:
        """Give photos a colour label (None or "none": take it off), in one transaction."""
        return self.app.library.set_marks(photo_ids, label=check_label(label))

    def toggle_label(self, photo_ids: Iterable[int], label: str) -> str | None:
        """Lightroom's label key: ``label`` off the photos when every one of them has it, else
        on every one; returns the label they now have."""
        ids = sorted({int(i) for i in photo_ids})
        wanted = check_label(label)
        have = self.app.library.marks_of(ids)
        if ids and wanted is not None and all(have.get(i, (None, None))[1] == wanted for i in ids):
            wanted = None
        self.set_label(ids, wanted)
        return wanted

    def marks_of(self, photo_ids: Iterable[int]) -> dict[int, tuple[int | None, str | None]]:
        """{photo id: (rating or None, label or None)}."""
        return self.app.library.marks_of(list(photo_ids))

    # --- XMP in ----------------------------------------------------------------------------

    def step(self) -> Step:
        """The rating and label of each newly indexed photo's XMP, read into the library."""
        return Step(MARKS_STEP, "their XMP ratings and labels", self._read_new, needs_vector=False)

    def _read_new(self, photo_ids: list[int]) -> None:
        report = self.read_marks(photo_ids)
        if report.problems:  # done all the same: a damaged packet stays damaged
            log.warning(
                "%d XMP packets could not be read for ratings and labels (first: %s)",
                len(report.problems),
                report.problems[0],
            )

    def read_marks(self, photo_ids: Iterable[int]) -> MarkReport:
        """Store each photo's XMP rating and label (own sidecars first, then embedded), one
        transaction per batch; see :meth:`clipdesk.library.store.Library.read_marks` for what
        stays."""
        lib = self.app.library
        names = SidecarNames()  # one per run: each folder listed once
        report = MarkReport()
        for part in chunks(sorted({int(i) for i in photo_ids})):
            found = []
            for photo in lib.photos(ids=list(part)):
                if photo.status in (PhotoStatus.MISSING, PhotoStatus.OFFLINE):
                    continue  # its files are not there to say anything: what it had stays
                sources, problems = read_photo_sources(photo.path, names)
                got = photo_marks(sources)
                found.append((photo.id, got.rating, got.label, not problems))
                report.problems.extend(problems)
            with lib.transaction():
                report.changed += lib.read_marks(found)
            report.photos += len(found)
        return report
