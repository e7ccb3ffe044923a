"""The GUI thread stays responsive while a folder indexes: the longest event-loop gap is small."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QTimer

from clipdesk.model import synth
from tests.ui.conftest import wait_idle

pytestmark = pytest.mark.usefixtures("no_leaks")

TICK_MS = 10
# Generous for a 2-core CI machine shared with decoding and the model (the goal in use is ~50 ms).
MAX_GAP_S = 0.25


def test_event_loop_stays_responsive_while_indexing(qtbot, make_app, tiny_model, tmp_path):
    folder = tmp_path / "big"
    synth.write_photo_folder(folder, 60, seed=11, size=(1600, 1200), formats=("jpg",))
    controller, window = make_app(tiny_model)
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    timer.start()
    try:
        with qtbot.waitSignal(controller.jobs.finished, timeout=180_000):
            controller.add_folder(str(folder))
        window.search.box.set_text("a red star")  # a query while thumbnails load
        wait_idle(qtbot, controller)
    finally:
        timer.stop()
    assert len(gaps) > 20
    worst = max(gaps[1:])
    print(
        f"event loop: {len(gaps)} ticks, max gap {worst * 1000:.0f} ms, "
        f"p99 {sorted(gaps)[int(len(gaps) * 0.99)] * 1000:.0f} ms"
    )
    assert worst < MAX_GAP_S
