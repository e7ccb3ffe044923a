from __future__ import annotations

import io
import os
import struct
import sys
import time
import types
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clipdesk.imaging.decode import DecodeError, decode_for_model, decode_image


def _photo(w: int, h: int) -> Image.Image:
    """Left half red, right half blue: orientation shows in where the red is."""
    arr = np.zeros((h, w, 3), dtype=np.uint8)
    arr[:, : w // 2] = (220, 20, 20)
    arr[:, w // 2 :] = (20, 20, 220)
    return Image.fromarray(arr)


def _save(img: Image.Image, path: Path, fmt: str | None = None, **kw) -> Path:
    img.save(path, fmt, **kw)
    return path


def _png_header_claiming(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )


def test_large_jpeg_decodes_at_reduced_scale_never_full(tmp_path: Path, monkeypatch) -> None:
    path = _save(_photo(4000, 3000), tmp_path / "big.jpg", quality=85)
    loaded_sizes: list[tuple[int, int]] = []
    real_load = Image.Image.load

    def spy(self):
        result = real_load(self)
        loaded_sizes.append(self.size)
        return result

    monkeypatch.setattr(Image.Image, "load", spy)
    out = decode_for_model(path, size=224)
    # libjpeg decoded at 1/8 scale (500x375), never at 4000x3000.
    assert loaded_sizes and max(w for w, _ in loaded_sizes) <= 4000 // 8
    assert out.image.mode == "RGB"
    assert min(out.image.size) == 224 and out.image.size == (299, 224)
    assert (out.width, out.height) == (4000, 3000) and out.format == "JPEG"


@pytest.mark.parametrize(
    "fmt,suffix,kw",
    [
        ("PNG", ".png", {}),
        ("WEBP", ".webp", {"quality": 90}),
        ("TIFF", ".tif", {}),
        ("BMP", ".bmp", {}),
        ("GIF", ".gif", {}),
        ("JPEG", ".jpg", {"quality": 90}),
    ],
)
def test_common_formats(tmp_path: Path, fmt: str, suffix: str, kw: dict) -> None:
    path = _save(_photo(640, 480), tmp_path / f"p{suffix}", fmt, **kw)
    out = decode_for_model(path, size=224)
    assert out.image.mode == "RGB" and min(out.image.size) == 224
    left, right = out.image.getpixel((10, 100)), out.image.getpixel((280, 100))
    assert left[0] > 150 and right[2] > 150
    assert (out.width, out.height) == (640, 480)


def test_gif_uses_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (300, 300), c) for c in ((255, 0, 0), (0, 255, 0))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    out = decode_for_model(path)
    r, g, _ = out.image.getpixel((50, 50))
    assert r > 200 and g < 50


def test_small_image_is_not_upscaled(tmp_path: Path) -> None:
    out = decode_for_model(_save(_photo(100, 80), tmp_path / "s.png"))
    assert out.image.size == (100, 80)


def test_modes_alpha_and_16_bit(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (300, 300), (0, 0, 0, 0))  # fully transparent -> white
    out = decode_for_model(_save(rgba, tmp_path / "a.png"))
    assert out.image.getpixel((5, 5)) == (255, 255, 255)
    g16 = Image.fromarray(np.full((300, 300), 65535, dtype=np.uint16))
    out = decode_for_model(_save(g16, tmp_path / "g16.png"))
    assert out.image.mode == "RGB" and out.image.getpixel((5, 5))[0] >= 250
    cmyk = Image.new("CMYK", (300, 300), (0, 255, 255, 0))  # red in CMYK
    out = decode_for_model(_save(cmyk, tmp_path / "c.jpg"))
    assert out.image.getpixel((5, 5))[0] > 200


def test_exif_orientation_applied(tmp_path: Path) -> None:
    img = _photo(400, 300)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    path = tmp_path / "rot.jpg"
    img.save(path, quality=90, exif=exif)
    out = decode_for_model(path)
    assert (out.width, out.height) == (300, 400)
    w, h = out.image.size
    assert (w, h) == (224, 299)
    # Red (left of the stored image) is at the top after a 90 degree clockwise turn.
    assert out.image.getpixel((w // 2, 10))[0] > 150
    assert out.image.getpixel((w // 2, h - 10))[2] > 150


def test_heic(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    path = tmp_path / "p.heic"
    pillow_heif.from_pillow(_photo(640, 480)).save(path, quality=90)
    out = decode_for_model(path)
    assert min(out.image.size) == 224 and out.image.getpixel((10, 100))[0] > 150


def test_raw_uses_embedded_preview(tmp_path: Path, monkeypatch) -> None:
    buf = io.BytesIO()
    _photo(1600, 1200).save(buf, "JPEG", quality=90)

    class FakeRaw:
        sizes = types.SimpleNamespace(width=6000, height=4000, flip=6)

        def extract_thumb(self):
            return types.SimpleNamespace(format="jpeg", data=buf.getvalue())

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    fake = types.SimpleNamespace(
        imread=lambda f: FakeRaw(), ThumbFormat=types.SimpleNamespace(JPEG="jpeg", BITMAP="bmp")
    )
    monkeypatch.setitem(sys.modules, "rawpy", fake)
    out = decode_for_model(_save_bytes(tmp_path / "x.nef", b"raw data"))
    assert out.format == "RAW" and (out.width, out.height) == (4000, 6000)
    # flip 6 turns the (landscape) preview upright: portrait, red on top.
    w, h = out.image.size
    assert h > w and out.image.getpixel((w // 2, 5))[0] > 150


def _save_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- bad files: each kind has its own reason ---------------------------------------------------


def _truncated_jpeg(tmp_path: Path) -> Path:
    full = io.BytesIO()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (600, 800, 3), dtype=np.uint8)).save(full, "JPEG")
    return _save_bytes(tmp_path / "trunc.jpg", full.getvalue()[: len(full.getvalue()) // 2])


@pytest.mark.parametrize(
    "make,kind,words",
    [
        (lambda p: _save_bytes(p / "empty.jpg", b""), "empty", "0 bytes"),
        (
            lambda p: _save_bytes(p / "notes.jpg", b"hello, this is just text\n" * 20),
            "not_image",
            "text file",
        ),
        (lambda p: _save_bytes(p / "doc.png", b"%PDF-1.4 something"), "not_image", "PDF"),
        (lambda p: _save_bytes(p / "noise.jpg", os.urandom(4096)), "not_image", "not an image"),
        (_truncated_jpeg, "truncated", "truncated"),
        (
            lambda p: _save_bytes(p / "bomb.png", _png_header_claiming(30000, 30000)),
            "too_large",
            "30000×30000",
        ),
        (lambda p: p / "gone.jpg", "missing", "not found"),
        (lambda p: (p / "dir.jpg").mkdir() or p / "dir.jpg", "not_image", "folder"),
    ],
    ids=["empty", "text", "pdf", "noise", "truncated", "bomb", "missing", "folder"],
)
def test_bad_files_raise_decode_error_with_reason(tmp_path, make, kind, words) -> None:
    path = make(tmp_path)
    with pytest.raises(DecodeError) as info:
        decode_for_model(path)
    assert info.value.kind == kind
    assert words.lower() in info.value.reason.lower()


def test_bomb_is_refused_from_the_header_quickly(tmp_path: Path) -> None:
    path = _save_bytes(tmp_path / "bomb.png", _png_header_claiming(30000, 30000) + b"\0" * 100)
    start = time.perf_counter()
    with pytest.raises(DecodeError) as info:
        decode_for_model(path)
    assert time.perf_counter() - start < 0.5
    assert info.value.kind == "too_large"


def test_corrupt_png_body(tmp_path: Path) -> None:
    good = io.BytesIO()
    _photo(300, 200).save(good, "PNG")
    data = bytearray(good.getvalue())
    data[60:120] = b"\x00" * 60  # inside the IDAT stream
    with pytest.raises(DecodeError) as info:
        decode_for_model(_save_bytes(tmp_path / "bad.png", bytes(data)))
    assert info.value.kind in ("corrupt", "truncated") and info.value.reason


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = _save(_photo(50, 50), tmp_path / "locked.png")
    path.chmod(0)
    try:
        with pytest.raises(DecodeError) as info:
            decode_for_model(path)
        assert info.value.kind == "unreadable" and "permission" in info.value.reason
    finally:
        path.chmod(0o644)


def test_raw_garbage_is_recorded_not_raised_raw(tmp_path: Path) -> None:
    with pytest.raises(DecodeError) as info:
        decode_for_model(_save_bytes(tmp_path / "x.cr2", os.urandom(2048)))
    assert info.value.kind == "corrupt" and "RAW" in info.value.reason


def test_decode_image_in_memory() -> None:
    out = decode_image(_photo(1000, 500).convert("RGBA"), size=64)
    assert out.image.mode == "RGB" and out.image.size == (128, 64)
    assert (out.width, out.height) == (1000, 500)


def test_jpeg_with_a_raw_extension_still_decodes(tmp_path: Path) -> None:
    path = tmp_path / "renamed.nef"
    _photo(640, 480).save(path, "JPEG")
    out = decode_for_model(path)
    assert out.format == "JPEG" and min(out.image.size) == 224
