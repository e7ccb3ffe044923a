"""Every family's tokenizer, as its loader builds it, written as a recipe and rebuilt from it:
the ids are the original's for any text, the rebuilding needs no torch, and a recipe that is
damaged or hostile is refused by name."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clipdesk.common import limits
from clipdesk.common.errors import CheckpointError
from clipdesk.model.tokenizer import TextTokenizer
from clipdesk.model.tokenizer_recipe import tokenizer_from_recipe
from tests.support.conformance import TEXTS
from tests.support.tokenizer_folders import (
    save_siglip2_tokenizer,
    save_siglip_tokenizer,
    save_xlmr_tokenizer,
)

pytest.importorskip("transformers")
pytest.importorskip("google.protobuf", reason="transformers' SiglipTokenizer needs protobuf")

# Tokenizer-level edge cases beside the conformance texts: case, entities and control
# characters (OpenCLIP's clean-up), typed special tokens, word-start markers, runs of spaces.
RECIPE_TEXTS = [
    *TEXTS,
    "A Photo of TWO Dogs, running (FAST)!",
    "“smart quotes” don’t &amp; fish &lt;3 &amp;amp;amp;",
    "ＬＯＵＤ　ＮＯＩＳＥＳ ﬁsh \x07bell\u200b\ufeff",
    "<|startoftext|> <|endoftext|> </s> <pad> <s> typed by a user",
    "word\u2581marker\u2581and\ttabs\r\n  ",
    "İstanbul'da straße ΟΔΟΣ στην Αθήνα 一只猫在沙发上睡觉",
    "word " * 200,
    " ",
]


def _clip_demo() -> TextTokenizer:
    from clipdesk.model import manager
    from clipdesk.model.checkpoint import load_checkpoint

    path = manager.find_model("clipdesk-mini")
    if path is None:
        pytest.fail("the bundled demo model models/clipdesk-mini is missing")
    return load_checkpoint(path).tokenizer


def _clip_default() -> TextTokenizer:
    from clipdesk.model.state_dicts import default_clip_tokenizer

    return default_clip_tokenizer(77)


def _xlmr(root: Path) -> TextTokenizer:
    """The XLM-R conformance test's small unigram tokenizer, saved by transformers and read by
    the OpenCLIP hub loader's own tokenizer step."""
    from clipdesk.model.families import xlmr

    save_xlmr_tokenizer(root)
    return xlmr._tokenizer(root / "tokenizer.json", 77, pad_id=1)


def _siglip_v1(root: Path) -> TextTokenizer:
    from clipdesk.model.families.siglip_load import read_tokenizer

    return read_tokenizer(save_siglip_tokenizer(root), 64)


def _siglip_v1_cased(root: Path) -> TextTokenizer:
    """SigLIP v1 with the options tokenizer_config.json may change: case kept, <pad> pads."""
    from clipdesk.model.families.siglip_load import read_tokenizer

    _siglip_v1(root)
    config_path = root / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config.update(do_lower_case=False, pad_token="<pad>")
    config_path.write_text(json.dumps(config))
    return read_tokenizer(root, 16)


def _siglip2(root: Path) -> TextTokenizer:
    from clipdesk.model.families.siglip_load import read_tokenizer

    return read_tokenizer(save_siglip2_tokenizer(root), 64)


BUILDERS = {
    "clip-demo": lambda root: _clip_demo(),
    "clip-default": lambda root: _clip_default(),
    "xlmr": _xlmr,
    "siglip-v1": _siglip_v1,
    "siglip-v1-cased": _siglip_v1_cased,
    "siglip2": _siglip2,
}


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory) -> dict[str, TextTokenizer]:
    return {
        name: build(tmp_path_factory.mktemp(f"source-{name}")) for name, build in BUILDERS.items()
    }


def _round_trip(tokenizer: TextTokenizer, folder: Path) -> dict:
    """The recipe as the runtime cache keeps it: through JSON text, in a folder of its own."""
    folder.mkdir()
    return json.loads(json.dumps(tokenizer.recipe(folder)))


