"""Long jobs (indexing; reading text) run in a pool of their own with throttled progress on the
GUI thread.

Pausing cancels the running job through its token; the pipeline is resumable, so resuming is just
running it again: work already committed is not redone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal

from clipdesk.common.progress import CancelToken, Progress
from clipdesk.ui.workers import ProgressRelay, Ticket, Workers

JobFn = Callable[[Callable[[Progress], None], CancelToken], Any]


class JobRunner(QObject):
    """Runs one long job at a time; ``progress``, ``finished``, ``failed`` arrive on the GUI thread."""

    started = Signal(str)  # what is running
    progress = Signal(object)  # Progress
    finished = Signal(object)  # the job's result
    failed = Signal(object)  # exception
    stopped = Signal()  # paused or cancelled before the end

    def __init__(
        self, workers: Workers, min_interval_s: float = 0.1, pool: QThreadPool | None = None
    ) -> None:
        """``pool``: where the jobs run (default: the ``jobs`` pool)."""
        super().__init__()
        self._workers = workers
        self._pool = pool if pool is not None else workers.jobs
        self._relay = ProgressRelay()
        self._relay.progress.connect(self.progress)
        self._min_interval = min_interval_s
        self._ticket: Ticket | None = None
        self.paused = False

    @property
    def running(self) -> bool:
        return self._ticket is not None and not self._ticket.finished

    def start(self, name: str, fn: JobFn, *, while_paused: bool = False) -> bool:
        """Start ``fn(progress, token)`` unless a job is running or indexing is paused (a job
        that embeds nothing, ``while_paused``, runs then too)."""
        if self.running or (self.paused and not while_paused):
            return False
        last = [0.0]

        def report(p: Progress) -> None:  # worker thread: throttle, the GUI needs ~10 Hz at most
            now = time.monotonic()
            if now - last[0] >= self._min_interval or (p.total is not None and p.done >= p.total):
                last[0] = now
                self._relay.progress.emit(p)

        def on_result(result: Any) -> None:
            self._ticket = None
            self.finished.emit(result)

        def on_error(exc: BaseException) -> None:
            self._ticket = None
            self.failed.emit(exc)

        self._ticket = self._workers.run(
            self._pool, lambda token: fn(report, token), on_result, on_error
        )
        self.started.emit(name)
        return True

    def pause(self) -> None:
        self.paused = True
        self.cancel()

    def resume(self) -> None:
        self.paused = False

    def cancel(self) -> None:
        if self._ticket is not None:
            self._ticket.cancel()
            self._ticket = None
            self.stopped.emit()
