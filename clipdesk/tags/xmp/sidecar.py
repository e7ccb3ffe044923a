"""XMP keywords: read them from sidecars and embedded packets, write them into sidecars.

Tags are written the way Lightroom, digiKam and darktable read them: the leaf as ``dc:subject``
("beach") and the path as ``lr:hierarchicalSubject`` ("Scene|beach"); a sidecar that already
carries digiKam's ``digiKam:TagsList`` ("Scene/beach") gets the same change there, since digiKam
prefers that list when present. Writing merges into an existing sidecar: only those keyword lists
change, every other field (ratings, captions, GPS, edit history) is carried over unchanged, and
the new file replaces the old one atomically. A sidecar that cannot be parsed is never overwritten.
"""

from __future__ import annotations

import logging
import os
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from pathlib import Path

from clipdesk.common.atomic_file import atomic_write_bytes
from clipdesk.tags.categories import HIERARCHY_SEP, flat_keyword
from clipdesk.tags.xmp.packet import NS_RDF, NS_X, XMP_TOOLKIT, Packet, XmpError, parse, q

__all__ = [
    "BasenameOwners",
    "SidecarNaming",
    "XmpError",
    "XmpKeywords",
    "existing_sidecars",
    "merge_keywords",
    "parse_keywords",
    "read_embedded_keywords",
    "read_photo_keywords",
    "read_sidecar_keywords",
    "sidecar_path",
    "sidecars_to_absorb",
    "update_keywords",
    "write_sidecar_keywords",
]

log = logging.getLogger(__name__)

NS_DC = "http://purl.org/dc/elements/1.1/"
NS_LR = "http://ns.adobe.com/lightroom/1.0/"
NS_DIGIKAM = "http://www.digikam.org/ns/1.0/"
SUBJECT = q(NS_DC, "subject")
HIER_SUBJECT = q(NS_LR, "hierarchicalSubject")
DIGIKAM_TAGS = q(NS_DIGIKAM, "TagsList")
_CONTAINERS = {q(NS_RDF, "Bag"), q(NS_RDF, "Seq"), q(NS_RDF, "Alt")}
MAX_SIDECAR_BYTES = 32 * 1024 * 1024


class SidecarNaming(StrEnum):
    BASENAME = "basename"  # IMG_0001.xmp (Lightroom, Adobe Camera Raw)
    FULLNAME = "fullname"  # IMG_0001.jpg.xmp (darktable, digiKam)


def sidecar_path(photo: str | os.PathLike[str], naming: SidecarNaming | str) -> Path:
    photo = Path(photo)
    if SidecarNaming(naming) is SidecarNaming.BASENAME:
        return photo.with_suffix(".xmp")
    return photo.with_name(photo.name + ".xmp")


def existing_sidecars(photo: str | os.PathLike[str]) -> list[Path]:
    """Sidecars present for a photo, in both naming styles (``.xmp`` or ``.XMP``).

    Probes the few possible names instead of listing the folder: called for every photo
    indexed, it must not cost a directory scan each time.
    """
    photo = Path(photo)
    found: dict[tuple[int, int], Path] = {}
    for base in (photo.stem, photo.name):
        for ext in (".xmp", ".XMP", ".Xmp"):
            candidate = photo.with_name(base + ext)
            try:
                st = candidate.stat()
            except OSError:
                continue
            if candidate.is_file():
                found.setdefault((st.st_dev, st.st_ino), candidate)  # case-insensitive file systems
    return sorted(found.values())


class BasenameOwners:
    """Which photos share their basename sidecar: ``IMG_1.CR2`` and ``IMG_1.JPG`` both map to
    ``IMG_1.xmp``, which then belongs to neither alone. Counts the files of each folder that
    carry the photo's stem (any file but a sidecar, so a RAW the library does not index counts
    too); one listing per folder, kept for the life of this object (one write run)."""

    def __init__(self) -> None:
        self._stems: dict[Path, Counter[str]] = {}

    def shared(self, photo: str | os.PathLike[str]) -> bool:
        photo = Path(photo)
        counts = self._stems.get(photo.parent)
        if counts is None:
            try:
                names = os.listdir(photo.parent)
            except OSError:
                names = [photo.name]
            counts = Counter(Path(n).stem for n in names if not n.lower().endswith(".xmp"))
            self._stems[photo.parent] = counts
        return counts[photo.stem] > 1


def _is_basename_sidecar(photo: Path, sidecar: Path) -> bool:
    return sidecar.name[: -len(".xmp")] == photo.stem and photo.stem != photo.name


