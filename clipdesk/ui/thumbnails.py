"""Thumbnails: made in a thread pool, cached on disk and in memory, delivered on the GUI thread.

A thumbnail is keyed by the photo's path, size and mtime, so an edited photo gets a new one. On
disk they are JPEGs under ``cache_dir()/thumbs``; in memory an LRU of ``QPixmap`` (made on the GUI
thread from a ``QImage`` decoded in the worker). Requests for photos scrolled far out of view are
dropped at task start, so a fast fling through 100k results does not queue 100k decodes.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections import OrderedDict
from functools import partial
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication, QImage, QPixmap

from clipdesk.common import paths
from clipdesk.common.errors import CancelledError
from clipdesk.common.progress import CancelToken
from clipdesk.ui.workers import Workers

# Physical pixels of the long side on disk: a 128-logical-pixel cell at 2x device pixel ratio.
THUMB_PX = 256
CACHE_LIMIT_BYTES = 2 * 1024**3  # ~150k thumbnails at ~14 KB
_STALE_AFTER = 600  # a request older than this many newer requests is no longer on screen


def thumb_dir() -> Path:
    folder = paths.cache_dir() / "thumbs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def thumb_key(path: str, px: int = THUMB_PX) -> str | None:
    """Cache key of a photo as it is now on disk; None if it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    raw = f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}|{px}".encode(
        "utf-8",
        "surrogateescape",  # a file name that is not UTF-8 keeps its own bytes
    )
    return hashlib.sha1(raw).hexdigest()


def make_thumbnail(path: str, px: int = THUMB_PX) -> bytes:
    """A JPEG of long side ``px``, decoded at reduced scale (JPEG draft mode, HEIF, RAW previews,
    EXIF orientation and the decompression-bomb guard all come from the model's decoder)."""
    from clipdesk.services.images import decode_for_display

    image = decode_for_display(path, px)  # shortest side <= px, upright, RGB
    image.thumbnail((px, px), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def load_or_make(path: str, px: int = THUMB_PX) -> QImage:
    """Worker-side: the cached thumbnail of ``path``, made and stored first if needed."""
    key = thumb_key(path, px)
    if key is None:
        raise FileNotFoundError(path)
    cached = thumb_dir() / key[:2] / f"{key}.jpg"
    if cached.exists():
        image = QImage(str(cached))
        if not image.isNull():
            return image
    data = make_thumbnail(path, px)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, cached)  # atomic: a reader never sees half a file
    except OSError:
        tmp.unlink(missing_ok=True)  # a full cache disk costs speed, not the thumbnail
    # PySide6 stub gap: `format` is typed as bytes, but only str is accepted at runtime.
    image = QImage.fromData(data, "JPG")  # type: ignore[arg-type]
    if image.isNull():
        raise ValueError(f"could not decode thumbnail of {path}")
    return image


def prune(max_bytes: int = CACHE_LIMIT_BYTES) -> int:
    """Delete the least recently made thumbnails until the disk cache fits; returns files removed.

    Runs in a worker at start-up: a thumbnail is cheap to make again, the user's disk is not.
    """
    files = []
    for f in thumb_dir().rglob("*.jpg"):
        try:
            st = f.stat()
        except OSError:
            continue
        files.append((st.st_mtime, st.st_size, f))
    total = sum(size for _t, size, _f in files)
    removed = 0
    for _mtime, size, f in sorted(files):
        if total <= max_bytes:
            break
        f.unlink(missing_ok=True)
        total -= size
        removed += 1
    return removed


class ThumbnailCache(QObject):
    """Asks for thumbnails by photo id; emits ``ready(photo_id)`` when one can be painted."""

    ready = Signal(int)
    failed = Signal(int, str)

    def __init__(
        self, workers: Workers, capacity: int = 3000, px: int = THUMB_PX, display_px: int = 128
    ) -> None:
        super().__init__()
        self._workers = workers
        self._capacity = capacity
        self._px = px
        # Pixmaps are scaled in the worker to the cell's size in device pixels, so painting a
        # frame copies pixels and never resamples them (high-DPI screens get sharp thumbnails).
        screen = QGuiApplication.primaryScreen()
        self._dpr = screen.devicePixelRatio() if screen is not None else 1.0
        self._display = max(1, round(display_px * self._dpr))
        self._pixmaps: OrderedDict[int, QPixmap] = OrderedDict()
        self._pending: dict[int, int] = {}  # photo id -> request serial
        self._broken: dict[int, str] = {}
        self._serial = 0

    def get(self, photo_id: int, path: str) -> QPixmap | None:
        """The pixmap if cached (and mark it recently used); otherwise schedule it, return None."""
        pixmap = self._pixmaps.get(photo_id)
        if pixmap is not None:
            self._pixmaps.move_to_end(photo_id)
            return pixmap
        if photo_id in self._broken:
            return None
        self._serial += 1
        if photo_id in self._pending:
            self._pending[photo_id] = self._serial  # still wanted: refresh its place
            return None
        self._pending[photo_id] = self._serial
        self._workers.run(
            self._workers.thumbs,
            partial(self._work, photo_id=photo_id, path=path),
            partial(self._store, photo_id),
            partial(self._fail, photo_id),
        )
        return None

    def error(self, photo_id: int) -> str | None:
        return self._broken.get(photo_id)

    def invalidate(self, photo_id: int) -> None:
        self._pixmaps.pop(photo_id, None)
        self._broken.pop(photo_id, None)

    def clear(self) -> None:
        self._pixmaps.clear()
        self._broken.clear()

    def _work(self, token: CancelToken, photo_id: int, path: str) -> QImage | None:
        serial = self._pending.get(photo_id)
        if token.cancelled or serial is None or self._serial - serial > _STALE_AFTER:
            return None  # scrolled out of view: drop, it is asked for again when it comes back
        image = load_or_make(path, self._px)
        if max(image.width(), image.height()) > self._display:
            image = image.scaled(
                self._display,
                self._display,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        image.setDevicePixelRatio(self._dpr)
        return image

    def _store(self, photo_id: int, image: QImage | None) -> None:
        self._pending.pop(photo_id, None)
        if image is None:
            return
        self._pixmaps[photo_id] = QPixmap.fromImage(image)
        while len(self._pixmaps) > self._capacity:
            self._pixmaps.popitem(last=False)
        self.ready.emit(photo_id)

    def _fail(self, photo_id: int, exc: BaseException) -> None:
        self._pending.pop(photo_id, None)
        if isinstance(exc, CancelledError):
            return
        reason = f"{type(exc).__name__}: {exc}"
        self._broken[photo_id] = reason
        self.failed.emit(photo_id, reason)
