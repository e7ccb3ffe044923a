"""Keeping the library in step with the disk: add/remove folders and reconcile by mark-and-sweep.

A reconcile walks every reachable folder, compares each candidate file's (size, mtime) with what
the store remembers, fingerprints only new or changed files, and then sweeps: a remembered file
that is no longer on disk is either the source of a move (a new file has its content hash - the
photo row moves, keeping its id, vector and tags) or becomes ``missing`` (kept, not deleted).
Photos under a directory that could not be read are left alone: unknown is not deleted.

A folder whose root is gone (unplugged drive, unmounted share), or is an empty directory where
photos used to be (a mount point without its drive), goes ``offline`` with all its photos; they
come back exactly as they were when it returns, however many scans ran meanwhile. A drive
mounted inside a folder is judged the same way (:mod:`clipdesk.scanning.drives`): while it is
not there its photos are offline, never missing. Nothing here ever deletes a photo row except
:meth:`Scanner.remove_folder` and the purge of photos missing for longer than
``purge_missing_after_days`` (a library setting, default 30), which never touches an offline
folder's photos.

New and changed photos become ``pending`` for the indexing pipeline. The same engine serves the
start-up reconcile and the watcher's targeted :meth:`Scanner.reconcile_paths`.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from clipdesk.common.progress import CancelToken, ProgressCallback, RateMeter
from clipdesk.common.regular_files import not_regular_reason
from clipdesk.imaging.filetypes import is_candidate
from clipdesk.library.errors import FolderError
from clipdesk.library.folders import is_inside, normalise_path
from clipdesk.library.photos import KnownFile
from clipdesk.library.records import FileFacts, Folder, FolderStatus, PhotoStatus
from clipdesk.library.store import Library
from clipdesk.scanning.drives import DriveCheck, check_drives, drives_moved
from clipdesk.scanning.examine import examine
from clipdesk.scanning.relocate import Relocation, relocate
from clipdesk.scanning.walk import WalkResult, is_skipped_path, walk

log = logging.getLogger(__name__)

T = TypeVar("T")
_LOCKS: weakref.WeakKeyDictionary[Library, threading.RLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()
BATCH = 200  # files fingerprinted and committed per transaction
# A photo whose file goes takes over a copy of it first seen at most this long before (with no
# decisions of its own): a move across drives copies everything, then deletes the originals.
MOVE_WINDOW_S = 3600.0
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
    merged: list[int] = field(default_factory=list)  # rows of a move seen as new first: deleted
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
            or self.merged
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
            "merged",
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

    @_locked
    def relocate_folder(
        self,
        folder: Folder,
        new_root: str | Path,
        cancel: CancelToken | None = None,
        progress: ProgressCallback | None = None,
    ) -> tuple[Relocation, ChangeSet]:
        """Point ``folder`` at ``new_root`` keeping every photo (see
        :mod:`clipdesk.scanning.relocate`), then scan it there for files it did not know."""
        moved = relocate(
            self.library,
            folder,
            check_folder(new_root),
            with_metadata=self.with_metadata,
            cancel=cancel,
            progress=progress,
        )
        fresh = self.library.folder(folder.id) or folder
        return moved, self.reconcile(cancel=cancel, progress=progress, folders=[fresh])

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
        # Offline photos count: an empty root where they were is their drive not being there
        # (counting only present ones took an offline folder back online, its photos missing).
        counts = self.library.folder_photo_counts().get(folder_id, {})
        return sum(n for s, n in counts.items() if s != PhotoStatus.MISSING.value)

    def _check(self, folder: Folder, changes: ChangeSet) -> bool:
        """Probe ``folder``'s root and record it offline or in error when it cannot be scanned;
        True when it can. An offline folder is back online only once a walk has checked its
        drives (:meth:`_drives`, in :meth:`reconcile`)."""
        state, reason = self._probe(folder)
        if state is FolderStatus.OFFLINE:
            self._go_offline(folder, reason or "offline", changes)
            return False
        if state is FolderStatus.ERROR:
            self.library.set_folder_error(folder.id, reason or "unreadable")
            changes.problems.append((str(folder.path), reason or "unreadable"))
            return False
        return True

    def _go_offline(self, folder: Folder, reason: str, changes: ChangeSet) -> None:
        if folder.status is not FolderStatus.OFFLINE:
            log.info("folder %s offline: %s", folder.path, reason)
            self.library.set_folder_offline(folder.id, reason)
            changes.offline_folders.append(folder.id)

    def _drives_moved(self, folder: Folder) -> bool:
        """A drive of ``folder`` came or went since its last scan (or it is not online)."""
        return drives_moved(folder, self.library.folder_drives(folder.id))

    def _drives(
        self, folder: Folder, result: WalkResult, changes: ChangeSet
    ) -> tuple[DriveCheck, dict[str, KnownFile]] | None:
        """Check the walked folder's drives: None when the whole folder is offline; otherwise
        it is online, with the photos of the drives inside it that are not there offline and
        those of drives that came back restored; returned with the folder's known files."""
        known = self.library.known_files(folder_id=folder.id)
        check = check_drives(folder, self.library.folder_drives(folder.id), result, known)
        if check.folder_offline is not None:
            self._go_offline(folder, check.folder_offline, changes)
            return None
        for path, reason in check.offline.items():
            log.info("drive at %s offline: %s", path, reason)
        back, newly_offline = self.library.set_folder_reachable(folder.id, list(check.offline))
        if folder.status is FolderStatus.OFFLINE:
            log.info("folder %s is back", folder.path)
            changes.online_folders.append(folder.id)
        else:
            changes.restored += back
        if back or newly_offline:  # statuses changed: the sweep must see them as they are now
            known = self.library.known_files(folder_id=folder.id)
        return check, known

    @_locked
    def check_folders(self) -> ChangeSet:
        """Cheap reachability pass (stats only); a folder that came back, or one of whose
        drives came or went, is fully reconciled."""
        changes = ChangeSet()
        again = []
        for folder in self.library.folders():
            if self._check(folder, changes) and self._drives_moved(folder):
                again.append(self.library.folder(folder.id) or folder)
        if again:
            changes.merge(self.reconcile(folders=again))
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
        scanned: list[tuple[Folder, WalkResult, DriveCheck]] = []
        for folder in folders if folders is not None else self.library.folders():
            if not self._check(folder, changes):
                continue
            result = walk(str(folder.path), lambda: bool(cancel and cancel.cancelled))
            if cancel is not None:
                cancel.raise_if_cancelled()
            checked = self._drives(folder, result, changes)
            if checked is None:
                continue
            drives, folder_known = checked
            # A drive that is not there is like an unreadable folder: unknown, not deleted.
            away = list(drives.offline)
            for path, (size, mtime) in result.files.items():
                if not away or not any(is_inside(path, d) for d in away):
                    disk.files[path] = (size, mtime, folder.id)
            disk.unreadable += result.unreadable + away
            changes.problems += result.problems
            known.update(folder_known)
            scanned.append((folder, result, drives))
        self._apply(disk, known, changes, cancel, progress)
        for folder, result, drives in scanned:
            self.library.set_folder_scanned(
                folder.id,
                _scan_summary(str(folder.path), result.problems, drives),
                device=result.device,
                drives=drives.drives,
            )
        if folders is None:
            days = self.library.get_setting(PURGE_SETTING, DEFAULT_PURGE_DAYS)
            if days is not None:  # photos of offline folders are never purged (library side)
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
            # the root itself, or a drive of the folder came or went: a full reconcile of it
            if str(folder.path) in group or self._drives_moved(folder):
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
                special = not_regular_reason(st.st_mode)  # a FIFO: reported, never opened
                if special is None:
                    disk.files[path] = (st.st_size, st.st_mtime_ns, folder_id)
                else:
                    changes.problems.append((path, special))
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
        swept = {k.id for k in vanished.values()}  # matched by hash above, or missing below
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
            left_rows = self._left_behind(batch, known, moved_away | swept)
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
                        left = [
                            i for i in left_rows.get(facts.content_hash, ()) if i not in moved_away
                        ]
                        if source is None and left and old is None:
                            source = left[0]
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
        gone = self._merge_twins(gone, changes)
        if gone:
            lib.mark_missing(gone)
            changes.missing += gone

    def _left_behind(
        self, batch: list[FileFacts], known: dict[str, KnownFile], taken: set[int]
    ) -> dict[str, list[int]]:
        """{content hash: photo ids} of photos the store still has at another path although
        their files are gone from it: the source of a move whose old path this reconcile did
        not look at (the watcher's event for it is in another batch, or a full rescan walked
        the old place before the file left it). A file that is still there is a duplicate, a
        photo of its own; a photo whose folder cannot be reached now is left alone."""
        hashes = [
            f.content_hash
            for f in batch
            if f.content_hash and f.error is None and str(f.path) not in known
        ]
        if not hashes:
            return {}
        out: dict[str, list[int]] = {}
        folders = {f.id: f for f in self.library.folders()}
        reachable: dict[int, bool] = {}
        for digest, rows in self.library.present_by_hash(hashes).items():
            for pid, path, folder_id in rows:
                if pid in taken or not _gone(path):
                    continue
                if folder_id not in reachable:
                    reachable[folder_id] = self._all_drives_there(folders.get(folder_id))
                if reachable[folder_id]:
                    out.setdefault(digest, []).append(pid)
        return out

    def _all_drives_there(self, folder: Folder | None) -> bool:
        """The folder and every drive mounted inside it are as its last scan found them: only
        then does a file gone from it mean the file left. A bare mount point is still a
        directory, so an unplugged drive's photos would otherwise look moved to any copy."""
        if folder is None or self._probe(folder)[0] is not FolderStatus.OK:
            return False
        return not self._drives_moved(folder)  # also False for a folder not online

    def _merge_twins(self, gone: list[int], changes: ChangeSet) -> list[int]:
        """Photos whose files went, less those whose move was seen the other way round: their
        file arrived at a new path first (reconciled as a new photo) and only now is the old
        path found gone. The old photo keeps its id, vector, tags and decisions at the new
        path; the short-lived new row is dropped. Returns the photos really missing."""
        if not gone:
            return gone
        twins = self.library.fresh_twins(gone, since=time.time() - MOVE_WINDOW_S)
        kept: set[int] = set()
        for old_id, (new_id, new_path) in twins.items():
            if _gone(new_path) or not self.library.merge_duplicate(old_id, new_id):
                continue
            kept.add(old_id)
            changes.moved.append(old_id)
            changes.merged.append(new_id)
            for name in ("added", "changed", "restored", "errors"):
                ids = getattr(changes, name)
                if new_id in ids:
                    ids.remove(new_id)
        return [pid for pid in gone if pid not in kept]


def _scan_summary(root: str, problems: list[tuple[str, str]], drives: DriveCheck) -> str | None:
    """The folder's ``error`` after a scan: drives inside it that are not there, then what
    could not be read; None when all is well."""
    parts = [f"{os.path.relpath(p, root)}: {why}" for p, why in sorted(drives.offline.items())]
    if problems:
        first = "; ".join(f"{p}: {r}" for p, r in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        parts.append(f"{len(problems)} item(s) could not be read: {first}{more}")
    return "; ".join(parts) or None


def _gone(path: str) -> bool:
    """True only when nothing is at ``path`` (not when it merely cannot be looked at)."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False
    return False
