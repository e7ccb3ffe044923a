"""One open library for the app: the blocking calls the UI runs in its worker pools.

A thin layer over :class:`clipdesk.services.app.ClipDeskServices` (the facade the CLI drives too)
plus the tag store, returning the UI's small records from :mod:`clipdesk.ui.rows`. Every
method runs in a worker thread (``AppController.call``), never on the GUI thread; torch loads with
the model, on a worker, after the window is painted.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from clipdesk.common.errors import ClipDeskError
from clipdesk.common.progress import CancelToken, Progress
from clipdesk.library.records import PhotoStatus
from clipdesk.library.store import Library
from clipdesk.services.app import ClipDeskServices
from clipdesk.tags.store.tag_store import TagStore
from clipdesk.ui.photo_model import PhotoItem
from clipdesk.ui.rows import (
    FolderRow,
    ModelInfo,
    SearchRequest,
    photo_item,
)
from clipdesk.ui.session_tags import TagCalls

log = logging.getLogger("clipdesk.ui.backend")
Report = Callable[[Progress], None]


class Backend(TagCalls):
    """The UI's handle on :class:`~clipdesk.services.app.ClipDeskServices` (the CLI's facade)."""

    def __init__(self, services: ClipDeskServices) -> None:
        self.services = services
        self.library: Library = services.library
        self.tags = TagStore(self.library)
        self._tagger: Any = None
        self._watcher: Any = None
        self._on_change: Callable[[], None] | None = None
        # A full reconcile runs when the folders changed since the last one (and at start);
        # counters, not a flag, so a folder added during a scan is not marked scanned by it.
        self._folders_changed = 1
        self._scanned = 0
        self._lock = threading.RLock()
        services.add_embedded_listener(self._tag_new_photos)

    @classmethod
    def open(cls, path: Path, model: str = "", device: str = "auto") -> Backend:
        """Open the library now (errors surface here); the model loads in :meth:`load_model`."""
        return cls(ClipDeskServices(path, model=model or None, device=device or "auto"))

    def close(self) -> None:
        self.stop_watching()
        self.services.close()

    def photo_count(self) -> int:
        counts = self.library.counts()
        return sum(n for status, n in counts.items() if status != PhotoStatus.MISSING)

    # --- model ------------------------------------------------------------------------------
    @property
    def model(self) -> Any:
        """The model whose vectors search and tags use (the previous one while re-embedding)."""
        return self.services.search_model()

    @property
    def tagger(self) -> Any:
        from clipdesk.tags.tagger import Tagger

        model = self.model
        with self._lock:
            if self._tagger is None or self._tagger.model.id != model.id:
                self._tagger = Tagger(self.library, model, self.tags)
            return self._tagger

    def load_model(self, name: str, device: str) -> ModelInfo:
        """Load the chosen model (and the search index). A new model is re-embedded by the next
        index run; search stays on the previous model until every photo has a new vector."""
        from clipdesk.model.manager import find_model, set_active_model

        services = self.services
        if (name or None) != services._model_source or (device or "auto") != services.device:
            services.device = device or "auto"
            services.set_model(name or None)
        active = services.model  # loads torch and the weights
        services.searcher()  # reads the vectors into the search index
        if name and find_model(name) is not None:
            set_active_model(name)  # the CLI searches with the same model (and vectors)
        return self.model_info(active)

    def model_info(self, active: Any = None) -> ModelInfo:
        active = active or self.services.model
        searching = self.model
        return ModelInfo(
            active.name,
            active.id,
            str(active.device),
            bool(active.is_demo),
            searching.name if searching.id != active.id else None,
        )

    def _tag_new_photos(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        from clipdesk.tags.tagger import tag_new_photos

        tagger = self.tagger
        tag_new_photos(tagger, ids, vectors, tagger.model.id)

    # --- folders ----------------------------------------------------------------------------
    def folders(self) -> list[FolderRow]:
        counts = self.library.folder_photo_counts()
        rows = []
        for f in self.library.folders():
            c = counts.get(f.id, {})
            rows.append(
                FolderRow(
                    id=f.id,
                    path=str(f.path),
                    status=str(f.status),
                    error=f.error,
                    total=sum(n for s, n in c.items() if s != PhotoStatus.MISSING),
                    indexed=c.get(PhotoStatus.OK, 0),
                    pending=c.get(PhotoStatus.PENDING, 0),
                    errors=c.get(PhotoStatus.ERROR, 0),
                )
            )
        return rows

    def add_folder(self, path: Path) -> FolderRow:
        """Register a folder (the next index run scans it); refuses what cannot be read."""
        target = os.path.abspath(os.path.expanduser(str(path)))
        if not os.path.isdir(target):
            raise ClipDeskError(
                f"{target} is not a folder that exists.",
                "Check the path, or connect the drive it is on.",
            )
        if not os.access(target, os.R_OK | os.X_OK):
            raise ClipDeskError(f"{target} cannot be read.", "Check the folder's permissions.")
        folder = self.library.add_folder(target)
        with self._lock:
            self._folders_changed += 1  # the next run reconciles, and so scans the new folder
        return next(r for r in self.folders() if r.id == folder.id)

    def remove_folder(self, folder_id: int) -> int:
        return self.services.remove_folder(folder_id)

    def folder_errors(self, folder_id: int) -> list[tuple[str, str]]:
        return [
            (str(p.path), p.error or "unreadable")
            for p in self.library.photos(folder_id=folder_id, statuses=[PhotoStatus.ERROR])
        ]

    # --- indexing ---------------------------------------------------------------------------
    def index(self, report: Report, token: CancelToken) -> Any:
        """Reconcile with the disk (at start and after folders change), then embed what is
        pending; the watcher starts after the first reconcile."""
        with self._lock:
            wanted = self._folders_changed
        if self._scanned != wanted:
            report(
                Progress(0, None, message="Scanning folders for new, changed and deleted photos…")
            )
            self.services.scan(cancel=token, progress=report)
            self._scanned = wanted
            if self._on_change is not None and self._watcher is None:
                self._watcher = self.services.watch(
                    lambda changes: (
                        self._on_change() if self._on_change and not changes.empty else None
                    ),
                    on_error=lambda exc: log.warning("watching failed: %s", exc),
                )
        token.raise_if_cancelled()
        return self.services.index(progress=report, cancel=token)

    # --- watching ---------------------------------------------------------------------------
    def start_watching(self, on_change: Callable[[], None]) -> None:
        """Watch the folders once the first reconcile has run; ``on_change`` runs on its thread."""
        self._on_change = on_change

    def stop_watching(self) -> None:
        self._on_change = None
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None

    # --- search -----------------------------------------------------------------------------
    def search(self, req: SearchRequest, token: CancelToken) -> list[PhotoItem]:
        allowed = self._tagged(req)
        token.raise_if_cancelled()
        if not req.needs_model:
            items = self._browse(req, allowed)
        else:
            from clipdesk.search.query import Query
            from clipdesk.search.searcher import SearchFilters

            query = Query.parse(req.text) if req.text else Query()
            if req.image is not None:
                query = query.with_image(req.image.image or Path(req.image.path or ""))
            if req.like_photo_id is not None:
                query = query.with_photo(req.like_photo_id)
            filters = SearchFilters(
                folders=[req.folder_id] if req.folder_id is not None else None,
                date_from=req.date_from,
                date_to=req.date_to,
                allowed_ids=allowed,
                min_score=req.min_score or None,
            )
            results = self.services.search(query, k=req.limit, filters=filters)
            items = [photo_item(r.photo, r.score) for r in results]
        token.raise_if_cancelled()
        if req.sort == "newest":
            items.sort(key=lambda i: i.taken_at or 0.0, reverse=True)
        elif req.sort == "oldest":
            items.sort(key=lambda i: i.taken_at or 0.0)
        return items[: req.limit]

    def _tagged(self, req: SearchRequest) -> np.ndarray | None:
        if req.tag is None:
            return None
        return self.tags.allowed_ids([f"{req.tag[0]}|{req.tag[1]}"])

    def _browse(self, req: SearchRequest, allowed: np.ndarray | None) -> list[PhotoItem]:
        """The library without a query (filters apply), newest first unless asked otherwise."""
        photos = self.library.photos(folder_id=req.folder_id, statuses=[PhotoStatus.OK])
        keep = set(allowed.tolist()) if allowed is not None else None
        items = [photo_item(p) for p in photos if keep is None or p.id in keep]
        items = [i for i in items if _in_dates(i.taken_at, req)]
        items.sort(key=lambda i: i.taken_at or 0.0, reverse=req.sort != "oldest")
        return items


def _in_dates(ts: float | None, req: SearchRequest) -> bool:
    from datetime import datetime

    if req.date_from is None and req.date_to is None:
        return True
    if ts is None:
        return False
    day = datetime.fromtimestamp(ts).date()
    return (req.date_from is None or day >= req.date_from) and (
        req.date_to is None or day <= req.date_to
    )
