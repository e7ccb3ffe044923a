"""Uncaught exceptions: logged with their traceback, reported once, never a silent death.

:class:`CrashHandler` takes over ``sys.excepthook`` (the main thread, and exceptions raised in
Qt slots and virtual methods, which PySide routes there) and ``threading.excepthook`` (worker
threads). Each exception is written to the ``clipdesk.common.crash`` log and turned into a
:class:`CrashReport`; the first report of each kind goes to the listeners (the GUI shows a dialog),
repeats of the same failure are only counted, so a bug in a paint event cannot bury the user
under dialogs. ``faulthandler`` is pointed at a file beside the log so that a hard crash in
native code (Qt, torch) still leaves a trace.

Qt-free: the GUI side lives in :mod:`clipdesk.ui.crash_dialog`.
"""

from __future__ import annotations

import faulthandler
import logging
import platform
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

from clipdesk import __version__
from clipdesk.common import logging_setup, paths
from clipdesk.common.errors import ClipDeskError

log = logging.getLogger(__name__)

FAULT_LOG_NAME = "faults.log"
# After this many distinct failures in one session the app is probably in a bad state.
UNSTABLE_AFTER = 5

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


@dataclass(frozen=True)
class CrashReport:
    """One uncaught exception, ready to show and to paste into a bug report."""

    exc_type: str
    message: str
    traceback: str
    thread: str
    when: float
    log_path: Path
    signature: str  # same failure from the same place => same signature
    user_error: bool = False  # a ClipDeskError that escaped: its message is for the user
    hint: str | None = None
    repeats: int = field(default=1, compare=False)

    @property
    def summary(self) -> str:
        return f"{self.exc_type}: {self.message}" if self.message else self.exc_type

    def details(self) -> str:
        """The text behind "Copy details": versions, platform, thread and traceback."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.when))
        lines = [
            f"ClipDesk {__version__} crash report ({stamp})",
            f"Python {platform.python_version()} ({platform.python_implementation()}), "
            f"{platform.platform()}",
            _library_versions(),
            f"Thread: {self.thread}",
            f"Log file: {self.log_path}",
            "",
            self.traceback.rstrip(),
        ]
        recent = logging_setup.recent_lines(20)
        if recent:
            lines += ["", "Last log lines:", *recent]
        return "\n".join(lines) + "\n"


def _library_versions() -> str:
    # Only report what is already imported: details() must not import torch or Qt.
    parts = []
    for name in ("torch", "PySide6", "numpy", "PIL"):
        module = sys.modules.get(name)
        version = getattr(module, "__version__", None) if module else None
        if version:
            parts.append(f"{name} {version}")
    return ", ".join(parts) if parts else "libraries: (none loaded)"


def make_report(exc_info: ExcInfo, thread_name: str | None = None) -> CrashReport:
    exc_type, exc, tb = exc_info
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    frames = traceback.extract_tb(tb) if tb is not None else []
    where = ";".join(f"{Path(f.filename).name}:{f.name}:{f.lineno}" for f in frames[-3:])
    user_error = isinstance(exc, ClipDeskError)
    return CrashReport(
        exc_type=exc_type.__qualname__,
        message=exc.message if isinstance(exc, ClipDeskError) else str(exc),
        traceback=text,
        thread=thread_name or threading.current_thread().name,
        when=time.time(),
        log_path=logging_setup.log_file_path(),
        signature=f"{exc_type.__module__}.{exc_type.__qualname__}@{where}",
        user_error=user_error,
        hint=exc.hint if isinstance(exc, ClipDeskError) else None,
    )


Listener = Callable[[CrashReport], None]


class CrashHandler:
    """Installs the exception hooks and fans reports out to listeners (first of each kind)."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()
        self._previous_excepthook: Callable[..., object] | None = None
        self._previous_threading_hook: Callable[..., object] | None = None
        self._fault_file: IO[str] | None = None
        self._faulthandler_was_enabled = False
        self.installed = False

    # -- set-up ---------------------------------------------------------------------------
    def install(self, *, fault_log: bool = True) -> CrashHandler:
        if self.installed:
            return self
        self._previous_excepthook = sys.excepthook
        self._previous_threading_hook = threading.excepthook
        sys.excepthook = self._sys_hook
        threading.excepthook = self._thread_hook
        if fault_log:
            self._enable_faulthandler()
        self.installed = True
        return self

    def uninstall(self) -> None:
        if not self.installed:
            return
        if sys.excepthook == self._sys_hook:
            sys.excepthook = self._previous_excepthook or sys.__excepthook__
        if threading.excepthook == self._thread_hook:
            threading.excepthook = self._previous_threading_hook or threading.__excepthook__
        if self._fault_file is not None:
            faulthandler.disable()
            self._fault_file.close()
            self._fault_file = None
            if self._faulthandler_was_enabled and sys.__stderr__ is not None:
                faulthandler.enable(sys.__stderr__, all_threads=True)
        self.installed = False

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    @property
    def distinct_failures(self) -> int:
        return len(self._seen)

    @property
    def unstable(self) -> bool:
        """Many different failures: the GUI should suggest restarting rather than continuing."""
        return self.distinct_failures >= UNSTABLE_AFTER

    # -- the hooks ------------------------------------------------------------------------
    def _sys_hook(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            # Ctrl+C in a terminal is a request to stop, not a crash.
            (self._previous_excepthook or sys.__excepthook__)(exc_type, exc, tb)
            return
        self.handle((exc_type, exc, tb))

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or issubclass(args.exc_type, SystemExit):
            return
        name = args.thread.name if args.thread is not None else "unknown thread"
        self.handle((args.exc_type, args.exc_value, args.exc_traceback), thread_name=name)

    def handle(self, exc_info: ExcInfo, thread_name: str | None = None) -> CrashReport | None:
        """Log one uncaught exception; notify listeners if it is the first of its kind.

        Returns the report when listeners were told, ``None`` for a repeat.
        """
        try:
            report = make_report(exc_info, thread_name)
        except Exception:  # noqa: BLE001 - the crash reporter itself must never crash
            log.critical("uncaught exception (report failed)", exc_info=exc_info)
            return None
        with self._lock:
            count = self._seen.get(report.signature, 0) + 1
            self._seen[report.signature] = count
        if count > 1:
            log.error("uncaught %s again (%d times) in %s", report.summary, count, report.thread)
            return None
        log.critical("uncaught exception in %s", report.thread, exc_info=exc_info)
        for listener in list(self._listeners):
            try:
                listener(report)
            except Exception:  # noqa: BLE001
                log.exception("crash listener %r failed", listener)
        return report

    def _enable_faulthandler(self) -> None:
        path = paths.log_dir() / FAULT_LOG_NAME
        self._faulthandler_was_enabled = faulthandler.is_enabled()
        try:
            self._fault_file = path.open("a", encoding="utf-8")
            self._fault_file.write(f"--- ClipDesk {__version__} started {time.ctime()} ---\n")
            self._fault_file.flush()
            faulthandler.enable(self._fault_file, all_threads=True)
        except (OSError, RuntimeError, ValueError) as exc:
            log.warning("cannot enable the native crash log at %s: %s", path, exc)
            self._fault_file = None


_handler: CrashHandler | None = None


def install_crash_handler(*, fault_log: bool = True) -> CrashHandler:
    """The process-wide handler, installed on first call (the CLI and the GUI share it)."""
    global _handler
    if _handler is None:
        _handler = CrashHandler()
    return _handler.install(fault_log=fault_log)


def current_handler() -> CrashHandler | None:
    return _handler


def reset_for_tests() -> None:
    global _handler
    if _handler is not None:
        _handler.uninstall()
    _handler = None
