"""Hostile photo files cost bounded memory and time: padding is never read, metadata bloat and
stray bytes are refused from the structure, full-size pixels are never copied.

Big files are sparse (a few KB on disk whatever their length); every measurement runs in a
child interpreter (tests/support/peak_memory.py), since a peak RSS is per process.
"""

from __future__ import annotations

import io
import shutil
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from clipdesk.common.limits import MAX_PHOTO_METADATA_BYTES
from tests.support.peak_memory import measure

GB = 1024**3
MB = 1024**2

_DECODE = "from clipdesk.imaging.decode import DecodeError, decode_for_model\n"
_DECODE_AND_META = _DECODE + "from clipdesk.scanning.metadata import read_metadata\n"


def _photo_bytes(fmt: str) -> bytes:
    if fmt == "HEIF":
        pillow_heif = pytest.importorskip("pillow_heif")
        pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (30, 120, 200)).save(buf, fmt)
    return buf.getvalue()


def _sparse(path: Path, parts: list[tuple[int, bytes]], length: int) -> Path:
    """A file of ``length`` bytes holding ``parts`` (offset, bytes) and holes elsewhere."""
    with open(path, "wb") as fh:
        for offset, data in parts:
            fh.seek(offset)
            fh.write(data)
        fh.truncate(length)
    return path


def _decode_outcome(path: Path) -> str:
    return (
        "try:\n"
        f"    out = decode_for_model({str(path)!r})\n"
        "    result = ['ok', out.image.size]\n"
        "except DecodeError as exc:\n"
        "    result = [exc.kind, exc.reason]\n"
    )


# --- padding after a valid photo is never read ---------------------------------------------


@pytest.mark.parametrize(
    "fmt,suffix,kind",
    [
        ("JPEG", ".jpg", "jpeg"),
        ("PNG", ".png", "png"),
        ("WEBP", ".webp", "webp"),
        ("HEIF", ".heic", "heif"),
        ("GIF", ".gif", "gif"),
        ("TIFF", ".tif", "tiff"),
        ("BMP", ".bmp", "bmp"),
    ],
)
def test_a_photo_padded_to_2_gb_decodes_and_scans_in_bounded_memory(tmp_path, fmt, suffix, kind):
    path = _sparse(tmp_path / f"padded{suffix}", [(0, _photo_bytes(fmt))], 2 * GB)
    work = _decode_outcome(path) + (
        f"meta = read_metadata({str(path)!r}, {kind!r})\nresult.append([meta.width, meta.height])\n"
    )
    got = measure(_DECODE_AND_META, work)
    assert got.result[0] == "ok" and min(got.result[1]) == 224
    assert got.result[2] == [640, 480]  # the scan's metadata still reads the header
    assert got.growth_mb < 256, f"{fmt}: peak RSS rose {got.growth_mb:.0f} MB"
    assert got.seconds < 5


def test_a_heif_whose_box_claims_gigabytes_is_refused_before_it_is_read(tmp_path):
    photo = _photo_bytes("HEIF")
    claim = struct.pack(">I4s", 1, b"free") + struct.pack(">Q", 2 * GB - len(photo))
    path = _sparse(tmp_path / "claims.heic", [(0, photo), (len(photo), claim)], 2 * GB)
    got = measure(_DECODE, _decode_outcome(path))
    assert got.result[0] == "too_large" and "HEIF container" in got.result[1]
    assert got.growth_mb < 256


# --- bloated or damaged structure is refused from the structure ----------------------------


def _jpeg_with_app_segments(path: Path, total: int) -> Path:
    """SOI, APP15 segments of 64 KiB (their data left as holes) up to ``total``, then a photo."""
    parts = [(0, b"\xff\xd8")]
    pos = 2
    while pos < total:
        parts.append((pos, b"\xff\xef\xff\xff"))
        pos += 2 + 0xFFFF
    parts.append((pos, _photo_bytes("JPEG")[2:]))
    return _sparse(path, parts, pos + len(parts[-1][1]))


def _png_chunk(ctype: bytes, data: bytes, length: int | None = None) -> bytes:
    size = len(data) if length is None else length
    return struct.pack(">I", size) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def _png_with_a_huge_private_chunk(path: Path) -> Path:
    png = _photo_bytes("PNG")
    ihdr_end = 8 + 25
    huge = 2 * GB - 64 * MB
    header = struct.pack(">I", huge) + b"prIv"
    rest = png[ihdr_end:]
    return _sparse(
        path,
        [(0, png[:ihdr_end]), (ihdr_end, header), (ihdr_end + 12 + huge, rest)],
        ihdr_end + 12 + huge + len(rest),
    )


def _png_with_padding_inside_its_image_data(path: Path) -> Path:
    """A 640x480 PNG whose one IDAT chunk holds its zlib stream and then ~2 GB of zeros."""
    raw = b"".join(b"\x00" + bytes(640 * 3) for _ in range(480))
    stream = zlib.compress(raw)
    ihdr = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 640, 480, 8, 2, 0, 0, 0))
    idat_length = 2 * GB - 4096
    head = b"\x89PNG\r\n\x1a\n" + ihdr + struct.pack(">I", idat_length) + b"IDAT" + stream
    end = len(head) - len(stream) + idat_length
    tail = b"\0\0\0\0" + _png_chunk(b"IEND", b"")
    return _sparse(path, [(0, head), (end, tail)], end + len(tail))


