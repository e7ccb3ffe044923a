"""The library's known failures, each with a message and a hint, and the SQLite-to-ClipDesk mapping.

Anything SQLite reports that is not listed here (a constraint violation, a syntax error) is a
bug and propagates as the original ``sqlite3`` exception.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from clipdesk.common.errors import ClipDeskError, LibraryError


class LibraryLockedError(LibraryError):
    """Another program (or another ClipDesk) holds the write lock longer than the busy timeout."""


class LibraryReadOnlyError(LibraryError):
    """The file, its folder or the medium is read-only."""


class LibraryDiskFullError(LibraryError):
    """No space left to write; the change was rolled back."""


class LibraryCorruptError(LibraryError):
    """SQLite found damage in the file."""


class NotALibraryError(LibraryError):
    """The file is not a SQLite database, or is one that belongs to another program."""


class LibraryTooNewError(LibraryError):
    """The file was written by a newer ClipDesk whose schema this version does not know."""


class LibraryOpenError(LibraryError):
    """The file cannot be opened or created at all (missing folder, no permission, I/O error)."""


class LibraryClosedError(LibraryError):
    """The library was closed and cannot be used any more."""


class FolderError(ClipDeskError):
    """A folder cannot be added or removed (not a directory, already watched, unknown)."""


# Hints for a file that cannot be this library: the app's and the CLI's ways of choosing another.
CHOOSE_LIBRARY_HINT = "Choose a ClipDesk library file, or a new file name to start a new library."
CLI_CHOOSE_LIBRARY_HINT = "Point --library at a ClipDesk library file or a new file name."

# Primary SQLite result codes (extended codes carry them in the low byte).
_BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 5, 6, 8, 10, 11, 13, 14, 26


# What to do about a damaged library, in the app's words and in the CLI's.
DAMAGED_HINT = (
    "Restore the library from a backup, or move the file aside and start a new library "
    "(your photos are not touched; indexing them again rebuilds it)."
)
CLI_DAMAGED_HINT = (
    "Run `clipdesk-cli doctor` to see what is damaged. Restore the library from a backup "
    "(`clipdesk-cli library backup` makes one), or move the file aside and run `clipdesk-cli "
    "index` into a new library (your photos are not touched)."
)


def damaged(path: Path | str, detail: str) -> LibraryCorruptError:
    """The error for a library file whose content SQLite or ClipDesk found damaged."""
    detail = detail if len(detail) <= 160 else detail[:157] + "..."
    return LibraryCorruptError(
        f"The library {path} is damaged: {detail}.", DAMAGED_HINT, cli_hint=CLI_DAMAGED_HINT
    )


def translate(exc: sqlite3.Error | UnicodeDecodeError, path: Path | str) -> LibraryError | None:
    """The LibraryError for a known SQLite failure, or None when ``exc`` is a bug.

    A UnicodeDecodeError counts when it comes from SQLite: a damaged schema's text in an error
    message, or a damaged value, is not valid UTF-8.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc).lower()
    where = str(path)
    # First: this message quotes the damaged value, which may contain any of the words below.
    if isinstance(exc, UnicodeDecodeError) or text.startswith("could not decode to utf-8"):
        return damaged(where, "some of its text is not valid UTF-8")
    if primary in (_BUSY, _LOCKED) or "locked" in text:
        return LibraryLockedError(
            f"The library {where} is locked by another program.",
            "Close other ClipDesk windows or programs using the file, then try again.",
        )
    if primary == _READONLY or "readonly" in text:
        return LibraryReadOnlyError(
            f"The library {where} is read-only.",
            "Check the file's and its folder's permissions, or choose another library file.",
            cli_hint="Check the file's and its folder's permissions, or choose another library "
            "with --library.",
        )
    if primary == _FULL or "disk is full" in text:
        return LibraryDiskFullError(
            f"The disk holding {where} is full; the last change was not saved.",
            "Free some space and try again. The library itself is intact.",
        )
    if primary == _NOTADB or "not a database" in text:
        return NotALibraryError(
            f"{where} is not a ClipDesk library (not an SQLite database).",
            CHOOSE_LIBRARY_HINT,
            cli_hint=CLI_CHOOSE_LIBRARY_HINT,
        )
    if primary == _CORRUPT or "malformed" in text:
        return damaged(where, str(exc) or "SQLite found damage in the file")
    if primary == _CANTOPEN or "unable to open" in text:
        return LibraryOpenError(
            f"Cannot open the library {where}.",
            "Check that its folder exists and is writable.",
        )
    if primary == _IOERR or "disk i/o error" in text:
        return LibraryOpenError(
            f"Reading or writing {where} failed (disk I/O error).",
            "Check the disk; if it is removable, make sure it is still connected.",
        )
    return None
