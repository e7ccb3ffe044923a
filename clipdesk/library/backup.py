"""A backup of the library file, taken while it is in use: SQLite's online backup API.

The copy is one consistent snapshot (the backup copies every page in one step, inside one read
transaction; in WAL mode the app and the watcher go on writing meanwhile and are not blocked).
It is written to a temporary file beside the destination, checked (``PRAGMA quick_check``, the
same schema version and application id), switched to a plain rollback journal so it is one
self-contained file, synced, and only then renamed into place: an interrupted backup leaves the
previous one, never half a file. The live library itself (or its -wal/-shm files) is refused as a
destination.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from clipdesk.common.errors import LibraryError
from clipdesk.library.errors import translate
from clipdesk.library.folders import normalise_path

if TYPE_CHECKING:
    from clipdesk.library.store import Library


class BackupError(LibraryError):
    """The backup cannot be written where asked (or would replace the live library)."""


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int  # bytes
    photos: int
    seconds: float


def _is_live(target: Path, live: Path) -> bool:
    with contextlib.suppress(OSError):
        if target.exists() and os.path.samefile(target, live):
            return True
    real_target, real_live = os.path.realpath(target), os.path.realpath(live)
    return real_target in {real_live + s for s in ("", "-wal", "-shm", "-journal")}


def _check_destination(target: Path, live: Path, overwrite: bool) -> None:
    if _is_live(target, live):
        raise BackupError(
            f"{target} is the library itself; a backup cannot replace it.",
            "Choose another file name for the backup.",
        )
    if target.is_dir():
        raise BackupError(f"{target} is a folder.", "Give the backup a file name.")
    if not target.parent.is_dir():
        raise BackupError(
            f"The folder {target.parent} does not exist.", "Create it, or choose another place."
        )
    if target.exists() and not overwrite:
        raise BackupError(
            f"{target} already exists.",
            "Choose another file name, or allow replacing it.",
            cli_hint="Choose another file name, or pass --overwrite to replace it.",
        )


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup_library(library: Library, dest: str | Path, *, overwrite: bool = False) -> Backup:
    """Copy ``library`` to ``dest`` (see the module docstring). Returns what was written."""
    target = Path(normalise_path(dest))
    live = Path(normalise_path(library.path))
    _check_destination(target, live, overwrite)
    start = time.monotonic()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    except OSError as exc:
        raise BackupError(
            f"Cannot write in {target.parent}: {exc.strerror or exc}.",
            "Check the folder's permissions and free space.",
        ) from exc
    os.close(fd)
    copy: sqlite3.Connection | None = None
    try:
        copy = sqlite3.connect(tmp, isolation_level=None)
        library.connection().backup(copy)  # pages=-1: every page in one step, one snapshot
        problems = [str(r[0]) for r in copy.execute("PRAGMA quick_check")]
        source_ids = (
            library.query("PRAGMA user_version")[0][0],
            library.query("PRAGMA application_id")[0][0],
        )
        copy_ids = (
            copy.execute("PRAGMA user_version").fetchone()[0],
            copy.execute("PRAGMA application_id").fetchone()[0],
        )
        if problems != ["ok"] or copy_ids != source_ids:
            raise BackupError(
                f"The backup of {live} did not check out: {'; '.join(problems)[:300]}.",
                "The library itself may be damaged: check it before relying on a backup.",
                cli_hint="The library itself may be damaged: run `clipdesk-cli doctor`.",
            )
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        photos = int(copy.execute("SELECT count(*) FROM photos").fetchone()[0])
        copy.close()
        copy = None
        _fsync(tmp)
        os.replace(tmp, target)
    except sqlite3.Error as exc:
        raise (translate(exc, target) or exc) from exc
    except OSError as exc:
        raise BackupError(
            f"Cannot write the backup {target}: {exc.strerror or exc}.",
            "Check the folder's permissions and free space.",
        ) from exc
    finally:
        if copy is not None:
            copy.close()
        for leftover in (tmp, tmp + "-journal", tmp + "-wal", tmp + "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)
    with contextlib.suppress(OSError):
        _fsync(str(target.parent))
    return Backup(target, target.stat().st_size, photos, time.monotonic() - start)
