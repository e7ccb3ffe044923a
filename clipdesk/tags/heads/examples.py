"""Tag heads over a library: gather a category's decisions and vectors, teach, propose what to
label next, apply. :class:`clipdesk.services.heads.HeadService` drives it for both faces (the
Train tab and ``clipdesk-cli train heads``) and retags a category when its head is applied."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from clipdesk.common.progress import CancelToken, ProgressCallback
from clipdesk.library.records import PhotoStatus
from clipdesk.tags.categories import Category, CategoryError, Mode
from clipdesk.tags.heads import store as head_store
from clipdesk.tags.heads.active_learning import propose_to_label
from clipdesk.tags.heads.fit import (
    Head,
    LabelData,
    check_head_fits,
    label_data,
    library_covariance,
    zero_shot_head,
)
from clipdesk.tags.heads.teach import TeachResult, teach
from clipdesk.tags.records import TagState
from clipdesk.tags.zero_shot import Decisions, TextModel, build_classifier

if TYPE_CHECKING:
    from clipdesk.library.store import Library

LIBRARY_SAMPLE = 20_000

# the user's say that a photo has the label (CONFIRMED_STATES); a rejection says it has not
_POSITIVE_STATES = (TagState.CONFIRMED, TagState.IMPORTED)


@dataclass(frozen=True)
class CategoryExamples:
    category: Category
    init: Head  # the zero-shot head of this model
    data: LabelData  # decided photos that have a vector of this model
    missing_vectors: int  # decided photos without one (not indexed with this model yet)


def _category(lib: Library, name: str) -> Category:
    from clipdesk.tags.store.tag_store import TagStore

    cat = TagStore(lib, install_starters=False).category(name)
    if not cat.auto:
        raise CategoryError(
            f"category {cat.name!r} is a manual keyword list; there is no model classifier to teach",
            "teach a category whose tags the model suggests",
        )
    return cat


def decisions_of(lib: Library, category: Category) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(photo ids, label index, confirmed?) of every user decision in ``category``."""
    from clipdesk.tags.store.tag_store import TagStore

    rows = TagStore(lib, install_starters=False).category_decisions(category.name)
    index = {name.casefold(): i for i, name in enumerate(category.label_names)}
    kept = [
        (pid, index[label.casefold()], state in _POSITIVE_STATES)
        for pid, label, state in rows
        if label.casefold() in index
    ]
    if not kept:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool)
    ids, cols, conf = zip(*kept, strict=True)
    return np.array(ids, np.int64), np.array(cols, np.int64), np.array(conf, bool)


def examples(lib: Library, model: TextModel, category_name: str) -> CategoryExamples:
    cat = _category(lib, category_name)
    init = zero_shot_head(build_classifier(model, cat))
    ids, cols, conf = decisions_of(lib, cat)
    uniq = np.unique(ids)
    have, vectors = lib.vectors_for(model.id, uniq.tolist())
    pos = {int(p): i for i, p in enumerate(have)}
    keep = np.array([int(p) in pos for p in ids], bool)
    rows = np.array([pos[int(p)] for p in ids[keep]], np.int64)
    dec = Decisions(rows, cols[keep], conf[keep])
    if len(have) == 0:
        vectors = np.zeros((0, init.weights.shape[1]), np.float32)
    data = label_data(cat.mode, have, vectors, dec, len(cat.labels))
    return CategoryExamples(cat, init, data, int(len(uniq) - len(have)))


def library_sample_covariance(
    lib: Library, model_id: str, sample: int = LIBRARY_SAMPLE, seed: int = 0
) -> np.ndarray | None:
    """Covariance of the library's vectors of ``model_id`` over a fixed random sample of photos:
    the discriminant head's geometry. Read when teaching, not when a category's counts are shown."""
    ids = lib.photo_ids_with_vectors(model_id, (PhotoStatus.OK,))
    if len(ids) > sample:
        ids = sorted(random.Random(seed).sample(ids, sample))
    _, vectors = lib.vectors_for(model_id, ids)
    return library_covariance(vectors)


def teach_category(
    lib: Library,
    model: TextModel,
    category_name: str,
    *,
    target_precision: float | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[CategoryExamples, TeachResult]:
    ex = examples(lib, model, category_name)
    ex = replace(ex, data=replace(ex.data, library_cov=library_sample_covariance(lib, model.id)))
    return ex, teach(
        ex.init,
        ex.data,
        target_precision=target_precision,
        incumbent=head_in_use(lib, model.id, ex.category),
        progress=progress,
        cancel=cancel,
    )


def head_in_use(lib: Library, model_id: str, category: Category) -> Head | None:
    """The applied head tagging uses for ``category`` (None: zero-shot), the one a new head must
    beat on held-out labels to replace."""
    head = head_store.applied_head(lib, model_id, category.name)
    if head is None or not check_head_fits(head, category, model_id):
        return None
    return head


def next_to_label(
    lib: Library,
    model_id: str,
    head: Head,
    limit: int = 20,
    method: str = "margin",
) -> list[tuple[int, float]]:
    """Photos of the library (with a ``model_id`` vector) the head is least sure about, skipping
    those the user already decided in this category."""
    ids, vectors = lib.load_vectors(model_id)
    if len(ids) == 0:
        return []
    scores = np.concatenate(
        [head.scores(vectors[i : i + 65536]) for i in range(0, len(vectors), 65536)]
    )
    decided = _decided_ids(lib, head.category)
    thresholds: Any = 0.5
    if head.mode is Mode.MULTI and head.thresholds is not None:
        thresholds = np.asarray(head.thresholds, np.float32)
    return propose_to_label(
        ids, scores, head.mode, limit, thresholds=thresholds, method=method, exclude=decided
    )


def _decided_ids(lib: Library, category: str) -> list[int]:
    from clipdesk.tags.store.tag_store import TagStore

    return TagStore(lib, install_starters=False).decided_photo_ids(category)


@dataclass(frozen=True)
class Comparison:
    """One held-out labelled photo: what zero-shot said, what the head said, what the user said."""

    photo_id: int
    truth: str | None  # the confirmed label (single choice); None when only rejections
    before: str
    before_score: float
    after: str
    after_score: float


def before_after(ex: CategoryExamples, result: TeachResult, limit: int = 48) -> list[Comparison]:
    """Held-out examples where the head changed the answer first (fixes, then regressions)."""
    if result.evaluation is None:
        return []
    before = ex.init.scores(ex.data.x)
    after = result.evaluation.oof_scores
    labels = ex.init.labels
    t = ex.data.targets()
    if ex.data.mode is Mode.MULTI:
        pos = ex.data.positives()
        t = np.where(pos.any(axis=1), pos.argmax(axis=1), -1)
    b, a = before.argmax(axis=1), after.argmax(axis=1)
    fixed = (a == t) & (b != t)
    broke = (a != t) & (b == t) & (t >= 0)
    order = np.r_[np.nonzero(fixed)[0], np.nonzero(broke)[0], np.nonzero(~fixed & ~broke)[0]]
    return [
        Comparison(
            int(ex.data.photo_ids[i]),
            labels[t[i]] if t[i] >= 0 else None,
            labels[b[i]],
            float(before[i, b[i]]),
            labels[a[i]],
            float(after[i, a[i]]),
        )
        for i in order[:limit]
    ]


def apply(lib: Library, head: Head) -> None:
    head_store.apply_head(lib, head)


def revert(lib: Library, model_id: str, category: str) -> bool:
    return head_store.remove_head(lib, model_id, category)
