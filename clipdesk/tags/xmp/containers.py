"""Where a JPEG, PNG or TIFF file keeps its XMP packet, and the same file with another packet.

Only the bytes of the packet's own container change; every other byte is copied as it is:

- JPEG: the APP1 segment that starts with ``http://ns.adobe.com/xap/1.0/\\0``; a new one goes
  after SOI and the leading APP0 (JFIF) and APP1 (EXIF) segments, where Adobe puts it. A
  segment holds at most 65,502 bytes of packet; a longer packet needs Extended XMP, which
  ClipDesk does not write (it refuses instead). Extended XMP segments already there are kept.
- PNG: the ``iTXt`` chunk with keyword ``XML:com.adobe.xmp`` (read compressed or not, written
  uncompressed, CRC computed), replaced where it is; a new one goes before the first IDAT.
- TIFF: tag 700 (XMLPacket) of IFD0. The packet and a copy of IFD0 holding it are appended at
  the end, and the header points at the new IFD0; strips, tiles, other IFDs and every value
  the old IFD0 points at stay where they are (the old IFD0 and packet become unused bytes, a
  few KiB per write). BigTIFF is refused.

The walk seeks from header to header and reads only the headers and the packet, so a
multi-gigabyte file costs a few reads; a structure it cannot follow (lengths past the end, no
image data, two XMP packets) is refused with the reason, never guessed at.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from clipdesk.common.limits import MAX_PHOTO_SEGMENTS, MAX_PNG_CHUNKS, MAX_XMP_BYTES
from clipdesk.tags.xmp.packet import XmpError, check_size

__all__ = [
    "JPEG_XMP_MAX",
    "Layout",
    "read_layout",
    "write_layout",
]

JPEG_XMP_NS = b"http://ns.adobe.com/xap/1.0/\x00"
# 65,535 (the segment length field) - 2 (the field itself) - 29 (the namespace), less 2 as the
# XMP specification (part 3, 1.1.3) states it.
JPEG_XMP_MAX = 65502
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_XMP_KEYWORD = b"XML:com.adobe.xmp"
TIFF_XMP_TAG = 700
_TIFF_BYTE = 1
_TIFF_UNDEFINED = 7
_U32 = 0xFFFFFFFF
_CHUNK = 1 << 20


@dataclass(frozen=True)
class TiffIfd:
    order: str  # "<" or ">"
    entries: tuple[bytes, ...]  # the 12-byte entries as stored, tag 700 left out
    next_ifd: bytes  # the 4 bytes after the entries, as stored


@dataclass(frozen=True)
class Layout:
    """A file's XMP as found: the packet (None: none), and what a new one replaces."""

    kind: str  # "jpeg", "png" or "tiff"
    size: int  # the file's size when read
    packet: bytes | None
    start: int  # JPEG/PNG: the bytes [start, end) give way to the new segment or chunk
    end: int
    ifd: TiffIfd | None = None


def _damaged(source: str, why: str) -> XmpError:
    return XmpError(
        f"{source}: {why}",
        "ClipDesk writes only into files whose structure it can follow; the file is left "
        "as it is and its keywords stay in the sidecar",
    )


def _read_exact(fh: BinaryIO, n: int, source: str, what: str) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise _damaged(source, f"ends inside its {what}")
    return data


def read_layout(fh: BinaryIO, kind: str, size: int, source: str) -> Layout:
    """The XMP layout of the open file ``fh`` of ``kind`` and ``size``; XmpError if damaged."""
    fh.seek(0)
    if kind == "jpeg":
        return _jpeg_layout(fh, size, source)
    if kind == "png":
        return _png_layout(fh, size, source)
    if kind == "tiff":
        return _tiff_layout(fh, size, source)
    raise XmpError(f"{source}: ClipDesk writes embedded XMP only into JPEG, PNG and TIFF files")


def write_layout(fh: BinaryIO, layout: Layout, packet: bytes, out: BinaryIO, source: str) -> None:
    """Write to ``out`` the file open as ``fh`` with ``packet`` as its XMP."""
    if layout.kind == "tiff":
        _write_tiff(fh, layout, packet, out, source)
        return
    block = _jpeg_segment(packet, source) if layout.kind == "jpeg" else _png_chunk(packet)
    fh.seek(0)
    _copy(fh, out, layout.start)
    out.write(block)
    fh.seek(layout.end)
    _copy(fh, out, layout.size - layout.end)


def _copy(fh: BinaryIO, out: BinaryIO, n: int) -> None:
    """Copy the next ``n`` bytes of ``fh`` to ``out``, a MiB at a time."""
    while n > 0:
        data = fh.read(min(n, _CHUNK))
        if not data:
            raise XmpError("the photo changed while ClipDesk was writing it; nothing was replaced")
        out.write(data)
        n -= len(data)


def _strip_packet(data: bytes) -> bytes:
    # Writers pad packets with NULs (a fixed-size segment) or junk after the trailer.
    return data[: data.rfind(b">") + 1].strip(b"\x00 \r\n\t")


# --- JPEG ------------------------------------------------------------------------------------

_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RST0-7: no length


