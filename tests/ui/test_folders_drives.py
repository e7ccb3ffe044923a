"""The Folders page for drives that went away or moved: the purge rule shown, Remove for an
offline folder with a clear confirmation, Relocate… keeping every photo."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from tests.ui.conftest import add_and_index, wait_idle

pytestmark = pytest.mark.usefixtures("no_leaks")


def _select(qtbot, window, path):
    page = window.folders
    qtbot.waitUntil(lambda: page.model.rowCount() == 1 and page.model.folder(0).path == path)
    page.table.selectRow(0)
    return page


def _scan(qtbot, controller):
    done = []
    controller.call(lambda b, _t: b.services.folders.scan(), done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=30_000)
    controller.libraryChanged.emit()
    wait_idle(qtbot, controller)


def test_an_offline_folder_shows_the_rule_and_is_removed_only_when_confirmed(
    qtbot, make_app, tiny_model, synth_photos, tmp_path, monkeypatch
):
    root, photos = synth_photos
    folder = tmp_path / "drive" / "holiday"
    shutil.copytree(root, folder)
    controller, window = make_app(tiny_model)
    add_and_index(qtbot, controller, folder)
    next(p for p in sorted(folder.rglob("*")) if p.is_file()).unlink()
    _scan(qtbot, controller)
    page = _select(qtbot, window, str(folder))
    qtbot.waitUntil(lambda: "will be removed on" in page.purge_label.text())
    assert "1 photo missing for 30 days" in page.purge_label.text()
    assert "offline folder are never removed" in page.purge_label.text()

    shutil.rmtree(tmp_path / "drive")  # unplugged
    _scan(qtbot, controller)
    page = _select(qtbot, window, str(folder))
    qtbot.waitUntil(lambda: page.model.folder(0).status == "offline")
    asked = []

    def answer(reply):
        def question(_parent, _title, text, *_args):
            asked.append(text)
            return reply

        return question

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Cancel))
    page.remove_button.click()
    assert "is offline" in asked[0] and "decisions" in asked[0] and "Relocate" in asked[0]
    wait_idle(qtbot, controller)
    assert page.model.rowCount() == 1
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    page.remove_button.click()
    qtbot.waitUntil(lambda: page.model.rowCount() == 0, timeout=10_000)
    wait_idle(qtbot, controller)


def test_relocate_points_the_folder_at_its_new_place(
    qtbot, make_app, tiny_model, synth_photos, tmp_path, monkeypatch
):
    root, photos = synth_photos
    folder = tmp_path / "old" / "holiday"
    shutil.copytree(root, folder)
    controller, window = make_app(tiny_model)
    add_and_index(qtbot, controller, folder)
    new = tmp_path / "new" / "holiday"
    shutil.copytree(folder, new)
    shutil.rmtree(tmp_path / "old")
    page = _select(qtbot, window, str(folder))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_a, **_k: str(new))
    page.relocate_button.click()
    qtbot.waitUntil(
        lambda: page.model.rowCount() == 1 and page.model.folder(0).path == str(new),
        timeout=30_000,
    )
    wait_idle(qtbot, controller)
    row = page.model.folder(0)
    assert (row.status, row.total, row.indexed) == ("ok", len(photos), len(photos))
    qtbot.waitUntil(lambda: page.findChild(QMessageBox) is not None)
    box = page.findChild(QMessageBox)
    assert f"{len(photos)} photos kept their tags and decisions" in box.informativeText()
    box.close()