def sidecars_to_absorb(
    photo: str | os.PathLike[str], naming: SidecarNaming | str, owners: BasenameOwners
) -> list[tuple[Path, bool]]:
    """The photo's sidecars under another name than ``naming`` gives it, as (path, take over):
    taken over (merged, then removed) unless it is a basename sidecar that other files share,
    or a symbolic link (whose target may be anyone's); see :func:`write_sidecar_keywords`."""
    photo = Path(photo)
    target = sidecar_path(photo, naming)
    found = []
    for path in existing_sidecars(photo):
        if path == target or (target.exists() and _same_file(path, target)):
            continue
        if not written_by_clipdesk(path):
            # Another tool's sidecar (Lightroom keeps a RAW's develop settings in IMG_1.xmp):
            # never renamed, merged away or removed; import still reads its keywords.
            continue
        shared = _is_basename_sidecar(photo, path) and owners.shared(photo)
        found.append((path, not shared and not path.is_symlink()))
    return found


def written_by_clipdesk(path: Path) -> bool:
    """Whether ClipDesk created this sidecar (its packet names ClipDesk as the XMP toolkit; a
    sidecar another tool created keeps that tool's name when ClipDesk merges keywords into it).
    Unreadable or damaged files count as someone else's."""
    try:
        data = _read_limited(path)
        if not data.strip():
            return False
        packet = parse(data, str(path))
    except XmpError:
        return False
    return packet.root.get(q(NS_X, "xmptk")) == XMP_TOOLKIT


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


@dataclass
class XmpKeywords:
    subjects: list[str] = field(default_factory=list)  # dc:subject, flat
    hierarchical: list[str] = field(default_factory=list)  # "A|B|C", lr: and digiKam: merged

    def merge(self, other: XmpKeywords) -> XmpKeywords:
        return XmpKeywords(
            _unique([*self.subjects, *other.subjects]),
            _unique([*self.hierarchical, *other.hierarchical]),
        )

    def paths(self) -> list[str]:
        """Every keyword as a path: hierarchical ones, then flat ones no path already ends in."""
        leaves = {flat_keyword(h).casefold() for h in self.hierarchical}
        flat = [s for s in self.subjects if s.casefold() not in leaves]
        return _unique([*self.hierarchical, *flat])


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def _find_property(packet: Packet, tag: str) -> tuple[ET.Element, ET.Element | None]:
    """(the rdf:Description holding ``tag`` or the first one, the property element or None)."""
    descriptions = packet.descriptions()
    for desc in descriptions:
        prop = desc.find(tag)
        if prop is not None:
            return desc, prop
    for desc in descriptions:
        if tag in desc.attrib:
            return desc, None
    if not descriptions:
        desc = ET.SubElement(packet.rdf, q(NS_RDF, "Description"), {q(NS_RDF, "about"): ""})
        return desc, None
    return descriptions[0], None


def _items(packet: Packet, tag: str) -> list[str]:
    desc, prop = _find_property(packet, tag)
    if prop is None:
        value = desc.attrib.get(tag, "").strip()
        return [value] if value else []
    container = next((c for c in prop if c.tag in _CONTAINERS), None)
    if container is None:
        text = (prop.text or "").strip()
        return [text] if text else []
    return [
        (li.text or "").strip()
        for li in container.findall(q(NS_RDF, "li"))
        if (li.text or "").strip()
    ]


def _blank(text: str | None) -> bool:
    return text is None or not text.strip()


def _tidy(el: ET.Element, depth: int, unit: str) -> None:
    """Lay out ``el``'s children one per line at ``depth + 1`` (whitespace only ever changes)."""
    children = list(el)
    if not children:
        if _blank(el.text):
            el.text = None
        return
    inner, outer = "\n" + unit * (depth + 1), "\n" + unit * depth
    if _blank(el.text):
        el.text = inner
    for i, child in enumerate(children):
        if _blank(child.tail):
            child.tail = outer if i == len(children) - 1 else inner


def _depth_unit(packet: Packet, target: ET.Element) -> tuple[int, str]:
    parents = {c: p for p in packet.root.iter() for c in p}
    depth, el = 0, target
    while el in parents:
        el, depth = parents[el], depth + 1
    text = packet.root.text or ""
    unit = text.lstrip("\r\n") if _blank(text) and text.lstrip("\r\n") else " "
    return depth, unit


