"""A text model with known vectors, for testing tagging without a real CLIP."""

from __future__ import annotations

import hashlib

import numpy as np

WORDS = ("red", "green", "blue", "circle", "square", "beach", "city", "cat", "dog")
DIM = 16


def word_vector(word: str) -> np.ndarray:
    v = np.zeros(DIM, np.float32)
    v[WORDS.index(word)] = 1.0
    return v


class FakeTextModel:
    """Each text maps to the sum of the basis vectors of the known words it contains, plus a
    small deterministic per-text jitter; a text with no known word points along a "generic"
    axis. So "a photo of a red thing" is close to the image vector ``word_vector("red")``.

    ``scoring="sigmoid"`` with a ``logit_bias`` makes it score like SigLIP."""

    def __init__(
        self,
        model_id: str = "fake@1",
        logit_scale: float = 100.0,
        jitter: float = 0.05,
        scoring: str = "softmax",
        logit_bias: float | None = None,
    ):
        self.id = model_id
        self.logit_scale = logit_scale
        self.jitter = jitter
        self.scoring = scoring
        self.logit_bias = logit_bias
        self.calls: list[list[str]] = []

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), DIM), np.float32)
        for i, text in enumerate(texts):
            words = [w for w in WORDS if w in text.lower()]
            for w in words:
                out[i] += word_vector(w)
            if not words:
                out[i, DIM - 1] = 1.0
            seed = int.from_bytes(hashlib.sha1(text.encode()).digest()[:4], "little")
            out[i] += self.jitter * np.random.default_rng(seed).standard_normal(DIM)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def image_vectors(words: list[str], noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """Unit image vectors near each word's axis (with a share of the generic axis)."""
    rng = np.random.default_rng(seed)
    out = np.stack([word_vector(w) for w in words]).astype(np.float32)
    out[:, DIM - 1] = 0.5
    out += noise * rng.standard_normal(out.shape).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


class FakeLoadedModel(FakeTextModel):
    """The fake text model with what the services facade reads of a loaded model."""

    path = None
    name = "fake"
    is_demo = False
    dim = DIM


def score_like_siglip(model, logit_scale: float, logit_bias: float) -> None:
    """Make a loaded CLIP model (clipdesk.model's ClipModel) score like a sigmoid model: SigLIP's
    sigmoid scoring with ``logit_bias`` and a learned scale ``logit_scale`` (above CLIP's clamp
    of 100, as SigLIP's is). The towers are unchanged."""
    from dataclasses import replace

    model.facts = replace(
        model.facts, scoring="sigmoid", logit_scale=logit_scale, logit_bias=logit_bias
    )
