"""How much of a photo file its decoder may read: what the format needs, never padding or bloat.

Pillow streams JPEG, PNG, GIF and TIFF from the open file, but it keeps every JPEG segment, PNG
chunk, GIF extension and TIFF tag value in memory and skips stray bytes one at a time; its WebP
decoder and pillow-heif read the whole file. So a valid photo followed by gigabytes of padding,
or one whose metadata claims gigabytes, would cost that much memory per decode worker, or
minutes of work. :func:`pillow_source` walks the file's structure first (a seek and a few bytes
per segment, never the data) and refuses it past the limits of :mod:`clipdesk.common.limits`;
for WebP, HEIF and AVIF it hands over the container's own bytes and nothing after them.

A structure the walk cannot follow (a damaged header) is left to Pillow, which says what is
wrong with it: the walk refuses a file only for what it would cost.
"""

from __future__ import annotations

import io
import re
import struct
from typing import BinaryIO

from clipdesk.common.limits import (
    MAX_CONTAINER_BYTES,
    MAX_PHOTO_JUNK_BYTES,
    MAX_PHOTO_METADATA_BYTES,
    MAX_PHOTO_SEGMENTS,
    MAX_PNG_CHUNKS,
)
from clipdesk.imaging.filetypes import sniff

_MIB = 1024 * 1024


