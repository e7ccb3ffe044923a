"""Drives that are not there: their photos are offline, never missing, however many scans run.

Mount points are simulated (tests/support/fake_drives.py reports another st_dev below a
directory); tests/scanning/test_real_mount.py does the same with real tmpfs mounts.
"""

from __future__ import annotations

import os
import shutil

import pytest

from clipdesk.library.records import FolderStatus, PhotoStatus
from clipdesk.library.store import Library
from clipdesk.scanning.scanner import PURGE_SETTING, Scanner
from clipdesk.tags.store.tag_store import TagStore
from tests.support.fake_drives import FakeDrives
from tests.support.photofiles import index_all, make_photo


@pytest.fixture
def lib(tmp_path):
    with Library(tmp_path / "lib.sqlite3") as library:
        yield library


@pytest.fixture
def drives(monkeypatch):
    return FakeDrives(monkeypatch)


def photos(base, names, seed=0):
    return [make_photo(base / n, seed=seed + i) for i, n in enumerate(names)]


def decide(lib, ids):
    """Confirm one label on the first half of ``ids``, reject another on the rest."""
    tags = TagStore(lib)
    cat = tags.categories()[0]
    half = len(ids) // 2
    tags.set_decision(ids[:half], cat.name, cat.labels[0].name, "confirmed")
    tags.set_decision(ids[half:], cat.name, cat.labels[1].name, "rejected")


def decisions(lib):
    tags = TagStore(lib)
    return sorted(
        (pid, label, str(state))
        for cat in tags.categories()
        for pid, label, state in tags.category_decisions(cat.name)
    )


def state(lib):
    return {p.id: (p.status, p.path) for p in lib.photos()}


def ids_under(lib, directory):
    return sorted(p.id for p in lib.photos() if str(p.path).startswith(str(directory) + os.sep))


def test_an_unmounted_drive_stays_offline_through_every_scan_and_the_purge(lib, tmp_path):
    root = tmp_path / "Drive"
    photos(root, [f"p{i}.jpg" for i in range(6)])
    scanner = Scanner(lib)
    folder, _ = scanner.add_folder(root)
    index_all(lib)
    decide(lib, [p.id for p in lib.photos()])
    before, decided = state(lib), decisions(lib)
    shutil.move(root, tmp_path / "unplugged")
    root.mkdir()  # the mount point stays behind, empty
    for _ in range(4):
        assert scanner.reconcile().missing == []
        assert scanner.check_folders().missing == []
        assert lib.counts()["offline"] == 6 and lib.counts()["missing"] == 0
    lib.set_setting(PURGE_SETTING, 0)
    scanner.reconcile()
    assert len(lib.photos()) == 6
    root.rmdir()
    shutil.move(tmp_path / "unplugged", root)  # mounted again
    assert scanner.check_folders().online_folders == [folder.id]
    assert state(lib) == before and decisions(lib) == decided


@pytest.mark.parametrize("left_behind", ["empty", "stray file", "absent", "broken link"])
def test_a_drive_mounted_inside_a_folder_keeps_its_photos_offline(
    lib, tmp_path, drives, left_behind
):
    root = tmp_path / "Pictures"
    photos(root, ["a.jpg", "b.jpg"], seed=50)
    usb = tmp_path / "usb"
    if left_behind == "broken link":  # people link other drives into their Pictures
        os.symlink(usb, root / "album")
    album = root / "album"
    photos(usb if left_behind == "broken link" else album, ["c.jpg", "d.jpg", "e.jpg", "f.jpg"])
    drives.mount(album)
    scanner = Scanner(lib)
    folder, _ = scanner.add_folder(root)
    index_all(lib)
    on_drive = ids_under(lib, album)
    assert len(on_drive) == 4
    decide(lib, on_drive)
    before, decided = state(lib), decisions(lib)

    stash = tmp_path / "stash"
    shutil.move(usb if left_behind == "broken link" else album, stash)
    drives.unmount(album)
    if left_behind in ("empty", "stray file"):
        album.mkdir()
    if left_behind == "stray file":
        (album / "README.txt").write_text("the USB drive mounts here")
    for _ in range(3):
        changes = scanner.reconcile()
        assert changes.missing == []
        assert scanner.check_folders().missing == []
        assert {lib.photo(i).status for i in on_drive} == {PhotoStatus.OFFLINE}
        assert {p.status for p in lib.photos() if p.id not in on_drive} == {PhotoStatus.OK}
    found = lib.folder(folder.id)
    assert found.status == FolderStatus.OK and "album" in found.error
    lib.set_setting(PURGE_SETTING, 0)
    scanner.reconcile()
    assert len(lib.photos()) == 6

    if left_behind == "stray file":
        shutil.rmtree(album)
    elif left_behind == "empty":
        album.rmdir()
    shutil.move(stash, usb if left_behind == "broken link" else album)
    drives.mount(album)  # a new device number, as a replugged drive may get
    changes = scanner.check_folders()  # the watcher's periodic check notices
    assert sorted(changes.restored) == on_drive and changes.missing == []
    assert state(lib) == before and decisions(lib) == decided
    assert lib.folder(folder.id).error is None


