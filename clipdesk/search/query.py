"""Search queries: phrases, images and photos with weights, parsed and turned into one vector.

Query syntax (the search box and ``clipdesk-cli search`` share it)::

    kids on a beach at sunset          one phrase, weight 1
    beach +0.5 sunset -people          beach (1) + sunset (0.5) - people (1)
    dog -0.3 leash                     dog, pushed a little away from "leash"
    red car +photo:42                  a phrase plus a photo's own vector ("more like this")
    "-80s poster" +2 neon              double quotes keep + and - as plain text
    text:invoice                       only the words of photos (OCR, names, captions, tags)
    clip:a red sign                    only CLIP: the words in photos are not searched
    sunset -text:watermark             CLIP and words for sunset; no photo with "watermark"

- A phrase runs until the next word that starts with ``+`` or ``-``; ``t-shirt`` is one word.
- ``+`` / ``-`` alone or glued to the phrase (``-people``) means weight +1 / -1; followed by a
  number (``+0.5 sunset``, ``-2 people``) that number is the weight.
- ``photo:ID`` is the stored vector of photo ID, with the weight in front of it if any.
- A phrase answers in two ways: by CLIP (its vector) and by the words of photos (the library's
  text index: recognised text, file and folder names, captions, keywords, confirmed tags); the
  two rankings are fused (:mod:`clipdesk.search.fusion`). A phrase that starts with ``text:``
  is looked up in the words only, one that starts with ``clip:`` by CLIP only; the marker also
  starts a new phrase (``beach text:invoice`` is two). ``text: invoice`` (the marker on its
  own) marks the phrase after it. Quoted text is never a marker (``"text: me"`` is a phrase).
- In the words, every word of every positive phrase must be found; a negative phrase's words
  must not be (``beach -people``); a negative ``text:`` phrase leaves the photos that hold its
  words out of the whole answer, CLIP's part too. Only a weight's sign counts there.
- A query whose phrases are all ``text:`` needs no model at all (:attr:`Query.needs_model`).
- An image (a file, or an image dropped/pasted in the app) joins a query through
  :meth:`Query.with_image`; ``clipdesk-cli search --image PATH [--image-weight W]``.

Every CLIP part is embedded to a unit vector, the parts are summed with their weights and the
sum is normalised again, so ``beach +0.5 sunset`` ranks by ``cos(photo, beach + 0.5 * sunset)``.
Negative parts move the query away from what they describe. A query whose parts cancel out
(``beach -beach``) is refused with a clear message.
"""

from __future__ import annotations

import re
import shlex
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

from clipdesk.common.errors import ClipDeskError

if TYPE_CHECKING:
    from PIL import Image

    from clipdesk.model.engine import ClipModel


class QueryError(ClipDeskError):
    """A query that cannot be understood or embedded."""


_WEIGHT = re.compile(r"^[+-](\d+(\.\d*)?|\.\d+)$")
_PHOTO = re.compile(r"^photo:(\d+)$", re.IGNORECASE)
_MARKER = re.compile(r"^(text|clip):(.*)$", re.IGNORECASE | re.DOTALL)

TermKind = Literal["text", "image", "photo"]
# What answers a phrase: CLIP and the words of photos, CLIP alone, or the words alone.
Match = Literal["both", "clip", "text"]


@dataclass(frozen=True)
class Term:
    kind: TermKind
    value: Any  # str (text), Path or PIL.Image (image), int (photo id)
    weight: float = 1.0
    match: Match = "both"  # phrases only: images and photos are CLIP's alone whatever it says

    @property
    def for_clip(self) -> bool:
        return self.kind != "text" or self.match != "text"

    @property
    def for_words(self) -> bool:
        return self.kind == "text" and self.match != "clip"

    def describe(self) -> str:
        sign = "-" if self.weight < 0 else "+"
        w = abs(self.weight)
        marker = f"{self.match}:" if self.kind == "text" and self.match != "both" else ""
        what = {
            "text": lambda: _phrase_text(str(self.value)),
            "photo": lambda: f"photo:{self.value}",
            "image": lambda: f"image:{getattr(self.value, 'name', 'in-memory')}",
        }[self.kind]()
        return f"{sign}{'' if w == 1 else f'{w:g} '}{marker}{what}"


def _phrase_text(phrase: str) -> str:
    """A phrase as a user writes it (``blue star``), in double quotes only where a word would
    otherwise read as a weight or a marker (``"-5 dogs"``, ``"text: me"``)."""
    if any(word[:1] in "+-" or ":" in word for word in phrase.split()):
        return f'"{phrase}"'
    return phrase


@dataclass(frozen=True)
class WordQuery:
    """What a query asks of the words of photos (the library's text index)."""

    include: tuple[str, ...] = ()  # positive phrases: every word of each must be found
    exclude: tuple[str, ...] = ()  # negative phrases: none of a hit's words may be one of theirs
    banned: tuple[str, ...] = ()  # negative text: phrases: their photos leave the whole answer

    @property
    def is_empty(self) -> bool:
        """Nothing to look for (negative phrases alone find nothing)."""
        return not self.include


