"""Shared set-up for pipeline/search/services tests: a library with registered photo files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from clipdesk.library.records import FileFacts
from clipdesk.library.store import Library


def register(library: Library, folder: Path, files: Iterable[Path]) -> list[int]:
    """Record files as the scanner would (pending), without depending on the scanner."""
    found = library.folder(folder) or library.add_folder(folder)
    facts = []
    for path in files:
        st = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        facts.append(
            FileFacts(
                path=path,
                size=st.st_size,
                mtime_ns=st.st_mtime_ns,
                kind="jpeg",
                content_hash=digest,
            )
        )
    return [pid for pid, _ in library.add_or_update_photos(found.id, facts)]


def register_folders(library: Library, root: Path, counts: dict[str, int]) -> list[int]:
    """Folders ``root/NAME`` of ``counts[NAME]`` small files of distinct content (``0.jpg``,
    ``1.jpg``, ...), recorded as the scanner would; the photos' ids, folder by folder."""
    ids = []
    for name, n in counts.items():
        folder = root / name
        folder.mkdir()
        files = []
        for i in range(n):
            f = folder / f"{i}.jpg"
            f.write_bytes(f"{name}{i}".encode())
            files.append(f)
        ids += register(library, folder, files)
    return ids


def solid_photos(folder: Path, n: int, size: tuple[int, int] = (320, 240)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        path = folder / f"p{i:04d}.jpg"
        Image.new("RGB", size, colour).save(path, quality=85)
        out.append(path)
    return out


def embedding_rows(library: Library) -> list[tuple[int, str]]:
    rows = library.connection().execute("SELECT photo_id, model_id FROM embeddings").fetchall()
    return [(r[0], r[1]) for r in rows]
