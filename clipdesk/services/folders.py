"""The folders a library watches: add (checked, then scanned), remove, list, rescan, errors.

Both faces add folders here, so a path is refused the same way, with the same message, in the
app and in ``clipdesk-cli folders add`` (:func:`clipdesk.scanning.scanner.check_folder`). The CLI
scans a new folder at once; the app registers it with ``scan=False`` and lets its background
index run reconcile it, so the window never waits for a walk of the disk.
"""

from __future__ import annotations

import builtins
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clipdesk.common.fsnames import shown
from clipdesk.common.progress import CancelToken, ProgressCallback
from clipdesk.library.errors import FolderError
from clipdesk.library.folders import is_inside
from clipdesk.library.records import Folder, FolderStatus, PhotoStatus
from clipdesk.scanning.scanner import ChangeSet, check_folder
from clipdesk.services import purge_notice
from clipdesk.services.purge_notice import PurgeNotice

if TYPE_CHECKING:
    from clipdesk.services.app import ClipDeskServices

log = logging.getLogger(__name__)

# Decoding failures that describe the moment rather than the file (the decoder met a move, a
# delete or a permission being changed; clipdesk.imaging.decode and scanning.examine word them
# so): a later try may well succeed, so every index run tries such photos again.
TRANSIENT_ERRORS = ("file not found", "permission denied")


@dataclass(frozen=True)
class FolderRecord:
    """A watched folder with its photos counted by status."""

    folder: Folder
    counts: dict[str, int] = field(default_factory=dict)  # {photo status: number}
    # missing photos and when the purge removes them, offline ones kept (None: nothing to say)
    purge: PurgeNotice | None = None

    @property
    def id(self) -> int:
        return self.folder.id

    @property
    def path(self) -> Path:
        return self.folder.path

    @property
    def status(self) -> str:
        return self.folder.status.value

    @property
    def error(self) -> str | None:
        return self.folder.error

    @property
    def photos(self) -> int:
        """Every photo row of the folder, missing ones included."""
        return sum(self.counts.values())

    @property
    def present(self) -> int:
        """Photos whose files are there (every status but missing)."""
        return sum(n for s, n in self.counts.items() if s != PhotoStatus.MISSING.value)

    @property
    def indexed(self) -> int:
        return self.counts.get(PhotoStatus.OK.value, 0)

    @property
    def pending(self) -> int:
        return self.counts.get(PhotoStatus.PENDING.value, 0)

    @property
    def errors(self) -> int:
        return self.counts.get(PhotoStatus.ERROR.value, 0)


@dataclass(frozen=True)
class FolderAdded:
    """A folder just added, and what its scan found (None: not scanned yet, ``scan=False``)."""

    record: FolderRecord
    changes: ChangeSet | None


@dataclass(frozen=True)
class FolderRelocated:
    """A folder pointed at its new root: its photos by what was found there, and the scan of
    the new root that followed (files it did not know)."""

    record: FolderRecord
    old_path: str
    kept: int  # same content at the same relative path: id, vector, tags and decisions kept
    changed: int  # other content there: indexed again (tags and decisions kept)
    unmatched: int  # no file there: missing (kept until the purge, found again if it returns)
    changes: ChangeSet


@dataclass(frozen=True)
class PhotoProblem:
    """A photo that could not be indexed, and why."""

    id: int
    path: str
    reason: str
    folder_id: int | None = None  # the watched folder it is in


@dataclass(frozen=True)
class FolderNode:
    """A watched folder or a folder inside one, with the photos search finds there (status ok;
    its subfolders' included), for a folder filter as a tree: ``path`` is what a search's
    ``folders`` take (exact, also for names that are not UTF-8)."""

    path: str
    name: str  # a watched folder: its whole path; a subfolder: its own name
    photos: int
    children: tuple[FolderNode, ...] = ()
    folder_id: int | None = None  # set for a watched folder


