"""Only regular files are ever opened (issue 14.11): a FIFO, a socket or a link to a device named
``*.jpg`` in a watched folder is reported as "not a regular file (...)" and skipped, and scanning,
indexing and watching go on with the real photos in bounded time."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from clipdesk.common.regular_files import NotARegularFileError, open_regular
from clipdesk.library.records import PhotoStatus
from clipdesk.library.store import Library
from clipdesk.scanning.examine import examine
from clipdesk.scanning.scanner import Scanner
from clipdesk.scanning.watcher import Watcher
from tests.support.photofiles import make_photo

pytestmark = pytest.mark.skipif(os.name != "posix", reason="FIFOs and UNIX sockets")

SPECIAL = {
    "pipe.jpg": "not a regular file (FIFO)",
    "sock.jpg": "not a regular file (socket)",
    "zero.jpg": "not a regular file (character device)",
}


def _within(seconds: float, fn: Callable[[], Any]) -> Any:
    """fn()'s result, or a test failure if it has not returned after ``seconds`` (the old code
    blocked forever on a FIFO; the thread is left to the FIFO's unblocking at teardown)."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # handed to the test thread
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"still running after {seconds} s (blocked on a special file?)")
    if "error" in out:
        raise out["error"]
    return out.get("value")


@pytest.fixture
def specials(tmp_path: Path) -> Iterator[Path]:
    """A folder holding two photos and a FIFO, a socket and a /dev/zero link named like photos."""
    root = tmp_path / "pics"
    make_photo(root / "a.jpg", 1)
    make_photo(root / "b.jpg", 2)
    os.mkfifo(root / "pipe.jpg")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(root / "sock.jpg"))
    os.symlink("/dev/zero", root / "zero.jpg")
    try:
        yield root
    finally:
        sock.close()
        _unblock(root / "pipe.jpg")


def _unblock(fifo: Path) -> None:
    """Give any reader stuck on ``fifo`` its end of file."""
    with contextlib.suppress(OSError):  # ENXIO: no reader waiting
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def _rows(lib: Library) -> dict[str, PhotoStatus]:
    return {os.path.basename(p.path): p.status for p in lib.photos()}


def test_open_regular_refuses_what_is_not_a_regular_file_without_blocking(specials):
    for name, reason in SPECIAL.items():
        with pytest.raises(NotARegularFileError) as err:
            _within(5, lambda n=name: open_regular(specials / n))
        assert err.value.strerror == reason and isinstance(err.value, OSError)
    with open_regular(specials / "a.jpg") as fh:
        assert fh.read(2) == b"\xff\xd8"


def test_examining_a_fifo_records_why_instead_of_blocking(specials):
    facts = _within(5, lambda: examine(str(specials / "pipe.jpg")))
    assert facts is not None and facts.error == "not a regular file (FIFO)"
    assert facts.content_hash is None


def test_a_scan_reports_special_files_and_adds_only_the_photos(specials, tmp_path):
    with Library(tmp_path / "lib.sqlite3") as lib:
        _folder, changes = _within(20, lambda: Scanner(lib).add_folder(specials))
        assert _rows(lib) == {"a.jpg": PhotoStatus.PENDING, "b.jpg": PhotoStatus.PENDING}
        reported = {os.path.basename(p): r for p, r in changes.problems}
        assert reported == SPECIAL
        (folder,) = lib.folders()
        assert folder.error is not None and "not a regular file (FIFO)" in folder.error


def test_the_watcher_skips_new_special_files_and_indexes_the_photo_after_them(tmp_path):
    root = tmp_path / "pics"
    make_photo(root / "a.jpg", 1)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lib = Library(tmp_path / "lib.sqlite3")
    scanner = Scanner(lib)
    scanner.add_folder(root)
    watcher = Watcher(scanner, debounce_s=0.1, settle_s=0.2, check_interval_s=0.3)
    watcher.start()
    try:
        os.mkfifo(root / "pipe.jpg")
        sock.bind(str(root / "sock.jpg"))
        os.symlink("/dev/zero", root / "zero.jpg")
        time.sleep(0.05)  # the photo arrives after them (sorted after them, too)
        make_photo(root / "z_later.jpg", 3)
        deadline = time.monotonic() + 15
        while "z_later.jpg" not in _rows(lib) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _rows(lib) == {"a.jpg": PhotoStatus.PENDING, "z_later.jpg": PhotoStatus.PENDING}
        reported = scanner.reconcile_paths([root / n for n in SPECIAL]).problems
        assert {os.path.basename(p): r for p, r in reported} == SPECIAL
    finally:
        started = time.monotonic()
        watcher.stop(timeout=10)
        stopped_in = time.monotonic() - started
        _unblock(root / "pipe.jpg")
        sock.close()
        lib.close()
    assert stopped_in < 3  # the old code sat in open() on the FIFO: stop() waited it out


def test_index_with_the_demo_model_finishes_with_the_real_photos_only(specials, tmp_path):
    from clipdesk.services.app import ClipDeskServices

    def add_and_index():
        with ClipDeskServices(tmp_path / "lib.sqlite3", device="cpu") as app:
            added = app.folders.add(specials)
            app.index()
            return added.changes, _rows(app.library)

    changes, rows = _within(120, add_and_index)
    assert rows == {"a.jpg": PhotoStatus.OK, "b.jpg": PhotoStatus.OK}
    assert {os.path.basename(p): r for p, r in changes.problems} == SPECIAL
