"""Real files whose names are not valid UTF-8 are scanned, watched and moved like any other photo
(issue 14.10): the library keeps their exact bytes, a rename keeps the photo's id and vector, and
the photos with ordinary names are unaffected."""

from __future__ import annotations

import os
import time
from pathlib import Path

from clipdesk.library.records import PhotoStatus
from clipdesk.library.store import Library
from clipdesk.scanning.scanner import Scanner
from clipdesk.scanning.watcher import Watcher
from tests.support.photofiles import index_all, make_photo


def _latin1(folder: Path, name: bytes, seed: int) -> bytes:
    """A real photo at ``folder/name`` (name: raw bytes); returns its full path as bytes."""
    temp = make_photo(folder / f"tmp{seed}.webp", seed)
    target = os.path.join(os.fsencode(folder), name)
    os.rename(temp, target)
    return target


def _by_bytes(lib: Library) -> dict[bytes, tuple[int, PhotoStatus]]:
    return {os.fsencode(p.path): (p.id, p.status) for p in lib.photos()}


def test_a_scan_stores_the_exact_bytes_and_a_rescan_changes_nothing(tmp_path):
    root = tmp_path / "pics"
    make_photo(root / "plain.jpg", 1)
    odd = _latin1(root, b"caf\xe9.webp", 2)
    sub = os.path.join(os.fsencode(root), b"F\xf6rien")  # a folder named in Latin-1 too
    os.mkdir(sub)
    deep = _latin1(Path(os.fsdecode(sub)), b"\xe9t\xe9.webp", 3)
    with Library(tmp_path / "lib.sqlite3") as lib:
        scanner = Scanner(lib)
        _folder, changes = scanner.add_folder(root)
        assert len(changes.added) == 3 and not changes.errors and not changes.problems
        rows = _by_bytes(lib)
        assert set(rows) == {os.fsencode(root / "plain.jpg"), odd, deep}
        index_all(lib)
        again = scanner.reconcile()
        assert again.empty and again.unchanged == 3  # "every later index crashes" before
        assert {s for _, s in _by_bytes(lib).values()} == {PhotoStatus.OK}
        assert lib.photo_by_path(os.fsdecode(odd)).id == rows[odd][0]


def test_the_watcher_follows_a_rename_to_and_from_a_latin1_name(tmp_path):
    root = tmp_path / "pics"
    make_photo(root / "plain.jpg", 1)
    make_photo(root / "cafe.webp", 2)
    lib = Library(tmp_path / "lib.sqlite3")
    scanner = Scanner(lib)
    scanner.add_folder(root)
    index_all(lib)
    ids = {os.path.basename(p.path): p.id for p in lib.photos()}
    watcher = Watcher(scanner, debounce_s=0.1, settle_s=0.2, check_interval_s=0.3)
    watcher.start()
    odd = os.path.join(os.fsencode(root), b"caf\xe9.webp")
    try:
        os.rename(root / "cafe.webp", odd)
        _wait(lambda: odd in _by_bytes(lib))
        assert _by_bytes(lib)[odd] == (ids["cafe.webp"], PhotoStatus.OK)  # same id, vector kept
        back = os.path.join(os.fsencode(root), b"caf\xe9 (2).webp")
        os.rename(odd, back)
        _wait(lambda: back in _by_bytes(lib))
        assert _by_bytes(lib)[back] == (ids["cafe.webp"], PhotoStatus.OK)
        assert len(lib.photos()) == 2 and lib.embedding_models() == {"test-model": 2}
        assert _by_bytes(lib)[os.fsencode(root / "plain.jpg")] == (ids["plain.jpg"], PhotoStatus.OK)
    finally:
        watcher.stop()
        lib.close()


def _wait(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the watcher")
        time.sleep(0.05)
