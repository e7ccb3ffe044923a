"""XMP keywords: read them from a photo's own sidecars and embedded packet, write them into its
sidecar.

Tags are written the way Lightroom, digiKam and darktable read them: the leaf as ``dc:subject``
("beach") and the path as ``lr:hierarchicalSubject`` ("Scene|beach"); a sidecar that already
carries digiKam's ``digiKam:TagsList`` ("Scene/beach") gets the same change there, since digiKam
prefers that list when present. Writing edits an existing sidecar in place
(:mod:`clipdesk.tags.xmp.splice`): only items of those lists change, every other byte (ratings,
captions, GPS, edit history, namespace declarations, layout) stays, and the new file replaces the
old one atomically. A sidecar that cannot be parsed, or passes the limits of
:mod:`clipdesk.common.limits`, is never overwritten. Which items ClipDesk may change is decided by
the caller (:mod:`clipdesk.tags.xmp.provenance`); this module does what it is told, file by file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from clipdesk.common.atomic_file import atomic_write_bytes
from clipdesk.common.regular_files import open_regular
from clipdesk.imaging.extent import pillow_source
from clipdesk.tags.categories import HIERARCHY_SEP, flat_keyword
from clipdesk.tags.xmp.marks import MarkEdit, XmpMarks, edit_marks, parse_marks
from clipdesk.tags.xmp.names import (
    SidecarNames,
    SidecarNaming,
    existing_sidecars,
    read_xmp_file,
    sidecar_path,
    written_by_clipdesk,
)
from clipdesk.tags.xmp.packet import (
    DIGIKAM_TAGS,
    HIER_SUBJECT,
    NS_RDF,
    SUBJECT,
    XMP_TOOLKIT,
    Packet,
    XmpError,
    check_size,
    new_packet,
    parse,
    q,
)
from clipdesk.tags.xmp.provenance import HIERARCHY_FIELD, SUBJECT_FIELD, Item, tag_items
from clipdesk.tags.xmp.splice import ListEdit, edit_lists

__all__ = [
    "KeywordSource",
    "SidecarDraft",
    "SidecarNames",
    "SidecarNaming",
    "XmpError",
    "XmpKeywords",
    "commit_sidecar",
    "draft_sidecar",
    "edit_keywords",
    "existing_sidecars",
    "merge_keywords",
    "photo_marks",
    "parse_keywords",
    "read_embedded_keywords",
    "read_photo_keywords",
    "read_photo_sources",
    "read_sidecar_keywords",
    "sidecar_path",
    "sidecars_to_absorb",
    "update_keywords",
    "write_sidecar_keywords",
    "written_by_clipdesk",
]

log = logging.getLogger(__name__)

_CONTAINERS = {q(NS_RDF, "Bag"), q(NS_RDF, "Seq"), q(NS_RDF, "Alt")}


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

    def items(self) -> list[Item]:
        """Every keyword as (field, text), see :mod:`clipdesk.tags.xmp.provenance`."""
        return [(SUBJECT_FIELD, s) for s in self.subjects] + [
            (HIERARCHY_FIELD, h) for h in self.hierarchical
        ]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


# --- reading ---------------------------------------------------------------------------------


def _items(packet: Packet, tag: str) -> list[str] | None:
    """The items of one list property (None: the packet has no such property)."""
    for desc in packet.descriptions():
        prop = desc.find(tag)
        if prop is None:
            if tag in desc.attrib:
                value = desc.attrib[tag].strip()
                return [value] if value else []
            continue
        container = next((c for c in prop if c.tag in _CONTAINERS), None)
        if container is None:
            text = (prop.text or "").strip()
            return [text] if text else []
        return [
            (li.text or "").strip()
            for li in container.findall(q(NS_RDF, "li"))
            if (li.text or "").strip()
        ]
    return None


def _keywords(packet: Packet) -> XmpKeywords:
    digikam = [t.replace("/", HIERARCHY_SEP) for t in _items(packet, DIGIKAM_TAGS) or []]
    return XmpKeywords(
        _unique(_items(packet, SUBJECT) or []),
        _unique([*(_items(packet, HIER_SUBJECT) or []), *digikam]),
    )


def parse_keywords(data: bytes, source: str = "XMP") -> XmpKeywords:
    return _keywords(parse(data, source))


def read_sidecar_keywords(path: str | os.PathLike[str]) -> XmpKeywords:
    path = Path(path)
    data = read_xmp_file(path)
    if not data.strip():
        return XmpKeywords()
    return parse_keywords(data, str(path))


def _embedded_packet(path: Path) -> bytes | None:
    from PIL import Image  # only needed on import; keeps this module light

    try:
        # pillow_source: never the whole file (a WebP/HEIF padded to gigabytes, or bloated
        # JPEG/PNG/TIFF metadata, is refused or cut to its container).
        with open_regular(path) as f, Image.open(pillow_source(f)) as im:
            raw = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
            if raw is None and hasattr(im, "tag_v2"):
                raw = im.tag_v2.get(700)  # TIFF XMLPacket
    except Exception as exc:  # a photo we cannot open simply has no keywords to offer
        log.debug("no embedded XMP read from %s: %s", path, exc)
        return None
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if not raw:
        return None
    data = bytes(raw)
    # Cameras and apps pad packets with NULs or trailing junk after the trailer.
    return data[: data.rfind(b">") + 1].strip(b"\x00 \r\n\t")


def read_embedded_keywords(photo: str | os.PathLike[str]) -> XmpKeywords:
    data = _embedded_packet(Path(photo))
    if not data:
        return XmpKeywords()
    check_size(len(data), f"{photo} (embedded XMP)")
    return parse_keywords(data, f"{photo} (embedded XMP)")


@dataclass(frozen=True)
class KeywordSource:
    """One packet of a photo's XMP: what it says, and whether ClipDesk created it."""

    name: str  # the sidecar path, or "<photo> (embedded XMP)"
    keywords: XmpKeywords
    by_clipdesk: bool
    marks: XmpMarks = XmpMarks()  # its rating and colour label
    embedded: bool = False


