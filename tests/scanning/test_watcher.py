"""Live watching: events become reconciled changes; copies in progress; unplugged folders; bursts."""

from __future__ import annotations

import os
import random
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from clipdesk.library.records import FolderStatus, PhotoStatus
from clipdesk.library.store import Library
from clipdesk.scanning.scanner import ChangeSet, Scanner
from clipdesk.scanning.watcher import Watcher
from tests.support.photofiles import index_all, make_photo, present_paths
from tests.support.watching import disk_files, random_burst, wait_until


class Recorder:
    def __init__(self) -> None:
        self.changes: list[ChangeSet] = []
        self.lock = threading.Lock()

    def __call__(self, changes: ChangeSet) -> None:
        with self.lock:
            self.changes.append(changes)

    def all(self, name: str) -> list:
        with self.lock:
            return [x for c in self.changes for x in getattr(c, name)]


@pytest.fixture
def setup(tmp_path):
    root = tmp_path / "Pictures"
    for i in range(3):
        make_photo(root / f"p{i}.jpg", seed=i)
    lib = Library(tmp_path / "lib.sqlite3")
    scanner = Scanner(lib)
    scanner.add_folder(root)
    index_all(lib)
    rec = Recorder()
    watcher = Watcher(scanner, rec, debounce_s=0.1, settle_s=0.2, check_interval_s=0.3)
    watcher.start()
    yield lib, root, watcher, rec
    watcher.stop()
    assert not watcher.running
    lib.close()


def settled(lib: Library, watcher: Watcher, *roots: Path) -> Callable[[], bool]:
    return lambda: watcher.idle() and present_paths(lib) == disk_files(*roots)


def test_create_modify_rename_delete_while_watching(setup):
    lib, root, watcher, rec = setup
    ids = {p.path.name: p.id for p in lib.photos()}
    make_photo(root / "new" / "n.jpg", seed=10)
    os.rename(root / "p0.jpg", root / "renamed.jpg")
    os.remove(root / "p1.jpg")
    make_photo(root / "p2.jpg", seed=20)  # edited in place
    wait_until(settled(lib, watcher, root), what="library == disk")
    wait_until(lambda: ids["p2.jpg"] in rec.all("changed"), what="edit seen")
    renamed = lib.photo_by_path(root / "renamed.jpg")
    assert renamed.id == ids["p0.jpg"] and renamed.status == PhotoStatus.OK
    assert ids["p0.jpg"] in rec.all("moved")
    assert lib.photo(ids["p1.jpg"]).status == PhotoStatus.MISSING
    assert lib.photo(ids["p2.jpg"]).status == PhotoStatus.PENDING
    assert lib.photo_by_path(root / "new" / "n.jpg").status == PhotoStatus.PENDING
    assert ids["p0.jpg"] not in rec.all("missing")  # a rename never passes through "missing"


