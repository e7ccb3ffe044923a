"""The app icon and style sheet, shipped inside the package (``clipdesk/ui/assets``).

``resources/icons/clipdesk.svg`` is the same icon for packaging (desktop entry, .ico/.icns);
a test keeps the two identical.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon

ASSETS = Path(__file__).resolve().parent / "assets"


@cache
def app_icon() -> QIcon:
    return QIcon(str(ASSETS / "clipdesk.svg"))


def style_sheet() -> str:
    try:
        return (ASSETS / "clipdesk.qss").read_text(encoding="utf-8")
    except OSError:
        return ""  # a missing style sheet costs looks, never the start
