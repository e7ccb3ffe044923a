"""Small photos with words on them, for the tests of the OCR pass and its faces: rendered with a
real font (DejaVu Sans from Debian's ``fonts-dejavu-core`` when present, else Pillow's own), big
and dark on a light ground, so that the real reader reads them in a fraction of a second; and a
library with a folder of them, indexed with a tiny model so that each photo is owed its OCR."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if DEJAVU.exists():
        return ImageFont.truetype(str(DEJAVU), size)
    return ImageFont.load_default(size=size)


def text_photo(path: Path, words: str, size: tuple[int, int] = (480, 160)) -> Path:
    """A JPEG (or PNG, by suffix) of ``words`` written across a light, faintly striped card."""
    image = Image.new("RGB", size, (236, 232, 220))
    draw = ImageDraw.Draw(image)
    for y in range(0, size[1], 12):  # some texture, so it is not a blank page
        draw.line([(0, y), (size[0], y)], fill=(226, 222, 210))
    draw.text((24, size[1] // 2), words, font=font(size[1] // 4), fill=(25, 25, 30), anchor="lm")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, quality=90) if path.suffix.lower() in {".jpg", ".jpeg"} else image.save(path)
    return path


def text_folder(root: Path, words: list[str], suffix: str = ".jpg") -> list[Path]:
    """One photo per entry of ``words``, named ``card-<i>``."""
    return [text_photo(root / f"card-{i}{suffix}", w) for i, w in enumerate(words)]
