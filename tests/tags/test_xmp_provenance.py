"""Keywords ClipDesk did not write are never rewritten, moved between dc:subject and
lr:hierarchicalSubject, split or removed; outside the items ClipDesk adds or removes, another
tool's sidecar keeps every byte (its namespaces, declarations and attribute layout)."""

from __future__ import annotations

import difflib

import pytest

from clipdesk.tags.categories import Category, Mode
from clipdesk.tags.xmp import sidecar as xmp
from tests.support.exiftool import EXIFTOOL, as_list, exiftool
from tests.support.xmp_library import darktable_sidecar, library_of

needs_exiftool = pytest.mark.skipif(EXIFTOOL is None, reason="exiftool not installed")
COLOUR = Category("Colour", ("red", "green", "blue"), Mode.SINGLE, 0.0)
KEYWORD_TAGS = {"XMP-dc:Subject", "XMP-lr:HierarchicalSubject"}


def changed_lines(before: bytes, after: bytes) -> list[str]:
    diff = difflib.unified_diff(
        before.decode().splitlines(), after.decode().splitlines(), lineterm="", n=0
    )
    return [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]


@pytest.fixture
def darktable(tmp_path):
    """IMG_2041.jpg with darktable's sidecar, imported, and a second photo without one."""
    app, ids = library_of(tmp_path, ["IMG_2041.jpg", "IMG_2042.jpg"])
    side = darktable_sidecar(tmp_path / "photos" / "IMG_2041.jpg")
    app.tags.add_category(COLOUR)
    assert app.tags.import_xmp() == 2  # darktable|format|jpg and Places|Italy|Rome
    yield app, ids["IMG_2041.jpg"], side
    app.close()


@needs_exiftool
def test_one_added_tag_is_a_two_line_diff_of_darktables_sidecar(darktable):
    app, pid, side = darktable
    before_bytes, before_tags = side.read_bytes(), exiftool(side)
    app.tags.decide([pid], "Colour", "red", "confirmed")
    report = app.tags.write_xmp()
    assert report.written == [side] and not report.failed
    assert changed_lines(before_bytes, side.read_bytes()) == [
        "+     <rdf:li>red</rdf:li>",
        "+     <rdf:li>Colour|red</rdf:li>",
    ]
    after = exiftool(side)
    assert as_list(after["XMP-dc:Subject"]) == ["Rome", "red"]
    assert as_list(after["XMP-lr:HierarchicalSubject"]) == [
        "darktable|format|jpg",
        "Places|Italy|Rome",
        "Colour|red",
    ]
    assert {k: v for k, v in after.items() if k not in KEYWORD_TAGS} == {
        k: v for k, v in before_tags.items() if k not in KEYWORD_TAGS
    }
    # and taking it out again gives darktable its file back, byte for byte
    app.tags.decide([pid], "Colour", "red", "rejected")
    app.tags.write_xmp()
    assert side.read_bytes() == before_bytes


def test_other_tools_keywords_are_not_copied_split_or_moved(tmp_path):
    app, ids = library_of(tmp_path, ["a.jpg", "b.jpg"])
    folder = tmp_path / "photos"
    # another tool's flat keywords, one of them with bars in it
    side = folder / "a.jpg.xmp"
    side.write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Image::ExifTool 12.57">\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        ' <rdf:Description rdf:about=""\n'
        '  xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
        "  <dc:subject>\n"
        "   <rdf:Bag>\n"
        "    <rdf:li>holiday</rdf:li>\n"
        "    <rdf:li>a|b|c</rdf:li>\n"
        "   </rdf:Bag>\n"
        "  </dc:subject>\n"
        " </rdf:Description>\n"
        "</rdf:RDF>\n"
        "</x:xmpmeta>\n",
        encoding="utf-8",
    )
    before = side.read_bytes()
    assert app.tags.import_xmp() == 2
    app.tags.add_category(COLOUR)
    app.tags.write_xmp(include_suggestions=False)
    assert side.read_bytes() == before  # the photo's tags are all there already, as they are
    app.tags.decide([ids["a.jpg"]], "Colour", "green", "confirmed")
    app.tags.write_xmp()
    kw = xmp.read_sidecar_keywords(side)
    assert kw.subjects == ["holiday", "a|b|c", "green"]  # no "c", "a|b|c" still flat
    assert kw.hierarchical == ["Colour|green"]  # no "holiday", no "a|b|c" path
    app.close()


