"""The Search page's folder filter is a tree of folders and subfolders with photo counts, used
from the keyboard, and a subfolder chosen there narrows the grid to it (and below it)."""

from __future__ import annotations

import os
import shutil

import pytest
from PySide6.QtCore import QModelIndex, Qt

from clipdesk.ui.folder_filter import ALL, COUNTING, FolderFilter
from clipdesk.ui.rows import FolderChoice, FolderRow
from tests.ui.conftest import add_and_index

pytestmark = [
    pytest.mark.usefixtures("no_leaks"),
    # The tree is a popup, which grabs the keyboard where a display server exists; the
    # offscreen platform of the tests says that it cannot.
    pytest.mark.qt_log_ignore("This plugin does not support grabbing the keyboard"),
]

ODD = os.fsdecode(b"/pics/\xe9t\xe9")  # a name that is not UTF-8: its bytes must come back


def _tree() -> list[FolderChoice]:
    june = FolderChoice("/pics/2023/june", "june", 3)
    july = FolderChoice("/pics/2023/july", "july", 2)
    year = FolderChoice("/pics/2023", "2023", 5, (july, june))
    odd = FolderChoice(ODD, "\ufffdt\ufffd", 1)
    return [
        FolderChoice("/pics", "/pics", 7, (year, odd), folder_id=1),
        FolderChoice("/more", "/more", 4, folder_id=2),
    ]


def _folders() -> list[FolderRow]:
    """The watched folders as a library change brings them: 7 and 4 photos found by search."""
    return [
        FolderRow(1, "/pics", "ok", None, 8, 7, 1, 0),
        FolderRow(2, "/more", "ok", None, 4, 4, 0, 0),
    ]


def _rows(widget: FolderFilter) -> list[tuple[str, str]]:
    """(folder, count) of every row, depth first, as the tree shows them."""
    model = widget.model
    out = []

    def walk(parent) -> None:
        for row in range(model.rowCount(parent)):
            out.append((model.index(row, 0, parent).data(), model.index(row, 1, parent).data()))
            walk(model.index(row, 0, parent))

    walk(QModelIndex())
    return out


def test_the_tree_lists_all_folders_then_each_folder_and_subfolder_with_counts(qtbot):
    widget = FolderFilter()
    qtbot.addWidget(widget)
    widget.set_tree(_tree())
    assert _rows(widget) == [
        (ALL, "11"),
        ("/pics", "7"),
        ("2023", "5"),
        ("july", "2"),
        ("june", "3"),
        ("\ufffdt\ufffd", "1"),
        ("/more", "4"),
    ]
    assert widget.text() == ALL and widget.current() is None