def _set_items(packet: Packet, tag: str, items: list[str]) -> None:
    desc, prop = _find_property(packet, tag)
    if prop is None:
        desc.attrib.pop(tag, None)
        if not items:
            return
        prop = ET.SubElement(desc, tag)
    container = next((c for c in prop if c.tag in _CONTAINERS), None)
    if container is None:
        prop.text = None
        container = ET.SubElement(prop, q(NS_RDF, "Bag"))
    present = set()
    for li in list(container.findall(q(NS_RDF, "li"))):
        text = (li.text or "").strip()
        if text in items:
            present.add(text)
        else:
            index = list(container).index(li)
            if index == len(container) - 1 and index > 0:
                container[index - 1].tail = li.tail  # keep the closing line break
            container.remove(li)
    for item in items:
        if item not in present:
            ET.SubElement(container, q(NS_RDF, "li")).text = item
    depth, unit = _depth_unit(packet, desc)
    for el, d in ((desc, depth), (prop, depth + 1), (container, depth + 2)):
        _tidy(el, d, unit)


def parse_keywords(data: bytes, source: str = "XMP") -> XmpKeywords:
    packet = parse(data, source)
    digikam = [t.replace("/", HIERARCHY_SEP) for t in _items(packet, DIGIKAM_TAGS)]
    return XmpKeywords(
        _unique(_items(packet, SUBJECT)),
        _unique([*_items(packet, HIER_SUBJECT), *digikam]),
    )


def update_keywords(
    data: bytes | None,
    add: Iterable[str],
    remove: Iterable[str] = (),
    source: str = "XMP",
    rejected: Iterable[str] = (),
) -> bytes:
    """Return the packet with the keyword paths in ``add`` present and those in ``remove`` (and
    ``rejected``) gone.

    A path "Scene|beach" is written as hierarchical keyword and its leaf "beach" as flat keyword.
    A removed path takes its leaf with it only when the file had the path (so the leaf was ours)
    and no remaining path ends in the same leaf: a flat keyword the user typed elsewhere stays.
    A ``rejected`` path (the user said no) takes its leaf in any case, unless a remaining path
    ends in it.
    """
    packet = parse(data, source) if data else Packet.new()
    add = _unique(add)
    rejected_set = set(rejected) - set(add)
    remove_set = (set(remove) | rejected_set) - set(add)
    hier = _items(packet, HIER_SUBJECT)
    subjects = _items(packet, SUBJECT)
    removed = [h for h in hier if h in remove_set]
    new_hier = [h for h in hier if h not in remove_set] + [h for h in add if h not in hier]
    kept_leaves = {flat_keyword(h) for h in new_hier}
    dropped_leaves = {flat_keyword(h) for h in [*removed, *rejected_set]} - kept_leaves
    new_subjects = [s for s in subjects if s not in dropped_leaves]
    new_subjects += [
        leaf for leaf in _unique(flat_keyword(h) for h in add) if leaf not in new_subjects
    ]
    if new_hier != hier or set(new_hier) != set(hier):
        _set_items(packet, HIER_SUBJECT, new_hier)
    if new_subjects != subjects:
        _set_items(packet, SUBJECT, new_subjects)
    digikam = _items(packet, DIGIKAM_TAGS)
    if digikam:
        dk_remove = {h.replace(HIERARCHY_SEP, "/") for h in remove_set}
        dk_add = [h.replace(HIERARCHY_SEP, "/") for h in add]
        new_dk = [t for t in digikam if t not in dk_remove] + [
            t for t in dk_add if t not in digikam
        ]
        if new_dk != digikam:
            _set_items(packet, DIGIKAM_TAGS, new_dk)
    return packet.to_bytes()


def merge_keywords(data: bytes | None, keywords: XmpKeywords, source: str = "XMP") -> bytes:
    """The packet with ``keywords`` added as they are (flat ones stay flat, paths stay paths);
    nothing is removed."""
    packet = parse(data, source) if data else Packet.new()
    for tag, items in ((HIER_SUBJECT, keywords.hierarchical), (SUBJECT, keywords.subjects)):
        present = _items(packet, tag)
        missing = [i for i in _unique(items) if i not in present]
        if missing:
            _set_items(packet, tag, present + missing)
    digikam = _items(packet, DIGIKAM_TAGS)
    if digikam:
        wanted = [h.replace(HIERARCHY_SEP, "/") for h in keywords.hierarchical]
        missing = [t for t in _unique(wanted) if t not in digikam]
        if missing:
            _set_items(packet, DIGIKAM_TAGS, digikam + missing)
    return packet.to_bytes()


