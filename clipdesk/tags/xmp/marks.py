"""Ratings and colour labels in XMP, as Lightroom, digiKam and darktable keep them.

Read: ``xmp:Rating`` (0-5; -1 is Lightroom's and darktable's "rejected"; a real number in the
standard, rounded here) and ``xmp:Label`` (Lightroom's text: "Red", "Yellow", "Green", "Blue",
"Purple", matched without regard to case); a packet without ``xmp:Label`` may still say the
colour in digiKam's ``digiKam:ColorLabel`` (1 red, 3 yellow, 4 green, 5 blue, 6 magenta, read as
purple) or darktable's ``darktable:colorlabels`` (0 red ... 4 purple, the first one). A label of
another name (a custom Lightroom label set) or colour (digiKam's orange, grey...) is no label here.

Written: ``xmp:Rating`` and ``xmp:Label``, which all three read; a packet that already carries
``digiKam:ColorLabel`` gets the same colour there, since digiKam prefers its own field. The edit
works on the packet's text as :mod:`clipdesk.tags.xmp.splice` does for keyword lists: a property
written as an attribute (``xmp:Rating="3"``, exiftool's and Lightroom's form) keeps that form, one
written as an element keeps its element, a new one becomes an attribute of the description; no
other byte changes. :func:`edit_marks` takes bytes and returns bytes, so the same edit serves a
sidecar and a packet embedded in a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from clipdesk.tags.marks import LABELS, MAX_RATING, REJECTED
from clipdesk.tags.xmp.packet import (
    NS_DIGIKAM,
    NS_RDF,
    Packet,
    XmpError,
    check_size,
    new_packet,
    parse,
    q,
)
from clipdesk.tags.xmp.splice import _ATTRIBUTE, _open_tag, _Scan, _with_description

__all__ = [
    "LABELS",
    "MAX_RATING",
    "REJECTED",
    "MarkEdit",
    "XmpMarks",
    "edit_marks",
    "parse_label",
    "parse_marks",
    "read_marks",
]

NS_XMP = "http://ns.adobe.com/xap/1.0/"
NS_DARKTABLE = "http://darktable.sf.net/"
RATING = q(NS_XMP, "Rating")
LABEL = q(NS_XMP, "Label")
DIGIKAM_COLOR = q(NS_DIGIKAM, "ColorLabel")
DARKTABLE_COLORS = q(NS_DARKTABLE, "colorlabels")

_DIGIKAM_OF = {"Red": 1, "Yellow": 3, "Green": 4, "Blue": 5, "Purple": 6}
_FROM_DIGIKAM = {n: label for label, n in _DIGIKAM_OF.items()}
_PREFIXES = {NS_XMP: "xmp", NS_DIGIKAM: "digiKam"}
_CONTAINERS = {q(NS_RDF, "Bag"), q(NS_RDF, "Seq"), q(NS_RDF, "Alt")}


@dataclass(frozen=True)
class XmpMarks:
    """A packet's rating (-1 rejected, 0 none, 1-5 stars) and colour label (one of
    :data:`LABELS`); None where the packet says nothing."""

    rating: int | None = None
    label: str | None = None

    def __or__(self, later: XmpMarks) -> XmpMarks:
        """Each field from self, else from ``later``."""
        return XmpMarks(
            self.rating if self.rating is not None else later.rating, self.label or later.label
        )


@dataclass(frozen=True)
class MarkEdit:
    """What to write: the rating with ``write_rating`` (0 clears a rating the packet has and
    adds none), the label with ``write_label`` (None takes it out)."""

    rating: int = 0
    label: str | None = None
    write_rating: bool = False
    write_label: bool = False

    def adds_something(self) -> bool:
        """Whether a packet that does not exist yet would get anything."""
        return (self.write_rating and self.rating != 0) or (
            self.write_label and self.label is not None
        )


def parse_label(text: str | None) -> str | None:
    """One of :data:`LABELS` for its name in any case ("red"), None for none ("", "none");
    a ValueError names the choices for anything else."""
    if text is None or text.strip().casefold() in ("", "none"):
        return None
    for label in LABELS:
        if label.casefold() == text.strip().casefold():
            return label
    raise ValueError(f"{text!r} is not a colour label (use {', '.join(LABELS)} or none)")


def _simple(packet: Packet, tag: str) -> str | None:
    """The text of a simple property, as an attribute of a description or an element."""
    for desc in packet.descriptions():
        if tag in desc.attrib:
            return desc.attrib[tag].strip()
        prop = desc.find(tag)
        if prop is not None:
            container = next((c for c in prop if c.tag in _CONTAINERS), None)
            if container is not None:  # darktable's list: its first item
                first = container.find(q(NS_RDF, "li"))
                return (first.text or "").strip() if first is not None else None
            return (prop.text or "").strip()
    return None


def _rating(text: str | None) -> int | None:
    if not text:
        return None
    try:
        value = round(float(text))
    except (ValueError, OverflowError):  # "three", "nan", "inf": not a rating
        return None
    return value if REJECTED <= value <= MAX_RATING else None


def _number(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def parse_marks(packet: Packet) -> XmpMarks:
    """The rating and label one packet gives (see the module docstring)."""
    label = None
    text = _simple(packet, LABEL)
    if text:
        try:
            label = parse_label(text)
        except ValueError:
            label = None  # a custom label set's name: not one of ours
    if label is None:
        label = _FROM_DIGIKAM.get(_number(_simple(packet, DIGIKAM_COLOR)) or 0)
    if label is None:
        first = _number(_simple(packet, DARKTABLE_COLORS))
        label = LABELS[first] if first is not None and 0 <= first < len(LABELS) else None
    return XmpMarks(_rating(_simple(packet, RATING)), label)


def read_marks(data: bytes, source: str = "XMP") -> XmpMarks:
    """:func:`parse_marks` of a packet's bytes (XmpError when it cannot be read)."""
    return parse_marks(parse(data, source))


