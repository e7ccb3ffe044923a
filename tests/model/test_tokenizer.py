"""ClipDesk's tokenizer against transformers' CLIPTokenizer built from the same official vocabulary."""

from __future__ import annotations

import pytest

from clipdesk.model.state_dicts import default_clip_tokenizer
from clipdesk.model.tokenizer import ClipTokenizer, clean_text
from tests.model import hf_reference as ref

pytest.importorskip("transformers")

TRICKY = [
    "",
    " ",
    "a photo of a cat",
    "A PHOTO OF A CAT",
    "🐶🐱 emoji!! 👩‍👩‍👧‍👦 🇯🇵",
    "日本語のテキスト、中文字符와 한국어",
    "café naïve Ångström Crème brûlée",
    "e\u0301te\u0301 (combining accents)",
    "Hello,   World!\n\n\tTabs\r\nand\u00a0no-break\u2003em space",
    "  leading and trailing  ",
    "don't it's we're I'll you've she'd I'M",
    "'quoted' “curly” ‘single’ ``ticks``",
    "123 4567 3.14159 1,000,000 2nd 10th",
    "punctuation... !!! ??? -- (brackets) [x] {y} <z> @#$%^&*",
    "https://example.com/a?b=c&d=e#f",
    "İstanbul straße ﬁ ligature",
    "\u200bzero\u200bwidth",
    "<|endoftext|> typed by a user",
    "x" * 10_000,
    "word " * 100,
    "😀" * 60,
    "long caption with many words " * 30,
]


@pytest.fixture(scope="module")
def theirs(tmp_path_factory):
    return ref.hf_tokenizer(tmp_path_factory.mktemp("vocab"))


@pytest.fixture(scope="module")
def ours():
    return default_clip_tokenizer(77)


@pytest.mark.parametrize("text", TRICKY, ids=lambda t: repr(t[:24]))
def test_ids_match_transformers(ours, theirs, text):
    expected = theirs(text, truncation=True, max_length=77)["input_ids"]
    assert ours.encode([text])[0] == expected


def test_reads_the_tokenizer_json_transformers_writes(ours, theirs, tmp_path):
    theirs.save_pretrained(str(tmp_path))
    loaded = ClipTokenizer.from_file(tmp_path / "tokenizer.json", 77)
    assert loaded.encode(TRICKY) == ours.encode(TRICKY)


def test_long_input_is_truncated_keeping_end_of_text(ours):
    ids = ours(["x" * 10_000, "a cat"], pad_to_context=True)
    assert ids.shape == (2, 77)
    assert ids[0, 0] == ours.sot_id and ids[0, 76] == ours.eot_id
    assert ids[1].tolist()[:4] == [ours.sot_id, 320, 2368, ours.eot_id]
    assert ids[1, 4:].eq(0).all()


def test_batch_pads_to_longest_and_empty_batch(ours):
    ids = ours(["a", "a photo of a cat"])
    assert ids.shape == (2, 7)
    assert ours([]).shape == (0, 2)


def test_clean_text():
    assert clean_text("  Hello\n\tWORLD  ") == "hello world"


def test_not_a_clip_tokenizer_is_refused(tmp_path):
    from tokenizers import Tokenizer, models

    from clipdesk.common.errors import CheckpointError

    path = tmp_path / "tokenizer.json"
    Tokenizer(models.BPE()).save(str(path))
    with pytest.raises(CheckpointError, match="not a CLIP tokenizer"):
        ClipTokenizer.from_file(path, 77)
    path.write_text("{not json")
    with pytest.raises(CheckpointError, match="tokenizer.json"):
        ClipTokenizer.from_file(path, 77)
