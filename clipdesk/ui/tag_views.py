"""The UI's tag calls (``backend.tags``): :class:`clipdesk.services.tags.TagService` records turned
into the view rows of :mod:`clipdesk.ui.rows`. Blocking: run on the worker pools, never on the
GUI thread. The rules (saving a category retags, how sidecars are named) are the service's."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from clipdesk.common.errors import ClipDeskError
from clipdesk.common.progress import CancelToken
from clipdesk.services.records import (
    Calibration,
    Category,
    CategoryError,
    DecisionStep,
    PhotoStatus,
    TagState,
)
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
        found = [
            (r.photo, r.score)
            for r in self.services.tags.preview(cat, label, count, token)
            if r.photo is not None
        ]
        try:  # a saved label's photos the model only suggested it for are marked as such
            suggested = self.services.tags.suggested_counts(
                [p.id for p, _ in found], (f"{cat.name}|{label}",)
            )
        except CategoryError:  # a draft's new category or label: no photo has it yet
            suggested = {}
        return [photo_item(p, s, suggested=suggested.get(p.id, 0)) for p, s in found]

    def review_queue(
        self, category: str | None, limit: int, label: str | None = None
    ) -> list[ReviewItem]:
        return [
            ReviewItem(
                photo_item(f.photo),
                f.tag.category,
                f.tag.label,
                float(f.tag.score or 0),
                float(f.tag.threshold),
            )
            for f in self.services.tags.review(category, label, limit=limit)
            if f.photo.status == PhotoStatus.OK
        ]

    def decide_batch(
        self, category: str, label: str, decisions: dict[str, list[int]]
    ) -> DecisionStep:
        """One undoable step: {"confirmed" | "rejected": photo ids} on one tag."""
        unknown = set(decisions) - set(DECISIONS)
        if unknown:
            raise ValueError(f"unknown decision {sorted(unknown)!r}")
        return self.services.tags.decide_batch(
            category, label, {DECISIONS[d]: ids for d, ids in decisions.items()}
        )

    def undo(self, step: DecisionStep) -> int:
        return self.services.tags.undo(step)

    def decide_tag(self, photo_id: int, category: str, label: str, decision: str) -> None:
        if decision not in DECISIONS:
            raise ValueError(f"unknown decision {decision!r}")
        self.services.tags.decide([photo_id], category, label, DECISIONS[decision])

    def allowed_ids(self, expressions: list[str]) -> np.ndarray | None:
        """Photo ids for the search page's tag filter."""
        return self.services.tags.allowed_ids(expressions)

    # --- thresholds calibrated on the user's decisions (the Tags page's panel) -----------------
    def calibrate(self, category: str, target: float, token: CancelToken) -> Calibration:
        """Per threshold of the category, the one reaching ``target`` precision on the user's
        decisions, what it gives there and how many photos it would suggest (nothing changes)."""
        return self.services.heads.calibrate(category, target, cancel=token)

    def apply_calibration(self, calibration: Calibration, token: CancelToken) -> None:
        """Set the calibrated thresholds; the category is retagged at once."""
        self.services.heads.apply_calibration(calibration, cancel=token)

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
    def xmp_rules(self) -> tuple[str, bool, bool]:
        """(sidecar naming, whether suggestions are written, whether into JPEG/TIFF/PNG files
        too): the shared settings."""
        config = self.services.settings.current()
        return config.xmp_naming, config.xmp_write_suggestions, config.xmp_embedded

    def write_xmp(
        self,
        token: CancelToken,
        naming: str | None = None,
        suggestions: bool | None = None,
        embedded: bool | None = None,
    ) -> str:
        """Write every tagged photo's sidecar, and its own XMP with ``embedded`` (each as
        given, else as the settings say); returns what was done, as a sentence."""
        report = self.services.tags.write_xmp(
            naming=naming, include_suggestions=suggestions, embedded=embedded, cancel=token
        )
        summary = report.summary()
        if report.failed:
            first = "; ".join(f"{p}: {r}" for p, r in report.failed[:3])
            raise ClipDeskError(
                f"{summary[:1].upper()}{summary[1:]} ({first}).",
                "Check that the photos' folders are writable.",
            )
        return f"{summary[:1].upper()}{summary[1:]}."
