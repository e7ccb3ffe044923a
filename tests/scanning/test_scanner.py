"""Reconcile by mark-and-sweep: what changed while ClipDesk was closed, offline folders, bad disks."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from clipdesk.common.errors import CancelledError
from clipdesk.common.progress import CancelToken
from clipdesk.library.errors import FolderError
from clipdesk.library.records import FolderStatus, PhotoStatus
from clipdesk.library.store import Library
from clipdesk.scanning.scanner import Scanner
from tests.support.photofiles import index_all, make_photo, present_paths


@pytest.fixture
def lib(tmp_path):
    with Library(tmp_path / "lib.sqlite3") as library:
        yield library


@pytest.fixture
def root(tmp_path):
    base = tmp_path / "Pictures"
    for i, rel in enumerate(["a.jpg", "b.png", "trip/c.jpg", "trip/day2/d.webp", "e.jpg"]):
        make_photo(base / rel, seed=i)
    return base


def vectors(lib: Library) -> dict[int, bytes]:
    ids, mat = lib.load_vectors("test-model", statuses=list(PhotoStatus))
    return {int(i): row.tobytes() for i, row in zip(ids, mat, strict=True)}


def by_name(lib: Library) -> dict[str, int]:
    return {p.path.name: p.id for p in lib.photos()}


def test_first_scan_finds_photos_skips_system_folders_and_records_bad_files(lib, root):
    for junk in [
        ".git/x.jpg",
        "@eaDir/a.jpg/SYNOPHOTO_THUMB.jpg",
        ".thumbnails/t.jpg",
        "$RECYCLE.BIN/old.jpg",
        ".hidden.jpg",
        "trip/._c.jpg",
    ]:
        make_photo(root / junk, seed=99)
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (root / "notes.txt").write_text("not a photo")
    (root / "fake.jpg").write_text("I am text")
    (root / "empty.heic").write_bytes(b"")
    shutil.copy(root / "b.png", root / "png-named.jpg")
    folder, changes = Scanner(lib).add_folder(root)
    photos = {p.path.relative_to(root).as_posix(): p for p in lib.photos()}
    assert set(photos) == {
        "a.jpg",
        "b.png",
        "trip/c.jpg",
        "trip/day2/d.webp",
        "e.jpg",
        "fake.jpg",
        "empty.heic",
        "png-named.jpg",
    }
    assert photos["fake.jpg"].status == PhotoStatus.ERROR
    assert "not an image" in photos["fake.jpg"].error
    assert photos["empty.heic"].error == "empty file (0 bytes)"
    assert photos["png-named.jpg"].kind == "png" and photos["png-named.jpg"].status == "pending"
    assert photos["a.jpg"].width == 64 and photos["a.jpg"].content_hash
    assert len(changes.added) == 8 and len(changes.errors) == 2
    assert lib.folder(folder.id).last_scan is not None


def test_add_folder_refuses_bad_paths(lib, tmp_path, root):
    scanner = Scanner(lib)
    with pytest.raises(FolderError, match="does not exist"):
        scanner.add_folder(tmp_path / "nope")
    with pytest.raises(FolderError, match="not a folder"):
        scanner.add_folder(root / "a.jpg")
    scanner.add_folder(root)
    with pytest.raises(FolderError, match="already watched"):
        scanner.add_folder(root / "trip")


def test_changes_while_closed_are_reconciled_keeping_ids_and_vectors(lib, root, tmp_path):
    scanner = Scanner(lib)
    scanner.add_folder(root)
    other = tmp_path / "Other"
    other.mkdir()
    scanner.add_folder(other)
    index_all(lib)
    ids, vecs = by_name(lib), vectors(lib)
    # while the app is closed:
    os.rename(root / "a.jpg", root / "renamed.jpg")  # rename
    os.renames(root / "trip" / "c.jpg", root / "moved" / "c.jpg")  # move to a new folder
    shutil.move(root / "e.jpg", other / "e.jpg")  # move to another watched folder
    os.remove(root / "b.png")  # delete
    make_photo(root / "trip" / "day2" / "d.webp", seed=42)  # edit in place
    make_photo(root / "new.jpg", seed=7)  # new
    changes = scanner.reconcile()

    after = by_name(lib)
    assert after["renamed.jpg"] == ids["a.jpg"]
    assert after["c.jpg"] == ids["c.jpg"]
    assert (
        after["e.jpg"] == ids["e.jpg"] and lib.photo(ids["e.jpg"]).folder_id == lib.folder(other).id
    )
    assert sorted(changes.moved) == sorted([ids["a.jpg"], ids["c.jpg"], ids["e.jpg"]])
    assert changes.missing == [ids["b.png"]] and changes.changed == [ids["d.webp"]]
    assert len(changes.added) == 1
    now = vectors(lib)
    for name in ("a.jpg", "c.jpg", "e.jpg"):  # moved photos keep their vectors and status
        assert now[ids[name]] == vecs[ids[name]]
        assert lib.photo(ids[name]).status == PhotoStatus.OK
    assert ids["d.webp"] not in now and lib.photo(ids["d.webp"]).status == PhotoStatus.PENDING
    assert lib.photo(ids["b.png"]).status == PhotoStatus.MISSING
    disk = {os.path.join(d, f) for base in (root, other) for d, _, fs in os.walk(base) for f in fs}
    assert present_paths(lib) == disk


def test_touch_without_change_keeps_the_photo_indexed(lib, root):
    scanner = Scanner(lib)
    scanner.add_folder(root)
    index_all(lib)
    st = os.stat(root / "a.jpg")
    os.utime(root / "a.jpg", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    changes = scanner.reconcile()
    assert changes.changed == [] and changes.unchanged == 4
    assert lib.counts()["ok"] == 5


def test_deleted_photo_that_returns_is_restored_with_its_vector(lib, root, tmp_path):
    scanner = Scanner(lib)
    scanner.add_folder(root)
    index_all(lib)
    pid, vec = by_name(lib)["a.jpg"], vectors(lib)
    shutil.move(root / "a.jpg", tmp_path / "a.jpg")
    assert scanner.reconcile().missing == [pid]
    (root / "sub").mkdir()
    shutil.move(tmp_path / "a.jpg", root / "sub" / "back.jpg")
    changes = scanner.reconcile()
    assert changes.moved == [pid]
    assert lib.photo(pid).status == PhotoStatus.OK and vectors(lib)[pid] == vec[pid]


def test_unplugged_folder_goes_offline_and_comes_back_intact(lib, root, tmp_path):
    scanner = Scanner(lib)
    folder, _ = scanner.add_folder(root)
    index_all(lib)
    lib.mark_error(by_name(lib)["e.jpg"], "pretend decode failure")
    before = {p.id: (p.status, p.path, p.error) for p in lib.photos()}
    vecs = vectors(lib)
    shutil.move(root, tmp_path / "unplugged")
    changes = scanner.reconcile()
    assert changes.offline_folders == [folder.id] and changes.missing == []
    assert lib.folder(folder.id).status == FolderStatus.OFFLINE
    assert lib.counts()["offline"] == 5 and len(lib.photos()) == 5
    assert scanner.reconcile().empty  # still offline: nothing more happens
    shutil.move(tmp_path / "unplugged", root)
    changes = scanner.check_folders()
    assert changes.online_folders == [folder.id]
    assert {p.id: (p.status, p.path, p.error) for p in lib.photos()} == before
    assert vectors(lib) == vecs


def test_empty_mount_point_counts_as_offline(lib, root, tmp_path):
    scanner = Scanner(lib)
    folder, _ = scanner.add_folder(root)
    shutil.move(root, tmp_path / "drive")
    root.mkdir()  # the mount point stays behind, empty
    changes = scanner.reconcile()
    assert changes.offline_folders == [folder.id] and changes.missing == []
    assert "empty" in lib.folder(folder.id).error


def test_permission_denied_subfolder_is_recorded_and_its_photos_kept(lib, root, monkeypatch):
    scanner = Scanner(lib)
    scanner.add_folder(root)
    real_scandir = os.scandir

    def guarded(path="."):
        if os.fspath(path).endswith("trip"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", guarded)
    changes = scanner.reconcile()
    assert changes.missing == []
    assert any(p.endswith("trip") and "Permission denied" in r for p, r in changes.problems)
    folder = lib.folders()[0]
    assert folder.status == FolderStatus.OK and "Permission denied" in folder.error
    assert lib.counts()["pending"] == 5


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_real_unreadable_folder(lib, root):
    (root / "trip").chmod(0)
    try:
        Scanner(lib).add_folder(root)
        assert "trip" in lib.folders()[0].error
    finally:
        (root / "trip").chmod(0o755)


def test_symlink_loops_do_not_hang_or_duplicate(lib, root):
    os.symlink(root, root / "trip" / "loop")
    os.symlink(root / "trip", root / "trip" / "day2" / "up")
    os.symlink(root / "nowhere", root / "broken.jpg")
    _, changes = Scanner(lib).add_folder(root)
    assert len(lib.photos()) == 5
    assert any("loop" in reason for _, reason in changes.problems)


def test_bad_file_is_retried_when_it_changes(lib, root):
    scanner = Scanner(lib)
    (root / "later.jpg").write_bytes(b"\xff\xd8\xff")  # a copy cut short
    scanner.add_folder(root)
    assert lib.photo_by_path(root / "later.jpg").status in (PhotoStatus.PENDING, PhotoStatus.ERROR)
    pid = lib.photo_by_path(root / "later.jpg").id
    lib.mark_error(pid, "truncated JPEG")
    make_photo(root / "later.jpg", seed=50)
    assert scanner.reconcile().changed == [pid]
    assert lib.photo(pid).status == PhotoStatus.PENDING and lib.photo(pid).error is None


def test_cancel_stops_without_sweeping(lib, root):
    scanner = Scanner(lib)
    scanner.add_folder(root)
    os.remove(root / "a.jpg")
    token = CancelToken()
    token.cancel()
    with pytest.raises(CancelledError):
        scanner.reconcile(cancel=token)
    assert lib.counts()["missing"] == 0


def test_progress_is_reported(lib, root):
    seen = []
    Scanner(lib).add_folder(root, progress=seen.append)
    assert seen and seen[-1].done == seen[-1].total == 5


def test_reconcile_paths_handles_directory_moves(lib, root):
    scanner = Scanner(lib)
    scanner.add_folder(root)
    ids = by_name(lib)
    os.rename(root / "trip", root / "journey")
    changes = scanner.reconcile_paths([root / "trip", root / "journey"])
    assert sorted(changes.moved) == sorted([ids["c.jpg"], ids["d.webp"]])
    assert by_name(lib)["c.jpg"] == ids["c.jpg"]
    assert lib.photo(ids["c.jpg"]).path == root / "journey" / "c.jpg"
    assert scanner.reconcile_paths([root / ".git" / "x.jpg", "/elsewhere/y.jpg"]).empty


def test_remove_folder_forgets_photos_not_files(lib, root):
    scanner = Scanner(lib)
    scanner.add_folder(root)
    assert scanner.remove_folder(root) == 5
    assert lib.photos() == [] and (root / "a.jpg").exists()


def test_missing_photos_are_purged_after_the_configured_time(lib, root):
    scanner = Scanner(lib)
    scanner.add_folder(root)
    os.remove(root / "a.jpg")
    scanner.reconcile()
    assert lib.counts()["missing"] == 1
    lib.set_setting("purge_missing_after_days", 0)
    scanner.reconcile()
    assert lib.counts()["missing"] == 0 and len(lib.photos()) == 4


def test_duplicate_files_stay_separate_photos(lib, root):
    shutil.copy(root / "a.jpg", root / "copy-of-a.jpg")
    Scanner(lib).add_folder(root)
    photos = {p.path.name: p for p in lib.photos()}
    assert photos["a.jpg"].content_hash == photos["copy-of-a.jpg"].content_hash
    assert photos["a.jpg"].id != photos["copy-of-a.jpg"].id
    assert np.unique([p.id for p in photos.values()]).size == 6


def test_a_thousand_fuzzed_files_are_all_recorded_without_a_crash(lib, tmp_path):
    import random
    import struct
    import zlib

    rng = random.Random(3)
    root = tmp_path / "fuzz"
    root.mkdir()
    good = make_photo(tmp_path / "good.jpg", seed=1, size=128).read_bytes()
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + b"IHDR"
        + ihdr
        + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    )
    exts = [".jpg", ".png", ".webp", ".tif", ".bmp", ".gif", ".heic", ".nef", ".dng"]
    for i in range(1000):
        kind = i % 4
        if kind == 0:
            data = rng.randbytes(rng.randrange(0, 5000))
        elif kind == 1:
            data = good[: rng.randrange(1, len(good))]
        elif kind == 2:
            data = bomb
        else:
            data = bytes(b ^ (rng.random() < 0.01) for b in good)  # bit flips
        (root / f"f{i:04}{exts[i % len(exts)]}").write_bytes(data)
    _, changes = Scanner(lib).add_folder(root)
    photos = lib.photos()
    assert len(photos) == 1000 and len(changes.added) == 1000
    for p in photos:
        assert p.status in (PhotoStatus.PENDING, PhotoStatus.ERROR)
        assert (p.status == PhotoStatus.ERROR) == bool(p.error)
    bombs = [p for p in photos if p.size == len(bomb) and p.kind == "png"]
    assert bombs and all(p.width in (None, 30000) for p in bombs)
