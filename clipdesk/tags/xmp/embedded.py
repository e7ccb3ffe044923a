"""XMP inside the photo: read a JPEG, PNG or TIFF file's own packet, and replace it safely.

Lightroom reads sidecars only for camera RAW files; for JPEG, TIFF and PNG it reads what is
inside the file, so keywords and ratings reach it only there. Writing into a photo is opt-in
(the shared setting ``xmp_embedded``), and guarded as a photo deserves:

- only the packet's container changes (:mod:`clipdesk.tags.xmp.containers`); EXIF, ICC
  profiles, other XMP tools' fields (the packet is edited, not rebuilt) and the image data
  stay byte for byte;
- the new file is written beside the photo, read back (its packet must be the one asked for),
  decoded and compared with the photo decoded before: every frame's pixels, and the EXIF and
  ICC profile, must be identical, or nothing is replaced;
- then it is fsynced and renamed over the photo, keeping its permission bits, so a crash
  leaves the old file or the new one, never half of one. The photo's modification time
  becomes the time of the write, as exiftool and every metadata editor leave it: the file did
  change, and backup tools and Lightroom's "metadata changed on disk" see it by that time;
- a file that changed since it was read, is damaged, read-only, or that the decoder cannot
  read is refused with the reason, and left as it was.

Camera RAW files, even TIFF-based ones, are never written into: their sidecar is where
Lightroom and darktable look.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageSequence, UnidentifiedImageError

from clipdesk.common.atomic_file import fsync_dir
from clipdesk.common.limits import MAX_PIXELS
from clipdesk.common.regular_files import open_regular
from clipdesk.imaging.downscale import DECODE_MEMORY, decoded_bytes
from clipdesk.imaging.extent import ExtentError, pillow_source
from clipdesk.imaging.filetypes import RAW_EXTENSIONS, kind_from_extension, sniff
from clipdesk.tags.xmp.containers import Layout, read_layout, write_layout
from clipdesk.tags.xmp.packet import XmpError

__all__ = [
    "EMBEDDED_KINDS",
    "EmbeddedDraft",
    "commit_embedded",
    "draft_embedded",
    "embeddable",
]

log = logging.getLogger(__name__)

EMBEDDED_KINDS = frozenset({"jpeg", "png", "tiff"})
# Frames compared before and after (a multi-page TIFF, an animated PNG); more are refused.
MAX_FRAMES = 256
# Keys of Pillow's image info that hold the packet itself, which is what changes.
_XMP_INFO_KEYS = frozenset({"xmp", "XML:com.adobe.xmp"})
_TIFF_XMP_TAG = 700


def embeddable(photo: str | os.PathLike[str]) -> bool:
    """Whether ClipDesk writes XMP into this photo when asked: a JPEG, PNG or TIFF by its name
    (the content is checked when it is read), never a camera RAW."""
    path = Path(photo)
    if path.suffix.lower() in RAW_EXTENSIONS:
        return False
    return kind_from_extension(path.name) in EMBEDDED_KINDS


@dataclass(frozen=True)
class EmbeddedDraft:
    """A photo whose embedded XMP is about to be written: where, and what it holds now."""

    photo: Path  # as named
    target: Path  # the file written (a symbolic link's target)
    layout: Layout
    stamp: tuple[int, int, int]  # (inode, size, mtime_ns) when read: a change refuses the write

    @property
    def packet(self) -> bytes | None:
        """The photo's XMP packet now (None: it has none)."""
        return self.layout.packet


def _label(path: Path) -> str:
    return f"{path} (embedded XMP)"


