"""Take the README's screenshots of the real app over a demo library of generated photos.

Run under a real X server (the real xcb platform) so fonts, style and window decorations are the
real ones, once light and once dark (dark as a GNOME user's Adwaita-dark desktop gives it to Qt,
through its GTK platform theme: ``apt-get install -y libgtk-3-0``)::

    apt-get install -y xvfb libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libgtk-3-0
    xvfb-run -a -s "-screen 0 1600x1000x24" python3 docs/screenshots/take_screenshots.py
    xvfb-run -a -s "-screen 0 1600x1000x24" python3 docs/screenshots/take_screenshots.py --dark

Every shot is taken at 1,280 x 800 (``NAME.png``, ``NAME-dark.png``); the main pages also at
800 x 600, the window's narrow size (``NAME-800x600.png``, ``NAME-dark-800x600.png``).

It builds a private ClipDesk home in a temporary folder (never touching yours), writes a demo
library of generated photos, indexes it with the bundled demo model (``models/clipdesk-mini``, or
``--model``), then drives the window and saves PNGs next to this script.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def wait(app, condition, timeout_s: float = 300) -> None:
    """Run the event loop until ``condition()`` holds (the app keeps painting meanwhile)."""
    from PySide6.QtCore import QDeadlineTimer, QEventLoop

    deadline = QDeadlineTimer(int(timeout_s * 1000))
    while not condition():
        if deadline.hasExpired():
            raise TimeoutError("the app did not get there in time")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


def settle(app, ms: int = 600) -> None:
    from PySide6.QtCore import QDeadlineTimer

    deadline = QDeadlineTimer(ms)
    while not deadline.hasExpired():
        app.processEvents()


SIZES = ((1280, 800), (800, 600))
SUFFIX = ""  # "-dark" for the dark run


def shoot(app, widget, name: str, narrow: bool = False) -> None:
    """Save ``widget`` as NAME(-dark).png; with ``narrow``, the window at 800 x 600 as well."""
    window = widget.window()
    for width, height in SIZES if narrow else SIZES[:1]:
        if widget is window:
            window.resize(width, height)
        settle(app)
        size = "" if (width, height) == SIZES[0] else f"-{width}x{height}"
        path = HERE / f"{name}{SUFFIX}{size}.png"
        widget.grab().save(str(path))
        print("wrote", path.relative_to(REPO), f"({widget.width()}x{widget.height()})")
    if widget is window:
        window.resize(*SIZES[0])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="", help="model name or path (default: the demo)")
    parser.add_argument("--photos", type=int, default=120)
    parser.add_argument("--dark", action="store_true", help="the desktop's dark colour scheme")
    args = parser.parse_args()
    if args.dark:
        global SUFFIX
        SUFFIX = "-dark"
        # what a GNOME desktop in dark mode hands Qt: the GTK theme's colours and scheme
        os.environ["QT_QPA_PLATFORMTHEME"] = "gtk3"
        os.environ["GTK_THEME"] = "Adwaita:dark"
    home = Path(tempfile.mkdtemp(prefix="clipdesk-shots-"))
    os.environ["CLIPDESK_HOME"] = str(home)
    sys.path.insert(0, str(REPO))
    import torch

    torch.set_num_threads(1)
    from PySide6.QtWidgets import QApplication

    from clipdesk.app import _apply_theme, create_window
    from clipdesk.model import synth
    from clipdesk.services.settings import SettingsService
    from clipdesk.ui.settings import AppSettings

    photos = home / "Pictures"
    synth.write_photo_folder(
        photos, args.photos, seed=21, size=(960, 720), formats=("jpg",), exif_fraction=0.0
    )
    # a few photos with words in them (signs in a scene, a document, a screenshot): the OCR pass
    # reads them after indexing, and the search box finds them by those words
    sys.path.insert(0, str(REPO / "bench"))
    import _text_photos

    for kind, i in (("sign", 3), ("document", 1), ("screenshot", 2), ("sign", 5)):
        _text_photos.write(kind, i, photos, width=1600, height=1200, min_cap=0.03)
    app = QApplication(sys.argv)
    app.setApplicationName("ClipDesk")
    _apply_theme(app)

    # 1. the first-run welcome page
    SettingsService().set_model(args.model)  # the shared settings: the app reads its model there
    controller, window = create_window(settings=AppSettings())
    window.resize(1280, 800)
    window.show()
    controller.start()
    window.welcome.add_folder(str(photos))
    wait(app, lambda: controller.model is not None)
    shoot(app, window, "welcome", narrow=True)

    # 2. index the demo library, then search by text
    window.welcome.start_button.click()
    bar = window.folders.progress
    wait(
        app,
        lambda: (
            controller.index_state.startswith("Indexing")
            and bar.maximum() > 0
            and bar.value() >= bar.maximum() // 3
        ),
    )
    shoot(app, window, "folders-indexing")
    wait(app, lambda: not controller.jobs.running and controller.workers.pending == 0)
    window.show_page("Search")
    window.search.box.set_text("two red stars")
    wait(app, lambda: window.search.grid.photos.rowCount() > 0 and controller.workers.pending == 0)
    shoot(app, window, "search-text", narrow=True)

    # 3. an image query: "more like this" on a result, refined by text
    window.search.more_like_this(window.search.grid.photos.item(2))
    wait(app, lambda: controller.workers.pending == 0)
    shoot(app, window, "search-image")

    # 4. tags: the demo model's starter category of colours (words it knows), its live preview,
    # then review
    window.show_page("Tags")
    page = window.tags
    wait(app, lambda: page.cats.rowCount() > 0 and controller.workers.pending == 0)
    page.reload(select="Colour")
    wait(app, lambda: page._current == "Colour" and controller.workers.pending == 0)
    page.preview_label.setCurrentText("purple")
    settle(app, 800)
    wait(app, lambda: controller.workers.pending == 0)
    shoot(app, window, "tags", narrow=True)
    page.tabs.setCurrentWidget(page.review)
    page.review.category.setCurrentIndex(page.review.category.findData("Colour"))
    wait(app, lambda: bool(page.review.queue) and controller.workers.pending == 0)
    shoot(app, window, "review", narrow=True)

    # 5. the folders once indexed, and the Train tab (teach a head from the confirmed colours)
    window.show_page("Folders")
    wait(app, lambda: controller.workers.pending == 0)
    shoot(app, window, "folders", narrow=True)

    # confirm the 6 best photos of four colours (as a user would in Review), then teach a head
    def confirm_best(backend, _token) -> None:
        tags = backend.services.tags
        for label in ("red", "blue", "green", "yellow"):
            best = [t.photo.id for t in tags.photos_with_tag("Colour", label, limit=6)]
            tags.decide_many(best, "Colour", label, "confirmed")

    done: list[bool] = []
    controller.call(confirm_best, lambda _r: done.append(True))
    wait(app, lambda: bool(done))
    window.show_page("Train")
    heads = window.train.heads
    wait(app, lambda: controller.workers.pending == 0)
    heads.load_counts("Colour")
    wait(app, lambda: controller.workers.pending == 0)
    heads.train()
    wait(app, lambda: heads.report is not None and controller.workers.pending == 0)
    shoot(app, window, "train", narrow=True)

    # 6. the photo view
    window.show_page("Search")
    item = window.search.grid.photos.item(0)
    window.open_photo(item)
    from clipdesk.ui.photo_view import PhotoView

    dialog = window.findChildren(PhotoView)[-1]
    wait(app, lambda: controller.workers.pending == 0)
    shoot(app, dialog, "photo-view")
    dialog.close()

    # 7. words: once the text is read, a word finds the photos that hold it (with the badge and
    # the snippet), and the photo view shows the text with its boxes
    wait(app, lambda: not controller.ocr_jobs.running and controller.workers.pending == 0)
    window.search.box.clear_image()  # the "more like this" chip of step 3 goes
    window.search.box.set_text("receipt")
    wait(app, lambda: window.search.grid.photos.rowCount() > 0 and controller.workers.pending == 0)
    shoot(app, window, "search-words")
    window.open_photo(window.search.grid.photos.item(0))
    dialog = window.findChildren(PhotoView)[-1]
    wait(app, lambda: controller.workers.pending == 0 and not dialog.words.pending)
    dialog.words.show_boxes.setChecked(True)
    shoot(app, dialog, "photo-text")
    dialog.close()
    window.close()
    controller.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
