"""The text side of word search, pure: what goes into the full-text index, how a query becomes a
safe FTS5 ``MATCH`` string, and the snippet that shows why a photo matched.

The index (``photo_words``, schema v6) is SQLite FTS5 with ``unicode61 remove_diacritics 2``:
words are split at spaces and punctuation, case and diacritics fold (``café`` is found by
``cafe``, ``Zürich`` by ``zurich``). unicode61 would keep a run of Chinese or Japanese
characters as one "word" (those scripts put no spaces between words), and FTS5's trigram
tokenizer cannot match terms under three characters (and needs a newer SQLite than some Pythons
link against), so :func:`index_text` writes each CJK run as its overlapping two-character
pieces plus the run's last character: ``東京タワー`` becomes ``東京 京タ タワ ワー ー``. A query
word of two or more CJK characters is then the phrase of its pieces (``京タワ`` is the phrase
``京タ タワ``), and one character is a prefix (``京*`` finds ``京タ``, the last character finds a
run that ends with it). Hangul is treated alike: Korean attaches particles to words
(``서울에서``), so ``서울`` must match inside a word.

Query rules (:func:`match_expression`, mirrored by :func:`snippet`): every word of every
phrase is required; a word of three or more characters also matches as a prefix (``astro``
finds ``astronaut``); every word is double-quoted, so nothing a user types (quotes, ``NEAR``,
``*``, ``AND``, parentheses, a lone ``-``) is read as FTS5 syntax.
"""

from __future__ import annotations

import bisect
import os
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

PREFIX_MIN = 3  # a query word this long (or longer) also matches words it begins

# Han (with its iteration marks and compatibility ideographs), kana, Hangul.
_CJK_CHARS = (
    "\u1100-\u11ff"  # Hangul Jamo
    "\u3005-\u3007"  # 々 〆 〇
    "\u3041-\u3096\u309d-\u309f"  # Hiragana
    "\u30a1-\u30fa\u30fc-\u30ff"  # Katakana (without the ・ and ゠ punctuation)
    "\u3131-\u318e"  # Hangul compatibility Jamo
    "\u31f0-\u31ff"  # Katakana phonetic extensions
    "\u3400-\u4dbf\u4e00-\u9fff"  # CJK ideographs and extension A
    "\uac00-\ud7a3"  # Hangul syllables
    "\uf900-\ufaff"  # compatibility ideographs
    "\U00020000-\U0003134f"  # extensions B to G
)
_CJK_RUN = re.compile(f"[{_CJK_CHARS}]+")
# A lone surrogate stands for a byte of a file name that is not UTF-8 (PEP 383).
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def _is_word_char(ch: str) -> bool:
    # unicode61 keeps letters, numbers and private-use characters together; marks are kept in
    # the word here so that a quoted word reaches FTS5 whole, to be split by its own rules.
    cat = unicodedata.category(ch)
    return cat[0] in "LNM" or cat == "Co"


def _bigrams(run: str) -> list[str]:
    return [run[i : i + 2] for i in range(len(run) - 1)]


def index_text(text: str) -> str:
    """``text`` as the index stores it: NFKC-normalised (full-width letters and half-width kana
    become the ordinary ones), each CJK run written as its two-character pieces and its last
    character, apart from the words around it."""
    text = unicodedata.normalize("NFKC", text)
    return _CJK_RUN.sub(lambda m: " " + " ".join([*_bigrams(m.group()), m.group()[-1]]) + " ", text)


def _readable(part: str) -> str:
    """A file name's text for words: a byte that is not UTF-8 is read as Latin-1, the usual
    encoding of such names (``caf\\xe9`` from an old camera or a Samba share is ``café``)."""
    return _ESCAPED_BYTE.sub(lambda m: chr(ord(m.group()) - 0xDC00), part)


def path_words(path: str, root: str | None) -> str:
    """The text a photo's path is found by: the watched folder's own name, the subfolders
    below it and the file's name, joined by ``/`` (``Pictures/Trips 2019/astronaut.png``).
    What lies above the watched folder (``/home/user``) says nothing about the photo and is
    left out; a path outside ``root`` (or no root) gives the file's name alone."""
    path = os.path.normpath(path)
    parts: list[str]
    if root:
        base = os.path.normpath(root)
        inside = path.startswith(base.rstrip(os.sep) + os.sep)
    else:
        inside = False
    if inside:
        rel = path[len(base.rstrip(os.sep)) + 1 :]
        parts = [os.path.basename(base), *rel.split(os.sep)]
    else:
        parts = [os.path.basename(path)]
    return "/".join(_readable(p) for p in parts if p)


# --- queries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Term:
    text: str  # NFKC-normalised
    cjk: bool

    @property
    def prefix(self) -> bool:
        return len(self.text) == 1 if self.cjk else len(self.text) >= PREFIX_MIN


def _words(text: str) -> Iterator[tuple[int, int]]:
    """[start, end) of each run of word characters in ``text``."""
    start = -1
    for i, ch in enumerate(text):
        if _is_word_char(ch):
            if start < 0:
                start = i
        elif start >= 0:
            yield start, i
            start = -1
    if start >= 0:
        yield start, len(text)


def _terms(phrase: str) -> list[_Term]:
    text = unicodedata.normalize("NFKC", phrase)
    out: list[_Term] = []
    pos = 0
    for m in [*_CJK_RUN.finditer(text), None]:
        end = m.start() if m is not None else len(text)
        for a, b in _words(text[pos:end]):
            word = text[pos + a : pos + b]
            # a word of marks alone is no word to FTS5: its empty phrase would match nothing
            if any(unicodedata.category(ch)[0] in "LN" for ch in word):
                out.append(_Term(word, cjk=False))
        if m is not None:
            out.append(_Term(m.group(), cjk=True))
            pos = m.end()
    return out


