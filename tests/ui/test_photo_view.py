"""Photo view: metadata and tags, confirm from the view, arrows walk the grid, closing is safe."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from clipdesk.ui.photo_view import PhotoView
from clipdesk.ui.tag_list import tag_of
from tests.ui.conftest import add_and_index, wait_idle

pytestmark = pytest.mark.usefixtures("no_leaks")


def test_photo_view_shows_details_confirms_and_steps(qtbot, make_app, tiny_model, synth_photos):
    root, photos = synth_photos
    controller, window = make_app(tiny_model)
    add_and_index(qtbot, controller, str(root))
    grid = window.search.grid
    qtbot.waitUntil(lambda: grid.photos.rowCount() == len(photos), timeout=30_000)
    window.open_photo(grid.photos.item(0))
    view = window.findChildren(PhotoView)[-1]
    qtbot.waitUntil(
        lambda: (
            view.meta.rowCount() > 0
            and view.tags.count() > 0
            and view.preview.pixmap() is not None
            and not view.preview.pixmap().isNull()
        ),
        timeout=20_000,
    )
    assert (
        view.meta.itemAt(0, view.meta.ItemRole.FieldRole).widget().text()
        == grid.photos.item(0).name
    )
    tag = tag_of(view.tags.currentItem())  # the first suggestion: what C decides
    assert tag is not None and tag.state == "suggested"
    with qtbot.waitSignal(view.tagsChanged, timeout=10_000):
        qtbot.keyClick(view, Qt.Key.Key_C)

    def confirmed() -> list[str]:
        texts = [view.tags.item(i).text() for i in range(view.tags.count())]
        return [t for t in texts if "(confirmed)" in t]

    qtbot.waitUntil(lambda: bool(confirmed()), timeout=10_000)
    assert any(f"{tag.category}: {tag.label}" in t for t in confirmed())

    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.item.id == grid.photos.item(1).id
    qtbot.keyClick(view, Qt.Key.Key_Left)
    qtbot.keyClick(view, Qt.Key.Key_Left)  # already the first: stays
    assert view.item.id == grid.photos.item(0).id
    qtbot.keyClick(view, Qt.Key.Key_Right)
    view.close()  # closed while its preview may still be loading: nothing may touch it after
    wait_idle(qtbot, controller)


def test_keys_space_previews_enter_opens(qtbot, make_app, tiny_model, synth_photos, monkeypatch):
    from clipdesk.ui import desktop

    opened = []
    monkeypatch.setattr(desktop, "open_in_default_app", opened.append)
    root, photos = synth_photos
    controller, window = make_app(tiny_model)
    add_and_index(qtbot, controller, str(root))
    grid = window.search.grid
    qtbot.waitUntil(lambda: grid.photos.rowCount() == len(photos), timeout=30_000)
    grid.setFocus()
    grid.setCurrentIndex(grid.photos.index(2, 0))
    qtbot.keyClick(grid, Qt.Key.Key_Right)  # arrows move through the grid
    assert grid.current_item().id == grid.photos.item(3).id
    qtbot.keyClick(grid, Qt.Key.Key_Space)
    views = [v for v in window.findChildren(PhotoView) if v.isVisible()]
    assert len(views) == 1 and views[0].item.id == grid.photos.item(3).id
    qtbot.keyClick(views[0], Qt.Key.Key_Space)  # Space again closes the preview
    qtbot.waitUntil(lambda: not views[0].isVisible(), timeout=5000)
    qtbot.keyClick(grid, Qt.Key.Key_Return)  # Enter opens the photo view ...
    view = [v for v in window.findChildren(PhotoView) if v.isVisible()][-1]
    qtbot.keyClick(view, Qt.Key.Key_Return)  # ... and there, the photo in the default app
    assert opened == [grid.photos.item(3).path]
    view.close()
    wait_idle(qtbot, controller)


def test_the_view_dates_a_photo_as_the_grid_and_the_date_filter_do(
    qtbot, make_app, tiny_model, tmp_path
):
    """EXIF date, else the file's time, labelled as which it is: never "unknown" while the
    tooltip and the date filter use a date."""
    import datetime as dt
    import os

    from PIL import Image
    from PySide6.QtCore import QDate

    from clipdesk.ui.photo_model import describe_date

    folder = tmp_path / "dated"
    folder.mkdir()
    exif = Image.Exif()
    exif[0x0132] = "2021:07:04 10:30:00"  # DateTime
    Image.new("RGB", (96, 64), (200, 40, 40)).save(folder / "camera.jpg", exif=exif)
    Image.new("RGB", (96, 64), (40, 40, 200)).save(folder / "scan.jpg")
    modified = dt.datetime(2022, 3, 5, 12, 0).timestamp()
    os.utime(folder / "scan.jpg", (modified, modified))
    controller, window = make_app(tiny_model)
    add_and_index(qtbot, controller, str(folder))
    grid = window.search.grid
    qtbot.waitUntil(lambda: grid.photos.rowCount() == 2, timeout=30_000)

    def fields(item) -> dict[str, str]:
        window.open_photo(item)
        view = window.findChildren(PhotoView)[-1]
        qtbot.waitUntil(lambda: view.meta.rowCount() > 0, timeout=20_000)
        out = {
            view.meta.itemAt(r, view.meta.ItemRole.LabelRole).widget().text(): view.meta.itemAt(
                r, view.meta.ItemRole.FieldRole
            )
            .widget()
            .text()
            for r in range(view.meta.rowCount())
        }
        view.close()
        return out

    items = {grid.photos.item(r).name: grid.photos.item(r) for r in range(2)}
    camera, scan = fields(items["camera.jpg"]), fields(items["scan.jpg"])
    assert camera["Taken"] == describe_date(items["camera.jpg"].taken_at) == "2021-07-04 10:30"
    assert "File date" not in camera
    assert "Taken" not in scan
    assert scan["File date"].startswith(describe_date(items["scan.jpg"].taken_at))
    assert scan["File date"].startswith("2022-03-05 12:00") and "modified" in scan["File date"]

    page = window.search
    with qtbot.waitSignal(page.resultsShown, timeout=30_000):
        page.date_from.setDate(QDate(2021, 7, 4))
        page.date_to.setDate(QDate(2021, 7, 4))
        page.dates.setChecked(True)
    qtbot.waitUntil(lambda: controller.workers.pending == 0, timeout=30_000)
    assert [grid.photos.item(r).name for r in range(grid.photos.rowCount())] == ["camera.jpg"]
    wait_idle(qtbot, controller)
