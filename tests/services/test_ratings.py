"""app.ratings: ratings and colour labels set in one transaction for many photos, read from the
XMP of new photos as they are indexed, written back beside the keywords without overwriting what
another tool wrote since, and searched and sorted by."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from clipdesk.common.errors import ClipDeskError
from clipdesk.model.testing import tiny_random_model
from clipdesk.services.app import ClipDeskServices
from clipdesk.services.search import PhotoSearch
from tests.support.pipeline_helpers import solid_photos

needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="needs exiftool")


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return tiny_random_model(tmp_path_factory.mktemp("models"))


def _exiftool(*args: object) -> str:
    return subprocess.run(
        ["exiftool", *map(str, args)], check=True, capture_output=True, text=True
    ).stdout


def _marks(path: Path) -> dict[str, object]:
    found = json.loads(_exiftool("-j", "-XMP:Rating", "-XMP:Label", "-XMP:Subject", path))[0]
    return {k: found[k] for k in ("Rating", "Label", "Subject") if k in found}


@pytest.fixture
def app(tmp_path: Path, model: Path):
    photos = solid_photos(tmp_path / "pics", 4)
    if shutil.which("exiftool"):  # a Lightroom user's photo: rated and labelled inside the file
        _exiftool("-q", "-overwrite_original", "-XMP:Rating=2", "-XMP:Label=Green", photos[0])
    svc = ClipDeskServices(tmp_path / "lib.sqlite3", model=str(model), device="cpu")
    svc.folders.add(tmp_path / "pics")
    svc.index()
    yield svc
    svc.close()


def _by_name(app: ClipDeskServices) -> dict[str, int]:
    return {p.path.name: p.id for p in app.library.photos()}


@needs_exiftool
def test_indexing_reads_the_rating_and_label_of_a_photos_xmp(app) -> None:
    photo = app.library.photo(_by_name(app)["p0000.jpg"])
    assert (photo.rating, photo.color_label) == (2, "Green")
    assert "xmp_marks" not in app.steps.backlog().waiting  # done with the index run


def test_a_rating_and_a_label_are_set_on_many_photos_at_once(app) -> None:
    ids = list(_by_name(app).values())
    assert app.ratings.set_rating(ids, 4) == 4
    assert app.ratings.toggle_label(ids[:2], "red") == "Red"
    assert app.ratings.toggle_label(ids, "Red") == "Red"  # not all had it: all get it
    assert app.ratings.toggle_label(ids, "Red") is None  # all had it: the same key clears it
    assert set(app.ratings.marks_of(ids).values()) == {(4, None)}
    with pytest.raises(ClipDeskError, match="not a rating"):
        app.ratings.set_rating(ids, 6)
    with pytest.raises(ClipDeskError, match="not a colour label"):
        app.ratings.set_label(ids, "orange")


@needs_exiftool
def test_ratings_go_into_the_sidecar_with_the_keywords_and_other_tools_read_them(app) -> None:
    names = _by_name(app)
    pid = names["p0001.jpg"]
    category = app.tags.categories()[0]
    label = category.labels[0].name
    app.tags.decide([pid], category.name, label, "confirmed")
    app.ratings.set_rating([pid], 5)
    app.ratings.set_label([pid], "Blue")
    report = app.tags.write_xmp()
    sidecar = app.library.photo(pid).path.with_name("p0001.jpg.xmp")
    assert sidecar in report.written
    assert _marks(sidecar) == {"Rating": 5, "Label": "Blue", "Subject": label}
    # another tool re-rates it; a rating ClipDesk only read is never written back over it
    _exiftool("-q", "-overwrite_original", "-XMP:Rating=1", sidecar)
    app.ratings.set_label([pid], "Purple")
    app.tags.write_xmp([pid])
    assert _marks(sidecar) == {"Rating": 1, "Label": "Purple", "Subject": label}
    assert app.library.pending_marks() == {}


@needs_exiftool
def test_a_rating_set_on_a_photo_with_no_tags_still_reaches_its_sidecar(app) -> None:
    pid = _by_name(app)["p0002.jpg"]
    app.ratings.set_rating([pid], -1)  # rejected, as Lightroom writes it
    app.tags.write_xmp()
    assert _marks(app.library.photo(pid).path.with_name("p0002.jpg.xmp")) == {"Rating": -1}


def test_search_and_browsing_filter_and_sort_by_rating_and_label(app) -> None:
    names = _by_name(app)
    app.ratings.set_rating([names["p0001.jpg"]], 5)
    app.ratings.set_rating([names["p0002.jpg"]], 3)
    app.ratings.set_label([names["p0002.jpg"], names["p0003.jpg"]], "Red")

    def found(**kw) -> list[str]:
        return [f.photo.path.name for f in app.find(PhotoSearch(**kw))]

    assert found(min_rating=3, sort="rating") == ["p0001.jpg", "p0002.jpg"]
    assert sorted(found(labels=["red"])) == ["p0002.jpg", "p0003.jpg"]
    assert found(min_rating=3, labels=["Red"]) == ["p0002.jpg"]
    assert found(text="a photo", min_rating=3, sort="rating") == ["p0001.jpg", "p0002.jpg"]
    assert found(text="a photo", sort="rating")[:2] == ["p0001.jpg", "p0002.jpg"]
    assert len(found(text="a photo", sort="rating")) == 4  # unrated ones follow
    with pytest.raises(ClipDeskError, match="not 1 to 5"):
        found(min_rating=7)
