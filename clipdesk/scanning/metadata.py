"""What a photo's header and EXIF say: size after orientation, when, with what, where.

Only headers are read (Pillow opens lazily), so this is cheap enough to run for every new file
during a scan. Camera EXIF is often broken - truncated IFDs, zero denominators, dates like
``0000:00:00``, strings padded with NULs - so every field is extracted on its own and a bad one
just stays unknown: :func:`read_metadata` never raises for a bad file.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from PIL import Image

from clipdesk.common.regular_files import open_regular
from clipdesk.imaging.extent import pillow_source
from clipdesk.library.records import PhotoMeta

log = logging.getLogger(__name__)

ORIENTATION, MAKE, MODEL, DATETIME = 0x0112, 0x010F, 0x0110, 0x0132
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
DATETIME_ORIGINAL, DATETIME_DIGITIZED, OFFSET_ORIGINAL = 0x9003, 0x9004, 0x9011
_SWAPS_AXES = {5, 6, 7, 8}  # orientations that rotate by 90 degrees

_heif_ready = False


def _ensure_heif() -> None:
    global _heif_ready
    if not _heif_ready:
        _heif_ready = True
        try:
            import pillow_heif

            pillow_heif.register_heif_opener()
        except Exception:  # an optional decoder missing or broken: HEIF files just fail to open
            log.warning("HEIF support unavailable", exc_info=True)


def read_metadata(path: str | os.PathLike[str], kind: str | None = None) -> PhotoMeta:
    """Metadata of the photo at ``path`` (``kind`` from :mod:`clipdesk.imaging.filetypes`)."""
    if kind == "heif":
        _ensure_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # decompression-bomb and EXIF warnings: not ours
            # pillow_source: only what the format needs is read (never padding, never a whole
            # WebP/HEIF file beyond its container).
            with open_regular(path) as fh, Image.open(pillow_source(fh)) as img:
                width, height = img.size
                return _from_exif(_header_exif(img), width, height)
    except Exception as exc:  # any unreadable header: the pipeline records the real reason
        log.debug("no metadata from %s: %s", path, exc)
    if kind == "raw":
        return _raw_metadata(path)
    return PhotoMeta()


def _header_exif(img: Image.Image) -> Image.Exif:
    """The EXIF a header holds. Pillow decodes a whole PNG to look for EXIF after its pixels,
    which a scan must not pay for; such EXIF (rare) is read when the photo is decoded."""
    if img.format == "PNG" and "exif" not in img.info:
        return Image.Exif()
    return img.getexif()


def _from_exif(exif: Image.Exif, width: int, height: int) -> PhotoMeta:
    orientation = _safe(lambda: int(exif.get(ORIENTATION, 1)))
    if orientation in _SWAPS_AXES:
        width, height = height, width
    sub = _safe(lambda: exif.get_ifd(EXIF_IFD)) or {}
    gps = _safe(lambda: exif.get_ifd(GPS_IFD)) or {}
    taken = None
    for source, tag in ((sub, DATETIME_ORIGINAL), (sub, DATETIME_DIGITIZED), (exif, DATETIME)):
        taken = _safe(
            lambda s=source, t=tag: parse_exif_datetime(s.get(t), sub.get(OFFSET_ORIGINAL))
        )
        if taken:
            break
    lat, lon = _safe(lambda: parse_gps(gps)) or (None, None)
    return PhotoMeta(
        width=width or None,
        height=height or None,
        taken_at=taken,
        camera_make=_safe(lambda: _text(exif.get(MAKE))),
        camera_model=_safe(lambda: _text(exif.get(MODEL))),
        gps_lat=lat,
        gps_lon=lon,
    )


def _raw_metadata(path: str | os.PathLike[str]) -> PhotoMeta:
    try:
        import rawpy

        with rawpy.imread(os.fspath(path)) as raw:
            sizes = raw.sizes
            width, height = sizes.width, sizes.height
            if sizes.flip in (5, 6):
                width, height = height, width
            return PhotoMeta(width=width or None, height=height or None)
    except Exception as exc:  # LibRaw refuses the file: the pipeline records why
        log.debug("no RAW metadata from %s: %s", path, exc)
        return PhotoMeta()


def _safe(fn: Any) -> Any:
    try:
        return fn()
    except Exception:  # one broken EXIF field must not cost the others
        return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).replace("\x00", "").strip()
    return text[:200] or None


def parse_exif_datetime(value: Any, offset: Any = None) -> str | None:
    """``"2021:07:14 18:03:22"`` -> ``"2021-07-14T18:03:22"`` (with ``+02:00`` when recorded)."""
    text = _text(value)
    if not text:
        return None
    try:
        stamp = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    iso = stamp.isoformat()
    tz = _text(offset)
    if tz and len(tz) == 6 and tz[0] in "+-" and tz[3] == ":":
        iso += tz
    return iso


def _degrees(dms: Any) -> float:
    parts = [float(x) for x in dms]
    value = (
        parts[0]
        + (parts[1] / 60 if len(parts) > 1 else 0)
        + (parts[2] / 3600 if len(parts) > 2 else 0)
    )
    if not math.isfinite(value):
        raise ValueError("non-finite GPS coordinate")
    return value


def parse_gps(gps: Mapping[int, Any]) -> tuple[float, float] | None:
    """(lat, lon) in signed decimal degrees from an EXIF GPS IFD, or None when absent/invalid."""
    if 2 not in gps or 4 not in gps:
        return None
    lat, lon = _degrees(gps[2]), _degrees(gps[4])
    if _text(gps.get(1)) in ("S", "s"):
        lat = -lat
    if _text(gps.get(3)) in ("W", "w"):
        lon = -lon
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None  # (0, 0) is what many cameras write when they have no fix
    return round(lat, 7), round(lon, 7)
