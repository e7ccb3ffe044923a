"""The user's decisions out to a portable file and into another library; library backups."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from clipdesk.common import limits
from clipdesk.services.app import ClipDeskServices
from clipdesk.tags.categories import Category, Label
from clipdesk.tags.decision_file import DecisionFileError
from tests.support.photofiles import make_photo


@pytest.fixture
def make_app(tmp_path: Path):
    made = []

    def make(name: str) -> ClipDeskServices:
        app = ClipDeskServices(tmp_path / f"{name}.sqlite3", device="cpu")
        made.append(app)
        return app

    yield make
    for app in made:
        app.close()


def _photos(folder: Path, n: int = 6) -> None:
    for i in range(n):
        make_photo(folder / f"p{i}.jpg", seed=i)


def _decisions(app: ClipDeskServices) -> dict[tuple[str, str, str], str]:
    """{(file name, category, label): state} of the user's own decisions."""
    store = app.tags.store
    names = {p.id: p.path.name for p in app.library.photos()}
    return {
        (names[pid], cat.name, label): str(state)
        for cat in store.categories()
        for pid, label, state in store.category_decisions(cat.name)
        if str(state) in ("confirmed", "rejected")
    }


def _decide(app: ClipDeskServices) -> None:
    store = app.tags.store
    store.add_category(Category("Trips", (Label("rome"), Label("paris")), auto=False))
    ids = {p.path.name: p.id for p in app.library.photos()}
    scene = store.categories()[0]
    store.set_decision(
        [ids["p0.jpg"], ids["p1.jpg"]], scene.name, scene.labels[0].name, "confirmed"
    )
    store.set_decision([ids["p2.jpg"]], scene.name, scene.labels[1].name, "rejected")
    store.set_decision([ids["p3.jpg"]], "Trips", "rome", "confirmed")
    store.set_decision([ids["p4.jpg"]], "Trips", "paris", "rejected")
    store.set_decision([ids["p5.jpg"]], "Trips", "paris", "imported")  # from XMP: not exported


def test_decisions_exported_and_imported_into_a_new_library_are_the_same(make_app, tmp_path):
    source = make_app("source")
    _photos(tmp_path / "laptop" / "Photos")
    source.folders.add(tmp_path / "laptop" / "Photos")
    _decide(source)
    exported = source.library_file.export_decisions(tmp_path / "decisions.json")
    assert (exported.decisions, exported.photos, exported.categories) == (5, 5, 2)
    doc = json.loads((tmp_path / "decisions.json").read_text())
    assert {d["state"] for d in doc["decisions"]} == {"confirmed", "rejected"}
    assert all(d["content_hash"] and d["path"].startswith("/") for d in doc["decisions"])

    shutil.copytree(tmp_path / "laptop" / "Photos", tmp_path / "desktop" / "Pictures")
    target = make_app("target")  # another computer: other paths, the same files
    target.folders.add(tmp_path / "desktop" / "Pictures")
    done = target.library_file.import_decisions(tmp_path / "decisions.json")
    assert (done.applied, done.unmatched, done.unknown_labels) == (5, 0, 0)
    assert done.categories_added == ["Trips"]
    assert _decisions(target) == _decisions(source)
    again = target.library_file.import_decisions(tmp_path / "decisions.json")
    assert (again.applied, again.unchanged) == (0, 5)


def test_import_keeps_this_librarys_own_decisions_unless_replacing(make_app, tmp_path):
    source = make_app("source")
    _photos(tmp_path / "Photos")
    source.folders.add(tmp_path / "Photos")
    _decide(source)
    source.library_file.export_decisions(tmp_path / "d.json")
    target = make_app("target")
    target.folders.add(tmp_path / "Photos")
    store = target.tags.store
    store.add_category(Category("Trips", (Label("rome"),), auto=False))  # no "paris" here
    ids = {p.path.name: p.id for p in target.library.photos()}
    store.set_decision([ids["p3.jpg"]], "Trips", "rome", "rejected")  # the user here disagrees
    make_photo(tmp_path / "Photos" / "p0.jpg", seed=99)  # edited: matched by path instead
    target.folders.scan()
    done = target.library_file.import_decisions(tmp_path / "d.json")
    assert (done.applied, done.kept, done.unknown_labels) == (3, 1, 1)
    assert done.unknown_examples == ["Trips|paris"] and done.categories_added == []
    assert _decisions(target)[("p3.jpg", "Trips", "rome")] == "rejected"
    scene = store.categories()[0]
    assert _decisions(target)[("p0.jpg", scene.name, scene.labels[0].name)] == "confirmed"
    replaced = target.library_file.import_decisions(tmp_path / "d.json", replace=True)
    assert replaced.applied == 1
    assert _decisions(target)[("p3.jpg", "Trips", "rome")] == "confirmed"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\xff\xfe not json", "not UTF-8"),
        (b"[1, 2", "not valid JSON"),
        (b'{"format": "clipdesk-categories", "version": 1, "decisions": []}', "format"),
        (b'{"format": "clipdesk-decisions", "version": 9, "decisions": []}', "newer"),
        (
            b'{"format": "clipdesk-decisions", "version": 1, "decisions": [{"path": "/a", '
            b'"category": "Scene", "label": "beach", "state": "maybe"}]}',
            "decisions[0].state",
        ),
        (
            b'{"format": "clipdesk-decisions", "version": 1, "decisions": [{"path": "/a", '
            b'"category": "Scene", "label": "beach", "state": "confirmed", "x": 1}]}',
            "unknown",
        ),
        (b"[" * 100_000, "nested"),
    ],
)
def test_a_bad_decision_file_is_refused_with_the_reason(make_app, tmp_path, content, words):
    app = make_app("lib")
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    with pytest.raises(DecisionFileError, match=words.replace("[", r"\[").replace("]", r"\]")):
        app.library_file.import_decisions(bad)


def test_a_decision_file_over_the_size_limit_is_refused_unread(make_app, tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_DECISION_FILE_BYTES", 1000)
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"format": "clipdesk-decisions", "padding": "x" * 5000}))
    with pytest.raises(DecisionFileError, match="larger than 1,000 bytes"):
        make_app("lib").library_file.import_decisions(big)


def test_backup_through_the_services_is_a_library_with_the_same_photos(make_app, tmp_path):
    app = make_app("lib")
    _photos(tmp_path / "Photos", 3)
    app.folders.add(tmp_path / "Photos")
    done = app.library_file.backup(tmp_path / "copy.sqlite3")
    assert done.photos == 3
    conn = sqlite3.connect(done.path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_a_photo_whose_name_is_not_utf8_keeps_its_decision_through_the_file(make_app, tmp_path):
    import os

    folder = tmp_path / "Photos"
    odd = os.fsdecode(os.path.join(os.fsencode(folder), b"caf\xe9.jpg"))  # Latin-1 "café.jpg"
    make_photo(Path(odd), seed=7)
    source = make_app("source")
    source.folders.add(folder)
    (photo,) = source.library.photos()
    scene = source.tags.store.categories()[0]
    source.tags.store.set_decision([photo.id], scene.name, scene.labels[0].name, "confirmed")
    source.library_file.export_decisions(tmp_path / "d.json")
    make_photo(Path(odd), seed=8)  # edited: only the path can match it now
    target = make_app("target")
    target.folders.add(folder)
    done = target.library_file.import_decisions(tmp_path / "d.json")
    assert done.applied == 1 and _decisions(target) == {
        ("caf\udce9.jpg", scene.name, scene.labels[0].name): "confirmed"
    }
