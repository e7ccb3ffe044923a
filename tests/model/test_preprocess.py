"""Preprocessing against transformers' CLIPImageProcessor (the PIL one), and what we do beyond it:
transparency on white, 16-bit scaling, EXIF orientation."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from clipdesk.imaging.pixels import open_image
from clipdesk.model.preprocess import PreprocessConfig, Preprocessor
from tests.model import hf_reference as ref

pytest.importorskip("transformers")

TOL = 1e-3


def photo(w: int, h: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    arr = np.stack([x * 255 / max(w - 1, 1), y * 255 / max(h - 1, 1), (x * 3 + y) % 256], -1)
    arr = arr + rng.normal(0, 30, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


SIZES = [
    (224, 224),
    (640, 480),
    (480, 640),
    (300, 1000),
    (4000, 300),
    (5, 3),
    (3, 5),
    (1, 1),
    (225, 224),
    (1001, 223),
]
MODES = ["RGB", "L", "P", "CMYK", "LA", "RGBX", "YCbCr"]


@pytest.fixture(scope="module", params=[224, 64])
def pair(request):
    size = request.param
    return Preprocessor(PreprocessConfig(size=size)), ref.hf_image_processor(size), size


def _theirs(processor, img: Image.Image) -> np.ndarray:
    return processor(images=img, return_tensors="np")["pixel_values"][0]


@pytest.mark.parametrize("w,h", SIZES)
@pytest.mark.parametrize("mode", MODES)
def test_matches_clip_image_processor(pair, w, h, mode):
    ours, theirs, size = pair
    img = photo(w, h).convert(mode)
    if mode == "LA":  # fully opaque: compositing on white changes nothing
        img.putalpha(255)
    got = ours.to_array(img)
    assert got.shape == (3, size, size) and got.dtype == np.float32
    assert np.abs(got - _theirs(theirs, img)).max() <= TOL


def test_opaque_rgba_matches(pair):
    ours, theirs, _ = pair
    img = photo(333, 200).convert("RGBA")
    assert np.abs(ours.to_array(img) - _theirs(theirs, img)).max() <= TOL


def test_transparency_is_composited_on_white(pair):
    """Our documented behaviour (transformers drops alpha, turning transparent areas black)."""
    ours, theirs, size = pair
    rgba = np.zeros((300, 300, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[100:200, 100:200, 3] = 255  # an opaque red square on a transparent background
    img = Image.fromarray(rgba, "RGBA")
    on_white = Image.new("RGB", img.size, (255, 255, 255))
    on_white.paste(img, mask=img.getchannel("A"))
    got = ours.to_array(img)
    assert np.abs(got - _theirs(theirs, on_white)).max() <= TOL
    corner_white = (1.0 - np.array(ours.cfg.mean)) / np.array(ours.cfg.std)
    assert np.allclose(got[:, 0, 0], corner_white, atol=TOL)
    # a transparent palette image (GIF-style) too
    pal = img.convert("P")
    pal.info["transparency"] = pal.getpixel((0, 0))
    assert np.allclose(ours.to_array(pal)[:, 0, 0], corner_white, atol=TOL)


def test_16_bit_grayscale_is_scaled_not_clipped(pair):
    """transformers' convert("RGB") clips 16-bit samples above 255 to white; we scale them, which
    equals the processor's output on the 8-bit version of the photo."""
    ours, theirs, _ = pair
    ramp = (np.linspace(0, 65535, 320 * 240).reshape(240, 320)).astype(np.uint16)
    img16 = Image.fromarray(ramp)
    assert img16.mode.startswith("I;16")
    eight = Image.fromarray(np.round(ramp / 257.0).astype(np.uint8), "L")
    got = ours.to_array(img16)
    assert np.abs(got - _theirs(theirs, eight)).max() <= 0.02  # 1/255 rounding at most
    assert got.std() > 0.5  # a ramp, not a white square


def test_exif_orientation_is_applied(tmp_path):
    """A camera's portrait shot stored landscape with Orientation=6 (rotate 90° clockwise)."""
    arr = np.zeros((200, 400, 3), dtype=np.uint8)
    arr[:, :200] = (220, 30, 30)  # red left half, blue right half, a green top stripe
    arr[:, 200:] = (30, 30, 220)
    arr[:40] = (30, 200, 30)
    stored = Image.fromarray(arr)  # landscape pixels
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "portrait.jpg"
    stored.save(path, exif=exif, quality=95)
    upright = open_image(path)
    assert upright.size == (200, 400)
    assert upright.mode == "RGB"
    expected = stored.transpose(Image.Transpose.ROTATE_270)

    def diff(a: Image.Image, b: Image.Image) -> float:
        return float(np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int)).mean())

    assert diff(upright, expected) < 3  # JPEG noise only
    assert diff(upright, stored.transpose(Image.Transpose.ROTATE_90)) > 50


def test_batch_and_empty_batch():
    pre = Preprocessor(PreprocessConfig(size=32))
    batch = pre.batch([photo(50, 40), photo(10, 90).convert("L")])
    assert tuple(batch.shape) == (2, 3, 32, 32)
    assert tuple(pre.batch([]).shape) == (0, 3, 32, 32)


def test_preprocessor_config_round_trips_through_hf_json():
    cfg = PreprocessConfig(size=64, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    assert PreprocessConfig.from_hf(cfg.to_hf(), default_size=224) == cfg


@pytest.mark.parametrize("w,h", SIZES)
def test_bilinear_matches_clip_image_processor(w, h):
    """A processor saying "resample": 2 (OpenCLIP's bilinear interpolation) resizes the shorter
    side bilinear, as transformers' PIL processor does; the file's code is read and written."""
    from transformers import CLIPImageProcessorPil

    theirs = CLIPImageProcessorPil(
        size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64}, resample=2
    )
    cfg = PreprocessConfig.from_hf(theirs.to_dict(), default_size=224)
    assert (cfg.resample, cfg.size) == ("bilinear", 64)
    assert PreprocessConfig.from_hf(cfg.to_hf(), default_size=224) == cfg
    img = photo(w, h)
    assert np.abs(Preprocessor(cfg).to_array(img) - _theirs(theirs, img)).max() <= TOL


@pytest.mark.parametrize("code", [0, 1, 4, 5, "bilinear", True])
def test_resampling_filters_clipdesk_does_not_do_are_refused(code):
    with pytest.raises(ValueError, match=f"resample is {code!r}"):
        PreprocessConfig.from_hf({"resample": code}, default_size=224)
