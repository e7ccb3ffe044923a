"""Photos with words in them, for measuring OCR: signs in a scene, documents on a desk, screenshots.

Each image is rendered with a real font (DejaVu Sans from Debian's ``fonts-dejavu-core`` when
present, else Pillow's own scalable font), words of 4+ letters from :data:`WORDS`, a cap height
of at least ``min_cap`` of the image height (the issue's 1.5%), on textured or photographic
backgrounds (:mod:`_camera_photos`), rotated up to ``max_rotation`` degrees (screenshots stay
upright, as screenshots do) and saved as JPEG quality 85. Deterministic: image ``i`` of a kind
depends on ``i``, the kind and the size only. :func:`render` returns the image and the words
written in it, so recall is counted against what is really there.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import numpy as np
from _camera_photos import photo
from PIL import Image, ImageDraw, ImageFilter, ImageFont

KINDS = ("sign", "document", "screenshot")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
# DejaVu Sans: capital height / em size (Pillow's fallback font is close to it)
CAP_PER_EM = 0.73

_WORD_LIST = """
    market bakery coffee station garden museum harbour bridge street avenue library theatre
    pharmacy hospital airport ticket exit entrance parking closed open sale discount fresh bread
    cheese flowers books music pizza burger noodles sushi tea juice water lemon orange apple
    mango cherry grape melon peach honey butter sugar salt pepper garlic onion tomato potato
    carrot invoice receipt total amount balance payment account number customer order delivery
    shipping address phone email date time meeting agenda report summary budget project
    deadline review draft final version page chapter section table figure chart result
    settings profile search filter export import download upload folder file photo album camera
    gallery window button cancel save delete rename share print copy paste undo redo help about
    welcome hello world morning evening night summer winter spring autumn river mountain valley
    forest island beach ocean desert city village castle tower church temple palace school
    university office factory farm hotel restaurant kitchen bedroom bathroom garage basement
    north south east west left right center police fire emergency danger warning caution stop
    slow speed limit zone private public free entry daily weekly monthly yearly special offer
    premium classic modern vintage royal golden silver green purple yellow black white brown
    """
WORDS = tuple(_WORD_LIST.split())


@cache
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    if (DEJAVU / name).exists():
        return ImageFont.truetype(str(DEJAVU / name), size)
    return ImageFont.load_default(size=size)


def font_name() -> str:
    return "DejaVu Sans" if (DEJAVU / "DejaVuSans.ttf").exists() else "Pillow's default font"


def _em_for(rng: np.random.Generator, height: int, min_cap: float, max_cap: float) -> int:
    return int(math.ceil(rng.uniform(min_cap, max_cap) * height / CAP_PER_EM))


def _words(rng: np.random.Generator, n: int) -> list[str]:
    return [str(w).upper() if rng.random() < 0.3 else str(w) for w in rng.choice(WORDS, n)]


def _contrast(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...]]:
    dark = tuple(int(v) for v in rng.integers(0, 70, 3))
    light = tuple(int(v) for v in rng.integers(185, 256, 3))
    return (light, dark) if rng.random() < 0.5 else (dark, light)


def _paste_rotated(canvas: Image.Image, panel: Image.Image, xy: tuple[int, int], angle: float):
    rotated = panel.convert("RGBA").rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
    canvas.paste(rotated, xy, rotated)


def _sign(i: int, width: int, height: int, min_cap: float, max_rot: float):
    rng = np.random.default_rng([i, 1])
    canvas = photo(i, width, height).convert("RGB")
    written: list[str] = []
    for s in range(int(rng.integers(1, 4))):
        words = _words(rng, int(rng.integers(1, 3)))
        f = font(_em_for(rng, height, min_cap, min_cap * 2.5), bold=bool(rng.random() < 0.5))
        text = " ".join(words)
        left, top, right, bottom = f.getbbox(text)
        pad = int((bottom - top) * 0.5)
        panel_bg, ink = _contrast(rng)
        panel = Image.new("RGB", (right - left + 2 * pad, bottom - top + 2 * pad), panel_bg)
        ImageDraw.Draw(panel).text((pad - left, pad - top), text, fill=ink, font=f)
        band = height // 3
        x = int(rng.integers(0, max(1, width - panel.width - 10)))
        y = int(rng.integers(s * band, max(s * band + 1, (s + 1) * band - panel.height)))
        _paste_rotated(
            canvas, panel, (x, min(y, height - panel.height)), rng.uniform(-1, 1) * max_rot
        )
        written += words
    return canvas.filter(ImageFilter.GaussianBlur(0.6)), written


def _document(i: int, width: int, height: int, min_cap: float, max_rot: float):
    rng = np.random.default_rng([i, 2])
    canvas = photo(i + 10_000, width, height).convert("RGB")
    page_w, page_h = int(width * 0.62), int(height * 0.8)
    paper = rng.normal(238, 6, (page_h // 4, page_w // 4, 1)).clip(0, 255).astype(np.uint8)
    page = Image.fromarray(np.repeat(paper, 3, axis=2)).resize((page_w, page_h))
    draw = ImageDraw.Draw(page)
    f = font(_em_for(rng, height, min_cap, min_cap * 1.4))
    line_h = int(f.size * 1.6)
    written: list[str] = []
    y = int(page_h * 0.06)
    while y + line_h < page_h * 0.94:
        words = _words(rng, int(rng.integers(2, 6)))
        text = " ".join(words)
        if f.getlength(text) > page_w * 0.88:
            words = words[:2]
            text = " ".join(words)
        draw.text((int(page_w * 0.06), y), text, fill=(20, 20, 25), font=f)
        written += words
        y += line_h
    _paste_rotated(
        canvas, page, ((width - page_w) // 3, (height - page_h) // 4), rng.uniform(-1, 1) * max_rot
    )
    return canvas.filter(ImageFilter.GaussianBlur(0.5)), written


def _screenshot(i: int, width: int, height: int, min_cap: float, _max_rot: float):
    rng = np.random.default_rng([i, 3])
    canvas = Image.new("RGB", (width, height), (246, 246, 248))
    draw = ImageDraw.Draw(canvas)
    f = font(_em_for(rng, height, min_cap, min_cap * 1.3))
    bar = int(f.size * 2.2)
    draw.rectangle((0, 0, width, bar), fill=(52, 56, 64))
    written = _words(rng, 2)
    draw.text(
        (int(f.size * 0.8), int(f.size * 0.5)), " ".join(written), fill=(240, 240, 240), font=f
    )
    side = int(width * 0.22)
    draw.rectangle((0, bar, side, height), fill=(228, 230, 236))
    y = bar + f.size
    while y + f.size * 2 < height:
        word = _words(rng, 1)
        draw.text((int(f.size * 0.8), y), word[0], fill=(30, 30, 30), font=f)
        written += word
        y += int(f.size * 2.2)
    y = bar + f.size
    while y + f.size * 3 < height:
        if rng.random() < 0.3:  # a button
            word = _words(rng, 1)
            w = int(f.getlength(word[0]) + f.size)
            draw.rounded_rectangle(
                (side + f.size, y, side + f.size + w, y + int(f.size * 1.6)),
                radius=f.size // 3,
                fill=(40, 110, 220),
            )
            draw.text(
                (side + int(f.size * 1.5), y + int(f.size * 0.25)), word[0], fill="white", font=f
            )
        else:
            word = _words(rng, int(rng.integers(2, 6)))
            text = " ".join(word)
            while word and f.getlength(text) > width - side - 2 * f.size:
                word = word[:-1]
                text = " ".join(word)
            draw.text((side + f.size, y), text, fill=(25, 25, 25), font=f)
        written += word
        y += int(f.size * 2.4)
    return canvas, written


def render(
    kind: str,
    i: int,
    width: int = 4000,
    height: int = 3000,
    *,
    min_cap: float = 0.015,
    max_rotation: float = 10.0,
) -> tuple[Image.Image, list[str]]:
    """Image ``i`` of ``kind`` and the words written in it (only words of 4+ letters)."""
    make = {"sign": _sign, "document": _document, "screenshot": _screenshot}[kind]
    image, words = make(i, width, height, min_cap, max_rotation)
    return image, [w for w in words if len(w) >= 4]


def write(kind: str, i: int, folder: Path, **kwargs) -> tuple[Path, list[str]]:
    image, words = render(kind, i, **kwargs)
    path = folder / f"{kind}_{i:03d}.jpg"
    image.save(path, quality=85)
    return path, words
