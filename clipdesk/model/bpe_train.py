"""Training a CLIP-style byte-level BPE tokenizer on a caption corpus.

The result is a ``tokenizer.json`` laid out exactly like the real CLIP one (see
:mod:`clipdesk.model.vocab`): NFC + whitespace + lower-case normaliser, CLIP's word-splitting regex
and byte-level pre-tokeniser, BPE with the ``</w>`` end-of-word suffix, ids ordered as 256 byte
symbols, the same 256 with ``</w>``, one id per merge in merge order, then ``<|startoftext|>`` and
``<|endoftext|>`` last, added around each text by a post-processor. Any text, in any script, still
encodes: unseen characters fall back to their bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers.trainers import BpeTrainer

from clipdesk.model.tokenizer import END_TOKEN, START_TOKEN, ClipTokenizer
from clipdesk.model.vocab import bytes_to_unicode

_SPLIT = r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


def _pipeline(tok: Tokenizer) -> None:
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_SPLIT), behavior="removed", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()


def _learn_merges(texts: Iterable[str], n_merges: int, min_frequency: int) -> list[tuple[str, str]]:
    base = list(bytes_to_unicode().values())
    # The trainer's vocabulary holds its alphabet (with and without </w>) plus one token per merge;
    # asking for that many more than the alphabet bounds the merges at n_merges.
    draft = Tokenizer(models.BPE(continuing_subword_prefix="", end_of_word_suffix="</w>"))
    _pipeline(draft)
    trainer = BpeTrainer(
        vocab_size=2 * len(base) + n_merges,
        min_frequency=min_frequency,
        initial_alphabet=base,
        end_of_word_suffix="</w>",
        show_progress=False,
    )
    draft.train_from_iterator(texts, trainer=trainer)
    merges = json.loads(draft.to_str())["model"]["merges"]
    pairs = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in merges]
    return [(a, b) for a, b in pairs][:n_merges]


def train_clip_tokenizer(
    texts: Iterable[str], n_merges: int = 600, min_frequency: int = 2
) -> Tokenizer:
    """A CLIP-layout tokenizer whose merges are learned from ``texts``."""
    merges = _learn_merges(texts, n_merges, min_frequency)
    base = list(bytes_to_unicode().values())
    vocab_list = base + [b + "</w>" for b in base]
    seen = set(vocab_list)
    kept: list[tuple[str, str]] = []
    for a, b in merges:
        merged = a + b
        if a in seen and b in seen and merged not in seen:
            kept.append((a, b))
            vocab_list.append(merged)
            seen.add(merged)
    vocab_list += [START_TOKEN, END_TOKEN]
    vocab = {t: i for i, t in enumerate(vocab_list)}
    tok = Tokenizer(
        models.BPE(
            vocab=vocab,
            merges=kept,
            continuing_subword_prefix="",
            end_of_word_suffix="</w>",
            fuse_unk=False,
            unk_token=END_TOKEN,
        )
    )
    _pipeline(tok)
    tok.post_processor = processors.RobertaProcessing(
        (END_TOKEN, vocab[END_TOKEN]),  # sep (positional: "cls" clashes with __new__)
        (START_TOKEN, vocab[START_TOKEN]),  # cls
        add_prefix_space=False,
        trim_offsets=False,
    )
    tok.add_special_tokens([START_TOKEN, END_TOKEN])
    return tok


def train_caption_tokenizer(
    n_captions: int = 40000, seed: int = 0, n_merges: int = 600, context_length: int = 32
) -> ClipTokenizer:
    """The demo model's tokenizer: BPE learned on synthetic training captions and prompts."""
    from clipdesk.model.synth import caption_corpus, zero_shot_prompts

    texts = caption_corpus(n_captions, seed=seed, split="train")
    for kind in ("colour", "shape", "count"):
        for prompts in zero_shot_prompts(kind).values():
            texts.extend(prompts)
    return ClipTokenizer(train_clip_tokenizer(texts, n_merges=n_merges), context_length)
