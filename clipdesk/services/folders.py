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
from clipdesk.library.records import Folder, PhotoStatus
from clipdesk.scanning.scanner import ChangeSet, check_folder

if TYPE_CHECKING:
    from clipdesk.services.app import ClipDeskServices

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FolderRecord:
    """A watched folder with its photos counted by status."""

    folder: Folder
    counts: dict[str, int] = field(default_factory=dict)  # {photo status: number}

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
        Returns the number of photos forgotten."""
        removed = self.app.scanner().remove_folder(folder)
        self.app.after_changes()
        return removed

    def list(self) -> list[FolderRecord]:
        """Every watched folder, by path, with its photo counts."""
        library = self.app.library
        counts = library.folder_photo_counts()
        return [FolderRecord(f, counts.get(f.id, {})) for f in library.folders()]

    def get(self, folder: int | str | Path) -> FolderRecord:
        """One folder by id or path (FolderError if the library does not watch it)."""
        found = self.app.library.folder(folder)
        if found is None:
            raise FolderError(
                f"{folder} is not a folder of this library.",
                "List them with `clipdesk-cli folders list`.",
            )
        counts = self.app.library.folder_photo_counts().get(found.id, {})
        return FolderRecord(found, counts)

    def scan(
        self, cancel: CancelToken | None = None, progress: ProgressCallback | None = None
    ) -> ChangeSet:
        """Reconcile every folder with the disk (new, changed, moved, deleted files)."""
        changes = self.app.scanner().reconcile(cancel=cancel, progress=progress)
        self.app.after_changes()
        return changes

    def errors(self, folder: int | str | Path | None = None) -> builtins.list[PhotoProblem]:
        """Photos in error with their reasons, by path: of one folder, or of the library."""
        folder_id = None if folder is None else self.get(folder).id
        photos = self.app.library.photos(folder_id=folder_id, statuses=[PhotoStatus.ERROR])
        return [PhotoProblem(p.id, str(p.path), p.error or "unreadable") for p in photos]
