"""The UI's tag calls (``backend.tags``): :class:`clipdesk.services.tags.TagService` records turned
into the view rows of :mod:`clipdesk.ui.rows`. Blocking: run on the worker pools, never on the
GUI thread. The rules (saving a category retags, how sidecars are named) are the service's."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from clipdesk.common.errors import ClipDeskError
from clipdesk.common.progress import CancelToken
from clipdesk.services.records import Category, PhotoStatus, TagState
from clipdesk.services.search import taken_from_exif, taken_timestamp
from clipdesk.ui.photo_model import PhotoItem
from clipdesk.ui.rows import PhotoDetails, ReviewItem, TagRow, photo_item

if TYPE_CHECKING:
    from clipdesk.services.app import ClipDeskServices

DECISIONS = {"confirmed": TagState.CONFIRMED, "rejected": TagState.REJECTED}


class TagViews:
    def __init__(self, services: ClipDeskServices) -> None:
        self.services = services

    # --- categories -------------------------------------------------------------------------
    def categories(self) -> list[Category]:
        return self.services.tags.categories()

    def tag_choices(self) -> list[tuple[str, str]]:
        return self.services.tags.tag_choices()

    def save_category(
        self, cat: Category, replacing: str | None = None, token: CancelToken | None = None
    ) -> None:
        """Store the category; the service retags the library with it (user decisions stay)."""
        self.services.tags.save_category(cat, replacing, cancel=token)

    def remove_category(self, name: str) -> None:
        self.services.tags.remove_category(name)

    def import_categories(self, path: str, token: CancelToken | None = None) -> int:
        cats, _report = self.services.tags.import_categories(path, cancel=token)
        return len(cats)

    def export_categories(self, path: str) -> None:
        self.services.tags.export_categories(path)

    # --- preview and review -----------------------------------------------------------------
    def preview_label(
        self, cat: Category, label: str, count: int, token: CancelToken
    ) -> list[PhotoItem]:
        """Top photos for ``label`` under the draft ``cat`` (not saved)."""
        found = self.services.tags.preview(cat, label, count, token)
        return [photo_item(r.photo, r.score) for r in found if r.photo is not None]

    def review_queue(self, category: str | None, limit: int) -> list[ReviewItem]:
        return [
            ReviewItem(
                photo_item(f.photo),
                f.tag.category,
                f.tag.label,
                float(f.tag.score or 0),
                float(f.tag.threshold),
            )
            for f in self.services.tags.review(category, limit=limit)
            if f.photo.status == PhotoStatus.OK
        ]

    def decide_tag(self, photo_id: int, category: str, label: str, decision: str) -> None:
        if decision not in DECISIONS:
            raise ValueError(f"unknown decision {decision!r}")
        self.services.tags.decide([photo_id], category, label, DECISIONS[decision])

    def allowed_ids(self, expressions: list[str]) -> np.ndarray | None:
        """Photo ids for the search page's tag filter."""
        return self.services.tags.allowed_ids(expressions)

    # --- one photo --------------------------------------------------------------------------
    def photo_details(self, photo_id: int) -> PhotoDetails:
        found = self.services.photos([photo_id])
        if not found:
            raise ClipDeskError(
                "This photo is no longer in the library.",
                "Its folder may have been removed; search again.",
            )
        photo = found[0]
        camera = " ".join(x for x in (photo.camera_make, photo.camera_model) if x) or None
        tags = tuple(
            TagRow(
                t.category,
                t.label,
                t.score,
                "confirmed"
                if t.state in (TagState.CONFIRMED, TagState.IMPORTED)
                else "rejected"
                if t.state is TagState.REJECTED
                else "suggested",
            )
            for t in self.services.tags.tags_of(photo_id)
            if t.state is not TagState.CANDIDATE
        )
        return PhotoDetails(
            str(photo.path),
            photo.size,
            photo.width,
            photo.height,
            taken_timestamp(photo),
            taken_from_exif(photo),
            camera,
            str(photo.status),
            photo.error,
            tags,
        )

    # --- XMP --------------------------------------------------------------------------------
    def xmp_rules(self) -> tuple[str, bool]:
        """(sidecar naming, whether suggestions are written): the shared settings."""
        config = self.services.settings.current()
        return config.xmp_naming, config.xmp_write_suggestions

    def write_xmp(
        self, token: CancelToken, naming: str | None = None, suggestions: bool | None = None
    ) -> str:
        """Write every tagged photo's sidecar (naming and suggestions: as given, else as the
        settings say); returns what was done, as a sentence."""
        report = self.services.tags.write_xmp(
            naming=naming, include_suggestions=suggestions, cancel=token
        )
        summary = report.summary()
        if report.failed:
            first = "; ".join(f"{p}: {r}" for p, r in report.failed[:3])
            raise ClipDeskError(
                f"{summary[:1].upper()}{summary[1:]} ({first}).",
                "Check that the photos' folders are writable.",
            )
        return f"{summary[:1].upper()}{summary[1:]}."
