"""Small libraries the tag tests share: a few real JPEGs indexed with known vectors, for the CLI
(the tiny model's random directions) and for the services (the fake text model's colours)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from clipdesk.library.records import FileFacts
from clipdesk.library.store import Library
from clipdesk.model import load_model
from clipdesk.services.app import ClipDeskServices
from tests.support.fake_text_model import FakeLoadedModel, image_vectors

# the fake model's photos: red, green, blue, red (services_over_colours)
COLOUR_WORDS = ["red", "green", "blue", "red"]


def _photos(folder: Path, n: int, size: int, colour: bool) -> list[Path]:
    folder.mkdir()
    files = []
    for i in range(n):
        p = folder / f"p{i}.jpg"
        Image.new("RGB", (size, size), (40 * i, 0, 0) if colour else (0, 0, 0)).save(p)
        files.append(p)
    return files


def _add(lib: Library, folder: Path, files: list[Path]) -> list[int]:
    f = lib.add_folder(folder)
    facts = [
        FileFacts(p, p.stat().st_size, p.stat().st_mtime_ns, "jpeg", f"h{i}")
        for i, p in enumerate(files)
    ]
    return [pid for pid, _ in lib.add_or_update_photos(f.id, facts)]


def tiny_model_library(tmp_path: Path, model_dir: Path, n: int) -> tuple[Path, list[Path]]:
    """A library file of ``n`` photos with vectors of the tiny model (random directions)."""
    path = tmp_path / "library.sqlite3"
    folder = tmp_path / "photos"
    files = _photos(folder, n, 8, colour=True)
    model = load_model(model_dir, device="cpu")
    with Library(path) as lib:
        ids = _add(lib, folder, files)
        vecs = np.random.default_rng(0).standard_normal((n, model.dim)).astype(np.float32)
        lib.store_embeddings(model.id, ids, vecs / np.linalg.norm(vecs, axis=1, keepdims=True))
    return path, files


def services_over_colours(tmp_path: Path) -> ClipDeskServices:
    """Services over 4 photos (p0..p3.jpg) whose fake-model vectors say red, green, blue, red."""
    folder = tmp_path / "photos"
    files = _photos(folder, len(COLOUR_WORDS), 4, colour=False)
    services = ClipDeskServices(tmp_path / "lib.sqlite3", model=FakeLoadedModel(), device="cpu")
    ids = _add(services.library, folder, files)
    services.library.store_embeddings(
        "fake@1", ids, image_vectors(COLOUR_WORDS, noise=0.05, seed=1)
    )
    return services
