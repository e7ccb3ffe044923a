"""The words a photo's XMP says about it: title, description and keywords (read-only).

Titles and descriptions are ``rdf:Alt`` language alternatives; the ``x-default`` entry is taken
(else the first with text). A photo's own sidecars win over its embedded packet (they are what
the user edits last), field by field. Keywords come from
:func:`clipdesk.tags.xmp.sidecar.read_photo_keywords`. A damaged packet, or one past a limit of
:mod:`clipdesk.common.limits`, gives nothing and is named with its reason; the photo's other
packets are still read. Texts longer than the limits are cut.
"""

from __future__ import annotations

import logging
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from clipdesk.common.limits import MAX_XMP_DESCRIPTION_CHARS, MAX_XMP_TITLE_CHARS
from clipdesk.tags.categories import flat_keyword
from clipdesk.tags.xmp.names import SidecarNames, read_xmp_file
from clipdesk.tags.xmp.packet import NS_DC, NS_RDF, NS_XML, XmpError, parse, q
from clipdesk.tags.xmp.sidecar import _embedded_packet, read_photo_keywords

__all__ = ["XmpCaption", "XmpText", "parse_caption", "read_photo_caption", "read_xmp_text"]

log = logging.getLogger(__name__)

TITLE = q(NS_DC, "title")
DESCRIPTION = q(NS_DC, "description")
_LANG = q(NS_XML, "lang")
_VALUE = q(NS_RDF, "value")


@dataclass(frozen=True)
class XmpCaption:
    """A photo's XMP title and description; None where no packet gives one. A description
    keeps its line breaks; a title is one line."""

    title: str | None = None
    description: str | None = None

    def __or__(self, later: XmpCaption) -> XmpCaption:
        """Each field from self, else from ``later`` (a packet read after)."""
        return XmpCaption(self.title or later.title, self.description or later.description)


@dataclass
class XmpText:
    title: str | None = None
    description: str | None = None  # on one line
    keywords: list[str] = field(default_factory=list)  # leaf names, no hierarchy


def _clean(text: str | None, limit: int, lines: bool) -> str | None:
    """Runs of spaces made one; with ``lines``, line breaks kept (blank lines at most one in a
    row), else made spaces too. None when nothing is left."""
    if not text:
        return None
    if lines:
        rows = [" ".join(row.split()) for row in text.splitlines()]
        kept: list[str] = []
        for row in rows:
            if row or (kept and kept[-1]):
                kept.append(row)
        out = "\n".join(kept).strip()
    else:
        out = " ".join(text.split())
    return out[:limit].rstrip() or None


def _li_text(li: ET.Element) -> str:
    # a qualified value (rdf:parseType="Resource") keeps its text in rdf:value
    value = li.find(_VALUE)
    return (value.text if value is not None else li.text) or ""


def _alt_text(desc: ET.Element, tag: str) -> str | None:
    """The text of one language-alternative property of an rdf:Description (None: absent)."""
    if tag in desc.attrib:  # not the form the standard asks for, but some tools write it
        return desc.attrib[tag]
    prop = desc.find(tag)
    if prop is None:
        return None
    # rdf:Alt is the standard's; a Bag or Seq from a careless writer is read the same way
    items = prop.findall(f"./*/{q(NS_RDF, 'li')}")
    if not items:
        return prop.text
    texts = [(li.get(_LANG, "").casefold(), _li_text(li)) for li in items]
    texts = [(lang, text) for lang, text in texts if text.strip()]
    chosen = next((t for lang, t in texts if lang == "x-default"), None)
    return chosen if chosen is not None else (texts[0][1] if texts else None)


def parse_caption(data: bytes, source: str = "XMP") -> XmpCaption:
    """The title and description of one packet (the first rdf:Description giving each);
    XmpError when it cannot be read (see :func:`clipdesk.tags.xmp.packet.parse`)."""
    found = XmpCaption()
    for desc in parse(data, source).descriptions():
        found = found | XmpCaption(
            _clean(_alt_text(desc, TITLE), MAX_XMP_TITLE_CHARS, lines=False),
            _clean(_alt_text(desc, DESCRIPTION), MAX_XMP_DESCRIPTION_CHARS, lines=True),
        )
    return found


def read_photo_caption(
    photo: str | os.PathLike[str], names: SidecarNames | None = None
) -> tuple[XmpCaption, list[str]]:
    """(the title and description of the photo's own sidecars, then of its embedded packet;
    the problems of the packets that could not be read). A sidecar another file owns
    (``IMG_1.xmp`` beside ``IMG_1.jpg`` and ``IMG_1.png``) is not read."""
    photo = Path(photo)
    names = names or SidecarNames()
    found = XmpCaption()
    problems: list[str] = []
    for side in names.own_sidecars(photo):
        try:
            data = read_xmp_file(side)
            if data.strip():
                found = found | parse_caption(data, str(side))
        except XmpError as exc:
            problems.append(exc.message)
    if found.title is None or found.description is None:
        label = f"{photo} (embedded XMP)"
        try:
            data = _embedded_packet(photo) or b""
            if data.strip():
                found = found | parse_caption(data, label)
        except XmpError as exc:
            problems.append(exc.message)
    return found, problems


def read_xmp_text(photo: str | os.PathLike[str], names: SidecarNames | None = None) -> XmpText:
    """Title, description (on one line) and keywords; packets that cannot be read are logged."""
    caption, problems = read_photo_caption(photo, names)
    for problem in problems:
        log.warning("skipping unreadable XMP: %s", problem)
    out = XmpText(caption.title, _clean(caption.description, MAX_XMP_DESCRIPTION_CHARS, False))
    kws = read_photo_keywords(photo, names)
    out.keywords = list(dict.fromkeys(flat_keyword(k) for k in kws.paths() if flat_keyword(k)))
    return out
