"""Hand a photo to the rest of the desktop: default app, file manager, clipboard.

Opening and showing a file can fail where ClipDesk cannot see it coming: the file went away
since the grid was filled, or the desktop has nothing to open it with (no default application
for the type, no ``xdg-open`` on a bare Linux system). Each such failure comes back as a
:class:`HandOnProblem` - what went wrong and what to do - for the window to tell the user;
nothing fails silently.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication

from clipdesk.common.fsnames import file_url, shown

_NO_LAUNCHER_HINT = (
    "Your desktop has no program set up for this. Set a default application for the file type "
    "in the desktop's settings; on Linux, files are opened through xdg-open (package "
    "xdg-utils: sudo apt install xdg-utils, or sudo dnf install xdg-utils). Copy path puts "
    "the file's path on the clipboard meanwhile."
)


@dataclass(frozen=True)
class HandOnProblem:
    """Why a file could not be handed on, and what the user can do about it."""

    message: str
    hint: str


def _url(path: str) -> QUrl:
    # QUrl.fromLocalFile would drop the bytes of a name that is not UTF-8
    return QUrl.fromEncoded(file_url(path).encode("ascii"))


def _gone(path: str) -> HandOnProblem | None:
    if os.path.lexists(path):
        return None
    return HandOnProblem(
        f"{shown(path)} is not there any more.",
        "It was moved, renamed or deleted, or its drive is not connected; the library "
        "notices at its next scan.",
    )


def open_in_default_app(path: str) -> HandOnProblem | None:
    """Open the file in the desktop's default application; None when that started."""
    gone = _gone(path)
    if gone is not None:
        return gone
    if QDesktopServices.openUrl(_url(path)):
        return None
    return HandOnProblem(
        f"No application could be started to open {shown(os.path.basename(path))}.",
        _NO_LAUNCHER_HINT,
    )


def reveal_in_file_manager(path: str) -> HandOnProblem | None:
    """Show the file selected in its folder where the platform can; else open the folder.
    None when the file manager started."""
    gone = _gone(path)
    if gone is not None:
        return gone
    try:
        if sys.platform == "darwin":
            subprocess.Popen(["open", "-R", path])
            return None
        if sys.platform == "win32":
            subprocess.Popen(["explorer", "/select,", os.path.normpath(path)])
            return None
    except OSError:
        pass  # the folder through the desktop's services below
    if QDesktopServices.openUrl(_url(os.path.dirname(path))):
        return None
    return HandOnProblem(
        f"No file manager could be started to show {shown(os.path.basename(path))}.",
        _NO_LAUNCHER_HINT,
    )


def copy_path(path: str) -> None:
    QGuiApplication.clipboard().setText(shown(path))  # text: U+FFFD for bytes not UTF-8
