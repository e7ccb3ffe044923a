"""``clipdesk-cli folders`` (and the status it leaves) end to end through main(), as a user or script runs them."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from clipdesk.library.store import Library
from tests.support.cli_process import cli
from tests.support.photofiles import make_photo


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "Pictures"
    for i in range(3):
        make_photo(root / f"p{i}.jpg", seed=i)
    (root / "broken.jpg").write_text("not really a photo")
    return root


def test_add_list_status_remove(tmp_path, photos, capsys):
    lib = str(tmp_path / "lib.sqlite3")
    code, out, _ = cli(capsys, "--library", lib, "folders", "add", str(photos))
    assert code == 0 and "4 added" in out and "1 unreadable" in out
    code, out, _ = cli(capsys, "--library", lib, "--json", "folders", "list")
    rows = json.loads(out)
    assert code == 0 and rows[0]["path"] == str(photos) and rows[0]["photos"] == 4
    assert rows[0]["by_status"] == {"pending": 3, "error": 1}

    code, out, _ = cli(capsys, "--library", lib, "status")
    assert code == 0 and "4 (0 indexed, 3 pending, 1 errors" in out
    assert "broken.jpg: not an image" in out
    code, out, _ = cli(capsys, "--library", lib, "--json", "status")
    data = json.loads(out)
    assert data["photos"]["total"] == 4 and data["errors"][0]["reason"].startswith("not an image")

    code, out, _ = cli(capsys, "--library", lib, "folders", "remove", str(photos))
    assert code == 0 and "4 photos forgotten" in out
    assert (photos / "p0.jpg").exists()
    code, out, _ = cli(capsys, "--library", lib, "folders", "list")
    assert "no folders yet" in out


def test_scan_and_offline_folder_in_status(tmp_path, photos, capsys):
    lib = str(tmp_path / "lib.sqlite3")
    cli(capsys, "--library", lib, "folders", "add", str(photos))
    shutil.move(photos, tmp_path / "unplugged")
    code, out, _ = cli(capsys, "--library", lib, "--json", "folders", "scan")
    assert code == 0 and json.loads(out)["offline_folders"] == 1
    code, out, _ = cli(capsys, "--library", lib, "status")
    assert "offline: " in out and "4 offline" in out


def test_default_library_location_is_used(photos, capsys):
    code, _, _ = cli(capsys, "folders", "add", str(photos))
    assert code == 0
    with Library() as lib:  # CLIPDESK_HOME points at a private dir in tests
        assert len(lib.photos()) == 4


@pytest.mark.parametrize("case", ["missing folder", "nested", "not a library", "too new"])
def test_failures_exit_1_with_message_and_hint(tmp_path, photos, capsys, case):
    lib = tmp_path / "lib.sqlite3"
    argv = ["--library", str(lib), "folders", "add", str(photos)]
    if case == "missing folder":
        argv[-1] = str(tmp_path / "nope")
    elif case == "nested":
        cli(capsys, "--library", str(lib), "folders", "add", str(photos))
        make_photo(photos / "sub" / "x.jpg", seed=9)
        argv[-1] = str(photos / "sub")
    elif case == "not a library":
        lib.write_text("hello")
    else:
        Library(lib).close()
        conn = sqlite3.connect(lib)
        conn.execute("PRAGMA user_version=999")
        conn.close()
    code, out, err = cli(capsys, *argv)
    assert code == 1 and err.startswith("error: ")
    if case != "nested":
        assert "hint: " in err
    if case == "too new":
        assert "newer ClipDesk" in err
