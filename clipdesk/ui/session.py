"""One open library with its model, index, tags and watcher: the blocking calls the UI runs.

Every method runs in a worker thread (``AppController.call``), never on the GUI thread. It wires
the core pieces together the way the CLI does (scanner -> pipeline -> search index -> tagger) and
returns the UI's small records from :mod:`clipdesk.ui.backend`. torch loads with the model, on a
worker, after the window is painted.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from clipdesk.core.errors import ClipDeskError
from clipdesk.core.progress import CancelToken, Progress
from clipdesk.core.records import PhotoStatus
from clipdesk.core.scanner import Scanner
from clipdesk.core.store import Library
from clipdesk.core.tag_store import TagStore
from clipdesk.ui.backend import (
    FolderRow,
    ModelInfo,
    SearchRequest,
    photo_item,
)
from clipdesk.ui.photo_model import PhotoItem
from clipdesk.ui.session_tags import TagCalls

log = logging.getLogger("clipdesk.ui.session")
Report = Callable[[Progress], None]


class Backend(TagCalls):
    def __init__(self, library: Library) -> None:
        self.library = library
        self.scanner = Scanner(library)
        self.tags = TagStore(library)
        self.model: Any = None
        self.search_index: Any = None  # clipdesk.core.index.VectorIndex of the model's vectors
        self.encoder: Any = None  # clipdesk.core.query.QueryEncoder
        self.tagger: Any = None  # clipdesk.core.tag_service.Tagger
        self._watcher: Any = None
        self._on_change: Callable[[], None] | None = None
        self._scanned_all = False
        self._previous: tuple[Any, Any, Any] | None = None  # (model, index, encoder) during re-embed
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: Path) -> Backend:
        return cls(Library(path))

    def close(self) -> None:
        self.stop_watching()
        self.library.close()

    def photo_count(self) -> int:
        counts = self.library.counts()
        return sum(n for status, n in counts.items() if status != PhotoStatus.MISSING)

    # --- model ------------------------------------------------------------------------------
    def load_model(self, name: str, device: str) -> ModelInfo:
        """Load a model and its vectors. Switching models re-embeds in the next index run; until
        that is complete, search keeps using the previous model and its (complete) vectors."""
        from clipdesk.core.index import VectorIndex
        from clipdesk.core.query import QueryEncoder
        from clipdesk.core.tag_service import Tagger
        from clipdesk.model import load_model
        from clipdesk.model.manager import find_model, resolve_model, set_active_model

        model = load_model(resolve_model(name or None), device=device or "auto")
        if name and find_model(name) is not None:
            set_active_model(name)  # the CLI searches with the same model (and vectors)
        index = VectorIndex(model.dim)
        ids, vectors = self.library.load_vectors(model.id)
        if len(ids):
            index.add(ids, vectors)
        with self._lock:
            old = self.model
            if (old is not None and old.id != model.id and self.search_index is not None
                    and len(self.search_index) and self.library.count_pending(model.id)):
                self._previous = (old, self.search_index, self.encoder)
            elif old is None or old.id != model.id:
                self._previous = None
            self.model, self.search_index = model, index
            self.encoder = QueryEncoder(model, index.vector)
            self.tagger = Tagger(self.library, model, self.tags)
        return self.model_info()

    def model_info(self) -> ModelInfo:
        previous = self._previous[0].name if self._previous is not None else None
        return ModelInfo(self.model.name, self.model.id, str(self.model.device),
                         bool(self.model.is_demo), previous)

    def _searching(self) -> tuple[Any, Any]:
        """(encoder, index) that search uses: the previous model's while re-embedding."""
        with self._lock:
            if self._previous is not None:
                return self._previous[2], self._previous[1]
            return self.encoder, self.search_index

    # --- folders ----------------------------------------------------------------------------
    def folders(self) -> list[FolderRow]:
        counts = self.library.folder_photo_counts()
        rows = []
        for f in self.library.folders():
            c = counts.get(f.id, {})
            rows.append(FolderRow(
                id=f.id, path=str(f.path), status=str(f.status), error=f.error,
                total=sum(n for s, n in c.items() if s != PhotoStatus.MISSING),
                indexed=c.get(PhotoStatus.OK, 0), pending=c.get(PhotoStatus.PENDING, 0),
                errors=c.get(PhotoStatus.ERROR, 0)))
        return rows

    def add_folder(self, path: Path) -> FolderRow:
        """Register a folder (the next index run scans it); refuses what cannot be read."""
        target = os.path.abspath(os.path.expanduser(str(path)))
        if not os.path.isdir(target):
            raise ClipDeskError(f"{target} is not a folder that exists.",
                                "Check the path, or connect the drive it is on.")
        if not os.access(target, os.R_OK | os.X_OK):
            raise ClipDeskError(f"{target} cannot be read.", "Check the folder's permissions.")
        folder = self.library.add_folder(target)
        self._scanned_all = False  # the next run reconciles, and so scans the new folder
        return next(r for r in self.folders() if r.id == folder.id)

    def remove_folder(self, folder_id: int) -> int:
        removed = self.scanner.remove_folder(folder_id)
        self._sync_index()
        return removed

    def folder_errors(self, folder_id: int) -> list[tuple[str, str]]:
        return [(str(p.path), p.error or "unreadable")
                for p in self.library.photos(folder_id=folder_id, statuses=[PhotoStatus.ERROR])]

    # --- indexing ---------------------------------------------------------------------------
    def index(self, report: Report, token: CancelToken) -> Any:
        """Scan (a full reconcile at start and after folders change), then embed what is pending."""
        from clipdesk.core.pipeline import IndexPipeline

        if not self._scanned_all:
            report(Progress(0, None, message="Scanning folders for new, changed and deleted photos…"))
            self.scanner.reconcile(cancel=token, progress=report)
            self._scanned_all = True
            self._sync_index()
            if self._on_change is not None and self._watcher is None:
                self._start_watcher()
        token.raise_if_cancelled()
        model, index, tagger = self.model, self.search_index, self.tagger

        def embedded(ids: np.ndarray, vectors: np.ndarray) -> None:
            index.add(ids, vectors)  # searchable at once, not at the end of the run
            tagger.on_embedded(ids, vectors, model.id)

        result = IndexPipeline(self.library, model, on_embedded=embedded).run(report, token)
        self._sync_index()
        if (not result.cancelled and model is self.model
                and not self.library.count_pending(model.id)):
            with self._lock:
                self._previous = None  # every photo has a vector of the new model: switch search
        return result

    def _sync_index(self) -> None:
        """Make the search indexes hold exactly the ok photos with a vector (after moves/deletes)."""
        ok = {p.id for p in self.library.photos(statuses=[PhotoStatus.OK])}
        pairs = [(self.model, self.search_index)]
        if self._previous is not None:
            pairs.append(self._previous[:2])
        for model, index in pairs:
            if index is None:
                continue
            have = set(index.ids.tolist())
            if have - ok:
                index.remove(sorted(have - ok))
            missing = sorted(ok - have)
            if missing:
                ids, vectors = self.library.vectors_for(model.id, missing)
                if len(ids):
                    index.add(ids, vectors)

    # --- watching ---------------------------------------------------------------------------
    def start_watching(self, on_change: Callable[[], None]) -> None:
        """Watch the folders once the first reconcile has run; ``on_change`` runs on its thread."""
        self._on_change = on_change

    def _start_watcher(self) -> None:
        from clipdesk.core.watcher import Watcher

        def changed(changes) -> None:
            if not changes.empty and self._on_change is not None:
                self._on_change()

        self._watcher = Watcher(self.scanner, changed,
                                on_error=lambda exc: log.warning("watching failed: %s", exc))
        self._watcher.start()

    def stop_watching(self) -> None:
        self._on_change = None
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None

    # --- search -----------------------------------------------------------------------------
    def search(self, req: SearchRequest, token: CancelToken) -> list[PhotoItem]:
        allowed = self._allowed(req)
        token.raise_if_cancelled()
        if not req.needs_model:
            items = self._browse(allowed)
        else:
            from clipdesk.core.query import Query

            encoder, index = self._searching()
            if encoder is None:
                raise ClipDeskError("No model is loaded, so search is off.",
                                    "Choose a model in Settings.")
            query = Query.parse(req.text) if req.text else Query()
            if req.image is not None:
                query = query.with_image(req.image.image or Path(req.image.path or ""))
            if req.like_photo_id is not None:
                query = query.with_photo(req.like_photo_id)
            vector = encoder.encode(query)
            token.raise_if_cancelled()
            hits = index.search(vector, k=req.limit, allowed=allowed,
                                     min_score=req.min_score or None, exclude=query.photo_ids)
            scores = dict(hits.pairs())
            photos = {p.id: p for p in self.library.photos(ids=list(scores))}
            items = [photo_item(photos[i], s) for i, s in scores.items() if i in photos]
        token.raise_if_cancelled()
        if req.sort == "newest":
            items.sort(key=lambda i: i.taken_at or 0.0, reverse=True)
        elif req.sort == "oldest":
            items.sort(key=lambda i: i.taken_at or 0.0)
        return items[: req.limit]

    def _browse(self, allowed: np.ndarray | None) -> list[PhotoItem]:
        photos = self.library.photos(statuses=[PhotoStatus.OK])
        if allowed is not None:
            keep = set(allowed.tolist())
            photos = [p for p in photos if p.id in keep]
        items = [photo_item(p) for p in photos]
        items.sort(key=lambda i: i.taken_at or 0.0, reverse=True)
        return items

    def _allowed(self, req: SearchRequest) -> np.ndarray | None:
        """Photo ids that pass the folder, date and tag filters; None when there is no filter."""
        sets: list[set[int]] = []
        if req.folder_id is not None or req.date_from or req.date_to:
            photos = self.library.photos(folder_id=req.folder_id, statuses=[PhotoStatus.OK])
            sets.append({p.id for p in photos if _in_dates(photo_item(p).taken_at, req)})
        if req.tag is not None:
            tagged = self.tags.allowed_ids([f"{req.tag[0]}|{req.tag[1]}"])
            if tagged is not None:
                sets.append(set(tagged.tolist()))
        if not sets:
            return None
        return np.array(sorted(set.intersection(*sets)), dtype=np.int64)


def _in_dates(ts: float | None, req: SearchRequest) -> bool:
    from datetime import datetime

    if ts is None:
        return False
    day = datetime.fromtimestamp(ts).date()
    return (req.date_from is None or day >= req.date_from) and (req.date_to is None
                                                                or day <= req.date_to)
