"""Applied tag heads: kept in the library (per category and model) and used by tagging.

A head is applied only when the user chooses to; it then replaces the zero-shot classifier of its
category for that model wherever tags are computed. :func:`with_applied_head` is the one hook the
tagging code calls on a zero-shot :class:`~clipdesk.tags.zero_shot.Classifier`: it returns the applied
head as a drop-in classifier, or the zero-shot one when no head fits (none applied, the category's
labels or prompts changed since, or another model is active).
"""

from __future__ import annotations

import base64
import logging
import time
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from clipdesk.tags.categories import Category, Label, Mode
from clipdesk.tags.heads.fit import LOGISTIC, ZERO_SHOT, Cache, Head, check_head_fits
from clipdesk.tags.zero_shot import Classifier

log = logging.getLogger(__name__)

_PREFIX = "train.head"
FORMAT_VERSION = 1
# A cache head is written as version 2: a reader that knows only version 1 would score it
# without its cache, so it must ignore it (and fall back to zero-shot) rather than misread it.
CACHE_FORMAT_VERSION = 2


class SettingsStore(Protocol):
    """What head persistence needs from the library (clipdesk.library.store.Library fits)."""

    def get_setting(self, key: str, default: Any = None) -> Any: ...

    def set_setting(self, key: str, value: Any) -> None: ...

    def delete_setting(self, key: str) -> None: ...


def _key(model_id: str, category: str) -> str:
    return f"{_PREFIX}|{model_id}|{category.casefold()}"


def _index_key() -> str:
    return f"{_PREFIX}|index"


def _pack(a: np.ndarray) -> dict[str, Any]:
    a = np.ascontiguousarray(a, dtype="<f4")
    return {"shape": list(a.shape), "data": base64.b64encode(a.tobytes()).decode("ascii")}


def _unpack(d: dict[str, Any]) -> np.ndarray:
    raw = base64.b64decode(d["data"])
    return np.frombuffer(raw, dtype="<f4").reshape(d["shape"]).astype(np.float32)


def _cache_to_json(cache: Cache | None) -> dict[str, Any] | None:
    if cache is None:
        return None
    return {
        "keys": _pack(cache.keys),
        "values": _pack(cache.values),
        "alpha": cache.alpha,
        "beta": cache.beta,
    }


def _cache_from_json(d: dict[str, Any] | None) -> Cache | None:
    if d is None:
        return None
    return Cache(_unpack(d["keys"]), _unpack(d["values"]), float(d["alpha"]), float(d["beta"]))


def head_to_json(head: Head) -> dict[str, Any]:
    """The head as JSON-ready data (arrays as base64 little-endian float32; never pickle)."""
    return {
        "format_version": FORMAT_VERSION if head.cache is None else CACHE_FORMAT_VERSION,
        "category": head.category,
        "mode": head.mode.value,
        "labels": list(head.labels),
        "model_id": head.model_id,
        "fingerprint": head.fingerprint,
        "weights": _pack(head.weights),
        "bias": _pack(head.bias),
        "init_weights": _pack(head.init_weights),
        # a sigmoid model's zero-shot bias; readers without the key take zeros, which is right
        # for the heads written before it (CLIP's), and weights and bias alone give the scores
        "init_bias": _pack(head.init_bias) if head.init_bias is not None else None,
        "lam": head.lam,
        "method": head.method,
        "n_examples": head.n_examples,
        "thresholds": list(head.thresholds) if head.thresholds is not None else None,
        "info": head.info,
        "cache": _cache_to_json(head.cache),
    }


def head_from_json(d: dict[str, Any]) -> Head:
    if d.get("format_version") not in (FORMAT_VERSION, CACHE_FORMAT_VERSION):
        raise ValueError(f"unknown head format {d.get('format_version')!r}")
    thr = d.get("thresholds")
    init_bias = d.get("init_bias")
    return Head(
        category=d["category"],
        mode=Mode(d["mode"]),
        labels=tuple(d["labels"]),
        model_id=d["model_id"],
        fingerprint=d["fingerprint"],
        weights=_unpack(d["weights"]),
        bias=_unpack(d["bias"]),
        init_weights=_unpack(d["init_weights"]),
        lam=d.get("lam"),
        # heads saved before discriminants existed: a pull strength means logistic
        method=d.get("method") or (ZERO_SHOT if d.get("lam") is None else LOGISTIC),
        n_examples=int(d.get("n_examples", 0)),
        thresholds=tuple(float(t) for t in thr) if thr is not None else None,
        info=dict(d.get("info") or {}),
        init_bias=_unpack(init_bias) if init_bias is not None else None,
        cache=_cache_from_json(d.get("cache")),
    )


