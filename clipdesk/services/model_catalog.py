"""The model picker's table, for both faces: every installed and downloadable model with its size,
its speed on this computer, its published quality and its languages; and what switching to one
costs (how long re-embedding the library takes).

Speeds are the catalog machine's measurements (:mod:`clipdesk.model.speed`) scaled by this
computer's probe once it has run; before that the table shows the catalog machine's own figures
and says so. A model outside the catalog (imported, fine-tuned, the demo) has no speed figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clipdesk.library.store import Library
    from clipdesk.model.catalog import CatalogEntry, Figure
    from clipdesk.model.manager import ModelInfo
    from clipdesk.model.speed import CatalogSpeeds, Probe, SpeedEstimate

LANGUAGE_NAMES = {
    "en": "English",
    "de": "German",
    "es": "Spanish",
    "fr": "French",
    "ja": "Japanese",
    "zh": "Chinese",
}


@dataclass(frozen=True)
class SpeedBasis:
    """Where the speed figures of a table come from, in words for a tooltip."""

    catalog_machine: str  # "" when no speeds were measured
    catalog_date: str
    probe_images_per_s: float | None  # the reference model on this computer, once probed
    reference: str

    def describe(self, scaled: bool) -> str:
        if not self.catalog_machine:
            return "no speeds measured"
        where = f"measured on {self.catalog_machine} ({self.catalog_date})"
        if not scaled:
            return f"{where}; this computer's speed is not measured yet"
        return (
            f"{where}, scaled to this computer by its probe ({self.reference} at "
            f"{self.probe_images_per_s:.1f} photos/s here)"
        )


@dataclass(frozen=True)
class CatalogRow:
    name: str  # the installed name, or the catalog name to download
    title: str
    path: str  # the installed folder ("" before it is downloaded)
    installed: bool
    active: bool
    demo: bool
    size_bytes: int  # on disk when installed, else about what the download weighs (0: unknown)
    family: str
    description: str
    languages: tuple[str, ...]
    images_per_s: float | None  # photos embedded per second on this computer
    text_ms: float | None  # one search phrase through the text tower
    speed_scaled: bool  # scaled to this computer by the probe (else the catalog machine's)
    imagenet: Figure | None  # published zero-shot figure, with its source
    recall: Figure | None  # published English search recall, with its source
    catalog: str | None  # the catalog entry it is (or was downloaded as)
    repo_id: str | None
    embed_dim: int | None
    image_size: int | None

    @classmethod
    def for_path(cls, path: str) -> CatalogRow:
        """A model chosen by its path (command line, an earlier choice) rather than installed."""
        return cls(
            name=path, title=path, path=path, installed=True, active=False, demo=False,
            size_bytes=0, family="", description=f"Loaded from {path}", languages=(),
            images_per_s=None, text_ms=None, speed_scaled=False, imagenet=None, recall=None,
            catalog=None, repo_id=None, embed_dim=None, image_size=None,
        )  # fmt: skip

    @property
    def languages_text(self) -> str:
        if len(self.languages) <= 4:
            return ", ".join(LANGUAGE_NAMES.get(code, code) for code in self.languages)
        return f"{len(self.languages)} languages"

    def to_json(self) -> dict[str, Any]:
        def figure(f: Figure | None) -> dict[str, Any] | None:
            if f is None:
                return None
            return {"metric": f.metric, "value": f.value, "source": f.source.url, "note": f.note}

        return {
            "name": self.name,
            "title": self.title,
            "path": self.path,
            "installed": self.installed,
            "active": self.active,
            "demo": self.demo,
            "size_bytes": self.size_bytes,
            "family": self.family,
            "languages": list(self.languages),
            "images_per_s": _round(self.images_per_s),
            "text_ms": _round(self.text_ms),
            "speed_scaled": self.speed_scaled,
            "imagenet": figure(self.imagenet),
            "recall": figure(self.recall),
            "catalog": self.catalog,
            "repo_id": self.repo_id,
            "embed_dim": self.embed_dim,
            "image_size": self.image_size,
        }


@dataclass(frozen=True)
class CatalogTable:
    rows: tuple[CatalogRow, ...]
    basis: SpeedBasis

    @classmethod
    def empty(cls) -> CatalogTable:
        return cls((), SpeedBasis("", "", None, ""))

    def to_json(self) -> dict[str, Any]:
        b = self.basis
        return {
            "rows": [r.to_json() for r in self.rows],
            "speeds": {
                "catalog_machine": b.catalog_machine,
                "catalog_date": b.catalog_date,
                "reference": b.reference,
                "probe_images_per_s": b.probe_images_per_s,
            },
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def entry_of(info: ModelInfo) -> CatalogEntry | None:
    """The catalog entry an installed model was downloaded as (by its origin or its name)."""
    from clipdesk.model.catalog import CATALOG

    for entry in CATALOG.values():
        if info.origin.endswith("/" + entry.repo_id) or info.name == entry.name:
            return entry
    return None


def _figure(entry: CatalogEntry | None, metric: str) -> Figure | None:
    if entry is None:
        return None
    return next((f for f in entry.figures if f.metric == metric and f.language == "en"), None)


def _row(
    entry: CatalogEntry | None,
    info: ModelInfo | None,
    speed: SpeedEstimate | None,
) -> CatalogRow:
    arch = entry.arch if entry is not None else None
    return CatalogRow(
        name=info.name if info is not None else entry.name if entry is not None else "",
        title=(entry.title if entry is not None else "") or (info.name if info else ""),
        path=str(info.path) if info is not None else "",
        installed=info is not None,
        active=bool(info and info.active),
        demo=bool(info and info.demo),
        size_bytes=info.size_bytes if info is not None else entry.approx_bytes if entry else 0,
        family=entry.family if entry is not None else "",
        description=(info.description if info and info.description else "")
        or (entry.description if entry is not None else ""),
        languages=entry.languages if entry is not None else (),
        images_per_s=speed.images_per_s if speed else None,
        text_ms=speed.text_ms if speed else None,
        speed_scaled=bool(speed and speed.scaled),
        imagenet=_figure(entry, "imagenet"),
        recall=_figure(entry, "xm3600"),
        catalog=entry.name if entry is not None else None,
        repo_id=entry.repo_id if entry is not None else None,
        embed_dim=arch.embed_dim if arch else None,
        image_size=arch.image_size if arch else None,
    )


def build_table(
    installed: Sequence[ModelInfo],
    catalog: Sequence[CatalogEntry],
    speeds: CatalogSpeeds | None,
    probe: Probe | None,
) -> CatalogTable:
    """Installed models first (in the manager's order), then the catalog's others."""
    from clipdesk.model.speed import REFERENCE, estimate

    def speed_of(entry: CatalogEntry | None) -> SpeedEstimate | None:
        return estimate(entry.arch.key, speeds, probe) if entry and entry.arch else None

    rows = []
    taken = set()
    for info in installed:
        entry = entry_of(info)
        if entry is not None:
            taken.add(entry.name)
        rows.append(_row(entry, info, speed_of(entry)))
    rows += [_row(e, None, speed_of(e)) for e in catalog if e.name not in taken]
    basis = SpeedBasis(
        catalog_machine=speeds.machine if speeds else "",
        catalog_date=speeds.measured if speeds else "",
        probe_images_per_s=probe.images_per_s if probe and speeds and probe.ratio(speeds) else None,
        reference=REFERENCE,
    )
    return CatalogTable(tuple(rows), basis)


# --- what a switch costs ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReembedEstimate:
    model: str
    photos: int  # photos that get a vector of the new model (0: nothing to do)
    shared: bool  # the new model takes the current image vectors as they are
    images_per_s: float | None
    seconds: float | None  # None: no speed known for this model

    def describe(self) -> str:
        if self.shared:
            return f"{self.model} uses the same image vectors as your library has: nothing to re-embed."
        if self.photos == 0:
            return f"Switching to {self.model} re-embeds nothing: no photos are indexed yet."
        n = f"{self.photos:,} photo{'s' if self.photos != 1 else ''}"
        if self.seconds is None or self.images_per_s is None:
            time_text = "how long is not known (no speed measured for this model)"
        else:
            time_text = (
                f"about {duration_text(self.seconds)} on this computer "
                f"(~{self.images_per_s:.1f} photos/s)"
            )
        return (
            f"Switching to {self.model} embeds {n} again: {time_text}. Search keeps using the "
            "current model until it is done."
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "photos": self.photos,
            "shared": self.shared,
            "images_per_s": _round(self.images_per_s),
            "seconds": None if self.seconds is None else round(self.seconds),
        }


def duration_text(seconds: float) -> str:
    if seconds < 60:
        return "a minute or less"
    minutes = math.ceil(seconds / 60)
    if minutes < 90:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = seconds / 3600
    return f"{hours:.1f} hours" if hours < 48 else f"{hours / 24:.1f} days"


def _shares_vectors(library: Library, folder: Path, installed: Sequence[ModelInfo]) -> bool:
    """Whether a model with the same image tower as ``folder`` has vectors in the library
    (what :func:`clipdesk.training.versions.share_vectors` would copy)."""
    from clipdesk.common.errors import ModelError
    from clipdesk.model.versions import image_key

    target_id, target_key = image_key(folder)
    have = library.embedding_models()
    for info in installed:
        try:
            model_id, key = image_key(info.path)
        except (ModelError, OSError):
            continue
        if model_id != target_id and key == target_key and have.get(model_id):
            return True
    return False


def reembed_estimate(
    library: Library,
    name: str,
    folder: Path,
    installed: Sequence[ModelInfo],
    speed: SpeedEstimate | None,
) -> ReembedEstimate:
    """How many photos switching to the model in ``folder`` embeds again, and how long that
    takes at ``speed``."""
    from clipdesk.model.versions import model_id_of

    counts = library.counts()
    indexable = int(counts.get("ok", 0)) + int(counts.get("pending", 0))
    done = library.embedding_models().get(model_id_of(folder), 0)
    photos = max(0, indexable - done)
    if photos and _shares_vectors(library, folder, installed):
        return ReembedEstimate(name, 0, True, speed.images_per_s if speed else None, 0.0)
    rate = speed.images_per_s if speed else None
    seconds = speed.seconds_for(photos) if speed else None
    return ReembedEstimate(name, photos, False, rate, seconds)
