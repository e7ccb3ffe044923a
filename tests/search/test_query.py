from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from clipdesk.search.query import Query, QueryEncoder, QueryError, Term, WordQuery, parse_terms


def T(value, weight=1.0) -> Term:
    return Term("text", value, weight)


@pytest.mark.parametrize(
    "text,terms",
    [
        ("kids on a beach at sunset", [T("kids on a beach at sunset")]),
        ("beach +0.5 sunset -people", [T("beach"), T("sunset", 0.5), T("people", -1.0)]),
        ("dog -0.3 leash", [T("dog"), T("leash", -0.3)]),
        ("beach +sunset", [T("beach"), T("sunset")]),
        ("beach - people on bikes", [T("beach"), T("people on bikes", -1.0)]),
        ("+2 neon -.5 rain", [T("neon", 2.0), T("rain", -0.5)]),
        ("t-shirt -logo", [T("t-shirt"), T("logo", -1.0)]),
        ("children's party", [T("children's party")]),
        ('"-80s poster" +2 neon', [T("-80s poster"), T("neon", 2.0)]),
        ("top 5 dogs", [T("top 5 dogs")]),
        ("red car +photo:42", [T("red car"), Term("photo", 42, 1.0)]),
        ("photo:7 -0.5 photo:8 sky", [Term("photo", 7, 1.0), Term("photo", 8, -0.5), T("sky")]),
        ("  ", []),
    ],
)
def test_parse(text: str, terms: list[Term]) -> None:
    assert parse_terms(text) == terms


