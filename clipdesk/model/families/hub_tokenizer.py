"""A tokenizer read from a Hugging Face ``tokenizer.json``, for text towers that are not CLIP's.

SigLIP2's Gemma tokenizer and XLM-RoBERTa's sentencepiece-derived one are run by the
``tokenizers`` library as the file describes them: its normaliser, pre-tokeniser, model and
post-processor (the special tokens around each text: ``<s> … </s>``, ``… <eos>``). What
transformers adds on top is reproduced here: ``tokenizer_config.json``'s ``add_bos_token`` /
``add_eos_token``, when given, replace the file's post-processor; its ``pad_token`` pads;
truncation drops text but never the special tokens; a family may ask for an extra normaliser
(SigLIP2 was trained on lower-cased text) or a Python clean-up of each text, one of
:data:`CLEANERS`, which a tokenizer recipe names.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from tokenizers import Tokenizer, normalizers, processors

from clipdesk.common.errors import CheckpointError
from clipdesk.model.tokenizer import padded_ids, read_tokenizer_file

if TYPE_CHECKING:
    import torch

# "max_length": every row is context_length long (towers that read the last position, as
# SigLIP's, were trained that way); "longest": rows as long as the longest text of the batch.
Padding = Literal["max_length", "longest"]

TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"

# What ftfy.fix_text (OpenCLIP's first clean-up step; ftfy is not a dependency of ours) changes
# in text that is not mojibake, beyond what XLM-R's own NFKC normaliser does anyway (character
# widths, ligatures, NFC): control characters removed, curly quotes straightened.
_FTFY = str.maketrans(
    {
        **dict.fromkeys([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F], None),
        **dict.fromkeys([*range(0x206A, 0x2070), 0xFEFF, *range(0xFFF9, 0xFFFD)], None),
        **dict.fromkeys(map(ord, "\u02bc\u2018\u2019\u201a\u201b"), "'"),
        **dict.fromkeys(map(ord, "\u201c\u201d\u201e\u201f"), '"'),
    }
)


def open_clip_clean(text: str) -> str:
    """OpenCLIP's "whitespace" clean-up of text for HF tokenizers (ftfy, HTML entities decoded
    twice, whitespace runs made one space)."""
    if "<" not in text:
        # ftfy decodes entities, repeatedly, only in text that does not look like HTML.
        decoded = html.unescape(text)
        while decoded != text:  # each round shortens the text, so this ends
            text, decoded = decoded, html.unescape(decoded)
    text = html.unescape(html.unescape(text.translate(_FTFY)))
    return " ".join(text.split())


# The Python clean-ups a HubTokenizer may run, by the name its recipe gives: a recipe names
# code, never carries it, so only these can be asked for.
CLEANERS: dict[str, Callable[[str], str]] = {"open_clip": open_clip_clean}


def token_text(value: object) -> str | None:
    """A special token as tokenizer_config.json writes it: a string, or an AddedToken object
    ``{"content": "<pad>", ...}``."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("content"), str):
        return str(value["content"])
    return None


def read_tokenizer_config(folder: Path) -> dict[str, Any]:
    """The folder's tokenizer_config.json, or an empty dict when it has none."""
    from clipdesk.model.checkpoint import read_json

    path = folder / TOKENIZER_CONFIG_FILE
    return read_json(path) if path.is_file() else {}


