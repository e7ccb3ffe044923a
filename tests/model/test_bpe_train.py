"""The demo model's tokenizer: BPE learned on captions, laid out like CLIP's own tokenizer.json."""

from __future__ import annotations

import json

import pytest

from clipdesk.model.bpe_train import train_caption_tokenizer, train_clip_tokenizer
from clipdesk.model.tokenizer import END_TOKEN, START_TOKEN, ClipTokenizer
from clipdesk.model.vocab import clip_tokenizer_json


@pytest.fixture(scope="module")
def tok() -> ClipTokenizer:
    return train_caption_tokenizer(n_captions=3000, n_merges=400, context_length=24)


def test_layout_mirrors_the_real_clip_tokenizer(tok):
    ours, real = json.loads(tok.to_str()), json.loads(clip_tokenizer_json())
    assert ours["normalizer"] == real["normalizer"]
    assert ours["pre_tokenizer"]["type"] == real["pre_tokenizer"]["type"]
    assert ours["pre_tokenizer"]["pretokenizers"][0] == real["pre_tokenizer"]["pretokenizers"][0]
    for key in ("type", "end_of_word_suffix", "continuing_subword_prefix", "unk_token"):
        assert ours["model"][key] == real["model"][key], key
    vocab = ours["model"]["vocab"]
    # 256 byte symbols, the same with </w>, merges, then start and end of text last
    assert vocab["!"] == 0 and vocab["!</w>"] == 256
    assert vocab[START_TOKEN] == len(vocab) - 2 and vocab[END_TOKEN] == len(vocab) - 1
    assert [t["content"] for t in ours["added_tokens"]] == [START_TOKEN, END_TOKEN]


def test_caption_words_are_single_tokens_and_text_is_cleaned(tok):
    ids = tok.encode(["Two  small RED triangles"])[0]
    assert ids[0] == tok.sot_id and ids[-1] == tok.eot_id and len(ids) == 6
    assert tok.encode(["two small red triangles"]) == tok.encode(["  Two small RED\ttriangles "])
    raw = tok._tok.encode("a purple star", add_special_tokens=True)  # the post-processor adds them
    assert raw.ids[0] == tok.sot_id and raw.ids[-1] == tok.eot_id


def test_any_text_still_encodes_within_the_context(tok):
    for text in ["", "🙂 emoji", "日本語のテキスト", "x" * 10000, "hexagon arrow ümlaut"]:
        ids = tok.encode([text])[0]
        assert 2 <= len(ids) <= 24 and ids[-1] == tok.eot_id
    batch = tok(["a red star", ""])
    assert batch.shape == (2, 5)


def test_saved_file_reloads_identically(tok, tmp_path):
    tok.save(tmp_path / "tokenizer.json")
    again = ClipTokenizer.from_file(tmp_path / "tokenizer.json", 24)
    texts = ["three green hearts on a dotted pink background", "something brown"]
    assert again.encode(texts) == tok.encode(texts)


def test_merges_learned_from_given_texts():
    tok = train_clip_tokenizer(["zebra zebra zebra quokka quokka"] * 20, n_merges=50)
    assert "zebra</w>" in tok.get_vocab() and "quokka</w>" in tok.get_vocab()
