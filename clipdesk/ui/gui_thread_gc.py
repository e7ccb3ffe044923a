"""Python's cyclic garbage collector, run on the GUI thread only.

Any thread that allocates can trigger a collection. When a collection on a worker thread (an
indexing task, the folder watcher) frees a cycle that holds a Qt wrapper, PySide deletes the
QObject on that thread, and it can deadlock against the GUI thread: the collecting thread holds a
Qt mutex while it waits for the GIL, the GUI thread holds the GIL while it waits for that mutex.
We saw exactly that in a test run (a watchdog thread collecting a menu's actions while the GUI
thread deleted a widget). So automatic collection is switched off and a timer on the GUI thread
collects instead, generation by generation, when the usual thresholds are crossed.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class GuiThreadGC(QObject):
    """Owns the switch: ``gc`` stays disabled while this exists and is started."""

    def __init__(self, interval_ms: int = 500, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)

    def start(self) -> GuiThreadGC:
        gc.disable()
        self._timer.start()
        return self

    def stop(self) -> None:
        self._timer.stop()
        if self._was_enabled:
            gc.enable()

    def collect_due(self) -> int:
        """Collect the generations whose counts passed their thresholds; returns objects freed."""
        t0, t1, t2 = self._thresholds
        c0, c1, c2 = gc.get_count()
        if c0 <= t0:
            return 0
        if c1 > t1:
            return gc.collect(2 if c2 > t2 else 1)
        return gc.collect(0)


def install_gui_thread_gc(app: QObject) -> GuiThreadGC:
    """Switch collection to the GUI thread for the life of ``app`` (the QApplication)."""
    guard = GuiThreadGC(parent=app).start()
    app.destroyed.connect(guard.stop)
    return guard