@dataclass(frozen=True)
class Query:
    terms: tuple[Term, ...] = field(default_factory=tuple)

    @classmethod
    def parse(cls, text: str) -> Query:
        return cls(tuple(parse_terms(text)))

    @classmethod
    def image(cls, image: Image.Image | str | Path, weight: float = 1.0) -> Query:
        return cls().with_image(image, weight)

    @classmethod
    def photo(cls, photo_id: int, weight: float = 1.0) -> Query:
        return cls((Term("photo", int(photo_id), float(weight)),))

    def with_image(self, image: Image.Image | str | Path, weight: float = 1.0) -> Query:
        from PIL import Image

        value = image if isinstance(image, Image.Image) else Path(image)
        return replace(self, terms=self.terms + (Term("image", value, float(weight)),))

    def with_photo(self, photo_id: int, weight: float = 1.0) -> Query:
        return replace(self, terms=self.terms + (Term("photo", int(photo_id), float(weight)),))

    @property
    def is_empty(self) -> bool:
        return not self.terms

    @property
    def photo_ids(self) -> list[int]:
        """Photos the query is built from ("more like this" should not return them)."""
        return [t.value for t in self.terms if t.kind == "photo" and t.weight > 0]

    @property
    def clip_part(self) -> Query:
        """The terms CLIP answers (every term but the ``text:`` phrases)."""
        return replace(self, terms=tuple(t for t in self.terms if t.for_clip))

    @property
    def needs_model(self) -> bool:
        """Whether answering takes the model: False for a query of ``text:`` phrases only."""
        return any(t.for_clip for t in self.terms)

    def words(self) -> WordQuery:
        """What the query asks of the words of photos (plain and ``text:`` phrases)."""
        phrases = [t for t in self.terms if t.for_words]
        return WordQuery(
            include=tuple(t.value for t in phrases if t.weight > 0),
            exclude=tuple(t.value for t in phrases if t.weight < 0),
            banned=tuple(t.value for t in phrases if t.weight < 0 and t.match == "text"),
        )

    def describe(self) -> str:
        return " ".join(t.describe() for t in self.terms).lstrip("+")


def parse_terms(text: str) -> list[Term]:
    """The terms of a query string (see the module docstring for the syntax)."""
    try:
        lexer = shlex.shlex(text, posix=True)
        lexer.whitespace_split = True
        lexer.commenters = ""
        lexer.escape = ""  # a backslash is an ordinary character in a photo search
        lexer.quotes = '"'  # not "'": "children's party" is a phrase, not an open quote
        tokens = list(lexer)
    except ValueError as exc:
        raise QueryError(
            f"Cannot read the query {text!r}: {exc}.", "Close the quotation mark, or remove it."
        ) from None
    quoted = _quoted_flags(text, tokens)
    terms: list[Term] = []
    words: list[str] = []
    phrase_weight = 1.0
    phrase_match: Match = "both"
    sign: float | None = None  # an operator read, waiting for the phrase or photo it weighs
    marker: str | None = None  # a marker read on its own ("text:"), waiting for its phrase

    def flush() -> None:
        if words:
            terms.append(Term("text", " ".join(words), phrase_weight, phrase_match))
            words.clear()

    def unmarked(token: str) -> None:
        if marker is not None:
            raise QueryError(
                f"{marker} in {text!r} has no words after it ({token!r} follows).",
                "Write the words right after the marker: text:invoice, clip:a red sign.",
            )

    def operator(value: float, token: str) -> None:
        nonlocal sign
        unmarked(token)
        flush()
        if sign is not None:
            raise QueryError(
                f"Two weights in a row ({token!r}) in {text!r}.",
                "Write one weight before each phrase: beach +0.5 sunset.",
            )
        sign = value

    for token, (is_quoted, quoted_after_sign) in zip(tokens, quoted, strict=True):
        if quoted_after_sign:  # +"5 dogs", -"text: me": the sign weighs words kept as written
            operator(1.0 if token[0] == "+" else -1.0, token)
            token = token[1:]
            if not token:
                continue  # +"" weighs the phrase after it
        elif not is_quoted:
            if _WEIGHT.match(token):
                operator(float(token), token)
                continue
            if token in ("+", "-"):
                operator(1.0 if token == "+" else -1.0, token)
                continue
            if token[0] in "+-":
                operator(1.0 if token[0] == "+" else -1.0, token)
                token = token[1:]
            marked = None if marker is not None else _MARKER.match(token)
            if marked:
                # A marker opens a phrase of its own, weighed by the operator before it.
                flush()
                phrase_weight = 1.0 if sign is None else sign
                phrase_match = cast(Match, marked.group(1).lower())
                sign = None
                token = marked.group(2)
                if not token:
                    marker = marked.group(0)
                    continue
                if _PHOTO.match(token):
                    raise QueryError(
                        f"{marked.group(1)}: cannot mark {token!r} in {text!r}: a photo is "
                        "searched by its vector only.",
                        f"Write {token} without the marker.",
                    )
                words.append(token)
                continue
            photo = _PHOTO.match(token)
            if photo:
                unmarked(token)
                flush()
                terms.append(Term("photo", int(photo.group(1)), 1.0 if sign is None else sign))
                sign = None
                continue
        if marker is not None:
            marker = None  # the marked phrase's first word: its weight and marker are set
        elif sign is not None or not words:
            flush()
            phrase_weight = 1.0 if sign is None else sign
            phrase_match = "both"
            sign = None
        words.append(token)
    if sign is not None:
        raise QueryError(
            f"The weight at the end of {text!r} has no phrase after it.",
            "Write the phrase after its weight: beach +0.5 sunset.",
        )
    if marker is not None:
        raise QueryError(
            f"{marker} at the end of {text!r} has no words after it.",
            "Write the words right after the marker: text:invoice, clip:a red sign.",
        )
    flush()
    return terms