def test_a_file_being_copied_is_indexed_once_complete(setup):
    lib, root, watcher, rec = setup
    source = make_photo(root.parent / "big.jpg", seed=5, size=256).read_bytes()
    target = root / "copying.jpg"
    watcher.settle_s = 2.0  # a slow copy: pauses longer than the debounce, shorter than this
    step = max(1, len(source) // 8)
    with open(target, "wb") as fh:
        for start in range(0, len(source), step):
            fh.write(source[start : start + step])
            fh.flush()
            time.sleep(0.15)
    wait_until(lambda: lib.photo_by_path(target) is not None and watcher.idle(), what="copy seen")
    photo = lib.photo_by_path(target)
    assert photo.size == len(source)
    assert rec.all("added").count(photo.id) == 1 and photo.id not in rec.all("changed")


def test_bursts_on_one_file_are_coalesced(setup):
    lib, root, watcher, rec = setup
    watcher.debounce_s = 1.0  # generous: a loaded CI machine may pause between two writes
    for seed in range(30):
        make_photo(root / "busy.jpg", seed=100 + seed)
    wait_until(lambda: lib.photo_by_path(root / "busy.jpg") is not None and watcher.idle())
    pid = lib.photo_by_path(root / "busy.jpg").id
    assert rec.all("added").count(pid) + rec.all("changed").count(pid) <= 2


def test_directory_moves_keep_photos(setup):
    lib, root, watcher, rec = setup
    for i in range(4):
        make_photo(root / "album" / f"a{i}.jpg", seed=30 + i)
    wait_until(settled(lib, watcher, root))
    ids = {p.path.name: p.id for p in lib.photos()}
    os.rename(root / "album", root / "album-2024")
    wait_until(settled(lib, watcher, root), what="directory move")
    for i in range(4):
        assert lib.photo_by_path(root / "album-2024" / f"a{i}.jpg").id == ids[f"a{i}.jpg"]


def test_unplugged_folder_goes_offline_and_returns_while_watching(setup, tmp_path):
    lib, root, watcher, rec = setup
    folder = lib.folders()[0]
    before = {p.id: (p.status, p.path) for p in lib.photos()}
    shutil.move(root, tmp_path / "drive")
    wait_until(lambda: lib.folder(folder.id).status == FolderStatus.OFFLINE, what="offline")
    wait_until(watcher.idle)
    assert rec.all("missing") == [] and lib.counts()["offline"] == 3
    shutil.move(tmp_path / "drive", root)
    wait_until(lambda: lib.folder(folder.id).status == FolderStatus.OK, what="back online")
    wait_until(watcher.idle)
    assert {p.id: (p.status, p.path) for p in lib.photos()} == before
    make_photo(root / "after.jpg", seed=77)  # watching resumed on the returned folder
    wait_until(lambda: lib.photo_by_path(root / "after.jpg") is not None, what="new watch")


def test_without_live_watches_the_periodic_rescan_keeps_up(tmp_path, monkeypatch, caplog):
    import errno

    from clipdesk.scanning import watcher as watcher_module

    class NoWatches(watcher_module.Observer):
        def schedule(self, *args, **kwargs):
            raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(watcher_module, "Observer", NoWatches)
    root = tmp_path / "P"
    root.mkdir()
    lib = Library(tmp_path / "lib.sqlite3")
    scanner = Scanner(lib)
    scanner.add_folder(root)
    watcher = Watcher(scanner, debounce_s=0.1, check_interval_s=0.2, full_rescan_s=0.5)
    with watcher:
        make_photo(root / "x.jpg", seed=1)
        wait_until(lambda: lib.photo_by_path(root / "x.jpg") is not None, what="rescan")
    assert sum("cannot watch" in r.getMessage() for r in caplog.records) == 1
    lib.close()


def test_stop_is_prompt_and_leaves_no_thread(tmp_path):
    lib = Library(tmp_path / "lib.sqlite3")
    watcher = Watcher(Scanner(lib))
    watcher.start()
    start = time.monotonic()
    watcher.stop()
    assert time.monotonic() - start < 5 and not watcher.running
    lib.close()


@pytest.mark.slow
def test_burst_of_5000_events_leaves_library_equal_to_disk(tmp_path):
    """Reliability: creates, renames and deletes in a burst; the library must equal the disk."""
    root = tmp_path / "burst"
    root.mkdir()
    lib = Library(tmp_path / "lib.sqlite3")
    scanner = Scanner(lib, with_metadata=False)
    scanner.add_folder(root)
    watcher = Watcher(scanner, debounce_s=0.2, settle_s=0.2, check_interval_s=1.0)
    watcher.start()
    rng = random.Random(0)
    template = make_photo(tmp_path / "t.jpg", seed=1).read_bytes()
    live = random_burst(root, template, rng, 5000)
    try:
        wait_until(settled(lib, watcher, root), timeout=300, what="library == disk after burst")
        assert {str(p) for p in live} == present_paths(lib)
        rows = (
            lib.connection().execute("SELECT count(*), count(DISTINCT path) FROM photos").fetchone()
        )
        assert rows[0] == rows[1]
        assert lib.integrity_check() == "ok"
    finally:
        watcher.stop()
        lib.close()
