"""Reading the text in photos (OCR), as a pass of its own after embedding: ``app.ocr``.

The work is the library's ``photo_steps`` rows of :data:`~clipdesk.library.words.OCR_STEP`,
recorded with each photo's vector like the other owed steps; the step is registered
``background`` (:class:`~clipdesk.services.steps.Step`), so index runs leave it to this pass,
which both faces run after them: search is ready first, and text comes a second or so a photo
later. The rules:

- *Resumable.* A photo is read outside any write transaction; its text (``save_ocr``) and the
  deletion of its row (``finish_step``) are then one transaction. A crash loses at most the
  photo being read, and the next pass finds the rest where they were: the store is the truth.
- *Cancellable, promptly.* The pass runs on a thread of its own; a cancel returns at once (after
  the write in progress, if any), and the photo being read is finished by that thread, which
  writes nothing more. :meth:`OcrService.wait_idle` waits for it, where the process is about to
  end through the interpreter's teardown (the CLI).
- *Lower priority.* That thread lowers its own scheduling priority first (Linux: nice
  :data:`NICE` on its thread id; the threads ONNX Runtime starts from it inherit it, so the
  reader's whole pool runs at that priority). Elsewhere it runs at normal priority; the app still
  stops the pass whenever an index run starts, so OCR never delays search.
- *One bad photo blocks nothing.* A photo that fails or times out has the reason recorded
  (``save_ocr_failure`` and ``fail_step``); it stays searchable by CLIP and is tried again by
  later passes, :data:`MAX_ATTEMPTS` times in all. An engine that cannot load at all stops the
  pass with the work left owed and the reason told, not charged to every photo.
- *Switches.* On by default: globally (a library setting, :meth:`OcrService.set_enabled`) and per
  folder (:meth:`OcrService.set_folder`). Off leaves the rows owed, so turning it on again reads
  them.
- *No second reading for nothing.* A re-embedding for another model owes every photo its steps
  again; a photo whose text was read by the same engine and whose row has not changed since (a
  changed file is marked changed by the scan) keeps its text, and its row is simply finished.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from clipdesk.common.errors import CancelledError, ClipDeskError
from clipdesk.common.progress import CancelToken, ProgressCallback, RateMeter
from clipdesk.library.errors import LibraryCorruptError, LibraryLockedError
from clipdesk.library.words import OCR_STEP, OcrBox, PhotoText
from clipdesk.services.steps import LOCK_RETRIES, RETRY_PAUSE_S, Step

if TYPE_CHECKING:
    from clipdesk.library.records import Photo
    from clipdesk.library.store import Library
    from clipdesk.ocr import OcrResult, TextReader
    from clipdesk.services.app import ClipDeskServices
    from clipdesk.services.folders import FolderRecord

__all__ = ["OcrBacklog", "OcrReport", "OcrService"]

log = logging.getLogger(__name__)

ENABLED_KEY = "ocr_enabled"  # library setting: the global switch (absent: on)
# "off" in the environment: no reading in this process, whatever the switch says (a batch job
# on a shared machine; the test suite, where only the tests of OCR pay for it)
ENV_OFF = "CLIPDESK_OCR"
SPEED_KEY = "ocr_seconds_per_photo"  # library setting: the last pass's mean, for the cost shown
BATCH = 32  # photos asked for at a time: a switch turned off mid-pass takes effect by the next
MAX_ATTEMPTS = 3  # a photo that failed this many times is not tried again (its reason is kept)
NICE = 10  # the pass's niceness on Linux (0 normal, 19 lowest): below the app, above idle
ESTIMATE_S = 1.0  # the cost said before a pass measured it here: about a second a photo on CPU
MESSAGE = "Reading text in photos"

_T = TypeVar("_T")


def lower_this_thread() -> bool:
    """Lower the calling thread's scheduling priority (see the module's docstring); True if it
    was lowered. Linux keeps a nice value per thread and a new thread starts with its creator's,
    so ONNX Runtime's threads, made by this one, get it too. A thread never gets its priority
    back without privileges, which is why the pass has a thread of its own."""
    if not sys.platform.startswith("linux"):
        return False
    tid = threading.get_native_id()
    try:
        now = os.getpriority(os.PRIO_PROCESS, tid)
        if now < NICE:
            os.setpriority(os.PRIO_PROCESS, tid, NICE)
        return True
    except OSError as exc:  # a container or a policy that forbids it: run at normal priority
        log.info("OCR runs at normal priority: %s", exc)
        return False


@dataclass(frozen=True)
class OcrBacklog:
    """What is left to read, what it costs, and why it is not done yet."""

    enabled: bool  # the global switch
    waiting: int  # photos a pass would read now (in folders with it on; retries included)
    failed: int  # photos whose last reading failed (the reason is kept; some are retried)
    done: int  # photos whose text was read
    off: int  # photos owed reading in folders with it off
    seconds_per_photo: float | None  # measured here by the last pass (None: not yet)
    problem: str | None = None  # what stopped the last pass, or the latest photo's failure

    @property
    def cost_s(self) -> float:
        """Seconds a photo, as measured here, else the estimate."""
        return self.seconds_per_photo or ESTIMATE_S

    def describe(self) -> str:
        """One sentence for both faces ("reading text: 120 photos waiting, ~1 s each (about 2
        min)"); empty when nothing is owed and nothing went wrong."""
        if not self.enabled:
            owed = self.waiting + self.off
            return "reading text is off" + (f" ({_photos(owed)} waiting)" if owed else "")
        parts = []
        if self.waiting:
            total = self.waiting * self.cost_s
            parts.append(
                f"reading text: {_photos(self.waiting)} waiting, ~{_seconds(self.cost_s)} each "
                f"(about {_duration(total)})"
            )
        if self.failed:
            parts.append(f"{_photos(self.failed)} could not be read so far")
        if self.off:
            parts.append(f"{_photos(self.off)} in folders with text reading off")
        if not parts:
            return ""
        if not self.waiting:
            parts[0] = "reading text: " + parts[0]
        text = "; ".join(parts)
        if self.problem:
            text += f" ({self.problem.rstrip('.')})"
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "waiting": self.waiting,
            "failed": self.failed,
            "done": self.done,
            "off": self.off,
            "seconds_per_photo": self.seconds_per_photo,
            "problem": self.problem,
            "note": self.describe(),
        }


