"""XMP sidecars: keywords written the way other tools read them, nothing else in the file lost."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from clipdesk.tags.xmp import sidecar as xmp
from clipdesk.tags.xmp.sidecar import (
    SidecarNaming,
    XmpError,
    existing_sidecars,
    parse_keywords,
    read_embedded_keywords,
    read_photo_keywords,
    read_sidecar_keywords,
    sidecar_path,
    update_keywords,
    write_sidecar_keywords,
)
from tests.support.exiftool import EXIFTOOL, as_list, exiftool

RICH = Path(__file__).parents[1] / "support" / "data" / "rich_darktable.xmp"
needs_exiftool = pytest.mark.skipif(
    EXIFTOOL is None, reason="exiftool (libimage-exiftool-perl) not installed"
)

KEYWORD_TAGS = {"XMP-dc:Subject", "XMP-lr:HierarchicalSubject", "XMP-digiKam:TagsList"}


def photo_with_rich_sidecar(tmp_path: Path) -> tuple[Path, Path]:
    photo = tmp_path / "IMG_0001.jpg"
    photo.write_bytes(b"")
    side = sidecar_path(photo, SidecarNaming.FULLNAME)
    shutil.copy(RICH, side)
    return photo, side


def test_sidecar_names():
    assert sidecar_path("/p/IMG_1.CR2", "basename") == Path("/p/IMG_1.xmp")
    assert sidecar_path("/p/IMG_1.CR2", SidecarNaming.FULLNAME) == Path("/p/IMG_1.CR2.xmp")


@needs_exiftool
@pytest.mark.parametrize("naming", list(SidecarNaming))
def test_new_sidecar_reads_back_in_exiftool(tmp_path, naming):
    photo = tmp_path / "IMG_0002.jpg"
    Image.new("RGB", (8, 8)).save(photo)
    keywords = ["Scene|beach", "Colour|red", "Food & drink|crème <brûlée>"]
    path, changed = write_sidecar_keywords(photo, keywords, naming=naming)
    assert changed and path == sidecar_path(photo, naming)
    tags = exiftool(path)
    assert as_list(tags["XMP-dc:Subject"]) == ["beach", "red", "crème <brûlée>"]
    assert as_list(tags["XMP-lr:HierarchicalSubject"]) == keywords
    assert read_photo_keywords(photo).hierarchical == keywords


@needs_exiftool
def test_merge_keeps_every_other_field_of_a_rich_sidecar(tmp_path):
    photo, side = photo_with_rich_sidecar(tmp_path)
    before = exiftool(side)
    assert before["XMP-xmp:Rating"] == 4 and "XMP-darktable:History" in before  # a real test file
    write_sidecar_keywords(photo, ["Scene|beach", "Pets|dog"])
    after = exiftool(side)
    assert {k: v for k, v in after.items() if k not in KEYWORD_TAGS} == {
        k: v for k, v in before.items() if k not in KEYWORD_TAGS
    }
    assert as_list(after["XMP-dc:Subject"]) == ["holiday", "Provence", "beach", "dog"]
    assert as_list(after["XMP-lr:HierarchicalSubject"]) == [
        "Places|France|Provence",
        "Scene|beach",
        "Pets|dog",
    ]
    text = side.read_text(encoding="utf-8")
    assert "darktable:history" in text and "ns0:" not in text  # original prefixes kept


@needs_exiftool
def test_exiftool_written_sidecar_and_embedded_keywords_are_read(tmp_path):
    photo = tmp_path / "a.jpg"
    Image.new("RGB", (8, 8)).save(photo)
    subprocess.run(
        [
            EXIFTOOL,
            "-q",
            "-overwrite_original",
            "-XMP-dc:Subject=sunset",
            "-XMP-dc:Subject=beach",
            "-XMP-lr:HierarchicalSubject=Scene|beach",
            str(photo),
        ],
        check=True,
    )
    emb = read_embedded_keywords(photo)
    assert emb.subjects == ["sunset", "beach"] and emb.hierarchical == ["Scene|beach"]
    assert emb.paths() == ["Scene|beach", "sunset"]
    side = tmp_path / "a.xmp"
    subprocess.run(
        [EXIFTOOL, "-q", "-XMP-dc:Subject=holiday", "-XMP-xmp:Rating=3", str(side)], check=True
    )
    # exiftool's own packet, merged by us, read back by exiftool
    write_sidecar_keywords(photo, ["Pets|cat"], naming="basename")
    tags = exiftool(side)
    assert as_list(tags["XMP-dc:Subject"]) == ["holiday", "cat"] and tags["XMP-xmp:Rating"] == 3
    both = read_photo_keywords(photo)
    assert set(both.paths()) == {"Scene|beach", "sunset", "holiday", "Pets|cat"}


def test_removal_takes_only_what_was_ours(tmp_path):
    photo, side = photo_with_rich_sidecar(tmp_path)
    write_sidecar_keywords(photo, ["Scene|beach", "Scene|city"])
    write_sidecar_keywords(
        photo, [], remove=["Scene|beach", "Places|France|Provence", "Pets|holiday"]
    )
    kw = read_sidecar_keywords(side)
    assert kw.hierarchical == ["Scene|city"]
    # Provence came with its path; "holiday" is a flat keyword nobody's path explains: it stays
    assert kw.subjects == ["holiday", "city"]


def test_leaf_shared_by_a_remaining_path_stays():
    data = update_keywords(None, ["Scene|beach", "Trip|beach"])
    data = update_keywords(data, [], remove=["Scene|beach"])
    kw = parse_keywords(data)
    assert kw.hierarchical == ["Trip|beach"] and kw.subjects == ["beach"]


def test_unchanged_keywords_do_not_touch_the_file(tmp_path):
    photo, side = photo_with_rich_sidecar(tmp_path)
    write_sidecar_keywords(photo, ["Scene|beach"])
    stat = side.stat()
    os.utime(side, ns=(stat.st_atime_ns, stat.st_mtime_ns - 10**9))
    mtime = side.stat().st_mtime_ns
    path, changed = write_sidecar_keywords(photo, ["Scene|beach"], remove=["Scene|city"])
    assert not changed and side.stat().st_mtime_ns == mtime


def test_damaged_sidecar_is_never_overwritten(tmp_path):
    photo = tmp_path / "b.jpg"
    side = sidecar_path(photo, "fullname")
    side.write_bytes(b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF")
    with pytest.raises(XmpError, match="not valid XML at line 1") as info:
        write_sidecar_keywords(photo, ["Scene|beach"])
    assert "will not overwrite" in (info.value.hint or "")
    assert side.read_bytes() == b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF"
    other = tmp_path / "c.jpg.xmp"
    other.write_text("<html><body/></html>")
    with pytest.raises(XmpError, match="not an XMP packet"):
        write_sidecar_keywords(tmp_path / "c.jpg", ["x|y"])


def test_crash_during_write_leaves_the_old_sidecar(tmp_path, monkeypatch):
    photo, side = photo_with_rich_sidecar(tmp_path)
    before = side.read_bytes()

    def crash(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(XmpError, match="No space left"):
        write_sidecar_keywords(photo, ["Scene|beach"])
    assert side.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["IMG_0001.jpg", "IMG_0001.jpg.xmp"]


def test_digikam_tags_list_follows_when_present():
    data = RICH.read_bytes().replace(
        b"<darktable:history>",
        b'<digiKam:TagsList xmlns:digiKam="http://www.digikam.org/ns/1.0/"><rdf:Seq>'
        b"<rdf:li>Places/France/Provence</rdf:li></rdf:Seq></digiKam:TagsList><darktable:history>",
    )
    out = update_keywords(data, ["Scene|beach"], remove=["Places|France|Provence"])
    assert b"<rdf:li>Scene/beach</rdf:li>" in out and b"Places/France" not in out
    assert parse_keywords(out).hierarchical == ["Scene|beach"]
    # a file without the list does not get one
    assert b"TagsList" not in update_keywords(RICH.read_bytes(), ["Scene|beach"])


def test_attribute_form_and_bare_text_properties_are_read_and_converted():
    data = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" '
        b'xmlns:lr="http://ns.adobe.com/lightroom/1.0/" lr:hierarchicalSubject="A|b">'
        b"<dc:subject>b</dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    kw = parse_keywords(data)
    assert kw.subjects == ["b"] and kw.hierarchical == ["A|b"]
    kw2 = parse_keywords(update_keywords(data, ["A|c"]))
    assert kw2.subjects == ["b", "c"] and kw2.hierarchical == ["A|b", "A|c"]


def test_embedded_xmp_in_webp_and_garbage_files(tmp_path):
    packet = update_keywords(None, ["Who|portrait"])
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "WEBP", xmp=packet)
    (tmp_path / "p.webp").write_bytes(buf.getvalue())
    assert read_embedded_keywords(tmp_path / "p.webp").hierarchical == ["Who|portrait"]
    (tmp_path / "junk.jpg").write_bytes(b"not an image")
    assert read_photo_keywords(tmp_path / "junk.jpg") == xmp.XmpKeywords()


def test_unreadable_sidecar_is_skipped_on_import(tmp_path, caplog):
    photo = tmp_path / "d.jpg"
    Image.new("RGB", (8, 8)).save(photo)
    (tmp_path / "d.xmp").write_text("<broken")
    write_sidecar_keywords(photo, ["Scene|city"], naming="fullname")
    assert [p.name for p in existing_sidecars(photo)] == ["d.jpg.xmp", "d.xmp"]
    assert read_photo_keywords(photo).hierarchical == ["Scene|city"]
    assert "skipping unreadable XMP" in caplog.text


def test_rejected_keyword_leaves_even_when_only_flat(tmp_path):
    data = update_keywords(None, ["Trip|beach"])
    data = update_keywords(data, [], remove=["Scene|beach"])
    assert parse_keywords(data).subjects == ["beach"]  # not ours to take: Trip|beach explains it
    flat_only = update_keywords(None, ["holiday"])
    assert parse_keywords(update_keywords(flat_only, [], rejected=["holiday"])).subjects == []
    kept = update_keywords(data, [], rejected=["Scene|beach"])
    assert parse_keywords(kept).subjects == ["beach"]  # a remaining path still ends in it


def test_symlinked_sidecar_is_updated_where_it_points(tmp_path):
    real = tmp_path / "store" / "x.xmp"
    real.parent.mkdir()
    shutil.copy(RICH, real)
    photo = tmp_path / "x.jpg"
    (tmp_path / "x.jpg.xmp").symlink_to(real)
    write_sidecar_keywords(photo, ["Scene|beach"])
    assert (tmp_path / "x.jpg.xmp").is_symlink()
    assert "Scene|beach" in read_sidecar_keywords(real).hierarchical