def test_darktable_paths_get_no_leaves_and_its_keywords_no_copies(darktable):
    app, pid, side = darktable
    app.tags.write_xmp()  # the imported tags are darktable's own keywords: nothing to add
    kw = xmp.read_sidecar_keywords(side)
    assert kw.subjects == ["Rome"]  # no "jpg"
    assert kw.hierarchical == ["darktable|format|jpg", "Places|Italy|Rome"]


def test_another_tools_keyword_equal_to_ours_stays_when_the_user_removes_our_tag(tmp_path):
    app, ids = library_of(tmp_path, ["c.jpg"])
    side = darktable_sidecar(tmp_path / "photos" / "c.jpg")
    # darktable (not ClipDesk) tagged the photo Colour|red before ClipDesk ever saw it
    side.write_bytes(
        side.read_bytes().replace(
            b"<rdf:li>Places|Italy|Rome</rdf:li>",
            b"<rdf:li>Places|Italy|Rome</rdf:li>\n     <rdf:li>Colour|red</rdf:li>",
        )
    )
    before = side.read_bytes()
    app.tags.add_category(COLOUR)
    app.tags.import_xmp()
    pid = ids["c.jpg"]
    app.tags.decide([pid], "Colour", "red", "rejected")
    app.tags.decide([pid], "Colour", "blue", "confirmed")
    app.tags.write_xmp()
    kw = xmp.read_sidecar_keywords(side)
    assert "Colour|red" in kw.hierarchical  # darktable's: stays
    assert "Colour|blue" in kw.hierarchical and "blue" in kw.subjects
    # ClipDesk takes out what it wrote itself, and only that
    app.tags.decide([pid], "Colour", "blue", "rejected")
    app.tags.write_xmp()
    assert side.read_bytes() == before
    app.close()


@needs_exiftool
@pytest.mark.parametrize(
    "packet",
    [
        pytest.param(
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
            '02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.'
            'com/xap/1.0/" xmp:Rating="2"/></rdf:RDF></x:xmpmeta>',
            id="one-line-empty-description",
        ),
        pytest.param(
            "<?xpacket begin='\ufeff' id='W5M0MpCehiHzreSzNTczkc9d'?>\n"
            "<x:xmpmeta xmlns:x='adobe:ns:meta/' x:xmptk='Image::ExifTool 12.57'>\n"
            "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>\n\n"
            " <rdf:Description rdf:about=''\n"
            "  xmlns:lr='http://ns.adobe.com/lightroom/1.0/'>\n"
            "  <lr:hierarchicalSubject>\n"
            "   <rdf:Bag>\n"
            "    <rdf:li>Trip|Rome</rdf:li>\n"
            "   </rdf:Bag>\n"
            "  </lr:hierarchicalSubject>\n"
            " </rdf:Description>\n"
            "</rdf:RDF>\n"
            "</x:xmpmeta>\n"
            "<?xpacket end='w'?>",
            id="exiftool-no-dc-namespace",
        ),
        pytest.param(
            '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Adobe XMP Core 7.0">\n'
            '   <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
            '      <rdf:Description rdf:about=""\n'
            '            xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
            '            xmlns:lr="http://ns.adobe.com/lightroom/1.0/"\n'
            '            lr:hierarchicalSubject="Trip|Rome">\n'
            "         <dc:subject>\n"
            "            <rdf:Bag/>\n"
            "         </dc:subject>\n"
            "      </rdf:Description>\n"
            "   </rdf:RDF>\n"
            "</x:xmpmeta>\n",
            id="lightroom-attribute-and-empty-bag",
        ),
    ],
)
def test_edited_layouts_read_back_in_exiftool(tmp_path, packet):
    side = tmp_path / "x.xmp"
    side.write_text(packet, encoding="utf-8")
    before = exiftool(side)
    out = xmp.edit_keywords(
        side.read_bytes(),
        [("subject", "beach"), ("hierarchy", "Scene|beach")],
        source=str(side),
    )
    side.write_bytes(out)
    after = exiftool(side)
    assert "beach" in as_list(after["XMP-dc:Subject"])
    assert "Scene|beach" in as_list(after["XMP-lr:HierarchicalSubject"])
    assert {k: v for k, v in after.items() if k not in KEYWORD_TAGS} == {
        k: v for k, v in before.items() if k not in KEYWORD_TAGS
    }
    back = xmp.edit_keywords(out, [], [("subject", "beach"), ("hierarchy", "Scene|beach")])
    assert xmp.parse_keywords(back) == xmp.parse_keywords(packet.encode())
