"""Search past RAM: when a library searches through an ANN index, building it, keeping it on disk
(``app.ann``).

Below the threshold nothing changes: search holds every vector in one float16 matrix
(:mod:`clipdesk.search.vector_index`). From :meth:`AnnService.threshold` vectors of the search
model on (a library setting, ``clipdesk-cli ann threshold N|auto``; automatic: where that matrix
would take more than a quarter of this computer's memory, e.g. 4.2 million 512-d vectors with
16 GiB), search uses an IVF-PQ index (:mod:`clipdesk.search.ann_index`): about 72 bytes a
photo instead of 1,024, exact scores of approximate candidates, the same filters.

The index is built by :meth:`AnnService.build` (``clipdesk-cli ann build``; the app's
background job and the end of ``clipdesk-cli index`` through :meth:`AnnService.maintain`, when
one is due) and saved beside the library (:mod:`clipdesk.search.ann_store`), with the model id
and a format version. :meth:`AnnService.attach` loads it into a new search index; one that
cannot serve (another model, another format, a damaged file) is deleted and search stays exact
until it is rebuilt, never a crash. Until one is built, search is exact (the flat matrix).

Kept in step: the loaded index takes new photos (the pipeline's hook) and drops removed ones
(``sync``) like the flat matrix; :meth:`AnnService.maintain`, after each index run, saves it
when it changed (and reads it back at its exact size: appends grow the lists), catches a saved
index up with the library when no search index was loaded (a CLI run), rebuilds it when the
library has doubled or halved since its cells were trained, and goes back to the flat matrix
when the library drops below the threshold.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from clipdesk.common.errors import CancelledError, ClipDeskError
from clipdesk.common.progress import (
    CancelToken,
    Progress,
    ProgressCallback,
    RateMeter,
    short_duration,
)
from clipdesk.search.ann_index import MIN_VECTORS

if TYPE_CHECKING:
    from clipdesk.library.store import Library
    from clipdesk.search.ann_index import AnnIndex
    from clipdesk.search.searcher import Searcher
    from clipdesk.services.app import ClipDeskServices

log = logging.getLogger(__name__)

THRESHOLD_KEY = "search.ann_threshold"  # library setting: vectors (absent: automatic)
RAM_SHARE = 4  # automatic: the flat matrix may take a quarter of the memory
FALLBACK_RAM = 8 << 30  # where the memory cannot be read (os.sysconf is POSIX)
_READ = 8192  # vectors read at a time while building


def total_ram() -> int:
    """This computer's memory in bytes (FALLBACK_RAM when the system does not say)."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return FALLBACK_RAM
    return int(pages * size) if pages > 0 and size > 0 else FALLBACK_RAM