def _quoted(term: _Term) -> str:
    body = " ".join(_bigrams(term.text)) if term.cjk and len(term.text) > 1 else term.text
    return '"' + body.replace('"', '""') + '"' + ("*" if term.prefix else "")


def _phrase_expression(phrase: str) -> str | None:
    terms = _terms(phrase)
    return " AND ".join(_quoted(t) for t in terms) if terms else None


def match_expression(include: Sequence[str], exclude: Sequence[str] = ()) -> str | None:
    """The FTS5 ``MATCH`` string of photos holding every word of every ``include`` phrase and
    no phrase of ``exclude`` (all of whose words count as that phrase); None when the include
    phrases hold no word at all (FTS5 cannot ask for "everything but")."""
    wanted = [e for e in map(_phrase_expression, include) if e]
    if not wanted:
        return None
    expression = " AND ".join(f"({e})" for e in wanted)
    unwanted = [e for e in map(_phrase_expression, exclude) if e]
    if unwanted:
        expression = f"({expression}) NOT ({' OR '.join(f'({e})' for e in unwanted)})"
    return expression


# --- snippets -----------------------------------------------------------------------------


def _fold(text: str) -> str:
    """Case and diacritics folded, as unicode61 with remove_diacritics compares words."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


@dataclass(frozen=True)
class Snippet:
    """A window of a photo's text around the words a query matched."""

    text: str  # a window of the original text, "…" where it was cut
    marks: tuple[tuple[int, int], ...]  # [start, end) of each matched word in ``text``

    def marked(self, open: str = "[", close: str = "]") -> str:
        """The text with each matched word between ``open`` and ``close``."""
        out, pos = [], 0
        for start, end in self.marks:
            out += [self.text[pos:start], open, self.text[start:end], close]
            pos = end
        out.append(self.text[pos:])
        return "".join(out)


def _matches(text: str, terms: Sequence[_Term]) -> list[tuple[int, int]]:
    """[start, end) in ``text`` of every word the terms match, in order, not overlapping."""
    found: list[tuple[int, int]] = []
    plain = [(_fold(t.text), t.prefix) for t in terms if not t.cjk]
    cjk = [unicodedata.normalize("NFKC", t.text).casefold() for t in terms if t.cjk]
    if plain:
        for start, end in _words(text):
            word = _fold(text[start:end])
            if any(word.startswith(q) if prefix else word == q for q, prefix in plain):
                found.append((start, end))
    if cjk:
        for run in _CJK_RUN.finditer(text):
            # NFKC may merge or split characters: compare character by character
            folded, origin = "", []
            for i, ch in enumerate(run.group()):
                piece = unicodedata.normalize("NFKC", ch).casefold()
                folded += piece
                origin += [run.start() + i] * len(piece)
            for q in cjk:
                at = folded.find(q)
                while at >= 0:
                    found.append((origin[at], origin[at + len(q) - 1] + 1))
                    at = folded.find(q, at + 1)
    found.sort()
    kept: list[tuple[int, int]] = []
    for start, end in found:
        if kept and start < kept[-1][1]:
            kept[-1] = (kept[-1][0], max(end, kept[-1][1]))
        else:
            kept.append((start, end))
    return kept


def snippet(text: str, include: Sequence[str], width: int = 80) -> Snippet | None:
    """About ``width`` characters of ``text`` around the first word matching ``include`` (the
    rules of :func:`match_expression`), whitespace collapsed, every match in it marked; None
    when no word of ``text`` matches."""
    terms = [t for phrase in include for t in _terms(phrase)]
    marks = _matches(text, terms) if terms and text else []
    if not marks:
        return None
    width = max(width, 1)
    first = marks[0]
    lo = max(0, first[0] - width // 3)
    hi = min(len(text), lo + width)
    lo = max(0, min(lo, hi - width))
    # cut at spaces, not inside words (unless that would lose the match)
    if lo > 0:
        space = text.find(" ", lo, first[0])
        if 0 <= space < lo + width // 6:
            lo = space + 1
    if hi < len(text):
        space = text.rfind(" ", max(first[1], hi - width // 6), hi)
        if space >= 0:
            hi = space
    return _window(text, marks, lo, hi)


def _window(text: str, marks: Sequence[tuple[int, int]], lo: int, hi: int) -> Snippet:
    """``text[lo:hi]`` with each whitespace run as one space (OCR lines become one line), "…"
    at cut ends, and the marks that lie inside it moved to its offsets."""
    chars: list[str] = []
    origin: list[int] = []  # index in text of each kept character
    for i in range(lo, hi):
        ch = text[i]
        if ch.isspace():
            if not chars or chars[-1] == " ":
                continue
            ch = " "
        chars.append(ch)
        origin.append(i)
    while chars and chars[-1] == " ":
        chars.pop()
        origin.pop()
    head = "…" if lo > 0 else ""
    tail = "…" if hi < len(text) else ""
    kept: list[tuple[int, int]] = []
    for start, end in marks:
        if lo <= start and end <= hi:
            # a matched word holds no whitespace: every character of it was kept
            a, b = bisect.bisect_left(origin, start), bisect.bisect_left(origin, end)
            if a < b:
                kept.append((a + len(head), b + len(head)))
    return Snippet(head + "".join(chars) + tail, tuple(kept))
