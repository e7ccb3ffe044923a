"""Live watching: file-system events become reconciled library changes, debounced and coalesced.

Plain threads and callbacks (no Qt): watchdog's observer threads only record which paths were
touched; one worker thread decides when a path is ready and hands batches to
:meth:`Scanner.reconcile_paths`, then calls ``on_change(ChangeSet)`` so the pipeline can pick up
pending work and the search index can drop missing photos. The callback runs on the worker
thread; a GUI marshals it to its own thread.

Readiness: a path is handled once no event has touched it for ``debounce_s`` *and* - for a file -
its (size, mtime) has not changed over ``settle_s``, so a photo still being copied (from a camera
card, a slow share) is indexed once, complete. A burst of events on one path is one reconcile.

Safety nets, because event streams are lossy: every ``check_interval_s`` the worker checks that
each folder is reachable (an unplugged drive rarely says goodbye; it goes offline, and returns
with a full reconcile) and keeps the watch list in step with the library's folders; when the
kernel's event queue overflows, and every ``full_rescan_s``, it runs a full reconcile.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from watchdog.events import (
    DirModifiedEvent,
    FileClosedNoWriteEvent,
    FileOpenedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from clipdesk.common.errors import LibraryError
from clipdesk.imaging.filetypes import is_candidate
from clipdesk.library.records import FolderStatus
from clipdesk.scanning.scanner import ChangeSet, Scanner

log = logging.getLogger(__name__)

ChangeCallback = Callable[[ChangeSet], None]
_IGNORED = (DirModifiedEvent, FileOpenedEvent, FileClosedNoWriteEvent)


@dataclass
class _Pending:
    last_event: float
    seen_stamp: tuple[int, int] | None = None  # (size, mtime_ns) at the last readiness check
    seen_at: float = 0.0
    partner: str | None = None  # the other end of a move: both are reconciled together


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher) -> None:
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if isinstance(event, _IGNORED):
            return
        paths = [os.fsdecode(event.src_path)]
        dest = getattr(event, "dest_path", "")
        if dest:
            paths.append(os.fsdecode(dest))
        if not event.is_directory:  # a file rename to/from a non-photo name still matters
            paths = [p for p in paths if is_candidate(os.path.basename(p))]
        if len(paths) == 2:
            self._watcher.touch_move(*paths)
        elif paths:
            self._watcher.touch(*paths)


class _OverflowSpy(logging.Handler):
    """watchdog reports a lost event queue only in its log; turn that into a full rescan."""

    def __init__(self, watcher: Watcher) -> None:
        super().__init__(logging.WARNING)
        self._watcher = watcher

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self._watcher.request_full_rescan()


class Watcher:
    def __init__(
        self,
        scanner: Scanner,
        on_change: ChangeCallback | None = None,
        *,
        debounce_s: float = 0.5,
        settle_s: float = 1.0,
        check_interval_s: float = 5.0,
        full_rescan_s: float | None = 3600.0,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.scanner = scanner
        self.on_change = on_change
        self.debounce_s = debounce_s
        self.settle_s = settle_s
        self.check_interval_s = check_interval_s
        self.full_rescan_s = full_rescan_s
        self.on_error = on_error
        self._pending: dict[str, _Pending] = {}
        self._cond = threading.Condition()
        self._stop = False
        self._busy = False
        self._full_rescan = False
        self._observer: BaseObserver | None = None
        # path -> (watch, inode of the folder it was placed on)
        self._watches: dict[str, tuple[ObservedWatch, tuple[int, int]]] = {}
        self._thread: threading.Thread | None = None
        self._spy = _OverflowSpy(self)
        self._unwatched: set[str] = set()  # folders a watch could not be placed on

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start watching every reachable folder of the library (after the caller's reconcile)."""
        if self._thread is not None:
            return
        self._stop = False
        self._observer = Observer()
        self._observer.daemon = True
        self._sync_watches()
        self._observer.start()
        logging.getLogger("watchdog.observers").addHandler(self._spy)
        self._thread = threading.Thread(target=self._run, name="clipdesk-watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the observer and the worker; paths still pending are dropped (the next start's
        reconcile finds them)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout)
            self._observer = None
        self._watches.clear()
        logging.getLogger("watchdog.observers").removeHandler(self._spy)

    def __enter__(self) -> Watcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def idle(self) -> bool:
        """True when no event is waiting and no batch is being reconciled."""
        with self._cond:
            return not self._pending and not self._busy and not self._full_rescan

    # --- input -----------------------------------------------------------------------------

    def touch(self, *paths: str) -> None:
        """Note that ``paths`` changed (called by watchdog threads; also usable directly)."""
        now = time.monotonic()
        with self._cond:
            for path in paths:
                entry = self._pending.get(path)
                if entry is None:
                    self._pending[path] = _Pending(now)
                else:
                    entry.last_event = now
            self._cond.notify_all()

    def touch_move(self, src: str, dest: str) -> None:
        """A move: reconciled in one batch once the destination is ready, so the photo row
        follows the file instead of going missing first. In a chain (a -> b, then b -> c
        before anything was reconciled) the first source waits for the last destination."""
        self.touch(src, dest)
        with self._cond:
            first = self._pending[src].partner
            if first is not None and first in self._pending:
                self._pending[first].partner = dest
            self._pending[src].partner = dest
            self._pending[dest].partner = src

    def request_full_rescan(self) -> None:
        with self._cond:
            self._full_rescan = True
            self._cond.notify_all()

    # --- worker ----------------------------------------------------------------------------

    def _run(self) -> None:
        next_check = time.monotonic() + self.check_interval_s
        next_full = time.monotonic() + self.full_rescan_s if self.full_rescan_s else None
        while True:
            with self._cond:
                if self._stop:
                    return
                self._cond.wait(timeout=min(self.debounce_s, self.settle_s, 0.25))
                if self._stop:
                    return
                now = time.monotonic()
                full = self._full_rescan or (next_full is not None and now >= next_full)
                ready = [] if full else self._take_ready(now)
                self._busy = bool(ready or full)
                if full:
                    self._pending.clear()
            try:
                if full:
                    self._deliver(self.scanner.reconcile())
                    self._full_rescan = False
                    next_full = now + self.full_rescan_s if self.full_rescan_s else None
                elif ready:
                    self._deliver(self.scanner.reconcile_paths(ready))
                if time.monotonic() >= next_check:
                    self._deliver(self.scanner.check_folders())
                    self._sync_watches()
                    next_check = time.monotonic() + self.check_interval_s
            except LibraryError as exc:  # e.g. locked for a moment: try these paths again
                log.warning("watcher: %s", exc)
                self.touch(*ready)
                self._report(exc)
            except Exception as exc:  # a bug must not silently end live watching
                log.exception("watcher batch failed")
                self._report(exc)
            finally:
                with self._cond:
                    self._busy = False

    def _take_ready(self, now: float) -> list[str]:
        ready = []
        for path, entry in list(self._pending.items()):
            if now - entry.last_event < self.debounce_s:
                continue
            try:
                st = os.stat(path)
                stamp = None if os.path.isdir(path) else (st.st_size, st.st_mtime_ns)
            except OSError:
                stamp = None  # gone (or unreadable): nothing to wait for
            if stamp is not None and (
                entry.seen_stamp != stamp or now - entry.seen_at < self.settle_s
            ):
                if entry.seen_stamp != stamp:
                    entry.seen_stamp, entry.seen_at = stamp, now
                continue  # still being written, or not yet observed stable for settle_s
            ready.append(path)
        # A move's two ends go together, and a folder waits for the files in it that are still
        # settling: its walk would otherwise take a file being copied half-written, or the far
        # end of a move before its source. Holding one path back may hold back others.
        while True:
            chosen = set(ready)
            waiting = {p for p in self._pending if p not in chosen}
            busy = {os.path.dirname(p) for p in waiting}
            keep = [
                p for p in ready if self._pending[p].partner not in waiting and not _holds(p, busy)
            ]
            if len(keep) == len(ready):
                break
            ready = keep
        for path in ready:
            del self._pending[path]
        return ready

    def _deliver(self, changes: ChangeSet) -> None:
        if changes.offline_folders or changes.online_folders:
            self._sync_watches()
        if not changes.empty and self.on_change is not None:
            self.on_change(changes)

    def _report(self, exc: BaseException) -> None:
        if self.on_error is not None:
            self.on_error(exc)

    def _sync_watches(self) -> None:
        """Watch exactly the library's reachable folders (re-watch one that came back)."""
        observer = self._observer
        if observer is None:
            return
        wanted = {
            str(f.path) for f in self.scanner.library.folders() if f.status is FolderStatus.OK
        }
        for path, (watch, inode) in list(self._watches.items()):
            if path not in wanted or _inode(path) != inode:  # gone, or a new folder in its place
                del self._watches[path]
                # its emitter may already have ended with the folder
                with contextlib.suppress(KeyError, OSError):
                    observer.unschedule(watch)
        for path in wanted - set(self._watches):
            try:
                inode = _inode(path)
                watch = observer.schedule(_Handler(self), path, recursive=True)
                self._watches[path] = (watch, inode)
                self._unwatched.discard(path)
            except OSError as exc:
                # Vanished since the check (the next check retries), or the system's watch
                # limit is reached (inotify max_user_watches): then only the periodic full
                # rescan keeps this folder in step, so say so once.
                if path not in self._unwatched:
                    self._unwatched.add(path)
                    log.warning(
                        "cannot watch %s live (%s); it is rescanned every %s s",
                        path,
                        exc,
                        self.full_rescan_s,
                    )


def _holds(folder: str, parents: set[str]) -> bool:
    """True when one of ``parents`` is ``folder`` or lies below it."""
    prefix = folder.rstrip(os.sep) + os.sep
    return any(p == folder or p.startswith(prefix) for p in parents)


def _inode(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1)
    return (st.st_dev, st.st_ino)
