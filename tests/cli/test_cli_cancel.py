"""Ctrl+C during a long CLI job: the first one cancels cleanly wherever it lands, a second one
forces the way out."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from clipdesk.cli.index import _run_cancellable


def _interrupt_soon(times: int = 1, delay: float = 0.3) -> threading.Thread:
    def send() -> None:
        for _ in range(times):
            time.sleep(delay)
            os.kill(os.getpid(), signal.SIGINT)

    t = threading.Thread(target=send, daemon=True)
    t.start()
    return t


def test_ctrl_c_cancels_the_job_and_waits_for_it():
    finished = []

    def job(token):
        while not token.cancelled:
            time.sleep(0.01)
        time.sleep(0.3)  # cleaning up after the cancel: the caller must wait for it
        finished.append(True)
        return "stopped"

    before = signal.getsignal(signal.SIGINT)
    _interrupt_soon()
    assert _run_cancellable(job) == ("stopped", True)
    assert finished == [True]
    assert signal.getsignal(signal.SIGINT) is before  # handlers put back


def test_a_second_ctrl_c_gives_up_on_a_job_that_does_not_stop():
    release = threading.Event()

    def stubborn(token):
        release.wait(10)
        return "late"

    _interrupt_soon(times=2)
    try:
        with pytest.raises(KeyboardInterrupt):
            _run_cancellable(stubborn)
    finally:
        release.set()


def test_a_job_error_reaches_the_caller():
    def broken(token):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _run_cancellable(broken)
    assert _run_cancellable(lambda token: 42) == (42, False)
