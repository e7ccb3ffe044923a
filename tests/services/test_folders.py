"""FolderService: the one place a folder is checked, added, listed, rescanned and removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from clipdesk.common.errors import ClipDeskError
from clipdesk.services.app import ClipDeskServices
from tests.support.pipeline_helpers import solid_photos


@pytest.fixture
def app(tmp_path: Path):
    svc = ClipDeskServices(tmp_path / "lib.sqlite3", device="cpu")
    yield svc
    svc.close()


def test_add_scans_lists_counts_and_removes(app, tmp_path) -> None:
    solid_photos(tmp_path / "pics", 3)
    (tmp_path / "pics" / "broken.jpg").write_text("not really a photo")
    added = app.folders.add(tmp_path / "pics")
    assert added.changes is not None and len(added.changes.added) == 4
    assert added.record.path == tmp_path / "pics"
    assert (added.record.pending, added.record.errors, added.record.photos) == (3, 1, 4)
    (record,) = app.folders.list()
    assert record.counts == {"pending": 3, "error": 1} and record.present == 4
    (problem,) = app.folders.errors(record.id)
    assert problem.path.endswith("broken.jpg") and problem.reason
    assert app.folders.errors() == [problem]
    assert app.folders.remove(tmp_path / "pics") == 4
    assert app.folders.list() == [] and (tmp_path / "pics" / "broken.jpg").exists()


def test_add_without_scan_registers_and_the_next_scan_finds_the_photos(app, tmp_path) -> None:
    solid_photos(tmp_path / "pics", 2)
    added = app.folders.add(tmp_path / "pics", scan=False)
    assert added.changes is None and added.record.photos == 0
    changes = app.folders.scan()
    assert len(changes.added) == 2 and app.folders.get(added.record.id).pending == 2


@pytest.mark.parametrize("case", ["missing", "a file", "already added", "inside a watched one"])
def test_bad_paths_are_refused_with_a_message_and_nothing_is_added(app, tmp_path, case) -> None:
    solid_photos(tmp_path / "pics" / "sub", 1)
    target = {
        "missing": tmp_path / "nope",
        "a file": next((tmp_path / "pics" / "sub").iterdir()),
        "already added": tmp_path / "pics",
        "inside a watched one": tmp_path / "pics" / "sub",
    }[case]
    if case in ("already added", "inside a watched one"):
        app.folders.add(tmp_path / "pics")
    before = app.folders.list()
    with pytest.raises(ClipDeskError) as err:
        app.folders.add(target, scan=False)
    assert str(target) in err.value.message
    assert app.folders.list() == before


def test_unknown_folder_is_named_in_the_error(app, tmp_path) -> None:
    with pytest.raises(ClipDeskError, match="not a folder of this library"):
        app.folders.remove(tmp_path / "never-added")