def _batches() -> list[list[str]]:
    """The whole list, each text alone, rows of different lengths, no text at all."""
    return [
        RECIPE_TEXTS,
        *([t] for t in RECIPE_TEXTS),
        ["a", "a much longer caption of a dog on a beach", ""],
        [],
    ]


@pytest.mark.parametrize("name", BUILDERS)
def test_rebuilt_tokenizer_gives_the_original_ids(tokenizers, name, tmp_path):
    original = tokenizers[name]
    recipe = _round_trip(original, tmp_path / "cache")
    rebuilt = tokenizer_from_recipe(recipe, tmp_path / "cache")
    assert type(rebuilt) is type(original)
    assert (rebuilt.context_length, rebuilt.vocab_size) == (
        original.context_length,
        original.vocab_size,
    )
    for batch in _batches():
        for pad in (False, True):
            want = original.ids(batch, pad_to_context=pad)
            got = rebuilt.ids(batch, pad_to_context=pad)
            assert got.dtype == want.dtype == np.int64
            np.testing.assert_array_equal(got, want, err_msg=f"{batch[:1]!r} pad={pad}")


@pytest.mark.parametrize("name", BUILDERS)
def test_tensor_ids_are_the_numpy_ids(tokenizers, name):
    import torch

    tok = tokenizers[name]
    for pad in (False, True):
        ids = tok(RECIPE_TEXTS, pad_to_context=pad)
        assert ids.dtype == torch.long
        np.testing.assert_array_equal(ids.numpy(), tok.ids(RECIPE_TEXTS, pad_to_context=pad))
    assert tok.ids(["x" * 10_000]).shape[1] == tok.context_length


def test_rebuilding_from_a_recipe_imports_no_torch(tokenizers, tmp_path):
    for name, tok in tokenizers.items():
        # Recipes write files of the same names, so each gets a folder of its own.
        (tmp_path / name).mkdir()
        (tmp_path / f"{name}.json").write_text(json.dumps(tok.recipe(tmp_path / name)))
    (tmp_path / "texts.json").write_text(json.dumps(RECIPE_TEXTS))
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from clipdesk.model.tokenizer_recipe import tokenizer_from_recipe\n"
        "root = Path(sys.argv[1])\n"
        "texts = json.loads((root / 'texts.json').read_text())\n"
        "out = {}\n"
        f"for name in {list(tokenizers)!r}:\n"
        "    recipe = json.loads((root / f'{name}.json').read_text())\n"
        "    out[name] = tokenizer_from_recipe(recipe, root / name).ids(texts).tolist()\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    ids = json.loads(done.stdout)
    for name, tok in tokenizers.items():
        assert ids[name] == tok.ids(RECIPE_TEXTS).tolist(), name


KINDS = {"clip-bpe": "clip-default", "hub": "xlmr", "siglip-spiece": "siglip-v1"}


@pytest.fixture
def recipes(tokenizers, tmp_path) -> dict[str, tuple[dict, Path]]:
    """One recipe of each kind with its folder, which also holds files a damaged recipe might
    name: bytes that are no tokenizer, and another family's tokenizer.json."""
    tokenizers["xlmr"].recipe(tmp_path)
    out = {}
    for kind, name in KINDS.items():
        folder = tmp_path / kind
        folder.mkdir()
        out[kind] = (tokenizers[name].recipe(folder), folder)
        (folder / "junk.bin").write_bytes(bytes(range(256)) * 4)
        (folder / "xlmr.json").write_bytes((tmp_path / "tokenizer.json").read_bytes())
    return out