def photo_marks(sources: Sequence[KeywordSource]) -> XmpMarks:
    """The rating and label of a photo's packets: its own sidecars' (the first that gives
    each), else its embedded packet's - a sidecar is what the user edited last."""
    found = XmpMarks()
    for source in sorted(sources, key=lambda s: s.embedded):
        found = found | source.marks
    return found


def read_photo_sources(
    photo: str | os.PathLike[str], names: SidecarNames | None = None
) -> tuple[list[KeywordSource], list[str]]:
    """(the packets of the photo's embedded XMP and own sidecars, the problems of those that
    could not be read: damaged, too large, too deep, too many keywords). A sidecar another file
    owns (:class:`SidecarNames`) is not the photo's and is not read."""
    photo = Path(photo)
    names = names or SidecarNames()
    sources: list[KeywordSource] = []
    problems: list[str] = []
    label = f"{photo} (embedded XMP)"
    try:
        data = _embedded_packet(photo)
        if data:
            check_size(len(data), label)
            packet = parse(data, label)
            sources.append(
                KeywordSource(label, _keywords(packet), False, parse_marks(packet), embedded=True)
            )
    except XmpError as exc:
        problems.append(exc.message)
    for path in names.own_sidecars(photo):
        try:
            data = read_xmp_file(path)
            if data.strip():
                packet = parse(data, str(path))
                by_us = packet.toolkit == XMP_TOOLKIT
                sources.append(
                    KeywordSource(str(path), _keywords(packet), by_us, parse_marks(packet))
                )
        except XmpError as exc:
            problems.append(exc.message)
    return sources, problems


def read_photo_keywords(
    photo: str | os.PathLike[str], names: SidecarNames | None = None
) -> XmpKeywords:
    """Keywords from a photo's embedded XMP and every sidecar of its own; damaged ones are
    logged."""
    sources, problems = read_photo_sources(photo, names)
    for problem in problems:
        log.warning("skipping unreadable XMP: %s", problem)
    result = XmpKeywords()
    for source in sources:
        result = result.merge(source.keywords)
    return result


# --- editing ---------------------------------------------------------------------------------


def edit_keywords(
    data: bytes | None,
    add: Iterable[Item] = (),
    remove: Iterable[Item] = (),
    source: str = "XMP",
    photo_name: str | None = None,
) -> bytes:
    """The packet (a new one naming ``photo_name`` when ``data`` is None) with the items of
    ``add`` appended where missing and those of ``remove`` taken out; nothing else changes.
    The result is read back and compared with what was asked before it is returned."""
    base = data if data else new_packet(photo_name)
    return _edit(base, parse(base, source), add, remove, source)[0]


