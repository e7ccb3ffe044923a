"""Cyclic garbage is collected on the GUI thread's timer, never by whichever thread allocates."""

from __future__ import annotations

import gc
import threading
import weakref

from clipdesk.ui.gui_thread_gc import GuiThreadGC


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


def test_collection_waits_for_the_gui_thread(qapp, qtbot):
    gc.collect()
    before = gc.isenabled()
    guard = GuiThreadGC(interval_ms=20).start()
    try:
        assert not gc.isenabled()
        refs = []

        def churn() -> None:  # a worker leaving cyclic garbage far past the gen-0 threshold
            for i in range(gc.get_threshold()[0] * 2):
                n = Node()
                if i % 100 == 0:
                    refs.append(weakref.ref(n))
                del n

        t = threading.Thread(target=churn)
        t.start()
        t.join()
        assert all(r() is not None for r in refs)  # the worker's allocations collected nothing
        qtbot.waitUntil(lambda: all(r() is None for r in refs), timeout=5_000)
    finally:
        guard.stop()
    assert gc.isenabled() == before  # as it found it
