"""Tags, for both faces: categories, the model's tags and the user's decisions, the review list,
tag filters for search, live label previews and XMP sidecars.

One rule each, decided here and nowhere else:

- saving, adding or importing an automatic category retags the library with it at once (user
  decisions stay); removing one removes its tags;
- tags are computed with the model whose vectors search uses (:meth:`TagService.model`), so a
  re-embedding under way for a newly chosen model never leaves half the library untagged;
- new photos get their XMP keywords, then the model's tags, then their XMP title and
  description (for the text index), as each indexed batch lands: owed steps
  (:meth:`TagService.steps`, registered once by the services facade for every face, run by
  :mod:`clipdesk.services.steps`), so a crash or a lock never loses them; ``import_xmp`` reads
  titles and descriptions again with the keywords;
- XMP sidecars are named and filled as the shared settings say (``xmp_naming``,
  ``xmp_write_suggestions``), and JPEG/TIFF/PNG photos get the same XMP inside the file only
  when ``xmp_embedded`` is on, unless a call asks otherwise for one run;
- the starter categories fit the model: a library first used for tags with the demo model gets
  the demo model's set (colour, shape), with a real model the real-world set; once a real model
  is active, a library that started on the demo's set is offered the real-world one
  (:meth:`TagService.starter_offer`, added by :meth:`TagService.add_starters`), until the user
  adds or declines it;
- a user action on a tag (a Review key, a batch, the grid's tag action) is one transaction that
  returns a :class:`~clipdesk.tags.store.steps.DecisionStep` with each photo's previous state;
  :meth:`TagService.undo` restores exactly that, keeping any later change.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from clipdesk.common.errors import ClipDeskError
from clipdesk.common.progress import CancelToken, ProgressCallback
from clipdesk.library.records import Photo
from clipdesk.library.store import SEARCH_MODEL_KEY
from clipdesk.library.words import XMP_TEXT_STEP
from clipdesk.search.results import SearchResult
from clipdesk.services.steps import Step
from clipdesk.tags.categories import (
    HIERARCHY_SEP,
    KEYWORDS_CATEGORY,
    Category,
    CategoryError,
    check_capacity,
)
from clipdesk.tags.category_file import (
    dump_categories,
    read_category_file,
    starter_categories,
    write_category_file,
)
from clipdesk.tags.records import (
    TAGGED_STATES,
    USER_STATES,
    PhotoTag,
    TaggedPhoto,
    TagState,
    chunks,
)
from clipdesk.tags.store import bulk
from clipdesk.tags.store.bulk import LABEL_ARROW, BulkAction, BulkTagging
from clipdesk.tags.store.counts import LabelCount, label_counts
from clipdesk.tags.store.steps import DecisionStep, decide_step, undo_step
from clipdesk.tags.store.suggested import suggested_counts
from clipdesk.tags.store.tag_store import DEMO_SET, TagStore
from clipdesk.tags.tagger import RecomputeReport, Tagger, XmpImportReport, XmpReport
from clipdesk.tags.xmp.names import SidecarNames
from clipdesk.tags.xmp.sidecar import SidecarNaming
from clipdesk.tags.xmp.text import XmpCaption, read_photo_caption
from clipdesk.tags.zero_shot import TextModel, build_classifier

if TYPE_CHECKING:
    from clipdesk.services.app import ClipDeskServices

__all__ = ["CaptionReport", "StarterOffer", "TagService", "split_tag"]

log = logging.getLogger(__name__)


@dataclass
class CaptionReport:
    """What :meth:`TagService.read_captions` stored."""

    photos: int = 0  # photos read
    captioned: int = 0  # of them, with an XMP title or description
    problems: list[str] = field(default_factory=list)  # packets skipped, each with its reason


@dataclass(frozen=True)
class StarterOffer:
    """The real-world starter categories a library that started on the demo model lacks, to
    offer once a real model is active (both faces: the app asks, the CLI prints a hint)."""

    names: tuple[str, ...]

    def describe(self) -> str:
        return (
            f"the real-world starter categories ({', '.join(self.names)}) fit this model; "
            "the library has the demo model's (colours and shapes)"
        )

    def to_json(self) -> dict[str, object]:
        return {"names": list(self.names)}


class TagService:
    """The tags of one library (``app.tags``); safe to call from any thread."""

    def __init__(self, app: ClipDeskServices) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._store: TagStore | None = None
        self._tagger: Tagger | None = None

    # --- the pieces ------------------------------------------------------------------------

    @property
    def store(self) -> TagStore:
        """The library's tag store (its first use installs the starter categories)."""
        with self._lock:
            if self._store is None or self._store.lib is not self.app.library:
                store = TagStore(self.app.library, install_starters=False)
                if store.starter_set() is None:  # only a first use needs to know the model
                    store.ensure_starter_categories(demo_model=self.app.models.active_is_demo())
                self._store = store
            return self._store

    def model(self) -> TextModel:
        """The model tags are computed with: the one whose vectors search uses (the previous
        model while photos are embedded again for a new one). A library nothing was indexed in
        yet has none: the active model then, without recording it as search's (indexing does
        that, with the model it embeds with)."""
        if self.app.library.get_setting(SEARCH_MODEL_KEY) is None:
            model: TextModel = self.app.model
        else:
            model = self.app.search_model()
        return model

    def tagger(self, model: TextModel | None = None) -> Tagger:
        """A Tagger over the library with ``model`` (default: :meth:`model`); one is kept per
        model, so label matrices are encoded once per category definition."""
        model = model or self.model()
        store = self.store
        with self._lock:
            tagger = self._tagger
            if tagger is None or tagger.model is None or tagger.model.id != model.id:
                tagger = self._tagger = Tagger(store.lib, model, store)
            return tagger

    # --- categories ------------------------------------------------------------------------

    def categories(self) -> list[Category]:
        return self.store.categories()

    def category(self, name: str) -> Category:
        """The category of that name (any case); CategoryError naming the others if none."""
        return self.store.category(name)

    def save_category(
        self,
        cat: Category,
        replacing: str | None = None,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> RecomputeReport | None:
        """Create or redefine a category (renaming it from ``replacing``) and, when the model
        suggests its labels, retag the library with it at once; user decisions on labels kept
        by name stay. Returns the retagging's report (None for a manual category). The category
        is stored even when retagging fails (a model that cannot load): ``apply`` retries."""
        check_capacity(self.store.categories(), [cat], [replacing] if replacing else [])
        self.store.save_category(cat, old_name=replacing)
        return self._retag([cat], progress, cancel)

    def add_category(
        self,
        cat: Category,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> RecomputeReport | None:
        """Like :meth:`save_category`, but a category of that name must not exist yet."""
        check_capacity(self.store.categories(), [cat])
        self.store.add_category(cat)
        return self._retag([cat], progress, cancel)

    def remove_category(self, name: str) -> str:
        """Remove a category with all its tags, the user's decisions too; returns its name."""
        canonical = self.store.category(name).name
        self.store.remove_category(canonical)
        return canonical

    def import_categories(
        self,
        path: str | Path,
        replace: bool = False,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> tuple[list[Category], RecomputeReport | None]:
        """Add every category of a category file, or none (a malformed file or, unless
        ``replace``, a name clash changes nothing); the automatic ones retag the library."""
        cats = read_category_file(path)
        check_capacity(self.store.categories(), cats)
        self.store.import_categories(cats, replace=replace)
        return cats, self._retag(cats, progress, cancel)

    def export_categories(self, path: str | Path, names: Sequence[str] = ()) -> list[Category]:
        """Write the categories (or those named) to a category file; returns what was written."""
        cats = self._named(names)
        write_category_file(path, cats)
        return cats

    def categories_document(self, names: Sequence[str] = ()) -> str:
        """The categories (or those named) as the text of a category file."""
        return dump_categories(self._named(names))

    def starter_offer(self) -> StarterOffer | None:
        """The real-world starter categories to offer: the library started with the demo
        model's set, the active model is a real one, the user has neither added nor declined
        them, and some are missing by name. None otherwise."""
        store = self.store
        if store.starter_set() != DEMO_SET or store.photo_starters_declined():
            return None
        if self.app.models.active_is_demo():
            return None
        have = {c.name.casefold() for c in store.categories()}
        missing = tuple(c.name for c in starter_categories() if c.name.casefold() not in have)
        return StarterOffer(missing) if missing else None

    def add_starters(
        self,
        demo_model: bool | None = None,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> tuple[list[Category], RecomputeReport | None]:
        """Add the starter categories that fit the active model (``demo_model`` None), or the
        demo model's set (True) or the real-world set (False): those the library has no
        category of that name for. They retag the library at once; returns those added."""
        demo = self.app.models.active_is_demo() if demo_model is None else demo_model
        store = self.store
        have = {c.name.casefold() for c in store.categories()}
        check_capacity(
            store.categories(),
            [c for c in starter_categories(demo) if c.name.casefold() not in have],
        )
        added = store.add_starter_categories(demo)
        return added, self._retag(added, progress, cancel)

    def decline_starters(self) -> None:
        """The user does not want the real-world starter categories: not offered again."""
        self.store.decline_photo_starters()

    def _named(self, names: Sequence[str]) -> list[Category]:
        return [self.store.category(n) for n in names] if names else self.store.categories()

    def _retag(
        self,
        cats: Sequence[Category],
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> RecomputeReport | None:
        names = [c.name for c in cats if c.auto]
        if not names:
            return None
        return self.apply(names, progress=progress, cancel=cancel)

    # --- the model's tags ------------------------------------------------------------------

    def apply(
        self,
        categories: Sequence[str] | None = None,
        *,
        with_active_model: bool = False,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> RecomputeReport:
        """Recompute the model's tags of every automatic category (or those named) over the
        whole library; the user's decisions stay. ``with_active_model``: tag with the active
        model rather than search's (the CLI's ``--model`` asks for one by name)."""
        model: TextModel | None = self.app.model if with_active_model else None
        return self.tagger(model).recompute(categories, progress=progress, cancel=cancel)

    def steps(self) -> list[Step]:
        """What every newly embedded photo is owed, in order: the keywords other tools wrote
        (sidecars, embedded XMP) come in as the user's own tags first, so the model's
        suggestions never override them; then the model tags the photo; then its XMP title and
        description go into the library, where the text index finds them."""
        return [
            Step("xmp_import", "their XMP keywords", self._import_new_keywords, needs_vector=False),
            Step("tag", "tags", self._tag_new_photos, prepare=self._prepare_tagging),
            Step(
                XMP_TEXT_STEP,
                "their XMP titles and descriptions",
                self._read_new_captions,
                needs_vector=False,
            ),
        ]

    def _import_new_keywords(self, photo_ids: list[int]) -> None:
        self._xmp_tagger().import_xmp(photo_ids)

    def _read_new_captions(self, photo_ids: list[int]) -> None:
        report = self.read_captions(photo_ids)
        if report.problems:  # the step is done all the same: a damaged packet stays damaged
            log.warning(
                "%d XMP packets could not be read for titles and descriptions (first: %s)",
                len(report.problems),
                report.problems[0],
            )

    def read_captions(self, photo_ids: Iterable[int]) -> CaptionReport:
        """Store each photo's XMP title and description (own sidecars, then embedded), one
        transaction per batch. A field no packet gives any more is cleared, unless one of the
        photo's packets could not be read (it may be the one that gave it: a damaged sidecar
        must not erase what it said); those packets are named in the report."""
        lib = self.app.library
        names = SidecarNames()  # one per run: each folder listed once
        report = CaptionReport()
        for part in chunks(sorted({int(i) for i in photo_ids})):
            found = []
            for photo in lib.photos(ids=list(part)):
                caption, problems = read_photo_caption(photo.path, names)
                found.append((photo.id, caption, bool(problems)))
                report.problems.extend(problems)
            with lib.transaction():
                for pid, caption, damaged in found:
                    if damaged and (before := lib.photo_text(pid)) is not None:
                        caption = caption | XmpCaption(before.title, before.description)
                    lib.set_xmp_text(pid, caption.title, caption.description)
                    report.captioned += bool(caption.title or caption.description)
            report.photos += len(found)
        return report

    def _prepare_tagging(self) -> None:
        # the label matrices are encoded before the step takes the write lock, not under it
        tagger = self.tagger()
        for cat in self.store.categories():
            if cat.auto:
                tagger.classifier(cat)

    def _tag_new_photos(self, photo_ids: list[int]) -> None:
        self.tagger().recompute(photo_ids=photo_ids)

    def preview(
        self, cat: Category, label: str, count: int, cancel: CancelToken | None = None
    ) -> list[SearchResult]:
        """The ``count`` photos scoring highest for ``label`` under the draft ``cat`` (not saved),
        best first. Scored over the search index in memory: a preview follows every keystroke,
        and reading a million vectors from the library file each time would take seconds."""
        clf = build_classifier(self.app.search_model(), cat)
        if cancel is not None:
            cancel.raise_if_cancelled()
        ids, sims = self.app.searcher().similarities(clf.weights)
        if not len(ids):
            return []
        if cancel is not None:
            cancel.raise_if_cancelled()
        column = clf.scores_from_similarities(sims)[:, cat.label_names.index(cat.label(label).name)]
        top = np.argsort(-column, kind="stable")[:count]
        photos = {p.id: p for p in self.app.photos(ids[top].tolist())}
        return [
            SearchResult(int(ids[i]), float(column[i]), photos[int(ids[i])])
            for i in top
            if int(ids[i]) in photos
        ]

    # --- tags of photos and the user's decisions ---------------------------------------------

    def tags_of(
        self, photo_id: int, states: Sequence[TagState | str] | None = None
    ) -> list[PhotoTag]:
        """A photo's tags in category order (``states``: only those; default every row, the
        model's near-misses and the user's rejections included)."""
        return self.store.tags_of(photo_id, None if states is None else [str(s) for s in states])

    def decide(
        self, photo_ids: Iterable[int], category: str, label: str, decision: TagState | str
    ) -> int:
        """Confirm, reject (or mark imported) a tag on photos; returns how many. Confirming in
        a single-choice category rejects the photo's previous choice there."""
        state = TagState(decision)
        if state not in USER_STATES:
            raise ClipDeskError(f"{decision!r} is not a decision", "confirm or reject a tag")
        return self.store.set_decision(photo_ids, category, label, state)

    def decide_many(
        self, photo_ids: Iterable[int], category: str, label: str, decision: TagState | str
    ) -> DecisionStep:
        """:meth:`decide` in one transaction, returning the step :meth:`undo` takes back: each
        photo's previous state on the tag (and, in a single-choice category, on its other
        labels, which confirming changes too)."""
        return self.decide_batch(category, label, {decision: photo_ids})

    def decide_batch(
        self, category: str, label: str, decisions: Mapping[TagState | str, Iterable[int]]
    ) -> DecisionStep:
        """Several decisions on one tag as one step (Review's batch: confirm these, reject
        those), in one transaction; a photo under two decisions is an error."""
        states: dict[TagState, Iterable[int]] = {}
        for decision, ids in decisions.items():
            state = TagState(decision)
            if state not in USER_STATES:
                raise ClipDeskError(f"{decision!r} is not a decision", "confirm or reject a tag")
            states[state] = ids
        try:
            return decide_step(self.store, category, label, states)
        except ValueError as exc:
            raise ClipDeskError(str(exc), "give each photo one decision") from exc

    def undo(self, step: DecisionStep) -> int:
        """Take a step back: every tag it changed gets its previous state again (a suggestion,
        an earlier decision, no tag), in one transaction; a tag changed again since keeps the
        later change. Returns how many tags were put back."""
        return undo_step(self.store, step)

    def clear_decision(self, photo_ids: Iterable[int], category: str, label: str) -> None:
        """Forget the user's decision: the tag is the model's again (now, where it has a score)."""
        self.store.clear_decision(photo_ids, category, label)

    def photos_with_tag(
        self, category: str, label: str, limit: int | None = None
    ) -> list[TaggedPhoto]:
        """Photos carrying a tag, highest score first (user tags without a score last)."""
        return self._with_photos(self.store.photos_with_tag(category, label, TAGGED_STATES, limit))

    def review(
        self, category: str | None = None, label: str | None = None, limit: int = 100
    ) -> list[TaggedPhoto]:
        """The model's tags and near-misses nearest their threshold: the ones worth a look."""
        return self._with_photos(self.store.review_list(category, label, limit))

    def _with_photos(self, tags: list[PhotoTag]) -> list[TaggedPhoto]:
        photos = {p.id: p for p in self.app.photos({t.photo_id for t in tags})}
        return [TaggedPhoto(t, photos[t.photo_id]) for t in tags if t.photo_id in photos]

    def allowed_ids(
        self, expressions: Sequence[str], confirmed_only: bool = False
    ) -> np.ndarray | None:
        """Sorted ids of the photos matching every tag expression (``Scene|beach``,
        ``Scene|beach,Scene|city``, ``Scene|*``, ``!Pets|dog``), or None for no filter."""
        exprs = [e for e in expressions if e.strip()]
        if not exprs:
            return None
        return self.store.allowed_ids(exprs, confirmed_only)

    def photos_by_reference(self, refs: Sequence[str]) -> list[Photo]:
        """The library's photos named by id ("12") or path, in order; a ClipDeskError names
        the first that is not one of them (see :meth:`ClipDeskServices.photo`)."""
        return [self.app.photo(ref) for ref in refs]

    def tag_choices(self) -> list[tuple[str, str]]:
        """Every (category, label), in order: what a tag filter may offer."""
        return [(c.name, lab.name) for c in self.store.categories() for lab in c.labels]

    def suggested_counts(
        self, photo_ids: Sequence[int], focus: Sequence[str] = ()
    ) -> dict[int, int]:
        """{photo id: how many of its tags are the model's suggestions only} for a page of a
        grid's photos (those with none left out); ``focus``: the tag expressions the grid is
        filtered by, whose labels alone then count."""
        return suggested_counts(self.store, photo_ids, focus)

    # --- one tag on many photos (the grid's selection, ``tags add``) -------------------------

    def tag_photos(
        self,
        photo_ids: Iterable[int],
        category: str,
        label: str,
        action: BulkAction | str,
    ) -> BulkTagging:
        """Add or remove a tag on many photos, or confirm or reject the model's suggestion of
        it where it is one, in one transaction (:mod:`clipdesk.tags.store.bulk` says which
        photos change); the result's ``step`` is what :meth:`undo` takes back."""
        return bulk.tag_photos(self.store, photo_ids, category, label, action)

    def keyword_tag(self, text: str) -> tuple[str, str]:
        """The tag a typed keyword names: ``Category|label`` (or ``Category › label``) of an
        existing category; a label name unique across categories; else a keyword of the
        user's own, in the manual Keywords category (created with its first keyword)."""
        clean = " ".join(text.replace(LABEL_ARROW.strip(), HIERARCHY_SEP).split())
        if not clean.strip(HIERARCHY_SEP + " "):
            raise CategoryError("the keyword is empty", "type a label or a new keyword")
        head, sep, rest = (part.strip() for part in clean.partition(HIERARCHY_SEP))
        if sep:
            by_name = {c.name.casefold(): c for c in self.store.categories()}
            cat = by_name.get(head.casefold())
            if cat is not None:
                return cat.name, rest
            # a path of the user's own ("Places|France"), kept whole as imported keywords are
            return KEYWORDS_CATEGORY, HIERARCHY_SEP.join(p.strip() for p in clean.split(sep))
        found = [
            (c.name, lab.name)
            for c in self.store.categories()
            for lab in c.labels
            if lab.name.casefold() == clean.casefold()
        ]
        if len(found) > 1:
            options = ", ".join(f"{c}{LABEL_ARROW}{lab}" for c, lab in found)
            raise CategoryError(
                f"the label {clean!r} is in several categories", f"type one of: {options}"
            )
        return found[0] if found else (KEYWORDS_CATEGORY, clean)

    def label_counts(self) -> list[LabelCount]:
        """Every label with how many photos the user tagged with it and the model suggests it
        for, in category order: one grouped query (the tag panel, ``tags counts``)."""
        return label_counts(self.app.library)

    # --- XMP -------------------------------------------------------------------------------

    def import_xmp(self, photo_ids: Iterable[int] | None = None) -> int:
        """Read the keywords of the photos' XMP (their own sidecars under either name, and
        embedded) as the user's tags (every photo when None); returns how many tags were
        added."""
        return self.import_xmp_report(photo_ids).added

    def import_xmp_report(self, photo_ids: Iterable[int] | None = None) -> XmpImportReport:
        """:meth:`import_xmp` with the photos whose XMP could not be read, each with its
        reason, and the keywords that could not become tags. The photos' XMP titles and
        descriptions are read again too (:meth:`read_captions`), for the text index, and their
        ratings and colour labels (``app.ratings.read_marks``)."""
        ids = [p.id for p in self.app.library.photos()] if photo_ids is None else list(photo_ids)
        report = self._xmp_tagger().import_xmp_report(ids)
        # the same packets: their problems are already in the report
        report.captioned = self.read_captions(ids).captioned
        self.app.ratings.read_marks(ids)
        return report

    def write_xmp(
        self,
        photo_ids: Iterable[int] | None = None,
        *,
        naming: SidecarNaming | str | None = None,
        include_suggestions: bool | None = None,
        embedded: bool | None = None,
        cancel: CancelToken | None = None,
    ) -> XmpReport:
        """Write tags into the photos' sidecars (every tagged photo when None), merging; with
        ``embedded`` (default: the shared setting ``xmp_embedded``, off) into the own XMP of
        the JPEG, PNG and TIFF photos too (:mod:`clipdesk.tags.xmp.embedded`).

        ``naming`` and ``include_suggestions`` default to the shared settings (``photo.jpg.xmp``
        and only confirmed and imported tags, unless the user chose otherwise); given, they
        apply to this run only. A photo keeps one sidecar of ours: one ClipDesk created under
        the other name (an earlier app wrote ``photo.xmp``) is merged in and removed. A
        ``photo.xmp`` another file of that name owns (``photo.png`` beside ``photo.jpg``) is
        never shared: the photo gets ``photo.jpg.xmp`` instead (``XmpReport.full_names``).
        Another tool's sidecar is never moved or removed, nor its keywords changed.
        """
        config = self.app.settings.current()
        style = SidecarNaming(naming or config.xmp_naming)
        suggestions = (
            config.xmp_write_suggestions if include_suggestions is None else include_suggestions
        )
        return self._xmp_tagger().write_xmp(
            photo_ids,
            naming=style,
            confirmed_only=not suggestions,
            cancel=cancel,
            embedded=config.xmp_embedded if embedded is None else embedded,
        )

    def _xmp_tagger(self) -> Tagger:
        # XMP needs no model: a tagger without one, so writing sidecars never loads torch
        return Tagger(self.store.lib, None, self.store)


def split_tag(tag: str) -> tuple[str, str]:
    """("Scene", "beach") from "Scene|beach"; CategoryError when there is no category part."""
    category, sep, label = tag.partition("|")
    if not sep or not category.strip() or not label.strip():
        raise CategoryError(f"tag {tag!r} has no category", 'write it as "Category|label"')
    return category.strip(), label.strip()