def _read_limited(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_SIDECAR_BYTES:
            raise XmpError(f"{path}: sidecar larger than {MAX_SIDECAR_BYTES // 2**20} MiB")
        return path.read_bytes()
    except OSError as exc:
        raise XmpError(f"{path}: cannot read ({exc.strerror or exc})") from None


def read_sidecar_keywords(path: str | os.PathLike[str]) -> XmpKeywords:
    path = Path(path)
    data = _read_limited(path)
    if not data.strip():
        return XmpKeywords()
    return parse_keywords(data, str(path))


def _embedded_packet(path: Path) -> bytes | None:
    from PIL import Image  # only needed on import; keeps this module light

    try:
        with Image.open(path) as im:
            raw = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
            if raw is None and hasattr(im, "tag_v2"):
                raw = im.tag_v2.get(700)  # TIFF XMLPacket
    except Exception as exc:  # a photo we cannot open simply has no keywords to offer
        log.debug("no embedded XMP read from %s: %s", path, exc)
        return None
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    return bytes(raw) if raw else None


def read_embedded_keywords(photo: str | os.PathLike[str]) -> XmpKeywords:
    data = _embedded_packet(Path(photo))
    if not data:
        return XmpKeywords()
    # Cameras and apps pad packets with NULs or trailing junk after the trailer.
    end = data.rfind(b">")
    return parse_keywords(data[: end + 1].strip(b"\x00 \r\n\t"), f"{photo} (embedded XMP)")


def read_photo_keywords(photo: str | os.PathLike[str]) -> XmpKeywords:
    """Keywords from a photo's embedded XMP and every sidecar it has; damaged ones are logged."""
    result = XmpKeywords()
    sources: list[Callable[[], XmpKeywords]] = [lambda: read_embedded_keywords(photo)]
    sources += [partial(read_sidecar_keywords, p) for p in existing_sidecars(photo)]
    for read in sources:
        try:
            result = result.merge(read())
        except XmpError as exc:
            log.warning("skipping unreadable XMP: %s", exc.message)
    return result


def write_sidecar_keywords(
    photo: str | os.PathLike[str],
    add: Iterable[str],
    remove: Iterable[str] = (),
    naming: SidecarNaming | str = SidecarNaming.FULLNAME,
    rejected: Iterable[str] = (),
    *,
    absorb: Sequence[tuple[Path, bool]] = (),
) -> tuple[Path, bool]:
    """Merge keyword paths into the photo's sidecar; return (sidecar path, whether it changed).
    ``add``, ``remove``, ``rejected``: see :func:`update_keywords`.

    ``absorb``: the photo's sidecars under another name (:func:`sidecars_to_absorb`), as
    (path, take over). Their keywords come into this sidecar before ``add`` and ``remove``
    apply. One taken over becomes this sidecar when there is none yet (every field kept, as a
    rename would) and is removed once the new file is written, so one sidecar remains; one not
    taken over (shared by a RAW+JPEG pair) only lends its keywords and stays.

    An unchanged keyword set leaves the file untouched (its mtime too), so other tools do not
    see a change that is none. A sidecar that is a symbolic link is updated where it points.
    A sidecar that cannot be parsed, this one or one to absorb, is never overwritten or removed.
    """
    link = sidecar_path(photo, naming)
    target = link.resolve() if link.is_symlink() else link
    old = _read_limited(target) if target.exists() else None
    if old is not None and not old.strip():
        old = None
    add = list(add)
    taken = [path for path, take_over in absorb if take_over]
    if old is None and not add and not taken:
        return link, False  # nothing to say: no new sidecar just to hold no keywords
    base = old
    for path, take_over in absorb:
        data = _read_limited(path)
        if not data.strip():
            continue
        if take_over and base is None:
            parse(data, str(path))  # a damaged file is never adopted (nor removed)
            base = data
        else:
            base = merge_keywords(base, parse_keywords(data, str(path)), str(target))
    new = update_keywords(base, add, remove, str(target), rejected)
    if (
        not taken
        and old is not None
        and parse_keywords(new, str(target)) == parse_keywords(old, str(target))
    ):
        return link, False
    try:
        atomic_write_bytes(target, new)
    except OSError as exc:
        raise XmpError(
            f"{target}: cannot write sidecar ({exc.strerror or exc})",
            "check free space and that the folder is writable; the old sidecar is unchanged",
        ) from None
    for path in taken:
        try:
            path.unlink()
        except OSError as exc:  # written, so nothing is lost; the user sees two until fixed
            log.warning("could not remove %s after merging it into %s: %s", path, target, exc)
        else:
            log.info("merged sidecar %s into %s", path, target)
    return link, True
