"""CLIP's original tokenizer rebuilt from OpenAI's BPE merges, for checkpoints without a
``tokenizer.json`` (OpenAI / OpenCLIP state dicts). Same pipeline as transformers'
``CLIPTokenizerFast``."""

from __future__ import annotations

import functools
import gzip
from importlib import resources

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from clipdesk.model.tokenizer import END_TOKEN, START_TOKEN

VOCAB_FILE = "bpe_simple_vocab_16e6.txt.gz"
# OpenAI's tokenizer uses the first 49152 - 256 - 2 merges of the file.
N_MERGES = 49152 - 256 - 2


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable unicode characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


@functools.lru_cache(maxsize=1)
def clip_tokenizer_json() -> str:
    """The CLIP tokenizer as ``tokenizer.json`` text (49,408 tokens)."""
    raw = resources.files("clipdesk.model").joinpath("assets", VOCAB_FILE).read_bytes()
    lines = gzip.decompress(raw).decode("utf-8").split("\n")[1 : N_MERGES + 1]
    pairs = [line.split() for line in lines]
    merges = [(a, b) for a, b in pairs]  # every merge line is "left right"
    base = list(bytes_to_unicode().values())
    vocab_list = base + [b + "</w>" for b in base] + ["".join(m) for m in merges]
    vocab_list += [START_TOKEN, END_TOKEN]
    vocab = {tok: i for i, tok in enumerate(vocab_list)}
    tok = Tokenizer(
        models.BPE(
            vocab=vocab,
            merges=merges,
            continuing_subword_prefix="",
            end_of_word_suffix="</w>",
            fuse_unk=False,
            unk_token=END_TOKEN,
        )
    )
    tok.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(
                Regex(r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""),
                behavior="removed",
                invert=True,
            ),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.TemplateProcessing(
        single=f"{START_TOKEN} $A {END_TOKEN}",
        pair=f"{START_TOKEN} $A {END_TOKEN} $B {END_TOKEN}",
        special_tokens=[(START_TOKEN, vocab[START_TOKEN]), (END_TOKEN, vocab[END_TOKEN])],
    )
    tok.add_special_tokens([START_TOKEN, END_TOKEN])
    return tok.to_str()