def _quoted_flags(text: str, tokens: list[str]) -> list[tuple[bool, bool]]:
    """Whether each shlex token was quoted in the source (quoted text is never an operator),
    and whether it was quoted after a leading sign (``+"text: me"``: a weight, then words that
    are neither a marker nor a photo)."""
    quoted, pos = [], 0
    for _ in tokens:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        is_quoted = pos < len(text) and text[pos] == '"'
        signed = pos + 1 < len(text) and text[pos] in "+-" and text[pos + 1] == '"'
        quoted.append((is_quoted, signed))
        # Skip past this token in the source: to the next unquoted whitespace.
        in_quote: str | None = None
        while pos < len(text):
            ch = text[pos]
            if in_quote:
                if ch == in_quote:
                    in_quote = None
            elif ch == '"':
                in_quote = ch
            elif ch.isspace():
                break
            pos += 1
    return quoted


class QueryEncoder:
    """Turns a :class:`Query` into a unit vector with one model; caches phrase vectors.

    ``photo_vector(id)`` returns a stored photo vector (from the index or the store) or None;
    ``load_image(path)`` decodes an image file for the model (clipdesk.imaging.decode).
    """

    def __init__(
        self,
        model: ClipModel,
        photo_vector: Callable[[int], np.ndarray | None],
        cache_size: int = 1024,
    ) -> None:
        self.model = model
        self._photo_vector = photo_vector
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def text_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """float32 [n, dim], cached per (model id, text)."""
        key_model = self.model.id
        out: dict[str, np.ndarray] = {}
        with self._lock:
            for t in texts:
                hit = self._cache.get((key_model, t))
                if hit is not None:
                    self._cache.move_to_end((key_model, t))
                    out[t] = hit
        missing = [t for t in dict.fromkeys(texts) if t not in out]
        if missing:
            vecs = self.model.encode_texts(missing)
            with self._lock:
                for t, v in zip(missing, vecs, strict=True):
                    out[t] = v
                    self._cache[(key_model, t)] = v
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return (
            np.stack([out[t] for t in texts])
            if texts
            else np.zeros((0, self.model.dim), np.float32)
        )

    def image_vector(self, image: Image.Image | Path) -> np.ndarray:
        from PIL import Image

        from clipdesk.imaging.decode import DecodeError, decode_for_model, decode_image

        try:
            if isinstance(image, Image.Image):
                decoded = decode_image(image, self.model.image_size)
            else:
                decoded = decode_for_model(image, self.model.image_size)
        except DecodeError as exc:
            where = f" {image}" if not isinstance(image, Image.Image) else ""
            raise QueryError(
                f"Cannot use the image{where} as a query: {exc.reason}.",
                "Use a JPEG, PNG, WebP, HEIC, TIFF or RAW photo.",
            ) from None
        pixels = self.model.preprocess(decoded.image).unsqueeze(0)
        return self.model.encode_pixels(pixels).reshape(-1)  # one image: [1, dim] -> [dim]

    def encode(self, query: Query) -> np.ndarray:
        """The query's unit vector, float32 [dim]."""
        if query.is_empty:
            raise QueryError("The query is empty.", "Type a phrase or give an image.")
        clip = query.clip_part
        if clip.is_empty:
            raise QueryError(
                f"Nothing in {query.describe()} is for CLIP: text: phrases are looked up in the "
                "words of photos only.",
                "Drop text: from a phrase for CLIP to search it too.",
            )
        texts = [t.value for t in clip.terms if t.kind == "text"]
        text_vecs = dict(zip(texts, self.text_vectors(texts), strict=True)) if texts else {}
        total = np.zeros(self.model.dim, dtype=np.float64)
        for term in clip.terms:
            if term.kind == "text":
                vec = text_vecs[term.value]
            elif term.kind == "image":
                vec = self.image_vector(term.value)
            else:
                vec = self._photo_vector(term.value)
                if vec is None:
                    raise QueryError(
                        f"Photo {term.value} has no vector for this model yet.",
                        "Wait for indexing to finish, or pick another photo.",
                    )
            total += term.weight * np.asarray(vec, dtype=np.float64)
        norm = float(np.linalg.norm(total))
        if norm < 1e-6:
            raise QueryError(
                f"The parts of the query cancel out: {clip.describe()}.",
                "Change the weights so that something is left to search for.",
            )
        return (total / norm).astype(np.float32)
