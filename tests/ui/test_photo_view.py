"""Photo view: metadata and tags, confirm from the view, arrows walk the grid, closing is safe."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from clipdesk.ui.photo_view import PhotoView
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
    tag = view.tags.item(0).data(Qt.ItemDataRole.UserRole)
    with qtbot.waitSignal(view.tagsChanged, timeout=10_000):
        qtbot.keyClick(view, Qt.Key.Key_C)
    qtbot.waitUntil(
        lambda: view.tags.count() and "(confirmed)" in view.tags.item(0).text(), timeout=10_000
    )
    assert f"{tag.category}: {tag.label}" in view.tags.item(0).text()

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
