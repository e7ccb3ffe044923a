"""Synthetic (image, caption) pairs with random access, for training and evaluation."""

from __future__ import annotations

import random

from PIL import Image

from clipdesk.model.synth.captions import caption
from clipdesk.model.synth.render import render_scene
from clipdesk.model.synth.world import (
    COLOURS,
    SHAPES,
    SceneSpec,
    scene_at,
    shape_contrast_group,
)


class SynthPairs:
    """``length`` scenes of ``split``, rendered at ``image_size`` with a fresh caption wording.

    Item ``i`` is always the same scene and caption, so a training run is reproducible from its
    seed and a resumed run sees exactly the data it would have seen.
    """

    def __init__(
        self,
        length: int,
        image_size: int,
        split: str = "train",
        seed: int = 0,
        colour_groups: tuple[int, int] | None = None,
        shape_groups: bool = False,
    ) -> None:
        """``colour_groups=(batch_size, k)`` arranges consecutive runs of ``batch_size`` items as
        hard-negative batches: only ``k`` colours per batch, so that telling captions apart needs
        shape, count and size as well (train with ``shuffle=False``). ``shape_groups`` arranges runs of
        ``len(SHAPES)`` items that differ only in shape
        (:func:`~clipdesk.model.synth.world.shape_contrast_group`); use a batch size that is a
        multiple of ``len(SHAPES)``."""
        self.length = length
        self.image_size = image_size
        self.split = split
        self.seed = seed
        self.colour_groups = colour_groups
        self.shape_groups = shape_groups

    def __len__(self) -> int:
        return self.length

    def spec(self, index: int) -> SceneSpec:
        if self.shape_groups:
            group, slot = divmod(index, len(SHAPES))
            return shape_contrast_group(self.split, self.seed, group)[slot]
        if self.colour_groups is None:
            return scene_at(self.split, self.seed, index)
        batch_size, k = self.colour_groups
        batch, slot = divmod(index, batch_size)
        colours = random.Random(f"{self.seed}:group:{batch}").sample(list(COLOURS), k)
        colour = colours[slot * k // batch_size]
        return scene_at(self.split, self.seed, index, colour=colour)

    def __getitem__(self, index: int) -> tuple[Image.Image, str]:
        if not 0 <= index < self.length:
            raise IndexError(index)
        spec = self.spec(index)
        text = caption(spec, random.Random(f"{self.seed}:{index}"))
        return render_scene(spec, self.image_size), text
