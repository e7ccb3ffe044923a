"""The tag half of the UI session: categories, live previews, review, decisions, XMP, details."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from clipdesk.common.errors import ClipDeskError
from clipdesk.common.progress import CancelToken
from clipdesk.library.records import PhotoStatus
from clipdesk.tags.categories import Category
from clipdesk.tags.store.tag_store import TagState
from clipdesk.ui.photo_model import PhotoItem
from clipdesk.ui.rows import PhotoDetails, ReviewItem, TagRow, photo_item

if TYPE_CHECKING:
    from clipdesk.ui.backend import Backend

DECISIONS = {"confirmed": TagState.CONFIRMED, "rejected": TagState.REJECTED}


class TagCalls:
    # --- categories -------------------------------------------------------------------------
    def categories(self: Backend) -> list[Category]:
        return self.tags.categories()

    def tag_choices(self: Backend) -> list[tuple[str, str]]:
        return [(c.name, lab.name) for c in self.tags.categories() for lab in c.labels]

    def save_category(self: Backend, cat: Category, replacing: str | None = None) -> None:
        """Store the category and re-tag the library with it (user decisions stay)."""
        self.tags.save_category(cat, old_name=replacing)
        if cat.auto:
            self.tagger.recompute([cat.name])

    def remove_category(self: Backend, name: str) -> None:
        self.tags.remove_category(name)

    def import_categories(self: Backend, path: str) -> int:
        from clipdesk.tags.category_file import read_category_file

        cats = read_category_file(path)  # a malformed file raises here and changes nothing
        self.tags.import_categories(cats)
        self.tagger.recompute([c.name for c in cats if c.auto])
        return len(cats)

    def export_categories(self: Backend, path: str) -> None:
        from clipdesk.tags.category_file import write_category_file

        write_category_file(path, self.tags.categories())

    # --- preview and review -----------------------------------------------------------------
    def preview_label(
        self: Backend, cat: Category, label: str, count: int, token: CancelToken
    ) -> list[PhotoItem]:
        """Top photos for ``label`` under the draft ``cat`` (not saved), scored over the search
        index in memory: the preview follows every keystroke, and reading a million vectors
        from the library file each time would take seconds and gigabytes."""
        from clipdesk.tags.zero_shot import build_classifier

        clf = build_classifier(self.model, cat)
        token.raise_if_cancelled()
        ids, sims = self.services.searcher().similarities(clf.weights)
        if not len(ids):
            return []
        token.raise_if_cancelled()
        column = clf.scores_from_similarities(sims)[:, cat.label_names.index(cat.label(label).name)]
        top = np.argsort(-column, kind="stable")[:count]
        photos = {p.id: p for p in self.library.photos(ids=ids[top].tolist())}
        return [
            photo_item(photos[int(ids[i])], float(column[i])) for i in top if int(ids[i]) in photos
        ]

    def review_queue(self: Backend, category: str | None, limit: int) -> list[ReviewItem]:
        tags = self.tags.review_list(category=category, limit=limit)
        photos = {p.id: p for p in self.library.photos(ids=[t.photo_id for t in tags])}
        return [
            ReviewItem(
                photo_item(photos[t.photo_id]),
                t.category,
                t.label,
                float(t.score or 0),
                float(t.threshold),
            )
            for t in tags
            if t.photo_id in photos and photos[t.photo_id].status == PhotoStatus.OK
        ]

    def decide_tag(self: Backend, photo_id: int, category: str, label: str, decision: str) -> None:
        if decision not in DECISIONS:
            raise ValueError(f"unknown decision {decision!r}")
        self.tags.set_decision([photo_id], category, label, DECISIONS[decision])

    # --- one photo --------------------------------------------------------------------------
    def photo_details(self: Backend, photo_id: int) -> PhotoDetails:
        photo = self.library.photo(photo_id)
        if photo is None:
            raise ClipDeskError(
                "This photo is no longer in the library.",
                "Its folder may have been removed; search again.",
            )
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
            for t in self.tags.tags_of(photo_id)
            if t.state is not TagState.CANDIDATE
        )
        return PhotoDetails(
            str(photo.path),
            photo.size,
            photo.width,
            photo.height,
            photo.taken_at,
            camera,
            str(photo.status),
            photo.error,
            tags,
        )

    # --- XMP --------------------------------------------------------------------------------
    def write_xmp(self: Backend, confirmed_only: bool, naming: str, token: CancelToken) -> int:
        tagger = self.tagger
        style = "basename" if naming == "stem" else "fullname"
        report = tagger.write_xmp(None, naming=style, confirmed_only=confirmed_only, cancel=token)
        if report.failed:
            first = "; ".join(f"{p}: {r}" for p, r in report.failed[:3])
            raise ClipDeskError(
                f"Wrote {len(report.written)} sidecars, but {len(report.failed)} could not be "
                f"written ({first}).",
                "Check that the photos' folders are writable.",
            )
        return len(report.written) + report.unchanged
