"""The folders a library watches: add (checked, then scanned), remove, list, rescan, errors.

Both faces add folders here, so a path is refused the same way, with the same message, in the
app and in ``clipdesk-cli folders add`` (:func:`clipdesk.scanning.scanner.check_folder`). The CLI
scans a new folder at once; the app registers it with ``scan=False`` and lets its background
index run reconcile it, so the window never waits for a walk of the disk.
"""

from __future__ import annotations

import builtins
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clipdesk.common.progress import CancelToken, ProgressCallback
from clipdesk.library.errors import FolderError
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
        return [PhotoProblem(p.id, str(p.path), p.error or "unreadable") for p in photos]
