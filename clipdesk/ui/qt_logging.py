"""Qt's own messages (qDebug/qWarning from Qt and its plugins) go into our log, not stderr.

A double-clicked app has no terminal, so a Qt warning printed to stderr is lost; routed into the
``clipdesk.qt`` logger (``clipdesk.qt.<category>`` when Qt names one) it lands in the log file
next to our own records. Known chatter that says nothing to a user is demoted to DEBUG.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QMessageLogContext, QtMsgType, qInstallMessageHandler

QT_LOGGER = "clipdesk.qt"

_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}

# Harmless messages from platform plugins (offscreen, xcb, wayland) that would fill the log.
_NOISE = (
    "This plugin does not support propagateSizeHints()",
    "This plugin does not support raise()",
    "This plugin does not support grabbing the keyboard",
    "QFont::fromString",
    "Wayland does not support QWindow::requestActivate()",
    "Qt Wayland: Could not find",
    "QXcbConnection: XCB error",
    "qt.qpa.xcb: QXcbConnection",
)

MessageHandler = Callable[[QtMsgType, QMessageLogContext, str], None]
_previous: MessageHandler | None = None
_installed = False


def level_for(msg_type: QtMsgType, message: str) -> int:
    level = _LEVELS.get(msg_type, logging.WARNING)
    if level <= logging.WARNING and any(marker in message for marker in _NOISE):
        return logging.DEBUG
    return level


def qt_message_handler(msg_type: QtMsgType, context: QMessageLogContext, message: str) -> None:
    category = context.category if context is not None else None
    name = QT_LOGGER
    if category and category != "default":
        name = f"{QT_LOGGER}.{category}"
    logger = logging.getLogger(name)
    level = level_for(msg_type, message)
    if not logger.isEnabledFor(level):
        return
    where = ""
    if context is not None and context.file:
        where = f" ({context.file}:{context.line}, {context.function})"
    logger.log(level, "%s%s", message, where)


def install_qt_logging() -> None:
    """Route Qt messages into logging; idempotent. Keeps the previous handler for uninstall."""
    global _previous, _installed
    if _installed:
        return
    _previous = qInstallMessageHandler(qt_message_handler)
    _installed = True


def uninstall_qt_logging() -> None:
    """Give Qt back the handler it had before (tests; pytest-qt installs its own)."""
    global _previous, _installed
    if not _installed:
        return
    qInstallMessageHandler(_previous)
    _previous = None
    _installed = False