def auto_threshold(dim: int) -> int:
    """Vectors from which the flat float16 matrix (``dim * 2`` bytes each) would take more than
    a quarter of the memory."""
    return max(MIN_VECTORS, total_ram() // RAM_SHARE // (2 * max(1, dim)))


@dataclass(frozen=True)
class AnnStatus:
    """Whether search uses an ANN index, whether one is built, whether a build is due."""

    model_id: str | None  # the search model (None: nothing indexed yet)
    vectors: int  # its vectors in the library
    dim: int | None
    threshold: int  # vectors from which search uses an ANN index
    automatic: bool  # the threshold is the automatic one (no setting)
    wanted: bool  # vectors >= threshold (and enough to train on)
    built: int | None  # vectors in the index on disk (None: no usable one)
    problem: str | None  # why there is no usable one ("not built yet", "damaged", ...)
    in_use: bool  # the search index loaded in this process is the ANN one
    due: bool  # a build is owed (wanted, and none usable or the library doubled/halved)
    path: str  # where it is (or would be) saved
    disk_bytes: int
    built_at: float | None
    params: dict[str, int] | None

    @property
    def memory_bytes(self) -> int:
        """About what the index takes in memory at this library's size (codes, ids, cells)."""
        if not self.vectors or not self.dim:
            return 0
        if self.params is None:  # not built: a 64-byte code and an id a photo
            return self.vectors * 72
        code = math.ceil(self.params["m"] * self.params["nbits"] / 8)
        return self.vectors * (code + 8) + self.params["nlist"] * self.dim * 4

    @property
    def flat_bytes(self) -> int:
        """What the float16 matrix of exact search takes."""
        return self.vectors * (self.dim or 0) * 2

    def describe(self) -> str:
        """One sentence for both faces."""
        count = f"{self.vectors:,} photo{'s' if self.vectors != 1 else ''}"
        rule = f"from {self.threshold:,} photos" + (", automatic" if self.automatic else "")
        if not self.wanted:
            return f"exact search of {count} (approximate {rule})"
        if self.due:
            why = "its index is not built yet" if self.built is None else "the library changed size"
            return (
                f"approximate search wanted for {count} ({rule}), but {why}: search is exact "
                "until it is built"
            )
        return (
            f"approximate index of {self.built:,} photos, ~{_mb(self.memory_bytes)} in memory "
            f"instead of {_mb(self.flat_bytes)} ({rule})"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "vectors": self.vectors,
            "dim": self.dim,
            "threshold": self.threshold,
            "automatic": self.automatic,
            "wanted": self.wanted,
            "built": self.built,
            "problem": self.problem,
            "in_use": self.in_use,
            "due": self.due,
            "path": self.path,
            "disk_bytes": self.disk_bytes,
            "memory_bytes": self.memory_bytes,
            "flat_bytes": self.flat_bytes,
            "built_at": self.built_at,
            "params": self.params,
            "note": self.describe(),
        }


@dataclass(frozen=True)
class AnnReport:
    """What a build or a maintenance step did."""

    action: str  # built | saved | caught_up | flat | current | none | cancelled
    vectors: int  # in the index afterwards (0: none)
    seconds: float
    status: AnnStatus

    @property
    def cancelled(self) -> bool:
        return self.action == "cancelled"

    def describe(self) -> str:
        took = short_duration(self.seconds)
        return {
            "built": f"Built the approximate search index of {self.vectors:,} photos in {took}.",
            "saved": f"Saved the approximate search index ({self.vectors:,} photos).",
            "caught_up": f"Brought the approximate search index up to date ({self.vectors:,} "
            "photos).",
            "flat": "The library is below the threshold again: search is exact.",
            "cancelled": "Stopped building the approximate search index; search stays exact.",
        }.get(self.action, "")

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "vectors": self.vectors,
            "seconds": round(self.seconds, 2),
            "note": self.describe(),
            "status": self.status.as_json(),
        }


