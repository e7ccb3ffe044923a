"""CLIP's image preprocessing with Pillow alone (no torchvision).

Shorter side to the model size with bicubic resampling, centre crop, scale to [0, 1], then the
CLIP mean/std — the steps of OpenAI's ``clip.load`` transform and transformers'
``CLIPImageProcessor``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from clipdesk.imaging.pixels import to_rgb

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class PreprocessConfig:
    size: int = 224  # shorter side after resizing, and the side of the centre crop
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD

    @classmethod
    def from_hf(cls, data: dict[str, Any], default_size: int) -> PreprocessConfig:
        """Read a transformers ``preprocessor_config.json``."""
        crop = data.get("crop_size", default_size)
        if isinstance(crop, dict):
            crop = crop.get("height", crop.get("shortest_edge", default_size))
        return cls(
            size=int(crop),
            mean=tuple(float(x) for x in data.get("image_mean", CLIP_MEAN)),  # type: ignore[arg-type]
            std=tuple(float(x) for x in data.get("image_std", CLIP_STD)),  # type: ignore[arg-type]
        )

    def to_hf(self) -> dict[str, object]:
        return {
            "image_processor_type": "CLIPImageProcessor",
            "do_resize": True,
            "size": {"shortest_edge": self.size},
            "resample": 3,
            "do_center_crop": True,
            "crop_size": {"height": self.size, "width": self.size},
            "do_rescale": True,
            "rescale_factor": 1 / 255,
            "do_normalize": True,
            "image_mean": list(self.mean),
            "image_std": list(self.std),
            "do_convert_rgb": True,
        }


def resize_and_crop(img: Image.Image, size: int) -> Image.Image:
    """Shorter side to ``size`` (bicubic), then the centred ``size`` x ``size`` square."""
    img = to_rgb(img)
    w, h = img.size
    if (w, h) != (size, size):
        short, long = (w, h) if w <= h else (h, w)
        new_long = int(size * long / short)
        new_size = (size, new_long) if w <= h else (new_long, size)
        if new_size != (w, h):
            img = img.resize(new_size, Image.Resampling.BICUBIC)
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
        arr = np.asarray(resize_and_crop(img, self.cfg.size), dtype=np.float32)
        out: np.ndarray = ((arr - self._mean) * self._inv_std).transpose(2, 0, 1)
        return out

    def __call__(self, img: Image.Image) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(self.to_array(img)))

    def batch(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """float32 [n, 3, size, size]."""
        if not images:
            return torch.empty((0, 3, self.cfg.size, self.cfg.size))
        return torch.from_numpy(np.stack([self.to_array(im) for im in images]))
