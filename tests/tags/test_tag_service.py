"""The tag service both faces call: saving retags at once, XMP follows the shared settings, and
one sidecar per photo is left whatever an earlier version wrote."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clipdesk.library.records import FileFacts
from clipdesk.tags.categories import Category, Mode
from clipdesk.tags.records import TagState
from clipdesk.tags.xmp import sidecar as xmp
from tests.support.fake_text_model import image_vectors
from tests.support.small_libraries import services_over_colours

RICH = Path(__file__).parents[1] / "support" / "data" / "rich_darktable.xmp"
COLOUR = Category("Colour", ("red", "green", "blue"), Mode.SINGLE, 0.0)


@pytest.fixture
def app(tmp_path):
    """Services over a library of 4 photos (p0..p3.jpg) with vectors of the fake model."""
    services = services_over_colours(tmp_path)
    yield services
    services.close()


def photo(app, i: int) -> Path:
    return app.library.photos()[i].path


def tags(app, i: int) -> dict[str, TagState]:
    pid = app.library.photos()[i].id
    return {t.keyword: t.state for t in app.tags.tags_of(pid) if t.category == "Colour"}


def test_saving_an_automatic_category_tags_the_library_at_once(app):
    report = app.tags.add_category(COLOUR)
    assert report is not None and report.photos == 4 and report.suggested == 4
    assert tags(app, 1) == {"Colour|green": TagState.SUGGESTED}
    # redefining it retags at once too: a user decision on a kept label stays
    pid = app.library.photos()[0].id
    app.tags.decide([pid], "Colour", "blue", "confirmed")
    again = app.tags.save_category(Category("Colour", ("red", "green", "blue", "grey")))
    assert again is not None and again.photos == 4
    assert tags(app, 0)["Colour|blue"] is TagState.CONFIRMED
    assert tags(app, 1) == {"Colour|green": TagState.SUGGESTED}
    manual = app.tags.add_category(Category("Trips", ("Rome",), auto=False))
    assert manual is None  # nothing for the model to tag


def test_write_xmp_follows_the_shared_settings(app):
    app.tags.add_category(COLOUR)
    first = app.library.photos()[0]
    app.tags.decide([first.id], "Colour", "red", "confirmed")
    report = app.tags.write_xmp()  # defaults: photo.jpg.xmp, only the user's tags
    assert not report.failed
    assert sorted(p.name for p in first.path.parent.glob("*.xmp")) == ["p0.jpg.xmp"]
    assert xmp.read_sidecar_keywords(xmp.sidecar_path(first.path, "fullname")).hierarchical == [
        "Colour|red"
    ]
    app.settings.set_xmp(write_suggestions=True)
    app.tags.write_xmp()
    assert sorted(p.name for p in first.path.parent.glob("*.xmp")) == [
        f"p{i}.jpg.xmp" for i in range(4)
    ]
    # one run may ask otherwise; the settings stay as they are
    app.tags.write_xmp(include_suggestions=False)
    assert xmp.read_sidecar_keywords(xmp.sidecar_path(photo(app, 1), "fullname")).paths() == []
    assert app.settings.xmp_write_suggestions() is True


def test_a_sidecar_the_old_app_wrote_as_photo_xmp_is_renamed_keeping_every_field(app):
    app.tags.add_category(COLOUR)
    p0 = photo(app, 0)
    old = p0.with_suffix(".xmp")  # the old app's default name, made by ClipDesk...
    made = xmp.update_keywords(None, ["Colour|red"])
    # ...to which another tool later added a rating
    rated = b'rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="4"'
    old.write_bytes(made.replace(b'rdf:about=""', rated, 1))
    assert app.tags.import_xmp() >= 1  # read under the old name
    assert tags(app, 0) == {"Colour|red": TagState.IMPORTED}
    report = app.tags.write_xmp()
    new = xmp.sidecar_path(p0, "fullname")
    assert report.absorbed == [old] and not old.exists() and new.exists()
    assert sorted(p.name for p in p0.parent.glob("p0*.xmp")) == ["p0.jpg.xmp"]
    assert b'xmp:Rating="4"' in new.read_bytes()  # every field came along
    assert "Colour|red" in xmp.read_sidecar_keywords(new).hierarchical
    assert app.tags.write_xmp().unchanged >= 1  # and the next run has nothing to do


def test_both_names_present_are_merged_into_one(app):
    app.tags.add_category(COLOUR)
    p1 = photo(app, 1)
    pid = app.library.photos()[1].id
    app.tags.decide([pid], "Colour", "green", "confirmed")
    # the CLI wrote photo.jpg.xmp with a guess, the app photo.xmp with another tool's keyword
    new = xmp.sidecar_path(p1, "fullname")
    new.write_bytes(xmp.update_keywords(None, ["Colour|blue", "Colour|green"]))
    old = p1.with_suffix(".xmp")
    old.write_bytes(xmp.update_keywords(None, ["Colour|green", "Trip|Rome"]))
    app.tags.write_xmp([pid])
    assert not old.exists()
    kw = xmp.read_sidecar_keywords(new)
    assert sorted(kw.hierarchical) == ["Colour|green", "Trip|Rome"]  # no guess left
    assert "blue" not in kw.subjects


def test_a_basename_sidecar_of_a_raw_jpeg_pair_is_the_raws_alone(app):
    """IMG_1.xmp beside IMG_1.CR2 and IMG_1.jpg is the RAW's (Lightroom keeps the RAW's
    settings there): the JPEG neither reads its keywords nor writes into it."""
    app.tags.add_category(COLOUR)
    p2 = photo(app, 2)
    raw = p2.with_suffix(".CR2")  # the RAW of the pair (not even in the library)
    raw.write_bytes(b"raw")
    shared = p2.with_suffix(".xmp")
    shared.write_bytes(xmp.update_keywords(None, ["Trip|Rome"]))
    before = shared.read_bytes()
    pid = app.library.photos()[2].id
    assert app.tags.import_xmp([pid]) == 0
    app.tags.decide([pid], "Colour", "blue", "confirmed")
    for naming in ("fullname", "basename"):
        report = app.tags.write_xmp([pid], naming=naming)
        assert report.absorbed == [] and shared.read_bytes() == before  # the RAW's, untouched
    assert [p.name for p in report.full_names] == ["p2.jpg.xmp"]
    kw = xmp.read_sidecar_keywords(xmp.sidecar_path(p2, "fullname"))
    assert kw.hierarchical == ["Colour|blue"]


def test_choosing_basename_folds_photo_jpg_xmp_into_photo_xmp(app):
    app.tags.add_category(COLOUR)
    p3 = photo(app, 3)
    pid = app.library.photos()[3].id
    app.tags.decide([pid], "Colour", "red", "confirmed")
    app.tags.write_xmp([pid])
    app.settings.set_xmp(naming="basename")
    report = app.tags.write_xmp([pid])
    assert [p.name for p in report.written] == ["p3.xmp"]
    assert sorted(p.name for p in p3.parent.glob("p3*.xmp")) == ["p3.xmp"]


def test_a_damaged_sidecar_of_the_other_name_is_neither_adopted_nor_removed(app):
    app.tags.add_category(COLOUR)
    p0 = photo(app, 0)
    pid = app.library.photos()[0].id
    app.tags.decide([pid], "Colour", "red", "confirmed")
    damaged = p0.with_suffix(".xmp")
    damaged.write_bytes(b"<x:xmpmeta><rdf:RDF>")
    report = app.tags.write_xmp([pid])
    assert not report.failed and report.absorbed == []
    assert damaged.read_bytes() == b"<x:xmpmeta><rdf:RDF>"  # not ours to judge or repair
    ours = xmp.sidecar_path(p0, "fullname")
    assert "Colour|red" in xmp.read_sidecar_keywords(ours).hierarchical


def test_another_tools_sidecar_under_the_other_name_is_never_moved_or_removed(app):
    """Lightroom keeps a RAW's develop settings in IMG_1.xmp: writing IMG_1.CR2.xmp must leave
    that file as it is (only sidecars ClipDesk created are folded into one)."""
    app.tags.add_category(COLOUR)
    p1 = photo(app, 1)
    pid = app.library.photos()[1].id
    foreign = p1.with_suffix(".xmp")
    foreign.write_bytes(xmp.update_keywords(RICH.read_bytes(), ["Colour|blue"]))
    before = foreign.read_bytes()
    app.tags.import_xmp([pid])  # its keywords are still read
    assert tags(app, 1).get("Colour|blue") == TagState.IMPORTED
    app.tags.decide([pid], "Colour", "green", "confirmed")
    report = app.tags.write_xmp([pid])
    assert report.absorbed == [] and foreign.read_bytes() == before
    kw = xmp.read_sidecar_keywords(xmp.sidecar_path(p1, "fullname"))
    assert "Colour|green" in kw.hierarchical


def test_preview_scores_a_draft_without_saving_it(app):
    draft = Category("Hue", ("red", "green", "blue"))
    best = app.tags.preview(draft, "red", 2)
    assert [r.photo.path.name for r in best] == ["p0.jpg", "p3.jpg"]
    assert all(r.score > 0.5 for r in best)
    assert "Hue" not in [c.name for c in app.tags.categories()]


def test_new_photos_are_tagged_by_the_services_for_every_face(app, tmp_path):
    app.tags.add_category(COLOUR)
    extra = tmp_path / "photos" / "p9.jpg"
    Image.new("RGB", (4, 4)).save(extra)
    shutil.copy(RICH, xmp.sidecar_path(extra, "fullname"))
    folder = app.library.folders()[0]
    st = extra.stat()
    [(pid, _)] = app.library.add_or_update_photos(
        folder.id, [FileFacts(extra, st.st_size, st.st_mtime_ns, "jpeg", "h9")]
    )
    vec = image_vectors(["green"], noise=0.05, seed=2)
    with app.library.transaction():  # what the pipeline commits: the vector and what it is owed
        app.library.store_embeddings("fake@1", [pid], vec)
        app.library.add_steps([pid], app.steps.names, "fake@1")
    app.search_model()  # pins the fake model as search's, as an index run does
    app._on_embedded(np.array([pid]), vec)  # what the pipeline calls after each batch
    # done, in the transactions that wrote the tags; reading text is its own pass (app.ocr)
    assert set(app.library.count_steps()) == {"ocr"}
    assert {t.keyword: t.state for t in app.tags.tags_of(pid) if t.category == "Colour"} == {
        "Colour|green": TagState.SUGGESTED
    }
