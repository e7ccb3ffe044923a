"""What the conformance tests share (ClipDesk against transformers or OpenCLIP, same random weights):
the phrases and photos both sides embed, OpenCLIP's image preprocessing, and the comparisons.

Normalised embeddings must agree within ``TOL`` (fp32, CPU), and two different inputs must point
in different directions (cosine below ``APART``): a near-constant tower would match anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

TOL = 1e-4
APART = 0.9

TEXTS = [
    "a photo of a cat",
    "kids on a beach at sunset",
    "",
    "🐶 and 🐱 on a sofa!!",
    "東京の夜景",
    "Crème brûlée at a café in Zürich",
    "don't   stop\n\tbelieving",
    "x" * 10_000,
    "3 dogs, 2 cats & 1 parrot",
]


def _photo(
    rng: np.random.Generator,
    size: tuple[int, int],
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0),
    period: int = 0,
) -> Image.Image:
    """Smooth gradients (tinted), a chequerboard of ``period`` pixels (none for 0), noise and a
    red block."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    arr = np.asarray(tint) * np.stack(
        [x * 255 / max(w - 1, 1), y * 255 / max(h - 1, 1), (x ^ y) % 256], -1
    )
    if period:
        arr = ((x // period + y // period) % 2)[..., None] * 120.0 + arr
    arr = arr + rng.normal(0, 25, arr.shape)
    arr[h // 3 : h // 2, w // 4 : w // 2] = [250, 20, 30]
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def photos() -> list[Image.Image]:
    """Photo-like images of odd sizes and modes (smooth gradients, edges and noise)."""
    rng = np.random.default_rng(7)
    sizes = [(224, 224), (640, 427), (300, 1000), (5, 3), (1001, 223)]
    out = [_photo(rng, size) for size in sizes]
    return [*out, out[1].convert("L"), out[1].convert("P"), out[2].convert("CMYK")]


def varied_photos() -> list[Image.Image]:
    """Photo-like images of odd sizes and unlike colours and textures: a random ViT with
    OpenCLIP's small initial weights averages its patches, so only different-looking photos give
    it different vectors."""
    rng = np.random.default_rng(5)
    specs = [
        ((640, 427), (1.0, 0.6, 0.2), 8),
        ((300, 1000), (0.1, 0.3, 1.0), 61),
        ((224, 224), (0.2, 0.2, 0.2), 3),
        ((1001, 223), (0.3, 1.0, 0.4), 150),
    ]
    return [_photo(rng, size, tint, period) for size, tint, period in specs]


def openclip_pixels(
    images: Sequence[Image.Image], size: int, preprocess_cfg: Mapping[str, Any] | None = None
) -> torch.Tensor:
    """The pixels OpenCLIP's eval transform makes of ``images`` under a ``preprocess_cfg`` (its
    mean, std and resize_mode; OpenAI's statistics and shortest side + centre crop unless told),
    from transformers' PIL CLIP image processor: OpenCLIP's own transforms need torchvision."""
    from transformers import CLIPImageProcessorPil

    pre = dict(preprocess_cfg or {})
    # Only what the processor below does the same way; anything else would be a silent mismatch.
    assert pre.get("interpolation", "bicubic") == "bicubic", pre
    assert pre.get("mode", "RGB") == "RGB" and pre.get("size", size) == size, pre
    kwargs: dict[str, Any] = {
        "image_mean": list(pre.get("mean", [0.48145466, 0.4578275, 0.40821073])),
        "image_std": list(pre.get("std", [0.26862954, 0.26130258, 0.27577711])),
    }
    resize = pre.get("resize_mode", "shortest")
    if resize == "squash":
        kwargs.update(do_center_crop=False, size={"height": size, "width": size})
    else:
        assert resize == "shortest", pre
        kwargs.update(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    return CLIPImageProcessorPil(**kwargs)(images=images, return_tensors="pt")["pixel_values"]


def calibrate_batch_norms(model: torch.nn.Module, pixels: torch.Tensor) -> None:
    """Set every batch norm's running statistics to those of ``model.visual``'s activations on
    ``pixels``, as a trained ResNet's are those of photos: made-up statistics shrink the signal
    layer by layer into a constant vector. Nothing happens to a model without batch norms."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    if not norms:
        return
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # a plain average over the calibration batch
    with torch.no_grad():
        model.visual.train()
        model.visual(pixels)
    model.eval()


def max_diff(ours: np.ndarray, theirs: np.ndarray | torch.Tensor) -> float:
    """The largest absolute difference of two embedding matrices of the same shape."""
    ref = theirs.numpy() if isinstance(theirs, torch.Tensor) else theirs
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    return float(np.abs(ours - ref).max())


def assert_told_apart(
    images: np.ndarray, texts: np.ndarray, image_pair: tuple[int, int] = (0, 1)
) -> None:
    """Two different photos (the rows ``image_pair``) and the first two phrases embed apart."""
    i, j = image_pair
    assert float(images[i] @ images[j]) < APART, "two different photos embed alike"
    assert float(texts[0] @ texts[1]) < APART, "two different phrases embed alike"


def t5_sentencepiece(sentences: list[str], vocab_size: int, **options: object) -> bytes:
    """A small unigram sentencepiece model with T5's special ids (pad 0, eos 1, unk 2, no bos),
    as SigLIP v1 repositories ship in ``spiece.model``."""
    import io

    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=buf,
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        model_type="unigram",
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        minloglevel=2,
        **options,
    )
    return buf.getvalue()
