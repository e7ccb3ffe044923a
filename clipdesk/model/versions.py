"""Fine-tuned model versions: list them with their metrics, activate one, roll back.

Every fine-tune is its own installed model folder (see :mod:`clipdesk.model.finetune`); the
original stays installed and untouched, so rolling back is activating the base again. When the
two models share their image tower (a text-only fine-tune), the library's stored image vectors are
copied under the other model's id in one SQL statement, so switching needs no re-embedding; after
a both-towers fine-tune the app re-embeds in the background (services / the GUI backend see the
new model's photos as pending).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clipdesk.common import paths
from clipdesk.common.errors import ModelError
from clipdesk.model import manager

if TYPE_CHECKING:
    from clipdesk.library.store import Library

log = logging.getLogger("clipdesk.model.versions")


@dataclass(frozen=True)
class VersionInfo:
    name: str
    path: Path
    base_model: str
    created: float
    towers: str
    alpha: float
    active: bool
    metrics: dict[str, Any] = field(default_factory=dict)  # metrics.json of the run

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "base_model": self.base_model,
            "created": self.created,
            "towers": self.towers,
            "alpha": self.alpha,
            "active": self.active,
            "before": self.metrics.get("before"),
            "after": self.metrics.get("after"),
        }


def _meta(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / manager.META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def finetuned_versions(base: str | None = None) -> list[VersionInfo]:
    """Installed fine-tuned versions (of ``base`` if given), newest first."""
    active = manager.get_active_model()
    out = []
    root = paths.models_dir()
    for folder in root.iterdir() if root.is_dir() else []:
        meta = _meta(folder)
        ft = meta.get("finetune")
        if not isinstance(ft, dict) or not (folder / "config.json").is_file():
            continue
        if base is not None and meta.get("base_model") != base:
            continue
        try:
            metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            metrics = {}
        opts = ft.get("options", {})
        out.append(
            VersionInfo(
                name=folder.name,
                path=folder,
                base_model=str(meta.get("base_model", "")),
                created=float(ft.get("created", 0)),
                towers=str(opts.get("towers", "?")),
                alpha=float(opts.get("alpha", 1.0)),
                active=folder.name == active,
                metrics=metrics,
            )
        )
    return sorted(out, key=lambda v: v.created, reverse=True)


def model_id_of(folder: Path) -> str:
    """The id :func:`clipdesk.model.load_model` will give the model in ``folder``."""
    from clipdesk.model.checkpoint import weights_hash
    from clipdesk.model.state_dicts import find_weight_files

    name = str(_meta(folder).get("name") or folder.name)
    return f"{name}@{weights_hash(find_weight_files(folder))[:12]}"


def _image_key(folder: Path) -> tuple[str, str]:
    """(model id, id of the model whose image vectors it produces)."""
    mid = model_id_of(folder)
    return mid, str(_meta(folder).get("image_vectors_from") or mid)


def share_vectors(library: Library, target: Path) -> int:
    """Copy stored image vectors of a model with the same image tower as ``target`` under
    ``target``'s id; returns how many were copied (0 when none can be shared)."""
    tid, tkey = _image_key(target)
    have = library.embedding_models()
    if have.get(tid):
        return 0
    keys = {}
    for info in manager.list_models():
        try:
            mid, key = _image_key(info.path)
        except (ModelError, OSError):
            continue
        keys[mid] = key
    sources = [m for m in have if m != tid and keys.get(m, m) == tkey]
    if not sources:
        return 0
    source = max(sources, key=lambda m: have[m])
    with library.transaction() as conn:
        n = conn.execute(
            "INSERT OR IGNORE INTO embeddings(photo_id, model_id, dim, vector, created_at) "
            "SELECT photo_id, ?, dim, vector, ? FROM embeddings WHERE model_id = ?",
            (tid, time.time(), source),
        ).rowcount
    log.info("shared %d image vectors of %s with %s (same image tower)", n, source, tid)
    _share_heads(library, source, tid)
    return int(n)


def _share_heads(library: Library, source: str, target: str) -> None:
    """Tag heads work on image vectors: the ones applied for ``source`` hold for ``target``."""
    from dataclasses import replace

    from clipdesk.tags.heads import store as head_store

    for mid, category in head_store.applied_heads(library):
        head = head_store.applied_head(library, mid, category) if mid == source else None
        if head is not None and head_store.applied_head(library, target, category) is None:
            head_store.apply_head(library, replace(head, model_id=target))


def activate(name: str, library: Library | None = None) -> dict[str, Any]:
    """Make ``name`` the active model; with a library, share image vectors where the towers
    match. Returns {"active", "shared_vectors", "reembed"}."""
    folder = manager.find_model(name)
    if folder is None:
        raise ModelError(f"no installed model named {name!r}", "see `clipdesk-cli models list`")
    shared = share_vectors(library, folder) if library is not None else 0
    manager.set_active_model(name)
    reembed = False
    if library is not None:
        counts = library.counts()
        photos = int(counts.get("ok", 0))
        reembed = library.embedding_models().get(model_id_of(folder), 0) < photos
    return {"active": name, "shared_vectors": shared, "reembed": reembed}


def rollback(name: str | None = None, library: Library | None = None) -> dict[str, Any]:
    """Back to the model a fine-tuned version was made from (default: the active one's base)."""
    name = name or manager.get_active_model()
    folder = manager.find_model(name) if name else None
    base = _meta(folder).get("base_model") if folder else None
    if not base:
        raise ModelError(
            f"{name or 'the active model'} is not a fine-tuned version",
            "activate the model you want in Settings",
        )
    return activate(str(base), library)
