"""Thumbnails: made in a thread pool, cached on disk and in memory, delivered on the GUI thread.

A thumbnail is keyed by the photo's path, size and mtime, so an edited photo gets a new one. On
disk they are JPEGs under ``cache_dir()/thumbs``, in a few sizes (:data:`DISK_SIZES`: the
smallest one that covers the cell in device pixels); in memory an LRU of ``QPixmap`` at the
cell's size in device pixels (made on the GUI thread from a ``QImage`` scaled in the worker),
bounded in bytes, so bigger cells keep fewer. A cell asks for its own size: when the grid's cells
grow, the pixmap of the old size is painted (scaled) until the new one arrives, so the grid never
flashes placeholders. Requests for photos scrolled far out of view are dropped at task start, so
a fast fling through 100k results does not queue 100k decodes.
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
# The sizes made on disk: a cell is served from the smallest that covers its device pixels
# (a 320-px cell at 2x: 768), so growing the cells a step re-scales a JPEG already made.
DISK_SIZES = (THUMB_PX, 512, 768)
MEMORY_BYTES = 384 * 1024**2  # ~2,000 pixmaps of a 128-px cell at 2x, ~300 of a 320-px one
CACHE_LIMIT_BYTES = 2 * 1024**3  # ~150k thumbnails at ~14 KB
_STALE_AFTER = 600  # a request older than this many newer requests is no longer on screen


def disk_size(display_px: int) -> int:
    """The size kept on disk for a cell of ``display_px`` device pixels."""
    return next((px for px in DISK_SIZES if px >= display_px), DISK_SIZES[-1])


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
    """Asks for thumbnails by photo id and cell size; emits ``ready(photo_id)`` when one can be
    painted."""

    ready = Signal(int)
    failed = Signal(int, str)

    def __init__(
        self,
        workers: Workers,
        capacity: int = 3000,
        px: int | None = None,
        display_px: int = 128,
        memory_bytes: int = MEMORY_BYTES,
    ) -> None:
        """``capacity``: pixmaps kept in memory at most (and ``memory_bytes`` of them);
        ``px``: one size on disk for every cell (default: by the cell, see DISK_SIZES);
        ``display_px``: the cell size (logical pixels) of a :meth:`get` that names none."""
        super().__init__()
        self._workers = workers
        self._capacity = capacity
        self._memory = memory_bytes
        self._px = px
        # Pixmaps are scaled in the worker to the cell's size in device pixels, so painting a
        # frame copies pixels and never resamples them (high-DPI screens get sharp thumbnails).
        screen = QGuiApplication.primaryScreen()
        self._dpr = screen.devicePixelRatio() if screen is not None else 1.0
        self._default = display_px
        # (photo id, device pixels) -> pixmap, least recently painted first
        self._pixmaps: OrderedDict[tuple[int, int], QPixmap] = OrderedDict()
        self._sizes: dict[int, set[int]] = {}  # photo id -> the sizes held of it
        self._bytes = 0
        self._pending: dict[tuple[int, int], int] = {}  # (photo id, size) -> request serial
        self._broken: dict[int, str] = {}
        self._serial = 0

    def get(self, photo_id: int, path: str, cell: int | None = None) -> QPixmap | None:
        """The pixmap for a cell of ``cell`` logical pixels if cached (and mark it recently
        used); otherwise schedule it and return one of another size meanwhile, or None."""
        size = self._device_px(cell)
        key = (photo_id, size)
        pixmap = self._pixmaps.get(key)
        if pixmap is not None:
            self._pixmaps.move_to_end(key)
            return pixmap
        if photo_id in self._broken:
            return None
        self._serial += 1
        if key in self._pending:
            self._pending[key] = self._serial  # still wanted: refresh its place
            return self._stand_in(photo_id, size)
        self._pending[key] = self._serial
        self._workers.run(
            self._workers.thumbs,
            partial(self._work, photo_id=photo_id, path=path, size=size),
            partial(self._store, key),
            partial(self._fail, key),
        )
        return self._stand_in(photo_id, size)

    def error(self, photo_id: int) -> str | None:
        return self._broken.get(photo_id)

    def invalidate(self, photo_id: int) -> None:
        for size in self._sizes.pop(photo_id, ()):
            self._drop((photo_id, size))
        self._broken.pop(photo_id, None)

    def clear(self) -> None:
        self._pixmaps.clear()
        self._sizes.clear()
        self._bytes = 0
        self._broken.clear()

    def _device_px(self, cell: int | None) -> int:
        return max(1, round((self._default if cell is None else cell) * self._dpr))

    def _stand_in(self, photo_id: int, size: int) -> QPixmap | None:
        """The closest size held of a photo, painted scaled while its own size is made."""
        held = self._sizes.get(photo_id)
        if not held:
            return None
        return self._pixmaps.get((photo_id, min(held, key=lambda s: abs(s - size))))

    def _drop(self, key: tuple[int, int]) -> None:
        pixmap = self._pixmaps.pop(key, None)
        if pixmap is not None:
            self._bytes -= _cost(pixmap)

    def _work(self, token: CancelToken, photo_id: int, path: str, size: int) -> QImage | None:
        serial = self._pending.get((photo_id, size))
        if token.cancelled or serial is None or self._serial - serial > _STALE_AFTER:
            return None  # scrolled out of view: drop, it is asked for again when it comes back
        image = load_or_make(path, self._px or disk_size(size))
        if max(image.width(), image.height()) > size:
            image = image.scaled(
                size,
                size,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        image.setDevicePixelRatio(self._dpr)
        return image

    def _store(self, key: tuple[int, int], image: QImage | None) -> None:
        self._pending.pop(key, None)
        if image is None:
            return
        pixmap = QPixmap.fromImage(image)
        self._drop(key)
        self._pixmaps[key] = pixmap
        self._bytes += _cost(pixmap)
        self._sizes.setdefault(key[0], set()).add(key[1])
        while self._pixmaps and (len(self._pixmaps) > self._capacity or self._bytes > self._memory):
            (pid, size), old = self._pixmaps.popitem(last=False)
            self._bytes -= _cost(old)
            held = self._sizes.get(pid)
            if held is not None:
                held.discard(size)
                if not held:
                    del self._sizes[pid]
        self.ready.emit(key[0])

    def _fail(self, key: tuple[int, int], exc: BaseException) -> None:
        self._pending.pop(key, None)
        photo_id = key[0]
        if isinstance(exc, CancelledError):
            return
        reason = f"{type(exc).__name__}: {exc}"
        self._broken[photo_id] = reason
        self.failed.emit(photo_id, reason)


def _cost(pixmap: QPixmap) -> int:
    """Bytes a pixmap holds (32 bits a pixel)."""
    return pixmap.width() * pixmap.height() * 4
