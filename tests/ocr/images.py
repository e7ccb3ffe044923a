"""Images with known words on them, rendered with a real font, for the OCR tests.

DejaVu Sans (Debian's fonts-dejavu-core) where the system has it, else the font Pillow ships
(``ImageFont.load_default(size=...)``); either has the Latin diacritics the tests write.
"""

from __future__ import annotations

import random
import re
import struct
import zlib
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = DEJAVU / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    if path.is_file():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def words_of(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def textured(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """A photo-like background: blurred blotches of colour with grain."""
    rng = random.Random(seed)
    w, h = size
    small = Image.new("RGB", (max(2, w // 60), max(2, h // 60)))
    small.putdata(
        [tuple(rng.randint(40, 200) for _ in range(3)) for _ in range(small.width * small.height)]
    )
    grain = Image.effect_noise(size, 30).convert("RGB")
    return Image.blend(small.resize(size, Image.Resampling.BICUBIC), grain, 0.15)


def sign(lines: list[str], size: int, bold: bool = False) -> Image.Image:
    """Dark text on a light board, one line under the other."""
    face = font(size, bold)
    width = int(max(face.getlength(line) for line in lines)) + size
    board = Image.new("RGB", (width, int(len(lines) * size * 1.5) + size // 2), (236, 232, 220))
    draw = ImageDraw.Draw(board)
    for i, line in enumerate(lines):
        draw.text((size // 2, size // 4 + int(i * size * 1.5)), line, font=face, fill=(25, 25, 30))
    return board


def photo_with_sign(
    lines: list[str], size: tuple[int, int] = (1600, 1000), text_size: int = 64, angle: float = 0
) -> Image.Image:
    """A sign on a textured background, the whole photo turned by ``angle`` degrees."""
    photo = textured(size)
    board = sign(lines, text_size)
    photo.paste(board, ((size[0] - board.width) // 2, (size[1] - board.height) // 3))
    if angle:
        photo = photo.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=(90, 90, 90))
    return photo


def scribbles(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], seed: int) -> None:
    """Rows of pen strokes that look like handwriting to a detector but spell nothing."""
    rng = random.Random(seed)
    left, top, right, bottom = box
    for row_top in range(top, bottom - 60, 120):
        x = left
        while x < right - 40:
            points = [(x + rng.randint(0, 25), row_top + rng.randint(0, 40)) for _ in range(4)]
            draw.line(points, fill="black", width=4)
            x += rng.randint(25, 40)


def huge_png(path: Path, size: tuple[int, int], text: str, text_size: int) -> Path:
    """A grayscale PNG of ``size`` with ``text`` across its middle, written row by row: a few
    hundred KB on disk and a small band of pixels in memory whatever ``size`` is."""
    w, h = size
    band = Image.new("L", (w, int(text_size * 1.6)), 245)
    ImageDraw.Draw(band).text((text_size, text_size // 4), text, font=font(text_size), fill=20)
    band_top = (h - band.height) // 2
    band_rows = band.tobytes()
    blank = b"\0" + bytes([245]) * w  # filter byte "none", then the row
    packer = zlib.compressobj(1)
    chunks = []
    for y in range(h):
        if band_top <= y < band_top + band.height:
            start = (y - band_top) * w
            row = b"\0" + band_rows[start : start + w]
        else:
            row = blank
        chunks.append(packer.compress(row))
    chunks.append(packer.flush())

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)  # 8-bit grayscale
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", b"".join(chunks))
        + chunk(b"IEND", b"")
    )
    return path
