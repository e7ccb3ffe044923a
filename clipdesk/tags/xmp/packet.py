"""Read an XMP packet as an element tree, within the limits a hostile file must not pass.

Reading never changes a file; writing edits the packet's text in place
(:mod:`clipdesk.tags.xmp.splice`), so the tree is only ever read. The limits (size, nesting,
elements, keywords) live in :mod:`clipdesk.common.limits`; a packet that passes them costs
milliseconds, one that does not is refused at once with the reason, before the tree grows.
A DOCTYPE is refused too: XMP has no use for one, and it is where entity bombs live.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from xml.sax.saxutils import quoteattr

from clipdesk.common.errors import ClipDeskError
from clipdesk.common.limits import (
    MAX_XMP_BYTES,
    MAX_XMP_DEPTH,
    MAX_XMP_ELEMENTS,
    MAX_XMP_KEYWORDS,
)

NS_X = "adobe:ns:meta/"
NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS_XML = "http://www.w3.org/XML/1998/namespace"
NS_DC = "http://purl.org/dc/elements/1.1/"
NS_LR = "http://ns.adobe.com/lightroom/1.0/"
NS_DIGIKAM = "http://www.digikam.org/ns/1.0/"
NS_XMP_MM = "http://ns.adobe.com/xap/1.0/mm/"
NS_CRS = "http://ns.adobe.com/camera-raw-settings/1.0/"

XMP_TOOLKIT = "ClipDesk"


def q(ns: str, local: str) -> str:
    """An ElementTree qualified name."""
    return f"{{{ns}}}{local}"


SUBJECT = q(NS_DC, "subject")
HIER_SUBJECT = q(NS_LR, "hierarchicalSubject")
DIGIKAM_TAGS = q(NS_DIGIKAM, "TagsList")
KEYWORD_PROPERTIES = (SUBJECT, HIER_SUBJECT, DIGIKAM_TAGS)
RDF_LI = q(NS_RDF, "li")

# Prefixes for namespaces we may declare in a file that does not declare them yet.
KNOWN_PREFIXES = {NS_DC: "dc", NS_LR: "lr", NS_DIGIKAM: "digiKam", NS_RDF: "rdf"}


# Characters XML 1.0 can hold (a file name may have others, or undecodable bytes).
_XML_TEXT = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")


class XmpError(ClipDeskError):
    """An XMP packet or sidecar cannot be read or written."""


# A DOCTYPE as UTF-8 (or ASCII) and as UTF-16 text: XMP has no use for one.
_DOCTYPES = (b"<!DOCTYPE", "<!DOCTYPE".encode("utf-16-le"), "<!DOCTYPE".encode("utf-16-be"))


def _check_markup(data: bytes, source: str) -> None:
    """Refuse, before parsing, what no tree should be built for."""
    if any(d in data for d in _DOCTYPES):
        raise XmpError(
            f"{source}: has a DOCTYPE, which XMP does not allow",
            "ClipDesk does not read XMP with document type or entity declarations",
        )
    # Every element costs at least one "<" (two unless empty): a cheap bound before the tree.
    if data.count(b"<") > 2 * MAX_XMP_ELEMENTS + 16:
        raise XmpError(f"{source}: more than {MAX_XMP_ELEMENTS:,} XML elements")


def _check_tree(root: ET.Element, source: str) -> None:
    if sum(1 for _ in root.iter()) > MAX_XMP_ELEMENTS:
        raise XmpError(f"{source}: more than {MAX_XMP_ELEMENTS:,} XML elements")
    stack = [(root, 1)]  # only elements with children go on it: an edit history's are leaves
    while stack:
        el, depth = stack.pop()
        if depth >= MAX_XMP_DEPTH:
            raise XmpError(f"{source}: XML nested deeper than {MAX_XMP_DEPTH} levels")
        stack.extend((child, depth + 1) for child in el if len(child))
    keywords = sum(
        1
        for tag in KEYWORD_PROPERTIES
        for prop in root.iter(tag)
        for container in prop
        for item in container
        if item.tag == RDF_LI
    )
    if keywords > MAX_XMP_KEYWORDS:
        raise XmpError(f"{source}: more than {MAX_XMP_KEYWORDS:,} keywords")


class Packet:
    """A parsed packet (read-only: see the module docstring)."""

    def __init__(self, root: ET.Element) -> None:
        self.root = root

    @property
    def rdf(self) -> ET.Element | None:
        if self.root.tag == q(NS_RDF, "RDF"):
            return self.root
        return self.root.find(q(NS_RDF, "RDF"))

    def descriptions(self) -> list[ET.Element]:
        rdf = self.rdf
        return [] if rdf is None else rdf.findall(q(NS_RDF, "Description"))

    @property
    def toolkit(self) -> str | None:
        """The x:xmptk of the packet: the program that last wrote it as a whole."""
        return self.root.get(q(NS_X, "xmptk"))


def check_size(size: int, source: str) -> None:
    if size > MAX_XMP_BYTES:
        raise XmpError(
            f"{source}: {size / 2**20:.1f} MiB of XMP (at most {MAX_XMP_BYTES // 2**20} MiB)"
        )


def parse(data: bytes, source: str = "XMP") -> Packet:
    check_size(len(data), source)
    _check_markup(data, source)
    parser = ET.XMLParser()
    try:
        parser.feed(data)
        root = parser.close()
    except ET.ParseError as exc:
        line, col = exc.position
        raise XmpError(
            f"{source}: not valid XML at line {line}, column {col + 1} ({getattr(exc, 'msg', exc)})",
            "ClipDesk will not overwrite a damaged sidecar; repair or move it first",
        ) from None
    except (LookupError, ValueError) as exc:
        # expat takes only single-byte encodings beside UTF-8/16; the XML declaration names
        # the codec, and a made-up or multi-byte one ("shift_jis", "rot13") raises these
        raise XmpError(
            f"{source}: declares a text encoding XMP cannot use ({exc})",
            "XMP is UTF-8; save the sidecar as UTF-8, or repair or move it",
        ) from None
    _check_tree(root, source)
    if root.tag not in (q(NS_X, "xmpmeta"), q(NS_RDF, "RDF")):
        raise XmpError(f"{source}: not an XMP packet (root element is {root.tag})")
    return Packet(root)


def new_packet(photo_name: str | None = None) -> bytes:
    """A packet with no keywords yet, laid out as darktable and exiv2 write theirs. It names
    the photo it belongs to (``xmpMM:DerivedFrom``, as darktable does), which settles whose
    ``IMG_1.xmp`` it is when ``IMG_1.jpg`` and ``IMG_1.png`` lie side by side."""
    derived = ""
    if photo_name and _XML_TEXT.fullmatch(photo_name):
        derived = f"\n   xmpMM:DerivedFrom={quoteattr(photo_name)}"
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        f'<x:xmpmeta xmlns:x="{NS_X}" x:xmptk="{XMP_TOOLKIT}">\n'
        f' <rdf:RDF xmlns:rdf="{NS_RDF}">\n'
        '  <rdf:Description rdf:about=""\n'
        f'    xmlns:xmpMM="{NS_XMP_MM}"\n'
        f'    xmlns:dc="{NS_DC}"\n'
        f'    xmlns:lr="{NS_LR}"{derived}>\n'
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>\n'
    ).encode()
