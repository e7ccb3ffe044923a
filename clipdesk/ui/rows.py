"""The rows the UI shows (folders, photo details, tags, review items, models) and model helpers.

Small immutable records made from core records in worker threads (see :mod:`clipdesk.ui.backend`),
so widgets never touch the database. Nothing here imports Qt or torch at import time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clipdesk.common.fsnames import shown
from clipdesk.common.progress import CancelToken, Progress
from clipdesk.ui.drops import QueryImage
from clipdesk.ui.photo_model import PhotoItem, describe_date

if TYPE_CHECKING:
    import numpy as np

    from clipdesk.services.models import ModelService
    from clipdesk.services.records import CatalogEntry, CatalogTable

Report = Callable[[Progress], None]
RESULT_LIMIT = 100_000  # the grid scrolls smoothly through this many (ids; rows read by page)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    id: str
    device: str
    is_demo: bool
    searching_with: str | None = None  # the previous model, while re-embedding for this one
    recovered: tuple[str, ...] = ()  # what the start-up sweep of the models folder did
    runtime: str = ""  # what serves it, for people: "ONNX Runtime int8", "PyTorch fp32"
    prepare: bool = False  # owed an export for ONNX Runtime: a background job does it
    runtime_note: str = ""  # why ONNX Runtime does not serve it where it should

    def runtime_text(self) -> str:
        """One line on what runs the model, for the status bar and Settings."""
        if self.prepare:
            return f"{self.runtime}; preparing it for ONNX Runtime"
        if self.runtime_note:
            return (
                f"{self.runtime}: it could not be prepared for ONNX Runtime ({self.runtime_note})"
            )
        return self.runtime


@dataclass(frozen=True)
class Installed:
    """A model the panel installed, and what its preparation for ONNX Runtime said."""

    name: str
    note: str = ""  # set when the export failed or was cancelled (the model runs on PyTorch)


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: str
    is_demo: bool
    description: str = ""

    @property
    def title(self) -> str:
        return f"{self.name} — demo model" if self.is_demo else self.name


@dataclass(frozen=True)
class FolderRow:
    id: int
    path: str
    status: str  # ok | offline | error
    error: str | None
    total: int
    indexed: int
    pending: int
    errors: int
    # missing photos and the day the purge removes them, offline ones kept (services' words)
    purge_text: str | None = None
    ocr: bool = True  # the text in its photos is read (the folder's switch)
    scanned: bool = True  # a scan of it has finished: until then its counts are not all there

    @property
    def state_text(self) -> str:
        if self.status == "offline":
            return "Offline (drive or share not connected)"
        if self.status == "error":
            return f"Cannot read: {self.error}" if self.error else "Cannot read"
        if not self.scanned:  # never "Up to date" over files nobody has looked at yet
            return "Not scanned yet"
        if self.pending:
            return "Indexing"
        return "Up to date"


@dataclass(frozen=True)
class FolderProblem:
    """A file that could not be read (or, with no ``file``, a folder that cannot be), and why."""

    file: str  # the file's name, for people; "" for the folder itself
    folder: str  # its watched folder, for people
    reason: str
    path: str = ""  # the file's whole path, for people


@dataclass(frozen=True)
class FolderChoice:
    """A folder of the folder filter's tree: a watched folder or one inside it, with the
    photos search finds there (its subfolders' included)."""

    path: str  # exact (a name that is not UTF-8 keeps its bytes); a watched folder's: shown
    name: str  # for people: a watched folder's whole path, a subfolder's own name
    photos: int
    children: tuple[FolderChoice, ...] = ()
    folder_id: int | None = None  # set for a watched folder

    @property
    def key(self) -> int | str:
        """What SearchRequest.folder takes: a watched folder's id, a subfolder's exact path."""
        return self.folder_id if self.folder_id is not None else self.path

    def walk(self) -> list[FolderChoice]:
        """This folder and every folder below it, depth first."""
        out = [self]
        for child in self.children:
            out += child.walk()
        return out


@dataclass(frozen=True)
class SearchRequest:
    text: str = ""
    image: QueryImage | None = None
    like_photo_id: int | None = None
    folder: int | str | None = None  # a watched folder's id or a folder inside one (.key)
    tag: tuple[str, str] | None = None  # (category, label)
    date_from: date | None = None
    date_to: date | None = None
    min_score: float = 0.0
    min_rating: int | None = None  # 1-5 stars at least
    label: str | None = None  # a colour label: "Red", "Yellow", "Green", "Blue", "Purple"
    sort: str = "relevance"  # relevance | newest | oldest | rating
    limit: int = RESULT_LIMIT

    @property
    def is_search(self) -> bool:
        """A search (text, an image, a photo to look like) rather than the library browsed."""
        return bool(self.text or self.image is not None or self.like_photo_id is not None)

    @property
    def needs_model(self) -> bool:
        """Whether the model must be loaded to answer: not for ``text:`` phrases alone."""
        from clipdesk.services.search import needs_model  # parses the query; numpy is loaded

        with_image = self.image is not None or self.like_photo_id is not None
        return self.is_search and needs_model(self.text, with_image)


def tag_focus(req: SearchRequest) -> tuple[str, ...]:
    """The tag expressions a request's grid is filtered by: only their suggestions are marked
    on its thumbnails (a photo found by a confirmed tag is not marked for another's)."""
    return (f"{req.tag[0]}|{req.tag[1]}",) if req.tag is not None else ()


@dataclass(frozen=True)
class SearchAnswer:
    """What the grid shows for a :class:`SearchRequest`: every match's photo id (and score) in
    order, and the rows of the first screen; the grid reads the others as it scrolls, with
    ``matches`` (why each matched: the services' Matches, None when browsing)."""

    ids: np.ndarray  # int64 [n]
    scores: np.ndarray | None  # float32 [n]; None when browsing or for words only
    first: tuple[PhotoItem, ...]  # the rows of ids[:covered], photos gone meanwhile left out
    covered: int
    matches: Any = None

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class TagRow:
    category: str
    label: str
    score: float | None
    state: str  # suggested | confirmed | rejected

    def describe(self) -> str:
        mark = {"confirmed": "✓", "rejected": "✗"}.get(self.state, "?")
        score = f"  {self.score:.2f}" if self.score is not None else ""
        return f"{mark} {self.category}: {self.label}{score}  ({self.state})"


@dataclass(frozen=True)
class PhotoDetails:
    path: str
    size: int
    width: int | None
    height: int | None
    taken: float  # POSIX seconds, as the date filter and the grid date it (EXIF, else the file)
    taken_from_exif: bool  # False: the file's modification time stands in
    camera: str | None
    status: str
    error: str | None
    tags: tuple[TagRow, ...]

    def fields(self) -> list[tuple[str, str]]:
        out = [
            ("File", shown(os.path.basename(self.path))),
            ("Folder", shown(os.path.dirname(self.path))),
        ]
        if self.taken_from_exif:  # worded as the grid's tooltip: the date the filter uses
            out.append(("Taken", describe_date(self.taken)))
        else:
            out.append(
                ("File date", f"{describe_date(self.taken)} (modified; no date in the photo)")
            )
        if self.width and self.height:
            out.append(("Size", f"{self.width} × {self.height} px, {_bytes(self.size)}"))
        else:
            out.append(("Size", _bytes(self.size)))
        if self.camera:
            out.append(("Camera", self.camera))
        if self.status != "ok":
            out.append(("Status", f"{self.status}: {self.error}" if self.error else self.status))
        return out


@dataclass(frozen=True)
class ReviewItem:
    photo: PhotoItem
    category: str
    label: str
    score: float
    threshold: float


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


def photo_item(
    photo: Any,
    score: float | None = None,
    matched_by: tuple[str, ...] = (),
    snippet: str | None = None,
    suggested: int = 0,
) -> PhotoItem:
    """A grid row from a Photo record, dated as the date filter dates it (EXIF, else mtime);
    ``suggested``: how many of its tags are the model's suggestions only."""
    from clipdesk.services.search import taken_timestamp  # worker side: keeps torch off start-up

    return PhotoItem(
        photo.id,
        str(photo.path),
        score,
        taken_timestamp(photo),
        tuple(matched_by),
        snippet,
        suggested,
        rating=photo.rating or 0,
        label=photo.color_label,
    )


# --- models: no library needed (the welcome page lists them before one is open) ------------
def _models() -> ModelService:
    from clipdesk.services.models import ModelService

    return ModelService()


def list_models() -> list[ModelEntry]:
    return [ModelEntry(m.name, str(m.path), m.demo, m.description) for m in _models().installed()]


def import_model(path: str, report: Report, token: CancelToken) -> Installed:
    """Import, then prepare for ONNX Runtime (its steps reported too)."""
    report(Progress(0, None, message=f"Checking {os.path.basename(path)}…"))
    done = _models().import_model(Path(path), on_clash="rename", progress=report, cancel=token)
    return _installed(done)


def download_model(repo: str, report: Report, token: CancelToken) -> Installed:
    """Download and install, then prepare for ONNX Runtime (its steps reported too)."""
    return _installed(_models().download(repo, on_clash="rename", progress=report, cancel=token))


def _installed(done: Any) -> Installed:
    runtime = done.runtime
    return Installed(done.name, "" if runtime.ok or runtime.outcome == "skipped" else runtime.note)


def download_catalog() -> list[CatalogEntry]:
    return _models().catalog()


def catalog_table() -> CatalogTable:
    """Installed and downloadable models, with speeds, published quality and languages."""
    return _models().catalog_table()


def speed_probed() -> bool:
    return _models().speed_probed()


def probe_speed(token: CancelToken) -> None:
    _models().probe_speed(cancel=token)


def device_names() -> list[str]:
    return _models().devices()
