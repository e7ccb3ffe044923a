"""Small tokenizers trained here and saved the way each family's hub folders ship them, for the
conformance, runtime-agreement and tokenizer-recipe tests: XLM-R's unigram model written by
transformers' ``XLMRobertaTokenizer``, SigLIP v1's T5-style ``spiece.model`` by
``SiglipTokenizer`` and SigLIP2's Gemma-style BPE ``tokenizer.json`` by ``GemmaTokenizerFast``.
Each test then reads the folder through its own loader and the oracle's."""

from __future__ import annotations

import io
import random
import tempfile
from pathlib import Path

from tests.support.conformance import t5_sentencepiece

# Sentences the XLM-R tokenizer is trained on, so that the test strings split into real pieces.
XLMR_CORPUS = """A photo of a cat sleeping on the sofa.
Kids playing on the beach at sunset, and a dog on the grass.
Ein Hund läuft über die grüne Wiese im Sommer.
Die Kinder spielen im Garten hinter dem Haus.
Un perro corre por la playa al atardecer.
Los niños juegan en el parque con sus amigos.
一只猫在沙发上睡觉。孩子们在海滩上玩耍，太阳正在落山。
東京の夜景はとても美しいです。子供たちが公園で遊んでいます。
🐶 and 🐱 on a sofa!! 3 dogs, 2 cats & 1 parrot.
"Quotes" don't stop believing; xxxx yyy.""".splitlines()

_SIGLIP_WORDS = (
    "a photo of the cat dog two dogs beach sunset kids on at in and mountain river snow city "
    "night street car tree café zürich crème brûlée running fast sofa parrot people "
    "東京 の 夜景 αθήνα στην οδος kedi bir istanbul da"
)


def _siglip_corpus(n: int = 600) -> list[str]:
    rng, words = random.Random(0), _SIGLIP_WORDS.split()
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) for _ in range(n)]


def spm_charsmap(model: bytes) -> bytes:
    """NormalizerSpec.precompiled_charsmap of a SentencePiece ModelProto (fields 3 and 2), read
    from the protobuf wire format: transformers' own extractor needs protobuf, not installed."""

    def fields(buf: bytes):
        i = 0
        while i < len(buf):
            key, i = varint(buf, i)
            number, kind = key >> 3, key & 7
            if kind == 0:
                _, i = varint(buf, i)
            elif kind == 2:
                n, i = varint(buf, i)
                yield number, buf[i : i + n]
                i += n
            else:
                i += 8 if kind == 1 else 4

    def varint(buf: bytes, i: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            b = buf[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value, i

    spec = next(v for n, v in fields(model) if n == 3)
    return next(v for n, v in fields(spec) if n == 2)


def save_xlmr_tokenizer(folder: Path) -> Path:
    """A small XLM-R tokenizer the way the hub's was made: a SentencePiece unigram model with NFKC
    normalisation, converted by transformers (its converter's vocabulary order: <s> <pad> </s>
    <unk>, the pieces, <mask>) and written into ``folder`` by ``save_pretrained``."""
    import sentencepiece as spm
    from transformers import XLMRobertaTokenizer
    from transformers.convert_slow_tokenizer import XLMRobertaConverter

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(XLMR_CORPUS * 20),
        model_writer=buf,
        vocab_size=400,
        hard_vocab_limit=False,
        model_type="unigram",
        normalization_rule_name="nmt_nfkc",
        character_coverage=1.0,
        minloglevel=2,
    )
    sp = spm.SentencePieceProcessor(model_proto=buf.getvalue())
    pieces = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
    vocab = XLMRobertaConverter.convert_from_spm(vocab=pieces)["vocab"]
    tok = XLMRobertaTokenizer(vocab=vocab, _spm_precompiled_charsmap=spm_charsmap(buf.getvalue()))
    tok.save_pretrained(str(folder))
    return folder


def save_siglip_tokenizer(folder: Path) -> Path:
    """SigLIP v1's tokenizer: a small unigram model with T5's special ids (pad 0, eos 1, unk 2),
    written into ``folder`` as ``spiece.model`` by ``SiglipTokenizer.save_pretrained``."""
    from transformers import SiglipTokenizer

    # The trained model is only the tokenizer's source: the folder keeps its copy, not this file.
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "source.model"
        source.write_bytes(t5_sentencepiece(_siglip_corpus(), 200, character_coverage=1.0))
        SiglipTokenizer(vocab_file=str(source)).save_pretrained(str(folder))
    return folder


def gemma_tokenizer():
    """A Gemma-like tokenizer: byte-fallback BPE, spaces as "▁", <pad> <eos> <bos> <unk> first,
    and Gemma's own post-processor (<bos> before the text)."""
    from tokenizers import Tokenizer, models, normalizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Replace(" ", "▁")
    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]
    trainer = trainers.BpeTrainer(
        vocab_size=700,
        special_tokens=specials + [f"<0x{i:02X}>" for i in range(256)],
        show_progress=False,
    )
    tok.train_from_iterator(_siglip_corpus(), trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A", special_tokens=[("<bos>", 2)]
    )
    return tok


def save_siglip2_tokenizer(folder: Path) -> Path:
    """SigLIP2's tokenizer: Gemma's tokenizer.json with add_bos_token=False and
    add_eos_token=True (as SigLIP2's), padded on the right to 64, written into ``folder`` by
    ``GemmaTokenizerFast.save_pretrained``."""
    from transformers import GemmaTokenizerFast

    GemmaTokenizerFast(
        tokenizer_object=gemma_tokenizer(),
        add_bos_token=False,
        add_eos_token=True,
        padding_side="right",
        model_max_length=64,
    ).save_pretrained(str(folder))
    return folder
