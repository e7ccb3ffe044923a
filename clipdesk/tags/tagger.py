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
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from clipdesk.common.errors import ClipDeskError
from clipdesk.common.progress import CancelToken, ProgressCallback, RateMeter
from clipdesk.library.marks import LABEL_PENDING, RATING_PENDING, PendingMarks
from clipdesk.library.records import Photo, PhotoStatus
from clipdesk.scanning.hashing import content_hash
from clipdesk.tags.categories import HIERARCHY_SEP, KEYWORDS_CATEGORY, Category, CategoryError
from clipdesk.tags.heads.store import with_applied_head
from clipdesk.tags.store.keyword_sources import KeywordSources, SeenKeywords
from clipdesk.tags.store.tag_store import (
    CONFIRMED_STATES,
    TAGGED_STATES,
    TagState,
    TagStore,
    chunks,
)
from clipdesk.tags.xmp import embedded as embedded_xmp
from clipdesk.tags.xmp import sidecar as xmp
from clipdesk.tags.xmp.marks import MarkEdit, XmpMarks, edit_marks, read_marks
from clipdesk.tags.xmp.packet import XMP_TOOLKIT, parse
from clipdesk.tags.xmp.provenance import OTHER, Item, default_origin, plan_edit
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
    # basename naming asked for, full name written: another file owns that basename sidecar
    full_names: list[Path] = field(default_factory=list)
    # JPEG/PNG/TIFF photos whose own XMP was written too (the setting xmp_embedded)
    embedded: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        """What the run did, in one sentence for either face."""
        text = (
            f"wrote {_count(len(self.written), 'sidecar')}, {self.unchanged:,} already up to date"
        )
        if self.embedded:
            text += f", wrote into {_count(len(self.embedded), 'photo')} too"
        if self.failed:
            text += f", {len(self.failed):,} failed"
        if self.absorbed:
            merged = _count(len(self.absorbed), "sidecar")
            text += f"; {merged} of the other name merged in and removed"
        if self.full_names:
            n = len(self.full_names)
            verb, whose = (
                ("shares", "its sidecar is") if n == 1 else ("share", "their sidecars are")
            )
            more = ", ..." if n > 1 else ""
            text += (
                f"; {_count(n, 'photo')} {verb} a name with another file, so {whose} named in "
                f"full ({self.full_names[0].name}{more})"
            )
        return text


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


