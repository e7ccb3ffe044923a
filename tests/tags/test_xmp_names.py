"""Sidecar names never collide: IMG_1.jpg and IMG_1.png never share IMG_1.xmp, whatever the
naming, however many runs, and import never gives one photo the other's keywords."""

from __future__ import annotations

import pytest

from clipdesk.tags.categories import Category, Mode
from clipdesk.tags.records import TagState
from clipdesk.tags.xmp import sidecar as xmp
from tests.support.xmp_library import library_of

COLOUR = Category("Colour", ("red", "green", "blue"), Mode.SINGLE, 0.0)


@pytest.fixture
def pair(tmp_path):
    """A library of p.jpg and p.png (a RAW+JPEG-like pair: one stem), and q.jpg alone."""
    app, ids = library_of(tmp_path, ["p.jpg", "p.png", "q.jpg"])
    app.tags.add_category(COLOUR)
    app.tags.decide([ids["p.jpg"]], "Colour", "red", "confirmed")
    app.tags.decide([ids["p.png"]], "Colour", "blue", "confirmed")
    app.tags.decide([ids["q.jpg"]], "Colour", "green", "confirmed")
    yield app, ids, tmp_path / "photos"
    app.close()


CRS = "http://ns.adobe.com/camera-raw-settings/1.0/"
MM = "http://ns.adobe.com/xap/1.0/mm/"


def sidecar_naming(prefix: str, uri: str, prop: str, photo: str, keyword: str) -> bytes:
    """Another tool's sidecar that names the photo it belongs to, with one keyword."""
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:{prefix}="{uri}" {prefix}:{prop}="{photo}" '
        'xmlns:lr="http://ns.adobe.com/lightroom/1.0/"><lr:hierarchicalSubject><rdf:Bag>'
        f"<rdf:li>{keyword}</rdf:li></rdf:Bag></lr:hierarchicalSubject></rdf:Description>"
        "</rdf:RDF></x:xmpmeta>"
    ).encode()


def user_tags(app, photo_id: int) -> set[str]:
    states = (TagState.CONFIRMED, TagState.IMPORTED)
    return {t.keyword for t in app.tags.tags_of(photo_id, states) if t.category == "Colour"}


def test_basename_pair_gets_two_sidecars_stable_over_runs(pair):
    app, ids, folder = pair
    first = app.tags.write_xmp(naming="basename")
    assert sorted(p.name for p in first.written) == ["p.png.xmp", "p.xmp", "q.xmp"]
    assert [p.name for p in first.full_names] == ["p.png.xmp"]  # the user is told
    assert "1 photo shares a name with another file" in first.summary()
    assert xmp.read_sidecar_keywords(folder / "p.xmp").hierarchical == ["Colour|red"]
    assert xmp.read_sidecar_keywords(folder / "p.png.xmp").hierarchical == ["Colour|blue"]
    before = {p.name: p.read_bytes() for p in folder.glob("*.xmp")}
    for _ in range(3):  # nothing flips back and forth: each run finds everything in place
        again = app.tags.write_xmp(naming="basename")
        assert again.written == [] and again.unchanged == 3
        assert {p.name: p.read_bytes() for p in folder.glob("*.xmp")} == before


def test_import_never_gives_one_photo_the_others_keywords(pair):
    app, ids, folder = pair
    app.tags.write_xmp(naming="basename")
    for pid in ids.values():
        app.tags.clear_decision([pid], "Colour", "red")
        app.tags.clear_decision([pid], "Colour", "green")
        app.tags.clear_decision([pid], "Colour", "blue")
    assert app.tags.import_xmp() == 3
    assert user_tags(app, ids["p.jpg"]) == {"Colour|red"}
    assert user_tags(app, ids["p.png"]) == {"Colour|blue"}
    assert user_tags(app, ids["q.jpg"]) == {"Colour|green"}


def test_a_sidecar_shared_before_the_fix_is_settled(pair):
    """What the old code left: one p.xmp ClipDesk wrote for whichever photo came last."""
    app, ids, folder = pair
    (folder / "p.xmp").write_bytes(xmp.update_keywords(None, ["Colour|blue"]))
    app.tags.write_xmp(naming="basename")
    assert xmp.read_sidecar_keywords(folder / "p.xmp").hierarchical == ["Colour|red"]
    assert xmp.read_sidecar_keywords(folder / "p.png.xmp").hierarchical == ["Colour|blue"]
    assert app.tags.write_xmp(naming="basename").written == []


def test_a_raw_owns_its_basename_sidecar_and_one_naming_its_photo_is_that_photos(tmp_path):
    app, ids = library_of(tmp_path, ["r.jpg", "s.png", "s.tif"])
    folder = tmp_path / "photos"
    app.tags.add_category(COLOUR)
    # Lightroom's sidecar of the RAW twin (not indexed): r.xmp is the RAW's, not the JPEG's
    (folder / "r.NEF").write_bytes(b"raw")
    lightroom = sidecar_naming("crs", CRS, "RawFileName", "r.NEF", "Trip|Lisbon")
    (folder / "r.xmp").write_bytes(lightroom)
    # darktable and ClipDesk write which photo a sidecar is for: s.xmp is s.tif's
    (folder / "s.xmp").write_bytes(sidecar_naming("xmpMM", MM, "DerivedFrom", "s.tif", "Trip|Rome"))
    app.tags.import_xmp()
    assert user_tags(app, ids["r.jpg"]) == set()
    imported = [TagState.IMPORTED]
    keywords = {n: {t.keyword for t in app.tags.tags_of(i, imported)} for n, i in ids.items()}
    assert keywords["s.png"] == set() and keywords["s.tif"] == {"Trip|Rome"}
    assert "Trip|Lisbon" not in keywords["r.jpg"]
    app.tags.decide([ids["r.jpg"]], "Colour", "red", "confirmed")
    report = app.tags.write_xmp([ids["r.jpg"]], naming="basename")
    assert [p.name for p in report.written] == ["r.jpg.xmp"]
    assert (folder / "r.xmp").read_bytes() == lightroom
    app.close()
