"""Fixtures for the desktop app's tests: worker pools, and a guard against leaked threads/timers.

``no_leaks`` fails a test that leaves a Python thread, a pool task or an active QTimer behind once
its own fixtures have cleaned up (napari's conftest does the same): a test that passes while a
watcher thread keeps running would hide exactly the shutdown bugs users hit on quit.
"""

from __future__ import annotations

import threading
import warnings

import pytest


@pytest.fixture(autouse=True)
def gc_on_the_gui_thread():
    """As the app does (clipdesk.ui.gui_thread_gc), no cyclic collection on worker threads while a
    test runs: one freeing Qt wrappers there can deadlock against the GUI thread. The garbage is
    collected here, on the main thread, when the test ends."""
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    yield
    gc.collect()
    if was_enabled:
        gc.enable()


@pytest.fixture
def no_leaks(qapp, qtbot):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    before = set(threading.enumerate())
    yield
    # Everything the test built is closed by now (fixtures tear down in reverse order).
    for widget in QApplication.topLevelWidgets():
        widget.close()

    def new_threads() -> list[threading.Thread]:
        return [
            t
            for t in threading.enumerate()
            if t not in before and t.is_alive() and not t.name.startswith(("pydevd", "Dummy"))
        ]

    try:
        qtbot.waitUntil(lambda: not new_threads(), timeout=5000)
    except AssertionError:
        pytest.fail(f"test left threads running: {[t.name for t in new_threads()]}")
    timers = [
        f"{w.__class__.__name__}/{t.parent().__class__.__name__}"
        for w in QApplication.topLevelWidgets()
        for t in w.findChildren(QTimer)
        if t.isActive()
    ]
    if timers:
        pytest.fail(f"test left timers running: {timers}")


@pytest.fixture(autouse=True)
def instant_speed_probe(monkeypatch):
    """The model picker times a reference model the first time it is shown (seconds of torch
    work in the jobs pool); app tests get a fixed figure at once instead. Tests of the probe
    itself replace it with their own."""
    from clipdesk.model import speed

    def timed(*_args, **_kwargs) -> speed.ArchSpeed:
        return speed.ArchSpeed(images_per_s=40.0, text_ms=8.0, iterations=2, params=0)

    monkeypatch.setattr(speed, "time_architecture", timed)


@pytest.fixture
def workers(qapp):
    from clipdesk.ui.workers import Workers

    w = Workers(thumb_threads=2)
    yield w
    assert w.shutdown(timeout_ms=10_000), "worker pools did not stop within 10 s"
    for pool in w.pools():
        assert pool.activeThreadCount() == 0, f"pool {pool.objectName()} still busy"


def send_drop(widget, mime) -> bool:
    """Deliver a real drag-enter then drop of ``mime`` (Qt ignores a drop with no drag before it)."""
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    pos = widget.rect().center()
    with warnings.catch_warnings():  # PySide flags the QPoint overload; it is the only one
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(
            QPoint(pos),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(
        QPointF(pos),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, drop)
    return drop.isAccepted()


@pytest.fixture
def drop():
    return send_drop


# --- a real app over a real library ---------------------------------------------------------
REPO = __import__("pathlib").Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO / "models" / "clipdesk-mini"


def demo_model_available() -> bool:
    return (DEMO_MODEL / "config.json").exists()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A tiny random CLIP: real format, meaningless vectors (for plumbing, not semantics)."""
    from clipdesk.model.testing import tiny_random_model

    return tiny_random_model(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def demo_model():
    if not demo_model_available():
        pytest.fail("the bundled demo model models/clipdesk-mini is missing")
    return DEMO_MODEL


@pytest.fixture(scope="session")
def synth_photos(tmp_path_factory):
    """24 generated photos (held-out scenes) with their specs; read-only for tests."""
    from clipdesk.model import synth

    root = tmp_path_factory.mktemp("photos")
    return root, synth.write_photo_folder(root, 24, seed=3, formats=("jpg", "png"))


@pytest.fixture(scope="session")
def colour_photos(tmp_path_factory):
    """24 photos, 4 colours x 3 shapes x 2: ground truth a colour query must find."""
    from clipdesk.model import synth

    root = tmp_path_factory.mktemp("colours")
    specs = [
        synth.SceneSpec(colour=c, shape=s, seed=seed)
        for c in ("red", "blue", "green", "yellow")
        for s in ("circle", "square", "star")
        for seed in (1, 2)
    ]
    return root, [
        synth.write_photo(spec, root / f"{spec.colour}-{spec.shape}-{spec.seed}.jpg", (320, 240))
        for spec in specs
    ]


@pytest.fixture
def make_app(qtbot, tmp_path):
    """Build (controller, window) over a library in tmp_path; everything shut down afterwards."""
    from clipdesk.ui.controller import AppController
    from clipdesk.ui.main_window import MainWindow
    from clipdesk.ui.settings import AppSettings
    from clipdesk.ui.workers import Workers

    built = []

    def make(model, library=None, welcome_done=True, start=True):
        from clipdesk.common import config

        # the shared settings the app (and the CLI) open with; written as a user's file would
        # be, so a model that is not there is the app's to report
        library = library or tmp_path / "library.sqlite3"
        config.update(library=str(library), model=str(model), device="cpu")
        settings = AppSettings(tmp_path / "ui.ini")
        settings.welcome_done = welcome_done
        controller = AppController(settings, Workers(thumb_threads=2))
        window = MainWindow(controller)
        qtbot.addWidget(window)
        built.append((controller, window))
        window.show()
        if start:
            with qtbot.waitSignal(controller.modelReady, timeout=60_000):
                controller.start()
        return controller, window

    yield make
    for controller, window in built:
        window.close()
        controller.shutdown()


def add_and_index(qtbot, controller, folder) -> None:
    """Add a folder the way the UI does and wait until it is indexed and everything delivered."""
    with qtbot.waitSignal(controller.jobs.finished, timeout=120_000):
        controller.add_folder(str(folder))
    wait_idle(qtbot, controller)


def wait_idle(qtbot, controller, timeout=120_000):
    """Until the index job has finished and every background task has delivered."""
    qtbot.waitUntil(
        lambda: not controller.jobs.running and controller.workers.pending == 0, timeout=timeout
    )
