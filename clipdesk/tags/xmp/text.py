"""The words a photo's XMP says about it: title, description and keywords (read-only).

Titles and descriptions are ``rdf:Alt`` language alternatives; the ``x-default`` entry is taken
(else the first). Keywords come from :func:`clipdesk.tags.xmp.sidecar.read_photo_keywords`. Damaged
packets are logged and give nothing, like keywords.
"""

from __future__ import annotations

import logging
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from clipdesk.tags.categories import flat_keyword
from clipdesk.tags.xmp.names import SidecarNames, read_xmp_file
from clipdesk.tags.xmp.packet import NS_DC, NS_RDF, NS_XML, XmpError, parse, q
from clipdesk.tags.xmp.sidecar import _embedded_packet, read_photo_keywords

log = logging.getLogger(__name__)


@dataclass
class XmpText:
    title: str | None = None
    description: str | None = None
    keywords: list[str] = field(default_factory=list)  # leaf names, no hierarchy


def _alt_text(desc: ET.Element, tag: str) -> str | None:
    if tag in desc.attrib:
        return desc.attrib[tag].strip() or None
    prop = desc.find(tag)
    if prop is None:
        return None
    items = prop.findall(f"./{q(NS_RDF, 'Alt')}/{q(NS_RDF, 'li')}")
    if not items:
        return (prop.text or "").strip() or None
    lang = q(NS_XML, "lang")
    best = next((li for li in items if li.get(lang) == "x-default"), items[0])
    return " ".join((best.text or "").split()) or None


def _packet_text(data: bytes, source: str) -> tuple[str | None, str | None]:
    packet = parse(data, source)
    title = description = None
    for desc in packet.descriptions():
        title = title or _alt_text(desc, q(NS_DC, "title"))
        description = description or _alt_text(desc, q(NS_DC, "description"))
    return title, description


def read_xmp_text(photo: str | os.PathLike[str], names: SidecarNames | None = None) -> XmpText:
    """Sidecars win over the embedded packet (they are what the user edits last); a sidecar
    another file owns (``IMG_1.xmp`` beside ``IMG_1.jpg`` and ``IMG_1.png``) is not read."""
    photo = Path(photo)
    names = names or SidecarNames()
    out = XmpText()
    packets: list[tuple[bytes | None, str]] = []
    for side in names.own_sidecars(photo):
        try:
            packets.append((read_xmp_file(side), str(side)))
        except XmpError as exc:
            log.warning("skipping unreadable XMP: %s", exc.message)
    packets.append((_embedded_packet(photo), f"{photo} (embedded XMP)"))
    for data, source in packets:
        if not data or not data.strip():
            continue
        try:
            title, description = _packet_text(data, source)
        except XmpError as exc:
            log.warning("skipping unreadable XMP: %s", exc.message)
            continue
        out.title = out.title or title
        out.description = out.description or description
    kws = read_photo_keywords(photo, names)
    out.keywords = list(dict.fromkeys(flat_keyword(k) for k in kws.paths() if flat_keyword(k)))
    return out
