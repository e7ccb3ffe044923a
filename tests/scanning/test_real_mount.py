"""The mount experiment with real mounts (tmpfs): unmount a watched drive, scan again and again,
purge, remount - every photo comes back with its id and the user's decisions.

Mounting needs root (CI runs as root); elsewhere the test skips and says why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from clipdesk.library.store import Library
from clipdesk.scanning.scanner import PURGE_SETTING, Scanner
from tests.scanning.test_drives import decide, decisions, ids_under, state
from tests.support.photofiles import index_all, make_photo


def _mount(path) -> None:
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )


def _umount(path) -> None:
    subprocess.run(["umount", str(path)], check=True, capture_output=True, timeout=30)


@pytest.fixture
def mountpoint(tmp_path):
    """A directory with a tmpfs mounted on it; unmounted again at the end whatever happens."""
    if not sys.platform.startswith("linux"):
        pytest.skip("tmpfs mounts are a Linux test")
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs this test as root)")
    if shutil.which("mount") is None:
        pytest.skip("no mount command here")
    made = []

    def make(path):
        path.mkdir(parents=True, exist_ok=True)
        try:
            _mount(path)
        except (subprocess.CalledProcessError, OSError) as exc:
            reason = getattr(exc, "stderr", b"") or str(exc).encode()
            pytest.skip(f"mount not permitted here: {reason.decode(errors='replace').strip()}")
        made.append(path)
        return path

    yield make
    for path in made:
        if os.path.ismount(path):
            subprocess.run(["umount", "-l", str(path)], check=False, timeout=30)


@pytest.mark.parametrize("layout", ["folder is the mount", "mount inside the folder"])
def test_unmount_scans_purge_and_remount_keep_every_photo_and_decision(
    tmp_path, mountpoint, layout
):
    root = tmp_path / "Pictures"
    drive = root if layout == "folder is the mount" else root / "album"
    if drive != root:
        for i in range(3):
            make_photo(root / f"home{i}.jpg", seed=200 + i)
    mountpoint(drive)
    for i in range(12):
        make_photo(drive / f"p{i:02d}.jpg", seed=i)
    stash = tmp_path / "stash"
    shutil.copytree(drive, stash, copy_function=shutil.copy2)
    with Library(tmp_path / "lib.sqlite3") as lib:
        scanner = Scanner(lib, with_metadata=False)
        scanner.add_folder(root)
        index_all(lib)
        on_drive = ids_under(lib, drive) if drive != root else sorted(p.id for p in lib.photos())
        decide(lib, on_drive)
        before, decided = state(lib), decisions(lib)

        _umount(drive)
        for _ in range(3):
            assert scanner.reconcile().missing == []
            assert scanner.check_folders().missing == []
            assert lib.counts()["offline"] == 12 and lib.counts()["missing"] == 0
        lib.set_setting(PURGE_SETTING, 0)
        scanner.reconcile()
        assert len(lib.photos()) == len(before)

        _mount(drive)  # a new tmpfs: a new device number, the same files
        for f in stash.iterdir():
            shutil.copy2(f, drive / f.name)
        scanner.check_folders()
        assert state(lib) == before
        assert decisions(lib) == decided
