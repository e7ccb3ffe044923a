"""The app shows a photo whose file name is not valid UTF-8 (issue 14.10): U+FFFD where a byte is
not UTF-8 (Qt would silently drop it), while its thumbnail, drag-out URL and "Open" use the
file's own bytes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem

from clipdesk.ui.delegate import ThumbnailDelegate
from clipdesk.ui.photo_model import PhotoItem, PhotoListModel
from clipdesk.ui.rows import PhotoDetails
from clipdesk.ui.thumbnails import ThumbnailCache
from tests.support.photofiles import make_photo

pytestmark = pytest.mark.usefixtures("no_leaks")


@pytest.fixture
def odd(tmp_path: Path) -> str:
    temp = make_photo(tmp_path / "tmp.webp", 1, size=200)
    target = os.path.join(os.fsencode(tmp_path), b"caf\xe9.webp")
    os.rename(temp, target)
    return os.fsdecode(target)


def test_the_grid_shows_the_name_with_a_replacement_character(odd):
    model = PhotoListModel()
    model.set_items([PhotoItem(1, odd)])
    index = model.index(0, 0)
    assert index.data(Qt.ItemDataRole.DisplayRole) == "caf\ufffd.webp"
    assert index.data(Qt.ItemDataRole.ToolTipRole).splitlines()[0].endswith("/caf\ufffd.webp")
    details = PhotoDetails(odd, 1, None, None, 0.0, False, None, "ok", None, ())
    assert dict(details.fields())["File"] == "caf\ufffd.webp"


def test_a_dragged_photo_names_the_files_own_bytes(odd):
    model = PhotoListModel()
    model.set_items([PhotoItem(1, odd)])
    (url,) = model.mimeData([model.index(0, 0)]).urls()
    assert bytes(url.toEncoded()).endswith(b"/caf%E9.webp")


def test_the_thumbnail_is_made_from_the_exact_path(qtbot, workers, odd):
    cache = ThumbnailCache(workers)
    asked: list[str] = []
    real_get = cache.get

    def get(photo_id: int, path: str, cell: int | None = None):
        asked.append(path)
        return real_get(photo_id, path, cell)

    cache.get = get  # type: ignore[method-assign]
    model = PhotoListModel()
    model.set_items([PhotoItem(1, odd)])
    delegate = ThumbnailDelegate(cache)
    image = QImage(200, 200, QImage.Format.Format_RGB32)
    option = QStyleOptionViewItem()
    option.rect = QRect(0, 0, 160, 180)
    with qtbot.waitSignal(cache.ready, timeout=10_000):
        painter = QPainter(image)
        delegate.paint(painter, option, model.index(0, 0))
        painter.end()
    assert asked == [odd]  # not Qt's copy of the text, which lost the byte
    assert cache.error(1) is None and cache.get(1, odd) is not None
