"""Results grid at 100k photos: time to show the results and time per scrolled frame.

ClipDesk's grid (a list model over photo ids + a painting delegate, uniform item sizes) against
the usual first attempt, a ``QListWidget`` holding one item with an icon per photo, on the same
100k results and the same thumbnail pixmaps, in one run. Each frame scrolls one page and repaints
the viewport synchronously, so the time is what the user waits for per page.

    python3 bench/grid_bench.py            # 100k results, 60 frames
    python3 bench/grid_bench.py --n 20000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import clipdesk.ui  # noqa: E402, F401  (PySide6 6.12 on Python 3.11, see pyside_compat)


def laid_out(app, view) -> None:
    """Let a batched layout finish (the scroll range stops growing)."""
    bar, previous = view.verticalScrollBar(), -1
    while bar.maximum() != previous:
        previous = bar.maximum()
        for _ in range(20):
            app.processEvents()


def frames(view, count: int, warmup: int = 5) -> list[float]:
    """Scroll one page per frame and repaint; seconds per frame (after a few warm-up frames
    that fill the glyph and pixmap caches)."""
    bar = view.verticalScrollBar()
    out = []
    for i in range(-warmup, count):
        start = time.perf_counter()
        bar.setValue((i * bar.pageStep()) % max(1, bar.maximum()))
        view.viewport().repaint()
        if i >= 0:
            out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()

    from PySide6.QtCore import QSize
    from PySide6.QtGui import QColor, QIcon, QPixmap
    from PySide6.QtWidgets import QApplication, QListView, QListWidget, QListWidgetItem

    from clipdesk.ui.photo_grid import PhotoGrid
    from clipdesk.ui.photo_model import PhotoItem
    from clipdesk.ui.thumbnails import ThumbnailCache
    from clipdesk.ui.workers import Workers

    app = QApplication(sys.argv)
    pixmaps = []
    for i in range(16):
        pm = QPixmap(128, 96)
        pm.fill(QColor.fromHsv(i * 22, 160, 200))
        pixmaps.append(pm)
    items = [
        PhotoItem(i, f"/photos/{i // 1000:03d}/IMG_{i:06d}.jpg", 1 - i / args.n, 1.7e9 + i)
        for i in range(args.n)
    ]

    workers = Workers(thumb_threads=1)
    thumbs = ThumbnailCache(workers, capacity=args.n)
    cell = thumbs._device_px(None)  # the default cell's size in device pixels
    for item in items:  # every thumbnail already in memory: measure painting, not decoding
        thumbs._pixmaps[(item.id, cell)] = pixmaps[item.id % 16]
    grid = PhotoGrid(thumbs)
    grid.resize(1280, 800)
    grid.show()
    start = time.perf_counter()
    grid.photos.set_items(items)
    grid.viewport().repaint()
    ours_first = time.perf_counter() - start
    laid_out(app, grid)
    ours_fill = time.perf_counter() - start
    ours = frames(grid, args.frames)

    peer = QListWidget()
    peer.setViewMode(QListView.ViewMode.IconMode)
    peer.setIconSize(QSize(128, 128))
    peer.setResizeMode(QListView.ResizeMode.Adjust)
    peer.resize(1280, 800)
    peer.show()
    icons = [QIcon(pm) for pm in pixmaps]
    start = time.perf_counter()
    for item in items:
        QListWidgetItem(icons[item.id % 16], os.path.basename(item.path), peer)
    peer.viewport().repaint()
    peer_first = time.perf_counter() - start
    laid_out(app, peer)
    peer_fill = time.perf_counter() - start
    theirs = frames(peer, args.frames)

    print(f"results grid, {args.n:,} photos, {args.frames} scrolled pages (offscreen)")
    print(
        f"{'':28s} {'first screen':>12s} {'all laid out':>12s} {'frame p50':>10s} "
        f"{'frame p95':>10s}"
    )
    for name, first, fill, fr in (
        ("ClipDesk model + delegate", ours_first, ours_fill, ours),
        ("QListWidget with icons", peer_first, peer_fill, theirs),
    ):
        p95 = sorted(fr)[int(0.95 * len(fr))]
        print(
            f"{name:28s} {first * 1000:10.0f}ms {fill * 1000:10.0f}ms "
            f"{statistics.median(fr) * 1000:8.1f}ms {p95 * 1000:8.1f}ms"
        )
    print(
        f"first screen: ClipDesk {peer_first / ours_first:.0f}x sooner; frame p50 "
        f"ClipDesk / QListWidget = {statistics.median(ours) / statistics.median(theirs):.2f}x "
        f"(a frame under 16 ms keeps 60 fps)"
    )
    grid.close()
    peer.close()
    workers.shutdown()


if __name__ == "__main__":
    main()
