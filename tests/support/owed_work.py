"""Photos that each carry a sidecar keyword of their own, and what a library lost of the work an
embedding is owed (the model's tags, the imported keyword). Read with plain SQL, so the same
check measures any version of the code (bench/ and the before/after figures use it too)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from clipdesk.model import synth
from clipdesk.tags.xmp import sidecar as xmp


def keyword_of(photo: Path) -> str:
    """The keyword the photo's sidecar carries: unique per photo, so a lost one shows."""
    return f"kw-{photo.stem}"


def photos_with_keywords(root: Path, n: int, seed: int = 5, size: int = 96) -> list[Path]:
    """``n`` generated photos (JPEG and PNG, nested folders), each with a sidecar keyword
    another tool wrote (``photo.jpg.xmp``)."""
    written = synth.write_photo_folder(
        root, n, seed=seed, size=(size, size * 3 // 4), formats=("jpg", "png")
    )
    paths = [p.path for p in written]
    for path in paths:
        xmp.sidecar_path(path, "fullname").write_bytes(
            xmp.update_keywords(None, [keyword_of(path)])
        )
    return paths


@dataclass(frozen=True)
class LostWork:
    photos: int  # photos with a vector
    untagged: list[str]  # of them, file names without any tag from the model
    keyword_lost: list[str]  # of them, file names without their sidecar keyword imported


def lost_work(library: Path) -> LostWork:
    """What the photos that have a vector are missing of their tags and keywords."""
    con = sqlite3.connect(f"file:{library}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT p.path, "
            " EXISTS (SELECT 1 FROM photo_tags t WHERE t.photo_id = p.id"
            "         AND t.model_id IS NOT NULL), "
            " (SELECT group_concat(l.name, char(10)) FROM photo_tags t"
            "  JOIN labels l ON l.id = t.label_id"
            "  WHERE t.photo_id = p.id AND t.state = 'imported') "
            "FROM photos p WHERE EXISTS (SELECT 1 FROM embeddings e WHERE e.photo_id = p.id)"
        ).fetchall()
    finally:
        con.close()
    untagged, lost = [], []
    for path, tagged, imported in rows:
        name = Path(path).name
        if not tagged:
            untagged.append(name)
        if keyword_of(Path(path)) not in (imported or "").split("\n"):
            lost.append(name)
    return LostWork(len(rows), sorted(untagged), sorted(lost))


class WriteLock:
    """Another program holding the library's write lock (``take`` once, ``release`` at the end)."""

    def __init__(self, library: Path) -> None:
        self.library = library
        self._con: sqlite3.Connection | None = None

    def take(self) -> None:
        if self._con is None:
            self._con = sqlite3.connect(self.library, isolation_level=None)
            self._con.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        if self._con is not None:
            self._con.execute("ROLLBACK")
            self._con.close()
            self._con = None
