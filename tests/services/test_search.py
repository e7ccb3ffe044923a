"""app.find: searching and browsing apply the same filters, dates by one rule (in SQL)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pytest

from clipdesk.common.errors import ClipDeskError
from clipdesk.model.testing import tiny_random_model
from clipdesk.services.app import ClipDeskServices
from clipdesk.services.search import PhotoSearch, score_kind
from tests.support.fake_text_model import score_like_siglip
from tests.support.pipeline_helpers import solid_photos

DAYS = [dt.datetime(2023, 6, d, 12, 0) for d in (1, 2, 3, 4)]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return tiny_random_model(tmp_path_factory.mktemp("models"))


@pytest.fixture
def app(tmp_path: Path, model: Path):
    photos = solid_photos(tmp_path / "pics", len(DAYS))
    for path, day in zip(photos, DAYS, strict=True):  # no EXIF date: dated by modification time
        os.utime(path, (day.timestamp(), day.timestamp()))
    svc = ClipDeskServices(tmp_path / "lib.sqlite3", model=str(model), device="cpu")
    svc.folders.add(tmp_path / "pics")
    svc.index()
    yield svc
    svc.close()


def _days(found) -> list[int]:
    return [dt.datetime.fromtimestamp(f.photo.mtime_ns / 1e9).day for f in found]


def test_browsing_and_searching_keep_the_same_photos_for_a_date_range(app) -> None:
    window = {"date_from": dt.date(2023, 6, 2), "date_to": dt.date(2023, 6, 3)}
    browsed = app.find(PhotoSearch(**window))
    searched = app.find(PhotoSearch(text="a photo", **window))
    assert sorted(_days(browsed)) == sorted(_days(searched)) == [2, 3]  # the last day included
    assert all(f.score is None for f in browsed) and all(f.score is not None for f in searched)


def test_browsing_is_newest_first_and_sorts_as_asked(app) -> None:
    assert _days(app.find(PhotoSearch())) == [4, 3, 2, 1]
    assert _days(app.find(PhotoSearch(sort="oldest"))) == [1, 2, 3, 4]
    assert _days(app.find(PhotoSearch(text="x", sort="newest"))) == [4, 3, 2, 1]
    assert len(app.find(PhotoSearch(limit=2))) == 2


def test_folders_and_photos_are_named_or_refused(app, tmp_path) -> None:
    assert len(app.find(PhotoSearch(folders=[tmp_path / "pics"]))) == len(DAYS)
    with pytest.raises(ClipDeskError, match="not a watched folder"):
        app.find(PhotoSearch(folders=[tmp_path / "elsewhere"]))
    first = app.find(PhotoSearch())[0].photo
    like = app.find(PhotoSearch(like_photo=str(first.path)))
    assert first.id not in [f.photo.id for f in like] and len(like) == len(DAYS) - 1
    with pytest.raises(ClipDeskError, match="not a photo of this library"):
        app.find(PhotoSearch(like_photo=str(tmp_path / "nope.jpg")))


def test_a_sigmoid_model_shows_and_filters_match_probabilities_a_clip_model_cosines(app) -> None:
    text = PhotoSearch(text="a photo", limit=10)
    clip = app.find(text)
    cos = np.array([f.score for f in clip], np.float64)
    assert score_kind(app, text) == "cosine" and len(set(cos.round(6))) == len(DAYS)
    bias = -118.0 * float(np.median(cos))  # half the photos above even odds
    score_like_siglip(app.search_model(), logit_scale=118.0, logit_bias=bias)
    assert score_kind(app, text) == "probability"
    siglip = app.find(text)
    assert [f.photo.id for f in siglip] == [f.photo.id for f in clip]  # the ranking stays
    prob = 1.0 / (1.0 + np.exp(-(118.0 * cos + bias)))
    np.testing.assert_allclose([f.score for f in siglip], prob, rtol=1e-4, atol=1e-6)
    likely = app.find(PhotoSearch(text="a photo", min_score=0.5))
    assert [f.photo.id for f in likely] == [
        f.photo.id for f, p in zip(clip, prob, strict=True) if p >= 0.5
    ]
    assert 0 < len(likely) < len(DAYS)
    # photo against photo keeps cosine: the model's probability is for a photo and a text
    like = PhotoSearch(like_photo=clip[0].photo.id)
    assert score_kind(app, like) == "cosine" and score_kind(app, PhotoSearch()) is None
