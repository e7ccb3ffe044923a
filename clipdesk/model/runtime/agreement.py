"""Whether int8 vectors agree with fp32 ones well enough to be used, and to mix in one library.

The check runs at export on a probe set made here (no photos of the user's, no network):
synthetic images with structure at several scales and a set of phrases. int8 is used only when
every probe image's vector has cosine >= 0.99 to its fp32 vector, every phrase's likewise, and
retrieval agrees: the fp32 top-10 neighbours of each probe are >= 95% found in the int8 top 10.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from clipdesk.model.runtime import precision_of

if TYPE_CHECKING:
    from PIL import Image

    from clipdesk.model.runtime.cache import CacheEntry

MIN_COSINE = 0.99
MIN_RECALL_AT_10 = 0.95

PHRASES = (
    "a photo of a dog",
    "a cat sleeping on a sofa",
    "a red car parked in the street",
    "mountains under snow at sunrise",
    "a birthday cake with candles",
    "children playing on a beach",
    "a bowl of ramen",
    "an old church in a village",
    "a screenshot of a spreadsheet",
    "a black and white portrait of a woman",
    "fireworks over a city at night",
    "a bicycle leaning against a wall",
    "two people hiking in a forest",
    "a plate of fresh vegetables",
    "a close-up of a flower",
    "a crowded train station",
)


def normalise(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    out: np.ndarray = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return out


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two [n, dim] arrays."""
    out: np.ndarray = np.sum(normalise(a) * normalise(b), axis=1)
    return out


def recall_at_k(reference: np.ndarray, test: np.ndarray, k: int = 10) -> float:
    """Of each row's k nearest other rows by ``reference``, the share also among its k nearest
    by ``test`` (averaged over rows): retrieval as search would see it."""
    n = len(reference)
    k = min(k, n - 1)
    if k < 1:
        return 1.0
    found = 0
    for sims_ref, sims_test, row in zip(
        normalise(reference) @ normalise(reference).T,
        normalise(test) @ normalise(test).T,
        range(n),
        strict=True,
    ):
        sims_ref[row] = sims_test[row] = -np.inf
        top_ref = set(np.argpartition(-sims_ref, k)[:k].tolist())
        top_test = set(np.argpartition(-sims_test, k)[:k].tolist())
        found += len(top_ref & top_test)
    return found / (n * k)


def probe_images(n: int = 48, size: int = 256, seed: int = 0) -> list[Image.Image]:
    """Deterministic images with photo-like statistics: smooth gradients, blobs and edges at
    several scales, plus noise; different enough from each other that retrieval means something."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    images = []
    for _ in range(n):
        img = np.zeros((size, size, 3), np.float32)
        for c in range(3):
            a, b, ph = rng.uniform(-3, 3), rng.uniform(-3, 3), rng.uniform(0, 6.3)
            img[..., c] = 0.5 + 0.5 * np.sin(a * xx * 6 + b * yy * 6 + ph)
        for _ in range(int(rng.integers(2, 7))):
            cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.35)
            mask = ((xx - cx) ** 2 + (yy - cy) ** 2) < r * r
            img[mask] = rng.uniform(0, 1, 3)
        img += rng.normal(0, 0.04, img.shape).astype(np.float32)
        images.append(Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)))
    return images


def check(
    fp32_images: np.ndarray, int8_images: np.ndarray, fp32_texts: np.ndarray, int8_texts: np.ndarray
) -> dict[str, Any]:
    """The agreement record the manifest keeps; ``passed`` decides whether int8 is used."""
    image_cos = float(cosines(fp32_images, int8_images).min())
    text_cos = float(cosines(fp32_texts, int8_texts).min())
    recall = recall_at_k(fp32_images, int8_images, 10)
    return {
        "image_min_cosine": round(image_cos, 6),
        "text_min_cosine": round(text_cos, 6),
        "recall_at_10": round(recall, 4),
        "probes": {"images": len(fp32_images), "texts": len(fp32_texts)},
        "passed": image_cos >= MIN_COSINE and text_cos >= MIN_COSINE and recall >= MIN_RECALL_AT_10,
    }


def mixable(labels: Iterable[str], entry: CacheEntry | None) -> bool:
    """Whether vectors made with these runtime labels may be searched together: fp32 from
    either runtime (and GPU half precision, which torch has always used) always; int8 beside
    anything else only when the model's int8 agreement passed."""
    precisions = {precision_of(label) for label in labels}
    if "int8" not in precisions or precisions == {"int8"}:
        return True
    return entry is not None and entry.int8_agrees
