"""--smoke-test turns the app's start-up signals into an exit code a build script can trust."""

from __future__ import annotations

import argparse

import pytest
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QWidget

from clipdesk.common import crash
from clipdesk.ui import smoke


class FakeController(QObject):
    libraryReady = Signal()
    modelReady = Signal(object)
    errorRaised = Signal(str, str)
    libraryFailed = Signal(str, str)
    library_state = "Library: 3 photos"
    model_state = "Model: tiny on cpu"


@pytest.fixture
def exits(monkeypatch):
    codes: list[int] = []
    monkeypatch.setattr(QApplication, "exit", staticmethod(codes.append))
    return codes


@pytest.fixture
def window(qtbot):
    widget = QWidget()
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_passes_once_library_and_model_are_ready(exits, window, capsys):
    controller = FakeController()
    test = smoke.SmokeTest(controller, window, timeout_s=30)
    controller.libraryReady.emit()
    assert exits == []
    controller.modelReady.emit(object())
    assert exits == [smoke.EXIT_PASSED]
    out = capsys.readouterr().out
    assert "smoke test passed: Library: 3 photos; Model: tiny on cpu" in out
    assert not window.isVisible()  # closed through the normal path
    controller.errorRaised.emit("late", "")
    assert exits == [0] and test.verdict == 0


def test_passes_only_once_the_platform_has_exposed_the_window(exits, qtbot):
    shown = QWidget()
    qtbot.addWidget(shown)
    shown.show()  # the platform exposes it later, from the event loop, as an X server does
    assert shown.isVisible() and not shown.windowHandle().isExposed()
    controller = FakeController()
    smoke.SmokeTest(controller, shown, timeout_s=30)
    controller.libraryReady.emit()
    controller.modelReady.emit(object())
    assert exits == []  # visible is not yet on screen
    qtbot.waitUntil(lambda: exits == [smoke.EXIT_PASSED], timeout=3000)


def test_a_window_never_exposed_times_out_naming_it(exits, qtbot, capsys):
    controller = FakeController()
    never_shown = QWidget()
    qtbot.addWidget(never_shown)
    test = smoke.SmokeTest(controller, never_shown, timeout_s=0.05)
    qtbot.waitUntil(lambda: exits == [smoke.EXIT_TIMEOUT], timeout=3000)
    assert "the window on screen" in capsys.readouterr().err and test.verdict == smoke.EXIT_TIMEOUT


def test_an_app_error_fails_with_its_message(exits, window, capsys):
    controller = FakeController()
    smoke.SmokeTest(controller, window, timeout_s=30)
    controller.errorRaised.emit("The library could not be opened: locked", "Close it")
    assert exits == [smoke.EXIT_APP_ERROR]
    assert "locked (Close it)" in capsys.readouterr().err


def test_timeout_names_what_never_arrived(exits, window, qtbot, capsys):
    controller = FakeController()
    smoke.SmokeTest(controller, window, timeout_s=0.05)
    controller.libraryReady.emit()
    qtbot.waitUntil(lambda: exits == [smoke.EXIT_TIMEOUT], timeout=3000)
    assert "timed out waiting for: model" in capsys.readouterr().err


def test_an_uncaught_exception_fails_the_smoke_test(exits, window):
    controller = FakeController()
    test = smoke.SmokeTest(controller, window, timeout_s=30)

    class Reporter(QObject):
        reported = Signal(object)

    reporter = Reporter()
    test.watch_crashes(reporter)
    try:
        raise ValueError("bad")
    except ValueError:
        import sys

        reporter.reported.emit(crash.make_report(sys.exc_info()))
    assert exits == [smoke.EXIT_CRASHED]


def test_arguments():
    parser = argparse.ArgumentParser()
    smoke.add_arguments(parser)
    assert parser.parse_args(["--smoke-test"]).smoke_test == smoke.DEFAULT_TIMEOUT_S
    assert parser.parse_args(["--smoke-test", "30"]).smoke_test == 30.0
    assert parser.parse_args(["--quit-after", "2.5"]).quit_after == 2.5
    assert parser.parse_args([]).smoke_test is None


def test_the_real_app_starts_opens_a_library_and_exits_cleanly(tmp_path):
    """End to end through ``clipdesk.app.main``: what packaging/build.py runs on the frozen app."""
    import os
    import subprocess
    import sys

    from clipdesk.model.testing import tiny_random_model

    model = tiny_random_model(tmp_path / "models")
    library = tmp_path / "library.sqlite3"
    home = tmp_path / "home"
    env = {**os.environ, "CLIPDESK_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "clipdesk",
            "--smoke-test",
            "200",
            "--library",
            str(library),
            "--model",
            str(model),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == smoke.EXIT_PASSED, done.stdout + done.stderr
    assert "smoke test passed" in done.stdout and "tiny-random" in done.stdout
    assert library.is_file()
    log = (home / "logs" / "clipdesk.log").read_text(encoding="utf-8")
    assert "log started" in log and "uncaught" not in log
    assert not list((home / "data").glob("clipdesk-smoke-*.lock"))  # lock released on exit
