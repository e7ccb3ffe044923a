"""Logging for the app and the CLI: one rotating file in the log dir, one named logger per area.

Modules log through ``logging.getLogger(__name__)``, so every record carries its area
(``clipdesk.library.store``, ``clipdesk.model.manager``, ``clipdesk.ui.main_window``) and an area's
verbosity can be tuned alone (``CLIPDESK_LOG=clipdesk.library.store=DEBUG``). Everything goes to
``log_dir()/clipdesk.log``, rotated so a long-running app never fills the disk; that file is what
a user attaches to a bug report, and the crash dialog points at it.

Logging must never be the reason the app fails to start: when the log directory cannot be written
(read-only home, full disk) the records go to stderr instead and a warning says why.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import TextIO

from clipdesk.common import paths

ROOT_LOGGER = "clipdesk"
LOG_FILE_NAME = "clipdesk.log"
MAX_BYTES = 2 * 1024 * 1024  # per file; with BACKUP_COUNT the logs stay under ~12 MB
BACKUP_COUNT = 5
FILE_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-8s %(threadName)s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
CONSOLE_FORMAT = "%(levelname)s %(name)s: %(message)s"
# Per-area levels from the environment: "clipdesk.library.store=DEBUG,clipdesk.ui=WARNING".
LEVELS_ENV = "CLIPDESK_LOG"

# Areas a user or a bug report refers to: the packages, whose modules log under their own
# ``__name__`` (so ``clipdesk.library`` tunes the whole store, ``clipdesk.library.store`` one
# module). Documentation for --help and doctor, not a whitelist.
AREAS = (
    "clipdesk.common",  # settings file, crashes (clipdesk.common.crash: uncaught exceptions)
    "clipdesk.imaging",  # decoding photos
    "clipdesk.library",  # the library file: photos, folders, vectors
    "clipdesk.scanning",  # walking folders, watching them, reading metadata
    "clipdesk.indexing",  # the encode-and-store pipeline
    "clipdesk.search",  # queries and the vector index
    "clipdesk.tags",  # categories, zero-shot tagging, heads, XMP sidecars
    "clipdesk.training",  # fine-tuning data
    "clipdesk.model",  # checkpoints, devices, encoding, training loop
    "clipdesk.services",  # the workflows both faces call
    "clipdesk.ui",  # windows, workers, dialogs
    "clipdesk.cli",
    "clipdesk.qt",  # Qt's own messages by category, routed by clipdesk.ui.qt_logging
)

# Handlers this module installed, so a second call replaces rather than duplicates them.
_installed: list[logging.Handler] = []
_tuned_areas: set[str] = set()
_log_file: Path | None = None


class _ClipDeskHandlerMixin:
    """Marks the handlers installed here."""

    clipdesk_owned = True


class _RotatingFileHandler(_ClipDeskHandlerMixin, logging.handlers.RotatingFileHandler):
    def handleError(self, record: logging.LogRecord) -> None:
        # A full disk must not spam stderr with a traceback per record: report once, then drop.
        if not getattr(self, "_reported", False):
            self._reported = True
            super().handleError(record)


class _StreamHandler(_ClipDeskHandlerMixin, logging.StreamHandler[TextIO]):
    pass


def log_file_path() -> Path:
    """Where the current log file is (or would be)."""
    return _log_file if _log_file is not None else paths.log_dir() / LOG_FILE_NAME


def parse_levels(spec: str) -> dict[str, int]:
    """Parse ``"area=LEVEL,area=LEVEL"``; a bare ``LEVEL`` applies to all of ClipDesk."""
    levels: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, level_name = item.rpartition("=")
        level = logging.getLevelName(level_name.strip().upper())
        if not isinstance(level, int):
            raise ValueError(f"unknown log level {level_name!r} in {LEVELS_ENV}={spec!r}")
        levels[name.strip() or ROOT_LOGGER] = level
    return levels


def install_logging(
    level: int = logging.INFO,
    *,
    console: bool = False,
    console_level: int = logging.WARNING,
    log_file: Path | None = None,
) -> Path | None:
    """Send ClipDesk's records to the rotating log file (and optionally to stderr).

    Safe to call more than once: earlier handlers installed here are replaced. Returns the log
    file in use, or ``None`` when it could not be opened and records go to stderr instead.
    """
    global _log_file
    uninstall_logging()
    env_levels, env_problem = _env_levels()
    level = env_levels.pop(ROOT_LOGGER, level)
    root = logging.getLogger(ROOT_LOGGER)
    root.setLevel(min(level, console_level) if console else level)
    for name, area_level in env_levels.items():
        logging.getLogger(name).setLevel(area_level)
        _tuned_areas.add(name)
    # Handlers pass whatever an area's own level lets through; loggers do the filtering.
    file_level = min([level, *env_levels.values()])
    # Records stop at our logger: a host's basicConfig (pytest, the CLI) keeps its own output.
    root.propagate = False

    target = log_file or paths.log_dir() / LOG_FILE_NAME
    file_handler: logging.Handler | None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        file_handler = _RotatingFileHandler(
            target,
            maxBytes=MAX_BYTES,
            backupCount=BACKUP_COUNT,
            encoding="utf-8",
            errors="backslashreplace",  # a file name that is not UTF-8 is logged, not dropped
            delay=False,
        )
    except OSError as exc:
        file_handler = None
        fallback_reason = f"cannot write the log file {target}: {exc.strerror or exc}"
    if file_handler is not None:
        file_handler.setFormatter(logging.Formatter(FILE_FORMAT, DATE_FORMAT))
        file_handler.setLevel(file_level)
        _add(root, file_handler)
        _log_file = target
        # Before the console handler: the file marks each run, stderr (the CLI's -v) stays terse.
        root.info("log started (pid %d, %s)", os.getpid(), _describe_runtime())

    if console or file_handler is None:
        stream = _StreamHandler(sys.stderr)
        stream.setFormatter(logging.Formatter(CONSOLE_FORMAT))
        stream.setLevel(console_level if console else logging.WARNING)
        _add(root, stream)

    logging.captureWarnings(True)
    _add(logging.getLogger("py.warnings"), *list(_installed))
    if env_problem:
        root.warning("%s", env_problem)
    if file_handler is None:
        root.warning("%s; logging to stderr instead", fallback_reason)
        return None
    return target


def uninstall_logging() -> None:
    """Remove and close the handlers :func:`install_logging` added (tests, re-configuration)."""
    global _log_file
    for logger in (logging.getLogger(ROOT_LOGGER), logging.getLogger("py.warnings")):
        for handler in list(logger.handlers):
            if getattr(handler, "clipdesk_owned", False):
                logger.removeHandler(handler)
    for handler in _installed:
        handler.close()
    _installed.clear()
    for name in _tuned_areas:
        logging.getLogger(name).setLevel(logging.NOTSET)
    _tuned_areas.clear()
    if _log_file is not None or logging.getLogger(ROOT_LOGGER).propagate is False:
        logging.getLogger(ROOT_LOGGER).propagate = True
        logging.captureWarnings(False)
    _log_file = None


def _add(logger: logging.Logger, *handlers: logging.Handler) -> None:
    for handler in handlers:
        logger.addHandler(handler)
        if handler not in _installed:
            _installed.append(handler)


def _env_levels() -> tuple[dict[str, int], str | None]:
    spec = os.environ.get(LEVELS_ENV, "")
    try:
        return parse_levels(spec), None
    except ValueError as exc:
        return {}, f"ignoring {LEVELS_ENV}: {exc}"


def _describe_runtime() -> str:
    from clipdesk import __version__

    return f"ClipDesk {__version__}, Python {sys.version.split()[0]}, {sys.platform}"


def recent_lines(count: int = 50) -> list[str]:
    """The last ``count`` lines of the current log file (for crash details); empty if none."""
    path = log_file_path()
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            tail = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return tail.splitlines()[-count:]