@dataclass
class XmpImportReport:
    added: int = 0  # tags added
    photos: int = 0  # photos read
    failed: list[tuple[int, str, str]] = field(default_factory=list)  # (id, path, reason)
    not_imported: Counter[str] = field(default_factory=Counter)  # {reason: keywords}
    captioned: int = 0  # photos with an XMP title or description (stored for text search)

    @property
    def skipped(self) -> int:
        """Keywords read but not imported (a full category, a name that is no label)."""
        return sum(self.not_imported.values())


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
                "choose a model in Settings or install the demo model",
                cli_hint="choose a model (--model NAME_OR_PATH) or install the demo model",
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
        tags were added (:meth:`import_xmp_report` says which photos could not be read)."""
        return self.import_xmp_report(photo_ids).added

    def import_xmp_report(self, photo_ids: Iterable[int]) -> XmpImportReport:
        """:meth:`import_xmp` with what went wrong. A keyword matching one of our labels
        ("Scene|beach") tags that label; any other lands in the manual "Keywords" category.
        User decisions are kept. Who wrote each keyword is recorded
        (:mod:`clipdesk.tags.xmp.provenance`). A photo whose XMP cannot be read (damaged, or
        past a limit) is reported with the reason, and the run goes on with the next."""
        report = XmpImportReport()
        names = xmp.SidecarNames()
        managed = self._managed_keywords()
        ids = sorted({int(i) for i in photo_ids})
        for part in chunks(ids, 500):
            found: dict[int, list[str]] = {}
            seen: list[SeenKeywords] = []
            for photo in self.lib.photos(ids=list(part)):
                report.photos += 1
                sources, problems = xmp.read_photo_sources(photo.path, names)
                if problems:
                    report.failed.append((photo.id, str(photo.path), "; ".join(problems)))
                merged = xmp.XmpKeywords()
                for src in sources:
                    merged = merged.merge(src.keywords)
                found[photo.id] = merged.paths()
                seen.append((photo.id, _origins_seen(sources, managed), not problems))
            rows = self._keyword_rows(found, report)
            with self.lib.transaction():
                report.added += self.store.import_tags(rows)
                KeywordSources(self.lib).record_read(seen)
        if report.not_imported:
            reasons = "; ".join(f"{n} {why}" for why, n in report.not_imported.most_common(3))
            log.warning("%d keywords were not imported (%s)", report.skipped, reasons)
        if report.failed:
            first = report.failed[0]
            log.warning(
                "XMP of %d photos could not be read (first: %s)", len(report.failed), first[2]
            )
        return report

    def _keyword_rows(
        self, found: dict[int, list[str]], report: XmpImportReport
    ) -> list[tuple[int, int]]:
        """(photo id, label id) for each photo's keyword paths; labels of manual categories
        are created as needed, one transaction per category."""
        cats = {c.name.casefold(): c for c in self.store.categories()}
        wanted: dict[str, dict[str, list[int]]] = {}  # category -> label -> photo ids
        for photo_id, paths in found.items():
            for path in paths:
                cat_name, label = self._label_for_keyword(path, cats)
                wanted.setdefault(cat_name, {}).setdefault(label, []).append(photo_id)
        rows: list[tuple[int, int]] = []
        for cat_name, labels in wanted.items():
            ids, refused = self.store.ensure_labels(cat_name, list(labels))
            for label, photos in labels.items():
                if label in ids:
                    rows += [(pid, ids[label]) for pid in photos]
                else:
                    report.not_imported[refused.get(label, "not a label")] += len(photos)
        return rows

    def _managed_keywords(self) -> set[str]:
        """ClipDesk's own category keywords ("Scene|beach"), casefolded."""
        return {
            f"{c.name}{HIERARCHY_SEP}{lab.name}".casefold()
            for c in self.store.categories()
            if c.auto
            for lab in c.labels
        }

    def write_xmp(
        self,
        photo_ids: Iterable[int] | None = None,
        naming: xmp.SidecarNaming | str = xmp.SidecarNaming.FULLNAME,
        confirmed_only: bool = True,
        cancel: CancelToken | None = None,
        embedded: bool = False,
    ) -> XmpReport:
        """Write tags into each photo's sidecar (every tagged photo when ``photo_ids`` is None),
        and with ``embedded`` into a JPEG, PNG or TIFF photo's own XMP too
        (:meth:`_write_embedded`).

        The sidecar gets the photo's confirmed and imported tags, and the model's suggestions
        too only when asked (``confirmed_only=False``): a suggestion is not the user's word,
        and another tool reading the sidecar cannot tell them apart; keywords ClipDesk wrote that the photo no longer has are taken out;
        keywords another tool wrote are never changed (:mod:`clipdesk.tags.xmp.provenance`).

        One sidecar per photo, and never one for two photos: with basename naming, a photo
        whose ``IMG_1.xmp`` another file owns (``IMG_1.jpg`` beside ``IMG_1.png``, see
        :mod:`clipdesk.tags.xmp.names`) gets its full name, ``IMG_1.png.xmp``, and the report
        says so. A sidecar ClipDesk created under the other name is merged into this one and
        removed, or simply renamed when this one does not exist yet. A photo that fails (damaged
        sidecar, past a limit, unwritable folder) is reported and the run goes on.
        """
        keep = [str(s) for s in (CONFIRMED_STATES if confirmed_only else TAGGED_STATES)]
        if photo_ids is None:  # and the photos rated or labelled since their XMP was written
            photo_ids = {*self.store.tagged_photo_ids(), *self.lib.pending_marks()}
        managed = self._managed_keywords()
        sources = KeywordSources(self.lib)
        report = XmpReport()
        names = xmp.SidecarNames()
        ids = sorted({int(i) for i in photo_ids})
        for part in chunks(ids, 200):
            if cancel is not None:
                cancel.raise_if_cancelled()
            owed = self.lib.pending_marks(list(part))  # ratings and labels set in ClipDesk
            marked: list[PendingMarks] = []
            for photo in self.lib.photos(ids=list(part)):
                if photo.status in (PhotoStatus.MISSING, PhotoStatus.OFFLINE):
                    report.failed.append((str(photo.path), f"photo is {photo.status}"))
                    continue
                wanted = [t.keyword for t in self.store.tags_of(photo.id) if t.state in keep]
                try:
                    target = names.target(photo.path, naming)
                    absorb = xmp.sidecars_to_absorb(photo.path, target, names)
                    draft = xmp.draft_sidecar(photo.path, target, absorb)
                    recorded = sources.origins(photo.id)
                    present = {
                        i: recorded.get(i) or default_origin(i, draft.by_clipdesk, managed)
                        for i in draft.keywords.items()
                    }
                    elsewhere = [i for i, o in recorded.items() if o == OTHER and i not in present]
                    add, remove = plan_edit(wanted, present, present.__getitem__, elsewhere)
                    marks = mark_edit(owed.get(photo.id))
                    path, changed = xmp.commit_sidecar(draft, add, remove, marks)
                except xmp.XmpError as exc:
                    report.failed.append((str(photo.path), exc.message))
                    continue
                if photo.id in owed:
                    marked.append(owed[photo.id])
                if changed:
                    sources.record_written(photo.id, present, add, remove)
                    report.written.append(path)
                else:
                    report.unchanged += 1
                if embedded and embedded_xmp.embeddable(photo.path):
                    self._write_embedded(photo, wanted, recorded, managed, report, marks)
                if xmp.SidecarNames.fell_back(photo.path, naming, target):
                    report.full_names.append(path)
                report.absorbed += [p for p in draft.taken if changed and not p.exists()]
            if marked:
                self.lib.marks_written(marked)
        return report

    def _write_embedded(
        self,
        photo: Photo,
        wanted: Sequence[str],
        recorded: dict[Item, str],
        managed: set[str],
        report: XmpReport,
        marks: MarkEdit | None = None,
    ) -> None:
        """Write the photo's tags and rating and label into its own XMP by the rules of its
        sidecar (:func:`_embedded_plan`, ``marks`` as owed to the sidecar, see
        :func:`_embedded_marks`), through the same packet edits, so what the sidecar gets the
        photo gets. ``recorded``: the origins as they were before this run wrote the sidecar.
        A photo refused (damaged, a packet too large for its format, pixels that would not
        decode the same) is reported and keeps its file as it was."""
        label = f"{photo.path} (embedded XMP)"
        try:
            draft = embedded_xmp.draft_embedded(photo.path)
            present, add, remove = _embedded_plan(draft.packet, wanted, recorded, managed)
            marks = _embedded_marks(photo, draft.packet, marks)
            if draft.packet is None and not add and not (marks and marks.adds_something()):
                return  # no packet is created just to hold nothing
            new = xmp.edit_keywords(draft.packet, add, remove, label)
            if marks is not None:
                new = edit_marks(new, marks, label)
            changed = embedded_xmp.commit_embedded(draft, new)
        except xmp.XmpError as exc:
            report.failed.append((str(photo.path), exc.message))
            return
        if changed:
            KeywordSources(self.lib).record_written(photo.id, present, add, remove)
            report.embedded.append(photo.path)
            try:  # pixels were checked identical: keep the vectors, tell the scan so
                stamp = content_hash(photo.path)
            except OSError as exc:  # gone or locked since: the next scan looks at it as usual
                log.info("%s: not restamped after its embedded XMP: %s", photo.path, exc)
            else:
                self.lib.restamp(photo.id, stamp.size, stamp.mtime_ns, stamp.digest)


