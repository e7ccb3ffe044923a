"""Writing synthetic scenes as real photo files, for library, scanning and indexing tests.

The files look like a user's photo folder: JPEG (some with an EXIF orientation, stored rotated so
that a viewer applying the tag shows the scene upright), PNG and WebP, spread over nested folders,
at small sizes by default or camera-like ones (e.g. 4000x3000) on request.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from PIL import Image

from clipdesk.model.synth.render import render_scene
from clipdesk.model.synth.world import SceneSpec, scene_at

FORMATS = ("jpg", "png", "webp")
# EXIF orientation -> the transpose that stores an upright image so the tag undoes it.
_STORE_FOR_ORIENTATION = {
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,
    8: Image.Transpose.ROTATE_270,
}
_FOLDERS = ("2023/summer", "2023/summer/beach", "2024", "2024/trips/alps", "misc")
_PIL_FORMAT = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}


class PhotoFile(NamedTuple):
    path: Path
    spec: SceneSpec


def write_photo(
    spec: SceneSpec,
    path: Path,
    size: int | tuple[int, int] = 256,
    orientation: int = 1,
    quality: int = 90,
) -> Path:
    """Render ``spec`` and save it at ``path`` (format from the suffix).

    ``orientation`` 3, 6 or 8 (JPEG and WebP only) stores the pixels rotated and sets the EXIF tag,
    so the upright image after applying the tag is the rendered scene at ``size``.
    """
    ext = path.suffix.lower().lstrip(".")
    ext = "jpg" if ext == "jpeg" else ext
    if ext not in _PIL_FORMAT:
        raise ValueError(f"unsupported photo format {path.suffix!r} (expected .jpg, .png or .webp)")
    img = render_scene(spec, size)
    kwargs: dict[str, object] = {}
    if orientation != 1:
        if orientation not in _STORE_FOR_ORIENTATION or ext == "png":
            raise ValueError(f"cannot write EXIF orientation {orientation} to a {ext} file")
        img = img.transpose(_STORE_FOR_ORIENTATION[orientation])
        exif = Image.Exif()
        exif[0x0112] = orientation
        kwargs["exif"] = exif.tobytes()
    if ext in ("jpg", "webp"):
        kwargs["quality"] = quality
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, _PIL_FORMAT[ext], **kwargs)
    return path


def write_photo_folder(
    root: str | Path,
    n: int,
    seed: int = 0,
    split: str = "eval",
    size: int | tuple[int, int] | None = None,
    formats: Sequence[str] = FORMATS,
    nested: bool = True,
    exif_fraction: float = 0.25,
    count: int | None = None,
) -> list[PhotoFile]:
    """Write ``n`` scene photos under ``root``; returns (path, spec) for each, in order.

    ``size`` None picks a mix of modest sizes and aspect ratios (fast); pass e.g. (4000, 3000) for
    camera-sized files. A share ``exif_fraction`` of the JPEGs carry an EXIF orientation.
    Scenes come from ``split`` (default: held-out evaluation scenes, never training images).
    """
    for f in formats:
        if f not in _PIL_FORMAT:
            raise ValueError(
                f"unsupported photo format {f!r} (expected one of {', '.join(FORMATS)})"
            )
    root = Path(root)
    rng = random.Random(f"photos:{seed}")
    out: list[PhotoFile] = []
    for i in range(n):
        spec = scene_at(split, seed, i, count=count)
        ext = formats[i % len(formats)]
        folder = root / rng.choice(_FOLDERS) if nested else root
        path = folder / f"IMG_{seed:03d}_{i:05d}.{ext}"
        w, h = (
            size
            if isinstance(size, tuple)
            else (size, size)
            if size
            else rng.choice([(320, 240), (240, 320), (256, 256), (400, 300)])
        )
        orientation = 1
        if ext == "jpg" and rng.random() < exif_fraction:
            orientation = rng.choice((3, 6, 8))
        write_photo(spec, path, (w, h), orientation)
        out.append(PhotoFile(path, spec))
    return out
