"""One OCR pass (:meth:`clipdesk.services.ocr.OcrService.run`): the thread that reads the photos
owed their text, and the loop it runs.

The thread lowers its own priority first (:func:`lower_this_thread`), then asks the library for
the work a batch at a time (:data:`BATCH`), reads each photo outside any write transaction and
stores its text, or why it failed, with the deletion of its ``ocr`` row in one transaction. The
caller waits for it and, on a cancel, abandons it (:meth:`OcrPass.abandon`): the photo being
read is finished by the thread, which then touches the library no more.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from clipdesk.common.errors import CancelledError, ClipDeskError
from clipdesk.common.progress import CancelToken, ProgressCallback, RateMeter
from clipdesk.library.errors import LibraryCorruptError
from clipdesk.library.words import OCR_STEP, OcrBox, PhotoText
from clipdesk.services.steps import retry_while_locked

if TYPE_CHECKING:
    from clipdesk.library.records import Photo
    from clipdesk.library.store import Library
    from clipdesk.ocr import OcrResult, TextReader
    from clipdesk.services.ocr import OcrService

__all__ = ["BATCH", "MAX_ATTEMPTS", "MESSAGE", "NICE", "OcrPass", "lower_this_thread"]

log = logging.getLogger(__name__)

BATCH = 32  # photos asked for at a time: a switch turned off mid-pass takes effect by the next
MAX_ATTEMPTS = 3  # a photo that failed this many times is not tried again (its reason is kept)
NICE = 10  # the pass's niceness on Linux (0 normal, 19 lowest): below the app, above idle
MESSAGE = "Reading text in photos"

_T = TypeVar("_T")


def lower_this_thread() -> bool:
    """Lower the calling thread's scheduling priority (see :mod:`clipdesk.services.ocr`); True
    if it was lowered. Linux keeps a nice value per thread and a new thread starts with its
    creator's, so ONNX Runtime's threads, made by this one, get it too. A thread never gets its
    priority back without privileges, which is why the pass has a thread of its own."""
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


class _Abandoned(Exception):
    """The caller went away (cancelled): the pass's thread must not touch the library again."""


@dataclass
class OcrPass:
    """One pass's state, shared by its thread (:meth:`main`) and the caller waiting for it."""

    service: OcrService | None
    cancel: CancelToken | None
    progress: ProgressCallback | None
    limit: int | None

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
    def idle(cls) -> OcrPass:
        """A pass that did nothing (reading is switched off)."""
        return cls(None, None, None, None)

    def abandon(self) -> None:
        with self._guard:
            self._abandoned = True

    # --- the thread ----------------------------------------------------------------------------

    def main(self) -> None:
        service = self.service
        assert service is not None
        lower_this_thread()
        try:
            with service.reader_session() as reader:
                self._loop(service, reader)
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
        """``use(library)`` in one transaction, retried while another program holds the lock
        (the pause outside the guard: a cancel does not wait for it)."""
        assert self.service is not None
        timeout = self.service.app.library.timeout
        work = partial(self._library, partial(_in_transaction, use=use))
        return retry_while_locked(work, timeout, "a write of the OCR pass")

    def _todo(self) -> int:
        total = self._library(lambda lib: lib.count_ocr(MAX_ATTEMPTS).readable)
        return min(total, self.limit) if self.limit is not None else total

    def _loop(self, service: OcrService, reader_of: Callable[[], TextReader]) -> None:
        total = self._todo() if self.progress is not None else None
        meter = RateMeter(total)
        after = 0
        while True:
            if self.cancel is not None:
                self.cancel.raise_if_cancelled()
            # the global switch, asked again each batch: another program (`ocr off`) may have
            # turned it off since the pass began
            if not self._library(lambda _lib: service.enabled):
                return
            ids = self._library(partial(_next_batch, after=after))
            if not ids:
                return
            after = ids[-1]
            photos, texts = self._library(partial(_photos_and_texts, ids=ids))
            reader = reader_of()  # here: a pass with nothing to read loads no engine
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