@dataclass(frozen=True)
class OcrReport:
    """What one pass did."""

    read: int  # photos read and stored (some hold no text at all)
    failed: int  # photos whose reading failed (reason recorded, tried again later)
    kept: int  # photos already read and unchanged since: finished without reading
    seconds: float  # the pass, start to end
    reading_s: float  # of it, time spent reading photos
    cancelled: bool
    problem: str | None  # what stopped the pass early (the engine, the library); None: nothing
    backlog: OcrBacklog  # what is left after it

    @property
    def rate(self) -> float:
        """Photos read a second."""
        return (self.read + self.failed) / self.reading_s if self.reading_s > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "failed": self.failed,
            "kept": self.kept,
            "seconds": round(self.seconds, 2),
            "photos_per_s": round(self.rate, 2),
            "cancelled": self.cancelled,
            "problem": self.problem,
            "backlog": self.backlog.as_json(),
        }

    def describe(self) -> str:
        n = self.read + self.failed
        if not n and not self.kept:
            text = "No text to read." if not self.cancelled else ""
        else:
            text = f"Read the text of {_photos(self.read)}"
            if self.failed:
                text += f" ({self.failed:,} could not be read)"
            text += f" in {self.seconds:.1f} s, {self.rate:.2f} photos/s."
            if self.kept:
                text += f" {_photos(self.kept)} already read kept their text."
        if self.problem:
            text = (text + f" Stopped: {self.problem}").strip()
        return text


