"""Measuring what a model knows about the synthetic world, on freshly rendered held-out scenes.

Works with any object that has ``encode_images(list_of_PIL)`` and ``encode_texts(list_of_str)``
returning L2-normalised numpy arrays (a :class:`clipdesk.model.ClipModel`). Used by
``bench/mini_eval.py`` and the demo model's tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image

from clipdesk.model.synth.captions import COUNT_LABELS, plural, zero_shot_prompts
from clipdesk.model.synth.render import render_scene
from clipdesk.model.synth.world import COLOURS, CORE_SHAPES, HELDOUT_COMBOS, SceneSpec, scene_at

# Seeds for evaluation renders; splits other than "train" never share seeds with training.
EVAL_SEED = 1000


class Encoder(Protocol):
    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray: ...

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray: ...


def class_embeddings(model: Encoder, prompts: dict[str, list[str]]) -> tuple[list[str], np.ndarray]:
    """Prompt ensembling: each label's vector is the normalised mean of its prompts' vectors."""
    labels = list(prompts)
    rows = []
    for label in labels:
        mean = model.encode_texts(prompts[label]).mean(axis=0)
        rows.append(mean / np.linalg.norm(mean))
    return labels, np.stack(rows)


def zero_shot_accuracy(
    model: Encoder,
    specs: Sequence[SceneSpec],
    kind: str,
    image_size: int,
    prompts: dict[str, list[str]] | None = None,
    image_features: np.ndarray | None = None,
) -> float:
    """Share of ``specs`` whose ``kind`` ("colour", "shape", "count") zero-shot gets right; shapes
    are told apart among :data:`CORE_SHAPES` unless ``prompts`` say otherwise."""
    default = shape_prompts() if kind == "shape" else zero_shot_prompts(kind)
    labels, classes = class_embeddings(model, prompts or default)
    feats = (
        image_features
        if image_features is not None
        else model.encode_images([render_scene(s, image_size) for s in specs])
    )
    predicted = (feats @ classes.T).argmax(axis=1)
    truth = [_label(s, kind) for s in specs]
    return float(np.mean([labels[p] == t for p, t in zip(predicted, truth, strict=True)]))


def _label(spec: SceneSpec, kind: str) -> str:
    if kind == "colour":
        return spec.colour
    if kind == "shape":
        return spec.shape
    if kind == "count":
        return COUNT_LABELS[spec.count]
    raise ValueError(f"unknown kind {kind!r}")


def single_object_scenes(
    split: str, n: int, seed: int = EVAL_SEED, shapes: Sequence[str] = CORE_SHAPES
) -> list[SceneSpec]:
    return [scene_at(split, seed, i, count=1, shapes=shapes) for i in range(n)]


def shape_prompts(shapes: Sequence[str] = CORE_SHAPES) -> dict[str, list[str]]:
    """The zero-shot shape prompts of ``shapes`` only: the classes a shape accuracy is over."""
    every = zero_shot_prompts("shape")
    return {s: every[s] for s in shapes}


def balanced_scenes(
    n: int, seed: int = EVAL_SEED + 1, shapes: Sequence[str] = CORE_SHAPES
) -> list[SceneSpec]:
    """``n`` evaluation scenes cycling through every colour-shape combination of ``shapes``
    (held-out combinations included)."""
    combos = [(c, s) for c in COLOURS for s in shapes]
    return [
        scene_at(
            "eval", seed, i, colour=combos[i % len(combos)][0], shape=combos[i % len(combos)][1]
        )
        for i in range(n)
    ]


@dataclass
class RetrievalScores:
    precision_at_10: float  # mean over the seen combinations' queries
    heldout_precision_at_10: float  # mean over HELDOUT_COMBOS queries
    per_query: dict[str, float]


# A query's prompt ensemble: "a red circle" should find two red circles as well, so the wordings
# cover every count and the mean vector keeps colour and shape.
RETRIEVAL_TEMPLATES = (
    "a {colour} {shape}.",
    "a photo of a {colour} {shape}.",
    "{colour} {shapes}.",
    "two {colour} {shapes}.",
    "three {colour} {shapes}.",
    "a photo of {colour} {shapes}.",
)
SINGLE_QUERY_TEMPLATES = ("a {colour} {shape}.",)  # the query as a user would type it


def retrieval_scores(
    model: Encoder,
    specs: Sequence[SceneSpec],
    image_size: int,
    k: int = 10,
    image_features: np.ndarray | None = None,
    templates: Sequence[str] = RETRIEVAL_TEMPLATES,
    shapes: Sequence[str] = CORE_SHAPES,
) -> RetrievalScores:
    """Precision@k of colour+shape queries ("a red star") over the renders of ``specs``: an image
    counts when it has that colour and shape (any count, size, place or background)."""
    feats = (
        image_features
        if image_features is not None
        else model.encode_images([render_scene(s, image_size) for s in specs])
    )
    combos = [(c, s) for c in COLOURS for s in shapes]
    prompts = {
        f"{c} {s}": [t.format(colour=c, shape=s, shapes=plural(s)) for t in templates]
        for c, s in combos
    }
    labels, queries = class_embeddings(model, prompts)
    top = np.argsort(-(queries @ feats.T), axis=1)[:, :k]
    per_query: dict[str, float] = {}
    for (c, s), label, row in zip(combos, labels, top, strict=True):
        per_query[label] = float(np.mean([specs[i].combo == (c, s) for i in row]))
    seen = [
        v
        for (c, s), v in zip(combos, per_query.values(), strict=True)
        if (c, s) not in HELDOUT_COMBOS
    ]
    held = [
        v for (c, s), v in zip(combos, per_query.values(), strict=True) if (c, s) in HELDOUT_COMBOS
    ]
    return RetrievalScores(float(np.mean(seen)), float(np.mean(held)), per_query)
