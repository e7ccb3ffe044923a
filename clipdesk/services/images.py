"""Photo files for the faces: which file types ClipDesk takes, and decoding for display.

The GUI shows thumbnails and previews and accepts query images (drops, pastes, command-line
arguments); it does so through these functions so that it opens exactly the files the scanner
indexes (one list, :data:`clipdesk.imaging.filetypes.PHOTO_EXTENSIONS`) with the same decoder the
model sees (HEIF, RAW previews, EXIF orientation, the decompression-bomb guard).
"""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from clipdesk.imaging.decode import decode_for_model
from clipdesk.imaging.filetypes import PHOTO_EXTENSIONS, is_candidate
from clipdesk.imaging.pixels import open_image

__all__ = ["decode_for_display", "is_photo_name", "open_upright", "photo_extensions"]


def photo_extensions() -> frozenset[str]:
    """Every extension (lower case, with the dot) that ClipDesk indexes and opens as a query."""
    return PHOTO_EXTENSIONS


def is_photo_name(name: str | os.PathLike[str]) -> bool:
    """True when the file name has one of :func:`photo_extensions` (the content is not read):
    the scanner's own test, so what it indexes is what the app opens."""
    return is_candidate(os.fspath(name))


def decode_for_display(path: str | os.PathLike[str], px: int) -> Image.Image:
    """An upright RGB image of ``path`` whose shortest side is at most ``px`` (reduced while
    decoding where the format allows: JPEG draft mode, RAW embedded previews).

    Raises :class:`clipdesk.imaging.decode.DecodeError` (a ``ClipDeskError``) for a bad file.
    """
    return decode_for_model(path, px).image


def open_upright(path: str | Path) -> Image.Image:
    """The whole image at full size, upright, in RGB (a query image read from disk)."""
    return open_image(path)
