"""Decode a photo file into a small RGB image for the model.

The model sees ``image_size`` pixels (224 for ViT-B/32), so decoding a 24-megapixel photo at full
size wastes most of the indexing time. JPEGs are decoded with libjpeg's DCT scaling
(:meth:`PIL.Image.Image.draft`), which yields 1/2, 1/4 or 1/8 scale directly from the compressed
data; everything is then reduced so that its shortest side is ``size`` (what CLIP's own
preprocessing would resize to anyway, so the model's ``preprocess`` becomes a crop and normalise).

Formats: JPEG, PNG, WebP, TIFF, BMP, GIF (first frame), HEIC/HEIF (pillow-heif) and camera RAW
(the embedded preview, via rawpy; a half-size demosaic when a file has none). EXIF orientation is
applied. Every failure raises :class:`DecodeError` with a ``kind`` and a human ``reason`` that the
pipeline records on the photo; nothing else escapes for a bad file.

Only regular files are opened, and only what the format needs is read from them
(:mod:`clipdesk.imaging.extent`): a photo followed by gigabytes of padding costs what the photo
costs.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError

from clipdesk.common.errors import ClipDeskError
from clipdesk.common.limits import MAX_PIXELS
from clipdesk.common.regular_files import NotARegularFileError, open_regular
from clipdesk.imaging.downscale import DECODE_MEMORY, decoded_bytes, reduce_early
from clipdesk.imaging.extent import ExtentError, pillow_source
from clipdesk.imaging.filetypes import HEIF_EXTENSIONS, RAW_EXTENSIONS
from clipdesk.imaging.pixels import to_rgb

if TYPE_CHECKING:
    import rawpy

# Pillow warns between MAX_PIXELS and twice that; we refuse that range ourselves (from the header,
# before any pixel is allocated), so its warning is noise.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

_heif_registered = False
_HEAD_BYTES = 512  # enough to sniff the format and to describe a file that is not an image


class DecodeError(ClipDeskError):
    """A photo that cannot be decoded; ``kind`` is a stable key, ``reason`` the text to record."""

    KINDS = (
        "missing",
        "unreadable",
        "empty",
        "not_image",
        "unsupported",
        "corrupt",
        "truncated",
        "too_large",
    )

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class DecodedPhoto:
    image: Image.Image  # RGB, shortest side <= size, orientation applied
    width: int  # full-resolution size after orientation, as the user sees the photo
    height: int
    format: str  # "JPEG", "PNG", "HEIF", "RAW", ...


def _ensure_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        try:
            import pillow_heif

            pillow_heif.register_heif_opener()
        except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
            pass
        _heif_registered = True


def decode_for_model(path: str | os.PathLike[str], size: int = 224) -> DecodedPhoto:
    """Read ``path`` and return an RGB image whose shortest side is at most ``size``."""
    path = Path(path)
    with _open_photo(path) as fh:
        head = _read_head(fh)
        if path.suffix.lower() in RAW_EXTENSIONS:
            return _decode_raw(path, fh, head, size)
        if path.suffix.lower() in HEIF_EXTENSIONS or head[4:12] in (
            b"ftypheic",
            b"ftypheix",
            b"ftypmif1",
            b"ftyphevc",
        ):
            _ensure_heif()
        return _decode_file(fh, head, size)


def decode_image(image: Image.Image, size: int = 224) -> DecodedPhoto:
    """The same reduction for an image already in memory (a drop, a paste)."""
    image = ImageOps.exif_transpose(image) or image
    width, height = image.size
    return DecodedPhoto(_shrink(to_rgb(image), size), width, height, image.format or "memory")


def _open_photo(path: Path) -> BinaryIO:
    # The decoder reads from the open file what the format needs (see imaging.extent): a photo
    # padded to gigabytes costs what its photo costs, not the padding.
    try:
        return open_regular(path)
    except FileNotFoundError:
        raise DecodeError("missing", "file not found") from None
    except IsADirectoryError:
        raise DecodeError("not_image", "is a folder, not a file") from None
    except NotARegularFileError as exc:
        if stat.S_ISDIR(_mode(path)):
            raise DecodeError("not_image", "is a folder, not a file") from None
        raise DecodeError("not_image", exc.strerror or "not a regular file") from None
    except OSError as exc:
        raise _unreadable(exc) from None


def _mode(path: Path) -> int:
    try:
        return os.stat(path).st_mode
    except OSError:
        return 0


def _read_head(fh: BinaryIO) -> bytes:
    try:
        head = fh.read(_HEAD_BYTES)
        fh.seek(0)
    except OSError as exc:
        raise _unreadable(exc) from None
    if not head:
        raise DecodeError("empty", "file is empty (0 bytes)")
    return head


def _unreadable(exc: OSError) -> DecodeError:
    if isinstance(exc, PermissionError):
        return DecodeError("unreadable", "permission denied")
    what = os.strerror(exc.errno) if exc.errno else str(exc)
    if exc.errno in (errno.EIO, errno.ENXIO):
        what = f"read error from the disk ({what})"
    return DecodeError("unreadable", f"cannot read the file: {what}")


def _decode_file(
    fh: BinaryIO, head: bytes, size: int, fmt_override: str | None = None
) -> DecodedPhoto:
    """Decode the photo open as ``fh`` (``head``: its first bytes)."""
    claimed = _claimed_size(head)
    if claimed is not None:
        # Checked before Pillow: it refuses a bare bomb header as "unidentified", not as too big,
        # and its WebP decoder allocates the whole canvas as it opens.
        _check_size(*claimed)
    try:
        source = pillow_source(fh)
        image: Image.Image = Image.open(source)
    except ExtentError as exc:
        raise DecodeError(exc.kind, exc.reason) from None
    except Image.DecompressionBombError as exc:
        raise DecodeError("too_large", f"image is too large to decode safely: {exc}") from None
    except UnidentifiedImageError:
        raise DecodeError("not_image", _not_image_reason(head)) from None
    except OSError as exc:
        if exc.errno is None:  # Pillow's own complaints carry no errno; the disk's do
            raise DecodeError("corrupt", f"damaged image header: {_short(exc)}") from None
        raise _unreadable(exc) from None
    except Exception as exc:  # Pillow plugins raise many types on a damaged header
        raise DecodeError("corrupt", f"damaged image header: {_short(exc)}") from None
    fmt = image.format or "unknown"
    try:
        _check_pixels(image)
        header_size = image.size
        if fmt == "JPEG":
            # DCT scaling: the result is still >= size on both sides, never full size.
            image.draft("RGB", (size, size))
        with DECODE_MEMORY.hold(decoded_bytes(image)):
            image.load()
            # EXIF only after load(): reading it first makes Pillow's PNG reader skip ahead and
            # then accept a damaged IDAT stream without complaint.
            orientation = _orientation(image)
            image = reduce_early(image, size)  # the full-size pixels are freed here
        full_w, full_h = header_size[::-1] if orientation in _SWAPS_AXES else header_size
        if orientation in _UPRIGHT:
            image = image.transpose(_UPRIGHT[orientation])
        rgb = to_rgb(image)
        return DecodedPhoto(_shrink(rgb, size), full_w, full_h, fmt_override or fmt)
    except DecodeError:
        raise
    except Image.DecompressionBombError as exc:
        raise DecodeError("too_large", f"image is too large to decode safely ({exc})") from None
    # Damaged files make Pillow's plugins raise almost anything; all of it is the file's fault.
    except (
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        IndexError,
        KeyError,
        TypeError,
        ZeroDivisionError,
        MemoryError,
        struct.error,
    ) as exc:
        raise _load_error(exc, fmt) from None


def _check_pixels(image: Image.Image) -> None:
    _check_size(*image.size)


def _check_size(w: int, h: int) -> None:
    if w <= 0 or h <= 0:
        raise DecodeError("corrupt", f"image header gives an invalid size {w}×{h}")
    if w * h > MAX_PIXELS:
        raise DecodeError(
            "too_large",
            f"image claims {w}×{h} pixels ({w * h / 1e6:.0f} MP), over the "
            f"{MAX_PIXELS / 1e6:.0f} MP safety limit",
        )


# EXIF orientation -> the transpose that makes the picture upright (as ImageOps.exif_transpose,
# which would copy the full-size image: here it runs on the reduced one).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_AXES = (5, 6, 7, 8)


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(0x0112, 1)
        return value if isinstance(value, int) else 1
    except Exception:  # a broken EXIF block must not sink an otherwise fine photo
        return 1


def _shrink(image: Image.Image, size: int) -> Image.Image:
    w, h = image.size
    short = min(w, h)
    if short <= size:
        return image
    scale = size / short
    new = (max(size, round(w * scale)), max(size, round(h * scale)))
    new = (size if w == short else new[0], size if h == short else new[1])
    # reducing_gap: box-reduce by an integer factor first, then a bicubic pass (fast and sharp).
    return image.resize(new, Image.Resampling.BICUBIC, reducing_gap=2.0)


def _load_error(exc: BaseException, fmt: str) -> DecodeError:
    if isinstance(exc, OSError) and exc.errno is not None:
        return _unreadable(exc)  # the disk failed mid-read: not the photo's fault
    text = str(exc).lower()
    if isinstance(exc, MemoryError):
        return DecodeError("too_large", f"not enough memory to decode this {fmt} image")
    if "truncated" in text or isinstance(exc, EOFError) or "premature end" in text:
        return DecodeError(
            "truncated", f"{fmt} data ends early: the file is truncated or still being copied"
        )
    if "cannot load this image" in text:  # the header ended before any image data
        return DecodeError(
            "truncated",
            f"{fmt} file has no image data after its header: it is truncated or damaged",
        )
    if "broken data stream" in text or "not enough data" in text:
        return DecodeError("truncated", f"{fmt} data ends early: the file is truncated")
    if "decoder" in text and "not available" in text:
        return DecodeError("unsupported", f"no decoder for this {fmt} variant: {_short(exc)}")
    return DecodeError("corrupt", f"damaged {fmt} data: {_short(exc)}")


def _claimed_size(head: bytes) -> tuple[int, int] | None:
    """(width, height) as a PNG or WebP header states it, before any decoder sees it."""
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR" and len(head) >= 24:
        w, h = struct.unpack(">II", head[16:24])
        return int(w), int(h)
    if head[:4] != b"RIFF" or head[8:12] != b"WEBP" or len(head) < 30:
        return None
    chunk = head[12:16]
    if chunk == b"VP8X":
        w, h = (int.from_bytes(head[i : i + 3], "little") + 1 for i in (24, 27))
        return w, h
    if chunk == b"VP8L" and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        w, h = struct.unpack("<HH", head[26:30])
        return w & 0x3FFF, h & 0x3FFF
    return None


def _not_image_reason(data: bytes) -> str:
    head = data[:16]
    if head.startswith((b"%PDF",)):
        return "not an image (a PDF document)"
    if head.startswith((b"PK\x03\x04",)):
        return "not an image (a ZIP archive or office document)"
    if head[4:8] == b"ftyp":
        return "not a supported image (an MP4/MOV video or unknown HEIF brand)"
    if head.startswith((b"\xff\xd8",)):
        return "JPEG signature but the header is damaged"
    if head.startswith(b"\x89PNG"):
        return "PNG signature but the header is damaged"
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in data[:512])
    if printable > 0.95 * min(len(data), 512):
        return "not an image (a text file)"
    return "not an image: unknown or damaged file format"


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


# --- camera RAW -----------------------------------------------------------------------------

# LibRaw's flip code -> PIL transpose that makes the picture upright.
_RAW_FLIP = {
    3: Image.Transpose.ROTATE_180,
    5: Image.Transpose.ROTATE_90,
    6: Image.Transpose.ROTATE_270,
}


def _decode_raw(path: Path, fh: BinaryIO, head: bytes, size: int) -> DecodedPhoto:
    try:
        import rawpy
    except ImportError:  # pragma: no cover - rawpy is a declared dependency
        raise DecodeError("unsupported", "camera RAW support (rawpy) is not installed") from None
    try:
        # LibRaw reads the parts it needs from the file itself, never the whole file.
        raw = rawpy.imread(_libraw_name(path, fh))
    except Exception as exc:  # rawpy raises LibRawError subclasses, but also plain IOError
        if head.startswith((b"\xff\xd8\xff", b"\x89PNG", b"II*\0", b"MM\0*")):
            # A JPEG/PNG/TIFF with a RAW extension (renamed, or a camera's "RAW+JPEG" mix-up).
            try:
                return _decode_file(fh, head, size)
            except DecodeError:
                pass
        raise DecodeError("corrupt", f"not a readable camera RAW file: {_short(exc)}") from None
    with raw:
        flip = getattr(raw.sizes, "flip", 0)
        try:
            thumb = raw.extract_thumb()
        except Exception:  # no preview, or one LibRaw cannot extract
            thumb = None
        if thumb is not None and thumb.format == rawpy.ThumbFormat.JPEG:
            jpeg = bytes(thumb.data)
            decoded = _decode_file(io.BytesIO(jpeg), jpeg[:_HEAD_BYTES], size, "RAW")
            image = decoded.image
            if flip in _RAW_FLIP and not _has_orientation(jpeg):
                image = image.transpose(_RAW_FLIP[flip])
            return DecodedPhoto(image, *_raw_size(raw, flip), "RAW")
        try:
            if thumb is not None and thumb.format == rawpy.ThumbFormat.BITMAP:
                import numpy as np  # here, like rawpy: only RAW files need it

                array = np.asarray(thumb.data)  # a BITMAP preview is an RGB array
            else:
                raw_pixels = int(raw.sizes.raw_width) * int(raw.sizes.raw_height)
                _check_size(int(raw.sizes.raw_width), int(raw.sizes.raw_height))
                # LibRaw holds the raw data and a half-size 16-bit image: ~5 bytes a pixel.
                with DECODE_MEMORY.hold(raw_pixels * 5):
                    array = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)
        except Exception as exc:
            raise DecodeError("corrupt", f"damaged camera RAW data: {_short(exc)}") from None
        full = _raw_size(raw, flip)
    image = Image.fromarray(array).convert("RGB")
    if thumb is not None and flip in _RAW_FLIP:
        image = image.transpose(_RAW_FLIP[flip])  # postprocess() applies flip itself
    return DecodedPhoto(_shrink(image, size), *full, "RAW")


def _libraw_name(path: Path, fh: BinaryIO) -> str:
    """The name LibRaw opens: on POSIX the descriptor already open and checked (so the file
    cannot be swapped for a FIFO meanwhile, and a name that is not UTF-8 still opens)."""
    if os.path.isdir("/dev/fd"):
        return f"/dev/fd/{fh.fileno()}"
    return os.fspath(path)


def _raw_size(raw: rawpy.RawPy, flip: int) -> tuple[int, int]:
    w, h = int(raw.sizes.width), int(raw.sizes.height)
    return (h, w) if flip in (5, 6) else (w, h)


def _has_orientation(jpeg: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(jpeg)) as im:
            return bool(im.getexif().get(0x0112, 1) != 1)
    except Exception:
        return False
