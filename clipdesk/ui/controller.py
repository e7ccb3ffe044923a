"""The app's state outside any one widget: the library, the model, the workers, the index job.

The window is painted before any of this is ready: :meth:`AppController.start` opens the library and
loads the model in the background and reports each step through ``stateChanged`` (the status bar).
Pages ask the controller to run backend calls (``call``/``call_model``/``call_db``) and receive
results on the GUI thread.

A model that ONNX Runtime should serve but that has no export yet (the demo model, one installed
before exports existed) loads on PyTorch; the first job after the load (start-up, a switch)
then exports it in the jobs pool, with progress where indexing shows its own, cancellable like
indexing (pausing, a switch, quitting), and the model is served by ONNX Runtime from the next
job on. Indexing waits for it: its vectors are then made with the faster runtime.

Reading the text in photos (OCR, :mod:`clipdesk.services.ocr`) is a job of its own in the ``ocr``
pool, with its own progress line (``ocr_state``) and pause: it starts when an index job has
ended (after a start-up, a folder added, the watcher's changes) and is stopped whenever another
index job starts, so search is always ready first; what it had not read is read by the next
pass. Pausing indexing pauses it too.

Between the two, the search index of a library past the ANN threshold
(:mod:`clipdesk.services.ann`) is kept: a small job in the jobs pool (``ann_jobs``) builds it when
one is due, or saves it when it changed, with its progress on the indexing line; for most
libraries it finds nothing to do at once. Any index job, a pause or a quit cancels it (search
stays exact until a later one finishes the build), and the text is read once it is done.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QElapsedTimer, QObject, QTimer, Signal

from clipdesk.common.errors import ClipDeskError
from clipdesk.common.progress import CancelToken, short_duration
from clipdesk.services.settings import SettingsService
from clipdesk.ui import thumbnails
from clipdesk.ui.delegate import CELL
from clipdesk.ui.jobs import JobRunner
from clipdesk.ui.rows import ModelInfo
from clipdesk.ui.settings import AppSettings
from clipdesk.ui.thumbnails import ThumbnailCache
from clipdesk.ui.workers import Ticket, Workers

if TYPE_CHECKING:
    from clipdesk.ui.backend import Backend

log = logging.getLogger(__name__)


def error_sentence(message: str, hint: str = "") -> str:
    """A failure and what to do next as one line of prose: one full stop after the message
    whether or not it already ended with one (error messages are written as sentences)."""
    message = message.strip()
    if message and message[-1] not in ".!?:":
        message += "."
    return f"{message} {hint.strip()}".strip()


def describe_error(exc: BaseException) -> tuple[str, str]:
    """(message, what to do next) for any failure shown to the user."""
    if isinstance(exc, ClipDeskError):
        return exc.message, exc.hint or ""
    if isinstance(exc, PermissionError):
        return (
            f"Permission denied: {exc.filename or exc}",
            "Check that you can read this file or folder.",
        )
    if isinstance(exc, FileNotFoundError):
        return (
            f"Not found: {exc.filename or exc}",
            "It may have been moved or deleted; rescan the folder.",
        )
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}", "Check the disk (free space, permissions) and try again."
    return (
        f"Unexpected error: {type(exc).__name__}: {exc}",
        "Details are in the log file; please report it.",
    )


class AppController(QObject):
    stateChanged = Signal()  # library/model/index state changed: refresh the status bar
    libraryReady = Signal()
    modelReady = Signal(object)  # ModelInfo
    libraryChanged = Signal()  # folders or photos changed (index step, watch event, removal)
    errorRaised = Signal(str, str)  # message, hint
    libraryFailed = Signal(str, str)  # message, hint: no library is open; the window offers others
    noticeRaised = Signal(str)  # something the user should know, shown once in the status bar
    photosCounted = Signal()  # library_state has a new count (once a second at most in a run)
    _diskChanged = Signal()  # emitted from the watcher thread

    def __init__(
        self,
        settings: AppSettings,
        workers: Workers | None = None,
        shared_settings: SettingsService | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings  # the window's own: geometry, welcome page, score slider
        # What both faces share (library, model, device, XMP rules), stored once for the CLI too.
        self.shared_settings = shared_settings or SettingsService()
        self.workers = workers or Workers()
        self.thumbs = ThumbnailCache(self.workers, display_px=CELL)
        self.jobs = JobRunner(self.workers)
        self.ocr_jobs = JobRunner(self.workers, pool=self.workers.ocr)
        self.ann_jobs = JobRunner(self.workers)  # the jobs pool: after index jobs, not beside
        self._before_ann = ""  # the indexing line the search index job borrows
        self.backend: Backend | None = None
        self.model: ModelInfo | None = None
        self.library_state = "Opening library…"
        self.model_state = "Loading model…"
        self.index_state = ""
        self.ocr_state = ""  # the text-reading pass's line: progress, or what is left and why
        self._preparing = False  # the running job exports the model for ONNX Runtime
        self._closing = False
        # Libraries that quitting must close itself: one opened while the app quit (its result
        # is never delivered), one whose close was still queued on the db pool (dropped).
        self._unadopted: Backend | None = None
        self._retiring: set[Backend] = set()
        self._dirty = False
        self._recovery_shown = False
        # The status bar's count: read in the db pool, one read at a time, at most once a
        # second while a job reports progress (so it is true while photos arrive).
        self._counting = False
        self._count_again = False
        self._last_count = QElapsedTimer()
        self._count_later = QTimer(self)  # the last progress of a second is counted too
        self._count_later.setSingleShot(True)
        self._count_later.timeout.connect(self.count_photos)
        self._reindex = QTimer(self)  # coalesces watcher events into one index run
        self._reindex.setSingleShot(True)
        self._reindex.setInterval(800)
        self._reindex.timeout.connect(self.index_now)
        self._diskChanged.connect(self._reindex.start)
        self.jobs.finished.connect(self._index_done)
        self.jobs.failed.connect(self._index_failed)
        self.jobs.progress.connect(self._index_progress)
        self.jobs.stopped.connect(self._index_stopped)
        self.jobs.started.connect(lambda _name: self.ocr_jobs.cancel())  # index runs go first
        self.jobs.started.connect(lambda _name: self.ann_jobs.cancel())
        self.ann_jobs.finished.connect(self._search_index_done)
        self.ann_jobs.failed.connect(self._search_index_failed)
        self.ann_jobs.progress.connect(self._search_index_progress)
        self.ann_jobs.stopped.connect(self._search_index_stopped)
        self.ocr_jobs.finished.connect(self._text_done)
        self.ocr_jobs.failed.connect(self._text_failed)
        self.ocr_jobs.progress.connect(self._text_progress)
        self.ocr_jobs.stopped.connect(self._text_stopped)

    # --- start-up --------------------------------------------------------------------------
    def start(self) -> None:
        """Open the library, then load the model; both in the background. Which library, model
        and device: the shared settings (the ones ``clipdesk-cli`` uses too)."""

        def open_library(_token: CancelToken) -> Backend:
            from clipdesk.ui.backend import Backend  # the core's imports stay off the first paint

            backend = Backend.open()
            self._unadopted = backend  # until the GUI thread takes it; shutdown joins us first
            return backend

        self.workers.run(self.workers.db, open_library, self._library_opened, self._library_failed)
        self.workers.run(self.workers.thumbs, lambda _t: thumbnails.prune())

    def _library_opened(self, backend: Backend) -> None:
        if self._unadopted is backend:
            self._unadopted = None
        if self._closing:
            backend.close()
            return
        self.backend = backend
        self.library_state = "Library: counting photos…"
        self.count_photos()
        self.stateChanged.emit()
        self.libraryReady.emit()
        self.libraryChanged.emit()
        self.load_model()
        backend.start_watching(self._on_disk_change)

    def _library_failed(self, exc: BaseException) -> None:
        message, hint = describe_error(exc)
        self.library_state = "No library open"
        self.stateChanged.emit()
        self.libraryFailed.emit(
            f"The library could not be opened: {message}",
            hint or "Choose another library, or create a new one.",
        )
        self.libraryChanged.emit()  # the pages drop what the last library showed

    def reopen_library(self, model: str | None = None, device: str | None = None) -> None:
        """Close the library and open the one the settings name now (Settings changed it),
        with ``model`` on ``device`` made active first when given."""
        self.jobs.cancel()
        self.ann_jobs.cancel()
        self.ocr_jobs.cancel()
        self.ocr_state = ""
        old, self.backend, self.model = self.backend, None, None
        if old is not None:
            old.stop_watching()
            self._retiring.add(old)
            self.workers.run(
                self.workers.db, lambda _t: old.close(), lambda _r: self._retiring.discard(old)
            )
        if model is not None:
            self.activate_model(model, device)  # no library open: the settings only (db pool)
        self.library_state = "Opening library…"
        self.stateChanged.emit()
        self.start()  # the db pool has one thread: the close above runs first

    def load_model(self) -> None:
        """Load the active model (again: after it changed, e.g. a version was activated)."""
        if self.backend is not None:
            backend = self.backend
            self._switch_model(lambda _t: backend.load_model())

    def activate_model(self, name: str, device: str | None = None) -> None:
        """Make ``name`` (empty: the default demo model) the active model, for the CLI too, and
        ``device`` the one it runs on; the open library switches over (search keeps the old
        vectors until the photos are embedded again)."""
        if self.backend is None:  # nothing open to switch: only the settings change
            from clipdesk.services.models import ModelService

            self.workers.run(
                self.workers.db,
                lambda _t: ModelService().activate(name or None, device),
                None,
                self.report_error,
            )
            return
        backend = self.backend
        self._switch_model(lambda _t: backend.activate_model(name, device))

    def reload_model(self) -> None:
        """Load the same model again on the runtime the settings name now (Settings changed it)."""
        if self.backend is not None:
            backend = self.backend
            self._switch_model(lambda _t: backend.reload_model())

    def _switch_model(self, load: Callable[[CancelToken], ModelInfo]) -> None:
        self.jobs.cancel()  # a run embeds with the model it started with; the new one starts over
        self.ann_jobs.cancel()
        self.model_state = "Loading model…"
        self.stateChanged.emit()
        self.workers.run(self.workers.model, load, self._model_loaded, self._model_failed)

    def _model_loaded(self, info: ModelInfo) -> None:
        if info.recovered and not self._recovery_shown:
            # The models folder was tidied after a crash (an install finished or rolled back).
            self._recovery_shown = True
            self.noticeRaised.emit("Models folder: " + "; ".join(info.recovered))
        self._show_model(info)
        self.modelReady.emit(info)
        self.index_now()

    def _show_model(self, info: ModelInfo) -> None:
        self.model = info
        demo = " (demo model)" if info.is_demo else ""
        self.model_state = f"Model: {info.name}{demo} on {info.device}"
        if info.runtime:
            self.model_state += f" with {info.runtime_text()}"
        if info.searching_with:
            self.model_state += f" · re-indexing; search uses {info.searching_with} until done"
        self.stateChanged.emit()

    def _model_failed(self, exc: BaseException) -> None:
        message, hint = describe_error(exc)
        self.model_state = "No model: search is off"
        self.stateChanged.emit()
        self.read_text_now()  # the photos embedded before need no model to be read
        self.errorRaised.emit(
            f"The model could not be loaded: {message}",
            hint or "Open Settings to choose, import or download a model.",
        )

    # --- calls for pages --------------------------------------------------------------------
    def call(
        self,
        fn: Callable[[Backend, CancelToken], Any],
        on_result=None,
        on_error=None,
        pool: str = "db",
        owner: QObject | None = None,
    ) -> Ticket | None:
        """Run ``fn(backend, token)`` in a pool; results and errors come back on the GUI thread
        (not at all once ``owner``, the widget the callbacks touch, has been deleted)."""
        if self.backend is None:
            return None
        backend = self.backend
        return self.workers.run(
            getattr(self.workers, pool),
            lambda t: fn(backend, t),
            on_result,
            on_error or self.report_error,
            owner=owner,
        )

    def report_error(self, exc: BaseException) -> None:
        message, hint = describe_error(exc)
        log.warning("operation failed: %s", message, exc_info=(type(exc), exc, exc.__traceback__))
        self.errorRaised.emit(message, hint)

    # --- folders and indexing ----------------------------------------------------------------
    def add_folder(self, path: str | Path, on_done: Callable[[Any], None] | None = None) -> None:
        def added(result: Any) -> None:
            self.libraryChanged.emit()
            if on_done is not None:
                on_done(result)
            self.index_now()

        self.call(lambda b, _t: b.add_folder(Path(path)), added)

    def remove_folder(self, folder_id: int) -> None:
        self.jobs.cancel()  # the index must not write photos of a folder being removed

        def removed(_r: Any) -> None:
            self.libraryChanged.emit()
            self.index_now()

        self.call(lambda b, _t: b.remove_folder(folder_id), removed)

    def relocate_folder(
        self, folder_id: int, path: str | Path, on_done: Callable[[str], None] | None = None
    ) -> None:
        self.jobs.cancel()  # the index must not write photos of a folder whose paths change

        def moved(summary: str) -> None:
            self.libraryChanged.emit()
            if on_done is not None:
                on_done(summary)
            self.index_now()

        self.call(lambda b, t: b.relocate_folder(folder_id, Path(path), t), moved, pool="jobs")

    def index_now(self) -> None:
        if self.backend is None or self.model is None or self._closing:
            return
        backend = self.backend
        if self.jobs.paused:
            # Paused, nothing is embedded; the folders are still checked (new folders scanned,
            # the watcher's changes counted), so the Folders page shows what waits instead of
            # calling a folder with new files up to date.
            if self.jobs.start(
                "Checking folders",
                lambda report, token: backend.index(report, token, embed=False),
                while_paused=True,
            ):
                self._dirty = False
            elif self.jobs.running:
                self._dirty = True
            return
        if self.model.prepare:
            self._prepare_model(backend)
            return
        if self.jobs.start("Indexing", lambda report, token: backend.index(report, token)):
            self._dirty = False
            self.index_state = "Scanning folders…"
            self.stateChanged.emit()
        elif self.jobs.running:
            self._dirty = True  # something changed mid-run: go again when this run ends

    def _prepare_model(self, backend: Backend) -> None:
        """Export the model for ONNX Runtime before indexing with it (see the module's doc)."""
        if self.jobs.start(
            "Preparing the model", lambda report, token: backend.prepare_model(report, token)
        ):
            self._preparing = True
            self._dirty = True  # index once it is done
            name = self.model.name if self.model is not None else "the model"
            self.index_state = f"Preparing {name} for ONNX Runtime…"
            self.stateChanged.emit()
        elif self.jobs.running:
            self._dirty = True

    def _prepared(self, info: ModelInfo) -> None:
        self._preparing = False
        # asked once per load: a failed or refused export is not tried again every job
        info = replace(info, prepare=False)
        self.index_state = ""
        self._show_model(info)
        if info.runtime_note:
            self.noticeRaised.emit(f"{info.name} runs on {info.runtime_text()}")
        self.modelReady.emit(info)  # served by another runtime: pages search again with it

    def pause_indexing(self) -> None:
        self.jobs.pause()
        self.ann_jobs.cancel()
        self.index_state = "Indexing paused"
        self.stateChanged.emit()
        self.index_now()  # a scan the pause cut short is finished, without embedding

    def resume_indexing(self) -> None:
        self.jobs.resume()
        self.index_now()

    def count_photos(self) -> None:
        """Count the library's photos for the status bar, in the db pool (never the GUI
        thread: a count reads the library); one count at a time, once more if asked meanwhile."""
        if self.backend is None:
            return
        if self._counting:
            self._count_again = True
            return
        self._counting = True
        self._last_count.start()
        self._count_later.stop()
        backend = self.backend

        def counted(n: int) -> None:
            self._counting = False
            if self.backend is backend:  # not a count of a library closed meanwhile
                self.library_state = f"Library: {n:,} photos"
                self.stateChanged.emit()
                self.photosCounted.emit()
            if self._count_again:
                self._count_again = False
                self.count_photos()

        def failed(exc: BaseException) -> None:
            self._counting = self._count_again = False
            log.warning("could not count the library's photos: %s", exc)

        if self.call(lambda b, _t: b.photo_count(), counted, failed) is None:
            self._counting = False

    def _index_progress(self, p) -> None:
        # Photos arrive while it runs: the count follows them, once a second at most.
        since = self._last_count.elapsed() if self._last_count.isValid() else 1000
        if since >= 1000:
            self.count_photos()
        elif not self._count_later.isActive():
            self._count_later.start(1000 - since)
        if self._preparing:
            step = f" ({p.done}/{p.total})" if p.total else ""
            self.index_state = f"{p.message or 'Preparing the model for ONNX Runtime'}{step}"
            self.stateChanged.emit()
            return
        scanning = p.message.lower().startswith("scan")
        if p.total and scanning:
            self.index_state = f"Scanning new and changed files {p.done:,}/{p.total:,}"
        elif p.total:
            eta = f", about {short_duration(p.eta_s)} left" if p.eta_s is not None else ""
            self.index_state = f"Indexing {p.done:,}/{p.total:,} · {p.rate:.1f} images/s{eta}"
        else:
            self.index_state = p.message or "Scanning folders…"
        self.stateChanged.emit()

    def _index_done(self, result: Any) -> None:
        if self._preparing:
            self._prepared(result)
            if self._dirty:
                self.index_now()
            return
        # work left owed (a locked library, a full disk) is said, not dropped: the next run does it
        self.index_state = getattr(result, "waiting_note", "") or ""
        if self.jobs.paused:
            self.index_state = "Indexing paused"
        if self.backend is not None:
            self.count_photos()
            if self.model is not None and self.model.searching_with:
                self._show_model(self.backend.model_info())
        self.stateChanged.emit()
        self.libraryChanged.emit()
        if self._dirty:
            self.index_now()
        else:
            self.keep_search_index()

    def _index_failed(self, exc: BaseException) -> None:
        message, hint = describe_error(exc)
        if self._preparing:  # a bug in the export: the model stays on PyTorch, indexing goes on
            self._preparing = False
            if self.model is not None:
                self.model = replace(self.model, prepare=False)
            self.index_state = ""
            self.stateChanged.emit()
            self.errorRaised.emit(
                f"The model could not be prepared for ONNX Runtime: {message}", hint
            )
            self.index_now()
            return
        self.index_state = "Indexing stopped by an error"
        self.stateChanged.emit()
        self.errorRaised.emit(f"Indexing stopped: {message}", hint)

    def _index_stopped(self) -> None:
        self._preparing = False  # a cancelled export is tried again by the next job
        self.libraryChanged.emit()

    # --- the approximate search index -----------------------------------------------------
    def keep_search_index(self) -> None:
        """After an index job: build or save the search index of a large library (see the
        module docstring), then read the text."""
        if self.backend is None or self._closing or self.jobs.running or self.jobs.paused:
            return
        backend = self.backend
        if self.ann_jobs.start(
            "Search index", lambda report, token: backend.keep_search_index(report, token)
        ):
            self._before_ann = self.index_state
        elif not self.ann_jobs.running:
            self.read_text_now()

    def set_ann_threshold(self, vectors: int | None) -> None:
        """The library's ANN threshold (Settings; None: automatic), for the CLI too; the
        search index follows it (built, or dropped for exact search) unless indexing runs,
        which keeps it afterwards anyway."""

        def stored(_status: Any) -> None:
            self.keep_search_index()

        self.call(lambda b, _t: b.set_ann_threshold(vectors), stored)

    def _search_index_progress(self, p) -> None:
        if p.total:
            eta = f", about {short_duration(p.eta_s)} left" if p.eta_s is not None else ""
            self.index_state = f"{p.message} {p.done:,}/{p.total:,}{eta}"
        else:
            self.index_state = f"{p.message}…"
        self.stateChanged.emit()

    def _search_index_done(self, report: Any) -> None:
        self.index_state = self._before_ann
        self.stateChanged.emit()
        if report.action in ("built", "flat"):
            self.noticeRaised.emit(report.describe())
        self.read_text_now()

    def _search_index_failed(self, exc: BaseException) -> None:
        message, hint = describe_error(exc)
        self.index_state = "Search index not updated: search stays exact"
        self.stateChanged.emit()
        self.errorRaised.emit(f"The search index could not be built: {message}", hint)
        self.read_text_now()

    def _search_index_stopped(self) -> None:
        self.index_state = "Indexing paused" if self.jobs.paused else self._before_ann
        self.stateChanged.emit()

    # --- reading text ---------------------------------------------------------------------
    def read_text_now(self) -> None:
        """Read the text owed unless an index job (or the search index's) runs or indexing or
        reading is paused; the pass ends by itself when nothing is left (the services say so
        from the library)."""
        busy = self.jobs.running or self.ann_jobs.running
        if self.backend is None or self._closing or busy or self.jobs.paused:
            return
        backend = self.backend
        self.ocr_jobs.start("Reading text", lambda report, token: backend.read_text(report, token))

    def pause_text(self) -> None:
        self.ocr_jobs.pause()
        self.ocr_state = "Reading text paused"
        self.stateChanged.emit()

    def resume_text(self) -> None:
        self.ocr_jobs.resume()
        self.ocr_state = ""
        self.stateChanged.emit()
        self.read_text_now()

    def set_ocr_enabled(self, on: bool) -> None:
        """The global switch (Settings): stored in the library, for the CLI too."""
        if not on:
            self.ocr_jobs.cancel()

        def stored(backlog: Any) -> None:
            self.ocr_state = _sentence(backlog.describe())
            self.stateChanged.emit()
            if on:
                self.read_text_now()

        self.call(lambda b, _t: b.set_ocr_enabled(on), stored)

    def set_folder_ocr(self, folder_id: int, on: bool) -> None:
        """One folder's switch (the Folders page); a pass under way starts over with it."""
        self.ocr_jobs.cancel()

        def stored(_row: Any) -> None:
            self.libraryChanged.emit()
            self.read_text_now()

        self.call(lambda b, _t: b.set_folder_ocr(folder_id, on), stored)

    def _text_progress(self, p) -> None:
        if p.total:
            eta = f", about {short_duration(p.eta_s)} left" if p.eta_s is not None else ""
            rate = f" · {p.rate:.1f} photos/s" if p.rate else ""
            self.ocr_state = f"Reading text {p.done:,}/{p.total:,}{rate}{eta}"
        else:
            self.ocr_state = "Reading text in photos…"
        self.stateChanged.emit()

    def _text_done(self, report: Any) -> None:
        line = report.backlog.describe()
        if report.problem and report.problem not in line:
            line = f"{line}; stopped: {report.problem}" if line else f"stopped: {report.problem}"
        self.ocr_state = _sentence(line)
        self.stateChanged.emit()

    def _text_stopped(self) -> None:
        if not self.ocr_jobs.paused:  # an index job goes first; the pass starts again after it
            self.ocr_state = ""
            self.stateChanged.emit()

    def _text_failed(self, exc: BaseException) -> None:
        message, hint = describe_error(exc)
        self.ocr_state = "Reading text stopped by an error"
        self.stateChanged.emit()
        self.errorRaised.emit(f"Reading text stopped: {message}", hint)

    def _on_disk_change(self) -> None:
        """Watcher thread: ask the GUI thread (queued) to index soon."""
        self._diskChanged.emit()

    # --- shutdown ---------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Quit with work in flight: every task is cancelled at once (the index job stops at its
        next batch boundary and commits what it embedded), the watcher stops while they wind
        down, the pools are joined, then the library is closed (SQLite checkpoints the WAL into
        the file as its last connection closes)."""
        self._closing = True
        self._reindex.stop()
        self._count_later.stop()
        self.workers.close()  # first: what pages ask for on the signals below never starts
        self.jobs.cancel()
        self.ann_jobs.cancel()
        self.ocr_jobs.cancel()  # returns at once; the photo being read is not waited for
        watcher = None
        if self.backend is not None:  # its threads join in tens of ms: while the job winds down
            watcher = threading.Thread(target=self.backend.stop_watching, name="clipdesk-unwatch")
            watcher.start()
        self.workers.shutdown()
        if watcher is not None:
            watcher.join()
        # closing twice is harmless: a queued close that did run leaves nothing to close
        for backend in (self.backend, self._unadopted, *self._retiring):
            if backend is not None:
                backend.close()
        self.backend, self._unadopted = None, None
        self._retiring.clear()


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
