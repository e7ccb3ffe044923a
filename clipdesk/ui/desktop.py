"""Hand a photo to the rest of the desktop: default app, file manager, clipboard."""

from __future__ import annotations

import os
import subprocess
import sys

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication

from clipdesk.common.fsnames import file_url, shown


def _url(path: str) -> QUrl:
    # QUrl.fromLocalFile would drop the bytes of a name that is not UTF-8
    return QUrl.fromEncoded(file_url(path).encode("ascii"))


def open_in_default_app(path: str) -> bool:
    return QDesktopServices.openUrl(_url(path))


def reveal_in_file_manager(path: str) -> bool:
    """Show the file selected in its folder where the platform can; else open the folder."""
    try:
        if sys.platform == "darwin":
            subprocess.Popen(["open", "-R", path])
            return True
        if sys.platform == "win32":
            subprocess.Popen(["explorer", "/select,", os.path.normpath(path)])
            return True
    except OSError:
        pass
    return QDesktopServices.openUrl(_url(os.path.dirname(path)))


def copy_path(path: str) -> None:
    QGuiApplication.clipboard().setText(shown(path))  # text: U+FFFD for bytes not UTF-8