class ExtentError(Exception):
    """The file's structure asks for more than a limit allows; ``kind`` as in DecodeError."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def pillow_source(fh: BinaryIO) -> BinaryIO:
    """What to give ``Image.open`` for the photo open as ``fh``: ``fh`` itself, rewound, or for
    the whole-file decoders an in-memory copy of the container alone. Raises ExtentError."""
    fh.seek(0)
    head = fh.read(16)
    kind = sniff(head)
    if kind == "jpeg":
        _check_jpeg(fh)
    elif kind == "png":
        _check_png(fh)
    elif kind == "gif":
        _check_gif(fh)
    elif kind == "tiff":
        _check_tiff(fh, head)
    elif kind in ("webp", "heif"):
        extent = _riff_extent(head) if kind == "webp" else _iso_extent(fh)
        if extent > MAX_CONTAINER_BYTES:
            raise ExtentError(
                "too_large",
                f"{kind.upper()} container is {extent / _MIB:.0f} MB, over the "
                f"{MAX_CONTAINER_BYTES / _MIB:.0f} MB safety limit",
            )
        fh.seek(0)
        return io.BytesIO(fh.read(extent))
    fh.seek(0)
    return fh


def _too_much_metadata(fmt: str, what: str) -> ExtentError:
    return ExtentError(
        "too_large",
        f"{fmt} file holds more than {MAX_PHOTO_METADATA_BYTES / _MIB:.0f} MB of {what}, "
        "over the safety limit",
    )


def _stray_bytes(fmt: str) -> ExtentError:
    return ExtentError(
        "corrupt",
        f"damaged {fmt} data: more than {MAX_PHOTO_JUNK_BYTES // 1024} KB of stray bytes "
        "between its parts",
    )


# --- JPEG: segments up to the image data (SOS) --------------------------------------------

_JPEG_MARKER = re.compile(rb"\xff[^\x00\xff]")
_JPEG_NO_LENGTH = frozenset({0x01, *range(0xD0, 0xDA)})  # TEM, RSTn, SOI, EOI
_SOS = 0xDA


def _check_jpeg(fh: BinaryIO) -> None:
    pos, kept, segments, junk = 2, 0, 0, 0
    while True:
        fh.seek(pos)
        marker = fh.read(4)
        if len(marker) < 2:
            return  # ends before the image data: Pillow reports the truncation
        if marker[0] != 0xFF or marker[1] in (0x00, 0xFF):
            skipped = _skip_to_marker(fh, pos, MAX_PHOTO_JUNK_BYTES - junk)
            if skipped is None:
                return
            junk += skipped
            pos += skipped
            continue
        code = marker[1]
        if code == _SOS:
            return
        segments += 1
        if segments > MAX_PHOTO_SEGMENTS:
            raise ExtentError(
                "too_large", f"JPEG header has more than {MAX_PHOTO_SEGMENTS} segments"
            )
        if code in _JPEG_NO_LENGTH:
            pos += 2
            continue
        if len(marker) < 4:
            return
        (length,) = struct.unpack(">H", marker[2:4])
        if length < 2:
            return  # a damaged length: Pillow says so
        kept += length
        if kept > MAX_PHOTO_METADATA_BYTES:
            raise _too_much_metadata("JPEG", "header segments")
        pos += 2 + length


def _skip_to_marker(fh: BinaryIO, pos: int, allowance: int) -> int | None:
    """Bytes from ``pos`` to the next marker; None at the end of the file (Pillow decides)."""
    fh.seek(pos)
    block = fh.read(allowance + 2)
    found = _JPEG_MARKER.search(block)
    if found is not None:
        return found.start()
    if len(block) < allowance + 2:
        return None
    raise _stray_bytes("JPEG")


# --- PNG: every chunk up to IEND ----------------------------------------------------------

_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type


def _check_png(fh: BinaryIO) -> None:
    pos, kept, image_data, chunks = 8, 0, 0, 0
    needed: int | None = None
    while True:
        fh.seek(pos)
        header = fh.read(8)
        if len(header) < 8:
            return
        length, ctype = struct.unpack(">I4s", header)
        chunks += 1
        if chunks > MAX_PNG_CHUNKS:
            raise ExtentError("too_large", f"PNG file has more than {MAX_PNG_CHUNKS} chunks")
        if ctype == b"IEND":
            return
        if ctype == b"IHDR" and needed is None:
            needed = _png_data_bound(fh.read(13))
        if ctype == b"IDAT":
            # Pillow reads the rest of an IDAT chunk in one piece once the pixels are complete,
            # so image data beyond what the pixels can need is padding held in memory.
            image_data += length
            if needed is not None and image_data > needed:
                raise ExtentError(
                    "corrupt",
                    "damaged PNG data: it holds far more image data than its size needs",
                )
        elif ctype == b"fdAT":  # animation frames: read one chunk at a time, if at all
            if length > MAX_PHOTO_METADATA_BYTES:
                raise _too_much_metadata("PNG", "animation data in one chunk")
        else:
            kept += length
            if kept > MAX_PHOTO_METADATA_BYTES:
                raise _too_much_metadata("PNG", "chunks other than image data")
        pos += 12 + length


def _png_data_bound(ihdr: bytes) -> int | None:
    """The most compressed image data a valid PNG of this header can hold: the raw scanlines
    (interlacing adds filter bytes), zlib's worst case on incompressible data, and 1 MiB."""
    if len(ihdr) < 13:
        return None
    width, height, depth, colour = (int(v) for v in struct.unpack(">IIBB", ihdr[:10]))
    channels = _PNG_CHANNELS.get(colour)
    if channels is None or not depth:
        return None
    raw = height * (1 + (width * channels * depth + 7) // 8) + 2 * height + 16
    return raw + raw // 16000 * 5 + _MIB


# --- GIF: extensions before the first frame -----------------------------------------------


def _check_gif(fh: BinaryIO) -> None:
    fh.seek(6)
    screen = fh.read(7)
    if len(screen) < 7:
        return
    pos = 13
    if screen[4] & 0x80:  # a global colour table follows
        pos += 3 << ((screen[4] & 7) + 1)
    kept, blocks, junk = 0, 0, 0
    while True:
        fh.seek(pos)
        intro = fh.read(1)
        if not intro or intro in (b",", b";"):  # the first frame, or the trailer
            return
        if intro != b"!":
            junk += 1  # Pillow skips these one at a time
            if junk > MAX_PHOTO_JUNK_BYTES:
                raise _stray_bytes("GIF")
            pos += 1
            continue
        blocks += 1
        if blocks > MAX_PHOTO_SEGMENTS:
            raise ExtentError(
                "too_large", f"GIF file has more than {MAX_PHOTO_SEGMENTS} extension blocks"
            )
        pos += 2  # introducer and label, then data sub-blocks up to an empty one
        while True:
            fh.seek(pos)
            size = fh.read(1)
            if not size:
                return
            pos += 1 + size[0]
            kept += size[0]
            if kept > MAX_PHOTO_METADATA_BYTES:
                raise _too_much_metadata("GIF", "extension blocks")
            if not size[0]:
                break


# --- TIFF: tag values of the first directory and its EXIF and GPS directories -------------

_TIFF_UNIT = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_TIFF_UNIT |= {16: 8, 17: 8, 18: 8}
_SUB_DIRECTORIES = (0x8769, 0x8825)  # EXIF, GPS


def _check_tiff(fh: BinaryIO, head: bytes) -> None:
    order = "<" if head[:2] == b"II" else ">"
    big = head[2:4] in (b"+\x00", b"\x00+")
    # BigTIFF: 8-byte offsets and counts, 20-byte entries; classic TIFF: 4, 2 and 12.
    pointer_fmt, count_fmt, entry_fmt = (
        (order + "Q", order + "Q", order + "HHQ8s")
        if big
        else (order + "I", order + "H", order + "HHI4s")
    )
    inline = struct.calcsize(pointer_fmt)  # values up to this size sit in the entry itself
    entry_size = struct.calcsize(entry_fmt)
    (first,) = struct.unpack(pointer_fmt, head[8:16] if big else head[4:8])
    kept, todo, seen = 0, [int(first)], set[int]()
    while todo and len(seen) < 1 + len(_SUB_DIRECTORIES):
        offset = todo.pop()
        if offset in seen:
            continue
        seen.add(offset)
        fh.seek(offset)
        raw_count = fh.read(struct.calcsize(count_fmt))
        if len(raw_count) < struct.calcsize(count_fmt):
            return
        (count,) = struct.unpack(count_fmt, raw_count)
        if count > MAX_PHOTO_SEGMENTS:
            raise ExtentError("too_large", f"TIFF directory has {count} tags, over the limit")
        table = fh.read(count * entry_size)
        for i in range(len(table) // entry_size):
            tag, typ, n, value = struct.unpack_from(entry_fmt, table, i * entry_size)
            size = n * _TIFF_UNIT.get(typ, 0)
            if size > inline:
                kept += size
                if kept > MAX_PHOTO_METADATA_BYTES:
                    raise _too_much_metadata("TIFF", "tag values")
            if tag in _SUB_DIRECTORIES:
                todo.append(int(struct.unpack(pointer_fmt, value[:inline])[0]))


# --- WebP (RIFF) and HEIF/AVIF (ISO boxes): the container's extent ------------------------


def _riff_extent(head: bytes) -> int:
    return int.from_bytes(head[4:8], "little") + 8


def _iso_extent(fh: BinaryIO) -> int:
    """Where the top-level boxes end: padding after them has no valid box header."""
    pos, boxes = 0, 0
    while pos <= MAX_CONTAINER_BYTES:
        fh.seek(pos)
        header = fh.read(16)
        if len(header) < 8:
            break
        size, box = struct.unpack(">I4s", header[:8])
        if not all(0x20 <= b < 0x7F for b in box):
            break
        if size == 1 and len(header) == 16:
            (size,) = struct.unpack(">Q", header[8:16])
        elif size == 0:  # "to the end of the file"
            fh.seek(0, io.SEEK_END)
            size = fh.tell() - pos
        if size < 8:
            break
        pos += size
        boxes += 1
        if boxes > MAX_PHOTO_SEGMENTS:
            raise ExtentError("too_large", f"HEIF file has more than {MAX_PHOTO_SEGMENTS} boxes")
    return pos