# --- editing ---------------------------------------------------------------------------------


def _set_property(data: bytes, tag: str, value: str | None, source: str) -> bytes:
    """The packet with the simple property ``tag`` set to ``value`` (None: taken out), where
    it is and in the form it has; a new one as an attribute of the description."""
    scan = _Scan(data, source)
    descs = scan.descriptions()
    if not descs:
        if value is None:
            return data
        data = _with_description(data, source)
        scan = _Scan(data, source)
        descs = scan.descriptions()
    nodes = scan.nodes
    for d in descs:
        desc = nodes[d]
        if tag not in desc.attrs:
            continue
        tag_bytes = data[desc.start : desc.start_end]
        for m in _ATTRIBUTE.finditer(tag_bytes, len(desc.raw) + 1):
            prefix, _, local = m.group(2).decode("utf-8").rpartition(":")
            uri = scan.uri_of_prefix(d, prefix) if prefix else None
            if uri is None or f"{{{uri}}}{local}" != tag:
                continue
            start, end = desc.start + m.start(), desc.start + m.end()
            new = b"" if value is None else m.group(1) + m.group(2) + b"=" + _quoted(value)
            return data[:start] + new + data[end:]
        raise XmpError(f"{source}: cannot locate the attribute {tag}")
    for d in descs:
        for c in nodes[d].children:
            node = nodes[c]
            if node.name != tag:
                continue
            if node.children:
                raise XmpError(
                    f"{source}: {tag} holds elements, not a value",
                    "the file is left as it was; please report it",
                )
            if value is None:
                start = node.start - len(scan.indent_before(node.start, nodes[d].start_end))
                return data[:start] + data[node.close_end :]
            text = escape(value).encode("utf-8")
            if node.empty_tag:
                whole = _open_tag(scan, node) + text + b"</" + node.raw + b">"
                return data[: node.start] + whole + data[node.close_end :]
            return data[: node.start_end] + text + data[node.end :]
    if value is None:
        return data
    return _add_attribute(scan, _choose(scan, descs, tag), tag, value)


def _choose(scan: _Scan, descs: list[int], tag: str) -> int:
    """The description a new property goes in: the first that binds its namespace."""
    uri = tag[1:].split("}", 1)[0]
    return next((d for d in descs if scan.prefix_for(d, uri) is not None), descs[0])


def _quoted(value: str) -> bytes:
    return quoteattr(value).encode("utf-8")


def _add_attribute(scan: _Scan, d: int, tag: str, value: str) -> bytes:
    data = scan.data
    desc = scan.nodes[d]
    uri, local = tag[1:].split("}", 1)
    start_tag = data[desc.start : desc.start_end]
    attrs = list(_ATTRIBUTE.finditer(start_tag, len(desc.raw) + 1))
    # laid out as the tag's other attributes are: one a line, indented alike, or one line
    sep = attrs[-1].group(1) if attrs else b" "
    at = desc.start + (attrs[-1].end() if attrs else len(desc.raw) + 1)
    prefix, new = scan.prefix_to_use(d, uri, _PREFIXES)
    decl = sep + b"xmlns:" + prefix.encode() + b"=" + _quoted(uri) if new else b""
    attr = sep + prefix.encode() + b":" + local.encode() + b"=" + _quoted(value)
    return data[:at] + decl + attr + data[at:]


def edit_marks(
    data: bytes | None,
    edit: MarkEdit,
    source: str = "XMP",
    photo_name: str | None = None,
) -> bytes:
    """The packet (a new one naming ``photo_name`` when ``data`` is None) with the rating and
    label of ``edit`` written; every other byte stays. The result is read back and compared
    with what was asked before it is returned (XmpError, and nothing written, if it differs)."""
    base = data if data else new_packet(photo_name)
    check_size(len(base), source)
    packet = parse(base, source)
    new = base
    wanted: dict[str, str | None] = {}
    if edit.write_rating:
        if not REJECTED <= edit.rating <= MAX_RATING:
            raise ValueError(f"rating {edit.rating} is not -1 to {MAX_RATING}")
        if edit.rating != 0 or _simple(packet, RATING) is not None:
            wanted[RATING] = str(edit.rating)
    if edit.write_label:
        label = parse_label(edit.label)
        wanted[LABEL] = label
        if _simple(packet, DIGIKAM_COLOR) is not None:
            wanted[DIGIKAM_COLOR] = str(_DIGIKAM_OF[label] if label else 0)
    for tag, value in wanted.items():
        if _simple(packet, tag) != value:
            new = _set_property(new, tag, value, source)
    if new == base:
        return base
    result = parse(new, source)
    if any(_simple(result, tag) != value for tag, value in wanted.items()):
        raise XmpError(
            f"{source}: its rating or label could not be written safely",
            "the file is left as it was; please report this file",
        )
    return new