class OcrService:
    """``app.ocr``: the switches, the backlog and the pass; safe to call from any thread."""

    def __init__(self, app: ClipDeskServices) -> None:
        self.app = app
        self._run_lock = threading.Lock()  # one pass at a time
        self._reader_lock = threading.Lock()  # held by the thread reading with the reader
        self._reader: TextReader | None = None
        self._problem: str | None = None  # what stopped the last pass (None: it ended well)
        self._closed = False

    # --- the step ----------------------------------------------------------------------------

    def step(self) -> Step:
        """The owed step for the services' :class:`StepService` (registered once, after the
        others): recorded with each vector, never run by index runs themselves."""
        return Step(
            OCR_STEP,
            "reading text",
            lambda ids: self.run(photo_ids=ids),
            needs_vector=False,
            background=True,
        )

    # --- switches ----------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """The global switch (on unless turned off), kept in the library."""
        return bool(self.app.library.get_setting(ENABLED_KEY, True))

    def set_enabled(self, on: bool) -> None:
        """Turn reading text on or off for the whole library; off leaves the work owed."""
        self.app.library.set_setting(ENABLED_KEY, bool(on))

    def set_folder(self, folder: int | str | os.PathLike[str], on: bool) -> FolderRecord:
        """Turn reading text on or off for one watched folder (by id or path); FolderError if
        the library does not watch it."""
        ref = folder if isinstance(folder, int | str) else os.fspath(folder)
        record = self.app.folders.get(ref)
        self.app.library.set_folder_ocr(record.id, on)
        return self.app.folders.get(record.id)

    # --- what is there -----------------------------------------------------------------------

    def backlog(self) -> OcrBacklog:
        """The counts, the cost and the reason the work is not done, if one is known."""
        lib = self.app.library
        count = lib.count_ocr()
        # not count.waiting: that keeps the photos tried MAX_ATTEMPTS times, never read again
        waiting = len(lib.pending_ocr(1 << 40, 0, MAX_ATTEMPTS))
        from clipdesk.ocr import available  # cheap: finds the modules, loads none

        problem = f"{ENV_OFF}=off is set" if _env_off() else (self._problem or available())
        if problem is None and count.failed:
            step = lib.count_steps().get(OCR_STEP)
            problem = step.last_error if step is not None else None
        speed = lib.get_setting(SPEED_KEY)
        return OcrBacklog(
            enabled=self.enabled,
            waiting=waiting,
            failed=count.failed,
            done=count.done,
            off=count.off,
            seconds_per_photo=float(speed) if isinstance(speed, int | float) and speed else None,
            problem=problem,
        )

    def text_of(self, photo_id: int) -> PhotoText | None:
        """The text read in a photo, its boxes, or why it could not be read (None: not yet)."""
        return self.app.library.photo_text(photo_id)

    # --- the pass ----------------------------------------------------------------------------

    def run(
        self,
        cancel: CancelToken | None = None,
        progress: ProgressCallback | None = None,
        *,
        limit: int | None = None,
        photo_ids: Sequence[int] | None = None,
    ) -> OcrReport:
        """Read the photos owed reading (``photo_ids`` only, when given; at most ``limit``),
        oldest first, until none is left, ``cancel`` is set, or the engine or the library
        stops it (then the report says why and the work stays owed). Nothing is read while the
        global switch is off. Raises for a damaged library (LibraryCorruptError) and for what
        is no error of a photo's (KeyboardInterrupt, a bug outside the reading), what was read
        before it stored."""
        start = time.monotonic()
        if not self.enabled or _env_off():
            return self._report(_Pass.idle(), start, cancelled=False)
        with self._run_lock:
            work = _Pass(self, cancel, progress, limit, photo_ids)
            thread = threading.Thread(target=work.main, name="clipdesk-ocr", daemon=True)
            thread.start()
            cancelled = False
            while thread.is_alive():
                thread.join(0.05)
                if cancel is not None and cancel.cancelled and thread.is_alive():
                    work.abandon()  # the photo being read is finished there, and not stored
                    cancelled = True
                    break
            if work.error is not None:
                if isinstance(work.error, LibraryCorruptError):
                    self._problem = work.error.message
                raise work.error
            cancelled = cancelled or work.cancelled or (cancel is not None and cancel.cancelled)
            if not cancelled:
                self._problem = work.problem
            if work.read + work.failed:
                self.app.library.set_setting(
                    SPEED_KEY, round(work.reading_s / (work.read + work.failed), 3)
                )
            return self._report(work, start, cancelled)

    def _report(self, work: _Pass, start: float, cancelled: bool) -> OcrReport:
        return OcrReport(
            read=work.read,
            failed=work.failed,
            kept=work.kept,
            seconds=time.monotonic() - start,
            reading_s=work.reading_s,
            cancelled=cancelled,
            problem=work.problem,
            backlog=self.backlog(),
        )

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait for a photo still being read by a cancelled pass; True when none is (the
        reader is idle). The CLI waits before the interpreter's teardown, which must not free
        the engine under a thread still running it."""
        if self._reader_lock.acquire(timeout=max(0.0, timeout_s)):
            self._reader_lock.release()
            return True
        return False

    def close(self) -> None:
        """Let go of the reader now if it is idle, else as soon as its photo is read."""
        self._closed = True
        if self._reader_lock.acquire(blocking=False):
            try:
                self._drop_reader()
            finally:
                self._reader_lock.release()

    def use_reader(self, reader: TextReader) -> None:
        """Read with ``reader`` from now on (one a caller already holds: a benchmark, tests)."""
        with self._reader_lock:
            self._reader = reader

    # --- for the pass's thread ----------------------------------------------------------------

    def _reader_here(self) -> TextReader:
        """The reader (made on first use, on the pass's lowered thread, so that the engine's
        threads inherit its priority); call with the reader lock held."""
        if self._reader is None:
            from clipdesk.ocr import TextReader  # OpenCV and ONNX Runtime: only when reading

            self._reader = TextReader()
            log.info("reading text with %s", self._reader.engine)
        return self._reader

    def _drop_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()


class _Abandoned(Exception):
    """The caller went away (cancelled): the pass's thread must not touch the library again."""


