"""Replacing a folder by renames, with a journal that makes a crash at any moment recoverable.

Two renames replace a folder (the old one aside, the new one in); a process killed between them
leaves neither under the folder's name. So before the first rename a small journal is written
beside the folder (``.NAME.swap.json``: where the new folder and the old one are), and removed
after the last step. :func:`recover` reads a journal left by a dead process and finishes the
swap when the new folder is still complete, else puts the old one back: the folder is always
there afterwards, old or new, never gone.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from clipdesk.common import limits
from clipdesk.common.atomic_file import atomic_write_bytes, fsync_dir
from clipdesk.common.json_files import read_json_file

log = logging.getLogger(__name__)


def journal_path(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.swap.json")


def backup_path(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.old")


def _reached(step: str) -> None:
    """A named step of a swap. Does nothing; the crash tests stop a process here."""


def is_complete(folder: Path) -> bool:
    """Whether ``folder`` is a whole model folder (what a swap moves in is always one)."""
    return folder.is_dir() and any(
        (folder / name).is_file() for name in ("config.json", "open_clip_config.json")
    )


def swap_into_place(staging: Path, dest: Path) -> None:
    """Put the complete folder ``staging`` in place of ``dest`` (if there is one). Readers see
    the old folder or the new one; after a crash :func:`recover` restores one of them. The
    caller keeps other writers of ``dest`` away (see :mod:`clipdesk.model.installs`)."""
    _reached("staged")
    if journal_path(dest).exists():
        recover(dest)  # an earlier swap of this folder was interrupted
    _sync_tree(staging)  # the journal must never point at files still in the page cache
    backup = backup_path(dest)
    if not dest.exists():
        staging.rename(dest)
        fsync_dir(dest.parent)
        if backup.is_dir():  # left by a crash of an older ClipDesk: the new folder wins
            shutil.rmtree(backup, ignore_errors=True)
        return
    if backup.exists():
        shutil.rmtree(backup)
    journal = journal_path(dest)
    record = {"staging": os.path.relpath(staging, dest.parent), "backup": backup.name}
    atomic_write_bytes(journal, json.dumps(record).encode("utf-8"))
    _reached("journal-written")
    dest.rename(backup)
    _reached("old-moved-aside")
    staging.rename(dest)
    fsync_dir(dest.parent)
    _reached("new-in-place")
    shutil.rmtree(backup, ignore_errors=True)
    _reached("old-removed")
    journal.unlink()
    fsync_dir(dest.parent)


def recover(dest: Path) -> str | None:
    """Finish or roll back the interrupted swap of ``dest`` its journal records; a sentence
    saying what was done, None if there was no journal. Raises ``OSError`` if the renames fail
    (the journal stays for the next try). The caller keeps other writers away."""
    journal = journal_path(dest)
    if not journal.exists():
        return None
    try:
        record = read_json_file(
            journal, max_bytes=limits.MODEL_JSON_MAX_BYTES, max_depth=limits.MODEL_JSON_MAX_DEPTH
        )
        staging = _inside(dest.parent, record["staging"])  # type: ignore[index]
        backup = _inside(dest.parent, record["backup"])  # type: ignore[index]
    except (ValueError, KeyError, TypeError) as exc:
        # Written atomically, so only damage makes it unreadable: fall back to what is on disk.
        log.warning("unreadable swap journal %s (%s)", journal, exc)
        staging, backup = dest.parent / ".missing", backup_path(dest)
    name = dest.name
    if is_complete(staging):
        # The new folder never went in: it is whole (the journal is written after it), finish.
        if dest.exists():
            if backup.exists():
                shutil.rmtree(backup)
            dest.rename(backup)
        staging.rename(dest)
        fsync_dir(dest.parent)
        done = f"finished installing {name}: the install was interrupted while replacing it"
    elif dest.exists():
        done = f"finished installing {name}: the install was interrupted while cleaning up"
    elif is_complete(backup):
        backup.rename(dest)
        fsync_dir(dest.parent)
        done = f"restored the previous {name}: its replacement was interrupted and incomplete"
    else:
        done = f"could not restore {name}: neither its old nor its new version is complete"
    for leftover in (backup, staging):
        if leftover.exists() and leftover != dest:
            shutil.rmtree(leftover, ignore_errors=True)
    journal.unlink()
    fsync_dir(dest.parent)
    log.warning("%s", done)
    return done


def _inside(parent: Path, relative: object) -> Path:
    """A path from a journal, which must lie below ``parent`` (it may be removed)."""
    path = parent / str(relative)
    resolved, root = path.resolve(), parent.resolve()
    if resolved == root or not resolved.is_relative_to(root):
        raise ValueError(f"{relative!r} is not below {parent}")
    return path


def _sync_tree(folder: Path) -> None:
    for f in folder.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    fsync_dir(folder)
