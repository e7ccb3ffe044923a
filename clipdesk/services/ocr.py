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

This module is the service and its records; the pass's thread and loop are
:mod:`clipdesk.services.ocr_pass`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clipdesk.common.progress import CancelToken, ProgressCallback, short_duration
from clipdesk.library.errors import LibraryCorruptError
from clipdesk.library.words import OCR_STEP, PhotoText
from clipdesk.services.ocr_pass import (
    BATCH,
    MAX_ATTEMPTS,
    MESSAGE,
    NICE,
    OcrPass,
    lower_this_thread,
)
from clipdesk.services.steps import Step

if TYPE_CHECKING:
    from clipdesk.ocr import TextReader
    from clipdesk.services.app import ClipDeskServices
    from clipdesk.services.folders import FolderRecord

# The pass's own names (clipdesk.services.ocr_pass) are this module's too: one place to import.
__all__ = [
    "BATCH",
    "ENV_OFF",
    "MAX_ATTEMPTS",
    "MESSAGE",
    "NICE",
    "OcrBacklog",
    "OcrReport",
    "OcrService",
    "lower_this_thread",
]

log = logging.getLogger(__name__)

ENABLED_KEY = "ocr_enabled"  # library setting: the global switch (absent: on)
# "off" in the environment: no reading in this process, whatever the switch says (a batch job
# on a shared machine; the test suite, where only the tests of OCR pay for it)
ENV_OFF = "CLIPDESK_OCR"
SPEED_KEY = "ocr_seconds_per_photo"  # library setting: the last pass's mean, for the cost shown
ESTIMATE_S = 1.0  # the cost said before a pass measured it here: about a second a photo on CPU


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
                f"(about {short_duration(total)})"
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
            text = "No text to read." if not (self.cancelled or self.problem) else ""
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
            lambda _ids: self.run(),  # the pass reads what is owed; index runs never call it
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
        count = lib.count_ocr(MAX_ATTEMPTS)
        # not count.waiting: that keeps the photos tried MAX_ATTEMPTS times, never read again
        waiting = count.readable
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
    ) -> OcrReport:
        """Read the photos owed reading (at most ``limit``),
        oldest first, until none is left, ``cancel`` is set, or the engine or the library
        stops it (then the report says why and the work stays owed). Nothing is read while the
        global switch is off. Raises for a damaged library (LibraryCorruptError) and for what
        is no error of a photo's (KeyboardInterrupt, a bug outside the reading), what was read
        before it stored."""
        start = time.monotonic()
        if not self.enabled or _env_off():
            return self._report(OcrPass.idle(), start, cancelled=False)
        with self._run_lock:
            work = OcrPass(self, cancel, progress, limit)
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

    def _report(self, work: OcrPass, start: float, cancelled: bool) -> OcrReport:
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

    @contextmanager
    def reader_session(self) -> Iterator[Callable[[], TextReader]]:
        """The reader for one pass's thread, held for the whole pass: yields a function that
        gives it, made on first use (on the pass's lowered thread, so that the engine's threads
        inherit its priority); let go of at the end if the services closed meanwhile."""
        with self._reader_lock:
            try:
                yield self._reader_here
            finally:
                if self._closed:
                    self._drop_reader()

    def _reader_here(self) -> TextReader:
        if self._reader is None:
            from clipdesk.ocr import TextReader  # OpenCV and ONNX Runtime: only when reading

            self._reader = TextReader()
            log.info("reading text with %s", self._reader.engine)
        return self._reader

    def _drop_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()


def _env_off() -> bool:
    return os.environ.get(ENV_OFF, "").strip().lower() in {"off", "0", "no", "false"}


def _photos(n: int) -> str:
    return f"{n:,} photo{'s' if n != 1 else ''}"


def _seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 9.5 and round(s, 1) != round(s) else f"{round(s):.0f} s"
