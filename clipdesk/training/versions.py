"""What switching to a model version means for a library: vectors and tag heads it can share.

A text-only fine-tune keeps its base's image tower bit for bit, so the library's stored image
vectors hold for both models: they are copied under the other model's id (one SQL statement in
:meth:`clipdesk.library.store.Library.copy_embeddings`) and the switch needs no re-embedding; the
tag heads applied for the source model hold as well (heads work on image vectors). After a
both-towers fine-tune nothing can be shared and the photos are embedded again.

Making the model active (the shared settings and the running services) is the services' work:
:meth:`clipdesk.services.training.TrainingService.activate`.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from clipdesk.common.errors import ModelError
from clipdesk.model import manager
from clipdesk.model.versions import base_model_of, image_key, model_id_of
from clipdesk.tags.heads import store as head_store

if TYPE_CHECKING:
    from clipdesk.library.store import Library

log = logging.getLogger(__name__)


def share_vectors(library: Library, target: Path) -> int:
    """Copy stored image vectors of a model with the same image tower as ``target`` under
    ``target``'s id; returns how many were copied (0 when none can be shared)."""
    target_id, target_key = image_key(target)
    have = library.embedding_models()
    if have.get(target_id):
        return 0
    keys: dict[str, str] = {}
    for info in manager.list_models():
        try:
            model_id, key = image_key(info.path)
        except (ModelError, OSError):
            continue
        keys[model_id] = key
    sources = [m for m in have if m != target_id and keys.get(m, m) == target_key]
    if not sources:
        return 0
    source = max(sources, key=lambda m: have[m])
    copied = library.copy_embeddings(source, target_id)
    log.info("shared %d image vectors of %s with %s (same image tower)", copied, source, target_id)
    share_heads(library, source, target_id)
    return int(copied)


def share_heads(library: Library, source: str, target: str) -> None:
    """Tag heads work on image vectors: the ones applied for ``source`` hold for ``target``."""
    for model_id, category in head_store.applied_heads(library):
        if model_id != source:
            continue
        head = head_store.applied_head(library, source, category)
        if head is not None and head_store.applied_head(library, target, category) is None:
            head_store.apply_head(library, replace(head, model_id=target))


def needs_reembedding(library: Library, folder: Path) -> bool:
    """True when some indexed photo has no vector of the model in ``folder`` yet."""
    photos = int(library.counts().get("ok", 0))
    return library.embedding_models().get(model_id_of(folder), 0) < photos


def rollback_target(name: str | None) -> str:
    """The model to go back to from the fine-tuned version ``name``; raises when ``name`` is not
    a fine-tuned version."""
    base = base_model_of(name) if name else None
    if not base:
        raise ModelError(
            f"{name or 'the active model'} is not a fine-tuned version",
            "activate the model you want in Settings",
        )
    return base
