"""Reviewing 500 suggestions in the app: one at a time vs batch mode, keys and time per action.

    QT_QPA_PLATFORM=offscreen python3 bench/review_bench.py            # 500 suggestions, 10% wrong
    python3 bench/review_bench.py --photos 500 --wrong 0.2

A library of small generated JPEGs whose one label (``Kind › cat``) the model "suggested" with
scores around its threshold; the real Review panel (real controller, pools and database
thread, offscreen) is driven by key presses and mouse clicks as a user would, a fixed share of
the photos being wrong (every ``1/wrong``-th in queue order). Printed per mode: the keys and
clicks needed, and per action the GUI thread's time handling the key (what makes typing feel
slow) and the time until the decision is written and the next photo or batch is on screen.
Then the same for taking one step back (Ctrl+Z). The machine's other load counts: run it on a
quiet machine for figures to compare.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_HOME = tempfile.mkdtemp(prefix="clipdesk-review-bench-")
os.environ["CLIPDESK_HOME"] = _HOME  # never the user's config or library
for _var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
    os.environ[_var] = os.path.join(_HOME, _var.lower())
os.environ["CLIPDESK_OCR"] = "off"

import clipdesk.ui  # noqa: E402, F401  (PySide6 6.12 on Python 3.11, see pyside_compat)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--photos", type=int, default=500, help="suggestions to review")
    p.add_argument("--wrong", type=float, default=0.1, help="share of wrong suggestions")
    return p.parse_args()


def make_library(folder: Path, n: int) -> Path:
    """n photos, each with a model suggestion (or near miss) of Kind › cat around 0.5."""
    from PIL import Image

    from clipdesk.library.records import FileFacts
    from clipdesk.services.app import ClipDeskServices
    from clipdesk.tags.categories import Category, Mode

    folder.mkdir(parents=True)
    path = folder.parent / "library.sqlite3"
    app = ClipDeskServices(path, device="cpu")
    lib = app.library
    f = lib.add_folder(folder)
    facts = []
    for i in range(n):
        p = folder / f"photo{i:04d}.jpg"
        Image.new("RGB", (64, 48), (i * 7 % 256, i * 13 % 256, 90)).save(p)
        st = p.stat()
        facts.append(FileFacts(p, st.st_size, st.st_mtime_ns, "jpeg", f"h{i}"))
    ids = [pid for pid, _ in lib.add_or_update_photos(f.id, facts)]
    store = app.tags.store
    store.add_category(Category("Kind", ("cat", "dog"), Mode.MULTI, 0.5))
    label_id = store.label_ids("Kind")["cat"]
    now = time.time()
    with lib.transaction() as conn:
        # as indexing leaves them (no vectors needed: review reads only the tags)
        conn.execute("UPDATE photos SET status = 'ok'")
        conn.executemany(
            "INSERT INTO photo_tags(photo_id, label_id, state, score, model_id, updated_at) "
            "VALUES(?, ?, ?, ?, 'bench', ?)",
            [
                (
                    pid,
                    label_id,
                    "suggested" if i % 2 else "candidate",
                    0.5 + (i % 2 - 0.5) * 0.1 * (1 + i / n),
                    now,
                )
                for i, pid in enumerate(ids)
            ],
        )
    app.close()
    return path


class Driver:
    """The Review panel over the library, with the app's own controller and pools."""

    def __init__(self, library: Path) -> None:
        from PySide6.QtWidgets import QApplication

        from clipdesk.services.app import ClipDeskServices
        from clipdesk.ui.backend import Backend
        from clipdesk.ui.controller import AppController
        from clipdesk.ui.review import ReviewPanel
        from clipdesk.ui.settings import AppSettings
        from clipdesk.ui.workers import Workers

        self.qapp = QApplication.instance() or QApplication([])
        self.controller = AppController(
            AppSettings(Path(_HOME) / "ui.ini"), Workers(thumb_threads=2)
        )
        self.controller.backend = Backend(ClipDeskServices(library, device="cpu"))
        self.panel = ReviewPanel(self.controller)
        self.panel.resize(1280, 800)
        self.panel.set_categories(self.controller.backend.tags.categories())
        self.panel.show()
        self.panel.activateWindow()
        self.idle()

    def idle(self) -> float:
        """Process events until every background task has delivered; seconds it took."""
        t0 = time.perf_counter()
        workers = self.controller.workers
        while workers.pending:
            self.qapp.processEvents()
            time.sleep(0.0005)
        self.qapp.processEvents()
        return time.perf_counter() - t0

    def press(self, widget, key, modifier=None) -> tuple[float, float]:
        """(GUI thread's time handling the key, time until written and the next shown)."""
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest

        t0 = time.perf_counter()
        QTest.keyClick(widget, key, modifier or Qt.KeyboardModifier.NoModifier)
        gui = time.perf_counter() - t0
        return gui, gui + self.idle()

    def close(self) -> None:
        self.panel.close()
        self.controller.shutdown()


