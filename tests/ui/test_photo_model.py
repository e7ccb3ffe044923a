"""The photo list model: qtmodeltester, roles, drag-out URLs, removal."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from clipdesk.ui.photo_model import PhotoItem, PhotoListModel, Role

pytestmark = pytest.mark.usefixtures("no_leaks")


def _items(n: int) -> list[PhotoItem]:
    return [
        PhotoItem(i, f"/photos/p{i:03d}.jpg", score=1 - i / 100, taken_at=1.7e9 + i)
        for i in range(n)
    ]


def test_passes_qtmodeltester(qtmodeltester):
    model = PhotoListModel()
    model.set_items(_items(25))
    qtmodeltester.check(model, force_py=True)  # stays connected: checks every change below
    model.remove_ids({3, 7, 24})
    model.photo_changed(5)
    model.set_items(_items(4))
    model.set_items([])


def test_roles_and_tooltip_show_score():
    model = PhotoListModel()
    model.set_items(_items(3))
    index = model.index(1, 0)
    assert index.data(Role.PhotoId) == 1
    assert index.data(Role.Path) == "/photos/p001.jpg"
    assert index.data(Qt.ItemDataRole.DisplayRole) == "p001.jpg"
    assert "Score: 0.990" in index.data(Qt.ItemDataRole.ToolTipRole)


def test_drag_gives_file_urls():
    model = PhotoListModel()
    model.set_items(_items(3))
    mime = model.mimeData([model.index(2, 0), model.index(0, 0)])
    assert [u.toLocalFile() for u in mime.urls()] == ["/photos/p000.jpg", "/photos/p002.jpg"]
    assert model.flags(model.index(0, 0)) & Qt.ItemFlag.ItemIsDragEnabled


def test_remove_keeps_rows_consistent():
    model = PhotoListModel()
    model.set_items(_items(5))
    model.remove_ids({1, 3})
    assert [model.item(r).id for r in range(model.rowCount())] == [0, 2, 4]
    assert model.row_of(4) == 2 and model.row_of(3) is None
