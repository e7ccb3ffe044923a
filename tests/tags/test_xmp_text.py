"""XMP titles and descriptions: read from sidecars and embedded packets as exiftool writes them,
the x-default language first, damaged or hostile packets skipped with their reason, and stored
for the text index by the owed step and by ``tags import-xmp``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from clipdesk.cli import main
from clipdesk.common.limits import MAX_XMP_DESCRIPTION_CHARS, MAX_XMP_TITLE_CHARS
from clipdesk.library.store import Library
from clipdesk.library.words import XMP_TEXT_STEP
from clipdesk.tags.xmp.packet import XmpError
from clipdesk.tags.xmp.text import XmpCaption, parse_caption, read_photo_caption
from tests.support.exiftool import EXIFTOOL
from tests.support.xmp_library import library_of

needs_exiftool = pytest.mark.skipif(
    EXIFTOOL is None, reason="exiftool (libimage-exiftool-perl) not installed"
)

TITLE = "Café crème – 東京タワー"
DESCRIPTION = "Ünïcödé first line\nsecond line, 日本語"


def exiftool_write(target: Path, *assignments: str, new: bool = False) -> None:
    """Let exiftool write the tags into ``target`` (a new sidecar when ``new``)."""
    assert EXIFTOOL is not None
    args = ["-o", str(target)] if new else ["-overwrite_original", str(target)]
    subprocess.run([EXIFTOOL, "-q", "-charset", "UTF8", *assignments, *args], check=True)


def packet(body: str) -> bytes:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        f'xmlns:dc="http://purl.org/dc/elements/1.1/">{body}</rdf:Description></rdf:RDF>'
        "</x:xmpmeta>"
    ).encode()


def alt(tag: str, *items: tuple[str | None, str]) -> str:
    lis = "".join(
        f'<rdf:li xml:lang="{lang}">{text}</rdf:li>' if lang else f"<rdf:li>{text}</rdf:li>"
        for lang, text in items
    )
    return f"<dc:{tag}><rdf:Alt>{lis}</rdf:Alt></dc:{tag}>"


@needs_exiftool
def test_a_title_and_description_exiftool_wrote_into_a_sidecar_are_read_back(tmp_path):
    photo = tmp_path / "IMG_1.jpg"
    Image.new("RGB", (8, 8)).save(photo)
    side = photo.with_name(photo.name + ".xmp")
    exiftool_write(
        side,
        f"-XMP-dc:Title={TITLE}",
        "-XMP-dc:Title-de=Milchkaffee",  # another language: x-default is the one shown
        f"-XMP-dc:Description={DESCRIPTION}",
        new=True,
    )
    caption, problems = read_photo_caption(photo)
    assert caption == XmpCaption(TITLE, DESCRIPTION) and problems == []


@needs_exiftool
@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
def test_a_title_and_description_embedded_in_the_photo_are_read_back(tmp_path, suffix):
    photo = tmp_path / f"IMG_2{suffix}"
    Image.new("RGB", (8, 8), (200, 30, 30)).save(photo)
    exiftool_write(photo, f"-XMP-dc:Title={TITLE}", f"-XMP-dc:Description={DESCRIPTION}")
    assert read_photo_caption(photo) == (XmpCaption(TITLE, DESCRIPTION), [])


@needs_exiftool
def test_the_photos_own_sidecar_wins_over_its_embedded_packet_field_by_field(tmp_path):
    photo = tmp_path / "IMG_3.jpg"
    Image.new("RGB", (8, 8)).save(photo)
    exiftool_write(photo, "-XMP-dc:Title=embedded title", "-XMP-dc:Description=embedded words")
    exiftool_write(photo.with_suffix(".xmp"), "-XMP-dc:Title=sidecar title", new=True)
    assert read_photo_caption(photo) == (XmpCaption("sidecar title", "embedded words"), [])
    # a basename sidecar another file of that name owns is not this photo's
    (tmp_path / "IMG_3.CR2").write_bytes(b"a camera RAW")
    assert read_photo_caption(photo)[0] == XmpCaption("embedded title", "embedded words")


def test_the_x_default_entry_is_taken_else_the_first_with_text():
    body = alt("title", ("de", "Hallo"), ("x-default", "  Hello\n   world  ")) + alt(
        "description", ("x-default", " "), ("fr", "Une ligne\n\n\n\n  et   une autre ")
    )
    assert parse_caption(packet(body)) == XmpCaption("Hello world", "Une ligne\n\net une autre")
    qualified = (
        '<dc:title><rdf:Alt><rdf:li rdf:parseType="Resource"><rdf:value>Qualified</rdf:value>'
        "<xml:lang>en</xml:lang></rdf:li></rdf:Alt></dc:title><dc:description>plain</dc:description>"
    )
    assert parse_caption(packet(qualified)) == XmpCaption("Qualified", "plain")
    assert parse_caption(packet("")) == XmpCaption()


def test_a_title_or_description_past_its_limit_is_cut():
    long = "word " * MAX_XMP_DESCRIPTION_CHARS
    caption = parse_caption(
        packet(alt("title", ("x-default", long)) + alt("description", (None, long)))
    )
    assert caption.title is not None and caption.description is not None
    assert len(caption.title) <= MAX_XMP_TITLE_CHARS and caption.title.startswith("word word")
    assert len(caption.description) <= MAX_XMP_DESCRIPTION_CHARS


HOSTILE = {
    "truncated": (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF', "not valid XML"),
    "entity bomb": (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        + packet(alt("title", ("x-default", "&b;&b;&b;"))),
        "DOCTYPE",
    ),
    "external entity": (
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        + packet(alt("title", ("x-default", "&e;"))),
        "DOCTYPE",
    ),
    "undeclared entity": (packet(alt("title", ("x-default", "&e;"))), "not valid XML"),
    "unknown encoding": (
        b'<?xml version="1.0" encoding="no-such-codec"?>' + packet(""),
        "text encoding",
    ),
    "multi-byte encoding": (
        b'<?xml version="1.0" encoding="shift_jis"?>' + packet(""),
        "text encoding",
    ),
    "not XMP": (b"<html><title>hello</title></html>", "not an XMP packet"),
    "too deep": (
        packet("<a>" * 80 + "</a>" * 80).replace(b"<a>", b"<dc:a>").replace(b"</a>", b"</dc:a>"),
        "nested deeper",
    ),
}


@pytest.fixture(scope="module")
def titled_jpeg(tmp_path_factory) -> bytes:
    """A JPEG whose embedded XMP exiftool gave a title (made once: exiftool takes ~0.3 s)."""
    photo = tmp_path_factory.mktemp("titled") / "titled.jpg"
    Image.new("RGB", (8, 8)).save(photo)
    exiftool_write(photo, "-XMP-dc:Title=still read")
    return photo.read_bytes()


@needs_exiftool
@pytest.mark.parametrize("kind", list(HOSTILE))
def test_a_damaged_or_hostile_sidecar_is_skipped_with_its_reason(tmp_path, kind, titled_jpeg):
    data, reason = HOSTILE[kind]
    with pytest.raises(XmpError, match=reason):
        parse_caption(data, "sidecar")
    photo = tmp_path / "IMG_4.jpg"
    photo.write_bytes(titled_jpeg)
    side = photo.with_name(photo.name + ".xmp")
    side.write_bytes(data)
    caption, problems = read_photo_caption(photo)
    assert caption == XmpCaption("still read")  # the photo's other packet is still read
    assert len(problems) == 1 and problems[0].startswith(str(side)) and reason in problems[0]


# --- stored for the text index ----------------------------------------------------------------


def test_newly_indexed_photos_get_their_title_and_description_through_an_owed_step(tmp_path):
    app, ids = library_of(tmp_path, ["a.jpg", "b.jpg", "c.jpg"])
    try:
        names = app.steps.names
        assert XMP_TEXT_STEP in app.steps.vector_free
        assert names.index(XMP_TEXT_STEP) == names.index("tag") + 1
        photos = tmp_path / "photos"
        (photos / "a.jpg.xmp").write_bytes(
            packet(alt("title", ("x-default", TITLE)) + alt("description", (None, "by the sea")))
        )
        (photos / "b.jpg.xmp").write_bytes(b"<x:xmpmeta")  # damaged: skipped, step still done
        all_ids = list(ids.values())
        app.library.add_steps(all_ids, names, "fake@1", vector_free=app.steps.vector_free)
        app.search_model()  # pins the fake model as search's, as an index run does
        backlog = app.steps.run()
        assert backlog.waiting.get(XMP_TEXT_STEP, 0) == 0 and backlog.problem is None
        text = app.library.photo_text(ids["a.jpg"])
        assert text is not None and (text.title, text.description) == (TITLE, "by the sea")
        for name in ("b.jpg", "c.jpg"):
            other = app.library.photo_text(ids[name])
            assert other is None or (other.title, other.description) == (None, None)
    finally:
        app.close()


def test_import_xmp_refreshes_titles_and_descriptions(tmp_path, capsys):
    app, ids = library_of(tmp_path, ["a.jpg", "b.jpg"])
    side = tmp_path / "photos" / "a.jpg.xmp"
    side.write_bytes(packet(alt("title", ("x-default", "old title"))))
    try:
        report = app.tags.import_xmp_report()
        assert report.captioned == 1
        assert app.library.photo_text(ids["a.jpg"]).title == "old title"
        side.write_bytes(b"<x:xmpmeta")  # damaged for a while: what it said is not erased
        report = app.tags.import_xmp_report()
        assert len(report.failed) == 1 and report.captioned == 1
        assert app.library.photo_text(ids["a.jpg"]).title == "old title"
        side.write_bytes(packet(alt("description", ("x-default", "new words"))))
    finally:
        app.close()
    code = main(["--json", "--library", str(tmp_path / "lib.sqlite3"), "tags", "import-xmp"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["captioned"] == 1
    lib = Library(tmp_path / "lib.sqlite3")
    try:
        text = lib.photo_text(ids["a.jpg"])
        assert text is not None
        assert (text.title, text.description) == (None, "new words")  # the old title is gone
    finally:
        lib.close()
