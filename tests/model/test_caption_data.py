"""The fine-tuning dataset: a photo that cannot be decoded is skipped, none readable is an error."""

from __future__ import annotations

import pytest

from clipdesk.model import synth
from clipdesk.model.caption_data import CaptionDataset, CaptionPair, NoReadablePhotosError


def test_caption_dataset_skips_unreadable_photos(tmp_path):
    good = synth.write_photo(synth.sample_scenes(0, 1)[0], tmp_path / "good.png", 32)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg at all")
    pairs = CaptionDataset(
        [CaptionPair(1, bad, "bad", "tags"), CaptionPair(2, good, "good", "tags")], 32
    )
    img, cap = pairs[0]
    assert cap == "good" and img.size[0] <= 32
    with pytest.raises(NoReadablePhotosError):
        CaptionDataset([CaptionPair(1, bad, "bad", "tags")])[0]
