"""Where the app's file dialogs start: the user's Pictures folder for photos and the files a user
keeps (categories), a library's own folder for library files - never the directory the app
happened to be started from.

The Pictures folder is the desktop's (``QStandardPaths``: XDG's ``XDG_PICTURES_DIR`` on Linux,
the user's Pictures on Windows and macOS) when it exists, else the home folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QDir, QStandardPaths


def pictures_dir() -> str:
    """The user's Pictures folder if there is one, else their home folder."""
    for location in QStandardPaths.standardLocations(
        QStandardPaths.StandardLocation.PicturesLocation
    ):
        if location and os.path.isdir(location):
            return location
    return QDir.homePath()


def in_pictures(name: str) -> str:
    """A file called ``name`` in the Pictures folder: where a save dialog proposes it."""
    return os.path.join(pictures_dir(), name)


def library_dir(library: str | Path) -> str:
    """The folder of a library file, where dialogs for library files start (the Pictures
    folder when it is not there, e.g. on a drive that is gone)."""
    parent = Path(library).expanduser().parent
    return str(parent) if str(library) and parent.is_dir() else pictures_dir()


def library_file(library: str | Path, name: str = "library.sqlite3") -> str:
    """A library file to propose in a save dialog: ``library`` itself where its folder exists,
    else ``name`` in the Pictures folder."""
    given = Path(library).expanduser()
    if str(library) and given.parent.is_dir():
        return str(given)
    return os.path.join(pictures_dir(), given.name if str(library) else name)
