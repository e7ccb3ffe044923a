"""Tagging over the library: recompute, tag new photos as they are indexed, XMP in and out.

:class:`clipdesk.services.tags.TagService` drives a :class:`Tagger` for both faces. Recomputing a
category is one matrix product of the stored image vectors with the category's label matrix
(:mod:`clipdesk.tags.zero_shot`); label matrices are cached per (model, category definition), so
tagging freshly indexed photos costs one small product per category, not a pass of the text
encoder.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from clipdesk.common.errors import ClipDeskError
from clipdesk.common.progress import CancelToken, ProgressCallback, RateMeter
from clipdesk.library.records import PhotoStatus
from clipdesk.tags.categories import HIERARCHY_SEP, KEYWORDS_CATEGORY, Category, CategoryError
from clipdesk.tags.heads.store import with_applied_head
from clipdesk.tags.store.tag_store import (
    CONFIRMED_STATES,
    TAGGED_STATES,
    TagState,
    TagStore,
    chunks,
)
from clipdesk.tags.xmp import sidecar as xmp
from clipdesk.tags.zero_shot import (
    CHUNK_ROWS,
    Classifier,
    Decisions,
    Proposal,
    TextModel,
    build_classifier,
    category_fingerprint,
    propose,
)

if TYPE_CHECKING:
    from clipdesk.library.store import Library

log = logging.getLogger(__name__)

SCORED_STATUSES = (PhotoStatus.OK, PhotoStatus.MISSING, PhotoStatus.OFFLINE)


@dataclass
class RecomputeReport:
    photos: int = 0  # photos scored
    categories: list[str] = field(default_factory=list)
    suggested: int = 0  # (photo, label) tags the model now proposes
    candidates: int = 0  # near-misses kept for review


@dataclass
class XmpReport:
    written: list[Path] = field(default_factory=list)
    unchanged: int = 0
    # sidecars of the other naming merged into the written one and removed (one per photo left)
    absorbed: list[Path] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (photo path, reason)


class Tagger:
    """Zero-shot tagging for one library with one model (``model`` may be None for XMP-only use)."""

    def __init__(
        self, library: Library, model: TextModel | None = None, store: TagStore | None = None
    ) -> None:
        self.lib = library
        self.model = model
        self.store = store or TagStore(library)
        self._cache: dict[tuple[str, str], Classifier] = {}
        self._lock = threading.Lock()

    def _need_model(self) -> TextModel:
        if self.model is None:
            raise ClipDeskError(
                "tagging needs a model, and none is loaded",
                "choose a model (--model NAME_OR_PATH) or install the demo model",
            )
        return self.model

    def classifier(self, category: Category) -> Classifier:
        model = self._need_model()
        key = (model.id, category_fingerprint(category))
        with self._lock:
            clf = self._cache.get(key)
        if clf is None or clf.category != category:  # thresholds may differ under one fingerprint
            clf = build_classifier(model, category)
            with self._lock:
                self._cache[key] = clf
        return with_applied_head(self.lib, clf)  # the head the user applied in the Train tab

    # --- recompute -------------------------------------------------------------------------

    def _score_block(
        self, cat: Category, ids: np.ndarray, vectors: np.ndarray, whole_library: bool
    ) -> Proposal:
        clf = self.classifier(cat)
        label_ids = list(self.store.label_ids(cat.name).values())
        user = self.store.decisions(label_ids, None if whole_library else ids.tolist())
        col_of = {lid: i for i, lid in enumerate(label_ids)}
        rows = np.searchsorted(ids, np.array([u[0] for u in user], dtype=np.int64))
        valid = [
            i
            for i, (u, r) in enumerate(zip(user, rows.tolist(), strict=True))
            if r < len(ids) and ids[r] == u[0]
        ]
        all_rows = rows[valid] if valid else np.zeros(0, np.int64)
        all_cols = np.array([col_of[user[i][1]] for i in valid], dtype=np.int64)
        all_conf = np.array([user[i][2] != TagState.REJECTED for i in valid], dtype=bool)
        parts: list[Proposal] = []
        score_parts: list[np.ndarray] = []
        for start in range(0, len(ids), CHUNK_ROWS):
            stop = min(start + CHUNK_ROWS, len(ids))
            sel = (all_rows >= start) & (all_rows < stop)
            dec = Decisions(all_rows[sel] - start, all_cols[sel], all_conf[sel])
            scores, prop = propose(clf, vectors[start:stop], dec)
            parts.append(Proposal(prop.rows + start, prop.cols, prop.scores, prop.assigned))
            score_parts.append(scores)
        scores = np.concatenate(score_parts) if score_parts else np.zeros((0, len(label_ids)))
        proposal = Proposal(
            *(
                np.concatenate([getattr(p, f) for p in parts]) if parts else np.zeros(0)
                for f in ("rows", "cols", "scores", "assigned")
            )
        )
        self.store.write_proposal(label_ids, clf.model_id, ids, proposal, scores, whole_library)
        return proposal

    def recompute(
        self,
        categories: Sequence[str] | None = None,
        photo_ids: Sequence[int] | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        vectors: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> RecomputeReport:
        """Re-tag every photo (or ``photo_ids``) with the model, for every automatic category
        (or ``categories``). User decisions stay; only the model's tags are replaced.

        ``vectors`` = (ids, matrix) of every ok photo for this model, when the caller already
        holds them in memory (the search index does): this skips reading them from SQLite,
        which costs far more than the product itself (bench/tag_bench.py).
        """
        model = self._need_model()
        cats = [c for c in self.store.categories() if c.auto]
        if categories is not None:
            wanted = {self.store.category(n).name for n in categories}
            cats = [c for c in cats if c.name in wanted]
        if vectors is not None and photo_ids is None:
            order = np.argsort(np.asarray(vectors[0], np.int64), kind="stable")
            ids = np.asarray(vectors[0], np.int64)[order]
            mat = np.asarray(vectors[1], np.float32)[order]
            return self._recompute(cats, ids, mat, True, progress, cancel)
        if photo_ids is None:
            # missing and offline photos keep their vectors and come back as they were: keep
            # tagging them rather than dropping their tags while a drive is unplugged
            ids, stored = self.lib.load_vectors(model.id, SCORED_STATUSES)
        else:
            ids, stored = self.lib.vectors_for(model.id, sorted({int(i) for i in photo_ids}))
        return self._recompute(cats, ids, stored, photo_ids is None, progress, cancel)

    def _recompute(
        self,
        cats: list[Category],
        ids: np.ndarray,
        vectors: np.ndarray,
        whole_library: bool,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> RecomputeReport:
        report = RecomputeReport(photos=len(ids))
        meter = RateMeter(len(cats))
        for done, cat in enumerate(cats):
            if cancel is not None:
                cancel.raise_if_cancelled()
            if progress is not None:
                progress(meter.update(done, f"tagging {cat.name}"))
            if len(ids) == 0 and not whole_library:
                continue
            if len(ids) and vectors.shape[1] != self.classifier(cat).weights.shape[1]:
                raise ClipDeskError(
                    "the stored photo vectors do not match the model's size",
                    "re-index the library with this model",
                )
            prop = self._score_block(
                cat, ids, vectors if len(ids) else np.zeros((0, 1)), whole_library
            )
            report.categories.append(cat.name)
            report.suggested += int(prop.assigned.sum())
            report.candidates += int((~prop.assigned.astype(bool)).sum())
        if progress is not None:
            progress(meter.update(len(cats), "tagging done"))
        return report

    def on_embedded(
        self,
        photo_ids: Sequence[int] | np.ndarray,
        vectors: np.ndarray,
        model_id: str | None = None,
    ) -> None:
        """Pipeline hook (``clipdesk.indexing.pipeline.EmbeddedHook``): tag photos the moment their
        vectors are stored. ``model_id``, when given, must be this tagger's model (vectors of
        another model are ignored). Failures are logged, never raised: tagging must not stop
        indexing.
        """
        if self.model is None or len(photo_ids) == 0:
            return
        if model_id is not None and model_id != self.model.id:
            return
        try:
            ids = np.asarray(photo_ids, dtype=np.int64)
            order = np.argsort(ids, kind="stable")
            cats = [c for c in self.store.categories() if c.auto]
            self._recompute(
                cats, ids[order], np.asarray(vectors, np.float32)[order], False, None, None
            )
        except ClipDeskError as exc:
            log.warning("tagging new photos failed: %s", exc)
        except Exception:
            log.exception("tagging new photos failed")

    # --- XMP -------------------------------------------------------------------------------

    def _label_for_keyword(self, path: str, cats: dict[str, Category]) -> tuple[str, str]:
        if HIERARCHY_SEP in path:
            head, rest = (p.strip() for p in path.split(HIERARCHY_SEP, 1))
            cat = cats.get(head.casefold())
            if cat is not None:
                try:
                    return cat.name, cat.label(rest).name
                except CategoryError:
                    if not cat.auto and HIERARCHY_SEP not in rest:
                        return cat.name, rest
        return KEYWORDS_CATEGORY, path

    def import_xmp(self, photo_ids: Iterable[int]) -> int:
        """Read each photo's XMP keywords (sidecars and embedded) as user tags; returns how many
        tags were added. A keyword matching one of our labels ("Scene|beach") tags that label;
        any other lands in the manual "Keywords" category. User decisions are kept."""
        cats = {c.name.casefold(): c for c in self.store.categories()}
        label_ids: dict[tuple[str, str], int] = {}
        added = 0
        ids = sorted({int(i) for i in photo_ids})
        for part in chunks(ids, 500):
            rows = []
            for photo in self.lib.photos(ids=list(part)):
                for path in xmp.read_photo_keywords(photo.path).paths():
                    try:
                        cat_name, label = self._label_for_keyword(path, cats)
                        key = (cat_name.casefold(), label.casefold())
                        if key not in label_ids:
                            label_ids[key] = self.store.ensure_label(cat_name, label)
                            if cat_name.casefold() not in cats:
                                cats = {c.name.casefold(): c for c in self.store.categories()}
                    except CategoryError as exc:
                        log.warning(
                            "%s: keyword %r not imported: %s", photo.path, path, exc.message
                        )
                        continue
                    rows.append((photo.id, label_ids[key]))
            added += self.store.import_tags(rows)
        return added

    def write_xmp(
        self,
        photo_ids: Iterable[int] | None = None,
        naming: xmp.SidecarNaming | str = xmp.SidecarNaming.FULLNAME,
        confirmed_only: bool = False,
        cancel: CancelToken | None = None,
    ) -> XmpReport:
        """Write tags into each photo's sidecar (every tagged photo when ``photo_ids`` is None).

        The sidecar gets the photo's tags (confirmed and imported ones only with
        ``confirmed_only``); keywords of our categories that the photo no longer has are taken
        out; everything else in the sidecar stays.

        One sidecar per photo: one of the other naming style (``photo.xmp`` that an earlier
        ClipDesk app wrote, or ``photo.jpg.xmp`` when ``naming`` is basename) is merged into this
        one and removed, or simply renamed when this one does not exist yet. A basename sidecar
        that several files share (``IMG_1.CR2`` and ``IMG_1.JPG`` both map to ``IMG_1.xmp``)
        belongs to none of them alone: its keywords are merged and the file is left in place.
        """
        keep = [str(s) for s in (CONFIRMED_STATES if confirmed_only else TAGGED_STATES)]
        if photo_ids is None:
            photo_ids = self.store.tagged_photo_ids()
        managed = [
            f"{c.name}{HIERARCHY_SEP}{lab.name}"
            for c in self.store.categories()
            if c.auto
            for lab in c.labels
        ]
        report = XmpReport()
        owners = xmp.BasenameOwners()
        ids = sorted({int(i) for i in photo_ids})
        for part in chunks(ids, 200):
            if cancel is not None:
                cancel.raise_if_cancelled()
            for photo in self.lib.photos(ids=list(part)):
                tags = self.store.tags_of(photo.id)
                add = [t.keyword for t in tags if t.state in keep]
                rejected = [t.keyword for t in tags if t.state is TagState.REJECTED]
                remove = sorted((set(managed) | set(rejected)) - set(add))
                if photo.status in (PhotoStatus.MISSING, PhotoStatus.OFFLINE):
                    report.failed.append((str(photo.path), f"photo is {photo.status}"))
                    continue
                absorb = xmp.sidecars_to_absorb(photo.path, naming, owners)
                try:
                    path, changed = xmp.write_sidecar_keywords(
                        photo.path, add, remove, naming, rejected, absorb=absorb
                    )
                except xmp.XmpError as exc:
                    report.failed.append((str(photo.path), exc.message))
                    continue
                report.absorbed += [p for p, take_over in absorb if take_over and not p.exists()]
                if changed:
                    report.written.append(path)
                else:
                    report.unchanged += 1
        return report


def tag_new_photos(tagger: Tagger, ids: np.ndarray, vectors: np.ndarray, model_id: str) -> None:
    """What indexing does with each batch of newly embedded photos, in the app and the CLI alike:
    keywords other tools wrote (sidecars, embedded XMP) come in as the user's own tags first, so
    the model's suggestions never override them; then the model tags the batch."""
    try:
        tagger.import_xmp(ids)
    except ClipDeskError as exc:  # the library, not a sidecar (those are skipped one by one)
        log.warning("reading XMP keywords of new photos failed: %s", exc)
    tagger.on_embedded(ids, vectors, model_id)
