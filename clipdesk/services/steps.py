"""The work each photo is owed once its vector lands (XMP keywords, the model's tags; later
passes add theirs), run so that nothing is ever dropped.

The pipeline records the owed steps (:attr:`StepService.names`) in the transaction that commits
the vectors; :meth:`StepService.run` does them, oldest step first for each photo, each batch in
one transaction with the deletion of its rows (``Library.finish_step``). ``index`` runs them
after every commit and at the start and end of every run, in both faces, so work a crash, a lock
or a full disk left behind is picked up by the next run. A *background* step (reading the text
in photos, :mod:`clipdesk.services.ocr`) is recorded the same way but done by a pass of its own
after the index run, so that search is ready before the slow work starts.

A locked library is waited for (the library's busy timeout) and the batch retried a bounded
number of times; a lock that persists, a full or read-only disk stop the run's steps with the
work left pending and the reason kept for :meth:`StepService.backlog`, which ``status`` and the
app show. A step that fails for another reason has the failure recorded on its rows (attempts,
error) and is tried again by the next run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from clipdesk.common.errors import CancelledError, ClipDeskError, LibraryError
from clipdesk.common.progress import CancelToken, Progress, ProgressCallback
from clipdesk.library.errors import LibraryCorruptError, LibraryLockedError

if TYPE_CHECKING:
    from clipdesk.services.app import ClipDeskServices

log = logging.getLogger(__name__)

BATCH = 256  # photos per step transaction: the write lock is held for one batch at a time
LOCK_RETRIES = 2  # tries after the first when the library stays locked past its busy timeout
RETRY_PAUSE_S = 1.0  # before the first retry; doubled before each next one
_RESUMING = "Finishing tags and keywords left from an earlier run"

_T = TypeVar("_T")


def retry_while_locked(work: Callable[[], _T], timeout: float, what: str) -> _T:
    """``work()``, tried :data:`LOCK_RETRIES` more times while the library stays locked past
    its busy timeout (``timeout``), pausing between tries (outside ``work``: a lock it takes is
    not held through the pause); the last :class:`LibraryLockedError` propagates."""
    # a library opened with a short busy timeout (tests, scripts) is retried as briefly
    pause = min(RETRY_PAUSE_S, timeout)
    for attempt in range(LOCK_RETRIES + 1):
        try:
            return work()
        except LibraryLockedError:
            if attempt == LOCK_RETRIES:
                raise
            log.info("library locked during %s; retrying in %.1f s", what, pause)
        time.sleep(pause)
        pause *= 2
    raise AssertionError("not reached: the last locked attempt raises")


@dataclass(frozen=True)
class Step:
    """One kind of work owed after an embedding."""

    name: str  # stored in photo_steps.step
    owed: str  # what the user waits for: "photos waiting for <owed>"
    run: Callable[[list[int]], object]  # does it for these photos, writing through the library
    prepare: Callable[[], object] | None = None  # slow set-up kept out of the write transaction
    needs_vector: bool = True  # False: runnable whatever model search uses (e.g. reading XMP)
    # True: owed like the others (recorded with the vectors), but done by a pass of its own
    # that runs after them, outside any write transaction, at its own pace (OCR: a second a
    # photo); ``run`` is that pass for these photos, and :meth:`StepService.run` skips it
    background: bool = False


@dataclass(frozen=True)
class StepBacklog:
    """What is still owed, and why it could not be done yet."""

    waiting: dict[str, int] = field(default_factory=dict)  # {step name: photos}
    owed: dict[str, str] = field(default_factory=dict)  # {step name: what the user waits for}
    problem: str | None = None  # the library problem that stopped the steps, or a step's error

    @property
    def photos(self) -> int:
        """Photos owed something (a photo owed several steps counts once per step here, so
        this is the largest step's count)."""
        return max(self.waiting.values(), default=0)

    def describe(self) -> str:
        """One sentence for both faces, empty when nothing is owed."""
        owed = [(n, self.owed.get(step, step)) for step, n in self.waiting.items() if n]
        if not owed:
            return ""
        first, what = owed[0]
        text = f"{first:,} photo{'s' if first != 1 else ''} waiting for {what}"
        if all(n == first for n, _ in owed):
            text += "".join(f" and {w}" for _, w in owed[1:])
        else:
            text += "".join(f", {n:,} for {w}" for n, w in owed[1:])
        if self.problem:
            text += f" ({self.problem.rstrip('.')})"
        return text


class StepService:
    """``app.steps``: runs the owed steps of the library's photos."""

    def __init__(self, app: ClipDeskServices, steps: Sequence[Step] = ()) -> None:
        self.app = app
        self._steps: list[Step] = list(steps)
        self._lock = threading.Lock()
        self._problem: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Every step a newly embedded photo is owed, in the order they run."""
        return tuple(s.name for s in self._steps)

    @property
    def vector_free(self) -> tuple[str, ...]:
        """The steps that need no vector: owed with no model, so a re-embedding never holds
        them back."""
        return tuple(s.name for s in self._steps if not s.needs_vector)

    def register(self, step: Step) -> None:
        """Add a pass that runs after the existing ones (OCR, imported vectors, ratings...)."""
        self._steps.append(step)

    def _foreground(self) -> list[Step]:
        # background steps (OCR) have a pass and a backlog of their own (clipdesk.services.ocr)
        return [s for s in self._steps if not s.background]

    def _model_id(self) -> str | None:
        # steps use the vectors search uses: rows for a model being embedded wait for it
        return self.app.status_report.search_model()

    def backlog(self) -> StepBacklog:
        """What is owed now (runnable with search's vectors), and why, if it is known; the
        background steps' work is told by their own pass (``app.ocr.backlog()``)."""
        steps = self._foreground()
        all_counts = self.app.library.count_steps(self._model_id())
        counts = {s.name: all_counts[s.name] for s in steps if s.name in all_counts}
        problem = self._problem
        if problem is None:
            failed = [c.last_error for c in counts.values() if c.failed and c.last_error]
            problem = failed[0] if failed else None
        return StepBacklog(
            {name: c.waiting for name, c in counts.items()},
            {s.name: s.owed for s in steps},
            problem,
        )

    def run(
        self,
        photo_ids: Sequence[int] | None = None,
        *,
        cancel: CancelToken | None = None,
        progress: ProgressCallback | None = None,
    ) -> StepBacklog:
        """Do what is owed (of ``photo_ids`` only, when given), step by step in order, the
        background steps left to their own pass. What cannot be done stays owed, with the
        reason in the returned backlog; only a damaged library raises (LibraryCorruptError)."""
        with self._lock:
            try:
                self._run(photo_ids, cancel, progress)
                self._problem = None
            except CancelledError:
                pass
            except LibraryCorruptError as exc:
                # Not a passing state like a lock or a full disk: retrying would hide the damage
                # behind a "waiting" count, so the run that met it fails with the repair hint.
                self._problem = exc.message
                raise
            except LibraryError as exc:
                log.warning("owed steps left pending: %s", exc.message)
                self._problem = exc.message
        try:
            return self.backlog()
        except LibraryError as exc:  # cannot even read the backlog: say so, owe nothing new
            return StepBacklog(problem=exc.message)

    def _run(
        self,
        photo_ids: Sequence[int] | None,
        cancel: CancelToken | None,
        progress: ProgressCallback | None,
    ) -> None:
        lib = self.app.library
        model_id = self._model_id()
        steps = self._foreground()
        total = None
        if progress is not None and photo_ids is None:
            counts = lib.count_steps(model_id)
            total = sum(counts[s.name].waiting for s in steps if s.name in counts)
        done = 0
        for i, step in enumerate(steps):
            earlier = [s.name for s in steps[:i]]
            after = 0
            prepared = False
            while True:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                ids = lib.pending_steps(
                    step.name,
                    BATCH,
                    after,
                    model_id=model_id,
                    photo_ids=photo_ids,
                    after_steps=earlier,
                )
                if not ids:
                    break
                after = ids[-1]
                if not prepared and step.prepare is not None:
                    prepared = self._guarded(step, ids, step.prepare)
                if prepared or step.prepare is None:
                    self._do(step, ids)
                done += len(ids)
                if progress is not None and total:
                    progress(Progress(done, total, message=_RESUMING))

    def _do(self, step: Step, ids: list[int]) -> None:
        lib = self.app.library

        def in_one_transaction(part: list[int]) -> Callable[[], None]:
            def work() -> None:
                with lib.transaction():
                    step.run(part)
                    lib.finish_step(part, step.name)

            return work

        if self._guarded(step, ids, in_one_transaction(ids), record=len(ids) == 1):
            return
        # One photo's failure must not hold back the batch: each is tried alone, and only the
        # ones that fail again are marked.
        for pid in ids:
            self._guarded(step, [pid], in_one_transaction([pid]))

    def _guarded(
        self, step: Step, ids: list[int], work: Callable[[], object], *, record: bool = True
    ) -> bool:
        """``work``, retried while the library is locked; a library problem propagates (the
        run stops, the work stays owed); any other failure is recorded on the rows when
        ``record`` (False either way)."""
        try:
            retry_while_locked(work, self.app.library.timeout, step.name)
            return True
        except (LibraryError, CancelledError):  # a lock that persists is one of these
            raise
        except ClipDeskError as exc:
            log.warning("%s failed for %d photos: %s", step.name, len(ids), exc.message)
            if record:
                self.app.library.fail_step(ids, step.name, exc.message)
            return False
        except Exception as exc:  # a bug in a step must not lose the work or stop indexing
            log.exception("%s failed for %d photos", step.name, len(ids))
            if record:
                reason = f"unexpected error: {type(exc).__name__}: {exc}"
                self.app.library.fail_step(ids, step.name, reason)
            return False
