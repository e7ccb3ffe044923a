"""Walking a photo folder: which directories to skip, and surviving what real disks contain.

Skipped: hidden entries (a leading dot, or the hidden/system attribute on Windows) and the
housekeeping folders of NAS boxes, operating systems and other tools (:data:`SKIP_DIRS`).
Directory symlinks are followed - people link other drives into their Pictures - but each real
directory is entered once, so a symlink loop ends the descent instead of recursing forever.
A directory that cannot be read (permission denied, I/O error) is recorded with its reason and
the walk goes on; the caller must treat photos under it as *unknown*, not deleted.
The walk also notes the root's device and every directory on another device than its parent
(a mount point, or a link to another drive), so the scanner can tell when a drive is not there.
A FIFO, socket or device with a photo's name (or a link to one) is never opened: it is recorded
as a problem, ``not a regular file (FIFO)``, and is not a photo of the library.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from clipdesk.common.regular_files import not_regular_reason
from clipdesk.imaging.filetypes import is_candidate

SKIP_DIRS = frozenset(
    {
        "@eadir",
        "#recycle",
        "#snapshot",
        "@recycle",
        "@recently-snapshot",  # Synology / QNAP
        "$recycle.bin",
        "system volume information",
        "recycler",
        "recycled",  # Windows
        "lost+found",
        "__macosx",
        ".git",
        ".svn",
        ".hg",
        ".thumbnails",
        ".thumbs",
        ".trash",
        ".trashes",
        ".cache",
        ".spotlight-v100",
        ".fseventsd",
        ".documentrevisions-v100",
        ".temporaryitems",
        ".picasaoriginals",
        ".dtrash",
    }
)
SKIP_FILES = frozenset({"thumbs.db", "desktop.ini", ".ds_store", "ehthumbs.db"})

_HIDDEN = getattr(stat, "FILE_ATTRIBUTE_HIDDEN", 2) | getattr(stat, "FILE_ATTRIBUTE_SYSTEM", 4)


@dataclass
class WalkResult:
    files: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (size, mtime_ns)
    unreadable: list[str] = field(default_factory=list)  # directories whose content is unknown
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    device: int | None = None  # st_dev of the root (None: it could not be read)
    mounts: dict[str, int] = field(default_factory=dict)  # directory -> st_dev, below the root


def skipped(name: str, entry: os.DirEntry[str] | None = None) -> bool:
    """True for a hidden or system entry that a photo library must not look into."""
    lower = name.lower()
    if name.startswith(".") or lower in SKIP_DIRS or lower in SKIP_FILES:
        return True
    if sys.platform == "win32" and entry is not None:  # pragma: no cover - Windows attributes
        try:
            return bool(entry.stat(follow_symlinks=False).st_file_attributes & _HIDDEN)
        except OSError:
            return False
    return False


def is_skipped_path(path: str, root: str) -> bool:
    """True when any component of ``path`` below ``root`` is a skipped name."""
    rel = os.path.relpath(path, root)
    return any(skipped(part) for part in rel.split(os.sep) if part not in (".", ""))


def _reason(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


def walk(root: str, should_stop: Callable[[], bool] | None = None) -> WalkResult:
    """Every candidate photo file under ``root`` (which the caller has checked is a directory)."""
    result = WalkResult()
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[str, int | None]] = [(root, None)]  # (directory, its parent's st_dev)
    while stack:
        if should_stop is not None and should_stop():
            break
        directory, parent_device = stack.pop()
        try:
            info = os.stat(directory)
            key = (info.st_dev, info.st_ino)
            if key in seen:
                result.problems.append((directory, "symlink loop or repeated folder (skipped)"))
                continue
            seen.add(key)
            if parent_device is None:
                result.device = info.st_dev
            elif info.st_dev != parent_device:
                result.mounts[directory] = info.st_dev
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError as exc:
            result.unreadable.append(directory)
            result.problems.append((directory, _reason(exc)))
            continue
        for entry in entries:
            if skipped(entry.name, entry):
                continue
            try:
                if entry.is_dir(follow_symlinks=True):
                    stack.append((entry.path, info.st_dev))
                elif is_candidate(entry.name):
                    st = entry.stat(follow_symlinks=True)
                    special = not_regular_reason(st.st_mode)
                    if special is None:
                        result.files[entry.path] = (st.st_size, st.st_mtime_ns)
                    else:  # reported, never opened: a FIFO would block the scan forever
                        result.problems.append((entry.path, special))
            except OSError as exc:  # vanished mid-walk, broken link, denied: not fatal
                if not isinstance(exc, FileNotFoundError):
                    result.problems.append((entry.path, _reason(exc)))
    return result