def test_a_root_on_another_drive_with_none_of_its_photos_is_offline(lib, tmp_path, drives):
    root = tmp_path / "Card"
    photos(root, ["x.jpg", "y.jpg", "z.jpg"], seed=70)
    first = drives.mount(root)
    scanner = Scanner(lib)
    folder, _ = scanner.add_folder(root)
    index_all(lib)
    before = state(lib)
    stash = tmp_path / "stash"
    stash.mkdir()
    for p in root.iterdir():
        shutil.move(p, stash / p.name)
    (root / "DCIM-notes.txt").write_text("another card in the reader")
    drives.mount(root)  # another card: another device, none of our photos
    assert first != drives.mounted[str(root)]
    for _ in range(3):
        assert scanner.reconcile().missing == []
        assert lib.folder(folder.id).status == FolderStatus.OFFLINE
        assert lib.counts()["offline"] == 3
    for p in stash.iterdir():
        shutil.move(p, root / p.name)
    second = drives.mount(root)  # our card again, with a new device number
    assert scanner.check_folders().online_folders == [folder.id]
    assert state(lib) == before
    assert lib.folder(folder.id).device == second


def test_photos_deleted_where_their_drive_is_there_go_missing(lib, tmp_path, drives):
    root = tmp_path / "Pictures"
    photos(root, ["a.jpg"], seed=80)
    photos(root / "album", ["b.jpg", "c.jpg"], seed=81)
    photos(root / "plain", ["d.jpg", "e.jpg"], seed=83)
    drives.mount(root / "album")
    scanner = Scanner(lib)
    scanner.add_folder(root)
    album, plain = ids_under(lib, root / "album"), ids_under(lib, root / "plain")
    for p in (root / "album").iterdir():
        p.unlink()
    (root / "album" / "notes.txt").write_text("the drive is here, the photos were deleted")
    for p in (root / "plain").iterdir():
        p.unlink()  # an ordinary folder emptied by the user
    changes = scanner.reconcile()
    assert sorted(changes.missing) == sorted(album + plain)


def test_the_purge_never_removes_photos_of_an_offline_folder(lib, tmp_path):
    root = tmp_path / "Drive"
    photos(root, ["a.jpg", "b.jpg", "c.jpg"], seed=90)
    scanner = Scanner(lib)
    scanner.add_folder(root)
    gone = lib.photo_by_path(root / "a.jpg").id
    os.remove(root / "a.jpg")
    assert scanner.reconcile().missing == [gone]
    shutil.move(root, tmp_path / "unplugged")
    lib.set_setting(PURGE_SETTING, 0)
    scanner.reconcile()
    scanner.reconcile()
    assert lib.photo(gone) is not None and lib.counts()["offline"] == 2
    shutil.move(tmp_path / "unplugged", root)
    scanner.reconcile()  # back, and the file is still not there: now it goes
    assert lib.photo(gone) is None and len(lib.photos()) == 2


def test_an_offline_folder_can_be_removed_for_good(lib, tmp_path, drives):
    root = tmp_path / "Old drive"
    photos(root / "album", ["a.jpg", "b.jpg"], seed=95)
    drives.mount(root / "album")
    scanner = Scanner(lib)
    folder, _ = scanner.add_folder(root)
    assert lib.folder_drives(folder.id)
    shutil.rmtree(root)
    scanner.reconcile()
    assert lib.folder(folder.id).status == FolderStatus.OFFLINE
    assert scanner.remove_folder(str(root)) == 2
    assert lib.folders() == [] and lib.photos() == []
    assert lib.folder_drives(folder.id) == {}


def test_copies_of_an_unplugged_drives_photos_elsewhere_are_not_its_moves(lib, tmp_path):
    """The drive is unplugged (its root left as an empty mount point) and, before any scan of
    it, the user copies the same photos from a backup into another watched folder: those are
    new photos; the drive's photos stay where they are, going offline, with their decisions."""
    drive, other = tmp_path / "Drive", tmp_path / "Backup"
    photos(drive, [f"p{i}.jpg" for i in range(4)])
    other.mkdir()
    scanner = Scanner(lib)
    scanner.add_folder(drive)
    scanner.add_folder(other)
    index_all(lib)
    ids = sorted(p.id for p in lib.photos())
    decide(lib, ids)
    decided = decisions(lib)
    shutil.move(drive, tmp_path / "unplugged")
    drive.mkdir()
    for p in (tmp_path / "unplugged").iterdir():
        shutil.copy2(p, other / p.name)
    changes = scanner.reconcile_paths([other / f"p{i}.jpg" for i in range(4)])
    assert changes.moved == [] and len(changes.added) == 4
    assert decisions(lib) == decided
    scanner.reconcile()
    assert {p.id: p.status for p in lib.photos(ids=ids)} == dict.fromkeys(ids, PhotoStatus.OFFLINE)
