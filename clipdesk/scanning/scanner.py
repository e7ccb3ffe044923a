"""Keeping the library in step with the disk: add/remove folders and reconcile by mark-and-sweep.

A reconcile walks every reachable folder, compares each candidate file's (size, mtime) with what
the store remembers, fingerprints only new or changed files, and then sweeps: a remembered file
that is no longer on disk is either the source of a move (a new file has its content hash - the
photo row moves, keeping its id, vector and tags) or becomes ``missing`` (kept, not deleted).
Photos under a directory that could not be read are left alone: unknown is not deleted.

A folder whose root is gone (unplugged drive, unmounted share), or is an empty directory where
photos used to be (a mount point without its drive), goes ``offline`` with all its photos; they
come back exactly as they were when it returns. Nothing here ever deletes a photo row except
:meth:`Scanner.remove_folder` and the purge of photos missing for longer than
``purge_missing_after_days`` (a library setting, default 30).

New and changed photos become ``pending`` for the indexing pipeline. The same engine serves the
start-up reconcile and the watcher's targeted :meth:`Scanner.reconcile_paths`.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from clipdesk.common.progress import CancelToken, ProgressCallback, RateMeter
from clipdesk.imaging.filetypes import is_candidate
from clipdesk.library.errors import FolderError
from clipdesk.library.folders import is_inside, normalise_path
from clipdesk.library.photos import KnownFile
from clipdesk.library.records import Folder, FolderStatus, PhotoStatus
from clipdesk.library.store import Library
from clipdesk.scanning.examine import examine
from clipdesk.scanning.walk import is_skipped_path, walk

log = logging.getLogger(__name__)

T = TypeVar("T")
_LOCKS: weakref.WeakKeyDictionary[Library, threading.RLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()
BATCH = 200  # files fingerprinted and committed per transaction
PURGE_SETTING = "purge_missing_after_days"
DEFAULT_PURGE_DAYS = 30


@dataclass
class ChangeSet:
    """What a reconcile changed, by photo id, for the pipeline, the search index and the UI."""

    added: list[int] = field(default_factory=list)  # new rows: pending (or error, see errors)
    changed: list[int] = field(default_factory=list)  # content changed: pending, vectors dropped
    moved: list[int] = field(default_factory=list)  # same photo, new path (vector kept)
    restored: list[int] = field(default_factory=list)  # missing file back in place
    missing: list[int] = field(default_factory=list)  # gone from disk (row kept)
    errors: list[int] = field(default_factory=list)  # recorded as bad before decoding
    offline_folders: list[int] = field(default_factory=list)
    online_folders: list[int] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, reason), not fatal
    unchanged: int = 0

    @property
    def needs_indexing(self) -> bool:
        return bool(self.added or self.changed or self.online_folders or self.restored)

    @property
    def empty(self) -> bool:
        return not (
            self.added
            or self.changed
            or self.moved
            or self.restored
            or self.missing
            or self.errors
            or self.offline_folders
            or self.online_folders
        )

    def merge(self, other: ChangeSet) -> ChangeSet:
        for name in (
            "added",
            "changed",
            "moved",
            "restored",
            "missing",
            "errors",
            "offline_folders",
            "online_folders",
            "problems",
        ):
            getattr(self, name).extend(getattr(other, name))
        self.unchanged += other.unchanged
        return self


def check_folder(path: str | Path) -> str:
    """The folder's stored form (absolute, normalised) if it can be watched: it exists, is a
    directory and can be listed. Otherwise FolderError with what to do. The one check both faces
    run before a folder is added (through clipdesk.services.folders)."""
    target = normalise_path(path)
    if not os.path.exists(target):
        raise FolderError(
            f"{target} does not exist.", "Check the path, or connect the drive it is on."
        )
    if not os.path.isdir(target):
        raise FolderError(
            f"{target} is not a folder.", "Choose the folder that holds the photos, not a file."
        )
    try:
        with os.scandir(target):
            pass
    except OSError as exc:
        raise FolderError(
            f"{target} cannot be read: {exc.strerror}.", "Check the folder's permissions."
        ) from exc
    if not os.access(target, os.R_OK | os.X_OK):  # listable, but its files cannot be opened
        raise FolderError(
            f"{target} cannot be read: Permission denied.", "Check the folder's permissions."
        )
    return target


@dataclass
class _Disk:
    """Files seen on disk for one reconcile: path -> (size, mtime_ns, folder id)."""

    files: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)


def _locked(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def wrapper(self: Scanner, *args: Any, **kwargs: Any) -> T:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


class Scanner:
    def __init__(self, library: Library, *, with_metadata: bool = True) -> None:
        self.library = library
        self.with_metadata = with_metadata
        # One reconcile at a time per library (not per Scanner: callers may make several), so
        # the watcher's worker and a start-up or user-requested scan never sweep each other's moves.
        with _LOCKS_GUARD:
            self._lock = _LOCKS.setdefault(library, threading.RLock())

    # --- folders ---------------------------------------------------------------------------

    @_locked
    def add_folder(
        self,
        path: str | Path,
        cancel: CancelToken | None = None,
        progress: ProgressCallback | None = None,
    ) -> tuple[Folder, ChangeSet]:
        """Add a folder to the library and scan it. Refuses what is not a readable directory
        (:func:`check_folder`)."""
        folder = self.library.add_folder(check_folder(path))
        changes = self.reconcile(cancel=cancel, progress=progress, folders=[folder])
        return self.library.folder(folder.id) or folder, changes

    @_locked
    def remove_folder(self, path: str | Path | int) -> int:
        """Forget a folder and its photos (files on disk are not touched)."""
        return self.library.remove_folder(path)

    def _probe(self, folder: Folder) -> tuple[FolderStatus, str | None]:
        root = str(folder.path)
        try:
            if not os.path.isdir(root):
                if os.path.exists(root):
                    return FolderStatus.OFFLINE, "the path is no longer a folder"
                return (
                    FolderStatus.OFFLINE,
                    "folder not found (drive unplugged or share unmounted?)",
                )
            with os.scandir(root) as it:
                empty = next(it, None) is None
        except PermissionError as exc:
            return FolderStatus.ERROR, f"cannot read the folder: {exc.strerror}"
        except OSError as exc:
            return FolderStatus.OFFLINE, f"folder unreachable: {exc.strerror}"
        if empty and self._present_count(folder.id):
            return FolderStatus.OFFLINE, "folder is empty (drive not mounted?)"
        return FolderStatus.OK, None

    def _present_count(self, folder_id: int) -> int:
        counts = self.library.folder_photo_counts().get(folder_id, {})
        return sum(n for s, n in counts.items() if s not in ("missing", "offline"))

    def _check(self, folder: Folder, changes: ChangeSet) -> bool:
        """Update ``folder``'s reachability; True when it can be scanned."""
        state, reason = self._probe(folder)
        if state is FolderStatus.OFFLINE:
            if folder.status is not FolderStatus.OFFLINE:
                log.info("folder %s offline: %s", folder.path, reason)
                self.library.set_folder_offline(folder.id, reason or "offline")
                changes.offline_folders.append(folder.id)
            return False
        if state is FolderStatus.ERROR:
            self.library.set_folder_error(folder.id, reason or "unreadable")
            changes.problems.append((str(folder.path), reason or "unreadable"))
            return False
        if folder.status is FolderStatus.OFFLINE:
            log.info("folder %s is back", folder.path)
            self.library.set_folder_online(folder.id)
            changes.online_folders.append(folder.id)
        return True

    @_locked
    def check_folders(self) -> ChangeSet:
        """Cheap reachability pass (no walk); a folder that came back is fully reconciled."""
        changes = ChangeSet()
        back = []
        for folder in self.library.folders():
            was_offline = folder.status is FolderStatus.OFFLINE
            if self._check(folder, changes) and was_offline:
                back.append(self.library.folder(folder.id) or folder)
        if back:
            changes.merge(self.reconcile(folders=back))
        return changes

    # --- reconcile -------------------------------------------------------------------------

    @_locked
    def reconcile(
        self,
        cancel: CancelToken | None = None,
        progress: ProgressCallback | None = None,
        folders: Iterable[Folder] | None = None,
    ) -> ChangeSet:
        """Full mark-and-sweep over ``folders`` (default: all). Raises CancelledError if
        cancelled; batches already committed stay, and nothing is swept."""
        changes = ChangeSet()
        disk = _Disk()
        known: dict[str, KnownFile] = {}
        scanned: list[tuple[Folder, list[tuple[str, str]]]] = []
        for folder in folders if folders is not None else self.library.folders():
            if not self._check(folder, changes):
                continue
            result = walk(str(folder.path), lambda: bool(cancel and cancel.cancelled))
            if cancel is not None:
                cancel.raise_if_cancelled()
            for path, (size, mtime) in result.files.items():
                disk.files[path] = (size, mtime, folder.id)
            disk.unreadable += result.unreadable
            changes.problems += result.problems
            known.update(self.library.known_files(folder_id=folder.id))
            scanned.append((folder, result.problems))
        self._apply(disk, known, changes, cancel, progress)
        for folder, problems in scanned:
            summary = None
            if problems:
                first = "; ".join(f"{p}: {r}" for p, r in problems[:3])
                more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
                summary = f"{len(problems)} item(s) could not be read: {first}{more}"
            self.library.set_folder_scanned(folder.id, summary)
        if folders is None:
            days = self.library.get_setting(PURGE_SETTING, DEFAULT_PURGE_DAYS)
            if days is not None:
                self.library.purge_missing(float(days) * 86400)
        return changes

    @_locked
    def reconcile_paths(self, paths: Iterable[str | Path]) -> ChangeSet:
        """Reconcile just these paths (files or directories, existing or not) - the watcher's
        entry point. Paths outside every watched folder, or in skipped folders, are ignored."""
        changes = ChangeSet()
        folders = {f.id: f for f in self.library.folders()}
        by_folder: dict[int, list[str]] = {}
        for raw in paths:
            path = normalise_path(raw)
            for folder in folders.values():
                if is_inside(path, str(folder.path)):
                    if path == str(folder.path) or not is_skipped_path(path, str(folder.path)):
                        by_folder.setdefault(folder.id, []).append(path)
                    break
        disk, known = _Disk(), dict[str, KnownFile]()
        for folder_id, group in by_folder.items():
            folder = folders[folder_id]
            if not self._check(folder, changes):
                continue
            if str(folder.path) in group:  # the root itself: a full reconcile of the folder
                changes.merge(self.reconcile(folders=[self.library.folder(folder_id) or folder]))
                continue
            for path in sorted(set(group)):
                self._collect(path, folder_id, disk, known, changes)
        self._apply(disk, known, changes, None, None)
        return changes

    def _collect(
        self,
        path: str,
        folder_id: int,
        disk: _Disk,
        known: dict[str, KnownFile],
        changes: ChangeSet,
    ) -> None:
        row = self.library.known_files(under=path)
        known.update(row)
        exact = self.library.photo_by_path(path)
        if exact is not None:
            known[str(exact.path)] = KnownFile(
                exact.id, exact.size, exact.mtime_ns, exact.status, exact.content_hash
            )
        try:
            if os.path.isdir(path):
                result = walk(path)
                for p, (size, mtime) in result.files.items():
                    disk.files[p] = (size, mtime, folder_id)
                disk.unreadable += result.unreadable
                changes.problems += result.problems
            elif is_candidate(os.path.basename(path)):
                st = os.stat(path)
                disk.files[path] = (st.st_size, st.st_mtime_ns, folder_id)
        except FileNotFoundError:
            pass
        except OSError as exc:  # unreadable now: treat as unknown, not deleted
            disk.unreadable.append(path)
            changes.problems.append((path, exc.strerror or str(exc)))

    def _apply(
        self,
        disk: _Disk,
        known: dict[str, KnownFile],
        changes: ChangeSet,
        cancel: CancelToken | None,
        progress: ProgressCallback | None,
    ) -> None:
        lib = self.library
        inactive = (PhotoStatus.MISSING, PhotoStatus.OFFLINE)
        vanished: dict[str, KnownFile] = {
            p: k
            for p, k in known.items()
            if p not in disk.files
            and k.status not in inactive
            and not any(is_inside(p, u) for u in disk.unreadable)
        }
        todo: list[str] = []
        for path, (size, mtime, _) in disk.files.items():
            k = known.get(path)
            if (
                k is None
                or k.status is PhotoStatus.MISSING
                or (k.size, k.mtime_ns) != (size, mtime)
            ):
                todo.append(path)
            else:
                changes.unchanged += 1
        by_hash: dict[str, list[int]] = {}
        for k in vanished.values():
            if k.content_hash:
                by_hash.setdefault(k.content_hash, []).append(k.id)
        moved_away: set[int] = set()
        meter = RateMeter(len(todo))
        for start in range(0, len(todo), BATCH):
            if cancel is not None:
                cancel.raise_if_cancelled()
            batch = [
                f
                for f in (examine(p, self.with_metadata) for p in todo[start : start + BATCH])
                if f is not None
            ]
            missing_rows = lib.missing_by_hash(f.content_hash for f in batch if f.content_hash)
            with lib.transaction():
                for facts in batch:
                    path = str(facts.path)
                    folder_id = disk.files[path][2]
                    old = known.get(path)
                    source = None
                    if (
                        facts.content_hash
                        and facts.error is None
                        and (old is None or old.content_hash != facts.content_hash)
                    ):
                        ids = by_hash.get(facts.content_hash) or []
                        source = ids.pop() if ids else None
                        rows = missing_rows.get(facts.content_hash) or []
                        if source is None and rows and old is None:
                            source = rows.pop(0)[0]
                    if source is not None:
                        lib.move_photo(source, folder_id, facts)
                        moved_away.add(source)
                        changes.moved.append(source)
                        continue
                    [(pid, change)] = lib.add_or_update_photos(folder_id, [facts])
                    if facts.error:
                        changes.errors.append(pid)
                    if change == "new":
                        changes.added.append(pid)
                    elif change == "changed":
                        changes.changed.append(pid)
                    elif old is not None and old.status is PhotoStatus.MISSING:
                        changes.restored.append(pid)
            if progress is not None:
                progress(meter.update(min(start + BATCH, len(todo)), "scanning"))
        gone = [k.id for k in vanished.values() if k.id not in moved_away]
        if gone:
            lib.mark_missing(gone)
            changes.missing += gone
