"""Uncaught exceptions reach the user once, in a friendly dialog, from any thread."""

from __future__ import annotations

import logging
import sys
import threading

import pytest
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from clipdesk.common import crash, logging_setup
from clipdesk.common.errors import ModelError
from clipdesk.ui.crash_dialog import CrashDialog, install_crash_handler


@pytest.fixture
def reporter(qapp):
    logging_setup.install_logging()
    crash.reset_for_tests()
    rep = install_crash_handler(qapp, fault_log=False)
    yield rep
    if rep.dialog is not None:
        rep.dialog.done(0)
    rep.detach()
    rep.deleteLater()
    crash.reset_for_tests()
    logging_setup.uninstall_logging()


class _Emitter(QObject):
    fire = Signal()


@pytest.mark.qt_no_exception_capture
def test_exception_in_a_slot_shows_one_dialog_and_the_app_keeps_running(qtbot, reporter):
    emitter = _Emitter()

    def broken_slot():
        raise ValueError("thumbnail size is negative")

    emitter.fire.connect(broken_slot)
    with qtbot.waitSignal(reporter.reported, timeout=2000):
        emitter.fire.emit()
    dialog = reporter.dialog
    assert isinstance(dialog, CrashDialog)
    assert dialog.isVisible()
    assert "Something went wrong" in dialog.headline.text()
    assert "thumbnail size is negative" in dialog.headline.text()
    assert str(logging_setup.log_file_path()) in dialog.log_label.text()

    # The same bug again: counted in the log, no second dialog. The repeat is only counted, so
    # `reported` must stay silent however long we give it (a sleep would prove nothing).
    with qtbot.assertNotEmitted(reporter.reported, wait=500):
        emitter.fire.emit()
    assert reporter.dialog is dialog
    assert dialog.extra_reports == []
    shown = [w for w in QApplication.topLevelWidgets() if isinstance(w, CrashDialog)]
    assert [w for w in shown if w.isVisible()] == [dialog]
    # ... and the repeat did happen: the handler counted it in the log.
    for handler in logging.getLogger("clipdesk").handlers:
        handler.flush()
    log_text = logging_setup.log_file_path().read_text(encoding="utf-8")
    assert "thumbnail size is negative" in log_text and "again (2 times)" in log_text

    # The event loop still runs other work after the failure.
    ticks = []
    QTimer.singleShot(0, lambda: ticks.append(1))
    qtbot.waitUntil(lambda: ticks == [1], timeout=1000)


@pytest.mark.qt_no_exception_capture
def test_worker_thread_exception_opens_the_dialog_on_the_gui_thread(qtbot, reporter):
    def work():
        raise RuntimeError("indexer died")

    with qtbot.waitSignal(reporter.reported, timeout=2000) as blocker:
        thread = threading.Thread(target=work, name="indexer")
        thread.start()
        thread.join()
    assert blocker.args[0].thread == "indexer"
    assert reporter.dialog is not None
    assert reporter.dialog.thread() is QApplication.instance().thread()


def test_copy_details_puts_the_report_on_the_clipboard(qtbot, reporter):
    try:
        raise KeyError("missing vector")
    except KeyError:
        report = crash.make_report(sys.exc_info())
    dialog = CrashDialog(report)
    qtbot.addWidget(dialog)
    dialog.copy_button.click()
    copied = QGuiApplication.clipboard().text()
    assert "KeyError: 'missing vector'" in copied
    assert f"Log file: {report.log_path}" in copied
    assert dialog.copy_button.text() == "Copied"


def test_details_are_hidden_until_asked(qtbot):
    report = crash.make_report(_exc_info(ValueError("x")))
    dialog = CrashDialog(report)
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.details_view.isVisible()
    dialog.toggle_button.click()
    assert dialog.details_view.isVisible()
    assert dialog.toggle_button.text() == "Hide details"


def test_further_failures_are_added_to_the_open_dialog(qtbot, reporter):
    with qtbot.waitSignal(reporter.reported):
        reporter.handler.handle(_exc_info(ValueError("first")))
    dialog = reporter.dialog
    with qtbot.waitSignal(reporter.reported):
        reporter.handler.handle(_exc_info(TypeError("second")))
    assert reporter.dialog is dialog
    assert "1 more problem happened" in dialog.more_label.text()
    assert "TypeError: second" in dialog.details_text()


def test_user_error_shows_its_message_and_hint(qtbot):
    report = crash.make_report(_exc_info(ModelError("No model installed", "Pick one in Settings")))
    dialog = CrashDialog(report)
    qtbot.addWidget(dialog)
    assert "No model installed" in dialog.headline.text()
    assert "Pick one in Settings" in dialog.headline.text()
    assert "Traceback" not in dialog.headline.text()


def test_continue_closes_and_allows_a_new_dialog_later(qtbot, reporter):
    with qtbot.waitSignal(reporter.reported):
        reporter.handler.handle(_exc_info(ValueError("a")))
    reporter.dialog.continue_button.click()
    assert reporter.dialog is None
    with qtbot.waitSignal(reporter.reported):
        reporter.handler.handle(_exc_info(OSError("b")))
    assert reporter.dialog is not None


def test_quit_exits_the_event_loop_with_an_error_code(qtbot, reporter, monkeypatch):
    codes = []
    monkeypatch.setattr(QApplication, "exit", staticmethod(codes.append))
    with qtbot.waitSignal(reporter.reported):
        reporter.handler.handle(_exc_info(ValueError("fatal-ish")))
    dialog = reporter.dialog
    dialog.quit_button.click()
    assert codes == [1]
    assert reporter.dialog is None


def test_unstable_app_suggests_quitting(qtbot):
    report = crash.make_report(_exc_info(ValueError("x")))
    dialog = CrashDialog(report, unstable=True)
    qtbot.addWidget(dialog)
    assert dialog.quit_button.isDefault()
    assert "restarting ClipDesk is recommended" in dialog.headline.text()


def test_no_dialog_in_headless_mode(qtbot, qapp):
    crash.reset_for_tests()
    rep = install_crash_handler(qapp, show_dialogs=False, fault_log=False)
    try:
        with qtbot.waitSignal(rep.reported):
            rep.handler.handle(_exc_info(ValueError("quiet")))
        assert rep.dialog is None
    finally:
        rep.detach()
        crash.reset_for_tests()


def _exc_info(exc: BaseException):
    try:
        raise exc
    except BaseException:
        return sys.exc_info()
