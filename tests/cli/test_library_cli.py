"""``clipdesk-cli library ...`` and the folders commands for drives that moved or went away."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from clipdesk.library.store import Library
from clipdesk.tags.store.tag_store import TagStore
from tests.support.cli_process import cli
from tests.support.photofiles import make_photo


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "Drive" / "Photos"
    for i in range(4):
        make_photo(root / f"p{i}.jpg", seed=i)
    return root


def test_list_shows_the_purge_rule_and_an_offline_folder_can_be_removed(tmp_path, photos, capsys):
    lib = str(tmp_path / "lib.sqlite3")
    assert cli(capsys, "--library", lib, "folders", "add", str(photos))[0] == 0
    (photos / "p0.jpg").unlink()
    cli(capsys, "--library", lib, "folders", "scan")
    code, out, _ = cli(capsys, "--library", lib, "folders", "list")
    assert code == 0 and "1 photo missing for 30 days will be removed on 20" in out
    assert "Photos missing for 30 days are removed" in out
    code, out, _ = cli(capsys, "--library", lib, "--json", "folders", "list")
    assert json.loads(out)[0]["purge"]["missing"] == 1

    shutil.rmtree(tmp_path / "Drive")  # the drive is gone for good
    cli(capsys, "--library", lib, "folders", "scan")
    code, out, _ = cli(capsys, "--library", lib, "folders", "list")
    assert "[OFFLINE]" in out and "kept while offline" in out and "folders remove" in out
    code, out, _ = cli(capsys, "--library", lib, "folders", "remove", str(photos))
    assert code == 0 and "4 photos forgotten" in out
    assert "no folders yet" in cli(capsys, "--library", lib, "folders", "list")[1]


def test_relocate_keeps_the_decisions_of_photos_moved_to_a_new_disk(tmp_path, photos, capsys):
    lib = str(tmp_path / "lib.sqlite3")
    cli(capsys, "--library", lib, "folders", "add", str(photos))
    with Library(lib) as library:
        tags = TagStore(library)
        ids = [p.id for p in library.photos()]
        tags.set_decision(ids, "Scene", "beach", "confirmed")
    new = tmp_path / "NewDrive" / "Photos"
    shutil.copytree(photos, new)
    shutil.rmtree(tmp_path / "Drive")
    code, out, err = cli(
        capsys, "--library", lib, "--json", "folders", "relocate", str(photos), str(new)
    )
    assert code == 0, err
    data = json.loads(out)
    assert (data["kept"], data["changed"], data["unmatched"]) == (4, 0, 0)
    assert data["folder"] == str(new) and data["scan"]["added"] == 0
    with Library(lib) as library:
        assert sorted(p.id for p in library.photos()) == sorted(ids)
        assert {str(p.path.parent) for p in library.photos()} == {str(new)}
        assert len(TagStore(library).category_decisions("Scene")) == 4
    code, _, err = cli(capsys, "--library", lib, "folders", "relocate", str(photos), str(new))
    assert code == 1 and "not a folder of this library" in err


def test_backup_export_and_import_from_the_command_line(tmp_path, photos, capsys):
    lib = str(tmp_path / "lib.sqlite3")
    cli(capsys, "--library", lib, "folders", "add", str(photos))
    with Library(lib) as library:
        ids = [p.id for p in library.photos()]
        TagStore(library).set_decision(ids[:2], "Scene", "city", "rejected")
    backup = tmp_path / "backup.sqlite3"
    code, out, _ = cli(capsys, "--library", lib, "library", "backup", str(backup))
    assert code == 0 and "4 photos" in out
    conn = sqlite3.connect(backup)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    code, _, err = cli(capsys, "--library", lib, "library", "backup", str(backup))
    assert code == 1 and "already exists" in err and "--overwrite" in err
    code, _, err = cli(capsys, "--library", lib, "library", "backup", lib, "--overwrite")
    assert code == 1 and "library itself" in err

    decisions = tmp_path / "decisions.json"
    code, out, _ = cli(capsys, "--library", lib, "library", "export-decisions", str(decisions))
    assert code == 0 and "2 decisions on 2 photos" in out
    other = str(tmp_path / "other.sqlite3")
    cli(capsys, "--library", other, "folders", "add", str(photos))
    code, out, _ = cli(
        capsys, "--library", other, "--json", "library", "import-decisions", str(decisions)
    )
    assert code == 0 and json.loads(out)["applied"] == 2
    decisions.write_text('{"format": "clipdesk-decisions", "version": 1, "decisions": {}}')
    code, _, err = cli(capsys, "--library", other, "library", "import-decisions", str(decisions))
    assert code == 1 and "decisions: expected a list" in err
