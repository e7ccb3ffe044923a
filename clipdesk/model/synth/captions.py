"""Captions for synthetic scenes, in varied wording, and the zero-shot prompt templates.

Every caption is drawn at random from many phrasings ("two small red triangles on a striped green
background", "a blue star at the top left", "red triangles, two of them", "something pink"), so the
text tower learns the words rather than one sentence pattern. Attributes other than colour and shape
are mentioned only some of the time, and now and then colour or shape is left out, so that a prompt
naming just a colour ("a red object") or just a shape ("a photo of a star") means something.
"""

from __future__ import annotations

import random

from clipdesk.model.synth.world import COLOURS, SHAPES, SceneSpec

NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
_PLURAL_EXCEPTIONS = {"cross": "crosses", "arch": "arches"}
_POSITION_PHRASES = {
    "centre": ["in the centre", "in the center", "in the middle", "at the centre"],
    "left": ["on the left", "at the left", "to the left"],
    "right": ["on the right", "at the right", "to the right"],
    "top": ["at the top", "near the top", "in the upper part"],
    "bottom": ["at the bottom", "near the bottom", "in the lower part"],
}
_BG_PHRASES = {
    "plain": ["a plain {c} background", "a {c} background", "plain {c}"],
    "stripes": ["a striped {c} background", "{c} stripes", "a {c} background with stripes"],
    "dots": ["a dotted {c} background", "{c} polka dots", "a {c} background with dots"],
    "gradient": ["a {c} gradient", "a fading {c} background", "a {c} gradient background"],
    "noise": ["a noisy {c} background", "a grainy {c} background", "{c} noise"],
}
_PREFIXES = ["", "", "", "a photo of ", "a picture of ", "an image of ", "a drawing of "]
# The framings of CLIP's usual zero-shot templates (clipdesk.tags.prompts), so that a user's tag
# category with default templates means the same to the demo model as a plain caption.
_PHOTO_PREFIXES = [
    "a blurry photo of ",
    "a close-up photo of ",
    "a bright photo of ",
    "a dark photo of ",
    "a good photo of ",
    "a cropped photo of ",
    "a low resolution photo of ",
]

# Zero-shot prompt templates ("prompt ensembling"): a class's text embedding is the mean of these.
COLOUR_TEMPLATES = (
    "a {} shape.",
    "a photo of something {}.",
    "a {} object.",
    "a picture of a {} thing.",
)
SHAPE_TEMPLATES = ("a {}.", "a photo of a {}.", "a {} shape.", "a picture of a {}.")
COUNT_TEMPLATES = ("{} shapes.", "a photo of {} objects.", "{} things.", "a picture of {} shapes.")
COUNT_LABELS = {1: "one", 2: "two", 3: "three"}


def plural(shape: str) -> str:
    return _PLURAL_EXCEPTIONS.get(shape, shape + "s")


def article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def position_phrase(position: str, rng: random.Random) -> str:
    if position in _POSITION_PHRASES:
        return rng.choice(_POSITION_PHRASES[position])
    return rng.choice([f"at the {position}", f"in the {position} corner", f"in the {position}"])


def background_phrase(spec: SceneSpec, rng: random.Random) -> str:
    return rng.choice(_BG_PHRASES[spec.background]).format(c=spec.bg_colour)


def caption(spec: SceneSpec, rng: random.Random | None = None) -> str:
    """One caption for ``spec`` in a randomly chosen wording (seeded from the spec if no rng)."""
    rng = rng or random.Random(spec.seed)
    colour, shape = spec.colour, spec.shape
    r = rng.random()
    if r < 0.07:
        colour = ""  # shape only
    elif r < 0.14:
        shape = ""  # colour only
    size = spec.size if rng.random() < 0.5 else ""
    noun = shape or rng.choice(["shape", "object", "thing"])
    adjs = " ".join(w for w in (size, colour) if w)
    n = spec.count

    if n == 1:
        head = f"{adjs} {noun}".strip()
        forms = [
            f"{article(head)} {head}",
            f"one {head}",
            f"a single {head}",
        ]
        if shape and colour:
            forms += [
                f"{article(shape)} {shape} that is {colour}",
                f"{article(colour)} {colour}-coloured {shape}",
                f"{article(shape)} {shape}, coloured {colour}",
            ]
        if not shape:
            forms.append(f"something {colour}")
        text = rng.choice(forms)
        if spec.position and rng.random() < 0.5:
            text = f"{text} {position_phrase(spec.position, rng)}"
    else:
        word = NUMBER_WORDS[n]
        nouns = plural(noun)
        head = f"{adjs} {nouns}".strip()
        forms = [f"{word} {head}", f"{word} {head}", f"{head}, {word} of them"]
        if colour and shape:
            forms += [f"{word} {shape} shapes in {colour}", f"{word} {colour} {nouns} together"]
        if rng.random() < 0.12:
            forms = [head, f"some {head}", f"several {head}"]  # count left out
        text = rng.choice(forms)

    prefix = rng.choice(_PHOTO_PREFIXES if rng.random() < 0.15 else _PREFIXES)
    if prefix and rng.random() < 0.2 and text.startswith(("a ", "an ")):
        text = "the " + text.split(" ", 1)[1]
    text = prefix + text
    if n == 1 and rng.random() < 0.08:
        text += ", a type of shape" if shape else ", a kind of colour"
    if rng.random() < 0.45:
        text = f"{text} {rng.choice(['on', 'against', 'over'])} {background_phrase(spec, rng)}"
    if rng.random() < 0.3:
        text += "."
    return " ".join(text.split())


def caption_corpus(n: int, seed: int = 0, split: str = "train") -> list[str]:
    """``n`` captions of training scenes, e.g. to train the tokenizer on."""
    from clipdesk.model.synth.world import scene_at

    rng = random.Random(seed)
    return [caption(scene_at(split, seed, i), rng) for i in range(n)]


def zero_shot_prompts(kind: str) -> dict[str, list[str]]:
    """For ``kind`` "colour", "shape" or "count": each label and its prompt ensemble."""
    if kind == "colour":
        return {c: [t.format(c) for t in COLOUR_TEMPLATES] for c in COLOURS}
    if kind == "shape":
        return {s: [t.format(s) for t in SHAPE_TEMPLATES] for s in SHAPES}
    if kind == "count":
        return {w: [t.format(w) for t in COUNT_TEMPLATES] for w in COUNT_LABELS.values()}
    raise ValueError(f"unknown prompt kind {kind!r} (expected colour, shape or count)")