def one_at_a_time(library: Path, n: int, every: int) -> dict[str, object]:
    from PySide6.QtCore import Qt

    d = Driver(library)
    panel = d.panel
    panel.load()
    d.idle()
    panel.setFocus()
    keys = clicks = 0
    gui, done = [], []
    while keys < n:
        if panel.current() is None:  # the end of a queue (QUEUE_SIZE): Refresh reads more
            panel.refresh_button.click()
            clicks += 1
            d.idle()
            if panel.current() is None:
                break
        key = Qt.Key.Key_R if keys % every == every - 1 else Qt.Key.Key_C
        g, t = d.press(panel, key)
        keys += 1
        gui.append(g)
        done.append(t)
    undo = d.press(panel, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    d.close()
    return {"keys": keys, "clicks": clicks, "gui": gui, "done": done, "undo": undo, "decided": keys}


def batches(library: Path, n: int, every: int) -> dict[str, object]:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    d = Driver(library)
    panel = d.panel
    panel.set_batch_mode(True)
    batch, grid = panel.batch, panel.batch.grid
    batch.select_tag("Kind", "cat")
    batch.load()
    d.idle()
    keys = clicks = decided = 0
    gui, done = [], []
    while batch.items and decided < n:
        for row, _item in enumerate(batch.items):
            if (decided + row) % every == every - 1:  # the same photos as one at a time
                index = grid.photos.index(row)
                grid.scrollTo(index)
                QTest.mouseClick(
                    grid.viewport(), Qt.MouseButton.LeftButton, pos=grid.visualRect(index).center()
                )
                clicks += 1
        decided += len(batch.items)
        g, t = d.press(grid, Qt.Key.Key_Return)
        keys += 1
        gui.append(g)
        done.append(t)
    undo = d.press(grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    d.close()
    return {
        "keys": keys,
        "clicks": clicks,
        "gui": gui,
        "done": done,
        "undo": undo,
        "decided": decided,
    }


def ms(xs: list[float]) -> str:
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, math.ceil(0.95 * len(xs)) - 1)]
    return f"median {statistics.median(xs) * 1000:6.1f} ms, p95 {p95 * 1000:6.1f} ms"


def main() -> None:
    args = parse_args()
    every = max(1, round(1 / args.wrong)) if args.wrong > 0 else 10**9
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for name, run in (("one at a time", one_at_a_time), ("batch", batches)):
            library = make_library(Path(tmp) / name.replace(" ", "-") / "photos", args.photos)
            results[name] = run(library, args.photos, every)
    print(f"Reviewing {args.photos} suggestions, {args.wrong:.0%} wrong ({os.cpu_count()} CPUs)")
    for name, r in results.items():
        actions = len(r["gui"])  # type: ignore[arg-type]
        print(
            f"\n{name}: {r['decided']} decided with {r['keys']} keys + {r['clicks']} clicks "
            f"({actions} actions)"
        )
        print(f"  GUI thread per action:           {ms(r['gui'])}")  # type: ignore[arg-type]
        print(f"  until written and next on screen: {ms(r['done'])}")  # type: ignore[arg-type]
        print(f"  total app time: {sum(r['done']):.2f} s")  # type: ignore[arg-type]
        gui, total = r["undo"]  # type: ignore[misc]
        print(f"  Ctrl+Z: GUI {gui * 1000:.1f} ms, until restored {total * 1000:.1f} ms")


if __name__ == "__main__":
    main()
