"""A library past a low ANN threshold, for the tests of the ANN service and its CLI: photos
recorded as the scanner would and given clustered vectors of the model directly (no
embedding), so that the index has enough vectors to train on in a second."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clipdesk.services.app import ClipDeskServices
from tests.support.pipeline_helpers import register_folders

THRESHOLD = 300  # the tests' threshold: the ANN path runs in CI


def clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Unit vectors in clusters around a shared direction, as photos' embeddings are."""
    rng = np.random.default_rng(seed)
    common = rng.standard_normal(dim)
    centres = common / np.linalg.norm(common) + rng.standard_normal((40, dim)) / np.sqrt(dim)
    x = centres[rng.integers(0, 40, n)] + 0.6 * rng.standard_normal((n, dim)) / np.sqrt(dim)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def vectors_library(app: ClipDeskServices, root: Path, counts: dict[str, int]) -> np.ndarray:
    """Folders ``root/NAME`` of ``counts[NAME]`` photos with vectors of the search model; the
    photo ids."""
    model = app.search_model()  # records the search model, as a first index run does
    ids = np.array(register_folders(app.library, root, counts), np.int64)
    app.library.store_embeddings(model.id, ids.tolist(), clustered(len(ids), model.dim))
    return ids


def more_photos(app: ClipDeskServices, root: Path, name: str, n: int, seed: int) -> np.ndarray:
    """Another folder of ``n`` photos with vectors (photos indexed since)."""
    model = app.search_model()
    ids = np.array(register_folders(app.library, root, {name: n}), np.int64)
    app.library.store_embeddings(model.id, ids.tolist(), clustered(n, model.dim, seed))
    return ids
