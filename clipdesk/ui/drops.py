"""What a drop or a paste carries: an image to search with, or folders to watch.

File managers give ``file://`` URLs; browsers give an ``http(s)`` URL plus the image bytes (as
``image/*`` data or a ``QImage``); the clipboard gives either. Remote URLs are never fetched:
photos and queries stay on this machine, so a browser drop uses the image data it carries.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field

from PIL import Image
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMimeData, Qt
from PySide6.QtGui import QImage, QPixmap

from clipdesk.services.images import is_photo_name, open_upright


@dataclass(eq=False)  # one query is one chip: two drops of the same file are two queries
class QueryImage:
    """An image query: a file on disk or image data (dropped from a browser, pasted), or a photo
    of the library ("More like this": ``photo_id`` set, searched by its stored vector).

    What kind of query it is is read from ``photo_id``, never from ``label``: the label is only
    the chip's text, and a dropped file may be called anything (``like me.jpg``)."""

    label: str
    path: str | None = None
    image: Image.Image | None = field(default=None, repr=False)
    photo_id: int | None = None  # a library photo's id: search by the vector stored for it

    @classmethod
    def like_photo(cls, photo_id: int, name: str, path: str) -> QueryImage:
        """The query of "More like this" for one photo of the library."""
        return cls(label=f"like {name}", path=path, photo_id=photo_id)

    def pil(self) -> Image.Image:
        if self.image is not None:
            return self.image
        return open_upright(self.path)  # type: ignore[arg-type]

    def preview(self, px: int = 48) -> QPixmap:
        """A small square preview for the query chip (loaded synchronously: it is one image)."""
        image = QImage(self.path) if self.path is not None else pil_to_qimage(self.image)  # type: ignore[arg-type]
        if image.isNull():
            return QPixmap()
        return QPixmap.fromImage(
            image.scaled(
                px,
                px,
                Qt.AspectRatioMode.KeepAspectRatioByExpanding,
                Qt.TransformationMode.SmoothTransformation,
            )
        )


def is_image_path(path: str) -> bool:
    """A file ClipDesk indexes (the scanner's list of photo types) is a file it searches with."""
    return is_photo_name(path) and os.path.isfile(path)


def local_paths(mime: QMimeData) -> list[str]:
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]


def folders_in(mime: QMimeData) -> list[str]:
    return [p for p in local_paths(mime) if os.path.isdir(p)]


def qimage_to_pil(image: QImage) -> Image.Image:
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    # PySide6 stub gap: the stubs type `format` as bytes, but the binding accepts only str for
    # Qt's `const char*` format argument (bytes raises ValueError at runtime).
    image.save(buffer, "PNG")  # type: ignore[call-overload]
    return Image.open(io.BytesIO(bytes(buffer.data().data()))).convert("RGB")


def pil_to_qimage(image: Image.Image) -> QImage:
    out = io.BytesIO()
    image.convert("RGB").save(out, "PNG")
    # PySide6 stub gap: `format` is typed as bytes, but only str is accepted at runtime.
    return QImage.fromData(QByteArray(out.getvalue()), "PNG")  # type: ignore[arg-type]


def query_image_from(mime: QMimeData) -> QueryImage | None:
    """The image a drop or paste carries, or None if it carries none."""
    for path in local_paths(mime):
        if is_image_path(path):
            return QueryImage(label=os.path.basename(path), path=path)
    if mime.hasImage():
        data = mime.imageData()
        image = data if isinstance(data, QImage) else QImage(data)
        if not image.isNull():
            return QueryImage(label=_label(mime), image=qimage_to_pil(image))
    for fmt in mime.formats():
        if fmt.startswith("image/"):
            try:
                pil = Image.open(io.BytesIO(bytes(mime.data(fmt).data())))
                pil.load()
            except (OSError, ValueError, Image.DecompressionBombError):
                continue
            return QueryImage(label=_label(mime), image=pil.convert("RGB"))
    return None


def _label(mime: QMimeData) -> str:
    remote = [u for u in mime.urls() if not u.isLocalFile()]
    if remote:
        return remote[0].fileName() or remote[0].host() or "dropped image"
    return "pasted image"


def has_image(mime: QMimeData) -> bool:
    """Cheap check for drag-enter: does the drop carry an image (without decoding it)?"""
    if mime.hasImage() or any(f.startswith("image/") for f in mime.formats()):
        return True
    return any(is_image_path(p) for p in local_paths(mime))
