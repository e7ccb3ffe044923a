"""Fine-tuned model versions as installed folders: list them with their metrics, tell which
model each was made from and which image vectors it shares.

Every fine-tune is its own installed model folder (see :mod:`clipdesk.model.finetune`); the
original stays installed and untouched, so rolling back is activating the base again. Activating
a version (sharing the library's image vectors when the towers match) is the domain's work:
:mod:`clipdesk.training.versions`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clipdesk.common import paths
from clipdesk.common.progress import CancelToken
from clipdesk.model import manager

log = logging.getLogger(__name__)


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
    active = manager.active_installed_name()
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


def model_name_of(folder: Path) -> str:
    """The name part of the id of the model in ``folder``."""
    return str(_meta(folder).get("name") or folder.name)


def model_id(name: str, digest: str) -> str:
    """A model's id from its name and the sha256 of its weight files."""
    return f"{name}@{digest[:12]}"


def model_id_of(
    folder: Path,
    *,
    cancel: CancelToken | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> str:
    """The id :func:`clipdesk.model.load_model` will give the model in ``folder`` (hashing its
    weights unless cached; ``cancel``, ``progress`` as :func:`~clipdesk.model.checkpoint.weights_hash`)."""
    from clipdesk.model.checkpoint import weights_hash
    from clipdesk.model.families import weight_files

    digest = weights_hash(weight_files(folder), cancel=cancel, progress=progress)
    return model_id(model_name_of(folder), digest)


def cached_model_id_of(folder: Path, cache: Mapping[str, Any] | None = None) -> str | None:
    """:func:`model_id_of` if its weights were hashed before as they are now, else None (also
    for a folder that is not loadable); reads no weights. ``cache``: as
    :func:`clipdesk.model.checkpoint.read_hash_cache` gave it."""
    from clipdesk.common.errors import ModelError
    from clipdesk.model.checkpoint import cached_weights_hash
    from clipdesk.model.families import weight_files

    try:
        files = weight_files(folder)
    except (ModelError, OSError):
        return None
    digest = cached_weights_hash(files, cache) if files else None
    return model_id(model_name_of(folder), digest) if digest else None


def image_key(folder: Path) -> tuple[str, str]:
    """(model id, id of the model whose image vectors it produces): two models with the same
    second part embed photos identically (a text-only fine-tune keeps its base's image tower)."""
    mid = model_id_of(folder)
    return mid, str(_meta(folder).get("image_vectors_from") or mid)


def base_model_of(name: str) -> str | None:
    """The model the fine-tuned version ``name`` was made from (None: not a fine-tuned version,
    or not installed)."""
    folder = manager.find_model(name)
    base = _meta(folder).get("base_model") if folder else None
    return str(base) if base else None
