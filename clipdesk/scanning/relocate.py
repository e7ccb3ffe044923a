"""Pointing a folder at its new root (the photos were copied to a new disk, or the drive is
mounted at a new path): each photo is looked for at the same relative path under the new root,
and the store keeps it by content hash (:mod:`clipdesk.library.relocation`)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from clipdesk.common.progress import CancelToken, ProgressCallback, RateMeter
from clipdesk.library.errors import FolderError
from clipdesk.library.records import FileFacts, Folder
from clipdesk.library.relocation import Relocated
from clipdesk.library.store import Library
from clipdesk.scanning.examine import examine


@dataclass(frozen=True)
class Relocation:
    """A relocated folder: where it was, where it is, and what became of its photos."""

    old_root: str
    new_root: str
    photos: Relocated


def relocate(
    library: Library,
    folder: Folder,
    new_root: str,
    *,
    with_metadata: bool = True,
    cancel: CancelToken | None = None,
    progress: ProgressCallback | None = None,
) -> Relocation:
    """Examine the file at each photo's new path, then move the folder in one transaction.
    ``new_root`` is already checked (a readable directory, in its stored form)."""
    old_root = str(folder.path)
    if new_root == old_root:
        raise FolderError(
            f"{old_root} is already where this folder is.",
            "Scan it instead: photos that came back are found again.",
        )
    known = library.known_files(folder_id=folder.id)
    meter = RateMeter(len(known))
    found: dict[int, FileFacts] = {}
    for n, (path, k) in enumerate(sorted(known.items()), 1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        candidate = new_root + path[len(old_root) :]
        if os.path.isfile(candidate):
            facts = examine(candidate, with_metadata)
            if facts is not None:
                found[k.id] = facts
        if progress is not None and (n % 200 == 0 or n == len(known)):
            progress(meter.update(n, "checking photos at the new location"))
    device = os.stat(new_root).st_dev
    moved = library.relocate_folder(folder.id, new_root, found, device)
    return Relocation(old_root, new_root, moved)