def folder_tree(
    folders: Sequence[Folder], counts: Iterable[tuple[int, str, int]]
) -> list[FolderNode]:
    """The tree of ``folders`` from :meth:`~clipdesk.library.store.Library.directory_counts`'
    rows: every directory holding photos, with the directories above it up to its watched
    folder, each counting its own photos and its subfolders'; by name."""
    roots = {f.id: str(f.path) for f in folders}
    totals: dict[int, dict[tuple[str, ...], int]] = {f.id: {(): 0} for f in folders}
    for folder_id, directory, n in counts:
        root = roots.get(folder_id)
        if root is None:
            continue
        rel = os.path.relpath(directory, root) if is_inside(directory, root) else os.curdir
        parts = () if rel == os.curdir else tuple(rel.split(os.sep))
        mine = totals[folder_id]
        for depth in range(len(parts) + 1):  # every folder above it holds its photos too
            mine[parts[:depth]] = mine.get(parts[:depth], 0) + n
    return [
        replace(_subtree(roots[f.id], totals[f.id]), folder_id=f.id)
        for f in sorted(folders, key=lambda f: shown(str(f.path)).casefold())
    ]


def _subtree(root: str, totals: dict[tuple[str, ...], int]) -> FolderNode:
    children: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for parts in totals:
        if parts:
            children.setdefault(parts[:-1], []).append(parts)

    def node(parts: tuple[str, ...]) -> FolderNode:
        below = sorted(children.get(parts, ()), key=lambda k: shown(k[-1]).casefold())
        return FolderNode(
            os.path.join(root, *parts),
            parts[-1] if parts else root,
            totals[parts],
            tuple(node(k) for k in below),
        )

    return node(())


def change_summary(changes: ChangeSet) -> dict[str, Any]:
    """What a scan changed, counted (the shape ``clipdesk-cli folders --json`` prints)."""
    return {
        "added": len(changes.added),
        "changed": len(changes.changed),
        "moved": len(changes.moved),
        "missing": len(changes.missing),
        "restored": len(changes.restored),
        "errors": len(changes.errors),
        "offline_folders": len(changes.offline_folders),
        "problems": [{"path": p, "reason": r} for p, r in changes.problems],
    }


