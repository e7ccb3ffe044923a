"""``clipdesk-cli photos rate / label`` and ``search --min-rating / --label / --sort rating``:
the same ratings and labels as the app's keys, over the same services."""

from __future__ import annotations

import json

import pytest

from tests.support.cli_process import cli
from tests.support.pipeline_helpers import solid_photos


@pytest.fixture
def indexed(tmp_path, model_dir, capsys):
    photos = solid_photos(tmp_path / "Pictures", 4)
    base = ["--library", str(tmp_path / "lib.sqlite3"), "--model", str(model_dir)]
    base += ["--device", "cpu"]
    code, _, err = cli(capsys, *base, "folders", "add", str(tmp_path / "Pictures"))
    assert code == 0, err
    code, _, err = cli(capsys, *base, "index")
    assert code == 0, err
    return base, photos


def test_photos_are_rated_and_labelled_then_found_by_rating_and_label(indexed, capsys) -> None:
    base, photos = indexed
    code, out, err = cli(capsys, *base, "photos", "rate", "4", str(photos[0]), str(photos[1]))
    assert (code, out.strip()) == (0, "rated 4: 2 photos"), err
    code, out, err = cli(capsys, *base, "photos", "rate", "5", str(photos[2]))
    assert code == 0, err
    code, out, err = cli(capsys, *base, "photos", "label", "red", str(photos[1]), str(photos[3]))
    assert (code, out.strip()) == (0, "labelled Red: 2 photos"), err

    code, out, err = cli(capsys, *base, "--json", "search", "--min-rating", "4", "--sort", "rating")
    assert code == 0, err
    found = [(r["path"], r["rating"], r["label"]) for r in json.loads(out)["results"]]
    assert found[0] == (str(photos[2]), 5, None)
    assert sorted(found[1:]) == [(str(photos[0]), 4, None), (str(photos[1]), 4, "Red")]
    code, out, err = cli(capsys, *base, "search", "--min-rating", "4", "--label", "Red")
    assert code == 0, err
    assert out.rstrip("\n") == f"{'-':>5}  {photos[1]}  [4★ Red]"
    # the best matches, highest rated first (as the date orders order the best matches)
    code, out, err = cli(capsys, *base, "search", "a photo", "--sort", "rating", "-k", "4")
    assert code == 0 and out.splitlines()[0].endswith(f"{photos[2]}  [5★]"), err


def test_a_wrong_rating_or_colour_is_refused_with_the_choices(indexed, capsys) -> None:
    base, photos = indexed
    code, _, err = cli(capsys, *base, "photos", "label", "orange", str(photos[0]))
    assert code == 1 and "not a colour label" in err and "Red, Yellow, Green, Blue, Purple" in err
    with pytest.raises(SystemExit):
        cli(capsys, *base, "photos", "rate", "9", str(photos[0]))
    code, _, err = cli(capsys, *base, "photos", "rate", "3", "/nowhere/x.jpg")
    assert code == 1 and "not a photo of this library" in err
