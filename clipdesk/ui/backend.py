"""One open library for the app: the blocking calls the UI runs in its worker pools.

An adapter over :class:`clipdesk.services.app.ClipDeskServices` (the facade the CLI drives too),
turning its records into the UI's small rows of :mod:`clipdesk.ui.rows`. Every
method runs in a worker thread (``AppController.call``), never on the GUI thread; torch loads with
the model, on a worker, after the window is painted.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from clipdesk.common.fsnames import shown
from clipdesk.common.progress import CancelToken, Progress
from clipdesk.services.ann import AnnReport, AnnStatus
from clipdesk.services.app import ClipDeskServices
from clipdesk.services.folders import FolderNode, FolderRecord
from clipdesk.services.models import LoadedModel
from clipdesk.services.records import OcrBacklog, OcrReport, SwitchCost
from clipdesk.services.search import PhotoSearch
from clipdesk.ui.photo_model import PhotoItem
from clipdesk.ui.photo_rows import PAGE
from clipdesk.ui.rows import (
    FolderChoice,
    FolderProblem,
    FolderRow,
    ModelInfo,
    SearchAnswer,
    SearchRequest,
    photo_item,
    tag_focus,
)
from clipdesk.ui.tag_views import TagViews

log = logging.getLogger(__name__)
Report = Callable[[Progress], None]


class Backend:
    """The UI's handle on :class:`~clipdesk.services.app.ClipDeskServices` (the CLI's facade)."""

    def __init__(self, services: ClipDeskServices) -> None:
        self.services = services
        _ = services.library  # opened now: a locked or foreign file fails in open(), not later
        self.tags = TagViews(services)  # categories, review, previews, XMP (TagService)
        self._watcher: Any = None
        self._on_change: Callable[[], None] | None = None
        # A full reconcile runs when the folders changed since the last one (and at start);
        # counters, not a flag, so a folder added during a scan is not marked scanned by it.
        self._folders_changed = 1
        self._scanned = 0
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: Path | None = None, model: str = "", device: str = "") -> Backend:
        """Open the library now (errors surface here); the model loads in :meth:`load_model`.
        By default the library, model and device the shared settings name (as the CLI's)."""
        services = ClipDeskServices(path, model=model or None, device=device or None)
        # A model owed an export loads on PyTorch, and the controller's background job
        # exports it (prepare_model) rather than the load waiting for it.
        services.defer_exports = True
        return cls(services)

    def close(self) -> None:
        self.stop_watching()
        self.services.close()

    def photo_count(self) -> int:
        """The status bar's count: the same number ``clipdesk-cli status`` reports."""
        return self.services.status_report.photo_count()

    # --- model ------------------------------------------------------------------------------
    @property
    def model(self) -> Any:
        """The model whose vectors search and tags use (the previous one while re-embedding)."""
        return self.services.search_model()

    def load_model(self) -> ModelInfo:
        """Load the active model (and the search index). A new model is re-embedded by the next
        index run; search stays on the previous model until every photo has a new vector."""
        return _model_row(self.services.models.load())

    def activate_model(self, name: str, device: str | None = None) -> ModelInfo:
        """Make ``name`` (empty: the default) the active model for both faces, then load it."""
        self.services.models.activate(name or None, device)
        return self.load_model()

    def model_info(self) -> ModelInfo:
        return _model_row(self.services.models.loaded())

    def prepare_model(self, report: Report, token: CancelToken) -> ModelInfo:
        """Export the model for ONNX Runtime where it is owed one, then serve it with ONNX
        Runtime (jobs pool: a ViT-B/32 takes about a minute)."""
        return _model_row(self.services.models.prepare_active(report, token))

    def reload_model(self) -> ModelInfo:
        """The same model, loaded again on the runtime the settings name now (model pool; waits
        for an index run to end)."""
        self.services.reload_model()
        return self.load_model()

    def switch_cost(self, name: str) -> SwitchCost | None:
        """What switching to ``name`` costs, as far as counts and small files tell (db pool)."""
        return self.services.models.switch_cost(name)

    def identify_models(self, cost: SwitchCost, report: Report, token: CancelToken) -> SwitchCost:
        """The weights ``cost`` still needs hashed (jobs pool: seconds to minutes a model)."""
        return self.services.models.identify(cost, token, report)

    # --- folders ----------------------------------------------------------------------------
    def folders(self) -> list[FolderRow]:
        return [_folder_row(r) for r in self.services.folders.list()]

    def add_folder(self, path: Path) -> FolderRow:
        """Check and register a folder (the checks and messages of ``clipdesk-cli folders add``);
        the next index run scans it, so the window never waits for the walk."""
        added = self.services.folders.add(path, scan=False)
        with self._lock:
            self._folders_changed += 1  # the next run reconciles, and so scans the new folder
        return _folder_row(added.record)

    def remove_folder(self, folder_id: int) -> int:
        return self.services.folders.remove(folder_id)

    def relocate_folder(self, folder_id: int, new_path: Path, token: CancelToken) -> str:
        """Point a folder at its new location; the summary says what was kept."""
        moved = self.services.folders.relocate(folder_id, new_path, cancel=token)
        self._folders_changed += 1
        return (
            f"{moved.kept:,} photos kept their tags and decisions, {moved.changed:,} changed "
            f"(indexed again), {moved.unmatched:,} not found there (missing)."
        )

    def purge_rule(self) -> str:
        return self.services.folders.purge_rule()

    def folder_errors(self, folder_id: int | None = None) -> list[FolderProblem]:
        """The files that could not be read, and why: of one folder, or (None) of every one;
        a folder that cannot be read itself (or a subfolder of it) first."""
        folders = self.services.folders.list()
        if folder_id is not None:
            folders = [f for f in folders if f.id == folder_id]
        roots = {f.id: str(f.path) for f in folders}
        out = [
            FolderProblem("", shown(f.path), shown(f.error)) for f in folders if f.error is not None
        ]
        for p in self.services.folders.errors(folder_id):
            root = roots.get(p.folder_id) if p.folder_id is not None else None
            # the file as the folder holds it: its subfolders say where to look
            name = os.path.relpath(p.path, root) if root else os.path.basename(p.path)
            out.append(
                FolderProblem(shown(name), shown(root or ""), shown(p.reason), shown(p.path))
            )
        return out

    def folder_tree(self) -> list[FolderChoice]:
        """The folder filter's tree: watched folders and their subfolders, with the photos
        search finds in each (one grouped query, cached until the library changes)."""
        return [_choice(node) for node in self.services.folders.tree()]

    def retry_errors(self, folder_id: int | None = None) -> int:
        """Queue a folder's photos in error again ("Retry failed"); the next index run reads them."""
        return int(self.services.folders.retry_errors(folder_id))

    # --- indexing ---------------------------------------------------------------------------
    def index(self, report: Report, token: CancelToken, embed: bool = True) -> Any:
        """Reconcile with the disk (at start and after folders change), then embed what is
        pending (not with ``embed=False``: indexing is paused, the counts stay honest). The
        watcher starts before the first reconcile, as ``clipdesk-cli watch`` does: a file
        arriving during or just after the scan is caught by it instead of falling between
        the two."""
        with self._lock:
            wanted = self._folders_changed
        if self._scanned != wanted:
            with self._lock:  # never a watcher started after stop_watching (a quit, a switch)
                if self._on_change is not None and self._watcher is None:
                    self._watcher = self.services.watch(
                        self._changed_on_disk,
                        on_error=lambda exc: log.warning("watching failed: %s", exc),
                    )
            report(
                Progress(0, None, message="Scanning folders for new, changed and deleted photos…")
            )
            self.services.folders.scan(cancel=token, progress=report)
            self._scanned = wanted
        token.raise_if_cancelled()
        if not embed:
            return None
        return self.services.index(progress=report, cancel=token)

    # --- the approximate search index of a large library ----------------------------------
    def keep_search_index(self, report: Report, token: CancelToken) -> AnnReport:
        """After each index job (jobs pool): build the approximate search index when one is
        due, save it when it changed (``app.ann.maintain``); a moment for most libraries,
        which search exactly."""
        return self.services.ann.maintain(progress=report, cancel=token)

    def search_index_status(self) -> AnnStatus:
        return self.services.ann.status()

    def set_ann_threshold(self, vectors: int | None) -> AnnStatus:
        """The library's threshold (None: automatic), for the CLI too."""
        return self.services.ann.set_threshold(vectors)

    # --- reading text ---------------------------------------------------------------------
    def read_text(self, report: Report, token: CancelToken) -> OcrReport:
        """The pass that reads the text in photos (ocr pool), after each index job: until
        nothing is owed or ``token`` is cancelled (an index job starts, a pause, a quit), which
        it obeys at once (see :mod:`clipdesk.services.ocr`)."""
        return self.services.ocr.run(cancel=token, progress=report)

    def text_backlog(self) -> OcrBacklog:
        """What is left to read and what it costs (the status line's words)."""
        return self.services.ocr.backlog()

    def ocr_enabled(self) -> bool:
        return self.services.ocr.enabled

    def set_ocr_enabled(self, on: bool) -> OcrBacklog:
        """The global switch (Settings), for the CLI too: it is kept in the library."""
        self.services.ocr.set_enabled(on)
        return self.services.ocr.backlog()

    def set_folder_ocr(self, folder_id: int, on: bool) -> FolderRow:
        """One folder's switch (the Folders page)."""
        return _folder_row(self.services.ocr.set_folder(folder_id, on))

    # --- watching ---------------------------------------------------------------------------
    def start_watching(self, on_change: Callable[[], None]) -> None:
        """Watch the folders from the next index run's reconcile on; ``on_change`` runs on the
        watcher's thread."""
        self._on_change = on_change

    def stop_watching(self) -> None:
        with self._lock:
            self._on_change = None
            watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()

    def _changed_on_disk(self, changes: Any) -> None:  # the watcher's thread
        on_change = self._on_change  # read once: stop_watching may clear it meanwhile
        if on_change is not None and not changes.empty:
            on_change()

    # --- search -----------------------------------------------------------------------------
    def search(self, req: SearchRequest, token: CancelToken, first: int = PAGE) -> SearchAnswer:
        """The grid's photos for a request: searched, or browsed without a query (filters,
        dates and order applied by the services, as for ``clipdesk-cli search``). Every
        match's id and score, and the rows of the first ``first`` only: the grid reads the
        rest by page (:meth:`photo_items`) as the user scrolls."""
        token.raise_if_cancelled()
        image = None
        if req.image is not None:
            image = req.image.image or Path(req.image.path or "")
        ranking = self.services.rank(
            PhotoSearch(
                text=req.text,
                image=image,
                like_photo=req.like_photo_id,
                folders=[req.folder] if req.folder is not None else None,
                tags=[f"{req.tag[0]}|{req.tag[1]}"] if req.tag is not None else (),
                date_from=req.date_from,
                date_to=req.date_to,
                min_score=req.min_score or None,
                min_rating=req.min_rating,
                labels=(req.label,) if req.label else (),
                sort=req.sort,  # type: ignore[arg-type]
                limit=req.limit,
            )
        )
        token.raise_if_cancelled()
        covered = min(first, len(ranking))
        scores = ranking.scores[:covered] if ranking.scores is not None else None
        focus = tag_focus(req)
        items = self.photo_items(ranking.ids[:covered], scores, ranking.matches, focus)
        return SearchAnswer(ranking.ids, ranking.scores, tuple(items), covered, ranking.matches)

    def photo_items(
        self,
        ids: np.ndarray,
        scores: np.ndarray | None = None,
        matches: Any = None,
        focus: Sequence[str] = (),
    ) -> list[PhotoItem]:
        """The grid rows of a page of an answer, in its order (photos gone since left out),
        with why each matched given the answer's ``matches``, and how many of their tags (of
        the ``focus`` tag filter's, when given) are the model's suggestions only."""
        found = self.services.found_photos(ids, scores, matches)
        suggested = self.services.tags.suggested_counts([f.photo.id for f in found], focus)
        return [
            photo_item(f.photo, f.score, f.matched_by, f.snippet, suggested.get(f.photo.id, 0))
            for f in found
        ]

    def search_runtime(self) -> str:
        """The runtime(s) a search compares, for the status line ("ONNX Runtime int8")."""
        from clipdesk.services.search import search_runtime_note

        return search_runtime_note(self.services)


def _folder_row(record: FolderRecord) -> FolderRow:
    return FolderRow(
        id=record.id,
        path=shown(record.path),  # shown only: the folder is named by its id
        status=record.status,
        error=shown(record.error) if record.error else record.error,
        total=record.present,
        indexed=record.indexed,
        pending=record.pending,
        errors=record.errors,
        purge_text=record.purge.text if record.purge is not None else None,
        ocr=record.folder.ocr,
        scanned=record.folder.last_scan is not None,
    )


def _choice(node: FolderNode) -> FolderChoice:
    return FolderChoice(
        node.path,
        shown(node.name),
        node.photos,
        tuple(_choice(c) for c in node.children),
        node.folder_id,
    )


def _model_row(loaded: LoadedModel) -> ModelInfo:
    from clipdesk.services.runtimes import describe

    return ModelInfo(
        loaded.name,
        loaded.id,
        loaded.device,
        loaded.is_demo,
        loaded.searching_with,
        loaded.recovered,
        describe(loaded.runtime),
        loaded.prepare,
        loaded.runtime_note,
    )