@pytest.mark.parametrize("text", ["beach +0.5", "beach +0.5 -1 x", '"unclosed', "sky -"])
def test_parse_errors_are_clear(text: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_terms(text)
    assert info.value.hint


def test_query_builders() -> None:
    q = Query.parse("beach").with_image(Path("x.jpg"), 0.5).with_photo(3, -1)
    assert [t.kind for t in q.terms] == ["text", "image", "photo"]
    assert Query.photo(9).photo_ids == [9]
    assert q.photo_ids == []  # a negative photo is not "the photo itself"
    assert "beach" in q.describe() and "photo:3" in q.describe()


class FakeModel:
    """Deterministic vectors: each word gets an axis; images are mostly red or blue."""

    id = "fake@1"
    dim = 8
    image_size = 16

    def __init__(self) -> None:
        self.text_calls: list[list[str]] = []
        self.axes = {"beach": 0, "sunset": 1, "people": 2, "dog": 3}

    def encode_texts(self, texts):
        self.text_calls.append(list(texts))
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            out[i, self.axes.get(t, 7)] = 1.0
        return out

    def preprocess(self, img: Image.Image) -> torch.Tensor:
        return torch.from_numpy(np.asarray(img.resize((16, 16)), np.float32).transpose(2, 0, 1))

    def encode_pixels(self, px: torch.Tensor) -> np.ndarray:
        red = px[:, 0].mean(dim=(1, 2)) > px[:, 2].mean(dim=(1, 2))
        out = np.zeros((px.shape[0], self.dim), np.float32)
        out[:, 4] = red.numpy()
        out[:, 5] = (~red).numpy()
        return out


def test_encode_combines_weights_and_normalises() -> None:
    enc = QueryEncoder(FakeModel(), photo_vector=lambda i: None)
    v = enc.encode(Query.parse("beach +0.5 sunset -people"))
    expect = np.array([1, 0.5, -1, 0, 0, 0, 0, 0], np.float32)
    np.testing.assert_allclose(v, expect / np.linalg.norm(expect), atol=1e-6)
    assert np.linalg.norm(v) == pytest.approx(1.0)


def test_text_vectors_are_cached_per_model() -> None:
    model = FakeModel()
    enc = QueryEncoder(model, photo_vector=lambda i: None)
    enc.encode(Query.parse("beach -people"))
    enc.encode(Query.parse("beach +0.5 dog"))
    assert model.text_calls == [["beach", "people"], ["dog"]]
    model.id = "fake@2"  # another model: nothing cached for it
    enc.encode(Query.parse("beach"))
    assert model.text_calls[-1] == ["beach"]


def test_image_and_photo_terms(tmp_path: Path) -> None:
    stored = {5: np.eye(8, dtype=np.float32)[3]}
    enc = QueryEncoder(FakeModel(), photo_vector=stored.get)
    red = tmp_path / "red.png"
    Image.new("RGB", (64, 64), (255, 0, 0)).save(red)
    v = enc.encode(Query.image(red))
    assert v[4] == pytest.approx(1.0)
    v = enc.encode(Query.image(Image.new("RGB", (40, 30), (0, 0, 255))))
    assert v[5] == pytest.approx(1.0)
    v = enc.encode(Query.photo(5).with_image(red, 1.0))
    assert v[3] == pytest.approx(v[4]) == pytest.approx(2**-0.5)
    with pytest.raises(QueryError, match="no vector"):
        enc.encode(Query.photo(6))


def test_encode_errors(tmp_path: Path) -> None:
    enc = QueryEncoder(FakeModel(), photo_vector=lambda i: None)
    with pytest.raises(QueryError, match="empty"):
        enc.encode(Query.parse(""))
    with pytest.raises(QueryError, match="cancel out"):
        enc.encode(Query.parse("beach -beach"))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a picture at all")
    with pytest.raises(QueryError, match="bad.jpg"):
        enc.encode(Query.image(bad))


# --- text: and clip: markers ----------------------------------------------------------------


def W(value, weight=1.0) -> Term:
    """A phrase looked up in the words of photos only."""
    return Term("text", value, weight, "text")


def C(value, weight=1.0) -> Term:
    """A phrase for CLIP only."""
    return Term("text", value, weight, "clip")


@pytest.mark.parametrize(
    "text,terms",
    [
        ("text:invoice", [W("invoice")]),
        ("TEXT:Invoice", [W("Invoice")]),
        ("clip:a red sign", [C("a red sign")]),
        ("text: invoice paid", [W("invoice paid")]),  # the marker alone marks what follows
        ("beach text:invoice", [T("beach"), W("invoice")]),  # a marker starts a new phrase
        ("sunset -text:watermark", [T("sunset"), W("watermark", -1.0)]),
        ("+0.5 clip:sunset -people", [C("sunset", 0.5), T("people", -1.0)]),
        ("-2 text: stamp", [W("stamp", -2.0)]),
        ('text:"-80s poster" +neon', [W("-80s poster"), T("neon")]),  # quoted after the marker
        ('text: "a +b"', [W("a +b")]),
        ('"text: me"', [T("text: me")]),  # quoted text is never a marker
        ('"clip:art" +photo:3', [T("clip:art"), Term("photo", 3, 1.0)]),
        (
            'beach -"text: me" +"5 dogs" +"photo:3"',
            [T("beach"), T("text: me", -1.0), T("5 dogs"), T("photo:3")],
        ),
        ("context:x subtext:y", [T("context:x subtext:y")]),  # only a word that starts with it
        ("photo:7 text:receipt", [Term("photo", 7, 1.0), W("receipt")]),
    ],
)
def test_markers_choose_what_answers_a_phrase(text: str, terms: list[Term]) -> None:
    assert parse_terms(text) == terms


@pytest.mark.parametrize(
    "text,says",
    [
        ("text:", "no words after it"),
        ("beach clip:", "no words after it"),
        ("text: -people", "no words after it"),
        ("text: photo:3", "no words after it"),
        ("text:photo:3", "a photo is searched by its vector only"),
    ],
)
def test_a_marker_without_its_phrase_is_refused_with_a_hint(text: str, says: str) -> None:
    with pytest.raises(QueryError, match=says) as info:
        parse_terms(text)
    assert "text:invoice" in info.value.hint or "without the marker" in info.value.hint


def test_a_query_of_text_phrases_needs_no_model_and_says_what_it_asks_of_words() -> None:
    words_only = Query.parse("text:invoice -text:draft")
    assert not words_only.needs_model and words_only.clip_part.is_empty
    assert words_only.words() == WordQuery(("invoice",), ("draft",), ("draft",))
    assert words_only.describe() == "text:invoice -text:draft"
    mixed = Query.parse("beach clip:sunset -people +photo:4")
    assert mixed.needs_model
    assert [t.value for t in mixed.clip_part.terms] == ["beach", "sunset", "people", 4]
    # a plain negative keeps its words out of the text hits; only text: ones ban photos
    assert mixed.words() == WordQuery(("beach",), ("people",), ())
    assert Query.image(Path("x.jpg")).needs_model


def test_encode_embeds_only_what_clip_answers() -> None:
    model = FakeModel()
    enc = QueryEncoder(model, photo_vector=lambda i: None)
    v = enc.encode(Query.parse("beach text:invoice -text:dog clip:sunset"))
    assert model.text_calls == [["beach", "sunset"]]
    np.testing.assert_allclose(v[:2], [2**-0.5, 2**-0.5], atol=1e-6)
    with pytest.raises(QueryError, match="Nothing in") as info:
        enc.encode(Query.parse("text:invoice"))
    assert "text:" in info.value.hint


def _render(term: Term, rng: random.Random) -> str:
    """One way of writing ``term`` in the query language (several parse the same)."""
    weight = "" if term.weight == 1.0 else f"{term.weight:+g} "
    if weight == "" and rng.random() < 0.5:
        weight = "+"
    if term.kind == "photo":
        return f"{weight}photo:{term.value}"
    marker = "" if term.match == "both" else f"{term.match}:"
    if marker and rng.random() < 0.5:
        marker = marker.upper() + " "  # the marker on its own before the phrase
    words = term.value
    first_is_number = words.split()[0].replace(".", "", 1).isdigit()  # +5 dogs: a weight
    if first_is_number or any(_operator_like(w) for w in words.split()):
        words = f'"{words}"'
    return f"{weight}{marker}{words}"


def _operator_like(word: str) -> bool:
    return word[0] in "+-" or word.lower().startswith(("text:", "clip:", "photo:"))


def test_written_queries_parse_back_to_their_terms() -> None:
    """A property test without hypothesis: random queries of phrases, weights, markers, quoted
    look-alikes and photos, written out and parsed again (a seeded generator: same cases each
    run)."""
    rng = random.Random(17)
    vocab = ["beach", "t-shirt", "invoice", "-80s", "text:me", "clip:art", "sunset", "5", "café"]
    for _ in range(300):
        terms = []
        for _ in range(rng.randint(1, 4)):
            weight = rng.choice([1.0, -1.0, 0.5, -0.3, 2.0])
            if rng.random() < 0.15:
                terms.append(Term("photo", rng.randint(1, 99), weight))
                continue
            words = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 3)))
            match = rng.choice(["both", "both", "text", "clip"])
            terms.append(Term("text", words, weight, match))
        # two plain phrases in a row with weight 1 and no sign read as one phrase
        written = " ".join(
            _render(t, rng) if i == 0 else _separated(t, rng) for i, t in enumerate(terms)
        )
        assert parse_terms(written) == terms, written


def _separated(term: Term, rng: random.Random) -> str:
    text = _render(term, rng)
    needs_sign = term.kind == "text" and term.match == "both" and not text.startswith(("+", "-"))
    return f"+{text}" if needs_sign else text
