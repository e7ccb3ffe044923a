from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from clipdesk.search.query import Query, QueryEncoder, QueryError, Term, parse_terms


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