def _edit(
    base: bytes, packet: Packet, add: Iterable[Item], remove: Iterable[Item], source: str
) -> tuple[bytes, Packet]:
    """:func:`edit_keywords` on a packet already parsed; returns the result parsed too."""
    before = _keywords(packet)
    add = list(dict.fromkeys(add))
    gone = set(remove)
    edits: dict[str, ListEdit] = {}
    for tag, wanted_field in ((SUBJECT, SUBJECT_FIELD), (HIER_SUBJECT, HIERARCHY_FIELD)):
        edits[tag] = ListEdit(
            tuple(k for f, k in add if f == wanted_field),
            frozenset(k for f, k in gone if f == wanted_field),
        )
    if _items(packet, DIGIKAM_TAGS) is not None:
        slash = [(f, k.replace(HIERARCHY_SEP, "/")) for f, k in add]
        edits[DIGIKAM_TAGS] = ListEdit(
            tuple(k for f, k in slash if f == HIERARCHY_FIELD),
            frozenset(k.replace(HIERARCHY_SEP, "/") for f, k in gone if f == HIERARCHY_FIELD),
        )
    new = edit_lists(base, edits, source)
    if new == base:
        return base, packet
    result = parse(new, source)
    if set(_keywords(result).items()) != (set(before.items()) - gone) | set(add):
        raise XmpError(
            f"{source}: its keyword lists could not be edited safely",
            "the sidecar is left as it was; please report this file",
        )
    return new, result


def update_keywords(
    data: bytes | None,
    add: Iterable[str],
    remove: Iterable[str] = (),
    source: str = "XMP",
    rejected: Iterable[str] = (),
) -> bytes:
    """The packet with the keyword paths in ``add`` present and those in ``remove`` (and
    ``rejected``) gone, the caller vouching that those are its own.

    A path "Scene|beach" is written as hierarchical keyword and its leaf "beach" as flat keyword.
    A removed path takes its leaf with it only when the file had the path (so the leaf was ours)
    and no remaining path ends in the same leaf: a flat keyword the user typed elsewhere stays.
    A ``rejected`` path (the user said no) takes its leaf in any case, unless a remaining path
    ends in it.
    """
    base = data if data else new_packet()
    before = parse_keywords(base, source)
    add = _unique(add)
    rejected_set = set(rejected) - set(add)
    remove_set = (set(remove) | rejected_set) - set(add)
    removed = [h for h in before.hierarchical if h in remove_set]
    kept = [h for h in before.hierarchical if h not in remove_set] + add
    dropped = {flat_keyword(h) for h in [*removed, *rejected_set]} - {flat_keyword(h) for h in kept}
    add_items = [item for path in add for item in tag_items(path)]
    remove_items: set[Item] = {(HIERARCHY_FIELD, h) for h in removed}
    remove_items |= {(SUBJECT_FIELD, s) for s in before.subjects if s in dropped}
    return edit_keywords(base, add_items, remove_items, source)


def merge_keywords(data: bytes | None, keywords: XmpKeywords, source: str = "XMP") -> bytes:
    """The packet with ``keywords`` added as they are (flat ones stay flat, paths stay paths);
    nothing is removed."""
    have = set(parse_keywords(data, source).items()) if data else set()
    return edit_keywords(data, [i for i in keywords.items() if i not in have], (), source)


# --- one photo's sidecar ---------------------------------------------------------------------


def sidecars_to_absorb(
    photo: str | os.PathLike[str], target: Path, names: SidecarNames
) -> list[tuple[Path, bool]]:
    """The photo's own sidecars other than ``target`` that ClipDesk created, as (path, take
    over): taken over (merged, then removed) unless a symbolic link, whose target may be
    anyone's; see :func:`draft_sidecar`. Another tool's sidecar (Lightroom keeps a RAW's
    develop settings in IMG_1.xmp) is never renamed, merged away or removed."""
    found = []
    for path in names.own_sidecars(photo):
        if path == target or (target.exists() and _same_file(path, target)):
            continue
        if written_by_clipdesk(path):
            found.append((path, not path.is_symlink()))
    return found


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


@dataclass(frozen=True)
class SidecarDraft:
    """A photo's sidecar about to be written: what it holds now, with the keywords of the
    sidecars it absorbs merged in."""

    photo: Path
    link: Path  # the sidecar as named (maybe a symbolic link)
    target: Path  # the file written
    original: bytes | None  # the target's bytes now (None: no file yet)
    base: bytes | None  # original with the absorbed sidecars' keywords (None: still no file)
    packet: Packet | None  # base, parsed
    by_clipdesk: frozenset[Item]  # items only packets ClipDesk created hold
    taken: tuple[Path, ...]  # absorbed sidecars to remove once written

    @property
    def keywords(self) -> XmpKeywords:
        """What base holds."""
        return _keywords(self.packet) if self.packet is not None else XmpKeywords()


