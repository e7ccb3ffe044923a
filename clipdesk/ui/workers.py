"""Run work off the GUI thread and hand results back to it.

``Workers.run(pool, fn, on_result, on_error)`` runs ``fn(token)`` on a ``QThreadPool`` and calls
``on_result(value)`` or ``on_error(exc)`` on the GUI thread. Pools are separate so a long index never
starves thumbnails, and a query never waits behind an index:

- ``thumbs``: several threads for decoding and thumbnail making;
- ``db``: one thread for library writes (SQLite has one writer anyway);
- ``model``: one thread for short model work (query embeddings, previews);
- ``jobs``: one thread for long jobs (indexing, re-embedding, recomputing tags);
- ``ocr``: one thread for reading the text in photos, the pass that follows indexing (its own
  pool: it is stopped, not queued behind, whenever an index job starts).

Every task gets a :class:`~clipdesk.common.progress.CancelToken`; a cancelled task is never delivered.
:class:`LatestOnly` cancels the previous task whenever a new one is submitted (as-you-type search).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from clipdesk.common.errors import CancelledError
from clipdesk.common.progress import CancelToken

log = logging.getLogger(__name__)

ResultFn = Callable[[Any], None]
ErrorFn = Callable[[BaseException], None]


class _Relay(QObject):
    """Lives in the GUI thread; signals emitted from a worker are queued to it."""

    done = Signal(object, object)  # (ticket, result)
    failed = Signal(object, object)  # (ticket, exception)

    def __init__(self, owner: Workers) -> None:
        super().__init__()
        self._owner = owner
        self.done.connect(self._on_done)
        self.failed.connect(self._on_failed)

    @Slot(object, object)
    def _on_done(self, ticket: Ticket, result: Any) -> None:
        self._owner._finish(ticket, result, None)

    @Slot(object, object)
    def _on_failed(self, ticket: Ticket, exc: BaseException) -> None:
        self._owner._finish(ticket, None, exc)


class ProgressRelay(QObject):
    """``progress.emit(p)`` from a worker thread arrives on the GUI thread (queued)."""

    progress = Signal(object)


class Ticket:
    """A handle on one submitted task: cancel it, or ask whether it is still running."""

    def __init__(
        self,
        token: CancelToken,
        on_result: ResultFn | None,
        on_error: ErrorFn | None,
        owner: QObject | None = None,
    ):
        self.token = token
        self.on_result = on_result
        self.on_error = on_error
        self.owner = owner  # a widget the callbacks touch: nothing is delivered once it is gone
        self.finished = False

    def cancel(self) -> None:
        self.token.cancel()

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled


class _Task(QRunnable):
    def __init__(self, fn: Callable[[CancelToken], Any], ticket: Ticket, relay: _Relay) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._fn, self._ticket, self._relay = fn, ticket, relay

    def run(self) -> None:
        ticket = self._ticket
        if ticket.token.cancelled:  # superseded or app closing before we started
            self._relay.failed.emit(ticket, CancelledError("cancelled before start"))
            return
        try:
            result = self._fn(ticket.token)
        except BaseException as exc:  # noqa: BLE001 - delivered to the GUI thread, never lost
            self._relay.failed.emit(ticket, exc)
        else:
            self._relay.done.emit(ticket, result)


class Workers(QObject):
    """The app's thread pools and the bookkeeping to shut them down cleanly."""

    def __init__(self, thumb_threads: int | None = None) -> None:
        super().__init__()
        ideal = QThreadPool.globalInstance().maxThreadCount()
        self.thumbs = self._pool("thumbs", thumb_threads or max(2, min(ideal, 6)))
        self.db = self._pool("db", 1)
        self.model = self._pool("model", 1)
        self.jobs = self._pool("jobs", 1)
        self.ocr = self._pool("ocr", 1)
        self._relay = _Relay(self)
        self._live: set[Ticket] = set()
        self._lock = threading.Lock()
        self._closed = False

    @staticmethod
    def _pool(name: str, threads: int) -> QThreadPool:
        pool = QThreadPool()
        pool.setObjectName(name)
        pool.setMaxThreadCount(threads)
        pool.setExpiryTimeout(2000)
        return pool

    def pools(self) -> list[QThreadPool]:
        return [self.thumbs, self.db, self.model, self.jobs, self.ocr]

    def run(
        self,
        pool: QThreadPool,
        fn: Callable[[CancelToken], Any],
        on_result: ResultFn | None = None,
        on_error: ErrorFn | None = None,
        token: CancelToken | None = None,
        owner: QObject | None = None,
    ) -> Ticket:
        ticket = Ticket(token or CancelToken(), on_result, on_error, owner)
        if self._closed:
            ticket.cancel()
            return ticket
        with self._lock:
            self._live.add(ticket)
        pool.start(_Task(fn, ticket, self._relay))
        return ticket

    def _finish(self, ticket: Ticket, result: Any, exc: BaseException | None) -> None:
        with self._lock:
            self._live.discard(ticket)
        ticket.finished = True
        if ticket.token.cancelled or isinstance(exc, CancelledError):
            return
        if ticket.owner is not None and not shiboken6.isValid(ticket.owner):
            return  # the dialog that asked was closed (and deleted) meanwhile
        if exc is None:
            if ticket.on_result is not None:
                ticket.on_result(result)
        elif ticket.on_error is not None:
            ticket.on_error(exc)
        else:
            log.error("background task failed", exc_info=(type(exc), exc, exc.__traceback__))

    @property
    def pending(self) -> int:
        """Tasks submitted whose result has not yet reached the GUI thread."""
        with self._lock:
            return len(self._live)

    def cancel_all(self) -> None:
        with self._lock:
            tickets = list(self._live)
        for ticket in tickets:
            ticket.cancel()

    def close(self) -> None:
        """Take no more tasks, drop the queued ones and cancel the running ones, without waiting
        for them: the caller can stop other things (the watcher) while they wind down, then
        :meth:`shutdown` joins them. A task submitted after this is cancelled at once."""
        self._closed = True
        for pool in self.pools():
            pool.clear()  # never started: nothing of theirs to wait for or deliver
        self.cancel_all()

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """:meth:`close`, then wait for the running tasks; True if all stopped in time. The
        pools wind down together (every token is cancelled first), so the wait is that of the
        slowest task, not the sum of them."""
        self.close()
        deadline = time.monotonic() + timeout_ms / 1000
        ok = True
        for pool in self.pools():
            left_ms = max(0, int((deadline - time.monotonic()) * 1000))
            if not pool.waitForDone(left_ms):
                log.warning("the %s pool did not stop within %d ms", pool.objectName(), timeout_ms)
                ok = False
        with self._lock:
            self._live.clear()
        return ok


class LatestOnly:
    """Keeps at most one live task: submitting a new one cancels the one before (stale queries)."""

    def __init__(self, workers: Workers, pool: QThreadPool) -> None:
        self._workers, self._pool = workers, pool
        self._current: Ticket | None = None

    def submit(
        self,
        fn: Callable[[CancelToken], Any],
        on_result: ResultFn | None = None,
        on_error: ErrorFn | None = None,
    ) -> Ticket:
        self.cancel()
        self._current = self._workers.run(self._pool, fn, on_result, on_error)
        return self._current

    def cancel(self) -> None:
        if self._current is not None:
            self._current.cancel()
            self._current = None

    @property
    def busy(self) -> bool:
        return self._current is not None and not self._current.finished
