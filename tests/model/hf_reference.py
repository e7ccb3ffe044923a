"""transformers as the reference implementation: CLIP models and tokenizers built the way the hub's
CLIP repositories are, from the official vocabulary, to check ClipDesk against."""

from __future__ import annotations

import gzip
import json
import logging
from importlib import resources
from pathlib import Path

import torch

from clipdesk.model.vocab import N_MERGES, VOCAB_FILE, bytes_to_unicode

# transformers warns about the torchvision image processor it cannot use; we ask for PIL anyway.
logging.getLogger("transformers").setLevel(logging.ERROR)


def write_vocab_files(folder: Path) -> Path:
    """vocab.json + merges.txt as in openai/clip-vit-base-patch32, derived from OpenAI's
    bpe_simple_vocab_16e6.txt.gz independently of clipdesk.model.vocab's tokenizer.json."""
    raw = resources.files("clipdesk.model").joinpath("assets", VOCAB_FILE).read_bytes()
    lines = gzip.decompress(raw).decode("utf-8").split("\n")[1 : N_MERGES + 1]
    merges = [tuple(line.split()) for line in lines]
    base = list(bytes_to_unicode().values())
    vocab = base + [b + "</w>" for b in base] + ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (folder / "merges.txt").write_text(
        "#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n", encoding="utf-8"
    )
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "CLIPTokenizer", "model_max_length": 77})
    )
    return folder


def hf_tokenizer(folder: Path, context_length: int = 77):
    from transformers import CLIPTokenizer

    if not (folder / "vocab.json").is_file():
        write_vocab_files(folder)
    return CLIPTokenizer.from_pretrained(str(folder), model_max_length=context_length)


def hf_image_processor(size: int = 224):
    from transformers import CLIPImageProcessorPil  # the slow PIL one: no torchvision here

    return CLIPImageProcessorPil(
        size={"shortest_edge": size}, crop_size={"height": size, "width": size}
    )


def build_hf_clip(config_kwargs: dict | None = None, seed: int = 0):
    """A random-weight transformers CLIPModel (ViT-B/32 with CLIPConfig's defaults unless told)."""
    from transformers import CLIPConfig, CLIPModel

    kw = dict(config_kwargs or {})
    cfg = CLIPConfig(
        text_config=kw.pop("text_config", None), vision_config=kw.pop("vision_config", None), **kw
    )
    torch.manual_seed(seed)
    model = CLIPModel(cfg).eval()
    with torch.no_grad():  # a trained-like temperature rather than the init value
        model.logit_scale.fill_(4.0)
    return model


def save_hf_folder(model, folder: Path, vocab_dir: Path) -> Path:
    """The hub's layout: config.json, model.safetensors, tokenizer files, preprocessor config."""
    model.save_pretrained(str(folder))
    size = model.config.vision_config.image_size
    hf_tokenizer(vocab_dir, model.config.text_config.max_position_embeddings).save_pretrained(
        str(folder)
    )
    hf_image_processor(size).save_pretrained(str(folder))
    return folder


def features(out) -> torch.Tensor:
    """transformers 5 returns a model output from get_*_features; 4.x a tensor."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


@torch.no_grad()
def hf_image_embeddings(model, images) -> torch.Tensor:
    size = model.config.vision_config.image_size
    pixels = hf_image_processor(size)(images=images, return_tensors="pt")["pixel_values"]
    return torch.nn.functional.normalize(
        features(model.get_image_features(pixel_values=pixels)), dim=-1
    )


@torch.no_grad()
def hf_text_embeddings(model, tokenizer, texts) -> torch.Tensor:
    n = model.config.text_config.max_position_embeddings
    batch = tokenizer(
        texts, padding="max_length", truncation=True, max_length=n, return_tensors="pt"
    )
    out = model.get_text_features(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
    )
    return torch.nn.functional.normalize(features(out), dim=-1)