def _jpeg_followed_by_junk(path: Path) -> Path:
    """A JPEG header cut after its first segment, then 2 GB of zeros: no marker ever comes."""
    jpeg = _photo_bytes("JPEG")
    (app0,) = struct.unpack(">H", jpeg[4:6])
    return _sparse(path, [(0, jpeg[: 4 + app0])], 2 * GB)


def _tiff_with_a_huge_tag(path: Path) -> Path:
    """A valid TIFF whose first directory gains a 1.9 GB private tag (the value left a hole)."""
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "TIFF")
    tiff = buf.getvalue()
    (first,) = struct.unpack("<I", tiff[4:8])
    (count,) = struct.unpack("<H", tiff[first : first + 2])
    entries = tiff[first + 2 : first + 2 + 12 * count]
    value_at = 4096
    huge = struct.pack("<HHII", 65000, 7, 1_900_000_000, value_at)
    new_ifd_at = len(tiff) + (len(tiff) % 2)
    ifd = struct.pack("<H", count + 1) + entries + huge + b"\0\0\0\0"
    header = tiff[:4] + struct.pack("<I", new_ifd_at)
    body = tiff[8:]
    end = value_at + 1_900_000_000
    return _sparse(path, [(0, header + body), (new_ifd_at, ifd)], max(end, new_ifd_at + len(ifd)))


def _gif_with_a_long_comment(path: Path) -> Path:
    gif = _photo_bytes("GIF")
    screen_end = 13 + ((3 << ((gif[10] & 7) + 1)) if gif[10] & 0x80 else 0)
    blocks = (b"\xff" + b"c" * 255) * (MAX_PHOTO_METADATA_BYTES // 255 + 16)
    path.write_bytes(gif[:screen_end] + b"\x21\xfe" + blocks + b"\0" + gif[screen_end:])
    return path


@pytest.mark.parametrize(
    "make,kind,words",
    [
        (lambda path: _jpeg_with_app_segments(path, 2 * GB), "too_large", "header segments"),
        (_png_with_a_huge_private_chunk, "too_large", "chunks other than image data"),
        (_png_with_padding_inside_its_image_data, "corrupt", "more image data"),
        (_jpeg_followed_by_junk, "corrupt", "stray bytes"),
        (_tiff_with_a_huge_tag, "too_large", "tag values"),
        (_gif_with_a_long_comment, "too_large", "extension blocks"),
    ],
    ids=["jpeg-segments", "png-chunk", "png-idat-padding", "jpeg-junk", "tiff-tag", "gif-comment"],
)
def test_bloated_structure_is_refused_quickly_in_bounded_memory(tmp_path, make, kind, words):
    # The name's suffix is no hint: the decoder goes by the content.
    path = make(tmp_path / "bomb.img")
    got = measure(_DECODE, _decode_outcome(path), timeout=60)
    assert got.result[0] == kind and words in got.result[1], got.result
    assert got.growth_mb < 256 and got.seconds < 5


def test_a_jpeg_with_a_large_real_header_still_decodes(tmp_path):
    # 8 MB of APP segments (an embedded depth map, a big ICC profile) is within the limit.
    path = _jpeg_with_app_segments(tmp_path / "rich.jpg", 8 * MB)
    got = measure(_DECODE, _decode_outcome(path))
    assert got.result[0] == "ok"


# --- full-size pixels are never copied, and decode threads share one budget ----------------


def _png_stream(path: Path, width: int, height: int, depth: int, colour: int, channels: int):
    """A PNG of uniform rows, compressed row by row (the test never holds the pixels)."""
    row = b"\x00" + bytes([0x40]) * ((width * channels * depth + 7) // 8)
    packer = zlib.compressobj(1)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )
    return path


def test_a_16_bit_grey_png_is_not_converted_at_full_size(tmp_path):
    path = _png_stream(tmp_path / "grey16.png", 8000, 7500, 16, 0, 1)  # 60 MP, 120 MB decoded
    got = measure(_DECODE, _decode_outcome(path))
    assert got.result[0] == "ok"
    assert got.growth_mb < 400, f"peak RSS rose {got.growth_mb:.0f} MB"


def test_an_rgba_png_is_reduced_before_it_is_composited_or_turned(tmp_path):
    path = _png_stream(tmp_path / "rgba.png", 10000, 10000, 8, 6, 4)  # 100 MP, 400 MB decoded
    got = measure(_DECODE, _decode_outcome(path))
    assert got.result[0] == "ok"
    assert got.growth_mb < 600, f"peak RSS rose {got.growth_mb:.0f} MB"


@pytest.mark.slow
def test_decode_threads_hold_full_size_pixels_in_turn(tmp_path):
    first = _png_stream(tmp_path / "big0.png", 10000, 10000, 8, 6, 4)
    paths = [str(first), str(shutil.copy(first, tmp_path / "big1.png"))]
    work = (
        "from concurrent.futures import ThreadPoolExecutor\n"
        "with ThreadPoolExecutor(2) as pool:\n"
        f"    result = [min(d.image.size) for d in pool.map(decode_for_model, {paths!r})]\n"
    )
    got = measure(_DECODE, work)
    assert got.result == [224, 224]
    assert got.growth_mb < 700, f"two decode threads rose {got.growth_mb:.0f} MB"
