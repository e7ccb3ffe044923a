"""XMP written into JPEG, PNG and TIFF files: other tools read it back, pixels and other
metadata stay, another tool's packet is merged, and a failed or refused write leaves the
photo byte for byte as it was."""

from __future__ import annotations

import os
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from clipdesk.tags.xmp import containers, embedded
from clipdesk.tags.xmp.marks import MarkEdit, edit_marks
from clipdesk.tags.xmp.packet import XmpError
from clipdesk.tags.xmp.sidecar import parse_keywords, update_keywords
from tests.support.exiftool import EXIFTOOL, as_list, exiftool

needs_exiftool = pytest.mark.skipif(
    EXIFTOOL is None, reason="exiftool (libimage-exiftool-perl) not installed"
)

FORMATS = ["a.jpg", "a.png", "a.tif", "b.tif"]  # b.tif: big-endian ("MM"), 16-bit grey


def _icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def make_photo(folder: Path, name: str) -> Path:
    """A small photo with EXIF (Make) and an ICC profile, as cameras and editors leave them."""
    path = folder / name
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    if name == "b.tif":
        grey = Image.frombytes(
            "I;16B", (12, 8), bytes(i % 256 for i in range(12 * 8 * 2))
        )  # saved as an "MM" TIFF
        grey.save(path, exif=exif)
        assert path.read_bytes()[:2] == b"MM"
        return path
    im = Image.linear_gradient("L").resize((24, 16)).convert("RGB")
    im.save(path, exif=exif, icc_profile=_icc())
    return path


def pixels(path: Path) -> tuple[str, tuple[int, int], bytes]:
    with Image.open(path) as im:
        return im.mode, im.size, im.tobytes()


def write(path: Path, add=(), remove=(), marks: MarkEdit | None = None) -> bool:
    draft = embedded.draft_embedded(path)
    new = update_keywords(draft.packet, add, remove, f"{path} (embedded XMP)")
    if marks is not None:
        new = edit_marks(new, marks)
    return embedded.commit_embedded(draft, new)


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


@needs_exiftool
@pytest.mark.parametrize("name", FORMATS)
def test_keywords_and_rating_written_into_each_format_are_read_by_exiftool(tmp_path, name):
    photo = make_photo(tmp_path, name)
    before, meta_before = pixels(photo), exiftool(photo)
    assert write(photo, ["Scene|beach", "Colour|red"], marks=MarkEdit(4, "Red", True, True))
    tags = exiftool(photo)
    assert as_list(tags["XMP-dc:Subject"]) == ["beach", "red"]
    assert as_list(tags["XMP-lr:HierarchicalSubject"]) == ["Scene|beach", "Colour|red"]
    assert tags["XMP-xmp:Rating"] == 4 and tags["XMP-xmp:Label"] == "Red"
    assert pixels(photo) == before
    # EXIF and the ICC profile are the file's own, untouched
    assert tags["IFD0:Make"] == "TestCam"
    for key, value in meta_before.items():
        if key.startswith(("ICC", "IFD0:", "ExifIFD:", "PNG:", "JFIF:")) and key not in (
            "IFD0:XMP",
        ):
            assert tags.get(key) == value, key
    # a second edit replaces the packet, never adds another
    assert write(photo, ["Scene|sea"], ["Colour|red"])
    tags = exiftool(photo)
    assert as_list(tags["XMP-dc:Subject"]) == ["beach", "sea"]
    assert tags["XMP-xmp:Rating"] == 4
    assert pixels(photo) == before
    assert embedded.draft_embedded(photo).packet is not None
    assert leftovers(tmp_path) == []


