"""The indexing pipeline: pending photos in, vectors in the library out.

::

    store.pending_photos ──> decode pool (threads or processes, bounded) ──> batches ──> model
                                                        │                                 │
                                        DecodeError: reason recorded      vectors committed in
                                                                          one transaction per
                                                                          ~256 photos / 2 s

- The store's pending state is the only truth: a photo is done when its vector is committed, so
  any interruption (cancel, crash, kill -9, power cut) loses at most the uncommitted batch, and
  the next run simply continues with what is still pending. Nothing is tracked in memory across
  runs.
- Decoding runs ahead of the model in ``workers`` threads (Pillow releases the GIL while it
  decodes and resizes) with at most ``prefetch`` photos in flight, so memory stays bounded.
  ``decoder="processes"`` uses a process pool instead (bench/index_bench.py measures both).
- A photo that cannot be decoded gets its reason recorded (status error) and never stops the run;
  it is retried when the file changes. A failure of the model itself stops the run with an error
  after committing what was done.
- ``after_embedding_steps``: names of the work each embedded photo is owed next (the services
  pass XMP import and tagging; the pipeline does not know what they are). They are recorded in
  the library in the same transaction as the vectors (``Library.add_steps``), so a crash right
  after a commit leaves them pending for whoever runs them, never lost.
- ``on_embedded(ids, vectors)`` is called after each commit with the photos just embedded (the
  search index adds them; the services run the owed steps for them).
- Re-embedding for a new model is the same run with the new model: ``pending_photos(model.id)``
  includes every ok photo without a vector for it, and the old vectors stay until the caller
  switches over (see :mod:`clipdesk.services.app`).
- Each vector is stored with the model's runtime label ("torch-fp32", "onnx-int8"). A run whose
  runtime differs from the one the model's stored vectors came from goes ahead only where the two
  agree (:func:`clipdesk.model.runtime.agreement.mixable`): one library's search never ranks int8
  vectors beside fp32 ones of a model whose int8 check did not pass.
- Pixels travel as numpy arrays, from either decoder to the model: the pipeline never needs torch,
  so a model served by ONNX Runtime indexes without importing it.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from clipdesk.common.errors import ModelError
from clipdesk.common.progress import CancelToken, Progress, ProgressCallback, RateMeter
from clipdesk.imaging.decode import DecodeError, decode_for_model
from clipdesk.indexing.report import EmbeddedHook, IndexReport
from clipdesk.library.records import Photo

if TYPE_CHECKING:
    from clipdesk.library.store import Library
    from clipdesk.model.engine import ClipModel
    from clipdesk.model.preprocess import Preprocessor

log = logging.getLogger(__name__)


_PAGE = 512  # pending photos fetched from the store at a time


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _prepare_array(path: str, size: int, preprocessor: Preprocessor) -> np.ndarray:
    """Decode one photo and preprocess it for the model: float32 [3, S, S] (runs in a worker
    thread or process; an array is cheap to pickle)."""
    return preprocessor.to_array(decode_for_model(path, size).image)


class IndexPipeline:
    """Embeds every pending photo of ``library`` with ``model``. One run at a time."""

    def __init__(
        self,
        library: Library,
        model: ClipModel,
        *,
        batch_size: int = 32,
        workers: int | None = None,
        prefetch: int | None = None,
        decoder: str = "threads",
        commit_size: int = 256,
        commit_interval_s: float = 2.0,
        on_embedded: EmbeddedHook | None = None,
        after_embedding_steps: Sequence[str] = (),
        vector_free_steps: Sequence[str] = (),
    ) -> None:
        if decoder not in ("threads", "processes"):
            raise ValueError("decoder must be 'threads' or 'processes'")
        self.library = library
        self.model = model
        self.batch_size = max(1, batch_size)
        self.workers = workers or default_workers()
        self.prefetch = prefetch or max(2 * self.batch_size, 4 * self.workers)
        self.decoder = decoder
        self.commit_size = commit_size
        self.commit_interval_s = commit_interval_s
        self.on_embedded = on_embedded
        self.after_embedding_steps = tuple(after_embedding_steps)
        self.vector_free_steps = tuple(vector_free_steps)

    # --- public ----------------------------------------------------------------------------

    def run(
        self,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        limit: int | None = None,
    ) -> IndexReport:
        """Index until nothing is pending (or ``limit`` photos, or cancel). Never raises for a
        bad photo; raises ModelError if the model fails, LibraryError if the store does."""
        cancel = cancel or CancelToken()
        start = time.monotonic()
        total = self.library.count_pending(self.model.id)
        if limit is not None:
            total = min(total, limit)
        if total:
            self._check_runtime_mix()
        meter = RateMeter(total)
        state = _RunState()
        last_report = 0.0

        def report(force: bool = False) -> None:
            nonlocal last_report
            now = time.monotonic()
            if progress and (force or now - last_report >= 0.2):
                last_report = now
                done = state.embedded + state.failed + len(state.vec_ids) + len(state.errors)
                progress(meter.update(done, "Indexing photos"))

        report(force=True)
        with self._pool() as pool:
            try:
                for item in self._decoded(pool, self._pending(limit), cancel):
                    photo, result = item
                    if isinstance(result, str):
                        state.errors.append((photo.id, result, photo.stamp, str(photo.path)))
                    else:
                        state.batch.append((photo, result))
                        if len(state.batch) >= self.batch_size:
                            self._embed(state)
                    if state.uncommitted >= self.commit_size or (
                        state.uncommitted
                        and time.monotonic() - state.last_commit >= self.commit_interval_s
                    ):
                        self._commit(state)
                    report()
                if state.batch and not cancel.cancelled:
                    self._embed(state)
            finally:
                # Whatever was embedded is kept, also when the model or a cancel stops the run
                # (but a commit that itself failed - disk full, locked - is not tried twice).
                if not state.commit_failed:
                    self._commit(state)
        report(force=True)
        elapsed = time.monotonic() - start
        if progress:
            progress(
                Progress(
                    state.embedded + state.failed,
                    total,
                    meter.update(state.embedded + state.failed).rate,
                    0.0,
                    "Cancelled" if cancel.cancelled else "Indexing finished",
                )
            )
        return IndexReport(state.embedded, state.failed, total, elapsed, cancel.cancelled)

    # --- stages ----------------------------------------------------------------------------

    def _check_runtime_mix(self) -> None:
        """ModelError when this run's vectors may not join the model's stored ones (see
        :func:`~clipdesk.model.runtime.agreement.mixable`), naming both runtimes."""
        label: str = self.model.runtime_label
        stored = self.library.vector_runtimes(self.model.id)
        if not stored or set(stored) == {label}:
            return
        from clipdesk.model.runtime import agreement, cache, describe, precision_of

        entry = cache.entry_for_hash(self.model.weights_hash)
        if agreement.mixable([*stored, label], entry):
            return
        kept = max(stored, key=lambda k: stored[k])  # what most of the vectors were made with
        made = " and ".join(f"{describe(k)} ({n:,} photos)" for k, n in sorted(stored.items()))
        again = f"its photos must be embedded again with {describe(label)}"
        if entry is not None:
            why = "its int8 vectors did not agree closely enough with fp32 ones"
        else:
            why = "its int8 vectors have not been checked against fp32 ones on this machine"
        message = (
            f"The library's vectors of {self.model.name} were made with {made}, and this run "
            f"would embed with {describe(label)}: they cannot be searched together, because "
            f"{why}."
        )
        if precision_of(kept) == "int8" and entry is not None:
            # A model whose int8 check failed is never served in int8 again: no runtime to pick.
            raise ModelError(message, f"To index it, {again}.")
        runtime = kept.partition("-")[0]
        raise ModelError(
            message,
            f"Choose {describe(runtime)} in Settings, the runtime its vectors were made with; "
            f"otherwise {again}.",
            cli_hint=f"Run with --runtime {runtime}, the runtime its vectors were made with; "
            f"otherwise {again}.",
        )

    def _pending(self, limit: int | None) -> Iterator[Photo]:
        after, given = 0, 0
        while limit is None or given < limit:
            page = self.library.pending_photos(self.model.id, limit=_PAGE, after_id=after)
            if not page:
                return
            for photo in page:
                if limit is not None and given >= limit:
                    return
                given += 1
                yield photo
            after = page[-1].id

    def _pool(self) -> cf.Executor:
        if self.decoder == "processes":
            ctx = multiprocessing.get_context("spawn")  # fork would copy torch's thread state
            return cf.ProcessPoolExecutor(self.workers, mp_context=ctx)
        return cf.ThreadPoolExecutor(self.workers, thread_name_prefix="clipdesk-decode")

    def _submit(self, pool: cf.Executor, photo: Photo) -> cf.Future[Any]:
        return pool.submit(
            _prepare_array, str(photo.path), self.model.image_size, self.model.preprocessor
        )

    def _decoded(
        self, pool: cf.Executor, photos: Iterator[Photo], cancel: CancelToken
    ) -> Iterator[tuple[Photo, Any]]:
        """(photo, pixels) or (photo, error reason), in order, with a bounded look-ahead."""
        inflight: deque[tuple[Photo, cf.Future[Any]]] = deque()
        try:
            for photo in photos:
                inflight.append((photo, self._submit(pool, photo)))
                if len(inflight) >= self.prefetch:
                    if cancel.cancelled:
                        return
                    yield self._result(*inflight.popleft())
            while inflight and not cancel.cancelled:
                yield self._result(*inflight.popleft())
        finally:
            for _, fut in inflight:
                fut.cancel()

    @staticmethod
    def _result(photo: Photo, fut: cf.Future[Any]) -> tuple[Photo, Any]:
        try:
            out = fut.result()
        except DecodeError as exc:
            return photo, exc.reason
        except Exception as exc:  # a decoder bug must not stop the library from indexing
            log.exception("unexpected failure decoding %s", photo.path)
            return photo, f"unexpected decoder failure: {type(exc).__name__}: {exc}"
        return photo, out

    def _embed(self, state: _RunState) -> None:
        batch, state.batch = state.batch, []
        pixels = np.stack([px for _, px in batch])  # float32 [n, 3, S, S]
        try:
            vectors = self._encode(pixels)
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(
                f"The model failed while indexing: {exc}",
                "Choose the CPU as the device in Settings, or a smaller batch size.",
                cli_hint="Try --device cpu, or a smaller batch size.",
            ) from exc
        for (photo, _), vec in zip(batch, vectors, strict=True):
            state.vec_ids.append(photo.id)
            state.vec_stamps.append(photo.stamp)
            state.vecs.append(vec)

    def _encode(self, pixels: np.ndarray) -> np.ndarray:
        try:
            return self.model.encode_pixels(pixels)
        except RuntimeError as exc:
            # Out of GPU memory: halve the batch and retry (the next batches stay halved).
            if "out of memory" not in str(exc).lower() or len(pixels) == 1:
                raise
            log.warning("out of memory at batch %d; halving", len(pixels))
            # Only a model on torch has a GPU cache to give back, and then torch is loaded.
            torch = sys.modules.get("torch")
            if torch is not None and torch.cuda.is_available():
                torch.cuda.empty_cache()
            self.batch_size = max(1, len(pixels) // 2)
            half = len(pixels) // 2
            return np.concatenate([self._encode(pixels[:half]), self._encode(pixels[half:])])

    def _commit(self, state: _RunState) -> None:
        if not state.uncommitted:
            state.last_commit = time.monotonic()
            return
        ids = np.asarray(state.vec_ids, dtype=np.int64)
        vecs = (
            np.stack(state.vecs).astype(np.float32)
            if state.vecs
            else np.zeros((0, self.model.dim), np.float32)
        )
        stored = failed = 0
        try:
            with self.library.transaction():
                if len(ids):
                    stored = self.library.store_embeddings(
                        self.model.id,
                        ids.tolist(),
                        vecs,
                        state.vec_stamps,
                        runtime=self.model.runtime_label,
                    )
                if stored < len(ids):
                    # Some files changed while they were being embedded: the store kept them
                    # pending, and they are owed nothing until their new vector lands.
                    ids, vecs = self._still_current(ids, vecs, state.vec_stamps)
                if self.after_embedding_steps and len(ids):
                    self.library.add_steps(
                        ids.tolist(),
                        self.after_embedding_steps,
                        self.model.id,
                        self.vector_free_steps,
                    )
                if state.errors:
                    failed = self.library.mark_errors(state.errors)
        except BaseException:
            state.commit_failed = True
            raise
        state.embedded += stored
        state.failed += failed
        state.vec_ids, state.vec_stamps, state.vecs, state.errors = [], [], [], []
        state.last_commit = time.monotonic()
        if self.on_embedded is not None and len(ids):
            try:
                self.on_embedded(ids, vecs)
            except Exception:  # a listener's bug must not stop indexing
                log.exception("on_embedded listener failed")

    def _still_current(
        self, ids: np.ndarray, vecs: np.ndarray, stamps: list[tuple[int, int]]
    ) -> tuple[np.ndarray, np.ndarray]:
        current = {p.id: p.stamp for p in self.library.photos(ids=ids.tolist())}
        keep = [
            i
            for i, (pid, stamp) in enumerate(zip(ids.tolist(), stamps, strict=True))
            if current.get(pid) == tuple(stamp)
        ]
        return ids[keep], vecs[keep]


class _RunState:
    def __init__(self) -> None:
        self.batch: list[tuple[Photo, np.ndarray]] = []
        self.vec_ids: list[int] = []
        self.vec_stamps: list[tuple[int, int]] = []
        self.vecs: list[np.ndarray] = []
        self.errors: list[tuple[int, str, tuple[int, int], str]] = []  # marked for that path
        self.embedded = 0
        self.failed = 0
        self.commit_failed = False
        self.last_commit = time.monotonic()

    @property
    def uncommitted(self) -> int:
        return len(self.vec_ids) + len(self.errors)