def apply_head(store: SettingsStore, head: Head) -> None:
    """Make ``head`` the classifier of its category for its model."""
    data = head_to_json(replace(head, info={**head.info, "applied_at": time.time()}))
    store.set_setting(_key(head.model_id, head.category), data)
    index = set(map(tuple, store.get_setting(_index_key(), [])))
    index.add((head.model_id, head.category))
    store.set_setting(_index_key(), sorted(index))
    log.info("applied head for %s (%s)", head.category, head.model_id)


def remove_head(store: SettingsStore, model_id: str, category: str) -> bool:
    """Back to zero-shot for this category and model; False if no head was applied."""
    key = _key(model_id, category)
    had = store.get_setting(key) is not None
    store.delete_setting(key)
    index = {tuple(x) for x in store.get_setting(_index_key(), [])}
    index = {x for x in index if not (x[0] == model_id and x[1].casefold() == category.casefold())}
    store.set_setting(_index_key(), sorted(index))
    return had


def applied_head(store: SettingsStore, model_id: str, category: str) -> Head | None:
    raw = store.get_setting(_key(model_id, category))
    if raw is None:
        return None
    try:
        return head_from_json(raw)
    except (KeyError, TypeError, ValueError) as exc:  # written by a newer version, or damaged
        log.warning("ignoring the stored head of %s (%s): %s", category, model_id, exc)
        return None


def applied_heads(store: SettingsStore) -> list[tuple[str, str]]:
    """(model id, category) of every applied head."""
    return [(m, c) for m, c in store.get_setting(_index_key(), [])]


@dataclass(frozen=True)
class HeadClassifier(Classifier):
    """A trained head in the shape tagging expects: ``weights`` [labels, d] and a bias, scored
    ``softmax`` / ``sigmoid`` of ``X @ W.T + b`` (its own scale and bias) whatever the model."""

    bias: np.ndarray = None  # type: ignore[assignment]  # [labels]
    head: Head | None = None

    @property
    def has_null_row(self) -> bool:
        return False  # a head's rows are its labels

    def logits(self, image_vectors: np.ndarray) -> np.ndarray:
        if self.head is not None and self.head.cache is not None:
            return self.head.logits(image_vectors)  # linear part and cache, in bounded blocks
        return super().logits(image_vectors)

    def scores_from_similarities(self, sims: np.ndarray) -> np.ndarray:
        if self.head is not None and self.head.cache is not None:
            raise ValueError(
                f"the cache head of {self.category.name!r} scores image vectors, not similarities "
                "to its label rows"
            )
        return super().scores_from_similarities(sims)

    def _logits(self, sims: np.ndarray) -> np.ndarray:
        sims += self.bias
        return sims


def head_classifier(clf: Classifier, head: Head) -> HeadClassifier:
    """``head`` as a Classifier of ``clf``'s category, its calibrated thresholds in force."""
    category: Category = clf.category
    thresholds = clf.thresholds
    if head.thresholds is not None:
        if category.mode is Mode.MULTI:
            thresholds = np.asarray(head.thresholds, np.float32)
            category = replace(
                category,
                labels=tuple(
                    Label(lab.name, lab.prompts, float(t))
                    for lab, t in zip(category.labels, thresholds, strict=True)
                ),
            )
        else:
            category = replace(category, threshold=float(head.thresholds[0]))
            thresholds = np.full(len(category.labels), category.threshold, np.float32)
    return HeadClassifier(
        category=category,
        model_id=clf.model_id,
        weights=head.weights,
        logit_scale=1.0,
        thresholds=thresholds,
        scoring=clf.scoring,
        logit_bias=clf.logit_bias,
        bias=head.bias,
        head=head,
    )


def with_applied_head(store: SettingsStore, clf: Classifier) -> Classifier:
    """The hook for tagging: the applied head of ``clf``'s category if one fits, else ``clf``."""
    head = applied_head(store, clf.model_id, clf.category.name)
    if head is None:
        return clf
    if not check_head_fits(head, clf.category, clf.model_id):
        log.info("the head of %s no longer fits its category; using zero-shot", clf.category.name)
        return clf
    return head_classifier(clf, head)
