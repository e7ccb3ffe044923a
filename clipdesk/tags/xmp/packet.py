"""Parse and re-serialise an XMP packet without losing anything the file had.

``xml.etree`` alone renames prefixes (``ns0:``) through a process-wide registry and drops the
``<?xpacket?>`` wrapper. Here the tree keeps every element, attribute, comment and whitespace; the
original prefixes are collected while parsing and written back by a small serialiser of our own;
and the bytes before and after the root element (XML declaration, xpacket header, padding,
trailer) are carried over verbatim.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from clipdesk.common.errors import ClipDeskError

NS_X = "adobe:ns:meta/"
NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS_XML = "http://www.w3.org/XML/1998/namespace"

# Prefixes for namespaces we may add to a file that does not declare them yet.
KNOWN_PREFIXES = {
    NS_X: "x",
    NS_RDF: "rdf",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://ns.adobe.com/lightroom/1.0/": "lr",
    "http://www.digikam.org/ns/1.0/": "digiKam",
    "http://ns.adobe.com/xap/1.0/": "xmp",
}

NEW_PROLOG = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
NEW_EPILOG = '\n<?xpacket end="w"?>\n'
XMP_TOOLKIT = "ClipDesk"


class XmpError(ClipDeskError):
    """An XMP packet or sidecar cannot be read or written."""


def q(ns: str, local: str) -> str:
    """An ElementTree qualified name."""
    return f"{{{ns}}}{local}"


class _Builder(ET.TreeBuilder):
    """A TreeBuilder that also records the namespace declarations (XMLParser calls start_ns)."""

    def __init__(self) -> None:
        super().__init__(insert_comments=True, insert_pis=True)
        self.declared: list[tuple[str, str]] = []

    def start_ns(self, prefix: str, uri: str) -> None:
        self.declared.append((prefix, uri))


@dataclass
class Packet:
    root: ET.Element
    prefixes: dict[str, str] = field(default_factory=dict)  # uri -> prefix, in declaration order
    prolog: str = NEW_PROLOG
    epilog: str = NEW_EPILOG

    @classmethod
    def new(cls) -> Packet:
        root = ET.Element(q(NS_X, "xmpmeta"), {q(NS_X, "xmptk"): XMP_TOOLKIT})
        root.text = "\n "
        rdf = ET.SubElement(root, q(NS_RDF, "RDF"))
        rdf.text = "\n  "
        rdf.tail = "\n"
        desc = ET.SubElement(rdf, q(NS_RDF, "Description"), {q(NS_RDF, "about"): ""})
        desc.tail = "\n "
        return cls(root, {NS_X: "x", NS_RDF: "rdf"})

    @property
    def rdf(self) -> ET.Element:
        if self.root.tag == q(NS_RDF, "RDF"):
            return self.root
        found = self.root.find(q(NS_RDF, "RDF"))
        if found is None:
            found = ET.SubElement(self.root, q(NS_RDF, "RDF"))
        return found

    def descriptions(self) -> list[ET.Element]:
        return self.rdf.findall(q(NS_RDF, "Description"))

    def to_bytes(self) -> bytes:
        return (self.prolog + serialise(self.root, self.prefixes) + self.epilog).encode("utf-8")


_ROOT_START = re.compile(r"<(?![?!])")


def _split_outer(text: str, root_qname: str) -> tuple[str, str]:
    """The verbatim text before the root start tag and after the root end tag."""
    pos = 0
    while True:
        m = _ROOT_START.search(text, pos)
        if m is None:
            return NEW_PROLOG, NEW_EPILOG
        before = text[: m.start()]
        # Skip a '<' that sits inside a comment of the prolog.
        if before.count("<!--") > before.count("-->"):
            pos = text.index("-->", m.start()) + 3 if "-->" in text[m.start() :] else len(text)
            continue
        break
    prolog = before
    end = text.rfind(f"</{root_qname}")
    epilog = text[text.index(">", end) + 1 :] if end >= 0 else NEW_EPILOG
    # We always write UTF-8; a declaration saying otherwise would be a lie.
    prolog = re.sub(r"<\?xml[^>]*\?>", '<?xml version="1.0" encoding="UTF-8"?>', prolog, count=1)
    return prolog, epilog


def parse(data: bytes, source: str = "XMP") -> Packet:
    builder = _Builder()
    parser = ET.XMLParser(target=builder)
    try:
        parser.feed(data)
        root = parser.close()
    except ET.ParseError as exc:
        line, col = exc.position
        raise XmpError(
            f"{source}: not valid XML at line {line}, column {col + 1} ({exc.msg if hasattr(exc, 'msg') else exc})",
            "ClipDesk will not overwrite a damaged sidecar; repair or move it first",
        ) from None
    if root.tag not in (q(NS_X, "xmpmeta"), q(NS_RDF, "RDF")):
        raise XmpError(f"{source}: not an XMP packet (root element is {root.tag})")
    prefixes: dict[str, str] = {}
    taken: set[str] = set()
    for prefix, uri in builder.declared:
        if uri in prefixes:
            continue
        name = prefix or "ns"
        base, n = name, 1
        while name in taken:  # the same prefix bound to two URIs in different scopes
            name, n = f"{base}{n}", n + 1
        prefixes[uri] = name
        taken.add(name)
    try:
        text = data.decode("utf-8-sig")
        local = root.tag.split("}", 1)[1]
        prolog, epilog = _split_outer(
            text, f"{prefixes.get(root.tag[1:].split('}')[0], '')}:{local}"
        )
    except (UnicodeDecodeError, ValueError):
        prolog, epilog = NEW_PROLOG, NEW_EPILOG
    return Packet(root, prefixes, prolog, epilog)


def _escape_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attr(s: str) -> str:
    return (
        _escape_text(s)
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )


def _qname(tag: str, prefixes: dict[str, str]) -> str:
    if not tag.startswith("{"):
        return tag
    uri, local = tag[1:].split("}", 1)
    if uri == NS_XML:
        return f"xml:{local}"
    if uri not in prefixes:
        base = KNOWN_PREFIXES.get(uri, "ns")
        name, n = base, 1
        while name in prefixes.values():
            name, n = f"{base}{n}", n + 1
        prefixes[uri] = name
    return f"{prefixes[uri]}:{local}"


def serialise(root: ET.Element, prefixes: dict[str, str]) -> str:
    """The root element as text, every namespace declared on it with its original prefix."""
    prefixes = dict(prefixes)
    body: list[str] = []

    def walk(el: ET.Element, is_root: bool) -> None:
        # Comments and processing instructions carry their factory function as the tag, which
        # the stubs' Element[str] does not allow for: compare it as a plain object.
        tag: object = el.tag
        if tag is ET.Comment:
            body.append(f"<!--{el.text or ''}-->")
        elif tag is ET.ProcessingInstruction:
            body.append(f"<?{el.text or ''}?>")
        else:
            name = _qname(el.tag, prefixes)
            attrs = "".join(
                f' {_qname(k, prefixes)}="{_escape_attr(v)}"' for k, v in el.attrib.items()
            )
            body.append(f"<{name}{attrs}")
            if el.text or len(el):
                body.append(">")
                body.append(_escape_text(el.text or ""))
                for child in el:
                    walk(child, False)
                body.append(f"</{name}>")
            else:
                body.append("/>")
        if el.tail and not is_root:
            body.append(_escape_text(el.tail))

    walk(root, True)
    # Declarations go on the root, after the walk has named every namespace in use.
    decl = "".join(f' xmlns:{p}="{_escape_attr(u)}"' for u, p in prefixes.items())
    root_name = body[0][1:]
    body[0] = f"<{root_name}{decl}" if " " not in root_name else body[0].replace(" ", decl + " ", 1)
    return "".join(body)
