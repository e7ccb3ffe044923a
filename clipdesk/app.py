"""Entry point of the desktop app (``clipdesk``, ``python -m clipdesk``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication, QMainWindow

    app = QApplication.instance() or QApplication(list(argv) if argv is not None else sys.argv)
    app.setApplicationName("ClipDesk")
    window = QMainWindow()
    window.setWindowTitle("ClipDesk")
    window.resize(1200, 800)
    window.show()
    return app.exec()
