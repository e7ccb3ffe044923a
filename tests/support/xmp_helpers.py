"""A photo folder as another tool (darktable, digiKam) leaves it: one photo has a keyword sidecar."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from clipdesk.tags.xmp import sidecar as xmp


def folder_with_a_sidecar(folder: Path, n: int, keywords: list[str], tagged: int = 1) -> Path:
    """``n`` small PNGs of different colours in ``folder``; photo ``tagged`` gets a sidecar with
    ``keywords``. Returns that photo's path."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (32, 32), (60 * i % 256, 90, 200 - 40 * i % 200)).save(folder / f"{i}.png")
    photo = folder / f"{tagged}.png"
    xmp.sidecar_path(photo, "fullname").write_bytes(xmp.update_keywords(None, keywords))
    return photo
