"""A library written by ClipDesk before the redesign (schema v3, made by the code of commit
961755f: tests/support/data/legacy_v3/make_fixture.py) opens through today's services with
nothing lost: its folder, photos, vectors, search-model record, categories and decisions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from clipdesk.library import schema
from clipdesk.library.store import SEARCH_MODEL_KEY
from clipdesk.search.searcher import Searcher
from clipdesk.services.app import ClipDeskServices
from clipdesk.services.records import TagState

FIXTURE = Path(__file__).parents[1] / "support" / "data" / "legacy_v3" / "library.sqlite3"
OLD_MODEL = "legacy-model@0123456789ab"


@pytest.fixture
def app(tmp_path):
    path = tmp_path / "library.sqlite3"
    shutil.copyfile(FIXTURE, path)
    with ClipDeskServices(path) as services:
        yield services


def test_the_old_library_keeps_its_schema_photos_and_vectors(app):
    lib = app.library
    assert lib.version == schema.latest_version() == 8  # migrated on open
    (folder,) = app.folders.list()
    assert str(folder.path) == "/tmp/clipdesk-legacy-fixture/photos"
    assert folder.photos == 12 and folder.indexed == 12
    assert lib.embedding_models() == {OLD_MODEL: 12}
    assert lib.vector_runtimes(OLD_MODEL) == {"torch-fp32": 12}  # the one runtime there was
    assert lib.get_setting(SEARCH_MODEL_KEY)["id"] == OLD_MODEL
    searcher = Searcher(lib, OLD_MODEL, 8)
    assert searcher.load() == 12


def test_the_old_librarys_categories_and_decisions_are_all_there(app):
    names = [c.name for c in app.tags.categories()]
    assert "Shape" in names and len(names) > 1  # the starter categories the old app installed
    circle = app.tags.photos_with_tag("Shape", "circle")
    assert len(circle) == 4
    assert {t.tag.state for t in circle} == {TagState.CONFIRMED}
    states = [
        t.state
        for p in app.library.photos()
        for t in app.tags.tags_of(p.id)
        if t.category == "Shape" and t.label == "star"
    ]
    assert sorted(states) == sorted([TagState.REJECTED] * 2 + [TagState.SUGGESTED] * 3)


def test_the_old_librarys_photos_are_found_by_their_folders_and_confirmed_tags(app):
    lib = app.library
    assert sorted(lib.match_words(["circle"]).ids.tolist()) == [1, 10, 11, 12]  # confirmed
    assert lib.match_words(["star"]).ids.tolist() == []  # suggested only
    assert lib.match_words(["alps"]).ids.tolist() == [2]
    assert len(lib.match_words(["photos"]).ids) == 12  # the watched folder's own name
    assert lib.match_words(["clipdesk legacy fixture"]).ids.tolist() == []  # above it
    assert lib.count_ocr().waiting == 12  # every indexed photo is owed its text


def test_the_status_report_reads_the_old_library(app):
    report = app.status_report.report(5)
    assert report.schema_version == 8
    assert report.photos["ok"] == 12
    assert report.search_model == OLD_MODEL
    assert report.vectors == {OLD_MODEL: 12}
