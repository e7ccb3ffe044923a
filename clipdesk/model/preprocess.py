"""CLIP's image preprocessing with Pillow alone (no torchvision).

Shorter side to the model size with bicubic resampling, centre crop, scale to [0, 1], then the
CLIP mean/std — the steps of OpenAI's ``clip.load`` transform and transformers'
``CLIPImageProcessor``. A model may declare bilinear resampling instead (SigLIP2's processors,
OpenCLIP's ``interpolation``), which is then done with Pillow's, as transformers does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from clipdesk.common import limits

if TYPE_CHECKING:
    import torch
    from PIL import Image

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

Resample = Literal["bicubic", "bilinear"]
# The Pillow filters ClipDesk resizes with; transformers' preprocessor_config.json "resample"
# holds their Pillow codes.
# (Pillow's Image.Resampling codes, fixed by its API, written out so that the facts of a model
# are read without importing Pillow.)
_FILTERS: dict[Resample, int] = {
    "bicubic": 3,  # Image.Resampling.BICUBIC
    "bilinear": 2,  # Image.Resampling.BILINEAR
}


@dataclass(frozen=True)
class PreprocessConfig:
    size: int = 224  # shorter side after resizing, and the side of the centre crop
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD
    # True: CLIP's shorter side to ``size`` and centre crop; False: the whole photo squashed to
    # ``size`` x ``size`` (SigLIP's processor, OpenCLIP's resize_mode "squash").
    crop: bool = True
    resample: Resample = "bicubic"  # for both resizes, shortest side and squash

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PreprocessConfig:
        """The config as ``dataclasses.asdict`` wrote it (a runtime cache's manifest)."""
        return cls(
            size=int(data["size"]),
            mean=_channels(data["mean"], "mean", limits.PREPROCESS_MEAN),
            std=_channels(data["std"], "std", limits.PREPROCESS_STD),
            crop=bool(data.get("crop", True)),
            resample="bilinear" if data.get("resample") == "bilinear" else "bicubic",
        )

    @classmethod
    def from_hf(cls, data: dict[str, Any], default_size: int) -> PreprocessConfig:
        """Read a transformers ``preprocessor_config.json``; ``ValueError`` names a field that
        would make every photo's pixels huge or its vector NaN (a crop of 60000, a std of 0)."""
        crop = data.get("crop_size", default_size)
        if isinstance(crop, dict):
            crop = crop.get("height", crop.get("shortest_edge", default_size))
        lo, hi = limits.MODEL_IMAGE_SIZE
        if isinstance(crop, bool) or not isinstance(crop, int | float) or not lo <= crop <= hi:
            raise ValueError(f"crop_size is {crop!r}; ClipDesk reads {lo} to {hi} pixels")
        return cls(
            size=int(crop),
            mean=_channels(data.get("image_mean", CLIP_MEAN), "image_mean", limits.PREPROCESS_MEAN),
            std=_channels(data.get("image_std", CLIP_STD), "image_std", limits.PREPROCESS_STD),
            resample=resample_of(data.get("resample")),
        )

    def to_hf(self) -> dict[str, object]:
        return {
            "image_processor_type": "CLIPImageProcessor",
            "do_resize": True,
            "size": {"shortest_edge": self.size},
            "resample": int(_FILTERS[self.resample]),
            "do_center_crop": True,
            "crop_size": {"height": self.size, "width": self.size},
            "do_rescale": True,
            "rescale_factor": 1 / 255,
            "do_normalize": True,
            "image_mean": list(self.mean),
            "image_std": list(self.std),
            "do_convert_rgb": True,
        }


def resample_of(code: object) -> Resample:
    """A ``preprocessor_config.json`` "resample" code as the filter ClipDesk resizes with (none:
    bicubic, the CLIP and SigLIP processors' default); ``ValueError`` names a filter it does not
    do."""
    if code is None:
        return "bicubic"
    if isinstance(code, int) and not isinstance(code, bool):
        for resample, pil in _FILTERS.items():
            if code == pil:
                return resample
    from PIL import Image

    known = {int(f): f.name.lower() for f in Image.Resampling}
    pil_name = known.get(code) if isinstance(code, int) and not isinstance(code, bool) else None
    raise ValueError(
        f"resample is {code!r}{f' ({pil_name})' if pil_name else ''}; ClipDesk resizes "
        + " or ".join(f"{n} ({int(f)})" for n, f in _FILTERS.items())
    )


def _channels(value: object, name: str, bounds: tuple[float, float]) -> tuple[float, float, float]:
    """Three per-channel numbers inside ``bounds`` (NaN and infinity are not)."""
    lo, hi = bounds
    if (
        not isinstance(value, list | tuple)
        or len(value) != 3
        or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in value)
        or not all(lo <= x <= hi for x in value)
    ):
        raise ValueError(f"{name} is {value!r}; ClipDesk reads 3 numbers from {lo} to {hi}")
    return (float(value[0]), float(value[1]), float(value[2]))


def squash(img: Image.Image, size: int, resample: Resample = "bicubic") -> Image.Image:
    """The whole image resized to ``size`` x ``size``, aspect ratio not kept."""
    from clipdesk.imaging.pixels import to_rgb

    img = to_rgb(img)
    if img.size != (size, size):
        img = img.resize((size, size), _FILTERS[resample])
    return img


def resize_and_crop(img: Image.Image, size: int, resample: Resample = "bicubic") -> Image.Image:
    """Shorter side to ``size``, then the centred ``size`` x ``size`` square."""
    from clipdesk.imaging.pixels import to_rgb

    img = to_rgb(img)
    w, h = img.size
    if (w, h) != (size, size):
        short, long = (w, h) if w <= h else (h, w)
        new_long = int(size * long / short)
        new_size = (size, new_long) if w <= h else (new_long, size)
        if new_size != (w, h):
            img = img.resize(new_size, _FILTERS[resample])
        w, h = img.size
        left, top = (w - size) // 2, (h - size) // 2
        img = img.crop((left, top, left + size, top + size))
    return img


class Preprocessor:
    def __init__(self, cfg: PreprocessConfig) -> None:
        self.cfg = cfg
        self._mean = np.asarray(cfg.mean, dtype=np.float32) * 255.0
        self._inv_std = 1.0 / (np.asarray(cfg.std, dtype=np.float32) * 255.0)

    def to_array(self, img: Image.Image) -> np.ndarray:
        """float32 [3, size, size], normalised."""
        fit = resize_and_crop if self.cfg.crop else squash
        arr = np.asarray(fit(img, self.cfg.size, self.cfg.resample), dtype=np.float32)
        out: np.ndarray = ((arr - self._mean) * self._inv_std).transpose(2, 0, 1)
        return out

    def __call__(self, img: Image.Image) -> torch.Tensor:
        import torch

        return torch.from_numpy(np.ascontiguousarray(self.to_array(img)))

    def batch(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """float32 [n, 3, size, size]."""
        import torch

        if not images:
            return torch.empty((0, 3, self.cfg.size, self.cfg.size))
        return torch.from_numpy(np.stack([self.to_array(im) for im in images]))
