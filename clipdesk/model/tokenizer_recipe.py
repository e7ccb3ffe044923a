"""A text tokenizer rebuilt from the JSON recipe its ``recipe(folder)`` wrote, without torch.

The ONNX runtime cache keeps each model's tokenizer as a recipe in its manifest plus the files
the recipe names (a ``tokenizer.json``, a ``spiece.model``) in the cache folder, so a text query
tokenizes without reading the model's own folder or importing the engine. A recipe is data from
disk: every field is checked, file names must be plain names inside the folder, files are held
to the tokenizer size limit, and a clean-up function is chosen by name from a fixed registry,
never loaded from the recipe. Anything else is a :class:`CheckpointError` naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from clipdesk.common import limits
from clipdesk.common.errors import CheckpointError
from clipdesk.common.fsnames import is_plain_name
from clipdesk.model.families.hub_tokenizer import CLEANERS, HubTokenizer
from clipdesk.model.tokenizer import ClipTokenizer, TextTokenizer, read_tokenizer_file

_Check = Callable[[object], bool]


def _in(bounds: tuple[int, int]) -> tuple[_Check, str]:
    lo, hi = bounds

    def check(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi

    return check, f"a whole number from {lo} to {hi}"


_FILE = (is_plain_name, "a plain file name in the folder")
_TOKEN = ((lambda v: isinstance(v, str) and v != ""), "a token's text")
_COMMON = {
    "context_length": _in(limits.MODEL_CONTEXT_LENGTH),
    "vocab_size": _in(limits.MODEL_VOCAB_SIZE),
}
# The fields of each kind's recipe besides "kind", each with its check and what it must be.
_FIELDS: dict[str, dict[str, tuple[_Check, str]]] = {
    "clip-bpe": {"tokenizer_file": _FILE, **_COMMON},
    "hub": {
        "tokenizer_file": _FILE,
        **_COMMON,
        "pad_id": _in((0, limits.MODEL_VOCAB_SIZE[1])),
        "padding": ((lambda v: v in ("max_length", "longest")), '"max_length" or "longest"'),
        "clean": (
            (lambda v: v is None or (isinstance(v, str) and v in CLEANERS)),
            f"null or one of {sorted(CLEANERS)}",
        ),
    },
    "siglip-spiece": {
        "model_file": _FILE,
        **_COMMON,
        "eos_token": _TOKEN,
        "pad_token": _TOKEN,
        "unk_token": _TOKEN,
        "lowercase": ((lambda v: isinstance(v, bool)), "true or false"),
    },
}


def tokenizer_from_recipe(
    recipe: Mapping[str, Any], folder: Path, *, source: Path | str | None = None
) -> TextTokenizer:
    """The tokenizer ``recipe`` describes, reading the files it names from ``folder``; its ids
    equal those of the tokenizer that wrote the recipe. ``source`` (default: the folder) names
    where the recipe came from in errors."""
    where = source if source is not None else folder
    fields = _checked(recipe, where)
    kind = recipe["kind"]
    if kind == "clip-bpe":
        path = folder / fields["tokenizer_file"]
        bpe = read_tokenizer_file(path)
        try:
            tokenizer: TextTokenizer = ClipTokenizer(bpe, fields["context_length"])
        except CheckpointError as exc:  # ClipTokenizer's refusal does not know the file
            raise CheckpointError(f"{path}: {exc.message}", exc.hint) from exc
    elif kind == "hub":
        path = folder / fields["tokenizer_file"]
        clean = fields["clean"]
        tokenizer = HubTokenizer(
            read_tokenizer_file(path),
            fields["context_length"],
            pad_id=fields["pad_id"],
            padding=fields["padding"],
            clean=CLEANERS[clean] if clean is not None else None,
            source=path,
        )
    else:
        from clipdesk.model.families.spiece_tokenizer import (
            SiglipSentencePieceTokenizer,
            read_sentencepiece,
        )

        path = folder / fields["model_file"]
        tokenizer = SiglipSentencePieceTokenizer(
            read_sentencepiece(path),
            fields["context_length"],
            eos_token=fields["eos_token"],
            pad_token=fields["pad_token"],
            unk_token=fields["unk_token"],
            lowercase=fields["lowercase"],
            source=path,
        )
    if tokenizer.vocab_size != fields["vocab_size"]:
        # Another model's file in the folder: its ids would mean other tokens.
        raise CheckpointError(
            f"{path}: has {tokenizer.vocab_size} tokens, but the tokenizer recipe in {where} "
            f"says {fields['vocab_size']}"
        )
    return tokenizer


def check_recipe(recipe: Mapping[str, Any], folder: Path) -> None:
    """Raise :class:`CheckpointError` unless ``recipe`` is one :func:`tokenizer_from_recipe`
    would take: every field as its kind needs, every file it names a file in ``folder``. Reads
    nothing, so a cache can refuse a damaged recipe before it is used."""
    fields = _checked(recipe, folder)
    for key, value in fields.items():
        if _FIELDS[recipe["kind"]][key] is _FILE and not (folder / value).is_file():
            raise CheckpointError(f"{folder}: the tokenizer recipe's {key} {value} is missing")


def _checked(recipe: object, where: Path | str) -> dict[str, Any]:
    """The recipe's fields once every one has the type and range its kind needs."""
    if not isinstance(recipe, Mapping):
        raise CheckpointError(
            f"{where}: the tokenizer recipe is {type(recipe).__name__}, not an object"
        )
    kind = recipe.get("kind")
    if not isinstance(kind, str) or kind not in _FIELDS:
        raise CheckpointError(
            f"{where}: tokenizer recipe kind {kind!r} is not one ClipDesk builds "
            f"({', '.join(_FIELDS)})"
        )
    expected = _FIELDS[kind]
    extra = sorted(set(recipe) - set(expected) - {"kind"})
    if extra:
        raise CheckpointError(f"{where}: the {kind} tokenizer recipe has unknown fields {extra}")
    for key, (check, meaning) in expected.items():
        if key not in recipe:
            raise CheckpointError(f"{where}: the {kind} tokenizer recipe has no {key}")
        if not check(recipe[key]):
            raise CheckpointError(
                f"{where}: tokenizer recipe {key} is {recipe[key]!r}, not {meaning}"
            )
    return {key: recipe[key] for key in expected}