class FolderService:
    """``app.folders``: every folder workflow of both faces."""

    def __init__(self, app: ClipDeskServices) -> None:
        self.app = app

    def check(self, path: str | Path) -> str:
        """The folder's stored form if it can be added; FolderError (message and hint) if not."""
        return check_folder(path)

    def add(
        self,
        path: str | Path,
        *,
        scan: bool = True,
        cancel: CancelToken | None = None,
        progress: ProgressCallback | None = None,
    ) -> FolderAdded:
        """Check ``path``, register it and (``scan=True``) scan it now: new photos become
        pending for :meth:`ClipDeskServices.index`. With ``scan=False`` the next
        :meth:`scan` finds its photos (the app's background index run does that)."""
        folder = self.app.library.add_folder(self.check(path))
        log.info("folder added: %s", folder.path)
        changes = None
        if scan:
            changes = self.app.scanner().reconcile(
                cancel=cancel, progress=progress, folders=[folder]
            )
            self.app.after_changes()
        return FolderAdded(self.get(folder.id), changes)

    def remove(self, folder: int | str | Path) -> int:
        """Forget a folder and its photos, vectors and tags (files on disk are never touched).
        An offline folder too: the way to let go of a drive that is gone for good.
        Returns the number of photos forgotten."""
        removed = self.app.scanner().remove_folder(folder)
        self.app.after_changes()
        return removed

    def relocate(
        self,
        folder: int | str | Path,
        new_path: str | Path,
        *,
        cancel: CancelToken | None = None,
        progress: ProgressCallback | None = None,
    ) -> FolderRelocated:
        """Point a folder at its new root (its photos were moved to a new disk or mount path):
        each photo at the same relative path with the same content keeps its id, vector, tags
        and decisions; other content there is indexed again; photos not found stay missing.
        Then the new root is scanned for files the folder did not know."""
        found = self.get(folder).folder
        moved, changes = self.app.scanner().relocate_folder(found, new_path, cancel, progress)
        log.info("folder %s relocated to %s", moved.old_root, moved.new_root)
        self.app.after_changes()
        return FolderRelocated(
            self.get(found.id),
            moved.old_root,
            len(moved.photos.kept),
            len(moved.photos.changed),
            len(moved.photos.unmatched),
            changes,
        )

    def purge_days(self) -> float | None:
        """The purge rule: missing photos are removed after this many days (None: never)."""
        return purge_notice.purge_days(
            self.app.library.get_setting(
                purge_notice.PURGE_SETTING, purge_notice.DEFAULT_PURGE_DAYS
            )
        )

    def purge_rule(self) -> str:
        """The purge rule in one sentence, as both faces show it."""
        return purge_notice.rule_text(self.purge_days())

    def list(self) -> list[FolderRecord]:
        """Every watched folder, by path, with its photo counts and purge notice."""
        library = self.app.library
        counts = library.folder_photo_counts()
        missing, days = library.missing_since(), self.purge_days()
        return [
            self._record(f, counts.get(f.id, {}), missing.get(f.id), days)
            for f in library.folders()
        ]

    def tree(self) -> builtins.list[FolderNode]:
        """Every watched folder with its subfolders, each with the photos search finds there
        (:func:`folder_tree`): one grouped query of the library, cached until it changes."""
        library = self.app.library
        counts = library.directory_counts(statuses=[PhotoStatus.OK.value])
        return folder_tree(library.folders(), counts)

    def get(self, folder: int | str | Path) -> FolderRecord:
        """One folder by id or path (FolderError if the library does not watch it)."""
        found = self.app.library.folder(folder)
        if found is None:
            raise FolderError(
                f"{folder} is not a folder of this library.",
                "List them with `clipdesk-cli folders list`.",
            )
        counts = self.app.library.folder_photo_counts().get(found.id, {})
        missing = None
        if counts.get(PhotoStatus.MISSING.value):
            missing = self.app.library.missing_since().get(found.id)
        return self._record(found, counts, missing, self.purge_days())

    @staticmethod
    def _record(
        folder: Folder,
        counts: dict[str, int],
        missing: tuple[int, float, float] | None,
        days: float | None,
    ) -> FolderRecord:
        # the one place the purge notice is worked out, for the app and the CLI alike
        notice = purge_notice.notice(
            missing,
            counts.get(PhotoStatus.OFFLINE.value, 0),
            days,
            folder.status is FolderStatus.OFFLINE,
        )
        return FolderRecord(folder, counts, notice)

    def scan(
        self, cancel: CancelToken | None = None, progress: ProgressCallback | None = None
    ) -> ChangeSet:
        """Reconcile every folder with the disk (new, changed, moved, deleted files)."""
        changes = self.app.scanner().reconcile(cancel=cancel, progress=progress)
        self.app.after_changes()
        return changes

    def retry_errors(
        self, folder: int | str | Path | None = None, *, transient_only: bool = False
    ) -> int:
        """Put the photos in error (of one folder, or of the library) back in the queue for
        :meth:`ClipDeskServices.index` - the user's "Retry failed". ``transient_only``: only
        those whose reason told of the moment, not of the file (:data:`TRANSIENT_ERRORS`);
        every index run retries these first. Returns how many were queued again."""
        folder_id = None if folder is None else self.get(folder).id
        reasons = TRANSIENT_ERRORS if transient_only else None
        queued = int(self.app.library.retry_errors(folder_id=folder_id, reasons=reasons))
        if queued:
            log.info("%d photos in error queued again", queued)
            self.app.after_changes()
        return queued

    def errors(self, folder: int | str | Path | None = None) -> builtins.list[PhotoProblem]:
        """Photos in error with their reasons, by path: of one folder, or of the library."""
        folder_id = None if folder is None else self.get(folder).id
        photos = self.app.library.photos(folder_id=folder_id, statuses=[PhotoStatus.ERROR])
        return [
            PhotoProblem(p.id, str(p.path), p.error or "unreadable", p.folder_id) for p in photos
        ]
