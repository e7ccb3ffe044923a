"""Search queries: phrases, images and photos with weights, parsed and turned into one vector.

Query syntax (the search box and ``clipdesk-cli search`` share it)::

    kids on a beach at sunset          one phrase, weight 1
    beach +0.5 sunset -people          beach (1) + sunset (0.5) - people (1)
    dog -0.3 leash                     dog, pushed a little away from "leash"
    red car +photo:42                  a phrase plus a photo's own vector ("more like this")
    "-80s poster" +2 neon              double quotes keep + and - as plain text

- A phrase runs until the next word that starts with ``+`` or ``-``; ``t-shirt`` is one word.
- ``+`` / ``-`` alone or glued to the phrase (``-people``) means weight +1 / -1; followed by a
  number (``+0.5 sunset``, ``-2 people``) that number is the weight.
- ``photo:ID`` is the stored vector of photo ID, with the weight in front of it if any.
- An image (a file, or an image dropped/pasted in the app) joins a query through
  :meth:`Query.with_image`; ``clipdesk-cli search --image PATH [--image-weight W]``.

Every part is embedded to a unit vector, the parts are summed with their weights and the sum is
normalised again, so ``beach +0.5 sunset`` ranks by ``cos(photo, beach + 0.5 * sunset)``.
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
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from clipdesk.common.errors import ClipDeskError

if TYPE_CHECKING:
    from PIL import Image

    from clipdesk.model.engine import ClipModel


class QueryError(ClipDeskError):
    """A query that cannot be understood or embedded."""


_WEIGHT = re.compile(r"^[+-](\d+(\.\d*)?|\.\d+)$")
_PHOTO = re.compile(r"^photo:(\d+)$", re.IGNORECASE)

TermKind = Literal["text", "image", "photo"]


@dataclass(frozen=True)
class Term:
    kind: TermKind
    value: Any  # str (text), Path or PIL.Image (image), int (photo id)
    weight: float = 1.0

    def describe(self) -> str:
        sign = "-" if self.weight < 0 else "+"
        w = abs(self.weight)
        what = {
            "text": lambda: repr(self.value),
            "photo": lambda: f"photo:{self.value}",
            "image": lambda: f"image:{getattr(self.value, 'name', 'in-memory')}",
        }[self.kind]()
        return f"{sign}{'' if w == 1 else f'{w:g} '}{what}"


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
    sign: float | None = None  # an operator read, waiting for the phrase or photo it weighs

    def flush() -> None:
        if words:
            terms.append(Term("text", " ".join(words), phrase_weight))
            words.clear()

    def operator(value: float, token: str) -> None:
        nonlocal sign
        flush()
        if sign is not None:
            raise QueryError(
                f"Two weights in a row ({token!r}) in {text!r}.",
                "Write one weight before each phrase: beach +0.5 sunset.",
            )
        sign = value

    for token, is_quoted in zip(tokens, quoted, strict=True):
        if not is_quoted:
            if _WEIGHT.match(token):
                operator(float(token), token)
                continue
            if token in ("+", "-"):
                operator(1.0 if token == "+" else -1.0, token)
                continue
            if token[0] in "+-":
                operator(1.0 if token[0] == "+" else -1.0, token)
                token = token[1:]
            photo = _PHOTO.match(token)
            if photo:
                flush()
                terms.append(Term("photo", int(photo.group(1)), 1.0 if sign is None else sign))
                sign = None
                continue
        if sign is not None or not words:
            flush()
            phrase_weight = 1.0 if sign is None else sign
            sign = None
        words.append(token)
    if sign is not None:
        raise QueryError(
            f"The weight at the end of {text!r} has no phrase after it.",
            "Write the phrase after its weight: beach +0.5 sunset.",
        )
    flush()
    return terms


def _quoted_flags(text: str, tokens: list[str]) -> list[bool]:
    """Whether each shlex token was quoted in the source (quoted text is never an operator)."""
    quoted, pos = [], 0
    for _ in tokens:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        is_quoted = pos < len(text) and text[pos] == '"'
        quoted.append(is_quoted)
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
        texts = [t.value for t in query.terms if t.kind == "text"]
        text_vecs = dict(zip(texts, self.text_vectors(texts), strict=True)) if texts else {}
        total = np.zeros(self.model.dim, dtype=np.float64)
        for term in query.terms:
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
                f"The parts of the query cancel out: {query.describe()}.",
                "Change the weights so that something is left to search for.",
            )
        return (total / norm).astype(np.float32)
