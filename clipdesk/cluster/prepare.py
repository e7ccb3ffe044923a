"""The CPU stage of a cluster run: one listed path in, one row out, as the desktop would see it.

For each path, in the order a scan and an index run take: ``stat`` (an unchanged file already in
the output is skipped here, before a byte is read), the content hash (a known content is skipped
here), the type by content, the EXIF metadata, then the decoder and the model's resize and crop
(:mod:`clipdesk.imaging.decode`, :mod:`clipdesk.model.preprocess`): the same functions, so the
same reasons for a bad file and the same pixels. What travels on to the model is the cropped
photo as uint8 RGB, a quarter of the float32 tensor the model takes; :func:`model_pixels`
normalises it there with the desktop's arithmetic, bit for bit.

Row states: ``embed`` (pixels), ``error`` (a reason the desktop records on the photo; a shard
keeps it, and a rerun skips it: the same bytes fail the same way), ``failed`` (the file could
not be read at all, or only in part: it goes in no shard, the summary names it, and a rerun
tries it again, as the desktop retries a transient failure), ``unchanged`` and ``same_content``
(skipped: already in the output).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from clipdesk.cluster.resume import Done, hash_key, stamp_key
from clipdesk.cluster.shards import fact_fields
from clipdesk.common.path_map import PathMap
from clipdesk.common.regular_files import NotARegularFileError
from clipdesk.imaging.decode import DecodeError, decode_for_model
from clipdesk.imaging.filetypes import classify
from clipdesk.library.records import PhotoMeta
from clipdesk.model.preprocess import PreprocessConfig, resize_and_crop, squash
from clipdesk.scanning.hashing import content_hash
from clipdesk.scanning.metadata import read_metadata

log = logging.getLogger(__name__)

EMBED, ERROR, FAILED, UNCHANGED, SAME_CONTENT = (
    "embed",
    "error",
    "failed",
    "unchanged",
    "same_content",
)
# Decoder failures of the disk, not of the photo: tried again by the next run, never recorded.
_TRANSIENT = ("missing", "unreadable")
_META = ("width", "height", "taken_at", "camera_make", "camera_model", "gps_lat", "gps_lon")


@dataclass(frozen=True)
class PrepareSettings:
    """What every CPU task needs: the model's preprocessing and where to read the paths."""

    preprocess: PreprocessConfig
    path_map: PathMap


def prepare_rows(table: Any, settings: PrepareSettings, done: Done) -> Any:
    """A listing batch (pyarrow: ``path`` bytes, ``root`` int32) → one row per path (pyarrow,
    :func:`row_schema`)."""
    import pyarrow as pa

    paths = table.column("path").to_pylist()
    roots = table.column("root").to_pylist()
    rows = [prepare_one(os.fsdecode(p), settings, done) for p in paths]
    columns: dict[str, list[Any]] = {name: [] for name in row_schema(pa).names}
    for raw, root, row in zip(paths, roots, rows, strict=True):
        row["path"], row["root"] = raw, root
        for name in columns:
            columns[name].append(row.get(name))
    return pa.table(columns, schema=row_schema(pa))


def row_schema(pa: Any) -> Any:
    text = pa.string()
    return pa.schema(
        [
            ("path", pa.binary()),
            ("root", pa.int32()),
            ("state", text),
            *fact_fields(pa),
            ("error", text),
            ("pixels", pa.binary()),  # uint8 [size, size, 3], for state "embed"
        ]
    )


def prepare_one(path: str, settings: PrepareSettings, done: Done) -> dict[str, Any]:
    """The row of one recorded ``path`` (read at its mapped place)."""
    where = settings.path_map(path)
    try:
        st = os.stat(where)
    except OSError as exc:
        return _failed(exc)
    if stamp_key(os.fsencode(path), st.st_size, st.st_mtime_ns) in done.stamps:
        return {"state": UNCHANGED}
    try:
        fp = content_hash(where)
    except OSError as exc:
        return _failed(exc)
    if hash_key(fp.digest) in done.hashes:
        return {"state": SAME_CONTENT}
    row: dict[str, Any] = {"size": fp.size, "mtime_ns": fp.mtime_ns, "content_hash": fp.digest}
    kind, error = classify(os.path.basename(path), fp.head)
    row["kind"] = kind
    if error:
        return row | {"state": ERROR, "error": error}
    meta = read_metadata(where, kind)
    row |= {name: getattr(meta, name) for name in _META}
    try:
        pixels = cropped(where, settings.preprocess)
    except DecodeError as exc:
        if exc.kind in _TRANSIENT:
            return {"state": FAILED, "error": exc.reason}
        return row | {"state": ERROR, "error": exc.reason}
    except Exception as exc:  # a decoder bug must not stop the run (the desktop's words)
        log.exception("unexpected failure decoding %s", where)
        return row | {
            "state": ERROR,
            "error": f"unexpected decoder failure: {type(exc).__name__}: {exc}",
        }
    return row | {"state": EMBED, "pixels": pixels.tobytes()}


def _failed(exc: OSError) -> dict[str, Any]:
    if isinstance(exc, FileNotFoundError):
        reason = "file not found"
    elif isinstance(exc, NotARegularFileError):
        reason = exc.strerror or "not a regular file"
    else:
        reason = f"cannot read the file: {exc.strerror or type(exc).__name__}"
    return {"state": FAILED, "error": reason}


def cropped(path: str, cfg: PreprocessConfig) -> np.ndarray:
    """The photo decoded as the desktop decodes it, resized and cropped for the model:
    uint8 [size, size, 3]."""
    fit = resize_and_crop if cfg.crop else squash
    image = decode_for_model(path, cfg.size).image
    return np.asarray(fit(image, cfg.size, cfg.resample), dtype=np.uint8)


def model_pixels(blobs: list[bytes], cfg: PreprocessConfig) -> np.ndarray:
    """Cropped photos (:func:`cropped`'s bytes) → float32 [n, 3, size, size], normalised with
    exactly :meth:`clipdesk.model.preprocess.Preprocessor.to_array`'s operations."""
    size = cfg.size
    stacked = np.stack([np.frombuffer(b, np.uint8).reshape(size, size, 3) for b in blobs])
    mean = np.asarray(cfg.mean, dtype=np.float32) * 255.0
    inv_std = 1.0 / (np.asarray(cfg.std, dtype=np.float32) * 255.0)
    out = (stacked.astype(np.float32) - mean) * inv_std
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


def meta_of(row: dict[str, Any]) -> PhotoMeta:
    return PhotoMeta(**{name: row.get(name) for name in _META})
