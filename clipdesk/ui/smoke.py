"""``clipdesk --smoke-test`` and ``--quit-after``: prove a build starts, then leave cleanly.

A packaged app is only known to work once it has started: the smoke test opens the window, waits
until the library is open, the model loaded (torch, the bundled demo model and SQLite all
working inside the bundle) and the window exposed by the platform (on X11: mapped by the X
server, not just flagged visible), prints one line and exits 0. Any error the app reports, an
uncaught exception or the time running out exits non-zero with the reason, so a build script can
gate on it. ``--quit-after SECONDS`` just quits after a while (screenshots, start-up timing).

The smoke test skips the single-instance hand-over: a ClipDesk already running for this user
must not turn a smoke test into a silent success.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QApplication, QWidget

EXIT_PASSED = 0
EXIT_APP_ERROR = 2  # the app reported an error (library or model could not be opened)
EXIT_TIMEOUT = 3
EXIT_CRASHED = 4  # an uncaught exception happened during the run
DEFAULT_TIMEOUT_S = 180.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--smoke-test",
        nargs="?",
        const=DEFAULT_TIMEOUT_S,
        type=float,
        metavar="TIMEOUT_S",
        help="start, open the library and load the model, then exit (0 = all worked)",
    )
    parser.add_argument(
        "--quit-after", type=float, metavar="SECONDS", help="quit after this many seconds"
    )


class SmokeTest(QObject):
    """Watches the controller's signals and ends the event loop with a verdict."""

    def __init__(
        self, controller: Any, window: QWidget, *, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        super().__init__(window)
        self.controller = controller
        self.window = window
        self.started = time.monotonic()
        self.library_ready = False
        self.model_ready = False
        self.verdict: int | None = None
        controller.libraryReady.connect(self._on_library)
        controller.modelReady.connect(self._on_model)
        controller.errorRaised.connect(self._on_error)
        controller.libraryFailed.connect(self._on_error)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_timeout)
        self._timer.start(int(timeout_s * 1000))

    def watch_crashes(self, reporter: Any) -> None:
        """Fail on any uncaught exception (``reporter`` is the QtCrashReporter)."""
        reporter.reported.connect(self._on_crash)

    @Slot()
    def _on_library(self) -> None:
        self.library_ready = True
        self._maybe_pass()

    @Slot(object)
    def _on_model(self, _info: object) -> None:
        self.model_ready = True
        self._maybe_pass()

    @Slot(str, str)
    def _on_error(self, message: str, hint: str) -> None:
        self._finish(EXIT_APP_ERROR, f"error: {message} ({hint})" if hint else f"error: {message}")

    @Slot(object)
    def _on_crash(self, report: Any) -> None:
        self._finish(EXIT_CRASHED, f"crashed: {report.summary}\n{report.traceback}")

    @Slot()
    def _on_timeout(self) -> None:
        waits = (
            ("library", self.library_ready),
            ("model", self.model_ready),
            ("the window on screen", self._exposed()),
        )
        missing = [name for name, ok in waits if not ok]
        self._finish(EXIT_TIMEOUT, f"timed out waiting for: {', '.join(missing)}")

    def _exposed(self) -> bool:
        handle = self.window.windowHandle()
        return handle is not None and handle.isExposed()

    @Slot()
    def _maybe_pass(self) -> None:
        if not (self.library_ready and self.model_ready) or self.verdict is not None:
            return
        if not self.window.isVisible():
            self._finish(EXIT_APP_ERROR, "the main window is not visible")
            return
        if not self._exposed():
            # A real display server maps and exposes the window after show(), asynchronously.
            QTimer.singleShot(50, self, self._maybe_pass)
            return
        states = [getattr(self.controller, a, "") for a in ("library_state", "model_state")]
        self._finish(EXIT_PASSED, "passed: " + "; ".join(s for s in states if s))

    def _finish(self, code: int, message: str) -> None:
        if self.verdict is not None:
            return
        self.verdict = code
        self._timer.stop()
        elapsed = time.monotonic() - self.started
        print(
            f"smoke test {message} [{elapsed:.1f}s]",
            file=sys.stdout if code == 0 else sys.stderr,
            flush=True,
        )
        # Closing the window runs the app's normal shutdown path, which is part of the test.
        self.window.close()
        QApplication.exit(code)


def arm_quit_after(seconds: float) -> None:
    QTimer.singleShot(int(seconds * 1000), QApplication.quit)
