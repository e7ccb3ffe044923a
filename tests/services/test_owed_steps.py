"""What a photo is owed after its embedding (its sidecar keywords, then the model's tags) is
never lost: a crash right after the vector commit, or a lock that outlasts the wait, leaves it
pending and said; the next index run does it (issue #14, item 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clipdesk.library.errors import LibraryCorruptError
from clipdesk.library.store import Library
from clipdesk.model.testing import tiny_random_model
from clipdesk.services.app import ClipDeskServices
from tests.support.cli_process import cli_json
from tests.support.owed_work import WriteLock, lost_work, photos_with_keywords


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return tiny_random_model(tmp_path_factory.mktemp("models"))


def test_a_crash_right_after_the_vector_commit_loses_no_tag_and_no_keyword(
    tmp_path, model_dir, monkeypatch
):
    photos_with_keywords(tmp_path / "photos", 12)
    library = tmp_path / "lib.sqlite3"
    app = ClipDeskServices(library, model=str(model_dir), device="cpu")
    app.folders.add(tmp_path / "photos")

    def die(self, ids, vectors):
        raise KeyboardInterrupt  # the process ends the moment the first vectors are committed

    monkeypatch.setattr(ClipDeskServices, "_on_embedded", die)
    with pytest.raises(KeyboardInterrupt):
        app.index(batch_size=4, commit_size=4)
    app.close()
    monkeypatch.undo()
    crashed = lost_work(library)
    assert crashed.photos == 4 and len(crashed.untagged) == 4  # committed, nothing done after

    with ClipDeskServices(library, model=str(model_dir), device="cpu") as again:
        report = again.index()
    after = lost_work(library)
    assert (after.photos, after.untagged, after.keyword_lost) == (12, [], [])
    assert report.embedded == 8 and report.waiting == {} and report.waiting_note == ""


def test_a_lock_held_past_the_wait_leaves_the_work_pending_and_told_then_done(
    tmp_path, model_dir, monkeypatch
):
    photos_with_keywords(tmp_path / "photos", 8)
    library = tmp_path / "lib.sqlite3"
    app = ClipDeskServices(library, model=str(model_dir), device="cpu")
    app._library = Library(library, timeout=0.2)  # a short busy wait keeps the test quick
    app.folders.add(tmp_path / "photos")
    other = WriteLock(library)
    committed = ClipDeskServices._on_embedded

    def locked_after_commit(self, ids, vectors):
        other.take()  # another program takes the write lock as soon as the vectors landed
        committed(self, ids, vectors)

    monkeypatch.setattr(ClipDeskServices, "_on_embedded", locked_after_commit)
    try:
        report = app.index(commit_size=1000, commit_interval_s=1000)  # one commit
        assert report.embedded == 8
        assert report.waiting == {"xmp_import": 8, "tag": 8, "xmp_text": 8, "xmp_marks": 8}
        assert report.waiting_note.startswith("8 photos waiting for their XMP keywords and tags")
        assert "is locked by another program" in report.waiting_note
        status = app.status_report.report()
        assert status.waiting == report.waiting and status.waiting_note == report.waiting_note
        # another process (`clipdesk-cli status`) sees the owed work too, while it is locked
        shown = cli_json("--library", str(library), "status")
        assert shown["waiting"] == {"xmp_import": 8, "tag": 8, "xmp_text": 8, "xmp_marks": 8}
        assert shown["waiting_note"].startswith("8 photos waiting for their XMP keywords and tags")
        assert lost_work(library).untagged  # not done, and not dropped either
    finally:
        other.release()
    monkeypatch.undo()
    done = app.index()
    assert done.embedded == 0 and done.waiting == {} and done.waiting_note == ""
    assert app.status_report.report().waiting == {}
    app.close()
    after = lost_work(library)
    assert (after.photos, after.untagged, after.keyword_lost) == (8, [], [])


def tag_models(library: Path) -> dict[str, str]:
    """{file name: the model ids of its model-made tags}."""
    import sqlite3

    con = sqlite3.connect(library)
    try:
        rows = con.execute(
            "SELECT p.path, group_concat(DISTINCT t.model_id) FROM photos p "
            "JOIN photo_tags t ON t.photo_id = p.id AND t.model_id IS NOT NULL GROUP BY p.id"
        ).fetchall()
    finally:
        con.close()
    return {Path(path).name: ids for path, ids in rows}


def test_after_a_model_switch_every_photo_is_tagged_with_the_model_search_uses(tmp_path, model_dir):
    folder = tmp_path / "photos"
    photos_with_keywords(folder, 6)
    other = tiny_random_model(tmp_path / "models", seed=1, name="tiny-b")
    library = tmp_path / "lib.sqlite3"
    app = ClipDeskServices(library, model=str(model_dir), device="cpu")
    app.folders.add(folder)
    app.index()
    old_id = app.model.id
    assert set(tag_models(library).values()) == {old_id}

    app.set_model(str(other))
    assert app.index(limit=3).embedded == 3 and app.reembedding
    assert set(tag_models(library).values()) == {old_id}  # search (and tags) still the old model
    photos_with_keywords(folder / "later", 2, seed=9)  # new photos while re-embedding
    app.folders.scan()
    app.index()
    new_id = app.model.id
    assert not app.reembedding and new_id != old_id
    assert tag_models(library) == {p.name: new_id for p in sorted(folder.rglob("*.??g"))}
    assert app.status_report.report().waiting == {}
    app.close()
    after = lost_work(library)
    assert (after.photos, after.untagged, after.keyword_lost) == (8, [], [])


def test_a_library_damaged_where_only_the_tagging_step_reads_fails_the_run(tmp_path, model_dir):
    photos_with_keywords(tmp_path / "photos", 4)
    library = tmp_path / "lib.sqlite3"
    with ClipDeskServices(library, model=str(model_dir), device="cpu") as app:
        app.folders.add(tmp_path / "photos")
        app.tags.categories()  # the starter categories are stored
        # damage that neither the scan nor the vector commit reads: only tagging loads templates
        app.library.connection().execute("UPDATE categories SET templates = '[\"a'")
        with pytest.raises(LibraryCorruptError, match="damaged"):
            app.index()
    assert lost_work(library).untagged  # still owed, for after the repair


def test_one_photo_that_cannot_be_done_holds_back_no_other(tmp_path, model_dir, monkeypatch):
    from clipdesk.services.tags import TagService

    photos_with_keywords(tmp_path / "photos", 6)
    library = tmp_path / "lib.sqlite3"
    real = TagService._import_new_keywords
    with ClipDeskServices(library, model=str(model_dir), device="cpu") as app:
        app.folders.add(tmp_path / "photos")
        bad = min(p.id for p in app.library.photos())

        def fails_on_one(self, photo_ids):
            if bad in photo_ids:
                raise ValueError("a step's bug on one photo")
            real(self, photo_ids)

        monkeypatch.setattr(TagService, "_import_new_keywords", fails_on_one)
        report = app.index()
    assert report.waiting == {"xmp_import": 1}  # the bad photo's tags are not held back either
    lost = lost_work(library)
    assert (lost.photos, len(lost.keyword_lost), lost.untagged) == (6, 1, [])
