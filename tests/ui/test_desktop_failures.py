"""Opening a photo in its default app or showing it in the file manager never fails silently:
a file that is gone, or a desktop with no program to hand it to, is said in the status bar and
in a message that says what to do - from the grid's menu and from the photo view alike."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox, QPushButton

from clipdesk.ui import desktop
from clipdesk.ui.photo_model import PhotoItem
from clipdesk.ui.photo_view import PhotoView

pytestmark = pytest.mark.usefixtures("no_leaks")


@pytest.fixture
def no_launcher(monkeypatch) -> list[str]:
    """A desktop without xdg-open or a default application: Qt's openUrl says False."""
    asked: list[str] = []

    def refuse(url) -> bool:
        asked.append(url.toString())
        return False

    monkeypatch.setattr(QDesktopServices, "openUrl", refuse)
    return asked


def test_a_file_that_is_gone_is_said_before_any_program_is_asked(tmp_path, no_launcher):
    gone = str(tmp_path / "IMG_0001.jpg")
    for how in (desktop.open_in_default_app, desktop.reveal_in_file_manager):
        problem = how(gone)
        assert problem is not None and "is not there any more" in problem.message
        assert "moved, renamed or deleted" in problem.hint
    assert no_launcher == []


def test_no_program_to_open_or_show_it_with_says_what_to_install(tmp_path, no_launcher):
    photo = tmp_path / "IMG_0001.jpg"
    photo.write_bytes(b"jpeg")
    opened = desktop.open_in_default_app(str(photo))
    assert opened is not None and "No application could be started" in opened.message
    shown = desktop.reveal_in_file_manager(str(photo))
    assert shown is not None and "No file manager could be started" in shown.message
    assert "xdg-utils" in opened.hint and "Copy path" in opened.hint
    assert len(no_launcher) == 2


def test_a_launcher_that_starts_is_no_problem(tmp_path, monkeypatch):
    photo = tmp_path / "IMG_0001.jpg"
    photo.write_bytes(b"jpeg")
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda _url: True)
    assert desktop.open_in_default_app(str(photo)) is None
    assert desktop.reveal_in_file_manager(str(photo)) is None


def _boxes(parent) -> list[QMessageBox]:
    return [b for b in parent.findChildren(QMessageBox) if b.isVisible()]


def test_the_grids_open_and_show_tell_the_user_when_they_fail(
    qtbot, make_app, tiny_model, tmp_path, no_launcher
):
    controller, window = make_app(tiny_model, start=False)
    photo = tmp_path / "IMG_0001.jpg"
    photo.write_bytes(b"jpeg")
    grid = window.search.grid
    grid.openExternally.emit(PhotoItem(1, str(photo)))
    qtbot.waitUntil(lambda: bool(_boxes(window)), timeout=5000)
    (box,) = _boxes(window)
    assert "No application could be started to open IMG_0001.jpg" in box.text()
    assert "xdg-utils" in box.informativeText()
    assert "No application could be started" in window.statusBar().currentMessage()
    box.close()
    grid.revealRequested.emit(PhotoItem(2, str(tmp_path / "gone.jpg")))
    qtbot.waitUntil(lambda: bool(_boxes(window)), timeout=5000)
    (box,) = _boxes(window)
    assert "gone.jpg is not there any more" in box.text()
    box.close()


def test_the_photo_views_buttons_and_enter_tell_the_user_when_they_fail(
    qtbot, make_app, tiny_model, tmp_path, no_launcher
):
    from PySide6.QtCore import Qt

    controller, window = make_app(tiny_model, start=False)
    photo = tmp_path / "IMG_0001.jpg"
    photo.write_bytes(b"not really a jpeg")
    view = PhotoView(controller, PhotoItem(1, str(photo)), window)
    view.show()
    notices = []
    controller.noticeRaised.connect(notices.append)
    buttons = {b.text(): b for b in view.findChildren(QPushButton)}
    for button, said in (
        ("Open", "No application could be started"),
        ("Show in folder", "No file manager could be started"),
    ):
        qtbot.mouseClick(buttons[button], Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: bool(_boxes(view)), timeout=5000)
        (box,) = _boxes(view)
        assert said in box.text() and box.informativeText()
        box.close()
        qtbot.waitUntil(lambda: not _boxes(view), timeout=5000)
    qtbot.keyClick(view, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bool(_boxes(view)), timeout=5000)
    _boxes(view)[0].close()
    assert len(notices) == 3 and all("could be started" in n for n in notices)
    view.close()
