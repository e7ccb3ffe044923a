"""Edit an XMP packet's keyword lists in its own text, leaving every other byte as it was.

A sidecar under sync or version control (darktable's, digiKam's) must show a one-line diff for
one added keyword, so the packet is never re-serialised. Its text is scanned once with expat for
where each element starts and ends; only the ``<rdf:li>`` items of a list we change are spliced
in or out, indented like their neighbours. A list that does not exist yet is created beside the
other keyword list (else at the end of the description), declaring its namespace on itself when
the file does not declare it; one written as an attribute (``lr:hierarchicalSubject="A|b"``)
becomes an element only when something is added to it.
"""

from __future__ import annotations

import pyexpat
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from clipdesk.common.limits import MAX_XMP_DEPTH, MAX_XMP_ELEMENTS
from clipdesk.tags.xmp.packet import (
    DIGIKAM_TAGS,
    KEYWORD_PROPERTIES,
    KNOWN_PREFIXES,
    NS_RDF,
    RDF_LI,
    XmpError,
    check_size,
    q,
)

__all__ = ["ListEdit", "edit_lists"]

RDF_DESCRIPTION = q(NS_RDF, "Description")
RDF_RDF = q(NS_RDF, "RDF")
_CONTAINERS = {q(NS_RDF, "Bag"), q(NS_RDF, "Seq"), q(NS_RDF, "Alt")}
_START_TAG = re.compile(rb"""<([^\s/>]+)(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*/?>""")
_ATTRIBUTE = re.compile(rb"""(\s+)([^\s=/>]+)\s*=\s*(?:"[^"]*"|'[^']*')""")
_SPACE = b" \t\r\n"
_ENCODING = re.compile(rb"""(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*["']([^"']+)["']""")


@dataclass(frozen=True)
class ListEdit:
    """Items to append to one keyword list where missing, and items to take out of it."""

    add: tuple[str, ...] = ()
    remove: frozenset[str] = frozenset()


# What an element is to the editor. Only the elements an edit may touch or anchor to are
# recorded (the root, rdf:RDF, descriptions, their properties, the keyword lists' containers and
# items); the rest (an edit history's thousands of entries) are counted and passed over.
_ROOT, _RDF, _DESC, _LIST, _CONTAINER, _ITEM, _OTHER = range(7)
_CHILD_ROLE = {
    _ROOT: lambda name: _RDF if name == RDF_RDF else _OTHER,
    _RDF: lambda name: _DESC if name == RDF_DESCRIPTION else _OTHER,
    _DESC: lambda name: _LIST if name in KEYWORD_PROPERTIES else _OTHER,
    _LIST: lambda name: _CONTAINER if name in _CONTAINERS else _OTHER,
    _CONTAINER: lambda name: _ITEM if name == RDF_LI else _OTHER,
    _ITEM: lambda name: _OTHER,
}


@dataclass
class _Node:
    name: str  # "{uri}local", as ElementTree names it
    role: int
    raw: bytes  # the name as written: b"rdf:Bag"
    start: int  # offset of "<"
    start_end: int  # offset after the start tag's ">"
    parent: int
    decls: list[tuple[str, str]]  # (prefix, uri) declared on this element
    attrs: dict[str, str]  # a description's only
    end: int = -1  # offset of the end tag's "</" (start_end for an empty-element tag)
    close_end: int = -1  # offset after the end tag's ">"
    children: list[int] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    @property
    def empty_tag(self) -> bool:
        return self.end == self.start_end and self.close_end == self.start_end


def _expat_name(name: str) -> str:
    uri, sep, local = name.rpartition("}")
    return f"{{{uri}}}{local}" if sep else name


