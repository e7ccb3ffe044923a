"""The photo list model: qtmodeltester, roles, drag-out URLs, removal."""

from __future__ import annotations

import numpy as np
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


def test_the_tooltip_says_why_a_search_found_the_photo():
    model = PhotoListModel()
    model.set_items(
        [
            PhotoItem(1, "/p/receipt.png", 0.21, 1.7e9, ("clip", "ocr"), "ACME [Invoice] 2023"),
            PhotoItem(2, "/p/bill.png", None, 1.7e9, ("ocr", "name", "tags"), "[invoice].png"),
            PhotoItem(3, "/p/sky.png", 0.3, 1.7e9, ("clip",)),
        ]
    )
    tip = model.index(0, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert "Score: 0.210" in tip and "Matched by CLIP and text in the photo" in tip
    assert "“ACME [Invoice] 2023”" in tip
    tip = model.index(1, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert "Score" not in tip and "Matched by text in the photo, file name and tag" in tip
    assert model.index(1, 0).data(Role.MatchedBy) == ("ocr", "name", "tags")
    assert model.index(2, 0).data(Role.Snippet) is None
    assert "Matched by CLIP\n" in model.index(2, 0).data(Qt.ItemDataRole.ToolTipRole)


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


def _paged(n: int, reads: list[tuple[int, int]]):
    from clipdesk.ui.photo_rows import PhotoRows

    def read(ids, scores):
        reads.append((int(ids[0]), len(ids)))
        return [
            PhotoItem(int(i), f"/photos/p{int(i):04d}.jpg", float(s))
            for i, s in zip(ids, scores, strict=True)
        ]

    ids = np.arange(n)[::-1].copy()
    return PhotoRows(ids, np.linspace(1, 0, n, dtype=np.float32), read=read, page=100)


def test_paged_rows_pass_qtmodeltester_and_read_a_page_when_painted(qtbot, qtmodeltester):
    reads: list[tuple[int, int]] = []
    tested = PhotoListModel()
    tested.set_rows(_paged(1000, reads))
    qtmodeltester.check(tested, force_py=True)  # placeholders, then the rows it asked for
    qtbot.waitUntil(lambda: len(reads) > 0 and not tested._later.isActive())

    reads.clear()
    model = PhotoListModel()
    model.set_rows(_paged(1000, reads))
    index = model.index(450, 0)
    assert index.data(Role.Item) is None and index.data(Role.PhotoId) == 549  # a placeholder
    assert index.data(Role.Score) == pytest.approx(1 - 450 / 999)
    with qtbot.waitSignal(model.dataChanged) as changed:
        pass  # the page is read once the frame's requests are gathered
    assert reads == [(599, 100)]
    assert [changed.args[0].row(), changed.args[1].row()] == [400, 499]
    assert index.data(Role.Item).path == "/photos/p0549.jpg"
    assert model.row_of(549) == 450 and model.row_of(3) == 996  # read or not
    mime = model.mimeData([model.index(451, 0), model.index(0, 0)])  # a row never painted
    assert [u.toLocalFile() for u in mime.urls()] == ["/photos/p0999.jpg", "/photos/p0548.jpg"]
    assert reads[-1] == (999, 100)
    model.remove_ids({549, 999})
    assert model.rowCount() == 998 and model.item(449).id == 548 and model.item(0).id == 998