@dataclass
class _Pass:
    """One pass's state, shared by its thread and the caller waiting for it."""

    service: OcrService | None
    cancel: CancelToken | None
    progress: ProgressCallback | None
    limit: int | None
    photo_ids: Sequence[int] | None

    def __post_init__(self) -> None:
        self.read = self.failed = self.kept = 0
        self.reading_s = 0.0
        self.cancelled = False
        self.problem: str | None = None
        self.error: BaseException | None = None
        self._abandoned = False
        # held around every use of the library by the pass's thread, so that once the caller
        # has taken it to abandon the pass, no write of the pass is under way or to come
        self._guard = threading.Lock()

    @classmethod
    def idle(cls) -> _Pass:
        return cls(None, None, None, None, None)

    def abandon(self) -> None:
        with self._guard:
            self._abandoned = True

    # --- the thread ----------------------------------------------------------------------------

    def main(self) -> None:
        service = self.service
        assert service is not None
        lower_this_thread()
        try:
            with service._reader_lock:
                try:
                    self._loop(service)
                finally:
                    if service._closed:
                        service._drop_reader()
        except _Abandoned:
            pass
        except CancelledError:
            self.cancelled = True
        except LibraryCorruptError as exc:
            self.error = exc
        except ClipDeskError as exc:  # the engine cannot load, the library is locked or full
            log.warning("reading text stopped: %s", exc.message)
            self.problem = exc.message
        except BaseException as exc:  # handed to the caller, who raises it
            self.error = exc

    def _library(self, use: Callable[[Library], _T]) -> _T:
        """``use(library)`` unless the caller has gone (a quit must find the library free) or
        cancelled: after a cancel nothing more is written, not even a photo whose reading had
        just ended (it is read again by the next pass)."""
        assert self.service is not None
        with self._guard:
            if self._abandoned:
                raise _Abandoned
            if self.cancel is not None:
                self.cancel.raise_if_cancelled()
            return use(self.service.app.library)

    def _write(self, use: Callable[[Library], _T]) -> _T:
        """``use(library)`` in one transaction, retried while another program holds the lock."""
        assert self.service is not None
        pause = min(RETRY_PAUSE_S, self.service.app.library.timeout)
        for attempt in range(LOCK_RETRIES + 1):
            try:
                return self._library(partial(_in_transaction, use=use))
            except LibraryLockedError:
                if attempt == LOCK_RETRIES:
                    raise
                log.info("library locked while storing text; retrying in %.1f s", pause)
            time.sleep(pause)  # outside the guard: a cancel does not wait for the pause
            pause *= 2
        raise AssertionError("not reached: the last locked attempt raises")

    def _todo(self) -> int:
        def count(lib: Library) -> int:
            ids = lib.pending_ocr(1 << 40, 0, MAX_ATTEMPTS)
            if self.photo_ids is not None:
                wanted = {int(i) for i in self.photo_ids}
                ids = [i for i in ids if i in wanted]
            return len(ids)

        total = self._library(count)
        return min(total, self.limit) if self.limit is not None else total

    def _loop(self, service: OcrService) -> None:
        total = self._todo() if self.progress is not None else None
        meter = RateMeter(total)
        wanted = None if self.photo_ids is None else {int(i) for i in self.photo_ids}
        after = 0
        while True:
            if self.cancel is not None:
                self.cancel.raise_if_cancelled()
            ids = self._library(partial(_next_batch, after=after))
            if not ids:
                return
            after = ids[-1]
            if wanted is not None:
                ids = [i for i in ids if i in wanted]
            if not ids:
                continue
            photos, texts = self._library(partial(_photos_and_texts, ids=ids))
            reader = service._reader_here()  # here: a pass with nothing to read loads no engine
            for pid in ids:
                if self.cancel is not None:
                    self.cancel.raise_if_cancelled()
                if self.limit is not None and self.read + self.failed + self.kept >= self.limit:
                    return
                photo = photos.get(pid)
                if photo is None:  # removed meanwhile: its rows went with it
                    continue
                if _still_read(photo, texts.get(pid), reader.engine):
                    self._write(partial(_finish, photo_id=pid))
                    self.kept += 1
                else:
                    self._read(reader, photo)
                if self.progress is not None:
                    done = self.read + self.failed + self.kept
                    self.progress(meter.update(min(done, total or done), MESSAGE))

    def _read(self, reader: TextReader, photo: Photo) -> None:
        from clipdesk.ocr import OcrError, OcrUnavailable

        began = time.monotonic()
        try:
            result = reader.read(photo.path)
        except OcrUnavailable:
            raise  # the engine itself: stop the pass, charge no photo for it
        except OcrError as exc:
            reason = exc.reason or exc.message
        except Exception as exc:  # a bug on one photo must not stop the others
            log.exception("reading the text of %s failed", photo.path)
            reason = f"unexpected error: {type(exc).__name__}: {exc}"
        else:
            self.reading_s += time.monotonic() - began
            if self._write(partial(_store, photo=photo, result=result)):
                self.read += 1
            return
        self.reading_s += time.monotonic() - began
        log.info("could not read the text of %s: %s", photo.path, reason)
        engine = reader.engine
        if self._write(partial(_store_failure, photo=photo, reason=reason, engine=engine)):
            self.failed += 1