def test_the_keyboard_opens_the_tree_walks_it_and_chooses_a_subfolder(qtbot):
    widget = FolderFilter()
    qtbot.addWidget(widget)
    widget.show()
    widget.set_tree(_tree())
    widget.setFocus()
    qtbot.keyClick(widget, Qt.Key.Key_Space)
    assert widget.popup.isVisible() and widget.tree.currentIndex().data() == ALL
    tree = widget.tree
    for key in (Qt.Key.Key_Down, Qt.Key.Key_Down):  # /pics, then 2023 (shut)
        qtbot.keyClick(tree, key)
    assert tree.currentIndex().data() == "2023"
    qtbot.keyClick(tree, Qt.Key.Key_Right)  # opens 2023
    qtbot.keyClick(tree, Qt.Key.Key_Down)
    qtbot.keyClick(tree, Qt.Key.Key_Down)
    assert tree.currentIndex().data() == "june"
    with qtbot.waitSignal(widget.folderChanged) as chosen:
        qtbot.keyClick(tree, Qt.Key.Key_Return)
    assert chosen.args == ["/pics/2023/june"] and widget.current() == "/pics/2023/june"
    assert not widget.popup.isVisible()
    assert widget.text() == "pics › 2023 › june"
    assert "/pics › 2023 › june" in widget.toolTip()

    qtbot.keyClick(widget, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    assert widget.popup.isVisible() and tree.currentIndex().data() == "june"  # where it was
    with qtbot.assertNotEmitted(widget.folderChanged):
        qtbot.keyClick(tree, Qt.Key.Key_Down)
        qtbot.keyClick(tree, Qt.Key.Key_Escape)  # closes without a change
    assert not widget.popup.isVisible() and widget.current() == "/pics/2023/june"

    with qtbot.waitSignal(widget.folderChanged) as chosen:  # a watched folder: by its id
        widget.tree.clicked.emit(widget.model.index(2, 0))
    assert chosen.args == [2] and widget.text() == "more"


def test_a_name_that_is_not_utf8_comes_back_as_its_exact_path(qtbot):
    widget = FolderFilter()
    qtbot.addWidget(widget)
    widget.set_tree(_tree())
    (index,) = widget.model.match(
        widget.model.index(0, 0),
        Qt.ItemDataRole.DisplayRole,
        "\ufffdt\ufffd",
        1,
        Qt.MatchFlag.MatchRecursive,
    )
    with qtbot.waitSignal(widget.folderChanged) as chosen:
        widget.tree.clicked.emit(index)
    assert chosen.args == [ODD] and os.fsencode(chosen.args[0]) == b"/pics/\xe9t\xe9"


def test_subfolders_are_counted_only_when_wanted_and_once_per_change(qtbot):
    widget = FolderFilter()
    qtbot.addWidget(widget)
    wanted = []
    widget.treeWanted.connect(lambda: wanted.append(True))
    widget.set_folders(_folders())  # a library change, nothing chosen, the tree shut
    assert wanted == [] and _rows(widget) == [(ALL, "11"), ("/pics", "7"), ("/more", "4")]
    widget.show_tree()  # opened: the subfolders are asked for, once
    widget.show_tree()
    assert wanted == [True] and _rows(widget)[-1] == (COUNTING, "")
    widget.set_tree(_tree())
    assert ("june", "3") in _rows(widget) and COUNTING not in dict(_rows(widget))
    widget.popup.hide()
    widget.show_tree()  # nothing changed: no new count
    assert wanted == [True]
    widget.popup.hide()
    widget.select("/pics/2023/june")
    widget.set_folders(_folders())  # a change while a subfolder is the filter: counted again
    assert wanted == [True, True]
    assert ("june", "3") in _rows(widget)  # the known subfolders stay on show meanwhile
    widget.tree_failed("The library is locked.")
    assert "could not be counted: The library is locked." in _rows(widget)[-1][0]
    widget.popup.hide()


def test_new_counts_keep_the_choice_and_a_folder_gone_falls_back_to_all(qtbot):
    widget = FolderFilter()
    qtbot.addWidget(widget)
    widget.set_tree(_tree())
    widget.select("/pics/2023/june")
    year = widget.model.index(0, 0, widget.model.index(1, 0))
    widget.tree.setExpanded(year, True)
    with qtbot.assertNotEmitted(widget.folderChanged):
        widget.set_tree(_tree())
    assert widget.current() == "/pics/2023/june"
    assert widget.tree.isExpanded(widget.model.index(0, 0, widget.model.index(1, 0)))
    with qtbot.waitSignal(widget.folderChanged) as chosen:
        widget.set_tree([FolderChoice("/more", "/more", 4, folder_id=2)])
    assert chosen.args == [None] and widget.text() == ALL
    widget.select(2)
    with qtbot.waitSignal(widget.folderChanged) as chosen:  # its watched folder removed
        widget.set_folders(_folders()[:1])
    assert chosen.args == [None]


def test_choosing_a_subfolder_narrows_the_grid_to_it_and_below(
    qtbot, make_app, tiny_model, synth_photos, tmp_path
):
    root, photos = synth_photos  # itself a tree: 2023/summer/beach, 2024, misc
    pics = tmp_path / "pics"
    shutil.copytree(root, pics / "Trips")
    shutil.copytree(root, pics / "Trips" / "Extra")
    shutil.copytree(root, pics / "Trips2")  # a sibling sharing the name as a prefix
    controller, window = make_app(tiny_model)
    add_and_index(qtbot, controller, str(pics))
    page = window.search
    trips = str(pics / "Trips")
    qtbot.waitUntil(lambda: page.grid.photos.rowCount() == 3 * len(photos), timeout=30_000)
    qtbot.waitUntil(lambda: str(pics) in page.folder.paths(), timeout=30_000)
    page.folder.show_tree()
    qtbot.waitUntil(lambda: trips in page.folder.paths(), timeout=30_000)
    page.folder.popup.hide()
    counts = dict(_rows(page.folder))
    assert counts[str(pics)] == f"{3 * len(photos)}" and counts["Trips"] == f"{2 * len(photos)}"
    assert counts["Extra"] == counts["Trips2"] == f"{len(photos)}"
    assert str(pics / "Trips" / "Extra" / "2023" / "summer") in page.folder.paths()
    with qtbot.waitSignal(page.resultsShown, timeout=30_000):
        page.folder.select(trips)
    assert page.grid.photos.rowCount() == 2 * len(photos)
    assert all(
        page.grid.photos.item(r).path.startswith(trips + os.sep)
        for r in range(page.grid.photos.rowCount())
    )
    with qtbot.waitSignal(page.resultsShown, timeout=30_000):
        page.box.set_text("a red star")
    assert 0 < page.grid.photos.rowCount() <= 2 * len(photos)
    assert all(
        page.grid.photos.item(r).path.startswith(trips + os.sep)
        for r in range(page.grid.photos.rowCount())
    )
