"""Tag heads, for both faces: teach a category's classifier from the user's decisions, compare
it with zero-shot on held-out labels, list the photos to label next, apply or revert it.

Thresholds calibrated to a target precision on the user's decisions, for the classifier in use
and without training (:meth:`HeadService.calibrate`, applied by :meth:`HeadService.apply_calibration`):
the Tags page's calibration panel and ``clipdesk-cli tags calibrate``.

Applying a head (or going back to zero-shot) retags its category at once, in the app and the
CLI alike: the tags on screen and in ``clipdesk-cli tags list`` are always the ones the head in
force gives, with no ``tags apply`` left to run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from clipdesk.common.errors import ClipDeskError
from clipdesk.common.progress import CancelToken, ProgressCallback
from clipdesk.services.training_results import HeadReport, load_head_report, save_head_report
from clipdesk.tags.categories import CategoryError, Label, Mode
from clipdesk.tags.heads import examples as head_examples
from clipdesk.tags.heads import store as head_store
from clipdesk.tags.heads.calibration import Calibration, calibrate_thresholds
from clipdesk.tags.heads.examples import CategoryExamples, Comparison
from clipdesk.tags.heads.fit import Head, check_head_fits
from clipdesk.tags.heads.teach import TeachResult
from clipdesk.tags.tagger import SCORED_STATUSES, RecomputeReport

if TYPE_CHECKING:
    from clipdesk.services.app import ClipDeskServices

__all__ = ["HeadService"]

log = logging.getLogger(__name__)


class HeadService:
    """Heads of one library (``app.heads``), for the model tags are computed with."""

    def __init__(self, app: ClipDeskServices) -> None:
        self.app = app

    def examples(self, category: str) -> CategoryExamples:
        """The category's decided photos with a vector of the tagging model, and its zero-shot
        head (what the Train tab shows before training)."""
        return head_examples.examples(self.app.library, self.app.tags.model(), category)

    def applied(self, category: str) -> Head | None:
        """The head in force for this category and the tagging model, if one was applied."""
        name = self.app.tags.category(category).name
        return head_store.applied_head(self.app.library, self.app.tags.model().id, name)

    def teach(
        self,
        category: str,
        *,
        target_precision: float | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> tuple[CategoryExamples, TeachResult]:
        """Choose the head on held-out labels (it replaces the head in use, zero-shot or the one
        applied, only on a clear gain: :mod:`clipdesk.tags.heads.selection`), train it on all,
        calibrate thresholds to ``target_precision`` if given. The result's summary says what
        was chosen and why (``reason``, ``figures``). Nothing is applied: the user decides
        (:meth:`apply`, which retags the category at once)."""
        return head_examples.teach_category(
            self.app.library,
            self.app.tags.model(),
            category,
            target_precision=target_precision,
            progress=progress,
            cancel=cancel,
        )

    def train(
        self,
        category: str,
        *,
        target_precision: float | None = None,
        suggest: int = 20,
        method: str = "margin",
        compare: int = 48,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> HeadReport:
        """:meth:`teach`, then the held-out photos the head changed (up to ``compare``) and the
        ``suggest`` photos to label next, kept as the category's last training: the Train tab
        shows it again after a restart, ``train heads --last`` prints it. Nothing is applied."""
        ex, result = self.teach(
            category, target_precision=target_precision, progress=progress, cancel=cancel
        )
        report = HeadReport(
            summary=result.summary(),
            head=result.head,
            compare=tuple(self.before_after(ex, result, compare)),
            next_up=tuple(self.next_to_label(result.head, suggest, method)) if suggest else (),
            missing_vectors=ex.missing_vectors,
            trained_at=time.time(),
        )
        save_head_report(self.app.library, report)
        return report

    def last(self, category: str) -> HeadReport | None:
        """The category's last training with the tagging model; None when there was none, or
        when the category's labels or prompts changed since (its figures would describe another
        category: train again)."""
        found = self.app.tags.category(category)
        model_id = self.app.tags.model().id
        report = load_head_report(self.app.library, model_id, found.name)
        if report is None or not check_head_fits(report.head, found, model_id):
            return None
        return report

    def next_to_label(
        self, head: Head, limit: int = 20, method: str = "margin"
    ) -> list[tuple[int, float]]:
        """(photo id, uncertainty) of the photos the head is least sure about, undecided ones."""
        return head_examples.next_to_label(self.app.library, head.model_id, head, limit, method)

    def before_after(
        self, examples: CategoryExamples, result: TeachResult, limit: int = 48
    ) -> list[Comparison]:
        """Held-out photos where the head changed the answer first (fixes, then regressions)."""
        return head_examples.before_after(examples, result, limit)

    def apply(
        self,
        head: Head,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> RecomputeReport:
        """Make ``head`` its category's classifier and retag the category with it now (the
        user's decisions stay)."""
        head_examples.apply(self.app.library, head)
        log.info("head of %s applied; retagging", head.category)
        return self.app.tags.apply([head.category], progress=progress, cancel=cancel)

    def revert(
        self,
        category: str,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> RecomputeReport | None:
        """Back to zero-shot for the category: the applied head is dropped and the category
        retagged now. None when no head was applied (nothing changes)."""
        name = self.app.tags.category(category).name
        if not head_examples.revert(self.app.library, self.app.tags.model().id, name):
            return None
        return self.app.tags.apply([name], progress=progress, cancel=cancel)

    # --- thresholds calibrated on the user's decisions -------------------------------------

    def calibrate(
        self, category: str, target_precision: float, cancel: CancelToken | None = None
    ) -> Calibration:
        """For each threshold of the category (per label, or the single-choice category's one),
        the lowest reaching ``target_precision`` on the user's decisions with the classifier
        tagging uses now (zero-shot, or the applied head), with its precision and recall there
        and how many photos without a decision it would suggest. Nothing is trained nor
        changed: :meth:`apply_calibration` sets the thresholds."""
        if not 0.0 < target_precision <= 1.0:
            raise ClipDeskError(
                f"a target precision of {target_precision} is not a share",
                "give one between 0 and 1, such as 0.9",
            )
        tags = self.app.tags
        cat = tags.category(category)
        if not cat.auto:
            raise CategoryError(
                f"category {cat.name!r} is a manual keyword list; the model suggests none of it",
                "calibrate a category whose tags the model suggests",
            )
        model = tags.model()
        clf = tags.tagger(model).classifier(cat)  # the applied head, where one fits
        lib = self.app.library
        ex = head_examples.examples(lib, model, cat.name)
        ids, vectors = lib.load_vectors(model.id, SCORED_STATUSES)
        if cancel is not None:
            cancel.raise_if_cancelled()
        block = 65536  # bounded temporaries for a cache head over a large library
        parts = [clf.scores(vectors[i : i + block]) for i in range(0, len(vectors), block)]
        lib_scores = np.concatenate(parts) if parts else np.zeros((0, len(cat.labels)), np.float32)
        undecided = np.ones(lib_scores.shape, bool)
        rows = np.searchsorted(ids, ex.data.photo_ids)
        here = rows < len(ids)
        here[here] = ids[rows[here]] == ex.data.photo_ids[here]
        if cat.mode is Mode.MULTI:
            undecided[rows[here]] = ~ex.data.observed[here]
            current = [float(t) for t in clf.thresholds]
        else:
            undecided[rows[here]] = False
            current = [float(clf.category.threshold)]
        head = head_examples.head_in_use(lib, model.id, cat)
        found = calibrate_thresholds(
            cat.mode,
            cat.label_names,
            ex.data,
            clf.scores(ex.data.x),
            lib_scores,
            undecided,
            current,
            target_precision,
        )
        return Calibration(
            category=cat.name,
            mode=cat.mode,
            labels=tuple(cat.label_names),
            model_id=model.id,
            method="zero-shot" if head is None else head.method,
            target=target_precision,
            rows=tuple(found),
            in_sample=head is not None,
        )

    def apply_calibration(
        self,
        calibration: Calibration,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> RecomputeReport | None:
        """Set the calibrated thresholds and retag the category now (the user's decisions
        stay): the applied head's thresholds when one is in force, else the category's own.
        A threshold no cut-off reached stays as it was."""
        tags = self.app.tags
        cat = tags.category(calibration.category)
        model_id = tags.model().id
        if tuple(cat.label_names) != calibration.labels or cat.mode is not calibration.mode:
            raise ClipDeskError(
                f"the category {cat.name!r} changed since it was calibrated",
                "calibrate it again",
            )
        if model_id != calibration.model_id:
            raise ClipDeskError(
                "tags are computed with another model since the calibration",
                "calibrate again with the model in use",
            )
        thresholds = calibration.thresholds()
        head = head_examples.head_in_use(self.app.library, model_id, cat)
        if head is not None:
            head_examples.apply(self.app.library, replace(head, thresholds=thresholds))
            log.info("calibrated thresholds of the head of %s applied; retagging", cat.name)
            return tags.apply([cat.name], progress=progress, cancel=cancel)
        if cat.mode is Mode.MULTI:
            # a label no cut-off reached keeps following the category's threshold
            labels = tuple(
                lab if row.threshold is None else Label(lab.name, lab.prompts, row.threshold)
                for lab, row in zip(cat.labels, calibration.rows, strict=True)
            )
            changed = replace(cat, labels=labels)
        else:
            changed = replace(cat, threshold=thresholds[0])
        log.info("calibrated thresholds of %s saved; retagging", cat.name)
        return tags.save_category(changed, replacing=cat.name, progress=progress, cancel=cancel)