class _Scan:
    """Where the elements an edit may touch start and end, their namespaces and text."""

    def __init__(self, data: bytes, source: str) -> None:
        self.data = data
        self.source = source
        self.nodes: list[_Node] = []
        self._stack: list[int] = []  # node index, or -1 for an element not recorded
        self._pending: list[tuple[str, str]] = []
        self._elements = 0
        parser = pyexpat.ParserCreate(namespace_separator="}")
        parser.buffer_text = True
        parser.SetParamEntityParsing(pyexpat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartDoctypeDeclHandler = self._refuse_doctype
        parser.StartNamespaceDeclHandler = self._ns
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._text
        self._parser = parser
        try:
            parser.Parse(data, True)
        except pyexpat.ExpatError as exc:
            raise XmpError(
                f"{source}: not valid XML at line {exc.lineno}, column {exc.offset + 1}",
                "ClipDesk will not overwrite a damaged sidecar; repair or move it first",
            ) from None

    def _refuse_doctype(self, *_args: object) -> None:
        raise XmpError(f"{self.source}: has a DOCTYPE, which XMP does not allow")

    def _ns(self, prefix: str | None, uri: str) -> None:
        self._pending.append((prefix or "", uri))

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        stack = self._stack
        self._elements += 1
        if self._elements > MAX_XMP_ELEMENTS or len(stack) >= MAX_XMP_DEPTH:
            raise XmpError(f"{self.source}: too many or too deeply nested XML elements")
        decls, self._pending = self._pending, []
        if stack:
            parent = stack[-1]
            if parent < 0 or self.nodes[parent].role == _OTHER:
                stack.append(-1)
                return
            qname = _expat_name(name)
            role = _CHILD_ROLE[self.nodes[parent].role](qname)
        else:
            parent, qname = -1, _expat_name(name)
            role = _RDF if qname == RDF_RDF else _ROOT
        start = self._parser.CurrentByteIndex
        m = _START_TAG.match(self.data, start)
        if m is None:  # expat accepted it, so this is our pattern's gap: refuse, never guess
            raise XmpError(f"{self.source}: cannot locate the element at byte {start}")
        described = {_expat_name(k): v for k, v in attrs.items()} if role == _DESC else {}
        node = _Node(qname, role, m.group(1), start, m.end(), parent, decls, described)
        self.nodes.append(node)
        if parent >= 0:
            self.nodes[parent].children.append(len(self.nodes) - 1)
        stack.append(len(self.nodes) - 1)

    def _end(self, _name: str) -> None:
        i = self._stack.pop()
        if i < 0:
            return
        node = self.nodes[i]
        pos = self._parser.CurrentByteIndex
        if pos == node.start_end and self.data[node.start_end - 2 : node.start_end] == b"/>":
            node.end = node.close_end = node.start_end
        else:
            node.end = pos
            node.close_end = self.data.index(b">", pos) + 1

    def _text(self, text: str) -> None:
        if self._stack and self._stack[-1] >= 0:
            node = self.nodes[self._stack[-1]]
            if node.role in (_LIST, _ITEM):
                node.text.append(text)

    # --- look-ups ------------------------------------------------------------------------

    def text_of(self, i: int) -> str:
        return "".join(self.nodes[i].text).strip()

    def descriptions(self) -> list[int]:
        return [i for i, n in enumerate(self.nodes) if n.role == _DESC]

    def prefix_for(self, i: int, uri: str) -> str | None:
        """The prefix bound to ``uri`` where element ``i`` is (None: not bound, or only as the
        default namespace)."""
        seen: set[str] = set()
        while i >= 0:
            for prefix, bound in reversed(self.nodes[i].decls):
                if prefix in seen:
                    continue
                seen.add(prefix)
                if bound == uri and prefix:
                    return prefix
            i = self.nodes[i].parent
        return None

    def prefix_to_use(self, i: int, uri: str, known: dict[str, str]) -> tuple[str, bool]:
        """(prefix, whether it must be declared) for a new name in ``uri`` at element ``i``:
        the one bound there, else ``known``'s usual one ("ns" if none), numbered while taken."""
        prefix = self.prefix_for(i, uri)
        if prefix is not None:
            return prefix, False
        base = known.get(uri, "ns")
        prefix, n = base, 1
        while self.is_bound(i, prefix):
            prefix, n = f"{base}{n}", n + 1
        return prefix, True

    def is_bound(self, i: int, prefix: str) -> bool:
        while i >= 0:
            if any(p == prefix for p, _ in self.nodes[i].decls):
                return True
            i = self.nodes[i].parent
        return prefix in ("xml", "xmlns")

    def uri_of_prefix(self, i: int, prefix: str) -> str | None:
        while i >= 0:
            for p, uri in reversed(self.nodes[i].decls):
                if p == prefix:
                    return uri
            i = self.nodes[i].parent
        return None

    def indent_before(self, pos: int, floor: int) -> bytes:
        """The run of white space that ends at ``pos`` (not reaching back before ``floor``)."""
        start = pos
        while start > floor and self.data[start - 1] in _SPACE:
            start -= 1
        return self.data[start:pos]


def _prefixed(prefix: bytes, local: bytes) -> bytes:
    return prefix + b":" + local if prefix else local


def _raw_prefix(raw: bytes) -> bytes:
    return raw.split(b":", 1)[0] if b":" in raw else b""


def _li(li_raw: bytes, item: str) -> bytes:
    return b"<" + li_raw + b">" + escape(item).encode("utf-8") + b"</" + li_raw + b">"


def _open_tag(scan: _Scan, node: _Node) -> bytes:
    """The node's start tag as an open (not empty-element) tag."""
    tag = scan.data[node.start : node.start_end]
    return tag[:-2].rstrip() + b">" if node.empty_tag else tag


@dataclass
class _Splices:
    """Byte ranges to replace, applied from the end so earlier offsets stay valid."""

    items: list[tuple[int, int, bytes]] = field(default_factory=list)

    def add(self, start: int, end: int, new: bytes) -> None:
        self.items.append((start, end, new))

    def apply(self, data: bytes) -> bytes:
        # From the end; of several at one offset the first listed ends up first.
        order = sorted(range(len(self.items)), key=lambda i: (*self.items[i][:2], i), reverse=True)
        out = data
        for i in order:
            start, end, new = self.items[i]
            out = out[:start] + new + out[end:]
        return out

    def clash(self) -> bool:
        """Whether two splices touch the same bytes (then they must be made one at a time)."""
        reach = -1
        for start, end, _new in sorted(self.items, key=lambda s: (s[0], s[1])):
            if start < reach:
                return True
            reach = max(reach, end)
        return False


class _Editor:
    """One list's edit on one scanned packet."""

    def __init__(self, scan: _Scan, tag: str, edit: ListEdit) -> None:
        self.scan = scan
        self.nodes = scan.nodes
        self.tag = tag
        self.edit = edit
        self.splices = _Splices()

    def unit(self, outer: bytes, inner: bytes) -> bytes:
        """One level of indentation as the file writes it (inner = outer + unit)."""
        if b"\n" in inner and inner.startswith(outer) and len(inner) > len(outer):
            return inner[len(outer) :]
        return b" "

    def description_unit(self, d: int) -> bytes:
        desc = self.nodes[d]
        outer = self.scan.indent_before(desc.start, 0)
        if desc.children:
            first = self.nodes[desc.children[0]]
            return self.unit(outer, self.scan.indent_before(first.start, desc.start_end))
        return self.unit(outer, outer + b" ")

    def property_element(
        self, d: int, items: list[str], ws: bytes, unit: bytes, keep_open: bytes | None = None
    ) -> bytes:
        """A new list property with ``items``, its lines starting with ``ws`` (which the caller
        puts before it); ``keep_open``: the property's existing start tag, to reuse."""
        scan = self.scan
        uri, local = self.tag[1:].split("}", 1)
        if keep_open is not None:
            open_tag = keep_open
            name = _START_TAG.match(keep_open)
            raw = name.group(1) if name else local.encode()
        else:
            prefix, new = scan.prefix_to_use(d, uri, KNOWN_PREFIXES)
            decl = b" xmlns:" + prefix.encode() + b'="' + uri.encode() + b'"' if new else b""
            raw = _prefixed(prefix.encode(), local.encode())
            open_tag = b"<" + raw + decl + b">"
        rdf = scan.prefix_for(d, NS_RDF)
        rdf_raw = rdf.encode() if rdf is not None else _raw_prefix(self.nodes[d].raw)
        kind = b"Seq" if self.tag == DIGIKAM_TAGS else b"Bag"
        container = _prefixed(rdf_raw, kind)
        li_raw = _prefixed(rdf_raw, b"li")
        if b"\n" not in ws:
            ws = unit = b""
        body = b"".join(ws + unit + unit + _li(li_raw, i) for i in items)
        bag = ws + unit + b"<" + container + b">" + body + ws + unit + b"</" + container + b">"
        return open_tag + bag + ws + b"</" + raw + b">"

    def remove_node(self, i: int, floor: int) -> None:
        node = self.nodes[i]
        start = node.start - len(self.scan.indent_before(node.start, floor))
        self.splices.add(start, node.close_end, b"")

    # --- the cases -----------------------------------------------------------------------

    def collect(self) -> list[tuple[int, int, bytes]]:
        """The splices this list's edit needs (not applied)."""
        descs = self.scan.descriptions()
        for d in descs:
            for c in self.nodes[d].children:
                if self.nodes[c].name == self.tag:
                    self.element(d, c)
                    return self.splices.items
        for d in descs:
            if self.tag in self.nodes[d].attrs:
                self.attribute(d)
                return self.splices.items
        adds = list(dict.fromkeys(self.edit.add))
        if adds:
            self.create(self.choose_description(descs), adds)
        return self.splices.items

    def choose_description(self, descs: list[int]) -> int:
        for d in descs:
            if any(self.nodes[c].name in KEYWORD_PROPERTIES for c in self.nodes[d].children):
                return d
        return descs[0]

    def element(self, d: int, p: int) -> None:
        prop = self.nodes[p]
        containers = [c for c in prop.children if self.nodes[c].name in _CONTAINERS]
        if not containers:
            self.bare(d, p)
            return
        b = containers[0]
        bag = self.nodes[b]
        lis = [c for c in bag.children if self.nodes[c].name == RDF_LI]
        removed = [
            i
            for i in lis
            if not self.nodes[i].children and self.scan.text_of(i) in self.edit.remove
        ]
        kept = [i for i in lis if i not in removed]
        present = {self.scan.text_of(i) for i in kept}
        adds = list(dict.fromkeys(a for a in self.edit.add if a not in present))
        if not removed and not adds:
            return
        if removed and not kept and not adds and len(prop.children) == 1:
            self.remove_node(p, self.nodes[d].start_end)  # we emptied it: leave no husk
            return
        for i in removed:
            self.remove_node(i, bag.start_end)
        if not adds:
            return
        li_raw = _prefixed(_raw_prefix(bag.raw), b"li")
        ws_bag = self.scan.indent_before(bag.start, prop.start_end)
        ws_prop = self.scan.indent_before(prop.start, self.nodes[d].start_end)
        unit = self.unit(ws_prop, ws_bag)
        if lis:
            ws_li = self.scan.indent_before(self.nodes[lis[-1]].start, bag.start_end)
        elif not bag.empty_tag:
            ws_end = self.scan.indent_before(bag.end, bag.start_end)
            ws_li = ws_end + unit if b"\n" in ws_end else b""
        else:
            ws_li = ws_bag + unit if b"\n" in ws_bag else b""
        new = b"".join(ws_li + _li(li_raw, a) for a in adds)
        if bag.empty_tag:
            close = (ws_bag if b"\n" in ws_bag else b"") + b"</" + bag.raw + b">"
            self.splices.add(bag.start, bag.close_end, _open_tag(self.scan, bag) + new + close)
        else:
            anchor = self.nodes[kept[-1]].close_end if kept else bag.start_end
            self.splices.add(anchor, anchor, new)

    def bare(self, d: int, p: int) -> None:
        """``<dc:subject>holiday</dc:subject>`` or ``<dc:subject/>``: a list of one or none."""
        prop = self.nodes[p]
        if prop.children:
            raise XmpError(f"{self.scan.source}: {self.tag} holds elements but no list")
        text = self.scan.text_of(p)
        removed = bool(text) and text in self.edit.remove
        items = [text] if text and not removed else []
        items += [a for a in dict.fromkeys(self.edit.add) if a not in items]
        if not removed and items == ([text] if text else []):
            return
        if not items:
            self.remove_node(p, self.nodes[d].start_end)
            return
        ws = self.scan.indent_before(prop.start, self.nodes[d].start_end)
        new = self.property_element(
            d, items, ws, self.description_unit(d), keep_open=_open_tag(self.scan, prop)
        )
        self.splices.add(prop.start, prop.close_end, new)

    def attribute(self, d: int) -> None:
        """``lr:hierarchicalSubject="A|b"`` on the description: one item."""
        desc = self.nodes[d]
        value = desc.attrs[self.tag].strip()
        removed = bool(value) and value in self.edit.remove
        items = [value] if value and not removed else []
        adds = [a for a in dict.fromkeys(self.edit.add) if a not in items]
        if not removed and not adds:
            return
        tag = self.scan.data[desc.start : desc.start_end]
        for m in _ATTRIBUTE.finditer(tag, len(desc.raw) + 1):
            prefix, _, local = m.group(2).decode("utf-8").rpartition(":")
            uri = self.scan.uri_of_prefix(d, prefix) if prefix else None
            if uri is not None and f"{{{uri}}}{local}" == self.tag:
                self.splices.add(desc.start + m.start(), desc.start + m.end(), b"")
                break
        else:
            raise XmpError(f"{self.scan.source}: cannot locate the attribute {self.tag}")
        if items + adds:
            self.create(d, items + adds)

    def create(self, d: int, items: list[str]) -> None:
        scan = self.scan
        desc = self.nodes[d]
        unit = self.description_unit(d)
        siblings = [c for c in desc.children if self.nodes[c].name in KEYWORD_PROPERTIES]
        if siblings or desc.children:
            anchor_node = self.nodes[(siblings or desc.children)[-1]]
            ws = scan.indent_before(anchor_node.start, desc.start_end)
            element = self.property_element(d, items, ws, unit)
            self.splices.add(anchor_node.close_end, anchor_node.close_end, ws + element)
        elif not desc.empty_tag:
            ws_end = scan.indent_before(desc.end, desc.start_end)
            ws = ws_end + unit if b"\n" in ws_end else b""
            self.splices.add(
                desc.start_end, desc.start_end, ws + self.property_element(d, items, ws, unit)
            )
        else:
            ws_desc = scan.indent_before(desc.start, 0)
            ws = ws_desc + unit if b"\n" in ws_desc else b""
            slash = scan.data.rindex(b"/", desc.start, desc.start_end)
            close = (ws_desc if ws else b"") + b"</" + desc.raw + b">"
            self.splices.add(
                slash,
                desc.start_end,
                b">" + ws + self.property_element(d, items, ws, unit) + close,
            )


def _with_description(data: bytes, source: str) -> bytes:
    """The packet with an empty rdf:Description when its rdf:RDF has none."""
    scan = _Scan(data, source)
    rdfs = [i for i, n in enumerate(scan.nodes) if n.name == RDF_RDF]
    if not rdfs:
        raise XmpError(f"{source}: not an XMP packet (no rdf:RDF)")
    rdf = scan.nodes[rdfs[0]]
    desc = b"<" + _prefixed(_raw_prefix(rdf.raw), b"Description") + b' rdf:about=""/>'
    if _raw_prefix(rdf.raw) != b"rdf":
        desc = desc.replace(b"rdf:about", _prefixed(_raw_prefix(rdf.raw), b"about"))
    if rdf.empty_tag:
        return (
            data[: rdf.start]
            + _open_tag(scan, rdf)
            + desc
            + b"</"
            + rdf.raw
            + b">"
            + data[rdf.close_end :]
        )
    return data[: rdf.start_end] + desc + data[rdf.start_end :]


def edit_lists(data: bytes, edits: Mapping[str, ListEdit], source: str = "XMP") -> bytes:
    """The packet with each keyword list (``dc:subject``, ``lr:hierarchicalSubject``,
    ``digiKam:TagsList``) edited as asked; every byte outside those lists stays."""
    check_size(len(data), source)
    declared = _ENCODING.match(data)
    try:
        data.decode("utf-8")
        if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
            raise UnicodeError
    except UnicodeError:
        raise XmpError(
            f"{source}: not UTF-8", "ClipDesk edits only UTF-8 XMP, as XMP sidecars are"
        ) from None
    todo = {tag: edit for tag, edit in edits.items() if edit.add or edit.remove}
    if not todo:
        return data
    scan = _Scan(data, source)
    if not scan.descriptions():
        if not any(edit.add for edit in todo.values()):
            return data
        data = _with_description(data, source)
        scan = _Scan(data, source)
    splices = _Splices()
    for tag, edit in todo.items():
        splices.items += _Editor(scan, tag, edit).collect()
    if not splices.clash():
        return splices.apply(data)
    for tag, edit in todo.items():  # two lists created in one empty-element description
        data = _Splices(_Editor(_Scan(data, source), tag, edit).collect()).apply(data)
    return data