class HubTokenizer:
    """Satisfies :class:`clipdesk.model.tokenizer.TextTokenizer`."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        context_length: int,
        *,
        pad_id: int,
        padding: Padding = "longest",
        clean: Callable[[str], str] | None = None,
        source: Path | str = TOKENIZER_FILE,
    ) -> None:
        self._tok = tokenizer
        self.context_length = context_length
        self.pad_id = pad_id
        self.padding = padding
        self._clean = clean
        post = tokenizer.post_processor
        specials = post.num_special_tokens_to_add(False) if post is not None else 0
        if specials >= context_length:
            raise CheckpointError(
                f"{source}: the tokenizer adds {specials} special tokens, but the model reads "
                f"only {context_length}"
            )
        if not 0 <= pad_id < tokenizer.get_vocab_size(with_added_tokens=True):
            raise CheckpointError(f"{source}: padding id {pad_id} is outside the vocabulary")
        # The library truncates the text before the post-processor adds the special tokens, so
        # the end token survives a long text, as in transformers with truncation=True.
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=context_length)

    @classmethod
    def from_folder(
        cls,
        folder: Path,
        context_length: int,
        *,
        padding: Padding = "longest",
        normalizer: normalizers.Normalizer | None = None,
        clean: Callable[[str], str] | None = None,
        default_pad: str | None = None,
    ) -> HubTokenizer:
        """``folder/tokenizer.json`` with ``folder/tokenizer_config.json`` (if any) applied the
        way transformers applies it. ``normalizer`` runs before the file's own; ``clean`` is
        Python applied to each text before the library sees it; ``default_pad`` is the family's
        padding token (its tokenizer class's default) when neither file names one."""
        path = folder / TOKENIZER_FILE
        tok = read_tokenizer_file(path)
        config = read_tokenizer_config(folder)
        if normalizer is not None:
            own = tok.normalizer
            tok.normalizer = normalizers.Sequence([normalizer, own] if own else [normalizer])
        if "add_bos_token" in config or "add_eos_token" in config:
            tok.post_processor = _template(tok, config, path)
        return cls(
            tok,
            context_length,
            pad_id=_pad_id(tok, config, path, default_pad),
            padding=padding,
            clean=clean,
            source=path,
        )

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    def token_id(self, token: str) -> int | None:
        return self._tok.token_to_id(token)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids with the tokenizer's special tokens, at most ``context_length`` long."""
        # Bounding characters first keeps a 10,000-character paste cheap; every token covers at
        # least one character, so nothing that could fit is lost.
        bounded = [t[: self.context_length * 64] for t in texts]
        if self._clean is not None:
            bounded = [self._clean(t) for t in bounded]
        return [e.ids for e in self._tok.encode_batch(bounded, add_special_tokens=True)]

    def ids(self, texts: Sequence[str], pad_to_context: bool = False) -> np.ndarray:
        """int64 ids [n, L] padded with the pad id after each text."""
        ids = self.encode(texts)
        fixed = pad_to_context or self.padding == "max_length"
        width = self.context_length if fixed else max((len(i) for i in ids), default=1)
        return padded_ids(ids, width, self.pad_id)

    def __call__(self, texts: Sequence[str], pad_to_context: bool = False) -> torch.Tensor:
        import torch

        return torch.from_numpy(self.ids(texts, pad_to_context))

    def recipe(self, folder: Path) -> dict[str, Any]:
        # The library's JSON holds what from_folder changed (the extra normaliser, the
        # post-processor from tokenizer_config.json), so no config file needs to travel along.
        (folder / TOKENIZER_FILE).write_text(self._tok.to_str(), encoding="utf-8")
        return {
            "kind": "hub",
            "tokenizer_file": TOKENIZER_FILE,
            "context_length": self.context_length,
            "vocab_size": self.vocab_size,
            "pad_id": self.pad_id,
            "padding": self.padding,
            "clean": self._clean_name(),
        }

    def _clean_name(self) -> str | None:
        if self._clean is None:
            return None
        for name, func in CLEANERS.items():
            if func is self._clean:
                return name
        raise ValueError(
            f"the clean-up {self._clean!r} is not in hub_tokenizer.CLEANERS, so no recipe can "
            "name it"
        )


def _special_id(tok: Tokenizer, config: Mapping[str, Any], key: str, path: Path) -> tuple[str, int]:
    text = token_text(config.get(key))
    token_id = tok.token_to_id(text) if text is not None else None
    if text is None or token_id is None:
        raise CheckpointError(
            f"{path.parent / TOKENIZER_CONFIG_FILE}: {key} {config.get(key)!r} is not a token "
            f"of {path.name}"
        )
    return text, token_id


def _template(
    tok: Tokenizer, config: Mapping[str, Any], path: Path
) -> processors.TemplateProcessing:
    """The post-processor built from add_bos_token / add_eos_token (false unless given) in place
    of the file's, as transformers 4 did on loading (5 does when they are passed to
    from_pretrained): the flags say what the model was trained with, e.g. SigLIP2's bos="no",
    eos="sticky", while the file may keep Gemma's own "<bos> $A"."""

    def flagged(flag: str, token: str) -> tuple[str, int] | None:
        return _special_id(tok, config, token, path) if config.get(flag) is True else None

    bos, eos = flagged("add_bos_token", "bos_token"), flagged("add_eos_token", "eos_token")

    def one(seq: str, type_id: int) -> str:
        parts = [f"{bos[0]}:{type_id}"] if bos else []
        parts.append(f"{seq}:{type_id}")
        return " ".join(parts + ([f"{eos[0]}:{type_id}"] if eos else []))

    single, pair = one("$A", 0), f"{one('$A', 0)} {one('$B', 1)}"
    specials = [t for t in (bos, eos) if t is not None]
    return processors.TemplateProcessing(single=single, pair=pair, special_tokens=specials)


def _pad_id(tok: Tokenizer, config: Mapping[str, Any], path: Path, default: str | None) -> int:
    """tokenizer_config.json's pad_token, else the padding tokenizer.json declares, else the
    family's default token."""
    if config.get("pad_token") is not None:
        return _special_id(tok, config, "pad_token", path)[1]
    declared = tok.padding
    if declared is not None:
        return int(declared["pad_id"])
    if default is not None:
        return _special_id(tok, {"pad_token": default}, "pad_token", path)[1]
    raise CheckpointError(
        f"{path}: names no padding token (no pad_token in {TOKENIZER_CONFIG_FILE}, no padding "
        "in tokenizer.json)",
        hint="the model's tokenizer files are incomplete; take them again from where the model "
        "came from",
    )
