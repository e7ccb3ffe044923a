"""Opening photos with Pillow: orientation, colour modes, and a guard against decompression bombs."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps

from clipdesk.common.limits import MAX_PIXELS

Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def to_rgb(img: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB.

    Transparency is composited on ``background`` (white) rather than dropped, so a transparent
    logo does not turn into a black square; 16-bit and float images are scaled, not clipped.
    """
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        img = _high_bit_depth_to_l(img)
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("LA", "PA"):
        img = img.convert("RGBA")
    if img.mode == "RGBa":
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        base = Image.new("RGB", img.size, background)
        base.paste(img, mask=img.getchannel("A"))
        return base
    return img.convert("RGB")


def _high_bit_depth_to_l(img: Image.Image) -> Image.Image:
    import numpy as np

    arr = np.asarray(img, dtype=np.float64)
    if img.mode.startswith("I;16") or (img.mode == "I" and arr.min() >= 0 and arr.max() <= 65535):
        arr = arr / 65535.0  # 16-bit samples, as 16-bit PNG and TIFF grayscale open
    else:
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    return Image.fromarray(np.clip(arr * 255.0 + 0.5, 0, 255).astype("uint8"), mode="L")


def open_image(path: str | Path) -> Image.Image:
    """Open and fully decode a photo, upright (EXIF orientation applied), in RGB."""
    with Image.open(path) as img:
        img.load()
        upright = ImageOps.exif_transpose(img)
        return to_rgb(upright if upright is not None else img)
