"""How many photos one forward pass of the index job holds.

A cancel (quitting the app, pausing, switching models) waits for the forward pass in flight: a
model cannot be stopped halfway through a batch. So the batch is what the model embeds in about
half a second on this machine, timed once on a few blank images: under 1 s even when the machine
gets twice as busy during the run as it was while timing. Small models and GPUs reach
:data:`MOST` and lose nothing; a ViT-B/32 on a quiet two-core CPU gets about 7, near the batch of 8
its speed in the catalog was measured at.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from clipdesk.model.engine import ClipModel

TARGET_S = 0.5  # one forward pass; half the 1 s a cancel may wait for it
MOST = 32  # the pipeline's default: larger batches are no faster on a CPU
TIMED = 4  # images in the timed pass: enough to amortise a call's fixed cost, cheap on a CPU


def timed_batch_size(
    model: ClipModel,
    *,
    target_s: float = TARGET_S,
    most: int = MOST,
    clock: Callable[[], float] = time.perf_counter,
) -> int:
    """The batch ``model`` embeds in about ``target_s`` here (1 to ``most``): one warm-up pass
    (kernels chosen, an ONNX session built), then :data:`TIMED` grey images timed."""
    grey = Image.new("RGB", (model.image_size, model.image_size), (128, 128, 128))
    batch = np.repeat(model.preprocessor.to_array(grey)[None], TIMED, axis=0)  # [TIMED, 3, S, S]
    model.encode_pixels(batch[:1])
    start = clock()
    model.encode_pixels(batch)
    per_image = (clock() - start) / TIMED
    if per_image <= 0:
        return most
    return max(1, min(most, int(target_s / per_image)))
