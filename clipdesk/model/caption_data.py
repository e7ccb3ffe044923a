"""Image-caption pairs as the fine-tuning loop reads them: photo files on disk and their captions.

Where the captions come from (tags, XMP, folder names) is the domain's business
(:mod:`clipdesk.training.captions`); the model layer only needs the pairs and a dataset that
decodes each photo at the model's input size.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from clipdesk.common.errors import ClipDeskError

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaptionPair:
    photo_id: int
    path: Path
    caption: str
    source: str  # which caption source gave it ("tags", "xmp", "folders", ...)


class NoReadablePhotosError(ClipDeskError):
    """Every photo of a fine-tuning set failed to decode."""


class CaptionDataset:
    """(image, caption) pairs for the trainer; a photo that can no longer be decoded is replaced
    by the next readable pair (and logged), so one bad file does not stop a run."""

    def __init__(self, pairs: Sequence[CaptionPair], image_size: int = 224) -> None:
        self.pairs = list(pairs)
        self.image_size = image_size
        self.bad: set[int] = set()

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[Image.Image, str]:
        from clipdesk.imaging.decode import DecodeError, decode_for_model

        if not 0 <= index < len(self.pairs):
            raise IndexError(index)
        for k in range(len(self.pairs)):
            j = (index + k) % len(self.pairs)
            if j in self.bad:
                continue
            pair = self.pairs[j]
            try:
                return decode_for_model(pair.path, self.image_size).image, pair.caption
            except DecodeError as exc:
                log.warning("skipping %s in fine-tuning: %s", pair.path, exc.reason)
                self.bad.add(j)
        raise NoReadablePhotosError(
            f"none of the {len(self.pairs)} training photos could be decoded",
            "check that the photo folders are online, then start again",
        )