@needs_exiftool
@pytest.mark.parametrize("name", ["a.jpg", "a.png", "a.tif"])
def test_another_tools_embedded_packet_is_merged_and_its_fields_kept(tmp_path, name):
    photo = make_photo(tmp_path, name)
    subprocess.run(
        [
            str(EXIFTOOL),
            "-q",
            "-overwrite_original",
            "-XMP-dc:Subject=holiday",
            "-XMP-dc:Title=Rome at dusk",
            "-XMP-photoshop:City=Rome",
            "-XMP-xmp:Rating=3",
            str(photo),
        ],
        check=True,
    )
    before = pixels(photo)
    assert write(photo, ["Scene|city"])
    tags = exiftool(photo)
    assert as_list(tags["XMP-dc:Subject"]) == ["holiday", "city"]
    assert tags["XMP-dc:Title"] == "Rome at dusk" and tags["XMP-photoshop:City"] == "Rome"
    assert tags["XMP-xmp:Rating"] == 3 and tags["XMP-x:XMPToolkit"].startswith("Image::ExifTool")
    assert pixels(photo) == before


@pytest.mark.parametrize("name", FORMATS)
def test_a_write_interrupted_before_the_rename_keeps_the_original(tmp_path, name, monkeypatch):
    photo = make_photo(tmp_path, name)
    original = photo.read_bytes()

    def fail(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(embedded.os, "replace", fail)
    with pytest.raises(XmpError, match="No space left on device"):
        write(photo, ["Scene|beach"])
    assert photo.read_bytes() == original and leftovers(tmp_path) == []

    def interrupted(*_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(embedded, "_check_written", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write(photo, ["Scene|beach"])
    assert photo.read_bytes() == original and leftovers(tmp_path) == []


def test_a_write_that_would_change_a_pixel_is_refused(tmp_path, monkeypatch):
    photo = make_photo(tmp_path, "a.tif")  # uncompressed strips: a flipped byte still decodes
    original = photo.read_bytes()
    real = containers.write_layout

    def flip_a_pixel(fh, layout, packet, out, source):
        real(fh, layout, packet, out, source)
        out.seek(200)
        byte = out.read(1)
        out.seek(200)
        out.write(bytes([byte[0] ^ 0xFF]))

    monkeypatch.setattr(embedded, "write_layout", flip_a_pixel)
    with pytest.raises(XmpError, match="would have changed its pixels"):
        write(photo, ["Scene|beach"])
    assert photo.read_bytes() == original and leftovers(tmp_path) == []


def _png_chunks(data: bytes) -> list[tuple[bytes, int]]:
    pos, out = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        out.append((data[pos + 4 : pos + 8], pos))
        pos += 12 + length
    return out


def test_png_gets_one_uncompressed_itxt_chunk_before_idat_with_a_valid_crc(tmp_path):
    photo = make_photo(tmp_path, "a.png")
    write(photo, ["Scene|beach"])
    data = photo.read_bytes()
    kinds = [k for k, _ in _png_chunks(data)]
    assert kinds.count(b"iTXt") == 1 and kinds.index(b"iTXt") < kinds.index(b"IDAT")
    pos = dict((k, p) for k, p in _png_chunks(data))[b"iTXt"]
    (length,) = struct.unpack(">I", data[pos : pos + 4])
    body = data[pos + 8 : pos + 8 + length]
    (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
    assert body.startswith(b"XML:com.adobe.xmp\x00\x00\x00\x00\x00")
    assert zlib.crc32(b"iTXt" + body) == crc


def test_a_packet_too_large_for_a_jpeg_segment_is_refused_and_a_png_takes_it(tmp_path):
    many = [
        f"Keywords|word {i:03d} of a long list of keywords, each a sentence" for i in range(450)
    ]
    jpeg, png = make_photo(tmp_path, "a.jpg"), make_photo(tmp_path, "a.png")
    original = jpeg.read_bytes()
    with pytest.raises(XmpError, match="Extended XMP") as info:
        write(jpeg, many)
    assert "65,502" in info.value.message and info.value.hint
    assert jpeg.read_bytes() == original
    assert write(png, many)
    assert len(parse_keywords(embedded.draft_embedded(png).packet or b"").subjects) == 450


def test_mode_is_kept_and_an_unchanged_packet_touches_nothing(tmp_path):
    photo = make_photo(tmp_path, "a.jpg")
    os.chmod(photo, 0o640)
    write(photo, ["Scene|beach"])
    assert photo.stat().st_mode & 0o777 == 0o640
    stamp = photo.stat().st_mtime_ns
    assert not write(photo, ["Scene|beach"])
    assert photo.stat().st_mtime_ns == stamp


def test_a_read_only_photo_is_not_replaced(tmp_path):
    photo = make_photo(tmp_path, "a.jpg")
    original = photo.read_bytes()
    os.chmod(photo, 0o444)  # refused even for root, who may write anything
    with pytest.raises(XmpError, match="read-only"):
        write(photo, ["Scene|beach"])
    assert photo.read_bytes() == original


def test_a_photo_changed_since_it_was_read_is_not_replaced(tmp_path):
    photo = make_photo(tmp_path, "a.jpg")
    draft = embedded.draft_embedded(photo)
    with photo.open("ab") as f:
        f.write(b"\x00")  # another program wrote it meanwhile
    changed = photo.read_bytes()
    with pytest.raises(XmpError, match="changed while ClipDesk was writing"):
        embedded.commit_embedded(draft, update_keywords(None, ["Scene|beach"]))
    assert photo.read_bytes() == changed


def _two_xmp_segments(path: Path) -> None:
    data = path.read_bytes()
    seg = containers._jpeg_segment(update_keywords(None, ["A|b"]), "x")
    path.write_bytes(data[:2] + seg + seg + data[2:])


def _cut(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def _bad_png_xmp_crc(path: Path) -> None:
    write(path, ["Scene|beach"])
    data = bytearray(path.read_bytes())
    pos = dict((k, p) for k, p in _png_chunks(bytes(data)))[b"iTXt"]
    data[pos + 30] ^= 0x01
    path.write_bytes(bytes(data))


def _ifd_past_the_end(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[4:8] = struct.pack("<I", len(data) + 100)
    path.write_bytes(bytes(data))


def _jpeg_scan_cut(path: Path) -> None:
    data = path.read_bytes()
    _cut(path, data.index(b"\xff\xda") + 40)


@pytest.mark.parametrize(
    ("name", "damage", "reason"),
    [
        ("a.jpg", lambda p: _cut(p, 30), "runs past the end|ends inside"),
        ("a.jpg", _jpeg_scan_cut, "cannot be decoded"),
        ("a.jpg", _two_xmp_segments, "two XMP segments"),
        ("a.jpg", lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40), "is a PNG"),
        ("a.png", lambda p: _cut(p, 60), "runs past the end|ends inside"),
        ("a.png", _bad_png_xmp_crc, "checksum is wrong"),
        ("a.tif", _ifd_past_the_end, "outside the file"),
    ],
)
def test_a_damaged_or_misnamed_file_is_refused_and_left_as_it_is(tmp_path, name, damage, reason):
    photo = make_photo(tmp_path, name)
    damage(photo)
    original = photo.read_bytes()
    with pytest.raises(XmpError, match=reason) as info:
        write(photo, ["Scene|beach"])
    assert info.value.hint
    assert photo.read_bytes() == original and leftovers(tmp_path) == []


def test_bigtiff_is_refused_clearly(tmp_path):
    photo = tmp_path / "big.tif"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(photo, big_tiff=True)
    with pytest.raises(XmpError, match="BigTIFF"):
        embedded.draft_embedded(photo)


def test_camera_raw_files_are_never_written_into():
    assert embedded.embeddable("x.jpg") and embedded.embeddable("x.TIFF")
    assert embedded.embeddable("x.png")
    for name in ("x.dng", "x.NEF", "x.cr2", "x.arw", "x.webp", "x.heic"):
        assert not embedded.embeddable(name), name
    with pytest.raises(XmpError, match="only into JPEG, PNG and TIFF"):
        embedded.draft_embedded("x.dng")
