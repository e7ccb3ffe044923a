"""Which files are photos: a cheap extension filter for walking, then the content's magic bytes.

This is the one list of photo file types: the scanner walks for these extensions, the decoder
picks its RAW and HEIF paths from them, and the app accepts exactly these as a query image (drop,
paste, command line) through :func:`clipdesk.services.images.photo_extensions`.

The extension decides whether a file is looked at at all (a folder of a million photos is walked
without opening anything else); the first bytes decide what it really is, so a PNG saved as
``.jpg`` is still a PNG and a text file named ``.jpg`` is recorded as "not an image".
"""

from __future__ import annotations

import os

# Camera RAW formats (decoded through rawpy's embedded preview). Most are TIFF containers.
RAW_EXTENSIONS = frozenset(
    {
        ".3fr",
        ".ari",
        ".arw",
        ".cr2",
        ".cr3",
        ".crw",
        ".dcr",
        ".dng",
        ".erf",
        ".iiq",
        ".k25",
        ".kdc",
        ".mef",
        ".mos",
        ".mrw",
        ".nef",
        ".nrw",
        ".orf",
        ".pef",
        ".raf",
        ".raw",
        ".rw2",
        ".rwl",
        ".sr2",
        ".srf",
        ".srw",
        ".x3f",
    }
)

EXTENSION_KINDS: dict[str, str] = {
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".jpe": "jpeg",
    ".jfif": "jpeg",
    ".png": "png",
    ".webp": "webp",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".bmp": "bmp",
    ".dib": "bmp",
    ".gif": "gif",
    ".heic": "heif",
    ".heif": "heif",
    ".hif": "heif",
    ".avif": "heif",
    **{ext: "raw" for ext in RAW_EXTENSIONS},
}

# Every extension ClipDesk indexes, decodes and accepts as a query image.
PHOTO_EXTENSIONS = frozenset(EXTENSION_KINDS)
# Decoded through pillow-heif (AVIF too: Pillow reads it natively, the opener does no harm).
HEIF_EXTENSIONS = frozenset(ext for ext, kind in EXTENSION_KINDS.items() if kind == "heif")

_HEIF_BRANDS = (
    b"heic",
    b"heix",
    b"hevc",
    b"hevx",
    b"heim",
    b"heis",
    b"mif1",
    b"msf1",
    b"avif",
    b"avis",
)

HEAD_BYTES = 32  # how much of a file :func:`sniff` needs


def is_candidate(name: str) -> bool:
    """True when the file name's extension is one ClipDesk indexes."""
    return os.path.splitext(name)[1].lower() in EXTENSION_KINDS


def kind_from_extension(name: str) -> str | None:
    return EXTENSION_KINDS.get(os.path.splitext(name)[1].lower())


def sniff(head: bytes) -> str | None:
    """The image kind the first bytes announce, or None. ``tiff`` also covers most RAWs."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head.startswith(b"BM") and len(head) >= 18:
        return "bmp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return "heif"
        if brand == b"crx ":
            return "raw"  # Canon CR3 (ISO base media)
    if head[:4] in (b"IIRO", b"IIRS", b"FUJI") or head[:8] == b"FUJIFILM":
        return "raw"  # Olympus ORF variants, Fujifilm RAF
    if head[:4] in (b"\x00MRM", b"FOVb") or head[:4] == b"IIU\x00":
        return "raw"  # Minolta MRW, Sigma X3F, Panasonic RW2
    return None


def classify(name: str, head: bytes) -> tuple[str | None, str | None]:
    """(kind, error) for a candidate file from its name and first bytes.

    kind is what the content is (the extension only breaks the TIFF/RAW tie); error is a
    reason to record when the file is empty or its content is not a supported image.
    """
    if not head:
        return None, "empty file (0 bytes)"
    by_content = sniff(head)
    by_name = kind_from_extension(name)
    if by_content is None:
        if by_name == "raw":  # RAW containers vary by vendor; rawpy gets the final word
            return "raw", None
        return (
            None,
            f"not an image: the content is not {by_name.upper() if by_name else 'an image'}",
        )
    if by_content == "tiff" and by_name == "raw":
        return "raw", None
    return by_content, None