def _jpeg_layout(fh: BinaryIO, size: int, source: str) -> Layout:
    if _read_exact(fh, 2, source, "header") != b"\xff\xd8":
        raise _damaged(source, "is not a JPEG (no start-of-image marker)")
    pos = 2
    insert = 2  # after SOI and the leading APP0/EXIF segments
    leading = True
    found: tuple[int, int, bytes] | None = None
    for _ in range(MAX_PHOTO_SEGMENTS):
        fh.seek(pos)
        head = fh.read(2)
        if len(head) < 2 or head[0] != 0xFF:
            raise _damaged(source, f"has no valid segment marker at byte {pos:,}")
        marker = head[1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xDA:  # start of scan: image data follows, XMP goes before it
            if found is None:
                return Layout("jpeg", size, None, insert, insert)
            start, end, packet = found
            return Layout("jpeg", size, packet, start, end)
        if marker in (0xD8, 0xD9):
            raise _damaged(source, "has no image data after its header")
        if marker in _STANDALONE:
            pos += 2
            continue
        (length,) = struct.unpack(">H", _read_exact(fh, 2, source, "segment length"))
        end = pos + 2 + length
        if length < 2 or end > size:
            raise _damaged(source, f"has a segment at byte {pos:,} that runs past the end")
        body_head = fh.read(min(length - 2, len(JPEG_XMP_NS)))
        is_exif = marker == 0xE1 and body_head.startswith(b"Exif\x00")
        if marker == 0xE1 and body_head == JPEG_XMP_NS:
            if found is not None:
                raise _damaged(source, "has two XMP segments; ClipDesk cannot tell which is used")
            body = _read_exact(fh, length - 2 - len(JPEG_XMP_NS), source, "XMP segment")
            found = (pos, end, _strip_packet(body))
        if leading and (marker == 0xE0 or is_exif):
            insert = end
        else:
            leading = False
        pos = end
    raise _damaged(source, f"has more than {MAX_PHOTO_SEGMENTS:,} header segments")


def _jpeg_segment(packet: bytes, source: str) -> bytes:
    if len(packet) > JPEG_XMP_MAX:
        raise XmpError(
            f"{source}: its XMP would be {len(packet):,} bytes, more than a JPEG's XMP segment "
            f"holds ({JPEG_XMP_MAX:,}); ClipDesk does not write Extended XMP",
            "the file is left as it is; its sidecar has every keyword",
        )
    return (
        b"\xff\xe1" + struct.pack(">H", 2 + len(JPEG_XMP_NS) + len(packet)) + JPEG_XMP_NS + packet
    )


# --- PNG -------------------------------------------------------------------------------------


def _png_layout(fh: BinaryIO, size: int, source: str) -> Layout:
    if _read_exact(fh, 8, source, "signature") != PNG_SIGNATURE:
        raise _damaged(source, "is not a PNG (no PNG signature)")
    pos = 8
    first_idat: int | None = None
    found: tuple[int, int, bytes] | None = None
    for index in range(MAX_PNG_CHUNKS):
        fh.seek(pos)
        length, ctype = struct.unpack(">I4s", _read_exact(fh, 8, source, "chunk header"))
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > size:
            raise _damaged(source, f"has a chunk at byte {pos:,} that runs past the end")
        if index == 0 and ctype != b"IHDR":
            raise _damaged(source, "does not start with its IHDR chunk")
        if ctype == b"IDAT" and first_idat is None:
            first_idat = pos
        elif ctype == b"iTXt" and fh.read(len(PNG_XMP_KEYWORD) + 1) == PNG_XMP_KEYWORD + b"\x00":
            if found is not None:
                raise _damaged(source, "has two XMP chunks; ClipDesk cannot tell which is used")
            check_size(length, f"{source} (embedded XMP)")
            fh.seek(pos + 8)
            data = _read_exact(fh, length, source, "XMP chunk")
            (crc,) = struct.unpack(">I", _read_exact(fh, 4, source, "XMP chunk"))
            if zlib.crc32(ctype + data) != crc:
                raise _damaged(source, "has an XMP chunk whose checksum is wrong")
            found = (pos, end, _itxt_text(data, source))
        elif ctype == b"IEND":
            if first_idat is None:
                raise _damaged(source, "has no image data")
            if found is None:
                return Layout("png", size, None, first_idat, first_idat)
            start, stop, packet = found
            return Layout("png", size, packet, start, stop)
        pos = end
    raise _damaged(source, f"has more than {MAX_PNG_CHUNKS:,} chunks")


def _itxt_text(data: bytes, source: str) -> bytes:
    # keyword\0 compression-flag compression-method language\0 translated-keyword\0 text
    rest = data[len(PNG_XMP_KEYWORD) + 1 :]
    if len(rest) < 2:
        raise _damaged(source, "has a truncated XMP chunk")
    flag, method, rest = rest[0], rest[1], rest[2:]
    parts = rest.split(b"\x00", 2)
    if len(parts) != 3:
        raise _damaged(source, "has a truncated XMP chunk")
    text = parts[2]
    if flag:
        if method != 0:
            raise _damaged(source, "has an XMP chunk compressed in an unknown way")
        inflate = zlib.decompressobj()
        try:
            text = inflate.decompress(text, MAX_XMP_BYTES + 1)
        except zlib.error:
            raise _damaged(source, "has an XMP chunk that does not decompress") from None
        check_size(len(text), f"{source} (embedded XMP)")
    return _strip_packet(text)


def _png_chunk(packet: bytes) -> bytes:
    data = PNG_XMP_KEYWORD + b"\x00\x00\x00\x00\x00" + packet  # uncompressed, no language
    return (
        struct.pack(">I", len(data))
        + b"iTXt"
        + data
        + struct.pack(">I", zlib.crc32(b"iTXt" + data))
    )


# --- TIFF ------------------------------------------------------------------------------------


def _tiff_layout(fh: BinaryIO, size: int, source: str) -> Layout:
    head = _read_exact(fh, 8, source, "header")
    order = {b"II": "<", b"MM": ">"}.get(head[:2])
    if order is None:
        raise _damaged(source, "is not a TIFF (no byte-order mark)")
    (version,) = struct.unpack(order + "H", head[2:4])
    if version == 43:
        raise XmpError(
            f"{source}: is a BigTIFF, which ClipDesk does not write into",
            "the file is left as it is; its sidecar has every keyword",
        )
    if version != 42:
        raise _damaged(source, "is not a TIFF (wrong version number)")
    (ifd0,) = struct.unpack(order + "I", head[4:8])
    if ifd0 < 8 or ifd0 + 2 > size:
        raise _damaged(source, "has its first directory outside the file")
    fh.seek(ifd0)
    (count,) = struct.unpack(order + "H", _read_exact(fh, 2, source, "first directory"))
    if count == 0 or count > MAX_PHOTO_SEGMENTS or ifd0 + 2 + 12 * count + 4 > size:
        raise _damaged(source, "has a first directory that runs past the end")
    table = _read_exact(fh, 12 * count, source, "first directory")
    next_ifd = _read_exact(fh, 4, source, "first directory")
    entries: list[bytes] = []
    xmp: tuple[int, int, int] | None = None  # (type, count, value field as int)
    for i in range(count):
        entry = table[12 * i : 12 * i + 12]
        tag, typ, n, value = struct.unpack(order + "HHII", entry)
        if tag == TIFF_XMP_TAG:
            if xmp is not None:
                raise _damaged(source, "has two XMP tags; ClipDesk cannot tell which is used")
            xmp = (typ, n, value)
        else:
            entries.append(entry)
    packet = None
    if xmp is not None:
        packet = _tiff_packet(fh, order, xmp, size, source)
    return Layout("tiff", size, packet, 0, 0, TiffIfd(order, tuple(entries), next_ifd))


def _tiff_packet(
    fh: BinaryIO, order: str, xmp: tuple[int, int, int], size: int, source: str
) -> bytes:
    typ, n, value = xmp
    if typ not in (_TIFF_BYTE, _TIFF_UNDEFINED):
        raise _damaged(source, "has an XMP tag of a type XMP does not use")
    check_size(n, f"{source} (embedded XMP)")
    if n <= 4:  # stored in the entry itself (as packed: the same 4 bytes back)
        return _strip_packet(struct.pack(order + "I", value)[:n])
    if value + n > size:
        raise _damaged(source, "has an XMP tag whose value runs past the end")
    fh.seek(value)
    return _strip_packet(_read_exact(fh, n, source, "XMP packet"))


def _write_tiff(fh: BinaryIO, layout: Layout, packet: bytes, out: BinaryIO, source: str) -> None:
    ifd = layout.ifd
    assert ifd is not None
    order = ifd.order
    pad1 = layout.size % 2  # TIFF values and directories start on a word boundary
    packet_at = layout.size + pad1
    pad2 = (packet_at + len(packet)) % 2
    ifd_at = packet_at + len(packet) + pad2
    entries = [
        *ifd.entries,
        struct.pack(order + "HHII", TIFF_XMP_TAG, _TIFF_BYTE, len(packet), packet_at),
    ]
    if len(packet) <= 4:
        inline = packet.ljust(4, b"\x00")
        entries[-1] = struct.pack(order + "HHI", TIFF_XMP_TAG, _TIFF_BYTE, len(packet)) + inline
    entries.sort(key=_tag_of(order))  # a directory's entries are sorted by tag
    directory = struct.pack(order + "H", len(entries)) + b"".join(entries) + ifd.next_ifd
    if ifd_at + len(directory) > _U32:
        raise XmpError(
            f"{source}: would pass 4 GiB with its XMP, more than a TIFF can address",
            "the file is left as it is; its sidecar has every keyword",
        )
    fh.seek(0)
    header = _read_exact(fh, 4, source, "header")
    out.write(header + struct.pack(order + "I", ifd_at))
    fh.seek(8)
    _copy(fh, out, layout.size - 8)
    out.write(b"\x00" * pad1 + packet + b"\x00" * pad2 + directory)


def _tag_of(order: str) -> Callable[[bytes], int]:
    def tag(entry: bytes) -> int:
        return int(struct.unpack(order + "H", entry[:2])[0])

    return tag
