"""Is this file a ClipDesk library? Decided without writing a byte to it.

Opening a file read-write changes it before any check can run (SQLite switches it to WAL and
rewrites header bytes 18-19), so a file proves it is a ClipDesk library - or new - through a
read-only look first: its 100-byte SQLite header and, when the header cannot tell (a library
whose first pages still sit in its write-ahead log), a read-only connection that creates no
``-wal``/``-shm`` files beside a file that has none.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from clipdesk.common.errors import LibraryError
from clipdesk.library import schema
from clipdesk.library.errors import (
    CHOOSE_LIBRARY_HINT,
    CLI_CHOOSE_LIBRARY_HINT,
    LibraryOpenError,
    LibraryReadOnlyError,
    LibraryTooNewError,
    NotALibraryError,
    translate,
)

MAGIC = b"SQLite format 3\x00"
HEADER_SIZE = 100
_WAL_FORMAT = 2  # header byte 18 (write version): 1 rollback journal, 2 write-ahead log


def not_ours(
    path: Path | str, detail: str = "an SQLite database, but not a ClipDesk library"
) -> NotALibraryError:
    return NotALibraryError(
        f"{path} is {detail}.", CHOOSE_LIBRARY_HINT, cli_hint=CLI_CHOOSE_LIBRARY_HINT
    )


def too_new(path: Path | str, version: int) -> LibraryTooNewError:
    return LibraryTooNewError(
        f"The library {path} was written by a newer ClipDesk (schema version {version}; "
        f"this version reads up to {schema.latest_version()}).",
        "Update ClipDesk, or choose another library file.",
        cli_hint="Update ClipDesk, or open a different library with --library.",
    )


def library_version(path: Path, timeout: float) -> int:
    """The schema version of the library at ``path``: 0 for a file that does not exist yet or
    is empty (a new library). Raises NotALibraryError for any other file, LibraryTooNewError,
    or the LibraryError of what stopped the look (unreadable, locked)."""
    header = _read_header(path)
    if not header:
        return 0
    if len(header) < HEADER_SIZE or not header.startswith(MAGIC):
        raise not_ours(path, "not a ClipDesk library (not an SQLite database)")
    app_id = int.from_bytes(header[68:72], "big")
    version = int.from_bytes(header[60:64], "big", signed=True)
    if app_id == schema.APPLICATION_ID:
        if version > schema.latest_version():
            raise too_new(path, version)
        return version  # the log may hold a later version: migration reads the truth
    version, app_id, tables = _read_schema(path, header, timeout)
    if app_id != schema.APPLICATION_ID and (app_id or version or tables):
        raise not_ours(path)
    if version > schema.latest_version():
        raise too_new(path, version)
    return version


def _read_header(path: Path) -> bytes:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return b""
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    if stat.S_ISDIR(st.st_mode):
        raise LibraryOpenError(
            f"{path} is a folder, not a library file.",
            "Choose a file name, e.g. library.sqlite3 inside that folder.",
        )
    if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
        raise not_ours(path, "not a ClipDesk library (not a regular file)")
    try:
        with open(path, "rb") as fh:
            return fh.read(HEADER_SIZE)
    except OSError as exc:
        raise _unreadable(path, exc) from exc


def _unreadable(path: Path, exc: OSError) -> LibraryOpenError:
    return LibraryOpenError(
        f"Cannot read the library {path}: {exc.strerror or exc}.",
        "Check the file's permissions, or choose another library file.",
    )


def _read_schema(path: Path, header: bytes, timeout: float) -> tuple[int, int, int]:
    """(user_version, application_id, table count) through a read-only connection."""
    uri = Path(os.path.abspath(path)).as_uri() + "?mode=ro"
    wal = Path(f"{path}-wal")
    if header[18] == _WAL_FORMAT and not wal.exists():
        # Everything is in the main file; a plain read-only open would still leave an empty
        # -wal and -shm beside another program's file.
        uri += "&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=timeout)
    except sqlite3.Error as exc:
        raise _translated(exc, path) from exc
    try:
        version, app_id = schema.read_version(conn)
        tables = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchone()[0]
        return version, app_id, int(tables)
    except sqlite3.Error as exc:
        raise _translated(exc, path) from exc
    finally:
        conn.close()


def _translated(exc: sqlite3.Error, path: Path) -> LibraryError | sqlite3.Error:
    return translate(exc, path) or exc


def check_openable(path: Path, timeout: float = 2.0) -> int:
    """Whether ClipDesk can use ``path`` as its library, checked without creating or changing
    it: an existing library that is not locked and can be written (its version is returned),
    or a new file (0) in a folder that exists or can be made, and can be written. Raises the
    LibraryError that says why not."""
    version = library_version(path, timeout)
    if os.path.lexists(path) and os.path.getsize(path) > 0:
        _check_writable_library(path, timeout)
        return version
    folder = path.parent
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent  # the library creates the folders below this one
    if not folder.is_dir():
        raise LibraryOpenError(
            f"Cannot create the library {path}: {folder} is a file, not a folder.",
            "Choose a library file inside a folder.",
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _read_only(path, f"Cannot create the library {path}: {folder} is read-only.")
    return version


def _check_writable_library(path: Path, timeout: float) -> None:
    # WAL needs the -wal and -shm files beside the library: the folder must be writable too
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK | os.X_OK):
        raise _read_only(path, f"The library {path} is read-only.")
    try:
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    except sqlite3.Error as exc:
        raise _translated(exc, path) from exc
    try:  # proved ours above: taking the write lock for a moment changes nothing
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise _translated(exc, path) from exc
    finally:
        conn.close()


def _read_only(path: Path, message: str) -> LibraryReadOnlyError:
    return LibraryReadOnlyError(
        message,
        "Check the file's and its folder's permissions, or choose another library file.",
    )
