"""The Folders page's "Retry failed": photos in error are queued again and indexed."""

from __future__ import annotations

import pytest

from tests.support.photofiles import make_photo
from tests.ui.conftest import add_and_index, wait_idle

pytestmark = pytest.mark.usefixtures("no_leaks")


def test_retry_failed_queues_the_folders_errors_and_indexes_them(
    qtbot, make_app, tiny_model, tmp_path
):
    folder = tmp_path / "holiday"
    for i in range(3):
        make_photo(folder / f"p{i}.jpg", seed=i)
    controller, window = make_app(tiny_model)
    add_and_index(qtbot, controller, folder)
    library = controller.backend.services.library
    photo = library.photo_by_path(folder / "p1.jpg")
    # as a decoder that was missing a plugin would have left it: no file change will retry it
    assert library.mark_error(photo.id, "no decoder for this HEIF variant")
    page = window.folders
    page.reload()
    qtbot.waitUntil(lambda: page.model.rowCount() == 1 and page.model.folder(0).errors == 1)
    page.table.setCurrentIndex(page.model.index(0, 0))
    with qtbot.waitSignal(controller.jobs.finished, timeout=120_000):
        page.retry_button.click()
    wait_idle(qtbot, controller)
    assert library.photo(photo.id).status == "ok"
    qtbot.waitUntil(lambda: page.model.folder(0).errors == 0, timeout=10_000)
