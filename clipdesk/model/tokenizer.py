"""CLIP's byte-level BPE tokenizer, run by the ``tokenizers`` library from a ``tokenizer.json``.

Tokenizers give numpy ids (:meth:`TextTokenizer.ids`) so that a text query served by ONNX
Runtime never imports torch; ``__call__`` wraps the same ids in a tensor for the torch towers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from tokenizers import Tokenizer

from clipdesk.common import limits
from clipdesk.common.errors import CheckpointError

if TYPE_CHECKING:
    import torch

CLIP_TOKENIZER_FILE = "tokenizer.json"
START_TOKEN = "<|startoftext|>"
END_TOKEN = "<|endoftext|>"


class TextTokenizer(Protocol):
    """What the engine needs from any family's tokenizer."""

    context_length: int  # the longest id sequence the text tower takes

    @property
    def vocab_size(self) -> int: ...

    def ids(self, texts: Sequence[str], pad_to_context: bool = False) -> np.ndarray:
        """int64 ids [n, L], padded the way the family's text tower expects."""
        ...

    def __call__(self, texts: Sequence[str], pad_to_context: bool = False) -> torch.Tensor:
        """:meth:`ids` as a LongTensor."""
        ...

    def recipe(self, folder: Path) -> dict[str, Any]:
        """A JSON-able description from which :func:`clipdesk.model.tokenizer_recipe.
        tokenizer_from_recipe` rebuilds this tokenizer; the files it names are written into
        ``folder`` and named relative to it."""
        ...


def padded_ids(ids: Sequence[Sequence[int]], width: int, pad_id: int) -> np.ndarray:
    """Rows of ids [n, width], each padded with ``pad_id`` after its ids."""
    out = np.full((len(ids), width), pad_id, dtype=np.int64)
    for row, seq in enumerate(ids):
        out[row, : len(seq)] = seq
    return out


def clean_text(text: str) -> str:
    """CLIP's clean-up: one space between words, no outer whitespace, lower case."""
    return " ".join(text.split()).lower()


def check_file_size(path: Path, what: str) -> None:
    """Refuse a tokenizer file (``what``: "tokenizer.json", "sentencepiece model") larger than
    any real one before it is read, or one that cannot be read, naming the file."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if size > limits.TOKENIZER_JSON_MAX_BYTES:
        raise CheckpointError(
            f"{path}: {size / 1e6:,.0f} MB, too large for a {what} "
            f"(at most {limits.TOKENIZER_JSON_MAX_BYTES / 1e6:.0f} MB)"
        )


def read_tokenizer_file(path: Path) -> Tokenizer:
    """A tokenizer.json, refused with the file's name when it is too large or unreadable."""
    check_file_size(path, "tokenizer.json")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on bad JSON
        raise CheckpointError(f"{path}: not a readable tokenizer.json ({exc})") from exc


class ClipTokenizer:
    def __init__(self, tokenizer: Tokenizer, context_length: int) -> None:
        if context_length < 2:
            raise CheckpointError(f"a context of {context_length} tokens is too short for CLIP")
        self._tok = tokenizer
        self.context_length = context_length
        sot, eot = tokenizer.token_to_id(START_TOKEN), tokenizer.token_to_id(END_TOKEN)
        if sot is None or eot is None:
            raise CheckpointError(
                f"the tokenizer has no {START_TOKEN} / {END_TOKEN} tokens; it is not a CLIP tokenizer"
            )
        self.sot_id, self.eot_id = sot, eot
        # We add the start/end tokens ourselves so that truncation always keeps the end token.
        self._tok.no_truncation()
        self._tok.no_padding()

    @classmethod
    def from_file(cls, path: str | Path, context_length: int) -> ClipTokenizer:
        return cls(read_tokenizer_file(Path(path)), context_length)

    @classmethod
    def from_str(cls, json_text: str, context_length: int) -> ClipTokenizer:
        return cls(Tokenizer.from_str(json_text), context_length)

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    def to_str(self) -> str:
        return self._tok.to_str()

    def save(self, path: str | Path) -> None:
        self._tok.save(str(path))

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids with start and end tokens, at most ``context_length`` long."""
        body_max = self.context_length - 2
        # Bounding characters first keeps a 10,000-character paste cheap; a BPE token spans
        # at least one character, so nothing that could fit is lost.
        cleaned = [clean_text(t[: body_max * 64]) for t in texts]
        encodings = self._tok.encode_batch(cleaned, add_special_tokens=False)
        return [[self.sot_id, *e.ids[:body_max], self.eot_id] for e in encodings]

    def ids(self, texts: Sequence[str], pad_to_context: bool = False) -> np.ndarray:
        """int64 ids [n, L] padded with 0 to the longest text (or the full context)."""
        ids = self.encode(texts)
        width = self.context_length if pad_to_context else max((len(i) for i in ids), default=2)
        return padded_ids(ids, width, 0)

    def __call__(self, texts: Sequence[str], pad_to_context: bool = False) -> torch.Tensor:
        import torch

        return torch.from_numpy(self.ids(texts, pad_to_context))

    def recipe(self, folder: Path) -> dict[str, Any]:
        (folder / CLIP_TOKENIZER_FILE).write_text(self.to_str(), encoding="utf-8")
        return {
            "kind": "clip-bpe",
            "tokenizer_file": CLIP_TOKENIZER_FILE,
            "context_length": self.context_length,
            "vocab_size": self.vocab_size,
        }
