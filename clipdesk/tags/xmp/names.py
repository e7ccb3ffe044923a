"""Which sidecar is whose: the two naming styles, and who owns ``IMG_1.xmp`` when several files
of one folder share the name ``IMG_1``.

A full-name sidecar (``IMG_1.jpg.xmp``, darktable and digiKam) always belongs to its one photo.
A basename sidecar (``IMG_1.xmp``, Lightroom) belongs to exactly one file of that stem:

1. the file the sidecar names: ``xmpMM:DerivedFrom`` (darktable, and ClipDesk in every sidecar
   it creates) or ``crs:RawFileName`` (Adobe Camera Raw, Lightroom);
2. else the one file of that stem, when there is one;
3. else the first of them, a camera RAW before anything else (Lightroom keeps a RAW's settings
   there; its JPEG twin has its own metadata), then by name.

Every other file of the stem is told apart by its full name: written as ``IMG_1.png.xmp``, and
never reads ``IMG_1.xmp``, so import never gives one photo another's keywords. ClipDesk writes
the photo's name into each sidecar it creates, so rule 1 settles ownership for good, whatever
files join the folder later.
"""

from __future__ import annotations

import os
import stat
from enum import StrEnum
from pathlib import Path

from clipdesk.common.regular_files import open_regular
from clipdesk.imaging.filetypes import RAW_EXTENSIONS
from clipdesk.tags.xmp.packet import (
    NS_CRS,
    NS_XMP_MM,
    XMP_TOOLKIT,
    Packet,
    XmpError,
    check_size,
    parse,
    q,
)

__all__ = [
    "SidecarNames",
    "SidecarNaming",
    "existing_sidecars",
    "read_xmp_file",
    "sidecar_path",
    "written_by_clipdesk",
]

_NAMING_PROPERTIES = (q(NS_XMP_MM, "DerivedFrom"), q(NS_CRS, "RawFileName"))
_SUFFIXES = (".xmp", ".XMP", ".Xmp")


class SidecarNaming(StrEnum):
    BASENAME = "basename"  # IMG_0001.xmp (Lightroom, Adobe Camera Raw)
    FULLNAME = "fullname"  # IMG_0001.jpg.xmp (darktable, digiKam)


def sidecar_path(photo: str | os.PathLike[str], naming: SidecarNaming | str) -> Path:
    """The sidecar name of a naming style (whose it is: :class:`SidecarNames`)."""
    photo = Path(photo)
    if SidecarNaming(naming) is SidecarNaming.BASENAME:
        return photo.with_suffix(".xmp")
    return photo.with_name(photo.name + ".xmp")


def existing_sidecars(photo: str | os.PathLike[str]) -> list[Path]:
    """Files named like a sidecar of the photo, in both styles (``.xmp``, ``.XMP``), whoever
    owns them (:meth:`SidecarNames.own_sidecars` keeps the photo's own).

    Probes the few possible names instead of listing the folder: called for every photo
    indexed, it must not cost a directory scan each time.
    """
    photo = Path(photo)
    found: dict[tuple[int, int], Path] = {}
    for base in dict.fromkeys((photo.stem, photo.name)):
        for ext in _SUFFIXES:
            candidate = photo.with_name(base + ext)
            try:
                st = candidate.stat()
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):  # a FIFO named IMG_1.xmp would block the reader
                found.setdefault((st.st_dev, st.st_ino), candidate)  # case-insensitive FS
    return sorted(found.values())


def read_xmp_file(path: Path) -> bytes:
    """A sidecar's bytes: a regular file (a FIFO would block), within the size limit."""
    try:
        with open_regular(path) as f:
            check_size(os.fstat(f.fileno()).st_size, str(path))
            data = f.read()
    except OSError as exc:
        raise XmpError(f"{path}: cannot read ({exc.strerror or exc})") from None
    check_size(len(data), str(path))  # it grew since the stat
    return data


def _named_photo(packet: Packet) -> str | None:
    for desc in packet.descriptions():
        for tag in _NAMING_PROPERTIES:
            value = desc.get(tag)
            if value is None:
                prop = desc.find(tag)
                value = prop.text if prop is not None and len(prop) == 0 else None
            if value and value.strip():
                return Path(value.strip().replace("\\", "/")).name
    return None