def draft_sidecar(
    photo: str | os.PathLike[str], link: Path, absorb: Sequence[tuple[Path, bool]] = ()
) -> SidecarDraft:
    """Read the photo's sidecar ``link`` and the sidecars to absorb (:func:`sidecars_to_absorb`):
    one taken over becomes the sidecar when there is none yet (every field kept, as a rename
    would) and is removed once the new file is written; one not taken over only lends its
    keywords and stays. A sidecar that cannot be parsed, this one or one to absorb, raises
    XmpError and is never overwritten or removed."""
    photo = Path(photo)
    target = link.resolve() if link.is_symlink() else link
    original = read_xmp_file(target) if os.path.lexists(target) else None
    if original is not None and not original.strip():
        original = None
    ours: set[Item] = set()
    theirs: set[Item] = set()
    base, packet = original, None
    if original is not None:
        packet = parse(original, str(target))
        (ours if packet.toolkit == XMP_TOOLKIT else theirs).update(_keywords(packet).items())
    for path, take_over in absorb:
        data = read_xmp_file(path)
        if not data.strip():
            continue
        found = parse(data, str(path))  # a damaged file is never adopted (nor removed)
        kws = _keywords(found)
        (ours if found.toolkit == XMP_TOOLKIT else theirs).update(kws.items())
        if take_over and base is None:  # adopted, every field kept
            base, packet = data, found
        else:
            if base is None or packet is None:
                base = new_packet(photo.name)
                packet = parse(base, str(target))
            have = set(_keywords(packet).items())
            missing = [i for i in kws.items() if i not in have]
            base, packet = _edit(base, packet, missing, (), str(target))
    return SidecarDraft(
        photo,
        link,
        target,
        original,
        base,
        packet,
        frozenset(ours - theirs),
        tuple(p for p, take_over in absorb if take_over),
    )


def commit_sidecar(
    draft: SidecarDraft,
    add: Iterable[Item] = (),
    remove: Iterable[Item] = (),
    marks: MarkEdit | None = None,
) -> tuple[Path, bool]:
    """Write the draft with ``add`` and ``remove`` applied, and the rating and label of
    ``marks`` (:mod:`clipdesk.tags.xmp.marks`); return (sidecar path, whether it changed). An
    unchanged sidecar is left untouched (its mtime too), so other tools do not see a change that
    is none; no sidecar is created just to hold nothing. A sidecar that is a symbolic link is
    updated where it points."""
    present = set(draft.keywords.items())
    add = [i for i in dict.fromkeys(add) if i not in present]
    remove = {i for i in remove if i in present}
    if draft.base is None and not add and not (marks is not None and marks.adds_something()):
        return draft.link, False
    source = str(draft.target)
    if draft.base is None or draft.packet is None:
        new = edit_keywords(None, add, remove, source, draft.photo.name)
    elif add or remove:
        new = _edit(draft.base, draft.packet, add, remove, source)[0]
    else:
        new = draft.base
    if marks is not None:
        new = edit_marks(new, marks, source)
    if new == draft.original and not draft.taken:
        return draft.link, False
    try:
        atomic_write_bytes(draft.target, new)
    except OSError as exc:
        raise XmpError(
            f"{draft.target}: cannot write sidecar ({exc.strerror or exc})",
            "check free space and that the folder is writable; the old sidecar is unchanged",
        ) from None
    for path in draft.taken:
        try:
            path.unlink()
        except OSError as exc:  # written, so nothing is lost; the user sees two until fixed
            log.warning("could not remove %s after merging it into %s: %s", path, draft.target, exc)
        else:
            log.info("merged sidecar %s into %s", path, draft.target)
    return draft.link, True


def write_sidecar_keywords(
    photo: str | os.PathLike[str],
    add: Iterable[str],
    remove: Iterable[str] = (),
    naming: SidecarNaming | str = SidecarNaming.FULLNAME,
    rejected: Iterable[str] = (),
    *,
    absorb: Sequence[tuple[Path, bool]] = (),
) -> tuple[Path, bool]:
    """Merge keyword paths into the photo's sidecar as :func:`update_keywords` does (the caller
    vouching that ``remove`` and ``rejected`` are its own); return (sidecar path, whether it
    changed). The sidecar is the one ``naming`` gives the photo, or its full name when another
    file owns that basename sidecar (:class:`SidecarNames`)."""
    link = SidecarNames().target(photo, naming)
    draft = draft_sidecar(photo, link, absorb)
    add = list(add)
    if draft.base is None and not add:
        return link, False
    source = str(draft.target)
    base = draft.base or new_packet(Path(photo).name)
    new_keywords = parse_keywords(update_keywords(base, add, remove, source, rejected), source)
    before, after = set(draft.keywords.items()), set(new_keywords.items())
    return commit_sidecar(
        draft, [i for i in new_keywords.items() if i not in before], before - after
    )
