"""Small real photo files for library tests (the synthetic-scene writer when available)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PIL import Image

from clipdesk.library.store import Library

try:
    from clipdesk.model.synth import scene_at, write_photo
except ImportError:  # pragma: no cover - the synth package is optional for these tests
    scene_at = write_photo = None


def make_photo(path: Path, seed: int, size: int = 64) -> Path:
    """A distinct, valid photo at ``path`` (format from the suffix: jpg, png, webp...)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if write_photo is not None and path.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"):
        write_photo(scene_at("eval", seed, 0), path, size=size)
        # two scenes may render alike: a unique pixel row keeps content hashes distinct
        with Image.open(path) as img:
            img = img.convert("RGB")
        rng = random.Random(seed)
        for x in range(img.width):
            img.putpixel((x, 0), (rng.randrange(256), rng.randrange(256), seed % 256))
        img.save(path)
        return path
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path)
    return path


def index_all(lib: Library, model_id: str = "test-model", dim: int = 8) -> list[int]:
    """Play the indexing pipeline: embed every pending photo with a random vector."""
    work = lib.pending_photos(model_id)
    vecs = np.random.default_rng(len(work)).standard_normal((len(work), dim)).astype(np.float32)
    lib.store_embeddings(model_id, [p.id for p in work], vecs, [p.stamp for p in work])
    return [p.id for p in work]


def present_paths(lib: Library) -> set[str]:
    """Paths the library believes are on disk right now."""
    return {str(p.path) for p in lib.photos() if p.status not in ("missing", "offline")}
