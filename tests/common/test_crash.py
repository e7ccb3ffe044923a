"""Uncaught exceptions in any thread are logged, reported once per kind, never lost."""

from __future__ import annotations

import logging
import sys
import threading

import pytest

from clipdesk.common import crash, logging_setup
from clipdesk.common.errors import LibraryError


@pytest.fixture
def handler():
    logging_setup.install_logging()
    crash.reset_for_tests()
    h = crash.install_crash_handler(fault_log=False)
    reports: list[crash.CrashReport] = []
    h.add_listener(reports.append)
    h.reports = reports  # type: ignore[attr-defined]
    yield h
    crash.reset_for_tests()
    logging_setup.uninstall_logging()


def _log_text() -> str:
    for h in logging.getLogger("clipdesk").handlers:
        h.flush()
    return logging_setup.log_file_path().read_text(encoding="utf-8")


def _raise(exc: BaseException):
    try:
        raise exc
    except BaseException:
        return sys.exc_info()


def _fail_here(message: str):
    return _raise(ValueError(message))


def test_main_thread_exception_is_logged_and_reported(handler):
    assert sys.excepthook == handler._sys_hook
    sys.excepthook(*_fail_here("bad pixel"))
    assert len(handler.reports) == 1
    report = handler.reports[0]
    assert report.summary == "ValueError: bad pixel"
    assert report.thread == "MainThread"
    assert report.log_path == logging_setup.log_file_path()
    text = _log_text()
    assert "CRITICAL" in text and "uncaught exception in MainThread" in text
    assert "raise exc" in text and "ValueError: bad pixel" in text


def test_worker_thread_exception_is_logged_and_reported(handler):
    def work():
        raise RuntimeError("decoder exploded")

    thread = threading.Thread(target=work, name="thumbnailer-1")
    thread.start()
    thread.join()
    assert [r.summary for r in handler.reports] == ["RuntimeError: decoder exploded"]
    assert handler.reports[0].thread == "thumbnailer-1"
    assert "uncaught exception in thumbnailer-1" in _log_text()


def test_same_failure_is_reported_once_and_counted(handler):
    for _ in range(3):
        sys.excepthook(*_fail_here("same"))
    sys.excepthook(*_raise(KeyError("other")))
    assert [r.exc_type for r in handler.reports] == ["ValueError", "KeyError"]
    assert handler.distinct_failures == 2
    assert "again (3 times)" in _log_text()


def test_many_distinct_failures_mark_the_app_unstable(handler):
    kinds = [ValueError, KeyError, TypeError, OSError, ZeroDivisionError]
    for kind in kinds[:-1]:
        sys.excepthook(*_raise(kind("x")))
    assert not handler.unstable
    sys.excepthook(*_raise(kinds[-1]("x")))
    assert handler.unstable


def test_escaped_user_error_keeps_its_message_and_hint(handler):
    sys.excepthook(*_raise(LibraryError("The library is locked", "Close the other ClipDesk")))
    report = handler.reports[0]
    assert report.user_error
    assert report.message == "The library is locked"
    assert report.hint == "Close the other ClipDesk"


def test_details_carry_versions_thread_traceback_and_log_tail(handler):
    logging.getLogger("clipdesk.search.vector_index").info("indexing /photos/a.jpg")
    sys.excepthook(*_fail_here("broken"))
    details = handler.reports[0].details()
    assert details.startswith("ClipDesk ")
    assert "Python " in details and "Thread: MainThread" in details
    assert "ValueError: broken" in details
    assert "indexing /photos/a.jpg" in details


def test_a_failing_listener_does_not_break_reporting(handler):
    def bad_listener(report):
        raise RuntimeError("listener bug")

    handler._listeners.insert(0, bad_listener)
    sys.excepthook(*_fail_here("still reported"))
    assert len(handler.reports) == 1
    assert "crash listener" in _log_text()


def test_keyboard_interrupt_is_not_a_crash(handler, monkeypatch):
    passed = []
    monkeypatch.setattr(handler, "_previous_excepthook", lambda *a: passed.append(a[0]))
    sys.excepthook(*_raise(KeyboardInterrupt()))
    assert passed == [KeyboardInterrupt]
    assert handler.reports == []


def test_uninstall_restores_previous_hooks():
    crash.reset_for_tests()
    before_sys, before_thread = sys.excepthook, threading.excepthook
    h = crash.install_crash_handler(fault_log=False)
    assert crash.install_crash_handler() is h
    crash.reset_for_tests()
    assert sys.excepthook is before_sys
    assert threading.excepthook is before_thread


def test_fault_log_is_opened_in_the_log_dir():
    crash.reset_for_tests()
    crash.install_crash_handler(fault_log=True)
    try:
        import faulthandler

        assert faulthandler.is_enabled()
        fault_log = logging_setup.log_file_path().parent / crash.FAULT_LOG_NAME
        assert "started" in fault_log.read_text(encoding="utf-8")
    finally:
        crash.reset_for_tests()
