"""Qt's warnings land in the clipdesk.qt logger (and so the log file), not on a lost stderr."""

from __future__ import annotations

import logging

import pytest
from PySide6.QtCore import QtMsgType, qWarning

from clipdesk.ui import qt_logging


@pytest.fixture
def routed():
    qt_logging.install_qt_logging()
    yield
    qt_logging.uninstall_qt_logging()


def test_qt_warning_goes_to_the_qt_logger(routed, caplog):
    with caplog.at_level(logging.DEBUG, logger="clipdesk.qt"):
        qWarning("QPixmap::scaled: Pixmap is a null pixmap")
    records = [r for r in caplog.records if r.name.startswith("clipdesk.qt")]
    assert [(r.levelno, r.getMessage().split(" (")[0]) for r in records] == [
        (logging.WARNING, "QPixmap::scaled: Pixmap is a null pixmap")
    ]


def test_levels_map_and_platform_chatter_is_demoted():
    assert qt_logging.level_for(QtMsgType.QtCriticalMsg, "x") == logging.ERROR
    assert qt_logging.level_for(QtMsgType.QtInfoMsg, "x") == logging.INFO
    noisy = "This plugin does not support propagateSizeHints()"
    assert qt_logging.level_for(QtMsgType.QtWarningMsg, noisy) == logging.DEBUG
    assert qt_logging.level_for(QtMsgType.QtFatalMsg, noisy) == logging.CRITICAL


def test_install_is_idempotent_and_uninstall_restores(routed):
    previous = qt_logging._previous
    qt_logging.install_qt_logging()
    assert qt_logging._previous is previous
    qt_logging.uninstall_qt_logging()
    assert not qt_logging._installed
