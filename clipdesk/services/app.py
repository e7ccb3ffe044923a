"""ClipDesk's services: the one facade the CLI and the GUI both drive (no Qt here).

::

    with ClipDeskServices(library_path=None, model=None, device="auto") as app:
        app.folders.add("~/Pictures")          # checks, registers and scans
        app.index(progress=print)              # embeds everything pending
        app.ocr.run(progress=print)            # then reads the text in the new photos
        for hit in app.search("a red circle", k=20):
            print(hit.score, hit.photo.path)
        app.search_image("query.jpg"); app.more_like_this(photo_id)
        app.find(PhotoSearch(text="beach", date_from="2023-06-01", sort="newest"))
        app.status_report.report()             # counts, models, pending, errors

Everything is lazy: the library opens on first use, the model loads on the first call that needs
it (default: the model the user made active, else the bundled demo model, through
:mod:`clipdesk.model.manager`), the search index is read on the first search.

Changing the model: :meth:`set_model` makes another model active. Indexing then embeds every
photo again with it (in the background in the app), while searches keep using the previous
model and its vectors; when nothing is pending for the new model any more, :meth:`index` switches
search over to it and deletes the old vectors. The switch is recorded in the library, so an
interrupted re-embedding resumes on the next start with search still on the old model.

Threads: any method may be called from any thread. Model and index loads are guarded so they
happen once; one indexing run at a time (a second caller waits for the first); searches run
concurrently with indexing (the index has its own lock, SQLite reads use WAL snapshots).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from clipdesk.common.errors import ClipDeskError
from clipdesk.common.progress import CancelToken, ProgressCallback
from clipdesk.indexing.report import EmbeddedHook, IndexReport
from clipdesk.library.store import SEARCH_MODEL_KEY
from clipdesk.search.query import Query, QueryEncoder
from clipdesk.search.results import SearchFilters, SearchResult
from clipdesk.search.scores import ScoreScale, score_scale
from clipdesk.services.settings import SettingsService, resolve_library_path

if TYPE_CHECKING:
    from PIL import Image

    from clipdesk.library.records import Photo
    from clipdesk.library.store import Library
    from clipdesk.model.engine import ClipModel
    from clipdesk.scanning.scanner import ChangeSet, Scanner
    from clipdesk.scanning.watcher import Watcher
    from clipdesk.search.searcher import Searcher
    from clipdesk.services.ann import AnnService
    from clipdesk.services.folders import FolderService
    from clipdesk.services.heads import HeadService
    from clipdesk.services.library_file import LibraryFileService
    from clipdesk.services.models import ModelService
    from clipdesk.services.ocr import OcrService
    from clipdesk.services.ratings import RatingService
    from clipdesk.services.runtimes import RuntimeService
    from clipdesk.services.search import FoundPhoto, Matches, PhotoSearch, Ranking
    from clipdesk.services.status import StatusService
    from clipdesk.services.steps import StepService
    from clipdesk.services.tags import TagService
    from clipdesk.services.training import TrainingService
    from clipdesk.services.vectors import VectorService

log = logging.getLogger(__name__)


class ClipDeskServices:
    def __init__(
        self,
        library_path: str | Path | None = None,
        model: Any = None,
        device: str | None = None,
        *,
        index_dtype: str = "float16",
        runtime: str | None = None,
        create_library: bool = True,
    ) -> None:
        """``library_path``: None is the library chosen in the settings (see
        :func:`~clipdesk.services.settings.resolve_library_path`). ``model``: None (the active
        model, else the bundled demo), a name or path, or a loaded ClipModel. ``device``: None is
        the device chosen in the settings. ``runtime``: auto, torch or onnx; None is the setting
        (``CLIPDESK_RUNTIME`` overrides it), read at each load (see :attr:`runtimes`).
        ``create_library``: False for a face that only reads (status, search): a library file
        that does not exist is then an error, and nothing is created on disk."""
        self.settings = SettingsService()
        self.library_path = resolve_library_path(library_path)
        self.device = device or self.settings.device()
        self.index_dtype = index_dtype
        self.runtime = runtime
        self.create_library = create_library
        # The app sets it: a model that ONNX Runtime should serve but has no export yet loads
        # on PyTorch, and a background job exports it (RuntimeService.prepare_active) instead
        # of the load waiting for the export.
        self.defer_exports = False
        self._model_source = (
            None if model is None or not isinstance(model, str | Path) else str(model)
        )
        self._model = model if model is not None and not isinstance(model, str | Path) else None
        self._search_model: ClipModel | None = None
        self._loaded: ClipModel | None = None  # the model loaded here (not one handed to us)
        self._library: Library | None = None
        self._searcher: Searcher | None = None
        self._encoders: dict[str, QueryEncoder] = {}
        self._lock = threading.RLock()
        self._index_lock = threading.Lock()
        self._listeners: list[EmbeddedHook] = []
        self._batch_sizes: dict[tuple[str, str, str], int] = {}  # (model id, runtime, device)
        self._run_cancel: CancelToken | None = None  # the index run's (one at a time)
        self._closed = False

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def library(self) -> Library:
        with self._lock:
            if self._closed:
                raise ClipDeskError("ClipDesk services are closed.")
            if self._library is None:
                from clipdesk.library.store import Library

                if not self.create_library and not self.library_path.exists():
                    raise ClipDeskError(
                        f"There is no library at {self.library_path}.",
                        "Adding a folder creates one; or choose an existing library.",
                        cli_hint="`clipdesk-cli folders add PATH` creates it; or pass --library "
                        "with an existing library file.",
                    )
                self._library = Library(self.library_path)
            return self._library

    @property
    def model(self) -> ClipModel:
        """The active model (loaded on first use)."""
        with self._lock:
            if self._model is None:
                self._model = self._loaded = self.runtimes.load(self._model_source)
                log.info("active model %s (%s)", self._model.id, self._model.runtime_label)
            return self._model

    # --- the areas: each workflow written once, for both faces ---------------------------------

    @cached_property
    def folders(self) -> FolderService:
        """Add/remove/list folders (validated, then scanned), rescan."""
        from clipdesk.services.folders import FolderService

        return FolderService(self)

    @cached_property
    def tags(self) -> TagService:
        """Categories (saving one retags at once), tags, decisions, review, XMP."""
        from clipdesk.services.tags import TagService

        return TagService(self)

    @cached_property
    def steps(self) -> StepService:
        """The work each photo is owed after its embedding (XMP keywords, then tags), recorded
        with the vectors and done by every index run: registered here, once, for every face.
        Reading the text in photos is owed last, as a background step its own pass does
        (:attr:`ocr`)."""
        from clipdesk.services.steps import StepService

        return StepService(self, [*self.tags.steps(), self.ratings.step(), self.ocr.step()])

    @cached_property
    def ratings(self) -> RatingService:
        """Ratings (0-5, -1 rejected) and colour labels: set, toggled, read from XMP."""
        from clipdesk.services.ratings import RatingService

        return RatingService(self)

    @cached_property
    def ocr(self) -> OcrService:
        """Reading the text in photos: the switches, the backlog and its cost, and the pass
        both faces run after each index run (``app.ocr.run``), so that search comes first."""
        from clipdesk.services.ocr import OcrService

        return OcrService(self)

    @cached_property
    def ann(self) -> AnnService:
        """Search past RAM: whether this library searches through an ANN index, its threshold,
        building it (``app.ann.build``) and the upkeep both faces run after index runs
        (``app.ann.maintain``)."""
        from clipdesk.services.ann import AnnService

        return AnnService(self)

    @cached_property
    def vectors(self) -> VectorService:
        """Vectors made elsewhere (a cluster run's shards) merged into the library, with no
        embedding here: ``app.vectors.import_shards(folder)``."""
        from clipdesk.services.vectors import VectorService

        return VectorService(self)

    @cached_property
    def heads(self) -> HeadService:
        """Tag heads taught from the user's decisions; applying one retags at once."""
        from clipdesk.services.heads import HeadService

        return HeadService(self)

    @cached_property
    def training(self) -> TrainingService:
        """Fine-tuning: caption data, runs, versions, activate and rollback."""
        from clipdesk.services.training import TrainingService

        return TrainingService(self)

    @cached_property
    def models(self) -> ModelService:
        """Installed and downloadable models; which one is active."""
        from clipdesk.services.models import ModelService

        return ModelService(self)

    @cached_property
    def runtimes(self) -> RuntimeService:
        """What serves each model (PyTorch, ONNX Runtime), and preparing one for ONNX Runtime."""
        from clipdesk.services.runtimes import RuntimeService

        return RuntimeService(self)

    @cached_property
    def library_file(self) -> LibraryFileService:
        """The library as a file: a backup while in use; decisions out to a file and back in."""
        from clipdesk.services.library_file import LibraryFileService

        return LibraryFileService(self)

    @cached_property
    def status_report(self) -> StatusService:
        """What the library holds, what is pending, what went wrong (one report, both faces)."""
        from clipdesk.services.status import StatusService

        return StatusService(self)

    def close(self) -> None:
        """Close the library (each thread's connection; the last one to close checkpoints the
        WAL into the file) and let go of the models loaded here. An index run must have ended:
        the app joins its pools first, a CLI run returns before its ``with`` block ends."""
        with self._lock:
            self._closed = True
            ocr = self.__dict__.get("ocr")  # made only if used: nothing to let go of otherwise
            if ocr is not None:
                ocr.close()
            if self._library is not None:
                self._library.close()
                self._library = None
            self._searcher = None
            for model in {m for m in (self._loaded, self._search_model) if m is not None}:
                model.close()  # sessions and buffers; a later call on it rebuilds them

    def __enter__(self) -> ClipDeskServices:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- model -----------------------------------------------------------------------------

    def set_model(self, model: ClipModel | str | Path | None) -> None:
        """Make another model active (a name, a path or a loaded model). Search stays on the
        current vectors until :meth:`index` has embedded every photo with the new one."""
        with self._lock:
            self._pin_search_model()
            if isinstance(model, str | Path):
                self._model_source, self._model = str(model), None
            else:
                path = getattr(model, "path", None)
                self._model_source, self._model = (str(path) if path else None), model

    def reload_model(self) -> None:
        """Load the models again on their next use, the same models: the runtime that serves
        them changed (an export finished, the setting changed). Waits for an index run to end,
        so a run never changes runtime halfway; a search running meanwhile finishes with the
        model it holds (dropped, not closed under it). A model handed in loaded, with no path
        to load it from, stays."""
        with self._index_lock, self._lock:
            if self._model_source is not None or self._model is self._loaded:
                self._model = self._loaded = None
            self._search_model = None
            self._encoders = {}

    @property
    def model_source(self) -> str | None:
        """The model asked for, a name or a path (None: the active one in the settings)."""
        return self._model_source

    @property
    def model_if_loaded(self) -> ClipModel | None:
        """The active model if it is loaded (or was handed in), without loading it."""
        return self._model

    def _pin_search_model(self) -> None:
        """Record the model search uses now, so it keeps searching with it while another one
        embeds. Nothing to pin in a library that does not exist yet, nor when the current model
        cannot be loaded any more (its vectors cannot be searched then anyway)."""
        if self._library is None and not self.library_path.exists():
            return
        try:
            self._search_model_record()
        except ClipDeskError as exc:
            log.warning("switching models without keeping the old search model: %s", exc)

    def search_model(self) -> ClipModel:
        """The model whose vectors search uses right now (the active one unless a re-embedding
        is under way)."""
        with self._lock:
            record = self._search_model_record()
            active = self.model
            if record["id"] == active.id:
                return active
            if self._search_model is None or self._search_model.id != record["id"]:
                self._search_model = self._load_search_model(record)
            return self._search_model or active

    def _search_model_record(self) -> dict[str, str]:
        record = self.library.get_setting(SEARCH_MODEL_KEY)
        if not isinstance(record, dict) or "id" not in record:
            model = self.model
            record = {"id": model.id, "source": str(self._model_source or model.path)}
            self.library.set_setting(SEARCH_MODEL_KEY, record)
        return record

    def _load_search_model(self, record: dict[str, str]) -> ClipModel | None:
        try:
            model = self.runtimes.load(record.get("source"))
        except ClipDeskError as exc:
            log.warning(
                "previous model %s unavailable (%s): searching with the new one", record["id"], exc
            )
            self._switch_search_model(self.model)
            return None
        if model.id != record["id"]:
            log.warning(
                "model at %s changed (%s != %s): searching with the new one",
                record.get("source"),
                model.id,
                record["id"],
            )
            self._switch_search_model(self.model)
            return None
        return model

    def _switch_search_model(self, model: ClipModel) -> None:
        old = self.library.get_setting(SEARCH_MODEL_KEY) or {}
        self.library.set_setting(
            SEARCH_MODEL_KEY, {"id": model.id, "source": str(self._model_source or model.path)}
        )
        self._searcher = None
        self._search_model = None
        if old.get("id") and old["id"] != model.id:
            removed = self.library.delete_embeddings(old["id"])
            log.info("search now uses %s; removed %d vectors of %s", model.id, removed, old["id"])
        # the photos re-embedded for this model are owed their steps with its vectors (the next
        # steps run tags them with it); steps still waiting for any other model never will run
        self.library.discard_other_model_steps(model.id)

    @property
    def reembedding(self) -> bool:
        """True while photos are being embedded again for a newly chosen model."""
        model_id: str = self.model.id
        return self._search_model_record()["id"] != model_id

    # --- scanning (the folder workflows are in app.folders) -----------------------------------

    def scanner(self) -> Scanner:
        """The scanner of this library (reconcile, folder checks); see :attr:`folders`."""
        from clipdesk.scanning.scanner import Scanner

        return Scanner(self.library)

    def watch(
        self,
        on_change: Callable[[ChangeSet], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        **options: Any,
    ) -> Watcher:
        """A started :class:`clipdesk.scanning.watcher.Watcher`; call its ``stop()`` when done.
        Changes are applied to the search index before ``on_change`` sees them."""
        from clipdesk.scanning.watcher import Watcher as _Watcher

        def changed(changes: ChangeSet) -> None:
            self.after_changes()
            if on_change is not None:
                on_change(changes)

        watcher = _Watcher(self.scanner(), changed, on_error=on_error, **options)
        watcher.start()
        return watcher

    def after_changes(self) -> None:
        """The library's photos changed (a scan, a removal): bring a loaded search index in
        step (an index not loaded yet reads the new state when it loads)."""
        with self._lock:
            searcher = self._searcher
        if searcher is not None:
            searcher.sync()

    # --- indexing --------------------------------------------------------------------------

    def add_embedded_listener(self, listener: EmbeddedHook) -> None:
        """``listener(ids, vectors)`` after each committed batch of vectors of the model search
        uses (the tag engine tags new photos with it). Runs on the indexing thread."""
        self._listeners.append(listener)

    def pending_count(self) -> int:
        return int(self.library.count_pending(self.model.id))

    def index(
        self,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        limit: int | None = None,
        **pipeline_options: Any,
    ) -> IndexReport:
        """Embed every pending photo with the active model (see IndexPipeline), and do what
        each photo is owed after its embedding (:attr:`steps`): after every commit, and at the
        start and the end of the run for work an earlier run left (a crash, a lock, a full
        disk). The report says what is still owed, and why. The text in the photos is read
        afterwards by a pass of its own (:attr:`ocr`), which the faces run once this returns."""
        with self._index_lock:
            model = self.model
            searching_with = self._search_model_record()["id"]
            self.folders.retry_errors(transient_only=True)
            self.steps.run(cancel=cancel, progress=progress)
            hook = self._on_embedded if searching_with == model.id else None
            if pipeline_options.get("batch_size") is None:
                pipeline_options["batch_size"] = self.index_batch_size(model, cancel)
            from clipdesk.indexing.pipeline import IndexPipeline  # torch: not at import time

            pipe = IndexPipeline(
                self.library,
                model,
                on_embedded=hook,
                after_embedding_steps=self.steps.names,
                vector_free_steps=self.steps.vector_free,
                **pipeline_options,
            )
            self._run_cancel = cancel
            try:
                report = pipe.run(progress=progress, cancel=cancel, limit=limit)
            finally:
                self._run_cancel = None
            if (
                searching_with != model.id
                and not report.cancelled
                and self.library.count_pending(model.id) == 0
            ):
                with self._lock:
                    self._switch_search_model(model)
            owed = self.steps.run(cancel=cancel)
            return replace(report, waiting=owed.waiting, waiting_note=owed.describe())

    def index_batch_size(self, model: ClipModel, cancel: CancelToken | None = None) -> int:
        """Photos per forward pass of an index run, timed once per model, runtime and device
        (see :mod:`clipdesk.indexing.batch_size`): a cancel waits at most for one such pass."""
        key = (model.id, model.runtime_label, str(model.device))
        with self._lock:
            known = self._batch_sizes.get(key)
        if known is not None:
            return known
        from clipdesk.indexing.batch_size import MOST, timed_batch_size

        if not self.library.count_pending(model.id):
            return MOST  # nothing to embed: not worth a timing
        size = timed_batch_size(model, cancel=cancel)
        if size is None:  # cancelled: the run stops before its first batch anyway
            return MOST
        log.info("indexing %s in batches of %d", model.id, size)
        with self._lock:
            self._batch_sizes[key] = size
        return size

    def _on_embedded(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        with self._lock:
            searcher = self._searcher
        if searcher is not None:
            searcher.add(ids, vectors)
        for listener in list(self._listeners):
            try:
                listener(ids, vectors)
            except Exception:  # one listener's bug must not stop indexing or the others
                log.exception("embedded listener %r failed", listener)
        # Cancelled (quitting, pausing): the steps are recorded as owed with the vectors, and
        # the next run does them; the quit does not wait for them.
        self.steps.run(ids.tolist(), cancel=self._run_cancel)

    # --- search ----------------------------------------------------------------------------

    def searcher(self) -> Searcher:
        """The search index (read from the library on first use)."""
        with self._lock:
            model = self.search_model()
            if self._searcher is None or self._searcher.model_id != model.id:
                from clipdesk.search.searcher import Searcher  # torch: not at import time

                searcher = Searcher(self.library, model.id, model.dim, dtype=self.index_dtype)
                if not self.ann.attach(searcher):  # past the threshold: the saved ANN index
                    searcher.load()
                self._searcher = searcher
            return self._searcher

    @property
    def searcher_loaded(self) -> Searcher | None:
        """The search index if one is loaded (None: no search has needed it yet), for work
        that must not load it for nothing."""
        with self._lock:
            return self._searcher

    def _encoder(self, searcher: Searcher, model: ClipModel) -> QueryEncoder:
        with self._lock:
            enc = self._encoders.get(model.id)
            if enc is None:
                enc = QueryEncoder(model, photo_vector=lambda pid: self.searcher().vector(pid))
                self._encoders = {model.id: enc}  # one model's cache at a time
            return enc

    def query_vector(self, query: Query) -> np.ndarray:
        searcher = self.searcher()
        return self._encoder(searcher, self.search_model()).encode(query)

    def search(
        self,
        query: str | Query = "",
        k: int = 50,
        filters: SearchFilters | None = None,
        *,
        image: Image.Image | str | Path | None = None,
        image_weight: float = 1.0,
    ) -> list[SearchResult]:
        """Text (with the query syntax of clipdesk.search.query), image, or both; best first,
        each with its Photo record. Scores (and ``filters.min_score``) are on the scale of
        :meth:`score_scale`: cosine, or a sigmoid model's match probability."""
        q = query if isinstance(query, Query) else Query.parse(query)
        if image is not None:
            q = q.with_image(image, image_weight)
        searcher = self.searcher()
        model = self.search_model()
        vector = self._encoder(searcher, model).encode(q)
        results = searcher.search(
            vector, k=k, filters=filters, exclude=q.photo_ids, scale=score_scale(model, q)
        )
        return searcher.resolve(results)

    def score_scale(self, query: Query) -> ScoreScale:
        """What the scores of ``query`` mean with the search model (clipdesk.search.scores)."""
        return score_scale(self.search_model(), query)

    def find(self, request: PhotoSearch) -> list[FoundPhoto]:
        """What a face asks for: a search (text, image, like a photo) or, without a query, the
        library browsed by date; with the folder, tag, date and score filters applied the same
        way in both cases (see :mod:`clipdesk.services.search`)."""
        from clipdesk.services.search import find

        return find(self, request)

    def rank(self, request: PhotoSearch) -> Ranking:
        """:meth:`find`'s answer as photo ids and scores only, in its order: for a face that
        shows every match and reads the rows it shows with :meth:`found_photos`."""
        from clipdesk.services.search import rank

        return rank(self, request)

    def found_photos(
        self,
        ids: Sequence[int] | np.ndarray,
        scores: Sequence[float] | np.ndarray | None = None,
        matches: Matches | None = None,
    ) -> list[FoundPhoto]:
        """The rows of a page of a :meth:`rank` answer, in its order (vanished photos left out),
        with why each matched when given the answer's ``matches``."""
        from clipdesk.services.search import found_photos

        return found_photos(self, ids, scores, matches)

    def search_image(
        self, image: Image.Image | str | Path, k: int = 50, filters: SearchFilters | None = None
    ) -> list[SearchResult]:
        return self.search(Query.image(image), k=k, filters=filters)

    def more_like_this(
        self, photo_id: int, k: int = 50, filters: SearchFilters | None = None
    ) -> list[SearchResult]:
        return self.search(Query.photo(photo_id), k=k, filters=filters)

    def sync_index(self) -> tuple[int, int]:
        """Bring the search index in step with the library (after changes made elsewhere)."""
        return self.searcher().sync()

    # --- status (what the library holds: app.status_report) -------------------------------------

    def photo(self, ref: int | str | Path) -> Photo:
        """A library photo from an id (12 or "12") or a path (``~`` expanded); ClipDeskError
        when it is not one of the library's photos. The one reading of a photo reference, for
        ``search --like`` and the tags commands alike."""
        lib = self.library
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            photo = lib.photo(int(ref))
        else:
            photo = lib.photo_by_path(Path(ref).expanduser())
        if photo is None:
            raise ClipDeskError(
                f"{ref} is not a photo of this library.",
                "Give a photo id, or the path of an indexed photo inside a watched folder.",
            )
        return photo

    def photos(self, ids: Iterable[int]) -> list[Photo]:
        photos: list[Any] = self.library.photos(ids=list(ids))
        return photos
