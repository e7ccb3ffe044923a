"""Quitting with indexing in flight: the job stops at a batch boundary, nothing is lost.

Nothing is killed here: the app quits the way closing its window makes it quit (the controller's
shutdown, which ``aboutToQuit`` runs), and the library is read afterwards by a fresh process-like
open. The leave-the-process step itself (``os._exit`` after the atexit handlers) is checked in a
subprocess, as the real entry point runs it.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from clipdesk.common.errors import ClipDeskError
from clipdesk.model import synth

pytestmark = pytest.mark.usefixtures("no_leaks")

PHOTOS = 600  # the first commit comes at 256 photos or 2 s: hundreds are still pending then


def test_quitting_mid_index_keeps_every_committed_batch_and_checkpoints_the_wal(
    qtbot, make_app, demo_model, tmp_path
):
    synth.write_photo_folder(tmp_path / "photos", PHOTOS, size=(64, 48), formats=("jpg",))
    controller, window = make_app(demo_model)
    committed: list[list[int]] = []
    first_commit, release = threading.Event(), threading.Event()

    def hold_after_first_commit(ids, _vectors) -> None:  # the indexing thread, after a commit
        committed.append(ids.tolist())
        first_commit.set()
        release.wait(30)  # the job is mid-run, its batch committed, when the app quits

    controller.backend.services.add_embedded_listener(hold_after_first_commit)
    controller.add_folder(str(tmp_path / "photos"))
    qtbot.waitUntil(first_commit.is_set, timeout=120_000)
    assert controller.jobs.running
    library = controller.backend.services.library_path
    workers, model_id = controller.workers, controller.model.id

    window.close()
    # let the job go on only once the quit has cancelled it: it must stop at the batch boundary
    threading.Timer(0.05, release.set).start()
    started = time.monotonic()
    controller.shutdown()
    took = time.monotonic() - started

    # a behaviour bound, far above the ~0.1-0.3 s it takes: the job was cancelled, not waited out
    assert took < 8.0, f"quitting took {took:.1f} s"
    for pool in workers.pools():
        assert pool.activeThreadCount() == 0, f"pool {pool.objectName()} still busy"
    assert not [t.name for t in threading.enumerate() if t.name.startswith("clipdesk-decode")]
    assert not controller.jobs.running and controller.backend is None

    wal = library.with_name(library.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "the WAL was not checkpointed"
    with sqlite3.connect(library) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        embedded = {row[0] for row in db.execute("SELECT photo_id FROM embeddings")}
        photos = db.execute("SELECT count(*) FROM photos").fetchone()[0]
    assert photos == PHOTOS
    assert set(committed[-1]) <= embedded, "the last committed batch lost vectors"
    assert embedded == {i for batch in committed for i in batch}  # nothing more, nothing less
    assert len(embedded) < PHOTOS  # it was stopped, not finished

    from clipdesk.library.store import Library

    with Library(library) as reopened:  # opens cleanly; the rest is still pending, not lost
        assert reopened.count_pending(model_id) == PHOTOS - len(embedded)


def test_a_library_still_opening_when_the_app_quits_is_closed(
    qtbot, make_app, tiny_model, tmp_path, monkeypatch
):
    from clipdesk.ui.backend import Backend

    opened: list[Backend] = []
    done_opening, release = threading.Event(), threading.Event()
    real_open = Backend.open.__func__

    def open_then_hold(cls, *args, **kwargs):  # the db pool's thread
        backend = real_open(cls, *args, **kwargs)
        opened.append(backend)
        done_opening.set()
        release.wait(30)  # the quit comes before the window ever hears of it
        return backend

    monkeypatch.setattr(Backend, "open", classmethod(open_then_hold))
    controller, window = make_app(tiny_model, start=False)
    controller.start()
    qtbot.waitUntil(done_opening.is_set, timeout=60_000)
    window.close()
    threading.Timer(0.05, release.set).start()
    controller.shutdown()

    (backend,) = opened
    assert controller.backend is None
    with pytest.raises(ClipDeskError, match="closed"):
        _ = backend.services.library
    wal = backend.services.library_path.with_name("library.sqlite3-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_leaving_the_process_runs_the_exit_handlers_and_keeps_the_exit_code(tmp_path):
    """The app's entry point ends with os._exit after Qt's teardown and the atexit handlers."""
    marker, log_file = tmp_path / "atexit.txt", tmp_path / "app.log"
    script = textwrap.dedent(
        f"""
        import atexit, logging, sys
        from PySide6.QtWidgets import QApplication
        from clipdesk.ui.process_exit import leave

        logging.basicConfig(filename={str(log_file)!r}, level=logging.INFO)
        atexit.register(lambda: open({str(marker)!r}, "w").write("ran"))
        app = QApplication(sys.argv)
        logging.getLogger("app").info("last words")
        print("flushed?", end="")
        leave(app, 3)
        raise SystemExit("leave() returned")
        """
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout == "flushed?"
    assert marker.read_text() == "ran"
    assert "last words" in log_file.read_text()
