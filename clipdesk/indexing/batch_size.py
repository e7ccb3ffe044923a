"""How many photos one forward pass of the index job holds.

A cancel (quitting the app, pausing, switching models) waits for the forward pass in flight: a
model cannot be stopped halfway through a batch. So the batch is what the model embeds in
:data:`TARGET_S` on this machine, timed once on a few grey images (the fastest of a few passes):
under 1 s even when the run is 2.5 times slower than the timing. The run's own decoding threads
compete with the forward pass, which the timing does not see: 1.2-2.3 times slower, measured on
a loaded two-core machine. Small models and GPUs reach :data:`MOST` and lose nothing; a ViT-B/32
on a quiet two-core CPU gets about 6, near the batch of 8 its catalog speed was measured at.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from clipdesk.common.progress import CancelToken

if TYPE_CHECKING:
    from clipdesk.model.engine import ClipModel

TARGET_S = 0.4  # one forward pass, timed alone; the 1 s a cancel may wait for it, over 2.5
MOST = 32  # the pipeline's default: larger batches are no faster on a CPU
TIMED = 4  # images in a timed pass: enough to amortise a call's fixed cost, cheap on a CPU
PASSES = 3  # timed passes at most; the fastest counts (another program's burst is not speed)
TIMING_S = 1.0  # no further pass once the timing has taken this long (a large model, a slow CPU)


def timed_batch_size(
    model: ClipModel,
    *,
    target_s: float = TARGET_S,
    most: int = MOST,
    clock: Callable[[], float] = time.perf_counter,
    cancel: CancelToken | None = None,
) -> int | None:
    """The batch ``model`` embeds in about ``target_s`` here (1 to ``most``): one warm-up pass
    (kernels chosen, an ONNX session built), then up to :data:`PASSES` of :data:`TIMED` grey
    images, the fastest counting. None: ``cancel`` came before a pass was timed (a quit does not
    wait for the timing, only for the pass in flight)."""
    grey = Image.new("RGB", (model.image_size, model.image_size), (128, 128, 128))
    batch = np.repeat(model.preprocessor.to_array(grey)[None], TIMED, axis=0)  # [TIMED, 3, S, S]
    # Two images, not one: ONNX Runtime serves a single image with its query session, so one
    # would leave the batch session (seconds to open a ViT-B/32's) to the first timed pass.
    model.encode_pixels(batch[:2])
    passes: list[float] = []
    while len(passes) < PASSES and sum(passes) < TIMING_S:
        if cancel is not None and cancel.cancelled:
            break
        start = clock()
        model.encode_pixels(batch)
        passes.append(clock() - start)
    if not passes:
        return None
    per_image = min(passes) / TIMED
    if per_image <= 0:
        return most
    return max(1, min(most, int(target_s / per_image)))