@pytest.mark.parametrize(
    ("kind", "change", "message"),
    [
        ("clip-bpe", {"kind": "word-piece"}, "kind 'word-piece' is not one ClipDesk builds"),
        ("clip-bpe", {"kind": None}, "kind None"),
        ("clip-bpe", {"context_length": "77"}, "context_length is '77', not a whole number"),
        ("clip-bpe", {"context_length": True}, "context_length is True"),
        ("clip-bpe", {"context_length": 10**9}, "context_length is 1000000000"),
        ("clip-bpe", {"context_length": 1}, "context of 1 tokens is too short"),
        ("hub", {"context_length": 2}, "adds 2 special tokens, but the model reads only 2"),
        ("clip-bpe", {"tokenizer_file": "../tokenizer.json"}, "not a plain file name"),
        ("clip-bpe", {"tokenizer_file": "/etc/passwd"}, "not a plain file name"),
        ("clip-bpe", {"tokenizer_file": "sub\\tokenizer.json"}, "not a plain file name"),
        ("clip-bpe", {"tokenizer_file": 7}, "tokenizer_file is 7"),
        ("clip-bpe", {"tokenizer_file": "gone.json"}, r"gone\.json: cannot be read"),
        ("clip-bpe", {"vocab_size": 1234}, "has 49408 tokens, but the tokenizer recipe"),
        ("clip-bpe", {"tokenizer_file": "xlmr.json"}, r"xlmr\.json: the tokenizer has no <\|st"),
        ("clip-bpe", {"extra": 1}, r"unknown fields \['extra'\]"),
        ("hub", {"clean": "eval"}, "clean is 'eval', not null or one of \\['open_clip'\\]"),
        ("hub", {"padding": "left"}, "padding is 'left'"),
        ("hub", {"pad_id": -1}, "pad_id is -1"),
        ("hub", {"pad_id": 100_000}, "padding id 100000 is outside the vocabulary"),
        ("siglip-spiece", {"eos_token": "<nope>"}, "has no piece '<nope>' \\(the eos_token\\)"),
        ("siglip-spiece", {"lowercase": "yes"}, "lowercase is 'yes', not true or false"),
        ("siglip-spiece", {"model_file": "junk.bin"}, "junk.bin: not a readable sentencepiece"),
        ("hub", {"tokenizer_file": "junk.bin"}, "junk.bin: not a readable tokenizer.json"),
    ],
)
def test_malformed_recipe_is_refused_by_name(recipes, kind, change, message):
    recipe, folder = recipes[kind]
    with pytest.raises(CheckpointError, match=message):
        tokenizer_from_recipe({**recipe, **change}, folder)


@pytest.mark.parametrize("drop", ["context_length", "tokenizer_file", "vocab_size"])
def test_recipe_without_a_field_is_refused(recipes, drop):
    recipe, folder = recipes["clip-bpe"]
    recipe = {k: v for k, v in recipe.items() if k != drop}
    with pytest.raises(
        CheckpointError, match=f"manifest.json: the clip-bpe tokenizer recipe has no {drop}"
    ):
        tokenizer_from_recipe(recipe, folder, source="manifest.json")


def test_recipe_that_is_not_an_object_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="manifest.json: the tokenizer recipe is list"):
        tokenizer_from_recipe(["clip-bpe"], tmp_path, source="manifest.json")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["clip-bpe", "hub", "siglip-spiece"])
def test_tokenizer_file_over_the_size_limit_is_refused(recipes, monkeypatch, kind):
    recipe, folder = recipes[kind]
    monkeypatch.setattr(limits, "TOKENIZER_JSON_MAX_BYTES", 1000)
    with pytest.raises(CheckpointError, match="too large for a"):
        tokenizer_from_recipe(recipe, folder)


def test_a_clean_up_outside_the_registry_has_no_recipe(tokenizers, tmp_path):
    from clipdesk.model.families.hub_tokenizer import HubTokenizer
    from clipdesk.model.tokenizer import read_tokenizer_file

    xlmr = tokenizers["xlmr"]
    xlmr.recipe(tmp_path)
    tok = HubTokenizer(
        read_tokenizer_file(tmp_path / "tokenizer.json"), 16, pad_id=1, clean=str.upper
    )
    with pytest.raises(ValueError, match="not in hub_tokenizer.CLEANERS"):
        tok.recipe(tmp_path)
