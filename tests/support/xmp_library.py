"""A small library for XMP tests: named photos with fake-model vectors, and another tool's
sidecars (darktable's, with its edit history) beside them."""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image

from clipdesk.library.records import FileFacts
from clipdesk.services.app import ClipDeskServices
from tests.support.fake_text_model import FakeLoadedModel, image_vectors

DATA = Path(__file__).parent / "data"
DARKTABLE_ROME = DATA / "darktable_rome.xmp"  # darktable 4.6 style, keywords of its own


def library_of(tmp_path: Path, names: list[str]) -> tuple[ClipDeskServices, dict[str, int]]:
    """Services over a library of photos with these file names (in ``tmp_path/photos``), each
    with a vector of the fake model; returns them with {name: photo id}."""
    folder = tmp_path / "photos"
    folder.mkdir(exist_ok=True)
    services = ClipDeskServices(tmp_path / "lib.sqlite3", model=FakeLoadedModel(), device="cpu")
    lib = services.library
    f = lib.add_folder(folder)
    facts = []
    for i, name in enumerate(names):
        p = folder / name
        Image.new("RGB", (4, 4), (40 * i % 256, 80, 120)).save(p, format="PNG")
        facts.append(FileFacts(p, p.stat().st_size, p.stat().st_mtime_ns, "png", f"h{i}"))
    ids = [pid for pid, _ in lib.add_or_update_photos(f.id, facts)]
    words = ["red", "green", "blue"]
    lib.store_embeddings("fake@1", ids, image_vectors([words[i % 3] for i in range(len(ids))]))
    return services, dict(zip(names, ids, strict=True))


def darktable_sidecar(photo: Path) -> Path:
    """Give ``photo`` darktable's sidecar (``photo.jpg.xmp``), naming it as darktable does."""
    side = photo.with_name(photo.name + ".xmp")
    shutil.copy(DARKTABLE_ROME, side)
    text = side.read_text(encoding="utf-8").replace("IMG_2041.jpg", photo.name)
    side.write_text(text, encoding="utf-8")
    return side
