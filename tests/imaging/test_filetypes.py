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


# Names that are, or look like, photo types somewhere in ClipDesk (and a few that are not): each
# face must take exactly the ones the scanner indexes. `.avif` was once indexed but refused as a
# query image, and `.ari` decoded but never scanned, because three lists disagreed.
_LOOKALIKES = [".avif", ".ari", ".jxl", ".psd", ".svg", ".xmp", ".txt", ".mp4", ".ico", ".jp2"]


def _every_extension() -> list[str]:
    from clipdesk.imaging import decode, filetypes

    known = set(filetypes.EXTENSION_KINDS) | set(decode.RAW_EXTENSIONS)
    known |= set(decode.HEIF_EXTENSIONS)
    return sorted(known | set(_LOOKALIKES))


def test_every_scanned_extension_is_a_query_image_and_nothing_else(tmp_path):
    from clipdesk.services.images import is_photo_name, photo_extensions
    from clipdesk.ui.drops import is_image_path
    from clipdesk.ui.single_instance import image_paths_from_args

    assert photo_extensions() == frozenset(e for e in _every_extension() if is_candidate(f"x{e}"))
    for ext in _every_extension():
        path = tmp_path / f"photo{ext}"
        path.write_bytes(b"x")
        scanned = is_candidate(path.name) and is_candidate(path.name.upper())
        assert is_photo_name(path) is scanned, ext
        assert is_image_path(str(path)) is scanned, f"drop/paste of {ext}"
        assert (image_paths_from_args(["clipdesk", str(path)]) == [path]) is scanned, ext


def test_every_format_the_decoder_handles_is_scanned():
    from clipdesk.imaging import decode, filetypes

    for ext in decode.RAW_EXTENSIONS:
        assert is_candidate(f"IMG{ext}") and filetypes.kind_from_extension(f"x{ext}") == "raw", ext
    for ext in decode.HEIF_EXTENSIONS:
        assert filetypes.kind_from_extension(f"x{ext}") == "heif", ext
    raws = {ext for ext, kind in filetypes.EXTENSION_KINDS.items() if kind == "raw"}
    assert raws == set(decode.RAW_EXTENSIONS)  # and the scanner hands no RAW to the wrong path
    assert {".avif", ".ari"} <= filetypes.PHOTO_EXTENSIONS


def test_an_avif_photo_decodes(tmp_path):
    from clipdesk.imaging.decode import decode_for_model

    path = tmp_path / "photo.avif"
    Image.new("RGB", (40, 30), (200, 10, 10)).save(path)
    decoded = decode_for_model(path, 16)
    assert (decoded.width, decoded.height) == (40, 30) and min(decoded.image.size) <= 16
