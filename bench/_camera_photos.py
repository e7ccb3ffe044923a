"""Photographic-like JPEGs of any size, for benchmarks that decode what a camera writes.

A sky/ground gradient, large soft blobs, mid-frequency texture, a few hard-edged shapes, a little
lens blur and sensor-like grain, saved at quality 90: at 4000x3000 that is ~2.3 MB a file, so the
JPEG decoder does a camera photo's entropy decoding (clipdesk.model.synth's scenes are smoother
and compress to a fraction of that). Deterministic: photo ``i`` depends on ``i`` and the size only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def _smooth_noise(rng: np.random.Generator, h: int, w: int, scale: int) -> np.ndarray:
    shape = (max(2, h // scale), max(2, w // scale))
    # mostly luminance, a little chroma, as in natural scenes
    small = (
        rng.standard_normal((*shape, 1)) * 0.9 + rng.standard_normal((*shape, 3)) * 0.35
    ).astype(np.float32)
    img = Image.fromarray(np.uint8(np.clip(small * 40 + 128, 0, 255)))
    return (np.asarray(img.resize((w, h), Image.Resampling.BICUBIC), np.float32) - 128) / 40


def photo(i: int, width: int, height: int) -> Image.Image:
    rng = np.random.default_rng(i)
    k = width / 4000  # the features keep their share of the frame at any size
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    top = rng.uniform(40, 230, 3).astype(np.float32)
    bottom = rng.uniform(20, 200, 3).astype(np.float32)
    t = np.clip((y - rng.uniform(0.35, 0.7)) * 8 + 0.5, 0, 1)
    base = top * (1 - y * 0.4) * (1 - t) + bottom * t  # [h, 1, 3]
    img = np.broadcast_to(base, (height, width, 3)).copy()
    img += _smooth_noise(rng, height, width, max(2, int(400 * k))) * 25  # large soft blobs
    img += _smooth_noise(rng, height, width, max(2, int(60 * k))) * 10  # texture
    pil = Image.fromarray(np.uint8(np.clip(img, 0, 255)))
    draw = ImageDraw.Draw(pil)
    for _ in range(int(rng.integers(3, 9))):
        x0 = int(rng.integers(0, max(1, width - int(200 * k))))
        y0 = int(rng.integers(0, max(1, height - int(200 * k))))
        x1 = x0 + int(rng.integers(150, 1600) * k) + 1
        y1 = y0 + int(rng.integers(150, 1200) * k) + 1
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            draw.ellipse([x0, y0, x1, y1], fill=colour)
        elif kind == 1:
            draw.rectangle([x0, y0, x1, y1], fill=colour)
        else:
            draw.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], fill=colour)
    pil = pil.filter(ImageFilter.GaussianBlur(max(0.3, 1.2 * k)))  # lens softness on the edges
    arr = np.asarray(pil, dtype=np.float32)
    arr += rng.normal(0, 3.5, (height, width, 1)).astype(np.float32)  # luminance grain
    arr += rng.normal(0, 2.0, (height, width, 3)).astype(np.float32)  # chroma grain
    return Image.fromarray(np.uint8(np.clip(arr, 0, 255)))


def write_photos(
    folder: Path,
    n: int,
    size: tuple[int, int],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """``folder/IMG_0000.jpg`` ... for ``n`` photos, writing only the missing ones (a cache)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"IMG_{i:05d}.jpg"
        if not path.exists():
            tmp = path.with_suffix(".part")
            photo(i, *size).save(tmp, "JPEG", quality=90)
            tmp.rename(path)  # a killed run leaves no truncated photo behind
        paths.append(path)
        if progress:
            progress(i + 1, n)
    return paths
