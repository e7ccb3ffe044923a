"""One search box, both kinds of match: CLIP's ranking and the text index's, fused; ``text:``
answers from the words alone without a model, ``clip:`` from CLIP alone; every filter applies to
the text hits too, and the minimum score only to CLIP's."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from PIL import Image

from clipdesk.model.testing import tiny_random_model
from clipdesk.search.query import QueryError
from clipdesk.services.app import ClipDeskServices
from clipdesk.services.search import PhotoSearch, score_kind
from clipdesk.tags.categories import Category, Mode

HOME = ["astronaut", "beach", "cat", "receipt", "sunset", "dog"]
WORK = ["bill", "city"]
OCR = {
    "receipt": "ACME Store\nInvoice 2023-06\nTotal 42.00",
    "bill": "Power & Light\nINVOICE no. 7\nwatermark: DRAFT",
    "sunset": "watermark © someone",
}
DAYS = {"receipt": dt.datetime(2020, 5, 1, 12), "bill": dt.datetime(2023, 7, 1, 12)}


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return tiny_random_model(tmp_path_factory.mktemp("models"))


def _photos(folder: Path, names: list[str], shade: int) -> None:
    folder.mkdir(parents=True)
    for i, name in enumerate(names):
        path = folder / f"{name}.png"
        Image.new("RGB", (64, 48), (shade + 20 * i, 200 - 20 * i, 90)).save(path)
        if name in DAYS:
            stamp = DAYS[name].timestamp()
            os.utime(path, (stamp, stamp))


@pytest.fixture
def app(tmp_path: Path, model: Path):
    """Two watched folders (Home, Work) of named photos, embedded, three with recognised text."""
    _photos(tmp_path / "Home", HOME, 0)
    _photos(tmp_path / "Work", WORK, 120)
    svc = ClipDeskServices(tmp_path / "lib.sqlite3", model=str(model), device="cpu")
    svc.folders.add(tmp_path / "Home")
    svc.folders.add(tmp_path / "Work")
    svc.index()
    for name, text in OCR.items():
        svc.library.save_ocr(_id(svc, name), text, 0.9, (), "test")
    yield svc
    svc.close()


def _id(app: ClipDeskServices, name: str) -> int:
    return next(p.id for p in app.library.photos() if p.path.stem == name)


def _names(found) -> list[str]:
    return [f.photo.path.stem for f in found]


def test_a_file_name_is_found_first_and_says_so_beside_its_clip_score(app) -> None:
    found = app.find(PhotoSearch(text="astronaut", limit=3))
    first = found[0]
    assert _names(found)[0] == "astronaut" and len(found) == 3
    assert first.matched_by == ("clip", "name") and first.snippet == "Home/[astronaut].png"
    assert first.score is not None and -1.0 <= first.score <= 1.0  # CLIP's, as before
    assert all(f.matched_by == ("clip",) and f.snippet is None for f in found[1:])
    row = first.as_dict()
    assert row["matched_by"] == ["clip", "name"] and row["snippet"] == "Home/[astronaut].png"
    # the limit does not change the order: the first rows are the same
    whole = app.find(PhotoSearch(text="astronaut", limit=50))
    assert len(whole) == len(HOME) + len(WORK) and _names(whole)[:3] == _names(found)
    # a prefix of three letters or more finds it too
    assert _names(app.find(PhotoSearch(text="astro")))[0] == "astronaut"


def test_text_phrases_alone_find_only_text_hits_and_load_no_model(app, tmp_path) -> None:
    app.close()
    # a model that cannot be loaded: any attempt to load it fails the search
    words_only = ClipDeskServices(tmp_path / "lib.sqlite3", model=str(tmp_path / "no-model"))
    try:
        request = PhotoSearch(text="text:invoice")
        assert not request.needs_model and request.is_search
        found = words_only.find(request)
        assert sorted(_names(found)) == ["bill", "receipt"]
        assert all(f.score is None and f.matched_by == ("ocr",) for f in found)
        assert {f.snippet for f in found} == {
            "ACME Store [Invoice] 2023-06 Total 42.00",
            "Power & Light [INVOICE] no. 7 watermark: DRAFT",
        }
        assert score_kind(words_only, request) is None
        newest = words_only.find(PhotoSearch(text="text:invoice", sort="newest"))
        assert _names(newest) == ["bill", "receipt"]
        assert _names(words_only.find(PhotoSearch(text="text:invoice", sort="oldest"))) == [
            "receipt",
            "bill",
        ]
        assert words_only._model is None
    finally:
        words_only.close()


def test_clip_phrases_search_clip_alone(app) -> None:
    found = app.find(PhotoSearch(text="clip:astronaut", limit=50))
    assert len(found) == len(HOME) + len(WORK)
    assert all(f.matched_by == ("clip",) and f.snippet is None for f in found)
    assert all(f.score is not None for f in found)


def test_folder_tag_date_and_status_filters_apply_to_text_hits(app, tmp_path) -> None:
    def names(**filters) -> list[str]:
        return sorted(_names(app.find(PhotoSearch(text="text:invoice", **filters))))

    assert names(folders=[tmp_path / "Work"]) == ["bill"]
    assert names(date_from=dt.date(2023, 1, 1)) == ["bill"]
    assert names(date_to=dt.date(2020, 12, 31)) == ["receipt"]
    app.tags.add_category(Category("Place", ("office", "home"), Mode.SINGLE, 0.0))
    app.tags.decide([_id(app, "receipt")], "Place", "office", "confirmed")
    assert names(tags=["Place|office"], confirmed_tags=True) == ["receipt"]
    # fused with CLIP's ranking, the filter still holds for both parts
    fused = app.find(PhotoSearch(text="invoice", tags=["Place|office"], confirmed_tags=True))
    assert _names(fused) == ["receipt"] and fused[0].matched_by == ("clip", "ocr")
    # a confirmed tag is a word of its photo
    tagged = app.find(PhotoSearch(text="text:office"))
    assert _names(tagged) == ["receipt"] and tagged[0].matched_by == ("tags",)
    assert tagged[0].snippet == "[office]"
    app.library.mark_missing([_id(app, "bill")])
    assert names() == ["receipt"]
    assert names(statuses=("ok", "missing")) == ["bill", "receipt"]


def test_the_minimum_score_drops_clip_matches_never_text_hits(app) -> None:
    found = app.find(PhotoSearch(text="invoice", min_score=0.99, limit=50))
    assert sorted(_names(found)) == ["bill", "receipt"]
    assert all(f.matched_by == ("ocr",) for f in found)  # below the minimum: not CLIP's match
    assert all(f.score is not None and f.score < 0.99 for f in found)  # its CLIP score shown


def test_a_negative_text_phrase_leaves_its_photos_out_of_clips_part_too(app) -> None:
    found = app.find(PhotoSearch(text="clip:a photo -text:watermark", limit=50))
    assert "sunset" not in _names(found) and "bill" not in _names(found)
    assert len(found) == len(HOME) + len(WORK) - 2
    # a plain negative phrase only keeps its words out of the text hits
    softer = app.find(PhotoSearch(text="invoice -draft", limit=50))
    assert softer[0].photo.path.stem == "receipt" and "bill" in _names(softer)
    with pytest.raises(QueryError, match="nothing to look for"):
        app.find(PhotoSearch(text="-text:watermark"))


def test_a_text_hit_not_embedded_yet_is_found_without_a_score(app, tmp_path) -> None:
    _photos(tmp_path / "Later", ["astronaut-mission"], 30)
    app.folders.add(tmp_path / "Later")  # scanned, not embedded
    found = app.find(PhotoSearch(text="astronaut", limit=50))
    later = next(f for f in found if f.photo.path.stem == "astronaut-mission")
    assert later.score is None and later.matched_by == ("name",)
    assert later.as_dict()["score"] is None
    assert _names(found)[0] == "astronaut" and len(found) == len(HOME) + len(WORK) + 1


def test_each_negative_text_phrase_leaves_its_own_photos_out_of_clips_part(app) -> None:
    # "watermark" is on sunset and bill, "acme" on receipt alone: none of the three may stay
    found = app.find(PhotoSearch(text="clip:a photo -text:watermark -text:acme", limit=50))
    assert not {"sunset", "bill", "receipt"} & set(_names(found))
    assert len(found) == len(HOME) + len(WORK) - 3