def _raw_first(name: str) -> tuple[bool, str, str]:
    return (Path(name).suffix.lower() not in RAW_EXTENSIONS, name.casefold(), name)


class SidecarNames:
    """Sidecar names and owners for one run: each folder is listed once, each basename sidecar
    read once, whatever the number of photos."""

    def __init__(self) -> None:
        self._stems: dict[Path, dict[str, list[str]]] = {}
        self._named: dict[Path, str | None] = {}

    def _files_of_stem(self, folder: Path, stem: str) -> list[str]:
        stems = self._stems.get(folder)
        if stems is None:
            stems = {}
            try:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        if entry.name.lower().endswith(".xmp") or not entry.is_file():
                            continue
                        stems.setdefault(Path(entry.name).stem, []).append(entry.name)
            except OSError:
                pass  # an unreadable folder: each photo then counts as alone
            self._stems[folder] = stems
        return stems.get(stem, [])

    def _named_in(self, sidecar: Path) -> str | None:
        if sidecar not in self._named:
            try:
                self._named[sidecar] = _named_photo(parse(read_xmp_file(sidecar), str(sidecar)))
            except XmpError:
                self._named[sidecar] = None
        return self._named[sidecar]

    def basename_owner(self, sidecar: Path, photo: Path) -> str:
        """The name of the file that owns ``sidecar`` (``photo``'s basename sidecar, existing
        or not); see the module docstring."""
        stem = photo.stem
        files = list(self._files_of_stem(photo.parent, stem))
        if photo.name not in files:
            files.append(photo.name)
        if (photo.parent / stem).is_file() and stem != photo.name:
            return stem  # "IMG_1.jpg.xmp" is IMG_1.jpg's full-name sidecar, not IMG_1.jpg.png's
        named = self._named_in(sidecar) if sidecar.exists() else None
        if named is not None:
            for name in files:
                if name == named or name.casefold() == named.casefold():
                    return name
        return min(files, key=_raw_first)

    def owns(self, photo: str | os.PathLike[str], sidecar: Path) -> bool:
        photo = Path(photo)
        base = sidecar.name[: -len(".xmp")]
        if base == photo.name:
            return True
        return base == photo.stem and self.basename_owner(sidecar, photo) == photo.name

    def own_sidecars(self, photo: str | os.PathLike[str]) -> list[Path]:
        """The photo's own sidecars that exist, in both naming styles."""
        return [s for s in existing_sidecars(photo) if self.owns(photo, s)]

    def target(self, photo: str | os.PathLike[str], naming: SidecarNaming | str) -> Path:
        """The sidecar to write for ``photo``: the name ``naming`` gives it, or its full name
        when another file owns that basename sidecar (see :meth:`fell_back`)."""
        photo = Path(photo)
        wanted = sidecar_path(photo, naming)
        if wanted.name == photo.name + ".xmp":
            return wanted
        present = [s for s in existing_sidecars(photo) if s.name[: -len(".xmp")] == photo.stem]
        probe = next(
            (s for s in present if s.name == wanted.name), present[0] if present else wanted
        )
        if self.basename_owner(probe, photo) == photo.name:
            return wanted
        return sidecar_path(photo, SidecarNaming.FULLNAME)

    @staticmethod
    def fell_back(photo: str | os.PathLike[str], naming: SidecarNaming | str, target: Path) -> bool:
        """Whether ``target`` is the full name because another file owns the basename one."""
        return Path(target).name != sidecar_path(photo, naming).name


def written_by_clipdesk(path: Path) -> bool:
    """Whether ClipDesk created this sidecar (its packet names ClipDesk as the XMP toolkit; a
    sidecar another tool created keeps that tool's name when ClipDesk edits its keywords).
    Unreadable or damaged files count as someone else's."""
    try:
        data = read_xmp_file(path)
        if not data.strip():
            return False
        return parse(data, str(path)).toolkit == XMP_TOOLKIT
    except XmpError:
        return False
