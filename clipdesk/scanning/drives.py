"""The drives a folder lives on: telling a drive that is not there from photos that were deleted.

A folder's photos live on its root's drive and on any drive mounted (or linked) inside it. When
a drive is not there, what is left at its path is nothing, an empty directory, or a directory on
another device (the mount point on the parent's drive, or some other drive mounted there). Its
photos are then *offline*: kept with their vectors, tags and decisions however many scans run,
and back as they were when the drive returns. A photo becomes *missing* only where its drive is
there. So a directory where none of its known photos is found is offline when it is gone, empty,
or on another device than the one its photos were on; if any of them is found, it is real, and
the others were deleted.

Each good scan remembers the root's device and the mount points inside the folder
(:class:`~clipdesk.library.records.Drive`); :func:`check_drives` compares a walk with them, and
:func:`drives_moved` is the cheap stat-only test the watcher's periodic check runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from clipdesk.library.folders import is_inside
from clipdesk.library.photos import KnownFile
from clipdesk.library.records import Drive, Folder, FolderStatus, PhotoStatus
from clipdesk.scanning.walk import WalkResult


@dataclass
class DriveCheck:
    """What a walk says about a folder's drives."""

    folder_offline: str | None = None  # why the whole folder is offline (its root's drive)
    offline: dict[str, str] = field(default_factory=dict)  # directory inside it -> why offline
    drives: dict[str, Drive] = field(default_factory=dict)  # to remember, relative to the root


def device_at(path: str) -> int | None:
    """The st_dev of the directory at ``path`` (following links); None when there is none."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev if os.path.isdir(path) else None


def _empty(path: str) -> bool:
    try:
        with os.scandir(path) as it:
            return next(it, None) is None
    except OSError:  # unreadable: the walk reports it, and its photos are left alone
        return False


def _why_not_there(path: str, device: int, now: int | None) -> str | None:
    """Why the drive once at ``path`` (st_dev ``device``) is not there now, if it is not."""
    if now is None:
        return "folder not found (drive unplugged or share unmounted?)"
    if now != device:
        return "on another drive than its photos (drive not mounted?)"
    if _empty(path):
        return "folder is empty (drive not mounted?)"
    return None


def check_drives(
    folder: Folder,
    remembered: Mapping[str, Drive],
    result: WalkResult,
    known: Mapping[str, KnownFile],
) -> DriveCheck:
    """Compare a walk of ``folder`` with the drives its last good scan found there."""
    root = str(folder.path)
    check = DriveCheck()
    active = [p for p, k in known.items() if k.status is not PhotoStatus.MISSING]
    if (
        folder.device is not None
        and result.device is not None
        and result.device != folder.device
        and active
        and not any(p in result.files for p in active)
    ):
        check.folder_offline = (
            "the folder is on another drive than at the last scan, and none of its photos "
            "are there (drive not mounted?)"
        )
        return check
    for rel, drive in sorted(remembered.items()):
        path = os.path.normpath(os.path.join(root, rel))
        if any(is_inside(path, d) for d in check.offline):  # inside a drive already offline
            check.drives[rel] = Drive(drive.device, device_at(path))
            continue
        now = device_at(path)
        reason = _why_not_there(path, drive.device, now)  # a few stats: the common case ends here
        if reason is None:
            continue
        mine = [p for p in active if p != path and is_inside(p, path)]
        if not mine or any(p in result.files for p in mine):
            continue  # nothing to keep, or the directory is real: the rest were deleted
        check.offline[path] = reason
        check.drives[rel] = Drive(drive.device, now)
    for path, device in result.mounts.items():
        if not any(is_inside(path, d) for d in check.offline):
            check.drives[os.path.relpath(path, root)] = Drive(device, device)
    return check


def drives_moved(folder: Folder, remembered: Mapping[str, Drive]) -> bool:
    """True when a stat of the folder's root and of its remembered mount points finds something
    else than its last scan left (a drive came or went): the folder needs a full reconcile.
    Also for a folder offline or in error, which only a full reconcile brings back."""
    if folder.status is not FolderStatus.OK:
        return True
    root = str(folder.path)
    now = device_at(root)
    if folder.device is not None and now is not None and now != folder.device:
        return True
    return any(
        device_at(os.path.normpath(os.path.join(root, rel))) != drive.seen
        for rel, drive in remembered.items()
    )