def _embedded_marks(photo: Photo, data: bytes | None, owed: MarkEdit | None) -> MarkEdit | None:
    """The rating and label a photo's embedded packet gets: what its sidecar is owed, and the
    photo's own where the packet says nothing yet (a photo rated before writing into files
    was turned on); a value another tool wrote there is never overwritten unasked."""
    has = read_marks(data, "embedded XMP") if data else XmpMarks()
    edit = owed or MarkEdit()
    if not edit.write_rating and has.rating is None and photo.rating:
        edit = replace(edit, rating=photo.rating, write_rating=True)
    if not edit.write_label and has.label is None and photo.color_label:
        edit = replace(edit, label=photo.color_label, write_label=True)
    return edit if (edit.write_rating or edit.write_label) else None


def _embedded_plan(
    data: bytes | None, wanted: Sequence[str], recorded: dict[Item, str], managed: set[str]
) -> tuple[dict[Item, str], list[Item], set[Item]]:
    """(the packet's items with their origins, items to add, items to remove) for a photo's
    embedded packet, by the rules its sidecar follows (:mod:`clipdesk.tags.xmp.provenance`):
    another tool's keywords there are never removed, ClipDesk's own are kept in step."""
    items = xmp.parse_keywords(data, "embedded XMP").items() if data else []
    by_us = bool(data) and parse(data or b"", "embedded XMP").toolkit == XMP_TOOLKIT
    ours = frozenset(items) if by_us else frozenset()
    present = {i: recorded.get(i) or default_origin(i, ours, managed) for i in items}
    elsewhere = [i for i, o in recorded.items() if o == OTHER and i not in present]
    add, remove = plan_edit(wanted, present, present.__getitem__, elsewhere)
    return present, add, remove


def mark_edit(owed: PendingMarks | None) -> MarkEdit | None:
    """What a photo's XMP is owed of its rating and label (None: nothing): only the fields the
    user set in ClipDesk since they were last read or written, so a value another tool wrote
    meanwhile is never overwritten with one ClipDesk merely read earlier."""
    if owed is None or not owed.pending:
        return None
    return MarkEdit(
        rating=owed.rating or 0,
        label=owed.label,
        write_rating=bool(owed.pending & RATING_PENDING),
        write_label=bool(owed.pending & LABEL_PENDING),
    )


def _origins_seen(sources: Sequence[xmp.KeywordSource], managed: set[str]) -> dict[Item, str]:
    """The origin each keyword found in a photo's packets gets if it has none recorded yet."""
    ours: set[Item] = set()
    theirs: set[Item] = set()
    for src in sources:
        (ours if src.by_clipdesk else theirs).update(src.keywords.items())
    by_clipdesk = ours - theirs
    return {i: default_origin(i, by_clipdesk, managed) for i in ours | theirs}