class AnnService:
    """The ANN index of the library's search model (one build or save at a time)."""

    def __init__(self, app: ClipDeskServices) -> None:
        self.app = app
        # Lock order: the app's lock, then _files (attach runs inside app.searcher()), then
        # a Searcher's. _work (one build or upkeep at a time) is never awaited under either:
        # a build may take the app's lock briefly while it holds it.
        self._work = threading.RLock()  # maintain() may build
        self._files = threading.Lock()  # reading the saved index vs writing a new one
        # The index as last saved or loaded: (it, its change count then); a weak reference,
        # so that the index search let go of is freed.
        self._saved: tuple[weakref.ref[AnnIndex], int] | None = None

    # --- the threshold ---------------------------------------------------------------------

    def threshold_setting(self) -> int | None:
        """The library's threshold in vectors, or None for the automatic one."""
        value = self.app.library.get_setting(THRESHOLD_KEY)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return None  # absent (or not a count someone could have meant): automatic
        return value

    def threshold(self, dim: int | None = None) -> int:
        """Vectors from which search uses an ANN index (at least MIN_VECTORS: fewer leave
        nothing to train on)."""
        setting = self.threshold_setting()
        if setting is not None:
            return max(MIN_VECTORS, setting)
        return auto_threshold(dim or self._dim() or 512)

    def set_threshold(self, vectors: int | None) -> AnnStatus:
        """Set the threshold (None: automatic); the next :meth:`maintain` builds or drops the
        index as it says."""
        if vectors is not None and (not isinstance(vectors, int) or vectors < 0):
            raise ClipDeskError(
                f"The threshold must be a number of photos, not {vectors!r}.",
                "Give a whole number (e.g. 2000000), or auto.",
            )
        if vectors is None:
            self.app.library.delete_setting(THRESHOLD_KEY)
        else:
            self.app.library.set_setting(THRESHOLD_KEY, int(vectors))
        return self.status()

    # --- state -----------------------------------------------------------------------------

    def status(self) -> AnnStatus:
        """Where the index stands; reads no index file (its description only)."""
        from clipdesk.search import ann_store

        model_id = self._model_id()
        n, dim = self.app.library.vector_count(model_id) if model_id else (0, None)
        threshold = self.threshold(dim)
        wanted = dim is not None and n >= threshold
        folder = ann_store.model_folder(self.app.library_path, model_id or "none")
        meta, problem = None, None
        if model_id is not None:
            try:
                meta = ann_store.read_meta(folder, model_id, dim)
            except ann_store.AnnUnusable as exc:
                problem = str(exc)
        searcher = self.app.searcher_loaded
        in_use = bool(searcher and searcher.ann is not None and searcher.model_id == model_id)
        drifted = meta is not None and (n > 2 * meta.trained_on or 2 * n < meta.trained_on)
        return AnnStatus(
            model_id=model_id,
            vectors=n,
            dim=dim,
            threshold=threshold,
            automatic=self.threshold_setting() is None,
            wanted=wanted,
            built=meta.count if meta is not None else None,
            problem=problem,
            in_use=in_use,
            due=wanted and (meta is None or drifted),
            path=str(folder),
            disk_bytes=meta.nbytes_on_disk if meta is not None else 0,
            built_at=meta.built_at if meta is not None else None,
            params=meta.params.as_json() if meta is not None else None,
        )

    def due(self) -> bool:
        return self.status().due

    # --- loading ---------------------------------------------------------------------------

    def attach(self, searcher: Searcher) -> bool:
        """Search through the saved index in ``searcher`` (a new one, for the search model)
        when the library is past the threshold and a usable index is saved; False: search
        is flat (the caller loads the matrix)."""
        from clipdesk.search import ann_store

        lib = self.app.library
        with self._files:
            n, dim = lib.vector_count(searcher.model_id)
            if dim is None or n < self.threshold(dim):
                return False
            folder = ann_store.model_folder(self.app.library_path, searcher.model_id)
            try:
                loaded = ann_store.load(folder, searcher.model_id, dim, _fetcher(lib, searcher))
            except ann_store.AnnUnusable as exc:
                if folder.exists():
                    log.warning("search index %s cannot be used (%s): rebuilt", folder, exc)
                    ann_store.discard(folder)
                else:
                    log.info("no approximate search index yet (%d photos): exact search", n)
                return False
            self._mark_saved(loaded.index)
            added, removed = searcher.use_ann(loaded.index, loaded.stamp_ids, loaded.stamp_times)
            log.info(
                "approximate search index of %d photos loaded (%d caught up, %d dropped)",
                len(loaded.index),
                added,
                removed,
            )
            return True

    # --- building and keeping -----------------------------------------------------------

    def build(
        self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> AnnReport:
        """Build the index from the library's vectors of the search model and save it; the
        loaded search index (if any) switches to it. Cancelling keeps what was saved before."""
        from clipdesk.search import ann_store

        with self._work:
            start = time.monotonic()
            lib = self.app.library
            model_id = self._model_id()
            n, dim = lib.vector_count(model_id) if model_id else (0, None)
            if model_id is None or dim is None or n < MIN_VECTORS:
                raise ClipDeskError(
                    f"An approximate search index needs at least {MIN_VECTORS} indexed photos; "
                    f"this library has {n:,}.",
                    "Index more photos first: below that, exact search is instant anyway.",
                )
            try:
                ann, ids, times = _train_and_fill(lib, model_id, dim, progress, cancel)
            except CancelledError:
                return AnnReport("cancelled", 0, time.monotonic() - start, self.status())
            _say(progress, 0, None, "Saving the search index")
            folder = ann_store.model_folder(self.app.library_path, model_id)
            with self._files:
                ann_store.save(folder, model_id, ann, ids, times, built_at=time.time())
                self._compact(ann, folder, model_id, dim)
                ann_store.prune(self.app.library_path, keep=folder)
            searcher = self.app.searcher_loaded
            if searcher is not None and searcher.model_id == model_id:
                searcher.use_ann(ann, ids, times)  # photos added during the build caught up
            return AnnReport("built", len(ann), time.monotonic() - start, self.status())

    def maintain(
        self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> AnnReport:
        """What the faces run after each index run: build when due, save a changed index,
        catch a saved one up, or go back to exact search below the threshold (see the module
        docstring). Cheap when there is nothing to do (two small queries)."""
        with self._work:
            start = time.monotonic()
            st = self.status()
            searcher = self.app.searcher_loaded
            mine = searcher if searcher is not None and searcher.model_id == st.model_id else None
            if not st.wanted:
                if mine is not None and mine.ann is not None:
                    mine.load()  # the library shrank, or the threshold went up
                    return AnnReport("flat", 0, time.monotonic() - start, self.status())
                return AnnReport("none", 0, time.monotonic() - start, st)
            if st.due:
                return self.build(progress, cancel)
            if mine is not None and mine.ann is not None:
                if self._is_saved(mine.ann):
                    return AnnReport("current", len(mine.ann), time.monotonic() - start, st)
                self._save(mine, mine.ann, progress)
                return AnnReport("saved", len(mine.ann), time.monotonic() - start, self.status())
            if st.built == st.vectors:
                return AnnReport("current", st.vectors, time.monotonic() - start, st)
            # No search index here (a CLI index run): catch the saved index up for the next
            # search, so that each one does not read the same new vectors again.
            from clipdesk.search.searcher import Searcher

            assert st.model_id is not None and st.dim is not None
            scratch = Searcher(self.app.library, st.model_id, st.dim)
            _say(progress, 0, None, "Updating the search index")
            if not self.attach(scratch) or scratch.ann is None:
                return self.build(progress, cancel)  # it could not be read: built again
            self._save(scratch, scratch.ann, progress)
            return AnnReport("caught_up", len(scratch.ann), time.monotonic() - start, self.status())

    # --- internals -------------------------------------------------------------------------

    def _model_id(self) -> str | None:
        recorded = self.app.status_report.search_model()
        if recorded is not None:
            return recorded
        if not self.app.library.embedding_models():
            return None
        return str(self.app.search_model().id)

    def _dim(self) -> int | None:
        model_id = self._model_id()
        return self.app.library.vector_count(model_id)[1] if model_id else None

    def _save(self, searcher: Searcher, ann: AnnIndex, progress: ProgressCallback | None) -> None:
        from clipdesk.search import ann_store

        _say(progress, 0, None, "Saving the search index")
        folder = ann_store.model_folder(self.app.library_path, searcher.model_id)
        try:
            built_at = ann_store.read_meta(folder, searcher.model_id).built_at
        except ann_store.AnnUnusable:
            built_at = time.time()
        with self._files, searcher.steady() as (ids, times):
            ann_store.save(folder, searcher.model_id, ann, ids, times, built_at=built_at)
            self._compact(ann, folder, searcher.model_id, ann.dim, searcher)

    def _compact(
        self,
        ann: AnnIndex,
        folder: Path,
        model_id: str,
        dim: int,
        searcher: Searcher | None = None,
    ) -> None:
        """Read the index just saved back in place of ``ann``'s lists: appends left them up to
        twice their size; the file holds them at their exact size. A file that cannot be read
        back is deleted (the next maintenance rebuilds it) and ``searcher`` goes back to exact
        search."""
        from clipdesk.search import ann_store

        try:
            ann.reload(lambda: ann_store.read_index(folder, model_id, dim))
        except ann_store.AnnUnusable as exc:
            ann_store.discard(folder)
            if searcher is not None:
                log.warning("search index unreadable after saving (%s): exact search", exc)
                searcher.load()
                return
            raise ClipDeskError(
                f"The search index could not be read back after saving it: {exc}.",
                f"Check the disk holding {folder.parent}; `clipdesk-cli ann build` tries again.",
            ) from exc
        finally:
            _release_freed_memory()
        self._mark_saved(ann)

    def _mark_saved(self, ann: AnnIndex) -> None:
        self._saved = (weakref.ref(ann), ann.changes)

    def _is_saved(self, ann: AnnIndex) -> bool:
        return self._saved is not None and self._saved[0]() is ann and self._saved[1] == ann.changes


def _train_and_fill(
    lib: Library,
    model_id: str,
    dim: int,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
) -> tuple[AnnIndex, np.ndarray, np.ndarray]:
    """Train on a random sample of the vectors, then stream every one in: (the index, the ids
    it holds, when each one's vector was stored)."""
    from clipdesk.search.ann_index import AnnIndex, AnnParams, training_size

    every = lib.vector_ids(model_id)  # from the index: no vector read
    params = AnnParams.for_count(len(every), dim)
    rng = np.random.default_rng()
    picked = np.sort(rng.choice(every, training_size(len(every), params.nlist), replace=False))
    sample = np.empty((len(picked), dim), np.float32)
    meter, filled = RateMeter(len(picked)), 0
    for start in range(0, len(picked), _READ):
        _check(cancel)
        ids, vecs = lib.vectors_for(model_id, picked[start : start + _READ].tolist())
        sample[filled : filled + len(ids)] = vecs
        filled += len(ids)
        _report(progress, meter.update(filled, "Reading a sample of the vectors"))
    _check(cancel)
    _report(progress, Progress(0, None, message=f"Training the search index on {filled:,} vectors"))
    ann = AnnIndex.train(sample[:filled], len(every), _fetcher(lib, model_id))
    del sample
    meter, done = RateMeter(len(every)), 0
    id_parts, time_parts = [], []
    with contextlib.closing(lib.vector_chunks(model_id, dim, chunk=_READ)) as parts:
        for part in parts:  # one read snapshot: the stamps match the vectors
            _check(cancel)
            ann.add(part.ids, part.vectors)
            id_parts.append(part.ids.copy())
            time_parts.append(np.asarray(part.created_at, np.float64))
            done += len(part.ids)
            _report(progress, meter.update(done, "Adding photos to the search index"))
    ids = np.concatenate(id_parts) if id_parts else np.empty(0, np.int64)
    times = np.concatenate(time_parts) if time_parts else np.empty(0, np.float64)
    return ann, ids, times


def _fetcher(lib: Library, searcher_or_model: Searcher | str) -> Callable[[np.ndarray], Any]:
    model_id = (
        searcher_or_model if isinstance(searcher_or_model, str) else searcher_or_model.model_id
    )

    def fetch(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        found: tuple[np.ndarray, np.ndarray] = lib.vectors_for(model_id, np.asarray(ids).tolist())
        return found

    return fetch


def _check(cancel: CancelToken | None) -> None:
    if cancel is not None:
        cancel.raise_if_cancelled()


def _report(progress: ProgressCallback | None, p: Progress) -> None:
    if progress is not None:
        progress(p)


def _say(progress: ProgressCallback | None, done: int, total: int | None, message: str) -> None:
    if progress is not None:
        progress(Progress(done=done, total=total, message=message))


def _mb(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{max(1, round(n / 1e6))} MB"


def _release_freed_memory() -> None:
    """Hand the freed lists' memory back to the system (glibc keeps small freed blocks for the
    process; elsewhere the allocator decides)."""
    name = ctypes.util.find_library("c")
    if name is None or not name.startswith("libc.so"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(name).malloc_trim(0)
