"""The worker bridge: results and errors reach the GUI thread; cancelled and stale work never does."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QThread

from clipdesk.common.progress import CancelToken
from clipdesk.ui.workers import LatestOnly

pytestmark = pytest.mark.usefixtures("no_leaks")


def test_result_arrives_on_gui_thread(qtbot, workers):
    gui = QThread.currentThread()
    seen = {}

    def work(_token):
        seen["worker"] = threading.current_thread().name
        return 41 + 1

    def done(value):
        seen["value"] = value
        seen["on_gui"] = QThread.currentThread() is gui

    workers.run(workers.model, work, done)
    qtbot.waitUntil(lambda: "value" in seen)
    assert seen["value"] == 42 and seen["on_gui"]
    assert seen["worker"] != threading.current_thread().name


def test_error_is_delivered_not_lost(qtbot, workers):
    errors = []
    workers.run(workers.db, lambda _t: 1 / 0, lambda _v: None, errors.append)
    qtbot.waitUntil(lambda: bool(errors))
    assert isinstance(errors[0], ZeroDivisionError)


def test_latest_only_delivers_only_the_newest_query(qtbot, workers):
    gate = threading.Event()
    results = []
    latest = LatestOnly(workers, workers.model)

    def slow(token: CancelToken, value: str) -> str:
        gate.wait(5)
        token.raise_if_cancelled()  # a superseded query stops at its next check
        return value

    first = latest.submit(lambda t: slow(t, "bea"), results.append)
    latest.submit(lambda t: slow(t, "beach"), results.append)
    assert first.cancelled
    gate.set()
    qtbot.waitUntil(lambda: workers.pending == 0)
    assert results == ["beach"]


def test_shutdown_cancels_queued_work(qtbot, workers):
    gate = threading.Event()
    started = []

    def blocker(token):
        started.append(1)
        gate.wait(5)

    running = workers.run(workers.jobs, blocker)
    queued = workers.run(workers.jobs, lambda _t: started.append(2))
    qtbot.waitUntil(lambda: started == [1])
    # shutdown waits for the running task: let it finish a moment after shutdown has begun.
    release = threading.Timer(0.2, gate.set)
    release.start()
    try:
        assert workers.shutdown(timeout_ms=5000)
    finally:
        release.join()
    assert started == [1]  # the queued task was dropped, never run
    assert queued.cancelled and running.cancelled
    assert workers.pending == 0
    late = workers.run(workers.jobs, lambda _t: started.append(3))
    assert late.cancelled  # after shutdown nothing new starts
    for pool in workers.pools():
        assert pool.waitForDone(1000)
    assert started == [1]
