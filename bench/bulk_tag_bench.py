"""The grid's tag action on a selection of 500 photos: time per action, and the keys it takes.

Each action is what the app runs for one OK in "Tag selected photos…": the services call (one
transaction: ``TagService.keyword_tag`` and ``tag_photos``), then what the window refreshes on
``libraryChanged``: the tag panel's counts (one grouped query), the Tag filter's choices, the
search's tag filter (``allowed_ids``) and the grid updated in place with those rows and
repainted (offscreen Qt, thumbnails in memory). Undo (``TagService.undo``) is timed too.

    python3 bench/bulk_tag_bench.py                   # 500 selected in a library of 20,000
    python3 bench/bulk_tag_bench.py --selected 5000 --photos 100000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import clipdesk.ui  # noqa: E402, F401  (PySide6 6.12 on Python 3.11, see pyside_compat)

# Keys and clicks from a search to 500 tagged photos, as the app offers them.
KEYS = (
    ("type the search, Enter", "the query's keys + 1"),
    ("Ctrl+A in the grid (or one rubber-band drag)", "1"),
    ("Ctrl+T: Tag selected photos…", "1"),
    ("type 3-4 letters, Down/Enter to pick the completion", "~5"),
    ("Enter (OK)", "1"),
)


def build(path: Path, photos: int) -> None:
    """A library of ``photos`` photos; a Hue category whose model suggests red for half."""
    from clipdesk.library.records import FileFacts
    from clipdesk.library.store import Library
    from clipdesk.tags.categories import Category, Mode
    from clipdesk.tags.store.tag_store import TagStore

    with Library(path) as lib:
        folder = lib.add_folder(path.parent / "photos")
        facts = [
            FileFacts(path.parent / "photos" / f"IMG_{i:06d}.jpg", 1000, i, "jpeg", f"h{i}")
            for i in range(photos)
        ]
        ids = [pid for pid, _ in lib.add_or_update_photos(folder.id, facts)]
        store = TagStore(lib, demo_model=True)
        store.add_category(Category("Hue", ("red", "green", "blue"), Mode.SINGLE, 0.3))
        red = store.label_ids("Hue")["red"]
        with lib.transaction() as conn:  # the model's suggestions, as a recompute writes them
            conn.executemany(
                "INSERT INTO photo_tags(photo_id, label_id, state, score, model_id, updated_at) "
                "VALUES(?, ?, 'suggested', 0.6, 'bench@1', 0)",
                [(pid, red) for pid in ids[::2]],
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=20_000, help="photos in the library")
    parser.add_argument("--selected", type=int, default=500, help="photos selected")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from PySide6.QtGui import QColor, QPixmap
    from PySide6.QtWidgets import QApplication

    from clipdesk.services.app import ClipDeskServices
    from clipdesk.ui.photo_grid import PhotoGrid
    from clipdesk.ui.photo_model import PhotoItem
    from clipdesk.ui.photo_rows import PhotoRows
    from clipdesk.ui.thumbnails import ThumbnailCache
    from clipdesk.ui.workers import Workers

    qt = QApplication(sys.argv)
    workers = Workers(thumb_threads=1)
    thumbs = ThumbnailCache(workers, capacity=args.selected)
    grid = PhotoGrid(thumbs)
    grid.resize(1280, 800)
    grid.show()
    pixmap = QPixmap(128, 96)
    pixmap.fill(QColor("teal"))
    cell = thumbs._device_px(None)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "library.sqlite3"
        build(path, args.photos)
        services = ClipDeskServices(path)
        tags = services.tags
        selected = [p.id for p in services.library.photos()][: args.selected]
        items = [PhotoItem(pid, f"/photos/IMG_{pid:06d}.jpg", None, 1.7e9) for pid in selected]
        for item in items:
            thumbs._pixmaps[(item.id, cell)] = pixmap
        grid.photos.set_items(items)
        qt.processEvents()

        def refresh(expression: str) -> None:
            tags.label_counts()
            tags.tag_choices()
            allowed = tags.allowed_ids([expression])
            keep = set() if allowed is None else {int(i) for i in allowed}
            grid.photos.update_rows(PhotoRows.of([i for i in items if i.id in keep]))
            grid.viewport().repaint()
            grid.photos.update_rows(PhotoRows.of(items))  # back, for the next action
            qt.processEvents()

        rows = []
        for name, action, tag in (
            ("add a new keyword", "add", "picnic"),
            ("add an existing label", "add", "Hue|green"),
            ("remove a label", "remove", "Hue|red"),
            ("confirm the suggestions", "confirm", "Hue|red"),
            ("reject the suggestions", "reject", "Hue|red"),
        ):
            calls, shows, undos = [], [], []
            for _ in range(args.repeat):  # each run undone, so each does the whole change
                start = time.perf_counter()
                category, label = tags.keyword_tag(tag)
                done = tags.tag_photos(selected, category, label, action)
                calls.append(time.perf_counter() - start)
                start = time.perf_counter()
                refresh(done.tag)
                shows.append(time.perf_counter() - start)
                start = time.perf_counter()
                tags.undo(done.step)
                undos.append(time.perf_counter() - start)
            rows.append(
                (name, done.changed, *(statistics.median(t) for t in (calls, shows, undos)))
            )

        print(
            f"tag action on {args.selected:,} selected photos, library of {args.photos:,} "
            f"(median of {args.repeat}; offscreen Qt)"
        )
        print(f"{'action':26s} {'changed':>8s} {'services':>9s} {'refresh':>9s} {'undo':>8s}")
        for name, changed, call, shown, undo in rows:
            print(
                f"{name:26s} {changed:8,d} {call * 1000:7.1f}ms {shown * 1000:7.1f}ms "
                f"{undo * 1000:6.1f}ms"
            )
        print("keys and clicks to tag 500 photos found by a search:")
        for what, keys in KEYS:
            print(f"  {keys:>22s}  {what}")
        print("  = the query + ~9, whatever the number of photos selected")
        services.close()
    grid.close()
    workers.shutdown()


if __name__ == "__main__":
    main()
