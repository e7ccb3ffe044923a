"""SigLIP (v1)'s tokenizer: a sentencepiece model (``spiece.model``) and SigLIP's text clean-up.

SigLIP v1 repositories ship only the sentencepiece model, which transformers' ``SiglipTokenizer``
runs with steps of its own; the same steps are taken here so ClipDesk's ids are the ones the
published model sees there: the text is lower-cased, ASCII punctuation is removed and runs of
whitespace become one space; the encoding starts at a word boundary (sentencepiece is given the
unknown-token text in front, whose pieces are then dropped: this is how transformers keeps
sentencepiece from adding a second word-start marker); ``</s>`` ends it and survives
truncation; ``</s>`` pads it to 64 tokens, as SigLIP was trained.

Unlike transformers, special-token text typed by the user (``</s>``) stays text: a search query
never ends a sequence early.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sentencepiece import SentencePieceProcessor

from clipdesk.common.errors import CheckpointError
from clipdesk.model.tokenizer import check_file_size, padded_ids

if TYPE_CHECKING:
    import torch

SPIECE_FILE = "spiece.model"
WORD_START = "\u2581"  # sentencepiece's "▁", a space before a piece
_NO_PUNCTUATION = str.maketrans("", "", string.punctuation)
_WHITESPACE = re.compile(r"\s+")


def canonicalize(text: str, lowercase: bool = True) -> str:
    """transformers' SiglipTokenizer.canonicalize_text (after big_vision's zero-shot prompts)."""
    if lowercase:
        text = text.lower()
    text = text.translate(_NO_PUNCTUATION)
    return _WHITESPACE.sub(" ", text).strip()


def read_sentencepiece(path: Path) -> SentencePieceProcessor:
    """A sentencepiece model file, refused with its name when it is too large or unreadable."""
    check_file_size(path, "sentencepiece model")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    processor = SentencePieceProcessor()
    try:
        processor.LoadFromSerializedProto(data)
    except (RuntimeError, OSError, TypeError) as exc:
        raise CheckpointError(f"{path}: not a readable sentencepiece model ({exc})") from exc
    return processor


class SiglipSentencePieceTokenizer:
    """Satisfies :class:`clipdesk.model.tokenizer.TextTokenizer`; rows always have
    ``context_length`` ids (the text tower reads the last position). The special tokens and
    ``lowercase`` are as tokenizer_config.json gives them (the defaults are SiglipTokenizer's);
    ``source`` names the file in errors."""

    def __init__(
        self,
        processor: SentencePieceProcessor,
        context_length: int,
        *,
        eos_token: str = "</s>",
        pad_token: str = "</s>",
        unk_token: str = "<unk>",
        lowercase: bool = True,
        source: Path | str = SPIECE_FILE,
    ) -> None:
        if context_length < 2:
            raise CheckpointError(f"{source}: a context of {context_length} tokens is too short")
        self._sp = processor
        self.context_length = context_length
        self.eos_id = self._piece_id(eos_token, "eos_token", source)
        self.pad_id = self._piece_id(pad_token, "pad_token", source)
        self._specials = {"eos_token": eos_token, "pad_token": pad_token, "unk_token": unk_token}
        self._unk_text = unk_token
        self._unk_pieces = len(processor.encode(unk_token))
        self._lowercase = lowercase

    def _piece_id(self, piece: str, role: str, source: Path | str) -> int:
        piece_id = self._sp.piece_to_id(piece)
        if self._sp.id_to_piece(piece_id) != piece:
            raise CheckpointError(f"{source}: has no piece {piece!r} (the {role})")
        return int(piece_id)

    @property
    def vocab_size(self) -> int:
        return int(self._sp.get_piece_size())

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Ids ending with the end token, at most ``context_length`` long."""
        body_max = self.context_length - 1
        # A piece covers at least one character: the cut keeps a 10,000-character paste cheap.
        words = [WORD_START + t[: body_max * 64].replace(WORD_START, " ") for t in texts]
        prefixed = [self._unk_text + canonicalize(w, self._lowercase) for w in words]
        out = []
        for pieces in self._sp.encode(prefixed):
            body = pieces[self._unk_pieces :] if len(pieces) >= self._unk_pieces else pieces
            out.append([*body[:body_max], self.eos_id])
        return out

    def ids(self, texts: Sequence[str], pad_to_context: bool = False) -> np.ndarray:
        """int64 ids [n, context_length], padded after the end token."""
        return padded_ids(self.encode(texts), self.context_length, self.pad_id)

    def __call__(self, texts: Sequence[str], pad_to_context: bool = False) -> torch.Tensor:
        import torch

        return torch.from_numpy(self.ids(texts, pad_to_context))

    def recipe(self, folder: Path) -> dict[str, Any]:
        (folder / SPIECE_FILE).write_bytes(self._sp.serialized_model_proto())
        return {
            "kind": "siglip-spiece",
            "model_file": SPIECE_FILE,
            "context_length": self.context_length,
            "vocab_size": self.vocab_size,
            **self._specials,
            "lowercase": self._lowercase,
        }