def _stamp(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def draft_embedded(photo: str | os.PathLike[str]) -> EmbeddedDraft:
    """Read the photo's structure and XMP packet; XmpError if it is not a JPEG, PNG or TIFF
    by content, is damaged, or passes a limit."""
    photo = Path(photo)
    if not embeddable(photo):
        raise XmpError(
            f"{photo}: ClipDesk writes embedded XMP only into JPEG, PNG and TIFF files",
            "other photos keep their keywords in the sidecar",
        )
    target = photo.resolve() if photo.is_symlink() else photo
    try:
        with open_regular(target) as fh:
            st = os.fstat(fh.fileno())
            kind = _kind(fh, photo)
            layout = read_layout(fh, kind, st.st_size, str(photo))
    except OSError as exc:
        raise XmpError(f"{photo}: cannot read ({exc.strerror or exc})") from None
    return EmbeddedDraft(photo, target, layout, _stamp(st))


def _kind(fh: BinaryIO, photo: Path) -> str:
    head = fh.read(16)
    kind = sniff(head)
    expected = kind_from_extension(photo.name)
    if kind != expected:
        found = f"a {kind.upper()} file" if kind else "not an image ClipDesk knows"
        raise XmpError(
            f"{photo}: is {found}, not the {str(expected).upper()} its name says",
            "ClipDesk writes into a photo only when its content matches its name; rename it",
        )
    try:
        pillow_source(fh)  # the limits every decode of the file is held to
    except ExtentError as exc:
        raise XmpError(f"{photo}: {exc.reason}") from None
    fh.seek(0)
    return str(kind)


def commit_embedded(draft: EmbeddedDraft, packet: bytes) -> bool:
    """Write ``packet`` as the photo's XMP (see the module docstring); False when it already
    is the photo's packet, and then the file is not touched."""
    if packet == draft.packet:
        return False
    source = str(draft.photo)
    folder = draft.target.parent
    try:
        fh = open_regular(draft.target)
    except OSError as exc:
        raise _unwritable(source, exc) from None
    with fh:
        st = os.fstat(fh.fileno())
        if _stamp(st) != draft.stamp:
            raise _changed(source)
        if not st.st_mode & 0o222 or not os.access(draft.target, os.W_OK):
            # a rename would replace it all the same (and root may write anything): a photo
            # with no write permission is the user's "leave it alone"
            raise XmpError(
                f"{source}: is read-only; its embedded XMP was not written",
                "make the photo writable to let ClipDesk write into it; its sidecar is written",
            )
        before = _fingerprint(fh, source, "as it is")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{draft.target.name}.", suffix=".tmp", dir=folder)
        except OSError as exc:
            raise _unwritable(source, exc) from None
        try:
            with os.fdopen(fd, "w+b") as out:
                write_layout(fh, draft.layout, packet, out, source)
                out.flush()
                _check_written(out, draft, packet, before, source)
                os.fsync(out.fileno())
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
            if _stamp(os.stat(draft.target)) != draft.stamp:  # the last look before the rename
                raise _changed(source)
            os.replace(tmp, draft.target)
        except OSError as exc:
            _discard(tmp)
            raise _unwritable(source, exc) from None
        except BaseException:
            _discard(tmp)
            raise
    fsync_dir(folder)
    log.info("wrote embedded XMP into %s", draft.target)
    return True


def _discard(tmp: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def _changed(source: str) -> XmpError:
    return XmpError(
        f"{source}: changed while ClipDesk was writing its XMP; nothing was replaced",
        "write the XMP again once the other program is done with the file",
    )


def _unwritable(source: str, exc: OSError) -> XmpError:
    return XmpError(
        f"{source}: cannot write its embedded XMP ({exc.strerror or exc})",
        "check free space and that the folder is writable; the photo is unchanged",
    )


def _check_written(
    out: BinaryIO, draft: EmbeddedDraft, packet: bytes, before: str, source: str
) -> None:
    """Refuse the new file unless it reads back with ``packet`` and decodes as the photo did."""
    out.seek(0, os.SEEK_END)
    size = out.tell()
    out.seek(0)
    again = read_layout(out, draft.layout.kind, size, source)
    if again.packet != packet.strip(b"\x00 \r\n\t"):
        raise XmpError(
            f"{source}: the written file did not read back with its new XMP; nothing was replaced",
            "please report this file",
        )
    after = _fingerprint(out, source, "with its new XMP")
    if after != before:
        raise XmpError(
            f"{source}: writing its XMP would have changed its pixels or its other metadata; "
            "nothing was replaced",
            "please report this file; its keywords are in the sidecar",
        )


def _fingerprint(fh: BinaryIO, source: str, state: str) -> str:
    """A digest of what decoding the file gives: every frame's mode, size and pixels, and the
    metadata Pillow reads beside the XMP (EXIF, ICC profile, resolution, TIFF tags)."""
    digest = hashlib.sha256()
    fh.seek(0)
    try:
        with Image.open(fh) as im:
            frames = getattr(im, "n_frames", 1)
            if frames > MAX_FRAMES:
                raise XmpError(
                    f"{source}: has {frames:,} frames (at most {MAX_FRAMES} are checked)"
                )
            for frame in ImageSequence.Iterator(im):
                if frame.width * frame.height > MAX_PIXELS:
                    raise XmpError(f"{source}: has more than {MAX_PIXELS:,} pixels")
                with DECODE_MEMORY.hold(2 * decoded_bytes(frame)):
                    frame.load()
                    digest.update(f"{frame.mode} {frame.size}".encode())
                    digest.update(frame.tobytes())
                info = {k: v for k, v in frame.info.items() if k not in _XMP_INFO_KEYS}
                digest.update(repr(sorted(info.items(), key=lambda kv: str(kv[0]))).encode())
                tags = getattr(frame, "tag_v2", None)
                if tags is not None:
                    kept = {k: v for k, v in tags.items() if k != _TIFF_XMP_TAG}
                    digest.update(repr(sorted(kept.items())).encode())
    except XmpError:
        raise
    except (
        OSError,
        UnidentifiedImageError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
    ) as exc:
        raise XmpError(
            f"{source}: cannot be decoded {state} ({exc}); nothing was replaced",
            "ClipDesk writes into a photo only when it can check every pixel is kept",
        ) from None
    return digest.hexdigest()