def _env_off() -> bool:
    return os.environ.get(ENV_OFF, "").strip().lower() in {"off", "0", "no", "false"}


def _in_transaction(lib: Library, use: Callable[[Library], _T]) -> _T:
    with lib.transaction():
        return use(lib)


def _next_batch(lib: Library, after: int) -> list[int]:
    return lib.pending_ocr(BATCH, after, MAX_ATTEMPTS)


def _finish(lib: Library, photo_id: int) -> None:
    lib.finish_step([photo_id], OCR_STEP)


def _photos_and_texts(
    lib: Library, ids: list[int]
) -> tuple[dict[int, Photo], dict[int, PhotoText | None]]:
    photos = {p.id: p for p in lib.photos(ids=ids)}
    return photos, {pid: lib.photo_text(pid) for pid in photos}


def _still_read(photo: Photo, text: PhotoText | None, engine: str) -> bool:
    """Whether the photo's stored text is its current file's, read by this engine: the row is
    touched (``updated_at``) whenever the scan finds the file changed, never by an embedding."""
    return (
        text is not None
        and text.ocr_at is not None
        and text.ocr_error is None
        and text.ocr_engine == engine
        and photo.updated_at <= text.ocr_at
    )


def _unchanged(lib: Library, photo: Photo) -> bool:
    """Whether the photo is still the one that was read: not removed, and its file not found
    changed meanwhile (then it is read again once it is indexed again). Asked inside the write
    transaction, where nobody else can change it before the result is stored."""
    now = lib.photo(photo.id)
    return now is not None and (now.stamp, now.updated_at) == (photo.stamp, photo.updated_at)


def _store(lib: Library, photo: Photo, result: OcrResult) -> bool:
    if not _unchanged(lib, photo):
        return False
    boxes = [OcrBox(line.text, line.confidence, line.points) for line in result.lines]
    lib.save_ocr(photo.id, result.text, result.confidence, boxes, result.engine)
    lib.finish_step([photo.id], OCR_STEP)
    return True


def _store_failure(lib: Library, photo: Photo, reason: str, engine: str) -> bool:
    if not _unchanged(lib, photo):
        return False
    lib.save_ocr_failure(photo.id, reason, engine)
    lib.fail_step([photo.id], OCR_STEP, reason)
    return True


def _photos(n: int) -> str:
    return f"{n:,} photo{'s' if n != 1 else ''}"


def _seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 9.5 and round(s, 1) != round(s) else f"{round(s):.0f} s"


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{max(s, 1)} s"
    if s < 3600:
        return f"{round(s / 60)} min"
    return f"{s // 3600} h {s % 3600 // 60} min"
