"""Start-up: time from launching the process to the main window's first paint.

Runs ClipDesk's real entry point (``clipdesk.app.main``: logging, crash handler, single-instance
lock, the full window) and, as the peer, a bare ``QMainWindow`` in a fresh Python, alternately,
each in a new process, and prints medians side by side. Goal: ClipDesk painted in < 1.5 s; the
ratio says what ClipDesk adds to what any PySide6 app pays anyway (interpreter + Qt start).

    python3 bench/startup_bench.py            # 7 runs each, offscreen unless $DISPLAY is set
    python3 bench/startup_bench.py --runs 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import sys, time
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QMainWindow

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and isinstance(obj, QMainWindow):
            print("PAINTED", flush=True)
            QApplication.instance().removeEventFilter(self)
            QApplication.instance().quit()
        return False

app = QApplication(sys.argv)
spy = FirstPaint()
app.installEventFilter(spy)
if sys.argv[1] == "clipdesk":
    from clipdesk.app import main
    main(["clipdesk"])
else:
    w = QMainWindow()
    w.setWindowTitle("peer")
    w.resize(1280, 820)
    w.show()
    app.exec()
"""


def time_to_paint(kind: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, kind],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("PAINTED"):
            elapsed = time.perf_counter() - start
            break
    else:
        raise RuntimeError(f"{kind}: the window was never painted (exit {proc.wait()})")
    proc.wait(timeout=60)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    env = dict(os.environ)
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYTHONPATH"] = os.pathsep.join([os.getcwd(), env.get("PYTHONPATH", "")])
    results: dict[str, list[float]] = {"clipdesk": [], "bare QMainWindow": []}
    with tempfile.TemporaryDirectory() as home:
        env["CLIPDESK_HOME"] = home  # a fresh user: first-run welcome page, empty library
        time_to_paint("peer", env)  # warm the OS file cache for both alike
        time_to_paint("clipdesk", env)
        for _ in range(args.runs):
            results["clipdesk"].append(time_to_paint("clipdesk", env))
            results["bare QMainWindow"].append(time_to_paint("peer", env))
    ours = statistics.median(results["clipdesk"])
    peer = statistics.median(results["bare QMainWindow"])
    print(
        f"window painted after launch, median of {args.runs} runs "
        f"({env.get('QT_QPA_PLATFORM', 'default')} platform)"
    )
    print(f"{'':20s} {'median':>8s} {'min':>8s} {'max':>8s}")
    for name, values in results.items():
        print(
            f"{name:20s} {statistics.median(values):7.3f}s {min(values):7.3f}s {max(values):7.3f}s"
        )
    print(
        f"ClipDesk / peer: {ours / peer:.2f}x;  goal < 1.5 s: {'met' if ours < 1.5 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
