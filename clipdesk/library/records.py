"""Plain records the store hands out: folders, photos, and what the scanner learns about a file."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class PhotoStatus(StrEnum):
    PENDING = "pending"  # new or changed on disk: waiting for the indexing pipeline
    OK = "ok"  # decoded and embedded (for the model that indexed it)
    ERROR = "error"  # could not be read or decoded; ``error`` says why; retried when it changes
    MISSING = "missing"  # the file is gone; kept (with vector and tags) in case it comes back
    OFFLINE = "offline"  # its folder is unreachable (unplugged drive); restored when it returns


class FolderStatus(StrEnum):
    OK = "ok"
    OFFLINE = "offline"  # the folder does not exist right now (drive unplugged, share unmounted)
    ERROR = "error"  # it exists but cannot be read (permission denied, not a directory)


@dataclass(frozen=True)
class Folder:
    id: int
    path: Path
    status: FolderStatus
    error: str | None
    added_at: float
    last_scan: float | None
    device: int | None = None  # st_dev of the root at the last good scan (None: not yet known)
    ocr: bool = True  # the folder's OCR switch: its photos' text is read

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Folder:
        return cls(
            id=row["id"],
            path=Path(row["path"]),
            status=FolderStatus(row["status"]),
            error=row["error"],
            added_at=row["added_at"],
            last_scan=row["last_scan"],
            device=row["device"],
            ocr=bool(row["ocr"]),
        )


@dataclass(frozen=True)
class Drive:
    """A mount point inside a folder (another drive, or a link to one) as the last scan left it.

    ``device`` is the drive's st_dev when its photos were there; ``seen`` what the last scan
    found at that path (the same device, the parent's once the drive is gone, None when the
    directory itself is gone). A change of ``seen`` is what makes a cheap check rescan."""

    device: int
    seen: int | None


@dataclass(frozen=True)
class PhotoMeta:
    """What the file's header and EXIF say; every field may be unknown."""

    width: int | None = None  # after EXIF orientation
    height: int | None = None
    taken_at: str | None = None  # ISO 8601, as the camera recorded it (no time zone)
    camera_make: str | None = None
    camera_model: str | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None


@dataclass(frozen=True)
class FileFacts:
    """One file as the scanner saw it: stat, type by content, hash and metadata."""

    path: str | Path  # as the scanner found it; the library stores it normalised
    size: int
    mtime_ns: int
    kind: str | None  # None when the content is not a supported image
    content_hash: str | None  # None when the file could not be read
    meta: PhotoMeta = field(default_factory=PhotoMeta)
    error: str | None = None  # set when the file is known bad before decoding (empty, not an image)

    @property
    def stamp(self) -> tuple[int, int]:
        return (self.size, self.mtime_ns)


@dataclass(frozen=True)
class Photo:
    id: int
    folder_id: int
    path: Path
    kind: str | None
    size: int
    mtime_ns: int
    content_hash: str | None
    width: int | None
    height: int | None
    taken_at: str | None
    camera_make: str | None
    camera_model: str | None
    gps_lat: float | None
    gps_lon: float | None
    status: PhotoStatus
    error: str | None
    added_at: float
    updated_at: float
    indexed_at: float | None
    rating: int | None = None  # -1 rejected, 0 none, 1-5 stars; None: nothing known
    color_label: str | None = None  # "Red", "Yellow", "Green", "Blue", "Purple"

    @property
    def stamp(self) -> tuple[int, int]:
        """(size, mtime_ns): pass it back to the store so a stale result is not written."""
        return (self.size, self.mtime_ns)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Photo:
        return cls(
            id=row["id"],
            folder_id=row["folder_id"],
            path=Path(row["path"]),
            kind=row["kind"],
            size=row["size"],
            mtime_ns=row["mtime_ns"],
            content_hash=row["content_hash"],
            width=row["width"],
            height=row["height"],
            taken_at=row["taken_at"],
            camera_make=row["camera_make"],
            camera_model=row["camera_model"],
            gps_lat=row["gps_lat"],
            gps_lon=row["gps_lon"],
            status=PhotoStatus(row["status"]),
            error=row["error"],
            added_at=row["added_at"],
            updated_at=row["updated_at"],
            indexed_at=row["indexed_at"],
            rating=row["rating"],
            color_label=row["color_label"],
        )


PHOTO_COLUMNS = (
    "id, folder_id, path, kind, size, mtime_ns, content_hash, width, height, taken_at, "
    "camera_make, camera_model, gps_lat, gps_lon, status, error, added_at, updated_at, indexed_at, "
    "rating, color_label"
)
