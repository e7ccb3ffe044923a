"""File type by extension and content, on real files of every supported format."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from clipdesk.imaging.filetypes import classify, is_candidate, sniff


def encoded(fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 12), (10, 200, 30)).save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "kind"),
    [
        ("JPEG", "jpeg"),
        ("PNG", "png"),
        ("WEBP", "webp"),
        ("TIFF", "tiff"),
        ("BMP", "bmp"),
        ("GIF", "gif"),
    ],
)
def test_pillow_formats_are_recognised_by_content(fmt, kind):
    assert sniff(encoded(fmt)[:32]) == kind


def test_heif_is_recognised():
    import pillow_heif

    pillow_heif.register_heif_opener()
    assert sniff(encoded("HEIF")[:32]) == "heif"


def test_raw_files():
    tiff_head = encoded("TIFF")[:32]
    assert classify("DSC_0001.NEF", tiff_head) == ("raw", None)  # TIFF container, RAW by name
    assert classify("scan.tif", tiff_head) == ("tiff", None)
    cr3 = b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01crx isom"
    assert classify("IMG_1.CR3", cr3) == ("raw", None)
    assert classify("x.raf", b"FUJIFILMCCD-RAW 0201FF383501") == ("raw", None)
    assert classify("odd.orf", b"\x00" * 32) == ("raw", None)  # rawpy decides later


def test_content_wins_over_a_wrong_extension_and_junk_is_named():
    assert classify("photo.jpg", encoded("PNG")[:32]) == ("png", None)
    kind, error = classify("photo.jpg", b"<html><body>404</body></html>")
    assert kind is None and "not an image" in error and "JPEG" in error
    assert classify("empty.png", b"") == (None, "empty file (0 bytes)")


def test_candidates_by_extension():
    for name in [
        "a.JPG",
        "b.jpeg",
        "c.png",
        "d.webp",
        "e.tiff",
        "f.bmp",
        "g.gif",
        "h.HEIC",
        "i.heif",
        "j.dng",
        "k.CR2",
        "l.arw",
        "m.nef",
        "n.rw2",
    ]:
        assert is_candidate(name), name
    for name in ["a.txt", "b.xmp", "c.mp4", "d", "e.jpg.part", "Thumbs.db"]:
        assert not is_candidate(name), name
