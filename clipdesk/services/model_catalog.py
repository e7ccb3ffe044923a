"""The model picker's table, for both faces: every installed and downloadable model with its size,
its speed on this computer, its published quality and its languages (what switching to one costs
is :mod:`clipdesk.services.switch_cost`).

Speeds are the catalog machine's measurements (:mod:`clipdesk.model.speed`) scaled by this
computer's probe once it has run; before that the table shows the catalog machine's own figures
and says so. A model outside the catalog (imported, fine-tuned, the demo) has no speed figure.
A download's time is estimated from this computer's last download, else from a stated assumed
rate (:mod:`clipdesk.services.download_rate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clipdesk.services.download_rate import DownloadRate

if TYPE_CHECKING:
    from clipdesk.model.catalog import CatalogEntry, Figure
    from clipdesk.model.manager import ModelInfo
    from clipdesk.model.speed import CatalogSpeeds, Probe, SpeedEstimate

# The real model a first run with the demo suggests: small and fast enough for a laptop's CPU.
FIRST_DOWNLOAD = "clip-vit-base-patch32"

LANGUAGE_NAMES = {
    "en": "English",
    "de": "German",
    "es": "Spanish",
    "fr": "French",
    "ja": "Japanese",
    "zh": "Chinese",
}


def size_text(n_bytes: int, approx: bool = False) -> str:
    """A size as both faces print it: three significant figures at most ("605 MB", "1.7 GB");
    ``approx`` marks an estimate ("~605 MB"); "" for an unknown (0) size."""
    if not n_bytes:
        return ""
    n, unit = float(n_bytes), "bytes"
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            break
        n /= 1000
    text = f"{n:.0f} {unit}" if unit in ("bytes", "KB") or n >= 100 else f"{n:.1f} {unit}"
    return f"~{text}" if approx else text


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
    # The model's own claim: trained for English queries or for many languages (None: not
    # known, a model outside the catalog). Not the languages its figures were measured in.
    multilingual: bool | None
    language_figures: tuple[Figure, ...]  # published figures by query language, for a tooltip
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
            size_bytes=0, family="", description=f"Loaded from {path}",
            multilingual=None, language_figures=(),
            images_per_s=None, text_ms=None, speed_scaled=False, imagenet=None, recall=None,
            catalog=None, repo_id=None, embed_dim=None, image_size=None,
        )  # fmt: skip

    @property
    def languages_text(self) -> str:
        """What the model claims: "English" or "Multilingual" ("" when not known)."""
        if self.multilingual is None:
            return ""
        return "Multilingual" if self.multilingual else "English"

    def languages_tip(self) -> str:
        """The claim, then each published per-language figure (the languages measured, which
        are fewer than a multilingual model takes)."""
        from clipdesk.model.catalog import METRICS

        if self.multilingual is None:
            return ""
        if not self.multilingual:
            return "Trained for English queries"
        lines = ["Trained for queries in many languages"]
        by_metric: dict[str, list[Figure]] = {}
        for f in self.language_figures:
            by_metric.setdefault(f.metric, []).append(f)
        for metric, figures in by_metric.items():
            values = ", ".join(
                f"{LANGUAGE_NAMES.get(f.language, f.language)} {f.value:.1f}%" for f in figures
            )
            lines.append(f"{METRICS.get(metric, metric)} ({figures[0].source.title}): {values}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        def figure(f: Figure | None) -> dict[str, Any] | None:
            if f is None:
                return None
            return {
                "metric": f.metric,
                "value": f.value,
                "language": f.language,
                "source": f.source.url,
                "note": f.note,
            }

        return {
            "name": self.name,
            "title": self.title,
            "path": self.path,
            "installed": self.installed,
            "active": self.active,
            "demo": self.demo,
            "size_bytes": self.size_bytes,
            "family": self.family,
            "multilingual": self.multilingual,
            "language_figures": [figure(f) for f in self.language_figures],
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
    download: DownloadRate = field(default_factory=DownloadRate.assumed)

    @classmethod
    def empty(cls) -> CatalogTable:
        return cls((), SpeedBasis("", "", None, ""))

    def suggested_download(self) -> CatalogRow | None:
        """The real model to suggest beside the demo (:data:`FIRST_DOWNLOAD`), unless some
        real model is installed already."""
        if any(r.installed and not r.demo for r in self.rows):
            return None
        return next((r for r in self.rows if r.name == FIRST_DOWNLOAD and not r.installed), None)

    def download_text(self, row: CatalogRow) -> str:
        """A row's download, e.g. "~605 MB, about 1 min at 10 MB/s" ("" when installed)."""
        if row.installed or not row.size_bytes:
            return ""
        return f"{size_text(row.size_bytes, approx=True)}, {self.download.estimate(row.size_bytes)}"

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
            "download_rate": self.download.to_json(),
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def entry_of(info: ModelInfo) -> CatalogEntry | None:
    """The catalog entry an installed model was downloaded as, by the origin its download
    recorded in clipdesk.json (``"source": "download"``, ``"origin": "<endpoint>/<repo>"``).
    Never by name: an import may reuse a catalog name, and its folder path may even end in a
    repository's name; neither makes it that model."""
    from clipdesk.model.catalog import CATALOG

    origin = info.origin
    entry = next((e for e in CATALOG.values() if origin.endswith("/" + e.repo_id)), None)
    # ModelInfo does not say whether the origin is a download's or an import's path, so only
    # a folder whose origin names a catalog repository has its clipdesk.json read again.
    if entry is None or read_meta(info.path).get("source") != "download":
        return None
    return entry


def read_meta(folder: Path) -> dict[str, Any]:
    """A model folder's clipdesk.json ({} when it has none or it is unreadable)."""
    from clipdesk.model.manager import _read_meta

    return _read_meta(folder)


def _multilingual(entry: CatalogEntry | None) -> bool | None:
    # The catalog lists a multilingual model's languages as those its published figures
    # cover; an English-only model lists English alone.
    return None if entry is None else entry.languages != ("en",)


def _language_figures(entry: CatalogEntry | None) -> tuple[Figure, ...]:
    """The figures of every metric published in more than English, English included."""
    if entry is None:
        return ()
    metrics = {f.metric for f in entry.figures if f.language != "en"}
    return tuple(f for f in entry.figures if f.metric in metrics)


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
        multilingual=_multilingual(entry),
        language_figures=_language_figures(entry),
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
    download: DownloadRate | None = None,
) -> CatalogTable:
    """Installed models first (in the manager's order), then the catalog's others; download
    times at ``download`` (default: the assumed rate)."""
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
    return CatalogTable(tuple(rows), basis, download or DownloadRate.assumed())
